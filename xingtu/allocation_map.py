"""The Allocation page's map: warehouses by load with their service radius, stores by risk.

Built from a plan's warehouse and store cards (:mod:`optimizer.allocation.cards`) with the map
helpers of :mod:`xingtu.maps` (marker shapes, the map key, bundled outlines, local Leaflet):

* each warehouse is a square whose colour and size give its **load**: the units it ships in
  the plan against what it can ship in the plan's days (daily throughput times the days), in
  the classes of :data:`LOAD_CLASSES`; a circle of its **service radius** around it;
* each store is a circle coloured by its **stockout risk** after the plan: expected units short
  as a share of its demand over the plan's days, in the classes of :data:`RISK_CLASSES`;
* the plan's movements as arrows (wider: more units).

Every class is its own layer, listed in the map key with its symbol, so a planner can switch
one class off. Tooltips give units with thousands separators and shares in %.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import folium
import numpy as np
import pandas as pd

from optimizer.geometry import frame_to_lat_lng

from . import maps


@dataclass(frozen=True)
class MapClass:
    """One class of a map layer: its label in the key and the marker it is drawn with."""

    label: str
    marker: str


LOAD_EDGES = (0.5, 0.8, 1.0)
"""Upper edges of the load classes (share of the plan days' throughput)."""

LOAD_CLASSES = (MapClass("Warehouse load under 50 %", "load_low"),
                MapClass("Warehouse load 50–80 %", "load_medium"),
                MapClass("Warehouse load 80–100 %", "load_high"),
                MapClass("Warehouse load over 100 %", "load_over"))
"""The warehouse load classes, lightest first (bigger and redder as the load grows)."""

RISK_EDGES = (0.01, 0.03, 0.10)
"""Upper edges of the stockout risk classes (expected units short over demand)."""

RISK_CLASSES = (MapClass("Stockout risk under 1 %", "risk_low"),
                MapClass("Stockout risk 1–3 %", "risk_some"),
                MapClass("Stockout risk 3–10 %", "risk_high"),
                MapClass("Stockout risk 10 % or more", "risk_severe"))
"""The store stockout risk classes, lowest first."""

RADIUS_LAYER = "Warehouse service radius"


def class_index(values: np.ndarray | pd.Series, edges: Sequence[float]) -> np.ndarray:
    """Class of each value for upper ``edges``: class ``i`` holds ``edges[i-1] <= v < edges[i]``.

    Examples
    --------
    >>> class_index(np.array([0.0, 0.5, 0.79, 0.8, 1.2]), LOAD_EDGES).tolist()
    [0, 1, 1, 2, 3]
    """
    return np.searchsorted(np.asarray(edges, dtype=float), np.asarray(values, dtype=float),
                           side="right")


def warehouse_loads(card: pd.DataFrame, *, days: float) -> pd.DataFrame:
    """Return each warehouse's load in the plan: units shipped against the days' throughput.

    Parameters
    ----------
    card
        The warehouse card: ``warehouse_id``, ``replenishment_units`` (units shipped in the
        plan), ``daily_throughput`` (items a day).
    days
        Days the plan covers (7 for a week, 1 for a day).

    Returns
    -------
    pandas.DataFrame
        ``warehouse_id``, ``units_shipped``, ``capacity_units`` (daily throughput x days),
        ``load`` (their ratio; 0 without a throughput) and ``load_class`` (index into
        :data:`LOAD_CLASSES`).

    Examples
    --------
    >>> warehouse_loads(pd.DataFrame({"warehouse_id": ["W1"], "replenishment_units": [630.0],
    ...                               "daily_throughput": [100.0]}), days=7)["load"].tolist()
    [0.9]
    """
    shipped = card["replenishment_units"].to_numpy(dtype=float)
    capacity = card["daily_throughput"].to_numpy(dtype=float) * days
    with np.errstate(divide="ignore", invalid="ignore"):
        load = np.where(capacity > 0, shipped / np.where(capacity > 0, capacity, 1.0), 0.0)
    return pd.DataFrame({"warehouse_id": card["warehouse_id"].astype(str).to_numpy(),
                         "units_shipped": shipped, "capacity_units": capacity, "load": load,
                         "load_class": class_index(load, LOAD_EDGES)})


def store_risks(card: pd.DataFrame) -> pd.DataFrame:
    """Return each store's stockout risk after the plan and its class.

    The risk is the expected units short after the plan over the store's demand in the plan's
    days (0 for a store without demand).

    Parameters
    ----------
    card
        The store card: ``store_id``, ``expected_stockout_after``, ``demand_horizon``.

    Returns
    -------
    pandas.DataFrame
        ``store_id``, ``risk`` and ``risk_class`` (index into :data:`RISK_CLASSES`).

    Examples
    --------
    >>> store_risks(pd.DataFrame({"store_id": ["S1", "S2"], "expected_stockout_after": [2, 0.5],
    ...                           "demand_horizon": [10, 100]}))["risk_class"].tolist()
    [3, 0]
    """
    short = card["expected_stockout_after"].to_numpy(dtype=float)
    demand = card["demand_horizon"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        risk = np.where(demand > 0, short / np.where(demand > 0, demand, 1.0), 0.0)
    return pd.DataFrame({"store_id": card["store_id"].astype(str).to_numpy(), "risk": risk,
                         "risk_class": class_index(risk, RISK_EDGES)})


def allocation_map(*, stores: pd.DataFrame, warehouses: pd.DataFrame,
                   warehouse_card: pd.DataFrame, store_card: pd.DataFrame,
                   lines: pd.DataFrame, days: float = 7.0,
                   tiles: maps.Tiles | None = None) -> folium.Map:
    """Return the Allocation page's map of a plan (see the module docstring).

    Parameters
    ----------
    stores, warehouses
        The stores (``store_id``) and warehouses (``warehouse_id``, ``service_radius_km``) as
        points (GeoDataFrames, or tables with ``lat``/``lng``).
    warehouse_card, store_card
        The plan's warehouse and store cards (the workbook's Warehouses and Stores sheets).
    lines
        The plan lines (``from``, ``to``, ``quantity``, ``sku``).
    days
        Days the plan covers.
    tiles
        Base-map tiles (:func:`xingtu.maps.base_map`).

    Returns
    -------
    folium.Map
    """
    store_points = _points(stores, "store_id")
    warehouse_points = _points(warehouses, "warehouse_id")
    places = pd.concat([store_points[["id", "lat", "lng"]], warehouse_points[["id", "lat", "lng"]]]
                       ).drop_duplicates("id").set_index("id")
    center = (float(places["lat"].median()), float(places["lng"].median())) if len(places) \
        else (22.5, 114.0)
    fmap = maps.base_map(center, zoom=9, tiles=tiles)

    loads = warehouse_loads(warehouse_card, days=days)
    site = warehouse_points.merge(loads, on="warehouse_id", how="left")
    card = warehouse_card.assign(warehouse_id=warehouse_card["warehouse_id"].astype(str))
    site = site.merge(card[["warehouse_id"] + [c for c in card.columns if c not in site]],
                      on="warehouse_id", how="left")
    site["load_class"] = site["load_class"].fillna(0).astype(int)
    radius = pd.to_numeric(site["service_radius_km"], errors="coerce").fillna(0.0)
    if len(site):
        maps.add_radius_circles(fmap, site, radius, name=RADIUS_LAYER, color="#33a02c")

    moves = _moves(lines, places)
    if len(moves):
        maps.add_transfers(fmap, moves, name="Movements", tooltip={
            "route": "Route", "quantity": "Units", "skus": "SKUs"})

    risks = store_risks(store_card)
    shops = store_points.merge(risks, on="store_id", how="left")
    card = store_card.assign(store_id=store_card["store_id"].astype(str))
    shops = shops.merge(card[["store_id"] + [c for c in card.columns if c not in shops]],
                        on="store_id", how="left")
    shops["risk_class"] = shops["risk_class"].fillna(0).astype(int)
    store_tip = {"region": "Region", "channel": "Channel",
                 "expected_stockout_after": "Expected units short after the plan",
                 "demand_horizon": "Demand in the plan's days", "risk": "Stockout risk",
                 "units_in": "Units in", "units_out": "Units out"}
    store_units: dict[str, maps.Unit] = {
        "expected_stockout_after": "count", "demand_horizon": "count", "risk": "percent",
        "units_in": "count", "units_out": "count"}
    for index, klass in enumerate(RISK_CLASSES):
        chosen = shops[shops["risk_class"] == index]
        if len(chosen):
            maps.add_points(fmap, chosen, name=klass.label, marker=klass.marker, title="title",
                            tooltip=store_tip, units=store_units)

    warehouse_tip = {"units_shipped": "Units shipped in the plan",
                     "capacity_units": "Throughput of the plan's days", "load": "Load",
                     "service_radius_km": "Service radius", "stores_in_reach": "Stores in reach"}
    warehouse_units: dict[str, maps.Unit] = {
        "units_shipped": "count", "capacity_units": "count", "load": "percent",
        "service_radius_km": "km", "stores_in_reach": "count"}
    for index, klass in enumerate(LOAD_CLASSES):
        chosen = site[site["load_class"] == index]
        if len(chosen):
            maps.add_points(fmap, chosen, name=klass.label, marker=klass.marker, title="title",
                            tooltip=warehouse_tip, units=warehouse_units)
    return maps.finish(fmap)


def _points(frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Return ``id``, ``lat``, ``lng``, ``title`` and the other columns of a point table."""
    lat, lng = frame_to_lat_lng(frame, id_column)
    table = pd.DataFrame(frame.drop(columns="geometry", errors="ignore")).copy()
    table = table.drop(columns=[c for c in ("lat", "lng") if c in table.columns])
    ids = table[id_column].astype(str)
    names = table["name"].astype(str) if "name" in table.columns else ids
    return table.assign(id=ids.to_numpy(), lat=lat, lng=lng,
                        title=(ids + " " + names.where(names != ids, "")).str.strip().to_numpy(),
                        **{id_column: ids.to_numpy()})


def _moves(lines: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """Return the plan's movements between known places, one arrow per sender and receiver."""
    if not len(lines):
        return pd.DataFrame()
    moves = lines.assign(**{"from": lines["from"].astype(str), "to": lines["to"].astype(str)}
                         ).groupby(["from", "to"], as_index=False).agg(
        quantity=("quantity", "sum"), skus=("sku", "nunique"))
    moves = moves[moves["from"].isin(places.index) & moves["to"].isin(places.index)]
    return moves.assign(
        from_lat=places.loc[moves["from"], "lat"].to_numpy(),
        from_lng=places.loc[moves["from"], "lng"].to_numpy(),
        to_lat=places.loc[moves["to"], "lat"].to_numpy(),
        to_lng=places.loc[moves["to"], "lng"].to_numpy(),
        route=moves["from"] + " → " + moves["to"])
