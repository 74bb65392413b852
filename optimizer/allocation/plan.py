"""The weekly plan: from stores, warehouses, SKUs, sales and stock to plan lines and KPIs.

Steps: cross-table checks, weekly sales history, forecast per store-SKU (mean, variance),
reserve per store-SKU (the demand quantile at the service level over lead time plus review
period: safety stock plus expected demand), lanes, the transfer MIP (decomposition), KPIs.

Documented fallbacks:

* a store without any sales history gets, per SKU, the average forecast of the stores of its
  channel that have history (listed in ``kpis["stores_without_history"]``);
* in-transit stock is assumed to arrive before the planned week and counts as stock;
* the stock table is the closing stock of the last sales day (``PlanSettings.stock_date``
  overrides it); store stock is projected to the first ship day with the forecast sales of the
  days in between (:func:`optimizer.allocation.safety_stock.project_stock`); when that is more
  than ``max_projection_days`` (7) days, the stock is taken as the ship day's, unprojected
  (``kpis["stock_projected_days"]`` is then 0);
* the forecast uses 7-day periods ending on the last sales day
  (:func:`optimizer.allocation.forecast.demand_history`), so a history that stops mid-week has
  no short last week;
* warehouses keep ``warehouse_reserve_share`` of their stock (default 0);
* optional columns missing from the tables take the defaults of
  :data:`optimizer.allocation.inputs.OPTIONAL_DEFAULTS`, and a sales row far above its store's
  usual is capped (:func:`optimizer.allocation.inputs.prepare_inventory_tables`), each with an
  :class:`~optimizer.errors.InputWarning`; a model too large for the machine is refused before
  it is built (:func:`optimizer.allocation.sizing.check_model_size`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from ..results import SolveReport
from .edits import (
    FreePlan,
    PlanEdits,
    edit_outcomes,
    edited_problem,
    resolve_edits,
    with_locked_lines,
    with_locked_transport,
)
from .forecast import demand_history, forecast_demand, week_start
from .inputs import prepare_inventory_tables
from .kpis import allocation_kpis
from .lanes import BULKY_LITRES as BULKY_LITRES  # re-exported: it lived here before
from .lanes import LaneCosts, lanes_from_locations, price_lanes
from .lanes import pick_units as pick_units  # re-exported: it lived here before
from .model import AllocationProblem, CrossRegionLanes, build_network, problem_from_frames
from .safety_stock import demand_quantile, project_stock
from .sizing import check_model_size
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
    stock_date: str | None = None
    max_projection_days: int = 7
    cross_region_counts: CrossRegionLanes = "transfers"
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
    forecast: pd.DataFrame | None = None
    settings: PlanSettings | None = None
    ship_day: pd.Timestamp | None = None
    horizon_days: float = 7.0
    review_days: float = 7.0
    edits: pd.DataFrame | None = None
    """With a planner's edits: each edit and what the plan did with it
    (:func:`optimizer.allocation.edits.edit_outcomes`)."""

    def kpi_table(self) -> pd.DataFrame:
        """KPIs as a two-column table (``kpi``, ``value``) for a sheet."""
        return pd.DataFrame({"kpi": list(self.kpis), "value": [str(v) if isinstance(v, list)
                                                                else v for v in self.kpis.values()]})


def plan_week(*, stores: pd.DataFrame, warehouses: pd.DataFrame, skus: pd.DataFrame,
              sales: pd.DataFrame, stock: pd.DataFrame, week: str,
              lanes: pd.DataFrame | None = None, settings: PlanSettings | None = None,
              sources: dict[str, str] | None = None, workers: int = 1,
              edits: PlanEdits | None = None, free_plan: FreePlan | None = None
              ) -> WeeklyPlan:
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
        ``case`` for bulky SKUs of at least :data:`~optimizer.allocation.lanes.BULKY_LITRES` litres, ``unit`` otherwise).
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
    edits
        A planner's locked and dropped lines (:mod:`optimizer.allocation.edits`): locked lines
        ship exactly their quantity, dropped lines nothing, the rest is re-optimised.
    free_plan
        With ``edits``: the plan of the same week without edits
        (:class:`~optimizer.allocation.edits.FreePlan`), to price the edits against (KPIs
        ``free_plan_cost`` and ``edits_cost``, the edited plan's cost minus the free plan's);
        solved here first when not given.

    Returns
    -------
    WeeklyPlan
    """
    settings = settings or PlanSettings()
    built = horizon_problem(stores=stores, warehouses=warehouses, skus=skus, sales=sales,
                            stock=stock, start=week_start(week), horizon_days=7.0,
                            review_days=settings.review_days, lanes=lanes, settings=settings,
                            sources=sources, week=week)
    if edits is not None and free_plan is None:
        free = solve_built(built, label=week, settings=settings, workers=workers)
        free_plan = FreePlan(objective=free.report.objective, lines=free.lines)
    return solve_built(built, label=week, settings=settings, workers=workers, edits=edits,
                       free_plan=free_plan)


