"""The bundled demo region: the Pearl River Delta, grounded on real GeoNames populated places.

The populated places (name, position, population) are real: a small extract of GeoNames
(CC BY 4.0) in ``geodata/data/prd_places.csv``, made by ``bench/extract_geonames.py``. Everything
else is synthetic and seeded (see ``docs/data.md``): residents spread around the places, POIs,
footfall, customers, own and competitor stores, warehouses, the SKU catalogue, a year of sales,
stock, repair shops and transport lanes. Generation is vectorised; the same seed always gives the
same region. :func:`load_demo` gives the standard region (about 100 stores); :func:`generate_region`
scales it up to national sizes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimizer.geometry import nearest_km

from . import grid

SalesFrequency = Literal["daily", "weekly"]

DAILY_SALES_LIMIT = 60_000_000
"""Above this many store-SKU-days, :func:`generate_region` writes weekly sales instead of daily."""

START_DATE = np.datetime64("2025-01-01")
"""First day of the demo sales year."""

CHANNELS = ("own_store", "small_store", "key_account")
_CHANNEL_SHARE = np.array([0.4, 0.45, 0.15])
_CHANNEL_AREA = {"own_store": (150.0, 400.0), "small_store": (40.0, 120.0),
                 "key_account": (20.0, 60.0)}
_CHANNEL_BREADTH = np.array([1.0, 0.55, 0.35])

_REGION_TICKET = {"Shenzhen": 1800.0, "Guangzhou": 1600.0, "Dongguan": 1250.0, "Foshan": 1300.0,
                  "Huizhou": 1100.0, "Zhongshan": 1200.0, "Zhuhai": 1450.0, "Jiangmen": 1100.0}

POI_MIX = {"food": 0.30, "retail": 0.25, "office": 0.10, "education": 0.06, "transit": 0.05,
           "health": 0.06, "leisure": 0.07, "hotel": 0.04, "finance": 0.04, "mall": 0.015,
           "electronics": 0.015}
"""Share of each POI category in the synthetic POIs."""

_POI_ATTRACTION = {"mall": 20.0, "transit": 15.0, "food": 3.0, "retail": 3.0, "electronics": 4.0,
                   "leisure": 2.0, "hotel": 2.0}

# category: (number of SKUs, unit cost range CNY, margin range, volume litres range, case size,
#            daily units per average store for the category's best seller)
_SKU_CATEGORIES = {
    "phone": (30, (600, 5000), (0.08, 0.18), (0.4, 0.6), 10, 1.6),
    "tv": (12, (1200, 8000), (0.06, 0.15), (60, 250), 1, 0.3),
    "smart_home": (20, (50, 600), (0.20, 0.40), (1, 5), 12, 1.0),
    "power_bank": (8, (40, 200), (0.25, 0.40), (0.2, 0.4), 24, 1.2),
    "purifier": (10, (400, 2500), (0.15, 0.30), (20, 50), 2, 0.3),
    "tv_box": (8, (150, 400), (0.20, 0.30), (0.8, 1.5), 20, 0.5),
    "laptop": (10, (2500, 7000), (0.06, 0.12), (4, 6), 5, 0.2),
    "wearable": (12, (100, 1000), (0.20, 0.35), (0.2, 0.4), 20, 0.8),
    "audio": (10, (50, 800), (0.20, 0.35), (0.3, 2), 20, 0.8),
}

_BULKY_CATEGORIES = ("tv", "purifier")
"""Categories shipped from the warehouse in their own carton (``pick_unit`` = ``case``)."""

_REGION_PREFERENCE = {
    # one area buys air and water purifiers, another TV boxes and power banks
    ("Guangzhou", "purifier"): 2.5, ("Foshan", "purifier"): 2.2,
    ("Shenzhen", "tv_box"): 2.5, ("Shenzhen", "power_bank"): 2.0,
    ("Dongguan", "tv_box"): 2.2, ("Dongguan", "power_bank"): 2.2,
}

_COMPETITOR_BRANDS = ("Jinxing Digital", "Lanhai Electronics", "Dongfang Mobile",
                      "Nanyue Appliances", "Kuaile Tech", "Hongqiao Phones")

# A crude land mask: the Pearl River estuary and the sea south of the coast are water, and Hong
# Kong lies outside the region. Good enough to keep synthetic residents off the water.
_WATER = shapely.union_all([
    shapely.Polygon([(113.62, 22.78), (113.72, 22.62), (113.84, 22.50), (113.90, 22.40),
                     (113.92, 22.20), (113.75, 22.05), (113.58, 22.12), (113.57, 22.30),
                     (113.55, 22.45), (113.58, 22.62)]),
    shapely.box(112.0, 21.0, 115.5, 22.08),
    shapely.box(113.95, 21.0, 115.5, 22.50),
])


@dataclass(frozen=True)
class DemoRegion:
    """A synthetic retail region on real populated places. Treat the tables as read-only.

    All GeoDataFrames are EPSG:4326 points. Columns are listed in ``docs/architecture.md``.

    Attributes
    ----------
    places
        The real GeoNames populated places (``geonameid``, ``name``, ``population``,
        ``region``), the ground the rest is generated on.
    population
        Synthetic residential points (``population``, ``region``) summing to the places'
        populations.
    stores, competitors, pois, footfall, customers, warehouses, repair_shops
        Point tables.
    skus
        The SKU catalogue (price is ``unit_cost / (1 - margin)``).
    sales
        ``date``, ``store_id``, ``sku``, ``units``; only rows with sales (``units > 0``).
    stock
        ``location_id`` (store or warehouse), ``sku``, ``on_hand``, ``in_transit``.
    lanes
        Transport lanes warehouse -> store, and store -> store to the nearest
        :data:`TRANSFER_NEIGHBOURS` stores of the same region:
        ``origin``, ``destination``, ``distance_km``, ``cost_per_unit``, ``lead_time_days``.
    sales_frequency
        ``"daily"`` or ``"weekly"`` (then ``date`` is the Monday of the week).
    seed
        The seed the region was generated with.
    """

    places: gpd.GeoDataFrame
    population: gpd.GeoDataFrame
    stores: gpd.GeoDataFrame
    competitors: gpd.GeoDataFrame
    pois: gpd.GeoDataFrame
    footfall: gpd.GeoDataFrame
    customers: gpd.GeoDataFrame
    warehouses: gpd.GeoDataFrame
    skus: pd.DataFrame
    sales: pd.DataFrame
    stock: pd.DataFrame
    repair_shops: gpd.GeoDataFrame
    lanes: pd.DataFrame
    sales_frequency: SalesFrequency
    seed: int

    @property
    def regions(self) -> list[str]:
        """Region names, sorted."""
        return sorted(self.places["region"].unique())


def _rng(seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, part]))


def _points(lat: np.ndarray, lng: np.ndarray, columns: dict[str, object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(lng, lat), crs="EPSG:4326")


def load_places() -> gpd.GeoDataFrame:
    """Return the GeoNames populated places of the demo region (real data, CC BY 4.0).

    Examples
    --------
    >>> int(load_places()["population"].min()) >= 15000
    True
    """
    with resources.files("geodata.data").joinpath("prd_places.csv").open("rb") as handle:
        table = pd.read_csv(handle)
    return _points(table["lat"].to_numpy(), table["lng"].to_numpy(),
                   {c: table[c].to_numpy() for c in table.columns})


def _km_to_deg(km: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlat = km / 110.574
    return dlat, km / (111.320 * np.cos(np.radians(lat)))


def _scatter(rng: np.random.Generator, lat: np.ndarray, lng: np.ndarray, sigma_km: np.ndarray,
             n: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` points around weighted centres (Gaussian, ``sigma_km``), kept on land."""
    p = weights / weights.sum()
    lat_out, lng_out, origin_out = [], [], []
    remaining = n
    while remaining > 0:
        draw = int(remaining * 1.4) + 16
        origin = rng.choice(lat.size, size=draw, p=p)
        dlat, dlng = _km_to_deg(np.broadcast_to(sigma_km, lat.shape)[origin], lat[origin])
        y = lat[origin] + rng.standard_normal(draw) * dlat
        x = lng[origin] + rng.standard_normal(draw) * dlng
        land = ~shapely.contains_xy(_WATER, x, y)
        lat_out.append(y[land][:remaining])
        lng_out.append(x[land][:remaining])
        origin_out.append(origin[land][:remaining])
        remaining -= int(min(land.sum(), remaining))
    return np.concatenate(lat_out), np.concatenate(lng_out), np.concatenate(origin_out)


