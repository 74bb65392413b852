"""A seeded demo members' transactions file for the demo region (synthetic, like the region).

The demo region's loyalty members (``DemoRegion.customers``: where they live, their devices and
average ticket) get two years of purchases: each member buys at a personal rate (gamma
distributed, mean ``purchases_per_year``) from a join date until a personal churn date
(exponential lifetime, mean ``mean_lifetime_years``) or the end of the history, each purchase
around the member's ticket (lognormal) at the nearest own store. So the value model of
:mod:`optimizer.member_value` has something real to find: recent, frequent members are the ones
still active. Vectorised and seeded: the same seed gives the same file.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from optimizer.geometry import nearest_km

from .demo import DemoRegion

DEMO_END = pd.Timestamp("2025-12-31")
"""Last day of the demo purchase history (the demo sales year's end)."""


def generate_members(region: DemoRegion, *, n_members: int | None = 5_000, years: float = 2.0,
                     purchases_per_year: float = 1.5, mean_lifetime_years: float = 1.5,
                     seed: int = 11) -> pd.DataFrame:
    """Return a members' transactions table for the demo region (seeded, synthetic).

    Parameters
    ----------
    region
        The demo region (its ``customers`` are the members; its ``stores`` the shops).
    n_members
        How many of the region's customers become members; all of them when ``None``.
    years
        Length of the history, ending on :data:`DEMO_END`.
    purchases_per_year
        Mean purchase rate of an active member.
    mean_lifetime_years
        Mean time from joining to leaving for good.
    seed
        Random seed.

    Returns
    -------
    pandas.DataFrame
        ``member_id, date, amount, store_id, lat, lng``, one row per purchase, sorted by date;
        the format of ``docs/data.md`` (``geodata.members.read_members`` reads it back).

    Examples
    --------
    >>> from geodata.demo import generate_region
    >>> small = generate_region(n_stores=5, n_competitors=5, n_pois=200, n_footfall=1000,
    ...                         n_customers=300, n_skus=20, n_warehouses=2, days=14, seed=1)
    >>> tx = generate_members(small, n_members=100)
    >>> tx["member_id"].nunique() <= 100, tx["amount"].min() > 0
    (True, np.True_)
    """
    for name, value in (("years", years), ("purchases_per_year", purchases_per_year),
                        ("mean_lifetime_years", mean_lifetime_years)):
        if not value > 0:
            raise ValueError(f"`{name}` must be positive, got {value!r}.")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 24]))
    customers = region.customers
    if n_members is not None and n_members < len(customers):
        customers = customers.iloc[np.sort(rng.choice(len(customers), n_members, replace=False))]
    n = len(customers)
    days = years * 365.0
    lat, lng = customers.geometry.y.to_numpy(), customers.geometry.x.to_numpy()
    ticket = customers["ticket"].to_numpy(float) if "ticket" in customers else np.full(n, 1200.0)
    # Join some time before or during the history; leave after an exponential lifetime.
    join = rng.uniform(-days, days * 0.9, n)
    leave = join + rng.exponential(mean_lifetime_years * 365.0, n)
    start, stop = np.maximum(join, 0.0), np.minimum(leave, days)
    active = np.maximum(stop - start, 0.0)
    rate = rng.gamma(2.0, purchases_per_year / 2.0, n) / 365.0
    counts = rng.poisson(rate * active)
    # Everyone who joined during the history made at least the joining purchase.
    counts = np.where((join >= 0) & (counts == 0) & (active > 0), 1, counts)
    owner = np.repeat(np.arange(n), counts)
    when = start[owner] + rng.uniform(0, 1, owner.size) * active[owner]
    store_lat = region.stores.geometry.y.to_numpy()
    store_lng = region.stores.geometry.x.to_numpy()
    _, nearest = nearest_km(lat, lng, store_lat, store_lng)
    first_day = DEMO_END - pd.Timedelta(days=int(round(days)) - 1)
    table = pd.DataFrame({
        "member_id": customers["customer_id"].to_numpy()[owner],
        "date": first_day + pd.to_timedelta(np.floor(when).astype(np.int64), unit="D"),
        "amount": np.round(ticket[owner] * rng.lognormal(-0.08, 0.4, owner.size), 0),
        "store_id": region.stores["store_id"].to_numpy()[nearest[owner]],
        "lat": np.round(lat[owner], 6), "lng": np.round(lng[owner], 6),
    })
    table["amount"] = np.maximum(table["amount"], 1.0)
    return table.sort_values(["date", "member_id"], kind="stable").reset_index(drop=True)


def save_demo_members(path: str | os.PathLike[str], region: DemoRegion, **options: object
                      ) -> Path:
    """Write the demo members' file (CSV, or Parquet by extension) and return its path.

    Examples
    --------
    >>> save_demo_members("out/members.csv", load_demo())  # doctest: +SKIP
    """
    target = Path(path)
    table = generate_members(region, **options)  # type: ignore[arg-type]
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    if target.suffix.lower() == ".parquet":
        table.to_parquet(temporary, index=False)
    else:
        table.to_csv(temporary, index=False, date_format="%Y-%m-%d")
    os.replace(temporary, target)
    return target


def demo_members_frame(region: DemoRegion, **options: object) -> gpd.GeoDataFrame:
    """Return the demo members' purchases as a checked GeoDataFrame (as ``read_members`` gives).

    Examples
    --------
    >>> demo_members_frame(load_demo()).crs.to_epsg()  # doctest: +SKIP
    4326
    """
    from . import members  # noqa: F401  (registers the members schema)
    from ._validate import validate

    return validate(generate_members(region, **options),  # type: ignore[arg-type]
                    "members", source="demo members")