@dataclass(frozen=True)
class BuiltProblem:
    """A plan's problem before the solve, with what went into it."""

    problem: AllocationProblem
    without_history: list[str]
    stores: pd.DataFrame
    forecast: pd.DataFrame
    start: pd.Timestamp
    horizon_days: float
    review_days: float
    history_end: pd.Timestamp
    projected_days: int


def solve_built(built: BuiltProblem, *, label: str, settings: PlanSettings,
                workers: int = 1, edits: PlanEdits | None = None,
                free_plan: FreePlan | None = None) -> WeeklyPlan:
    """Solve a :class:`BuiltProblem` and collect its lines and KPIs into a :class:`WeeklyPlan`.

    With ``edits``, the free part of the plan is solved on the edited week
    (:func:`optimizer.allocation.edits.edited_problem`) and the locked lines are added back;
    ``free_plan`` (the same week without edits), when given, prices the edits.
    """
    problem = built.problem
    resolved = resolve_edits(problem, edits) if edits is not None else None
    solved = edited_problem(problem, resolved) if resolved is not None else problem
    network = build_network(solved)
    result = solve_allocation(solved, mip_gap=settings.mip_gap, time_limit=settings.time_limit,
                              workers=workers, network=network)
    assert result.quantity is not None  # solve_allocation always returns its plan
    transport = transport_kpis(solved, network, result.quantity)
    if resolved is not None:
        result = with_locked_lines(problem, resolved, result)
        transport = with_locked_transport(transport, problem, resolved)
    kpis, warehouse_table = allocation_kpis(problem, result, horizon_days=built.horizon_days)
    kpis.update(transport)
    kpis["stores_without_history"] = built.without_history
    kpis["service_level"] = settings.service_level
    kpis["sales_history_end"] = str(built.history_end.date())
    kpis["stock_projected_days"] = built.projected_days
    kpis.update({f"solve_{k}": v for k, v in asdict(result.report).items()})
    lines = _plan_lines(problem, result, built.start, built.stores)
    outcomes = None
    if edits is not None:
        outcomes = edit_outcomes(edits, lines, None if free_plan is None else free_plan.lines)
        kpis["locked_lines"] = len(edits.locked)
        kpis["dropped_lines"] = len(edits.dropped)
        free_cost = None if free_plan is None else free_plan.objective
        if free_cost is not None and result.report.objective is not None:
            kpis["free_plan_cost"] = free_cost
            kpis["edits_cost"] = result.report.objective - free_cost
    return WeeklyPlan(week=label, lines=lines, kpis=kpis, warehouses=warehouse_table,
                      report=result.report, problem=problem, result=result,
                      forecast=built.forecast, settings=settings, ship_day=built.start,
                      horizon_days=built.horizon_days, review_days=built.review_days,
                      edits=outcomes)