def _population(places: gpd.GeoDataFrame, rng: np.random.Generator,
                n_points: int) -> gpd.GeoDataFrame:
    lat, lng = places.geometry.y.to_numpy(), places.geometry.x.to_numpy()
    population = places["population"].to_numpy(dtype=np.float64)
    # Big cities sprawl: a core and a wide ring, both growing with the population.
    core = np.clip(0.7 * (population / 1e5) ** 0.45, 0.8, 9.0)
    n_core = int(n_points * 0.55)
    weights = population ** 0.7
    y1, x1, o1 = _scatter(rng, lat, lng, core, n_core, weights)
    y2, x2, o2 = _scatter(rng, lat, lng, core * 3.4, n_points - n_core, weights)
    y, x, origin = np.concatenate([y1, y2]), np.concatenate([x1, x2]), np.concatenate([o1, o2])
    share = rng.lognormal(0.0, 0.5, size=origin.size)
    per_place = np.bincount(origin, weights=share, minlength=lat.size)
    residents = population[origin] * share / per_place[origin]
    return _points(y, x, {"population": np.round(residents, 1),
                          "region": places["region"].to_numpy()[origin]})


def _sample_near(rng: np.random.Generator, frame: gpd.GeoDataFrame, weights: np.ndarray, n: int,
                 sigma_km: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _scatter(rng, frame.geometry.y.to_numpy(), frame.geometry.x.to_numpy(),
                    np.full(len(frame), sigma_km), n, np.asarray(weights, dtype=np.float64))


def _skus(rng: np.random.Generator, n_skus: int) -> pd.DataFrame:
    names = list(_SKU_CATEGORIES)
    base_counts = np.array([_SKU_CATEGORIES[c][0] for c in names], dtype=float)
    counts = np.maximum(1, np.round(base_counts / base_counts.sum() * n_skus)).astype(int)
    counts[0] += n_skus - counts.sum()
    category = np.repeat(names, counts)
    rank = np.concatenate([np.arange(c) for c in counts])
    spec = [_SKU_CATEGORIES[c] for c in category]
    low_cost, high_cost = np.array([s[1] for s in spec], dtype=float).T
    low_margin, high_margin = np.array([s[2] for s in spec], dtype=float).T
    low_volume, high_volume = np.array([s[3] for s in spec], dtype=float).T
    unit_cost = np.round(low_cost * (high_cost / low_cost) ** rng.random(category.size), -1)
    margin = np.round(rng.uniform(low_margin, high_margin), 3)
    volume = np.round(rng.uniform(low_volume, high_volume), 2)
    case_size = np.array([s[4] for s in spec], dtype=np.int64)
    top_rate = np.array([s[5] for s in spec])
    # Zipf-like popularity inside each category; about a quarter are slow movers.
    per_category = counts[np.searchsorted(np.cumsum(counts), np.arange(category.size), "right")]
    rate = top_rate / (1.0 + rank) ** 0.9 * (30.0 / np.maximum(per_category, 1)) ** 0.3
    slow = rng.random(category.size) < 0.25
    rate = np.where(slow, rate * 0.04, rate)
    width = len(str(n_skus))
    sku = np.array([f"SKU{i:0{max(width, 4)}d}" for i in range(1, category.size + 1)])
    label = np.char.add(np.char.add(np.char.replace(category.astype(str), "_", " "), " "),
                        np.char.mod("model %d", rank + 1))
    # Phones, laptops and accessories are picked by the unit; bulky goods ship in their carton.
    pick_unit = np.where(np.isin(category, _BULKY_CATEGORIES), "case", "unit")
    return pd.DataFrame({"sku": sku, "name": np.char.capitalize(label), "category": category,
                         "unit_cost": unit_cost, "margin": margin, "volume_l": volume,
                         "case_size": case_size, "pick_unit": pick_unit, "daily_rate": rate,
                         "slow_mover": slow})


HUFF_ALPHA, HUFF_BETA, HUFF_CUTOFF_KM, HUFF_MIN_KM = 1.0, 2.0, 10.0, 0.5
"""Huff model the demo's store sales are drawn from: attractiveness floor_area^alpha, distance
decay d^-beta (d at least ``HUFF_MIN_KM``), nobody travels beyond ``HUFF_CUTOFF_KM``."""

FOOTFALL_WEIGHT = 2.0
"""Demo demand of a cell: residents + ``FOOTFALL_WEIGHT`` x footfall (then scaled to CNY)."""

SALES_PER_STORE = 1.5e7
"""Average annual sales of an own store in the demo (CNY); scales the demand."""


def _cells_within(cells: np.ndarray, lat: np.ndarray, lng: np.ndarray,
                  cutoff_km: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (cell position, point position, km) pairs with the cell centre within ``cutoff_km``.

    Candidate cells come from H3 grid disks around each point's cell (vectorised in h3ronpy),
    so the work grows with the pairs found, not with cells x points.
    """
    cells = np.asarray(cells, dtype=np.uint64)  # sorted (a cell-table index)
    point_cell = grid.points_to_cells(lat, lng, 8)
    unique, point_unique = np.unique(point_cell, return_inverse=True)
    k = int(np.ceil(cutoff_km / 0.6)) + 1  # neighbouring res-8 centres are more than 0.6 km apart
    origin, neighbour, _ = grid.grid_disk_pairs(unique, k)
    slot = np.minimum(np.searchsorted(cells, neighbour), cells.size - 1)
    found = cells[slot] == neighbour
    origin, slot = origin[found], slot[found]
    order = np.argsort(point_unique, kind="stable")
    count = np.bincount(point_unique, minlength=unique.size)
    start = np.cumsum(count) - count
    repeat = count[origin]
    pair = np.repeat(np.arange(origin.size), repeat)
    offset = np.arange(repeat.sum()) - np.repeat(np.cumsum(repeat) - repeat, repeat)
    point = order[start[origin][pair] + offset]
    cell = slot[pair]
    cell_lat, cell_lng = grid.cells_to_latlng(cells)
    km = grid.haversine_km(cell_lat[cell], cell_lng[cell], lat[point], lng[point])
    keep = km <= cutoff_km
    return cell[keep], point[keep], km[keep]


def _huff_sales(rng: np.random.Generator, stores: gpd.GeoDataFrame,
                competitors: gpd.GeoDataFrame, population: gpd.GeoDataFrame,
                footfall: gpd.GeoDataFrame) -> np.ndarray:
    """Annual sales of each store: the demand it captures under a Huff model, with noise.

    Cells (resolution 8) hold demand = residents + FOOTFALL_WEIGHT x footfall; every own and
    competitor store attracts a cell's demand in proportion to floor_area^alpha / d^beta among
    all stores within the cutoff. Sales are scaled so the average own store sells
    SALES_PER_STORE, then multiplied by lognormal noise (sigma 0.15).
    """
    demand_cells = pd.concat([
        grid.points_to_cell_table(population, 8, {"population": "sum"})["population"],
        FOOTFALL_WEIGHT * grid.points_to_cell_table(footfall, 8, {"count": "sum"})["count"],
    ]).groupby(level=0).sum()
    shop_lat = np.concatenate([stores.geometry.y.to_numpy(), competitors.geometry.y.to_numpy()])
    shop_lng = np.concatenate([stores.geometry.x.to_numpy(), competitors.geometry.x.to_numpy()])
    area = np.concatenate([stores["floor_area_m2"].to_numpy(float),
                           competitors["floor_area_m2"].to_numpy(float)])
    cell, shop, km = _cells_within(demand_cells.index.to_numpy(), shop_lat, shop_lng,
                                   HUFF_CUTOFF_KM)
    utility = area[shop] ** HUFF_ALPHA / np.maximum(km, HUFF_MIN_KM) ** HUFF_BETA
    total = np.bincount(cell, weights=utility, minlength=len(demand_cells))
    captured = np.bincount(shop, weights=utility / total[cell] * demand_cells.to_numpy()[cell],
                           minlength=shop_lat.size)[:len(stores)]
    scale = SALES_PER_STORE * len(stores) / max(captured.sum(), 1e-9)
    return captured * scale * rng.lognormal(-0.011, 0.15, size=len(stores))


def _sales(rng: np.random.Generator, stores: pd.DataFrame, skus: pd.DataFrame, days: int,
           frequency: SalesFrequency) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Sales rows and the expected daily units per (store, SKU) and the assortment mask."""
    price = skus["unit_cost"].to_numpy() / (1 - skus["margin"].to_numpy())
    preference = np.ones((len(stores), len(skus)))
    for (region, category), factor in _REGION_PREFERENCE.items():
        preference[np.ix_(stores["region"].to_numpy() == region,
                          skus["category"].to_numpy() == category)] = factor
    channel = pd.Categorical(stores["channel"], categories=CHANNELS).codes
    popularity = skus["daily_rate"].to_numpy()
    rank = np.argsort(np.argsort(-popularity)) / max(len(skus) - 1, 1)
    carried = rank[None, :] <= _CHANNEL_BREADTH[channel][:, None] + 0.05 * rng.random(
        (len(stores), len(skus)))
    mix = popularity[None, :] * preference * carried
    revenue_share = mix * price[None, :]
    revenue_share /= revenue_share.sum(axis=1, keepdims=True)
    daily = stores["annual_sales"].to_numpy()[:, None] / 365.0 * revenue_share / price[None, :]

    day = np.arange(days)
    dates = START_DATE + day.astype("timedelta64[D]")
    weekday = (day + 2) % 7  # 2025-01-01 is a Wednesday
    season = (1.0 + 0.35 * (weekday >= 5)) * (1.0 + 0.25 * np.exp(-((day - 315) / 12.0) ** 2)
                                              + 0.2 * np.exp(-((day - 165) / 8.0) ** 2))
    season /= season.mean()
    if frequency == "weekly":
        week = (day + 2) // 7
        n_periods = int(week.max()) + 1
        period_factor: np.ndarray = np.bincount(week, weights=season, minlength=n_periods)
        monday = START_DATE - np.timedelta64(2, "D")
        period_dates = monday + (np.arange(n_periods) * 7).astype("timedelta64[D]")
    else:
        period_factor, period_dates = season, dates
    store_pos, sku_pos = np.nonzero(carried)
    rate = daily[store_pos, sku_pos]
    store_ids, sku_ids = stores["store_id"].to_numpy(), skus["sku"].to_numpy()
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    step = max(1, 20_000_000 // max(period_factor.size, 1))
    for start in range(0, rate.size, step):  # chunks bound the memory of the Poisson draws
        units = rng.poisson(rate[start:start + step, None] * period_factor[None, :])
        pair, period = np.nonzero(units)
        parts.append((period.astype(np.int32), (start + pair).astype(np.int64),
                      units[pair, period].astype(np.int32)))
    period = np.concatenate([p[0] for p in parts])
    pair = np.concatenate([p[1] for p in parts])
    units = np.concatenate([p[2] for p in parts])
    del parts
    order = np.lexsort((sku_pos[pair], store_pos[pair], period))  # by date, store, SKU
    pair = pair[order]
    sales = pd.DataFrame({"date": period_dates[period[order]],
                          "store_id": store_ids[store_pos[pair]],
                          "sku": sku_ids[sku_pos[pair]],
                          "units": units[order]})
    return sales, daily, carried


def _stock(rng: np.random.Generator, stores: pd.DataFrame, warehouses: pd.DataFrame,
           skus: pd.DataFrame, daily: np.ndarray, carried: np.ndarray) -> pd.DataFrame:
    weekly = daily * 7.0
    cover = rng.lognormal(np.log(2.5), 0.4, size=weekly.shape)
    short_store = rng.random(len(stores)) < 0.12
    cover[short_store] *= rng.uniform(0.0, 0.25, size=(short_store.sum(), weekly.shape[1]))
    slow = skus["slow_mover"].to_numpy()
    holding = rng.random(weekly.shape) < 0.3
    cover = np.where(slow[None, :] & holding, rng.uniform(30, 90, size=weekly.shape), cover)
    on_hand = np.floor(weekly * cover + rng.random(weekly.shape)).astype(np.int64)
    in_transit = np.where(rng.random(weekly.shape) < 0.25, rng.poisson(weekly), 0)
    store_pos, sku_pos = np.nonzero(carried)
    store_rows = pd.DataFrame({"location_id": stores["store_id"].to_numpy()[store_pos],
                               "sku": skus["sku"].to_numpy()[sku_pos],
                               "on_hand": on_hand[store_pos, sku_pos],
                               "in_transit": in_transit[store_pos, sku_pos].astype(np.int64)})
    total_weekly = weekly.sum(axis=0)
    share = warehouses["daily_throughput"].to_numpy(dtype=float, copy=True)
    share /= share.sum()
    wh_on_hand = np.floor(share[:, None] * total_weekly[None, :] * rng.uniform(
        2.0, 6.0, size=(len(warehouses), len(skus))) + 0.5).astype(np.int64)
    wh_rows = pd.DataFrame({
        "location_id": np.repeat(warehouses["warehouse_id"].to_numpy(), len(skus)),
        "sku": np.tile(skus["sku"].to_numpy(), len(warehouses)),
        "on_hand": wh_on_hand.ravel(),
        "in_transit": np.where(rng.random(wh_on_hand.size) < 0.3,
                               rng.poisson(np.maximum(wh_on_hand.ravel() / 4, 0)), 0)})
    return pd.concat([wh_rows, store_rows], ignore_index=True)


TRANSFER_NEIGHBOURS = 30
"""Store -> store lanes go to this many nearest stores of the same region."""


def _lanes(stores: gpd.GeoDataFrame, warehouses: gpd.GeoDataFrame) -> pd.DataFrame:
    s_lat, s_lng = stores.geometry.y.to_numpy(), stores.geometry.x.to_numpy()
    w_lat, w_lng = warehouses.geometry.y.to_numpy(), warehouses.geometry.x.to_numpy()
    w_grid, s_grid = np.meshgrid(np.arange(len(warehouses)), np.arange(len(stores)), indexing="ij")
    wi, si = w_grid.ravel(), s_grid.ravel()
    road = 1.3 * grid.haversine_km(w_lat[wi], w_lng[wi], s_lat[si], s_lng[si])
    supply = pd.DataFrame({"origin": warehouses["warehouse_id"].to_numpy()[wi],
                           "destination": stores["store_id"].to_numpy()[si],
                           "distance_km": np.round(road, 1),
                           "cost_per_unit": np.round(2.0 + 0.03 * road, 2),
                           "lead_time_days": 1 + np.floor(road / 250).astype(np.int64)})
    # store -> store transfers: to the TRANSFER_NEIGHBOURS nearest stores of the same region
    region = stores["region"].to_numpy()
    k = min(TRANSFER_NEIGHBOURS + 1, len(stores))
    _, nearest = nearest_km(s_lat, s_lng, s_lat, s_lng, k=k)
    nearest = nearest.reshape(len(stores), k)
    a = np.repeat(np.arange(len(stores)), k)
    b = nearest.ravel()
    keep = (a != b) & (region[a] == region[b])
    a, b = a[keep], b[keep]
    road = 1.3 * grid.haversine_km(s_lat[a], s_lng[a], s_lat[b], s_lng[b])
    transfer = pd.DataFrame({"origin": stores["store_id"].to_numpy()[a],
                             "destination": stores["store_id"].to_numpy()[b],
                             "distance_km": np.round(road, 1),
                             "cost_per_unit": np.round(4.0 + 0.05 * road, 2),
                             "lead_time_days": 1 + np.floor(road / 250).astype(np.int64)})
    return pd.concat([supply, transfer], ignore_index=True)


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(3, len(str(n)))
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width))


def generate_region(*, n_stores: int = 100, n_competitors: int = 200, n_pois: int = 20_000,
                    n_footfall: int = 200_000, n_customers: int = 50_000, n_skus: int = 120,
                    n_warehouses: int = 6, n_repair_shops: int | None = None,
                    n_residential: int | None = None, days: int = 365, seed: int = 7,
                    sales_frequency: SalesFrequency | None = None) -> DemoRegion:
    """Generate a synthetic region of any size on the real populated places (seeded).

    Parameters
    ----------
    n_stores, n_competitors, n_pois, n_footfall, n_customers, n_skus, n_warehouses
        Sizes. National scale (10,000 stores, 10 M footfall points, 1,000 SKUs) fits in memory.
    n_repair_shops
        Default: about one per 2.5 own stores, at least 10.
    n_residential
        Synthetic residential points; default scales with the footfall (at least 120,000).
    days
        Length of the sales history in days.
    seed
        Random seed; the same seed gives the same region.
    sales_frequency
        ``"daily"`` or ``"weekly"``. Default: daily unless stores x SKUs x days exceeds
        :data:`DAILY_SALES_LIMIT`, then weekly (a national daily history would not fit in memory).

    Returns
    -------
    DemoRegion

    Examples
    --------
    >>> small = generate_region(n_stores=5, n_competitors=5, n_pois=200, n_footfall=1000,
    ...                         n_customers=500, n_skus=20, n_warehouses=2, days=14, seed=1)
    >>> len(small.stores), len(small.skus)
    (5, 20)
    """
    for name, value in (("n_stores", n_stores), ("n_skus", n_skus), ("n_warehouses", n_warehouses),
                        ("days", days)):
        if value < 1:
            raise ValueError(f"`{name}` must be at least 1, got {value}.")
    if sales_frequency is None:
        sales_frequency = "daily" if n_stores * n_skus * days <= DAILY_SALES_LIMIT else "weekly"
    places = load_places()
    if n_residential is None:
        n_residential = max(120_000, n_footfall // 5)
    population = _population(places, _rng(seed, 1), n_residential)

    rng = _rng(seed, 2)
    categories = np.array(list(POI_MIX))
    mix = np.array(list(POI_MIX.values()))
    # POIs cluster in the centres more than residents do.
    lat, lng, _ = _sample_near(rng, population, population["population"].to_numpy() ** 1.2,
                               n_pois, 0.4)
    poi_category = rng.choice(categories, size=lat.size, p=mix / mix.sum())
    pois = _points(lat, lng, {"poi_id": _ids("P", lat.size), "category": poi_category})

    rng = _rng(seed, 3)
    attraction = pois["category"].map(_POI_ATTRACTION).fillna(1.0).to_numpy()
    n_near_poi = int(n_footfall * 0.7)
    lat1, lng1, _ = _sample_near(rng, pois, attraction, n_near_poi, 0.15)
    lat2, lng2, _ = _sample_near(rng, population, population["population"].to_numpy(),
                                 n_footfall - n_near_poi, 0.3)
    counts = np.maximum(1, np.round(rng.lognormal(np.log(30), 0.9, size=n_footfall))).astype(np.int64)
    footfall = _points(np.concatenate([lat1, lat2]), np.concatenate([lng1, lng2]),
                       {"count": counts})

    rng = _rng(seed, 4)
    busy = pois["category"].isin(["mall", "electronics", "retail"]).to_numpy() * attraction
    lat, lng, origin = _sample_near(rng, pois, busy + 1e-9, n_competitors, 0.1)
    competitors = _points(lat, lng, {
        "competitor_id": _ids("C", n_competitors),
        "brand": rng.choice(_COMPETITOR_BRANDS, size=n_competitors),
        "floor_area_m2": np.round(rng.uniform(60, 600, size=n_competitors), 0)})

    rng = _rng(seed, 5)
    lat, lng, origin = _sample_near(rng, population,
                                    population["population"].to_numpy() ** 1.3, n_stores, 0.3)
    channel = rng.choice(np.array(CHANNELS), size=n_stores, p=_CHANNEL_SHARE)
    area_low = np.array([_CHANNEL_AREA[c][0] for c in channel])
    area_high = np.array([_CHANNEL_AREA[c][1] for c in channel])
    floor_area = np.round(rng.uniform(area_low, area_high), 0)
    region = population["region"].to_numpy()[origin]
    store_ids = _ids("S", n_stores)
    stores = _points(lat, lng, {
        "store_id": store_ids,
        "name": np.char.add(np.char.add(region.astype(str), " store "),
                            np.char.lstrip(np.char.lstrip(store_ids, "S"), "0")),
        "region": region, "channel": channel, "floor_area_m2": floor_area})
    # Plausible sales: the demand each store captures among own and competitor stores (Huff).
    stores["annual_sales"] = np.round(_huff_sales(rng, stores, competitors, population,
                                                  footfall), -2)

    rng = _rng(seed, 6)
    store_lat, store_lng = stores.geometry.y.to_numpy(), stores.geometry.x.to_numpy()
    res_lat, res_lng = population.geometry.y.to_numpy(), population.geometry.x.to_numpy()
    distance, _ = nearest_km(res_lat, res_lng, store_lat, store_lng)
    near_store = population["population"].to_numpy() * np.exp(-distance / 3.0)
    n_loyal = int(n_customers * 0.6)
    lat1, lng1, o1 = _sample_near(rng, population, near_store + 1e-9, n_loyal, 0.4)
    lat2, lng2, o2 = _sample_near(rng, population, population["population"].to_numpy(),
                                  n_customers - n_loyal, 0.4)
    customer_region = population["region"].to_numpy()[np.concatenate([o1, o2])]
    mean_ticket = pd.Series(customer_region).map(_REGION_TICKET).fillna(1200.0).to_numpy()
    customers = _points(np.concatenate([lat1, lat2]), np.concatenate([lng1, lng2]), {
        "customer_id": _ids("U", n_customers),
        "devices": 1 + rng.poisson(0.35, size=n_customers),
        "ticket": np.round(mean_ticket * rng.lognormal(-0.125, 0.5, size=n_customers), 0),
        "region": customer_region})

    rng = _rng(seed, 7)
    # Warehouses are few and regional: one per region at its largest place, then a second one
    # at the region's next largest place, and so on (on the outskirts, kept on land).
    ranked = places.sort_values("population", ascending=False, kind="stable")
    ranked = ranked.assign(rank=ranked.groupby("region").cumcount())
    ranked = ranked.sort_values(["rank", "population"], ascending=[True, False], kind="stable")
    seats = ranked.iloc[np.arange(n_warehouses) % len(ranked)]
    seat_lat, seat_lng = seats.geometry.y.to_numpy(), seats.geometry.x.to_numpy()
    dlat, dlng = _km_to_deg(np.full(n_warehouses, 8.0), seat_lat)
    lat = seat_lat + rng.standard_normal(n_warehouses) * dlat
    lng = seat_lng + rng.standard_normal(n_warehouses) * dlng
    wet = shapely.contains_xy(_WATER, lng, lat)
    lat, lng = np.where(wet, seat_lat, lat), np.where(wet, seat_lng, lng)
    warehouses = _points(lat, lng, {
        "warehouse_id": _ids("W", n_warehouses),
        "name": np.char.add(seats["region"].to_numpy().astype(str), " DC"),
        "region": seats["region"].to_numpy(),
        "daily_throughput": np.round(rng.uniform(5_000, 30_000, size=n_warehouses), -2),
        "service_radius_km": np.round(rng.uniform(30, 80, size=n_warehouses), 0)})

    rng = _rng(seed, 8)
    n_shops = n_repair_shops if n_repair_shops is not None else max(10, round(n_stores / 2.5))
    lat, lng, origin = _sample_near(rng, population, population["population"].to_numpy(),
                                    n_shops, 0.5)
    rating = np.clip(np.round(rng.beta(5, 2, size=n_shops) * 4 + 1, 1), 1.0, 5.0)
    repair_shops = _points(lat, lng, {"shop_id": _ids("R", n_shops),
                                      "name": np.char.add("Repair point ", _ids("", n_shops)),
                                      "rating": rating,
                                      "region": population["region"].to_numpy()[origin]})

    rng = _rng(seed, 9)
    skus = _skus(rng, n_skus)
    sales, daily, carried = _sales(rng, stores, skus, days, sales_frequency)
    stock = _stock(_rng(seed, 10), stores, warehouses, skus, daily, carried)
    lanes = _lanes(stores, warehouses)
    catalogue = skus.drop(columns=["daily_rate"]).reset_index(drop=True)
    return DemoRegion(places=places, population=population, stores=stores,
                      competitors=competitors, pois=pois, footfall=footfall,
                      customers=customers, warehouses=warehouses, skus=catalogue, sales=sales,
                      stock=stock, repair_shops=repair_shops, lanes=lanes,
                      sales_frequency=sales_frequency, seed=seed)


@functools.lru_cache(maxsize=4)
def load_demo(seed: int = 7) -> DemoRegion:
    """Return the standard demo region: the Pearl River Delta with about 100 own stores (cached).

    About 100 own stores, 200 competitor stores, 20,000 POIs, 200,000 footfall points, 50,000
    customers, 6 warehouses, 120 SKUs with a year of daily sales, stock and 40 repair shops.
    Repeated calls with the same seed return the same object at no cost; treat it as read-only.

    Examples
    --------
    >>> demo = load_demo()
    >>> len(demo.stores), demo.sales_frequency
    (100, 'daily')
    """
    return generate_region(seed=seed)


def build_layers(region: DemoRegion, *, resolution: int = 8, engine: Literal["local", "dask"] = "local",
                 scheduler: str | None = None) -> pd.DataFrame:
    """Return the layer table of a demo region (see :func:`geodata.layers.build_layers`).

    Examples
    --------
    >>> table = build_layers(load_demo())
    >>> bool(table["population"].sum() > 1e7)
    True
    """
    from . import layers

    return layers.build_layers(region, resolution=resolution, engine=engine, scheduler=scheduler)
