"""Repair records and devices sold for the demo region (synthetic, seeded), with planted abuse.

Devices: every loyalty member's ``devices`` of the demo region become devices with a serial, a
model (a phone, wearable, laptop or TV SKU of the catalogue), a sale day up to 4.5 years before
:data:`RECORDS_END` and a warranty end (1 year, 2 years for 15 % bought with an extension), at
the customer's home. Repairs over the two years :data:`RECORDS_START` to :data:`RECORDS_END`:
each device fails at a rate per model and age (a bathtub: higher in the first three months,
lowest in the rest of the first year, rising with age) and goes to one of the three nearest
repair shops (the nearer the likelier). Each shop has a hidden quality tied to its given rating:
better shops are quicker, their repairs come back less often and their customers rate them
higher. Planted abuses (:attr:`DemoRepairs.planted_shops`): one shop files extra warranty repairs
on devices it already repaired, one charges far above the norm, one files warranty claims on
devices out of warranty; one shop opened a month before the end (a handful of repairs). The
magnitudes are in ``docs/data.md``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimizer.geometry import nearest_km

from . import grid

if TYPE_CHECKING:
    from .demo import DemoRegion

RECORDS_START = pd.Timestamp("2024-01-01")
"""First day of the demo repair records."""

RECORDS_END = pd.Timestamp("2025-12-31")
"""Last day of the demo repair records (the devices' ages are counted to here)."""

REPAIRABLE = {"phone": 0.62, "wearable": 0.18, "laptop": 0.12, "tv": 0.08}
"""Categories of devices with a serial, and their share of the devices sold."""

_CATEGORY_RATE = {"phone": 1.0, "wearable": 0.7, "laptop": 0.85, "tv": 0.45}

AGE_HAZARD = ((0.25, 0.11), (1.0, 0.055), (2.0, 0.075), (3.0, 0.10), (np.inf, 0.13))
"""Repairs a year of an average phone, by age (upper edge of the band in years, rate)."""

# fault: (share, median turnaround days, median parts CNY for a 2,000 CNY device, labour CNY,
#         share covered by the warranty)
FAULTS = {
    "SCREEN": (0.33, 2.0, 420.0, 110.0, 0.25),
    "BATTERY": (0.24, 1.0, 170.0, 60.0, 1.0),
    "CHARGING_PORT": (0.12, 2.0, 80.0, 80.0, 1.0),
    "CAMERA": (0.08, 3.0, 280.0, 100.0, 1.0),
    "WATER_DAMAGE": (0.07, 5.0, 550.0, 200.0, 0.0),
    "MAINBOARD": (0.09, 6.0, 850.0, 240.0, 1.0),
    "SOFTWARE": (0.07, 1.0, 0.0, 80.0, 1.0),
}
"""Fault codes of the demo records with their magnitudes (see ``docs/data.md``)."""

_REDO_DAYS = (2, 28)


@dataclass(frozen=True)
class DemoRepairs:
    """Repair records and devices sold of a demo region.

    Attributes
    ----------
    repairs
        One row per repair (columns of ``geodata.repairs``), sorted by ``received``.
    devices
        One row per device sold: ``serial, model, category, sold, warranty_end, customer_id,
        lat, lng, cell`` (H3 at the given resolution).
    planted_shops
        Abuse -> shop id: ``"repeat_warranty"``, ``"high_cost"``, ``"out_of_warranty"``.
    planted_claims
        Abuse -> ``repair_id`` of the planted claims.
    new_shop
        The shop opened a month before the end of the records.
    seed
        The seed.
    """

    repairs: pd.DataFrame
    devices: pd.DataFrame
    planted_shops: dict[str, str] = field(default_factory=dict)
    planted_claims: dict[str, list[str]] = field(default_factory=dict)
    new_shop: str = ""
    seed: int = 7


def _rng(seed: int, part: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, 101, part]))