def week_problem(*, stores: pd.DataFrame, warehouses: pd.DataFrame, skus: pd.DataFrame,
                 sales: pd.DataFrame, stock: pd.DataFrame, week: str,
                 lanes: pd.DataFrame | None = None, settings: PlanSettings | None = None,
                 sources: dict[str, str] | None = None) -> tuple[AllocationProblem, list[str]]:
    """Return the week's :class:`AllocationProblem` (checks, forecast, reserves, lanes), unsolved.

    Parameters are those of :func:`plan_week`. Returns the problem and the stores without any
    sales history (they got the channel-average fallback).
    """
    settings = settings or PlanSettings()
    built = horizon_problem(stores=stores, warehouses=warehouses, skus=skus, sales=sales,
                            stock=stock, start=week_start(week), horizon_days=7.0,
                            review_days=settings.review_days, lanes=lanes, settings=settings,
                            sources=sources, week=week)
    return built.problem, built.without_history


def horizon_problem(*, stores: pd.DataFrame, warehouses: pd.DataFrame, skus: pd.DataFrame,
                    sales: pd.DataFrame, stock: pd.DataFrame, start: pd.Timestamp,
                    horizon_days: float, review_days: float, lanes: pd.DataFrame | None,
                    settings: PlanSettings, sources: dict[str, str] | None = None,
                    arrivals: pd.DataFrame | None = None, week: str | None = None
                    ) -> BuiltProblem:
    """Build the problem of a plan that ships on ``start`` and covers ``horizon_days``.

    The forecast is made on 7-day periods ending on the last sales day before ``start`` and
    scaled to the horizon; store stock is projected from the stock date to ``start``;
    warehouses may ship ``horizon_days`` times their daily throughput. ``arrivals`` (``to``,
    ``sku``, ``quantity``, ``arrival_day``: moves of earlier plans still on the way) add to the
    receiver's stock; those arriving after ``start`` also add to its reserve, so they are
    never sent on.
    """
    inputs = prepare_inventory_tables(stores=stores, warehouses=warehouses, skus=skus,
                                      stock=stock, sales=sales, lanes=lanes, week=week,
                                      sources=sources)
    stores, warehouses, skus = inputs.stores, inputs.warehouses, inputs.skus
    stock, sales, lanes = inputs.stock, inputs.sales, inputs.lanes
    without_history = inputs.without_history
    history = demand_history(sales, before=start, periods=settings.history_weeks)
    forecast = pd.concat([history.keys, forecast_demand(history.history,
                                                        quantile=settings.service_level)],
                         axis=1)
    forecast["store_id"] = forecast["store_id"].astype(str)
    forecast["sku"] = forecast["sku"].astype(str)
    forecast = _fallback_forecast(forecast, stores, without_history)
    stock_day = (pd.Timestamp(settings.stock_date) if settings.stock_date is not None
                 else history.last_day)
    projected_days = max(int((start - stock_day).days) - 1, 0)
    if projected_days > settings.max_projection_days:
        projected_days = 0  # stock older than that is taken as the ship day's (documented)
    locations = _locations(stores, warehouses, throughput_days=horizon_days)
    positions = _positions(stock, forecast, locations, settings, horizon_days=horizon_days,
                           review_days=review_days, projected_days=projected_days,
                           arrivals=arrivals, start=start)
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
                                  max_cross_region_share=settings.max_cross_region_share,
                                  cross_region_counts=settings.cross_region_counts)
    check_model_size(problem)
    return BuiltProblem(problem=problem, without_history=without_history, forecast=forecast,
                        stores=stores,
                        start=start, horizon_days=horizon_days, review_days=review_days,
                        history_end=history.last_day,
                        projected_days=projected_days)


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


def _locations(stores: pd.DataFrame, warehouses: pd.DataFrame, *,
               throughput_days: float = 7.0) -> pd.DataFrame:
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
                                   throughput_days
                                   * warehouses["daily_throughput"].to_numpy(float)]})


