"""Lanes of the week: which location may ship to which, at what cost and lead time.

When lanes are not given they are derived from road-like distance, the great-circle (haversine)
distance times a circuity factor (1.3 by default, a common average for road networks):

* warehouse -> store within the warehouse's service radius (replenishment);
* store -> store within ``max_transfer_km`` (transfers), both only if the lead time fits the week.

The cost structure (:class:`LaneCosts`) says how stock moves on each kind of lane:

* warehouse -> store ``scheduled`` (the default): the store's multi-drop route runs anyway on its
  delivery weekdays, so a delivery costs its handling per unit (``route_handling`` +
  ``route_per_km * km``) and no truck; the route may cap the litres per visit
  (``visit_cap_litres``, times the visits in the week);
* warehouse -> store ``dedicated``: trucks of the plan's truck capacity per lane, paid
  ``truck_fixed + truck_per_km * km`` each, plus ``unit_handling + unit_per_km * km`` per unit;
* store -> store ``parcel`` (the default): courier parcels of at most ``parcel_litres`` litres,
  ``parcel_fixed`` each (``ceil(litres / parcel_litres)`` parcels) plus ``parcel_per_litre`` per
  litre and ``unit_handling`` per unit picked and packed;
* store -> store ``truck``: priced as a dedicated truck.

:data:`COST_STRUCTURES` names the realistic electronics chain (``realistic``: scheduled routes,
parcels, SKUs picked as their file says) and today's dedicated-truck variant (``dedicated``:
a truck per lane, every SKU shipped from a warehouse in whole cases), so the two can be
compared on the same week. Lead time ``handling_days + km / km_per_day`` days.

:func:`pick_units` says how a warehouse ships each SKU under a cost structure: by the unit, or
in whole cases (bulky SKUs of at least :data:`BULKY_LITRES` litres, or the SKU file's
``pick_unit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import InputError
from ..geometry import haversine_km, pairs_within_km

LaneMode = Literal["scheduled", "dedicated", "parcel", "truck"]
LANE_MODES: tuple[str, ...] = ("scheduled", "dedicated", "parcel", "truck")
WarehouseMode = Literal["scheduled", "dedicated"]
TransferMode = Literal["parcel", "truck"]
PickUnits = Literal["file", "case"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LANE_COLUMNS = ["from_id", "to_id", "distance_km", "unit_cost", "shipment_cost",
                "lead_time_days", "mode", "load_litres", "cost_per_litre", "volume_cap_litres"]


@dataclass(frozen=True)
class LaneCosts:
    """Cost structure, cost and speed assumptions used to price lanes (CNY, km, litres, days).

    ``warehouse_mode`` and ``transfer_mode`` are the defaults for lanes whose file gives no
    ``mode``; ``pick_units="case"`` ships every SKU from a warehouse in whole cases whatever
    the SKU file's ``pick_unit`` says (the dedicated-truck variant).
    """

    warehouse_mode: WarehouseMode = "scheduled"
    transfer_mode: TransferMode = "parcel"
    pick_units: PickUnits = "file"
    route_handling: float = 0.3
    route_per_km: float = 0.002
    visit_cap_litres: float | None = None
    delivery_weekdays: str = "tue fri"
    parcel_fixed: float = 12.0
    parcel_per_litre: float = 0.08
    parcel_litres: float = 60.0
    circuity: float = 1.3
    unit_handling: float = 0.5
    unit_per_km: float = 0.01
    truck_fixed: float = 150.0
    truck_per_km: float = 4.0
    km_per_day: float = 400.0
    handling_days: float = 1.0
    max_lead_time_days: float = 5.0
    max_transfer_km: float = 40.0


COST_STRUCTURES: dict[str, LaneCosts] = {
    "realistic": LaneCosts(),
    "dedicated": LaneCosts(warehouse_mode="dedicated", transfer_mode="truck", pick_units="case"),
}
"""The named cost structures: how an electronics chain moves stock, and a truck per lane."""


def visits_per_week(weekdays: str) -> int:
    """Count the delivery weekdays in ``"tue fri"`` (any of mon..sun, comma or space apart).

    Examples
    --------
    >>> visits_per_week("Tue, Fri")
    2
    """
    days = {d[:3] for d in weekdays.replace(",", " ").lower().split()}
    unknown = days - set(WEEKDAYS)
    if unknown or not days:
        raise InputError(f"delivery weekdays {weekdays!r}: use mon..sun, e.g. 'tue fri'.")
    return len(days)


def price_lanes(lanes: pd.DataFrame, from_warehouse: np.ndarray, costs: LaneCosts,
                ) -> pd.DataFrame:
    """Give lanes the columns of their cost structure (``mode``, loads, costs, caps).

    Parameters
    ----------
    lanes
        ``from_id``, ``to_id``, ``distance_km``, ``unit_cost``, ``lead_time_days``; optional
        ``mode`` per lane, ``delivery_weekdays`` and ``visit_cap_litres`` (scheduled lanes),
        ``parcel_cost``, ``parcel_litres`` and ``cost_per_litre`` (parcel lanes). A missing
        column or an empty cell takes the default of ``costs``.
    from_warehouse
        True for the lanes that leave a warehouse.
    costs
        The cost structure (:class:`LaneCosts`).

    Returns
    -------
    pandas.DataFrame
        The lanes with ``mode``, ``shipment_cost`` (per truck or parcel; 0 on scheduled
        routes), ``load_litres`` (litres per parcel; empty for trucks, which take the plan's
        truck capacity), ``cost_per_litre`` and
        ``volume_cap_litres`` (most litres in the week).
    """
    table = lanes.copy()
    n = len(table)
    default_mode = np.where(from_warehouse, costs.warehouse_mode, costs.transfer_mode)
    if "mode" in table:
        given = table["mode"].fillna("").astype(str).str.strip().str.lower().to_numpy()
        mode = np.where(given == "", default_mode, given)
    else:
        mode = default_mode
    bad = np.flatnonzero(~np.isin(mode, LANE_MODES) | (np.isin(mode, ("scheduled", "dedicated"))
                                                        != from_warehouse))
    if bad.size:
        row = int(bad[0])
        raise InputError(f"`lanes.mode` row {row + 1}: {mode[row]!r}; use scheduled or dedicated "
                         "from a warehouse, parcel or truck between stores.")
    km = table["distance_km"].to_numpy(dtype=float)

    def column(name: str, default: float) -> np.ndarray:
        if name not in table:
            return np.full(n, default, dtype=float)
        values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)
        wrong = np.flatnonzero(values < 0)
        if wrong.size:
            raise InputError(f"`lanes.{name}` row {int(wrong[0]) + 1} is negative; give a "
                             "value >= 0 or leave it empty for the default.")
        return np.where(np.isnan(values), default, values)

    if "delivery_weekdays" in table:
        visits = np.array([visits_per_week(str(v)) if isinstance(v, str) and v.strip()
                           else visits_per_week(costs.delivery_weekdays)
                           for v in table["delivery_weekdays"]], dtype=float)
    else:
        visits = np.full(n, float(visits_per_week(costs.delivery_weekdays)))
    visit_cap = column("visit_cap_litres", np.inf if costs.visit_cap_litres is None
                       else costs.visit_cap_litres)
    scheduled, parcel = mode == "scheduled", mode == "parcel"
    truck_cost = costs.truck_fixed + costs.truck_per_km * km
    table["mode"] = mode
    table["shipment_cost"] = np.where(scheduled, 0.0, np.where(
        parcel, column("parcel_cost", costs.parcel_fixed), truck_cost))
    # Trucks' litres are the plan's truck capacity (NaN here: the problem's default).
    table["load_litres"] = np.where(parcel, column("parcel_litres", costs.parcel_litres),
                                    np.nan)
    if np.any(table["load_litres"].to_numpy() <= 0):
        raise InputError("`lanes.parcel_litres` must be positive.")
    table["cost_per_litre"] = np.where(parcel, column("cost_per_litre", costs.parcel_per_litre),
                                       0.0)
    table["volume_cap_litres"] = np.where(scheduled, visit_cap * visits, np.inf)
    return table


def lanes_from_locations(locations: pd.DataFrame, *, costs: LaneCosts | None = None,
                         ) -> pd.DataFrame:
    """Derive this week's lanes from location coordinates.

    Parameters
    ----------
    locations
        ``location_id``, ``lat``, ``lng``, ``is_warehouse``, and ``service_radius_km`` for
        warehouses.
    costs
        Cost and speed assumptions (:class:`LaneCosts`).

    Returns
    -------
    pandas.DataFrame
        ``from_id``, ``to_id``, ``distance_km`` (road-like), ``unit_cost``, ``shipment_cost``,
        ``lead_time_days`` and the cost structure's columns (:func:`price_lanes`).

    Examples
    --------
    >>> locations = pd.DataFrame({"location_id": ["W", "S1", "S2"], "lat": [22.5, 22.52, 22.7],
    ...                           "lng": [114.0, 114.0, 114.0], "is_warehouse": [True, False, False],
    ...                           "service_radius_km": [20.0, 0, 0]})
    >>> lanes_from_locations(locations)[["from_id", "to_id", "mode"]].values.tolist()
    [['W', 'S1', 'scheduled'], ['S1', 'S2', 'parcel'], ['S2', 'S1', 'parcel']]
    """
    costs = costs or LaneCosts()
    missing = {"location_id", "lat", "lng", "is_warehouse"} - set(locations.columns)
    if missing:
        raise InputError(f"`locations` lacks column(s) {sorted(missing)} needed to derive lanes.")
    ids = locations["location_id"].astype(str).to_numpy()
    lat = locations["lat"].to_numpy(float)
    lng = locations["lng"].to_numpy(float)
    warehouse = locations["is_warehouse"].to_numpy(bool)
    radius = (locations["service_radius_km"].to_numpy(float) if "service_radius_km" in locations
              else np.zeros(len(ids)))
    stores, warehouses = np.flatnonzero(~warehouse), np.flatnonzero(warehouse)
    pairs = []
    # Store -> store transfers within max_transfer_km (road distance).
    a, b, _ = pairs_within_km(lat[stores], lng[stores], lat[stores], lng[stores],
                              costs.max_transfer_km / costs.circuity)
    if (a != b).any():
        pairs.append(np.column_stack([stores[a[a != b]], stores[b[a != b]]]))
    # Warehouse -> store replenishment within the service radius.
    w, s, _ = pairs_within_km(lat[warehouses], lng[warehouses], lat[stores], lng[stores],
                              radius[warehouses] / costs.circuity)
    if len(w):
        pairs.append(np.column_stack([warehouses[w], stores[s]]))
    if not pairs:
        return pd.DataFrame(columns=LANE_COLUMNS)
    pair = np.concatenate(pairs).astype(np.int64)
    km = costs.circuity * haversine_km(lat[pair[:, 0]], lng[pair[:, 0]], lat[pair[:, 1]],
                                       lng[pair[:, 1]])
    lead = costs.handling_days + km / costs.km_per_day
    keep = lead <= costs.max_lead_time_days
    pair, km, lead = pair[keep], km[keep], lead[keep]
    from_warehouse = warehouse[pair[:, 0]]
    mode = np.where(from_warehouse, costs.warehouse_mode, costs.transfer_mode)
    lanes = pd.DataFrame({
        "from_id": ids[pair[:, 0]], "to_id": ids[pair[:, 1]], "distance_km": km,
        "unit_cost": np.where(mode == "scheduled", costs.route_handling + costs.route_per_km * km,
                              costs.unit_handling + np.where(mode == "parcel", 0.0,
                                                             costs.unit_per_km * km)),
        "lead_time_days": lead, "mode": mode})
    lanes = price_lanes(lanes, from_warehouse, costs)
    order = np.lexsort((pair[:, 1], pair[:, 0]))
    return lanes.iloc[order].reset_index(drop=True)


BULKY_LITRES = 20.0
"""SKUs of at least this many litres per unit (TVs, appliances) ship in their own carton (their
case); smaller ones (phones, laptops, accessories) are picked by the unit, when the SKU file
gives no ``pick_unit``."""


def pick_units(skus: pd.DataFrame, costs: LaneCosts) -> np.ndarray:
    """Return the pick unit of every SKU: the file's ``pick_unit``, else by volume.

    ``costs.pick_units == "case"`` (the dedicated-truck variant) ships every SKU in whole cases.

    Examples
    --------
    >>> skus = pd.DataFrame({"volume_l": [0.5, 80.0]})
    >>> pick_units(skus, LaneCosts()).tolist()
    ['unit', 'case']
    """
    if costs.pick_units == "case":
        return np.full(len(skus), "case")
    by_volume = np.where(skus["volume_l"].to_numpy(dtype=float) >= BULKY_LITRES, "case", "unit")
    if "pick_unit" not in skus:
        return by_volume
    given = skus["pick_unit"].fillna("").astype(str).str.strip().str.lower().to_numpy()
    return np.where(given == "", by_volume, given)