def _devices(region: DemoRegion, rng: np.random.Generator, resolution: int) -> pd.DataFrame:
    customers = region.customers
    count = customers["devices"].to_numpy(np.int64)
    owner = np.repeat(np.arange(len(customers)), count)
    n = owner.size
    skus = region.skus
    categories = np.array(list(REPAIRABLE))
    category = rng.choice(categories, size=n, p=np.array(list(REPAIRABLE.values())))
    model = np.empty(n, dtype=object)
    for name in categories:
        pool = skus.loc[skus["category"] == name, "sku"].to_numpy()
        mask = category == name
        if pool.size == 0:  # a catalogue without the category: a generic model
            model[mask] = f"{name.upper()}-GENERIC"
            continue
        popularity = 1.0 / (1.0 + np.arange(pool.size)) ** 0.9
        model[mask] = rng.choice(pool, size=int(mask.sum()), p=popularity / popularity.sum())
    age_days = rng.uniform(0, 4.5 * 365.25, size=n).astype(np.int64)
    sold = RECORDS_END.to_datetime64().astype("datetime64[D]") - age_days.astype("timedelta64[D]")
    extended = rng.random(n) < 0.15
    warranty_end = sold + np.where(extended, 730, 365).astype("timedelta64[D]")
    lat = customers.geometry.y.to_numpy()[owner]
    lng = customers.geometry.x.to_numpy()[owner]
    width = max(7, len(str(n)))
    return pd.DataFrame({
        "serial": np.char.add("SN", np.char.zfill(np.arange(1, n + 1).astype(str), width)),
        "model": model.astype(str), "category": category,
        "sold": pd.to_datetime(sold), "warranty_end": pd.to_datetime(warranty_end),
        "customer_id": customers["customer_id"].to_numpy()[owner],
        "lat": lat, "lng": lng,
        "cell": grid.points_to_cells(lat, lng, resolution)})