def _positions(stock: pd.DataFrame, forecast: pd.DataFrame, locations: pd.DataFrame,
               settings: PlanSettings, *, horizon_days: float = 7.0, review_days: float = 7.0,
               projected_days: int = 0, arrivals: pd.DataFrame | None = None,
               start: pd.Timestamp | None = None) -> pd.DataFrame:
    held = pd.DataFrame({
        "location_id": stock["location_id"].astype(str), "sku": stock["sku"].astype(str),
        "stock": stock["on_hand"].to_numpy(dtype=np.int64)
        + stock.get("in_transit", pd.Series(0, index=stock.index)).fillna(0).to_numpy(np.int64)})
    pipeline = _arrivals(arrivals, start)
    held = pd.concat([held, pipeline.drop(columns="later")], ignore_index=True).groupby(
        ["location_id", "sku"], as_index=False, sort=False)["stock"].sum()
    weekly = forecast.rename(columns={"store_id": "location_id"})[
        ["location_id", "sku", "mean", "variance"]]
    positions = held.merge(weekly, on=["location_id", "sku"], how="outer")
    positions["stock"] = positions["stock"].fillna(0).astype(np.int64)
    positions[["mean", "variance"]] = positions[["mean", "variance"]].fillna(0.0)
    warehouse = positions["location_id"].isin(
        locations.loc[locations["is_warehouse"], "location_id"]).to_numpy()
    week_mean = positions["mean"].to_numpy()
    week_var = positions["variance"].to_numpy()
    stock_now = positions["stock"].to_numpy()
    if projected_days > 0:
        projected = project_stock(stock_now, week_mean, week_var, days=projected_days)
        stock_now = np.where(warehouse, stock_now, projected)
    positions["stock"] = stock_now.astype(np.int64)
    positions["demand_mean"] = week_mean * horizon_days / 7.0
    positions["demand_variance"] = week_var * horizon_days / 7.0
    days = settings.store_lead_time_days + review_days
    protected_mean = week_mean * days / 7.0
    protected_var = week_var * days / 7.0
    reserve = np.ceil(demand_quantile(settings.service_level, protected_mean,
                                      np.maximum(protected_var, 1e-9)))
    reserve = np.where(protected_mean > 0, reserve, 0)
    reserve = np.where(warehouse, np.ceil(settings.warehouse_reserve_share
                                          * positions["stock"].to_numpy()), reserve)
    positions["order_up_to"] = reserve.astype(np.int64)
    later = positions[["location_id", "sku"]].merge(
        pipeline.loc[pipeline["later"] > 0, ["location_id", "sku", "later"]],
        on=["location_id", "sku"], how="left")["later"].fillna(0).to_numpy()
    reserve = np.maximum(reserve, later)
    positions["reserve"] = np.minimum(reserve, positions["stock"].to_numpy()).astype(np.int64)
    return positions.drop(columns=["mean", "variance"])


def _arrivals(arrivals: pd.DataFrame | None, start: pd.Timestamp | None) -> pd.DataFrame:
    """Sum earlier plans' moves on the way per receiving position.

    ``stock``: all their units; ``later``: the part arriving after ``start``.
    """
    if arrivals is None or len(arrivals) == 0:
        return pd.DataFrame({"location_id": pd.Series(dtype=str), "sku": pd.Series(dtype=str),
                             "stock": pd.Series(dtype=np.int64),
                             "later": pd.Series(dtype=np.int64)})
    missing = {"to", "sku", "quantity", "arrival_day"} - set(arrivals.columns)
    if missing:
        raise InputError(f"`arrivals` lacks column(s) {sorted(missing)}; it needs to, sku, "
                         "quantity and arrival_day (the lines of earlier plans still on the way).")
    quantity = arrivals["quantity"].to_numpy(dtype=np.int64)
    after = pd.to_datetime(arrivals["arrival_day"]).to_numpy() > np.datetime64(start)
    table = pd.DataFrame({"location_id": arrivals["to"].astype(str).to_numpy(),
                          "sku": arrivals["sku"].astype(str).to_numpy(), "stock": quantity,
                          "later": np.where(after, quantity, 0)})
    return table.groupby(["location_id", "sku"], as_index=False, sort=False)[
        ["stock", "later"]].sum()


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
