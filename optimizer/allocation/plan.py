"""The weekly plan: from stores, warehouses, SKUs, sales and stock to plan lines and KPIs.

Steps: cross-table checks, weekly sales history, forecast per store-SKU (mean, variance),
reserve per store-SKU (the demand quantile at the service level over lead time plus review
period: safety stock plus expected demand), lanes, the transfer MIP (decomposition), KPIs.

Documented fallbacks:

* a store without any sales history gets, per SKU, the average forecast of the stores of its
  channel that have history (listed in ``kpis["stores_without_history"]``);
* in-transit stock is assumed to arrive before the planned week and counts as stock;
* warehouses keep ``warehouse_reserve_share`` of their stock (default 0).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from ..results import SolveReport
from .forecast import forecast_demand, week_start, weekly_history
from .inputs import check_inventory_tables
from .kpis import allocation_kpis
from .lanes import LaneCosts, lanes_from_locations, price_lanes
from .model import AllocationProblem, build_network, problem_from_frames
from .safety_stock import demand_quantile
from .solve import AllocationResult, solve_allocation
from .transport import transport_kpis


@dataclass(frozen=True)
class PlanSettings:
    """Planning assumptions (service level, lead times, trucks, solver limits)."""

    service_level: float = 0.95
    store_lead_time_days: float = 2.0
    review_days: float = 7.0
    warehouse_reserve_share: float = 0.0
    truck_capacity_l: float = 18_000.0
    min_transfer_units: int = 1
    max_cross_region_share: float | None = None
    history_weeks: int = 52
    mip_gap: float = 0.01
    time_limit: float = 120.0
    lane_costs: LaneCosts = field(default_factory=LaneCosts)


@dataclass(frozen=True)
class WeeklyPlan:
    """A planned week: the lines to load into the ERP, the KPIs, and how the solve went."""

    week: str
    lines: pd.DataFrame
    kpis: dict
    warehouses: pd.DataFrame
    report: SolveReport
    problem: AllocationProblem
    result: AllocationResult

    def kpi_table(self) -> pd.DataFrame:
        """KPIs as a two-column table (``kpi``, ``value``) for a sheet."""
        return pd.DataFrame({"kpi": list(self.kpis), "value": [str(v) if isinstance(v, list)
                                                                else v for v in self.kpis.values()]})


def plan_week(*, stores: pd.DataFrame, warehouses: pd.DataFrame, skus: pd.DataFrame,
              sales: pd.DataFrame, stock: pd.DataFrame, week: str,
              lanes: pd.DataFrame | None = None, settings: PlanSettings | None = None,
              sources: dict[str, str] | None = None, workers: int = 1) -> WeeklyPlan:
    """Plan one week's transfers and replenishment.

    Parameters
    ----------
    stores
        ``store_id``, ``region``, ``channel`` and a point geometry (or ``lat``/``lng``).
    warehouses
        ``warehouse_id``, ``region``, ``daily_throughput``, ``service_radius_km``, location.
    skus
        ``sku``, ``unit_cost``, ``margin`` (share of the price, < 1, or CNY per unit if >= 1),
        ``volume_l``, ``case_size``, optional ``pick_unit`` (``unit`` or ``case``; default
        ``case`` for bulky SKUs of at least :data:`BULKY_LITRES` litres, ``unit`` otherwise).
    sales
        ``date``, ``store_id``, ``sku``, ``units`` (daily or weekly).
    stock
        ``location_id``, ``sku``, ``on_hand``, ``in_transit``.
    week
        ISO week to plan, ``"2026-W48"``; only sales before it are used.
    lanes
        Optional ``origin``, ``destination``, ``distance_km``, ``cost_per_unit``,
        ``lead_time_days``, and the cost structure's optional columns (``mode``,
        ``delivery_weekdays``, ``visit_cap_litres``, ``parcel_cost``, ``parcel_litres``,
        ``cost_per_litre``; :func:`optimizer.allocation.lanes.price_lanes`); derived from
        distance when not given. ``settings.lane_costs`` gives the defaults.
    settings
        :class:`PlanSettings`.
    sources
        Table name to file name, for error messages.
    workers
        Processes for the solve (:func:`optimizer.allocation.solve.solve_allocation`); not part of
        the settings because it changes how fast the plan is found, not the week's problem.

    Returns
    -------
    WeeklyPlan
    """
    settings = settings or PlanSettings()
    ship_day = week_start(week)
    problem, without_history = week_problem(
        stores=stores, warehouses=warehouses, skus=skus, sales=sales, stock=stock, week=week,
        lanes=lanes, settings=settings, sources=sources)
    network = build_network(problem)
    result = solve_allocation(problem, mip_gap=settings.mip_gap, time_limit=settings.time_limit,
                              workers=workers, network=network)
    kpis, warehouse_table = allocation_kpis(problem, result)
    kpis.update(transport_kpis(problem, network, result.quantity))
    kpis["stores_without_history"] = without_history
    kpis["service_level"] = settings.service_level
    kpis.update({f"solve_{k}": v for k, v in asdict(result.report).items()})
    lines = _plan_lines(problem, result, ship_day, stores)
    return WeeklyPlan(week=week, lines=lines, kpis=kpis, warehouses=warehouse_table,
                      report=result.report, problem=problem, result=result)


def week_problem(*, stores: pd.DataFrame, warehouses: pd.DataFrame, skus: pd.DataFrame,
                 sales: pd.DataFrame, stock: pd.DataFrame, week: str,
                 lanes: pd.DataFrame | None = None, settings: PlanSettings | None = None,
                 sources: dict[str, str] | None = None) -> tuple[AllocationProblem, list[str]]:
    """The week's :class:`AllocationProblem` (checks, forecast, reserves, lanes), unsolved.

    Parameters are those of :func:`plan_week`. Returns the problem and the stores without any
    sales history (they got the channel-average fallback).
    """
    settings = settings or PlanSettings()
    without_history = check_inventory_tables(stores=stores, warehouses=warehouses, skus=skus,
                                             stock=stock, sales=sales, sources=sources)
    keys, history, _ = weekly_history(sales, week=week, weeks=settings.history_weeks)
    forecast = pd.concat([keys, forecast_demand(history, quantile=settings.service_level)],
                         axis=1)
    forecast["store_id"] = forecast["store_id"].astype(str)
    forecast["sku"] = forecast["sku"].astype(str)
    forecast = _fallback_forecast(forecast, stores, without_history)
    locations = _locations(stores, warehouses)
    positions = _positions(stock, forecast, locations, settings)
    sku_table = pd.DataFrame({
        "sku": skus["sku"].astype(str),
        "margin": _margin_per_unit(skus),
        "volume": skus["volume_l"].to_numpy(dtype=float),
        "case_size": skus["case_size"].to_numpy(dtype=np.int64),
        "pick_unit": pick_units(skus, settings.lane_costs)})
    lane_table = _lanes(lanes, locations, settings.lane_costs)
    problem = problem_from_frames(positions, locations, sku_table, lane_table,
                                  truck_capacity=settings.truck_capacity_l,
                                  min_transfer_units=settings.min_transfer_units,
                                  max_cross_region_share=settings.max_cross_region_share)
    return problem, without_history


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


def input_fingerprint(tables: Mapping[str, pd.DataFrame], parameters: Mapping[str, object],
                      ) -> str:
    """sha256 of canonicalised inputs: same data and settings give the same fingerprint.

    Each table is reduced to its non-geometry columns plus point coordinates, columns sorted by
    name, rows sorted by every column, numbers written with 12 significant digits.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})
    >>> input_fingerprint({"t": a}, {}) == input_fingerprint({"t": a.iloc[::-1]}, {})
    True
    """
    digest = hashlib.sha256()
    for name in sorted(tables):
        frame = pd.DataFrame(tables[name]).copy()
        if "geometry" in frame.columns:
            import shapely

            points = np.asarray(frame["geometry"], dtype=object)
            frame["lng"], frame["lat"] = shapely.get_x(points), shapely.get_y(points)
            frame = pd.DataFrame(frame.drop(columns="geometry"))
        frame = frame[sorted(frame.columns, key=str)]
        frame = frame.sort_values(list(frame.columns), kind="stable")
        digest.update(name.encode())
        digest.update(frame.to_csv(index=False, float_format="%.12g").encode())
    digest.update(repr(sorted((str(k), repr(v)) for k, v in parameters.items())).encode())
    return digest.hexdigest()


def _fallback_forecast(forecast: pd.DataFrame, stores: pd.DataFrame,
                       without_history: list[str]) -> pd.DataFrame:
    if not without_history:
        return forecast
    channel = stores.assign(store_id=stores["store_id"].astype(str)).set_index("store_id")[
        "channel"].astype(str)
    with_channel = forecast.assign(channel=forecast["store_id"].map(channel).to_numpy())
    stores_per_channel = forecast.assign(channel=with_channel["channel"]).groupby(
        "channel")["store_id"].nunique()
    per_sku = with_channel.groupby(["channel", "sku"], as_index=False)[["mean", "variance"]].sum()
    per_sku["mean"] /= per_sku["channel"].map(stores_per_channel).to_numpy()
    per_sku["variance"] /= per_sku["channel"].map(stores_per_channel).to_numpy()
    new = pd.DataFrame({"store_id": without_history})
    new["channel"] = new["store_id"].map(channel).to_numpy()
    new = new.merge(per_sku, on="channel", how="inner").drop(columns="channel")
    new["demand_class"], new["method"] = "fallback", "channel_average"
    return pd.concat([forecast, new], ignore_index=True)


def _locations(stores: pd.DataFrame, warehouses: pd.DataFrame) -> pd.DataFrame:
    def coords(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if "geometry" in frame.columns:
            return frame.geometry.y.to_numpy(), frame.geometry.x.to_numpy()
        if {"lat", "lng"} <= set(frame.columns):
            return frame["lat"].to_numpy(float), frame["lng"].to_numpy(float)
        raise InputError("`stores` and `warehouses` need a point geometry or `lat`/`lng` columns.")

    s_lat, s_lng = coords(stores)
    w_lat, w_lng = coords(warehouses)
    return pd.DataFrame({
        "location_id": np.concatenate([stores["store_id"].astype(str),
                                       warehouses["warehouse_id"].astype(str)]),
        "region": np.concatenate([stores["region"].astype(str),
                                  warehouses["region"].astype(str)]),
        "lat": np.concatenate([s_lat, w_lat]), "lng": np.concatenate([s_lng, w_lng]),
        "is_warehouse": np.r_[np.zeros(len(stores), bool), np.ones(len(warehouses), bool)],
        "service_radius_km": np.r_[np.zeros(len(stores)),
                                   warehouses["service_radius_km"].to_numpy(float)],
        "weekly_throughput": np.r_[np.full(len(stores), np.inf),
                                   7.0 * warehouses["daily_throughput"].to_numpy(float)]})


def _positions(stock: pd.DataFrame, forecast: pd.DataFrame, locations: pd.DataFrame,
               settings: PlanSettings) -> pd.DataFrame:
    held = pd.DataFrame({
        "location_id": stock["location_id"].astype(str), "sku": stock["sku"].astype(str),
        "stock": stock["on_hand"].to_numpy(dtype=np.int64)
        + stock.get("in_transit", pd.Series(0, index=stock.index)).fillna(0).to_numpy(np.int64)})
    demand = forecast.rename(columns={"store_id": "location_id", "mean": "demand_mean",
                                      "variance": "demand_variance"})[
        ["location_id", "sku", "demand_mean", "demand_variance"]]
    positions = held.merge(demand, on=["location_id", "sku"], how="outer")
    positions["stock"] = positions["stock"].fillna(0).astype(np.int64)
    positions[["demand_mean", "demand_variance"]] = positions[
        ["demand_mean", "demand_variance"]].fillna(0.0)
    warehouse = positions["location_id"].isin(
        locations.loc[locations["is_warehouse"], "location_id"]).to_numpy()
    days = settings.store_lead_time_days + settings.review_days
    protected_mean = positions["demand_mean"].to_numpy() * days / 7.0
    protected_var = positions["demand_variance"].to_numpy() * days / 7.0
    reserve = np.ceil(demand_quantile(settings.service_level, protected_mean,
                                      np.maximum(protected_var, 1e-9)))
    reserve = np.where(protected_mean > 0, reserve, 0)
    reserve = np.where(warehouse, np.ceil(settings.warehouse_reserve_share
                                          * positions["stock"].to_numpy()), reserve)
    positions["order_up_to"] = reserve.astype(np.int64)
    positions["reserve"] = np.minimum(reserve, positions["stock"].to_numpy()).astype(np.int64)
    return positions


def _margin_per_unit(skus: pd.DataFrame) -> np.ndarray:
    margin = skus["margin"].to_numpy(dtype=float)
    unit_cost = skus["unit_cost"].to_numpy(dtype=float)
    share = margin < 1
    return np.where(share, unit_cost * margin / np.where(share, 1 - margin, 1), margin)


def _lanes(lanes: pd.DataFrame | None, locations: pd.DataFrame, costs: LaneCosts,
           ) -> pd.DataFrame:
    if lanes is None:
        return lanes_from_locations(locations, costs=costs)
    table = pd.DataFrame({
        "from_id": lanes["origin"].astype(str), "to_id": lanes["destination"].astype(str),
        "distance_km": lanes["distance_km"].to_numpy(float),
        "unit_cost": lanes["cost_per_unit"].to_numpy(float),
        "lead_time_days": lanes["lead_time_days"].to_numpy(float)})
    for column in STRUCTURE_COLUMNS:
        if column in lanes:
            table[column] = lanes[column].to_numpy()
    from_warehouse_all = table["from_id"].map(
        locations.set_index("location_id")["is_warehouse"]).fillna(False).to_numpy(bool)
    table = price_lanes(table, from_warehouse_all, costs)
    radius = locations.set_index("location_id")["service_radius_km"]
    is_warehouse = locations.set_index("location_id")["is_warehouse"]
    origin_radius = table["from_id"].map(radius).to_numpy(float)
    from_warehouse = table["from_id"].map(is_warehouse).fillna(False).to_numpy(bool)
    within = np.where(from_warehouse, table["distance_km"].to_numpy() <= origin_radius,
                      table["distance_km"].to_numpy() <= costs.max_transfer_km)
    keep = within & (table["lead_time_days"].to_numpy() <= costs.max_lead_time_days)
    return table.loc[keep].reset_index(drop=True)


STRUCTURE_COLUMNS = ("mode", "delivery_weekdays", "visit_cap_litres", "parcel_cost",
                     "parcel_litres", "cost_per_litre")
"""Optional cost-structure columns of a lanes file (:func:`optimizer.allocation.lanes.price_lanes`)."""


def _plan_lines(problem: AllocationProblem, result: AllocationResult, ship_day: pd.Timestamp,
                stores: pd.DataFrame) -> pd.DataFrame:
    p = problem
    s = result.shipments
    lane = s["lane"].to_numpy(dtype=np.int64)
    sku = pd.Index(p.sku_ids).get_indexer(s["sku"])
    litres = s["quantity"].to_numpy(float) * p.sku_volume[sku]
    lane_litres = np.bincount(lane, weights=litres, minlength=len(p.lane_from))
    trucks = np.ceil(lane_litres / p.lane_litres_per_load - 1e-9)
    share = litres / np.maximum(lane_litres[lane], 1e-9)
    cost = (s["quantity"].to_numpy(float) * s["unit_cost"].to_numpy(float)
            + share * trucks[lane] * p.lane_shipment_cost[lane])
    from_warehouse = p.is_warehouse[p.lane_from[lane]]
    arrival = ship_day + pd.to_timedelta(np.ceil(p.lane_lead_time_days[lane]), unit="D")
    channel = stores.assign(store_id=stores["store_id"].astype(str)).set_index("store_id")[
        "channel"]
    return pd.DataFrame({
        "from": s["from_id"], "to": s["to_id"], "sku": s["sku"],
        "quantity": s["quantity"], "cases": s["cases"], "loose_units": s["loose_units"],
        "cost": np.round(cost, 2), "ship_day": ship_day.date(), "arrival_day": arrival.date,
        "to_channel": s["to_id"].map(channel).to_numpy(),
        "mode": p.lane_modes[lane],
        "reason": np.where(from_warehouse, "replenishment from warehouse",
                           np.where(p.lane_is_cross_region[lane],
                                    "transfer of surplus above reserve (cross-region)",
                                    "transfer of surplus above reserve"))})