def _failures(devices: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Device position and receipt day (days since epoch) of every first-time repair."""
    models = devices["model"].to_numpy()
    unique_models, model_code = np.unique(models, return_inverse=True)
    model_factor = rng.lognormal(0.0, 0.3, size=unique_models.size)[model_code]
    factor = pd.Series(devices["category"]).map(_CATEGORY_RATE).to_numpy() * model_factor
    sold = devices["sold"].to_numpy("datetime64[D]").astype(np.int64)
    start = RECORDS_START.to_datetime64().astype("datetime64[D]").astype(np.int64)
    end = RECORDS_END.to_datetime64().astype("datetime64[D]").astype(np.int64) + 1
    device_parts, day_parts = [], []
    low = 0.0
    for high, rate in AGE_HAZARD:
        a = np.maximum(sold + low * 365.25, start)
        b = np.minimum(sold + high * 365.25, float(end))
        years = np.clip(b - a, 0, None) / 365.25
        n = rng.poisson(rate * factor * years)
        device = np.repeat(np.arange(len(devices)), n)
        day = a[device] + rng.random(device.size) * (b[device] - a[device])
        device_parts.append(device)
        day_parts.append(np.floor(day).astype(np.int64))
        low = high
    return np.concatenate(device_parts), np.concatenate(day_parts)


def generate_repairs(region: DemoRegion, *, seed: int = 7, resolution: int = 8,
                     abuses: bool = True) -> DemoRepairs:
    """Generate the demo region's repair records and devices sold (seeded).

    Parameters
    ----------
    region
        A :class:`~geodata.demo.DemoRegion` (its customers, SKUs and repair shops).
    seed
        Random seed; the same seed and region give the same records.
    resolution
        H3 resolution of the devices' ``cell``.
    abuses
        Plant the three abusive shops (``False`` gives clean records, to measure false alarms).

    Returns
    -------
    DemoRepairs

    Examples
    --------
    >>> from geodata.demo import load_demo
    >>> demo = generate_repairs(load_demo())
    >>> sorted(demo.planted_shops)
    ['high_cost', 'out_of_warranty', 'repeat_warranty']
    """
    devices = _devices(region, _rng(seed, 1), resolution)
    rng = _rng(seed, 2)
    device, day = _failures(devices, rng)
    shops = region.repair_shops
    shop_ids = shops["shop_id"].to_numpy().astype(str)
    shop_lat, shop_lng = shops.geometry.y.to_numpy(), shops.geometry.x.to_numpy()
    quality = np.clip((shops["rating"].to_numpy(np.float64) - 3.9) / 0.8, -3.0, 2.0)

    # the shop: one of the three nearest, weighted by exp(-distance / 3 km)
    k = min(3, len(shops))
    km, nearest = nearest_km(devices["lat"].to_numpy()[device], devices["lng"].to_numpy()[device],
                             shop_lat, shop_lng, k=k)
    km, nearest = km.reshape(device.size, k), nearest.reshape(device.size, k)
    weight = np.exp(-km / 3.0)
    pick = (rng.random(device.size)[:, None] > np.cumsum(weight / weight.sum(axis=1,
                                                         keepdims=True), axis=1)).sum(axis=1)
    shop = nearest[np.arange(device.size), np.minimum(pick, k - 1)]
    # a shop opened a month before the end: earlier repairs went to the customer's next choice
    volume = np.bincount(shop, minlength=len(shops))
    new_shop = int(np.argsort(volume)[len(shops) // 2])
    opened = RECORDS_END.to_datetime64().astype("datetime64[D]").astype(np.int64) - 30
    moved = (shop == new_shop) & (day < opened)
    alternative = np.where(nearest[:, 0] == new_shop, nearest[:, min(1, k - 1)], nearest[:, 0])
    shop = np.where(moved, alternative, shop)

    fault_names = np.array(list(FAULTS))
    spec = np.array([FAULTS[f][:4] for f in fault_names])
    covered_share = np.array([FAULTS[f][4] for f in fault_names])
    fault = rng.choice(fault_names.size, size=device.size, p=spec[:, 0] / spec[:, 0].sum())

    # failed repairs come back for a free redo, mostly at the same shop
    redo_probability = 0.045 * np.exp(-0.55 * quality[shop])
    redo = rng.random(device.size) < redo_probability
    redo_shop = np.where(rng.random(device.size) < 0.9, shop, nearest[:, min(1, k - 1)])
    first = pd.DataFrame({"device": device, "shop": shop, "fault": fault, "day": day,
                          "redo_of": -1})
    turnaround = _turnaround(rng, spec[fault, 1], quality[shop])
    first["days"] = turnaround
    redo_rows = np.flatnonzero(redo)
    second = pd.DataFrame({
        "device": device[redo_rows], "shop": redo_shop[redo_rows], "fault": fault[redo_rows],
        "day": day[redo_rows] + turnaround[redo_rows]
        + rng.integers(*_REDO_DAYS, size=redo_rows.size),
        "redo_of": redo_rows})
    second["days"] = _turnaround(rng, spec[second["fault"].to_numpy(), 1],
                                 quality[second["shop"].to_numpy()])
    records = pd.concat([first, second], ignore_index=True)
    end_day = RECORDS_END.to_datetime64().astype("datetime64[D]").astype(np.int64)
    records = records[records["day"] + records["days"] <= end_day + 0].reset_index(drop=True)
    records = records[records["day"] <= end_day]
    records = records.drop_duplicates(["device", "shop", "day"]).reset_index(drop=True)

    sold = devices["sold"].to_numpy("datetime64[D]").astype(np.int64)
    warranty_end = devices["warranty_end"].to_numpy("datetime64[D]").astype(np.int64)
    dev = records["device"].to_numpy()
    r_shop = records["shop"].to_numpy()
    r_fault = records["fault"].to_numpy()
    in_warranty = records["day"].to_numpy() <= warranty_end[dev]
    covered = rng.random(len(records)) < covered_share[r_fault]
    is_redo = records["redo_of"].to_numpy() >= 0
    warranty = (in_warranty & covered) | is_redo
    unit_cost = region.skus.set_index("sku")["unit_cost"].reindex(
        devices["model"].to_numpy()).fillna(2000.0).to_numpy()[dev]
    shop_cost = rng.lognormal(0.0, 0.06, size=len(shops))
    parts = spec[r_fault, 2] * (unit_cost / 2000.0) ** 0.6 * shop_cost[r_shop] \
        * rng.lognormal(0.0, 0.22, size=len(records))
    extra_part = rng.random(len(records)) < 0.03  # a second part found on opening the device
    parts = parts * np.where(extra_part, rng.uniform(1.3, 2.0, size=len(records)), 1.0)
    labour = spec[r_fault, 3] * shop_cost[r_shop] * rng.lognormal(0.0, 0.18, size=len(records))
    parts = np.where(is_redo, parts * 0.3, parts)
    rated = rng.random(len(records)) < 0.4
    stars = np.clip(np.round(rng.normal(4.1 + 0.45 * quality[r_shop] - 0.8 * is_redo, 0.85)),
                    1, 5)
    records = records.assign(warranty=warranty, parts=np.round(parts, 0),
                             labour=np.round(labour, 0),
                             rating=np.where(rated, stars, np.nan))

    planted_shops: dict[str, str] = {}
    planted_claims: dict[str, list[int]] = {}
    if abuses:
        records, planted_shops, planted_positions = _plant(records, devices, shop_ids, quality,
                                                           new_shop, _rng(seed, 3), end_day,
                                                           sold, warranty_end, spec)
        planted_claims = planted_positions
    records = records.sort_values(["day", "device", "shop"], kind="stable").reset_index()
    position = pd.Series(np.arange(len(records)), index=records["index"].to_numpy())
    received = pd.to_datetime(records["day"].to_numpy().astype("datetime64[D]"))
    repair_ids = np.char.add("J", np.char.zfill(np.arange(1, len(records) + 1).astype(str), 6))
    dev = records["device"].to_numpy()
    table = pd.DataFrame({
        "repair_id": repair_ids,
        "shop_id": shop_ids[records["shop"].to_numpy()],
        "serial": devices["serial"].to_numpy()[dev],
        "model": devices["model"].to_numpy()[dev],
        "received": received,
        "returned": received + pd.to_timedelta(records["days"].to_numpy(), unit="D"),
        "fault_code": fault_names[records["fault"].to_numpy()],
        "parts_cost": records["parts"].to_numpy(),
        "labour_cost": records["labour"].to_numpy(),
        "warranty": records["warranty"].to_numpy(bool),
        "warranty_end": devices["warranty_end"].to_numpy()[dev],
        "customer_rating": records["rating"].to_numpy(),
    })
    claims = {abuse: sorted(repair_ids[position.loc[rows].to_numpy()].tolist())
              for abuse, rows in planted_claims.items()}
    return DemoRepairs(repairs=table, devices=devices, planted_shops=planted_shops,
                       planted_claims=claims, new_shop=str(shop_ids[new_shop]), seed=seed)


def _turnaround(rng: np.random.Generator, norm: np.ndarray, quality: np.ndarray) -> np.ndarray:
    days = norm * np.exp(-0.3 * quality) * rng.lognormal(0.0, 0.35, size=norm.size)
    return np.maximum(np.round(days), 0).astype(np.int64)


def _plant(records: pd.DataFrame, devices: pd.DataFrame, shop_ids: np.ndarray,
           quality: np.ndarray, new_shop: int, rng: np.random.Generator, end_day: int,
           sold: np.ndarray, warranty_end: np.ndarray, spec: np.ndarray
           ) -> tuple[pd.DataFrame, dict[str, str], dict[str, list[int]]]:
    """Three well-rated, busy shops turn abusive; returns the records and what was planted."""
    volume = np.bincount(records["shop"].to_numpy(), minlength=shop_ids.size)
    eligible = np.flatnonzero((quality >= 0.0) & (volume >= np.median(volume)))
    eligible = eligible[eligible != new_shop]
    chosen = rng.choice(eligible, size=3, replace=False)
    repeat_shop, cost_shop, warranty_shop = (int(s) for s in chosen)
    planted: dict[str, list[int]] = {"repeat_warranty": [], "high_cost": [],
                                     "out_of_warranty": []}

    # 1. extra warranty repairs on devices the shop already repaired under warranty
    base = records[(records["shop"] == repeat_shop) & records["warranty"]
                   & (records["redo_of"] < 0)]
    targets = base.sample(n=min(30, len(base)), random_state=rng.integers(1 << 31))
    extra = []
    taken = set(zip(records["device"].to_numpy().tolist(), records["day"].to_numpy().tolist(),
                    strict=True))
    for _, row in targets.iterrows():
        day = int(row["day"])
        for _ in range(int(rng.integers(2, 4))):
            day += int(row["days"]) + int(rng.integers(15, 60))
            if day > min(end_day - 10, warranty_end[int(row["device"])]):
                break
            if (int(row["device"]), day) in taken:
                continue
            extra.append({"device": row["device"], "shop": repeat_shop, "fault": row["fault"],
                          "day": day, "redo_of": -1, "days": int(row["days"]), "warranty": True,
                          "parts": row["parts"], "labour": row["labour"], "rating": np.nan})
    start = len(records)
    records = pd.concat([records, pd.DataFrame(extra)], ignore_index=True)
    planted["repeat_warranty"] = list(range(start, len(records)))

    # 2. costs far above the norm on most claims
    mask = (records["shop"] == cost_shop).to_numpy() & (rng.random(len(records)) < 0.7)
    records.loc[mask, "parts"] = np.round(records.loc[mask, "parts"]
                                          * rng.uniform(2.5, 4.0, size=int(mask.sum())), 0)
    records.loc[mask, "labour"] = np.round(records.loc[mask, "labour"]
                                           * rng.uniform(1.5, 2.5, size=int(mask.sum())), 0)
    planted["high_cost"] = np.flatnonzero(mask).tolist()

    # 3. warranty claims on devices out of warranty (well past the end, no recent repair)
    dev = records["device"].to_numpy()
    order = np.lexsort((records["day"].to_numpy(), dev))
    recent = np.zeros(len(records), dtype=bool)  # a repair of the device in the 90 days before
    same = dev[order][1:] == dev[order][:-1]
    gap = records["day"].to_numpy()[order][1:] - (records["day"] + records["days"]).to_numpy()[
        order][:-1]
    recent[order[1:]] = same & (gap <= 90)
    outside = (records["day"].to_numpy() > warranty_end[dev] + 120) & ~recent
    mask = ((records["shop"] == warranty_shop).to_numpy() & outside & ~records["warranty"]
            .to_numpy(bool) & (rng.random(len(records)) < 0.45))
    records.loc[mask, "warranty"] = True
    planted["out_of_warranty"] = np.flatnonzero(mask).tolist()
    shops = {"repeat_warranty": str(shop_ids[repeat_shop]), "high_cost": str(shop_ids[cost_shop]),
             "out_of_warranty": str(shop_ids[warranty_shop])}
    return records, shops, planted


@functools.lru_cache(maxsize=4)
def load_demo_repairs(seed: int = 7, resolution: int = 8) -> DemoRepairs:
    """Return the standard demo region's repair records and devices (cached; read-only).

    Examples
    --------
    >>> demo = load_demo_repairs()
    >>> bool(len(demo.repairs) > 5000)
    True
    """
    from .demo import load_demo

    return generate_repairs(load_demo(seed), seed=seed, resolution=resolution)
