"""Lanes of the week: which location may ship to which, at what cost and lead time.

When lanes are not given they are derived from road-like distance, the great-circle (haversine)
distance times a circuity factor (1.3 by default, a common average for road networks):

* warehouse -> store within the warehouse's service radius (replenishment);
* store -> store within ``max_transfer_km`` (transfers), both only if the lead time fits the week.

Cost per unit ``unit_handling + unit_per_km * km``; cost per truck (shipment)
``truck_fixed + truck_per_km * km``; lead time ``handling_days + km / km_per_day`` days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..geometry import haversine_km, pairs_within_km


@dataclass(frozen=True)
class LaneCosts:
    """Cost and speed assumptions used to derive lanes (CNY, km, days)."""

    circuity: float = 1.3
    unit_handling: float = 0.5
    unit_per_km: float = 0.01
    truck_fixed: float = 150.0
    truck_per_km: float = 4.0
    km_per_day: float = 400.0
    handling_days: float = 1.0
    max_lead_time_days: float = 5.0
    max_transfer_km: float = 40.0


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
        ``lead_time_days``.

    Examples
    --------
    >>> locations = pd.DataFrame({"location_id": ["W", "S1", "S2"], "lat": [22.5, 22.52, 22.7],
    ...                           "lng": [114.0, 114.0, 114.0], "is_warehouse": [True, False, False],
    ...                           "service_radius_km": [20.0, 0, 0]})
    >>> lanes_from_locations(locations)[["from_id", "to_id"]].values.tolist()
    [['W', 'S1'], ['S1', 'S2'], ['S2', 'S1']]
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
        return pd.DataFrame(columns=["from_id", "to_id", "distance_km", "unit_cost",
                                     "shipment_cost", "lead_time_days"])
    pair = np.concatenate(pairs).astype(np.int64)
    km = costs.circuity * haversine_km(lat[pair[:, 0]], lng[pair[:, 0]], lat[pair[:, 1]],
                                       lng[pair[:, 1]])
    lead = costs.handling_days + km / costs.km_per_day
    keep = lead <= costs.max_lead_time_days
    pair, km, lead = pair[keep], km[keep], lead[keep]
    lanes = pd.DataFrame({
        "from_id": ids[pair[:, 0]], "to_id": ids[pair[:, 1]], "distance_km": km,
        "unit_cost": costs.unit_handling + costs.unit_per_km * km,
        "shipment_cost": costs.truck_fixed + costs.truck_per_km * km,
        "lead_time_days": lead})
    order = np.lexsort((pair[:, 1], pair[:, 0]))
    return lanes.iloc[order].reset_index(drop=True)
