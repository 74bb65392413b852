"""The planners' cards of a plan: one row per warehouse, per store, and per store and SKU.

The warehouse card carries every figure of the chain's seed card: turnover days, average
delivery time per channel, cross-region rates, daily throughput against the limit, service
radius, safety stock, expected stockout and next week's replenishment. The store card gives
turnover days, safety stock, reorder point, order-up-to level, expected stockout before and
after the plan, and the units in and out.

Definitions (all per plan, demand from the plan's forecast):

* a store's **home warehouse** is the warehouse whose lane into it has the lowest cost per
  unit (ties: shorter lead time); a warehouse's figures over stores cover its home stores;
* **order-up-to level**: the demand quantile at the service level over lead time plus review
  period (the plan's reserve before it is capped at the stock), **safety stock** that level
  minus the mean demand over the same days, **reorder point** the quantile over the lead time
  alone; the distribution is the plan's (normal, Poisson or negative binomial per position);
* **turnover days**: stock over the mean daily demand (``inf`` where nothing sells);
* **delivery days** per channel: units-weighted arrival day minus ship day of the warehouse's
  plan lines to stores of that channel; where none ship this week, the mean lead time (whole
  days, rounded up) of its lanes to such stores;
* **cross-region transfer rate**: units moved store to store across regions into the home
  stores, over all units they receive; **cross-region service rate**: the warehouse's units to
  stores of another region over its units out;
* **daily throughput**: units shipped per ship day of the plan lines (give the lines of
  :func:`optimizer.allocation.ship_days.schedule_ship_days` to see them spread over the week).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .model import AllocationProblem
from .plan import PlanSettings, WeeklyPlan
from .safety_stock import demand_quantile, expected_shortage

CHANNELS = ("small_store", "own_store", "key_account")
"""The channels of the seed card, in its order."""


def home_warehouses(problem: AllocationProblem) -> np.ndarray:
    """Return the home warehouse (location index) of every location.

    ``-1`` for stores without a warehouse lane.

    Warehouses are their own home.

    Examples
    --------
    >>> from optimizer.allocation.model import problem_from_frames
    >>> problem = problem_from_frames(
    ...     pd.DataFrame({"location_id": ["S1"], "sku": "A", "stock": [1], "reserve": [0],
    ...                   "demand_mean": [1.0], "demand_variance": [1.0]}),
    ...     pd.DataFrame({"location_id": ["S1", "S2", "W1", "W2"], "region": "r",
    ...                   "is_warehouse": [False, False, True, True],
    ...                   "weekly_throughput": [np.inf, np.inf, 100, 100]}),
    ...     pd.DataFrame({"sku": ["A"], "margin": [1.0], "volume": [1.0], "case_size": [1]}),
    ...     pd.DataFrame({"from_id": ["W1", "W2"], "to_id": ["S1", "S1"], "unit_cost": [3.0, 2.0],
    ...                   "shipment_cost": [0.0, 0.0], "lead_time_days": [1.0, 1.0]}),
    ...     truck_capacity=10.0)
    >>> home_warehouses(problem).tolist()
    [3, -1, 2, 3]
    """
    p = problem
    home = np.full(len(p.location_ids), -1, dtype=np.int64)
    warehouse_lane = np.flatnonzero(p.is_warehouse[p.lane_from])
    if warehouse_lane.size:
        order = np.lexsort((p.lane_lead_time_days[warehouse_lane],
                            p.lane_unit_cost[warehouse_lane], p.lane_to[warehouse_lane]))
        lanes = warehouse_lane[order]
        first = np.r_[True, p.lane_to[lanes][1:] != p.lane_to[lanes][:-1]]
        home[p.lane_to[lanes[first]]] = p.lane_from[lanes[first]]
    home[p.is_warehouse] = np.flatnonzero(p.is_warehouse)
    return home


def store_sku_card(plan: WeeklyPlan) -> pd.DataFrame:
    """Return one row per store and SKU: stock, demand, safety stock, reorder point and more.

    The columns: order-up-to level, expected stockout before and after, units in and out,
    turnover days.

    Returns
    -------
    pandas.DataFrame
        ``store_id``, ``sku``, ``stock_before`` (at the ship day), ``stock_after``,
        ``demand_week`` (mean per 7 days), ``demand_horizon`` (over the plan's horizon),
        ``safety_stock``, ``reorder_point``, ``order_up_to``, ``expected_stockout_before``,
        ``expected_stockout_after``, ``units_in``, ``units_out``, ``turnover_days_before``,
        ``turnover_days_after``.
    """
    p = plan.problem
    settings = _settings(plan)
    store = ~p.is_warehouse[p.position_location]
    rows = np.flatnonzero(store)
    week_mean = p.demand_mean[rows] * 7.0 / plan.horizon_days
    week_var = p.demand_variance[rows] * 7.0 / plan.horizon_days
    lead = settings.store_lead_time_days
    protected = lead + plan.review_days
    level = settings.service_level
    sells = week_mean > 0
    order_up_to = np.where(sells, np.ceil(demand_quantile(
        level, week_mean * protected / 7.0, np.maximum(week_var * protected / 7.0, 1e-9),
        distribution=p.distribution)), 0.0)
    reorder = np.where(sells, np.ceil(demand_quantile(
        level, week_mean * lead / 7.0, np.maximum(week_var * lead / 7.0, 1e-9),
        distribution=p.distribution)), 0.0)
    safety = np.maximum(order_up_to - week_mean * protected / 7.0, 0.0)
    before, after = _expected_shortages(plan)
    units_in, units_out = _position_moves(plan)
    daily = week_mean / 7.0
    stock_before = p.stock[rows].astype(float)
    stock_after = plan.result.stock_after[rows].astype(float)
    return pd.DataFrame({
        "store_id": p.location_ids[p.position_location[rows]],
        "sku": p.sku_ids[p.position_sku[rows]],
        "stock_before": stock_before, "stock_after": stock_after,
        "demand_week": week_mean, "demand_horizon": p.demand_mean[rows],
        "safety_stock": safety, "reorder_point": reorder, "order_up_to": order_up_to,
        "expected_stockout_before": before[rows], "expected_stockout_after": after[rows],
        "units_in": units_in[rows], "units_out": units_out[rows],
        "turnover_days_before": _days(stock_before, daily),
        "turnover_days_after": _days(stock_after, daily)})


def store_card(plan: WeeklyPlan, stores: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return one row per store: the store-SKU card summed, turnover days, home warehouse.

    Parameters
    ----------
    plan
        The plan.
    stores
        Optional store table; its ``name``, ``region`` and ``channel`` columns are added.

    Returns
    -------
    pandas.DataFrame
        ``store_id``, the sums of :func:`store_sku_card`'s unit columns, ``skus_short_before``
        and ``skus_short_after`` (SKUs expected at least half a unit short),
        ``stockout_share_after`` (expected units short over the horizon's demand),
        ``turnover_days_before`` and ``_after``, ``home_warehouse``.
    """
    p = plan.problem
    card = store_sku_card(plan)
    summed = ["stock_before", "stock_after", "demand_week", "demand_horizon", "safety_stock",
              "reorder_point", "order_up_to", "expected_stockout_before",
              "expected_stockout_after", "units_in", "units_out"]
    table = card.groupby("store_id", sort=True)[summed].sum()
    short = card.assign(before=card["expected_stockout_before"] >= 0.5,
                        after=card["expected_stockout_after"] >= 0.5).groupby("store_id")
    table["skus_short_before"] = short["before"].sum()
    table["skus_short_after"] = short["after"].sum()
    table["stockout_share_after"] = np.where(
        table["demand_horizon"] > 0,
        table["expected_stockout_after"] / np.maximum(table["demand_horizon"], 1e-12), 0.0)
    daily = table["demand_week"].to_numpy() / 7.0
    table["turnover_days_before"] = _days(table["stock_before"].to_numpy(), daily)
    table["turnover_days_after"] = _days(table["stock_after"].to_numpy(), daily)
    home = home_warehouses(p)
    home_id = pd.Series(np.where(home >= 0, p.location_ids[np.maximum(home, 0)], None),
                        index=p.location_ids)
    table = table.reset_index()
    table["home_warehouse"] = table["store_id"].map(home_id).to_numpy()
    if stores is not None:
        extra = [c for c in ("name", "region", "channel") if c in stores.columns]
        info = pd.DataFrame(stores[["store_id", *extra]]).assign(
            store_id=stores["store_id"].astype(str))
        table = info.merge(table, on="store_id", how="right")
    return table


def warehouse_card(plan: WeeklyPlan, *, stores: pd.DataFrame, warehouses: pd.DataFrame,
                   lines: pd.DataFrame | None = None,
                   supplier_orders: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return one row per warehouse with every figure of the seed card (module docstring).

    Parameters
    ----------
    plan
        The plan.
    stores
        ``store_id``, ``channel`` (and ``region``).
    warehouses
        ``warehouse_id``, ``daily_throughput``, ``service_radius_km`` (and ``name``,
        ``region``).
    lines
        Plan lines with ``ship_day`` and ``arrival_day``; default ``plan.lines`` (every line on
        the first ship day).
    supplier_orders
        Optional output of :func:`optimizer.allocation.supplier_orders.supplier_orders`; adds
        ``warehouse_safety_stock`` and ``supplier_order_units``.

    Returns
    -------
    pandas.DataFrame
        ``warehouse_id``, ``name``, ``region``, ``stock_before``, ``stock_after``,
        ``home_stores``, ``served_demand_week``, ``turnover_days``, ``delivery_days_<channel>``
        for each of :data:`CHANNELS`, ``cross_region_transfer_rate``,
        ``cross_region_service_rate``, ``daily_throughput``, ``ship_days_used``,
        ``mean_units_per_ship_day``, ``peak_day``, ``peak_day_units``, ``peak_day_load``
        (peak over the limit), ``service_radius_km``, ``stores_in_reach`` (stores with a lane
        from it), ``safety_stock_units`` and ``safety_stock_days`` (over its home stores),
        ``expected_stockout_before``, ``expected_stockout_after``, ``replenishment_units``.
    """
    p = plan.problem
    lines = plan.lines if lines is None else lines
    location = pd.Index(p.location_ids)
    home = home_warehouses(p)
    store_rows = store_sku_card(plan)
    store_home = home[location.get_indexer(store_rows["store_id"])]
    warehouse_index = np.flatnonzero(p.is_warehouse)
    ids = p.location_ids[warehouse_index]
    n = len(p.location_ids)

    def per_home(values: np.ndarray) -> np.ndarray:
        ok = store_home >= 0
        return np.bincount(store_home[ok], weights=values[ok], minlength=n)[warehouse_index]

    stock_position = np.bincount(p.position_location, weights=p.stock.astype(float), minlength=n)
    stock_after = np.bincount(p.position_location, weights=plan.result.stock_after.astype(float),
                              minlength=n)
    served = per_home(store_rows["demand_week"].to_numpy())
    card = pd.DataFrame({
        "warehouse_id": ids,
        "stock_before": stock_position[warehouse_index],
        "stock_after": stock_after[warehouse_index],
        "home_stores": np.bincount(home[~p.is_warehouse & (home >= 0)], minlength=n)[
            warehouse_index],
        "served_demand_week": served})
    card["turnover_days"] = _days(card["stock_after"].to_numpy(), served / 7.0)

    channel = stores.assign(store_id=stores["store_id"].astype(str)).set_index("store_id")[
        "channel"].astype(str)
    ship = pd.to_datetime(lines["ship_day"])
    travel = (pd.to_datetime(lines["arrival_day"]) - ship).dt.days.to_numpy(dtype=float)
    quantity = lines["quantity"].to_numpy(dtype=float)
    origin = lines["from"].astype(str).to_numpy()
    receiver = lines["to"].astype(str).to_numpy()
    lane_to_channel = channel.reindex(p.location_ids[p.lane_to]).to_numpy()
    for name in CHANNELS:
        to_channel = channel.reindex(receiver).to_numpy() == name
        days = []
        for w in warehouse_index:
            mine = (origin == p.location_ids[w]) & to_channel
            if quantity[mine].sum() > 0:
                days.append(float(np.average(travel[mine], weights=quantity[mine])))
                continue
            lanes = (p.lane_from == w) & (lane_to_channel == name)
            days.append(float(np.ceil(p.lane_lead_time_days[lanes]).mean()) if lanes.any()
                        else np.nan)
        card[f"delivery_days_{name}"] = days

    region = pd.Series(p.location_region, index=p.location_ids)
    from_warehouse = pd.Series(p.is_warehouse, index=p.location_ids).reindex(origin).to_numpy(
        dtype=bool)
    crosses = region.reindex(origin).to_numpy() != region.reindex(receiver).to_numpy()
    receiver_home = home[location.get_indexer(receiver)]
    received = np.bincount(np.maximum(receiver_home, 0), weights=quantity * (receiver_home >= 0),
                           minlength=n)[warehouse_index]
    transfers_in = np.bincount(np.maximum(receiver_home, 0),
                               weights=quantity * ((receiver_home >= 0) & crosses
                                                   & ~from_warehouse), minlength=n)[
        warehouse_index]
    card["cross_region_transfer_rate"] = np.where(received > 0, transfers_in
                                                  / np.maximum(received, 1e-12), 0.0)
    sender = location.get_indexer(origin)
    out = np.bincount(sender, weights=quantity, minlength=n)[warehouse_index]
    out_cross = np.bincount(sender, weights=quantity * crosses, minlength=n)[warehouse_index]
    card["cross_region_service_rate"] = np.where(out > 0, out_cross / np.maximum(out, 1e-12), 0.0)

    limits = warehouses.assign(warehouse_id=warehouses["warehouse_id"].astype(str)).set_index(
        "warehouse_id")
    card["daily_throughput"] = limits["daily_throughput"].reindex(ids).to_numpy(dtype=float)
    per_day = pd.DataFrame({"warehouse_id": origin, "day": ship.dt.date.to_numpy(),
                            "units": quantity}).groupby(["warehouse_id", "day"])["units"].sum()
    used, mean_day, peak_day, peak_units = [], [], [], []
    for w in ids:
        days = per_day.loc[w] if w in per_day.index.get_level_values(0) else pd.Series(dtype=float)
        used.append(len(days))
        mean_day.append(float(days.mean()) if len(days) else 0.0)
        peak_day.append(days.idxmax() if len(days) else None)
        peak_units.append(float(days.max()) if len(days) else 0.0)
    card["ship_days_used"] = used
    card["mean_units_per_ship_day"] = mean_day
    card["peak_day"] = peak_day
    card["peak_day_units"] = peak_units
    card["peak_day_load"] = card["peak_day_units"] / card["daily_throughput"].where(
        card["daily_throughput"] > 0)
    card["service_radius_km"] = limits["service_radius_km"].reindex(ids).to_numpy(dtype=float)
    card["stores_in_reach"] = [int(np.unique(p.lane_to[p.lane_from == w]).size)
                               for w in warehouse_index]
    safety = per_home(store_rows["safety_stock"].to_numpy())
    card["safety_stock_units"] = safety
    card["safety_stock_days"] = _days(safety, served / 7.0)
    card["expected_stockout_before"] = per_home(store_rows["expected_stockout_before"].to_numpy())
    card["expected_stockout_after"] = per_home(store_rows["expected_stockout_after"].to_numpy())
    card["replenishment_units"] = out
    if supplier_orders is not None:
        totals = supplier_orders.groupby("warehouse_id")[["safety_stock", "order_units"]].sum()
        card["warehouse_safety_stock"] = totals["safety_stock"].reindex(ids).fillna(0).to_numpy()
        card["supplier_order_units"] = totals["order_units"].reindex(ids).fillna(0).to_numpy()
    info = [c for c in ("name", "region") if c in warehouses.columns]
    if info:
        names = limits[info].reindex(ids).reset_index(drop=True)
        card = pd.concat([card[["warehouse_id"]], names, card.drop(columns="warehouse_id")],
                         axis=1)
    return card


def _settings(plan: WeeklyPlan) -> PlanSettings:
    return plan.settings if plan.settings is not None else PlanSettings()


def _expected_shortages(plan: WeeklyPlan) -> tuple[np.ndarray, np.ndarray]:
    """Return the expected units short over the horizon per position, before and after."""
    p = plan.problem
    demand = ~p.is_warehouse[p.position_location] & (p.demand_mean > 0)
    variance = np.maximum(p.demand_variance[demand], 1e-9)
    before = np.zeros(len(p.stock))
    after = np.zeros(len(p.stock))
    before[demand] = expected_shortage(p.stock[demand], p.demand_mean[demand], variance,
                                       distribution=p.distribution)
    after[demand] = expected_shortage(plan.result.stock_after[demand], p.demand_mean[demand],
                                      variance, distribution=p.distribution)
    return before, after


def _position_moves(plan: WeeklyPlan) -> tuple[np.ndarray, np.ndarray]:
    """Units received and sent per position by the plan's shipments."""
    p = plan.problem
    s = plan.result.shipments
    keys = pd.MultiIndex.from_arrays([p.position_location, p.position_sku])
    sku = pd.Index(p.sku_ids).get_indexer(s["sku"].astype(str))
    location = pd.Index(p.location_ids)
    quantity = s["quantity"].to_numpy(dtype=float)
    to = keys.get_indexer(pd.MultiIndex.from_arrays(
        [location.get_indexer(s["to_id"].astype(str)), sku]))
    origin = keys.get_indexer(pd.MultiIndex.from_arrays(
        [location.get_indexer(s["from_id"].astype(str)), sku]))
    units_in = np.bincount(to[to >= 0], weights=quantity[to >= 0], minlength=len(p.stock))
    units_out = np.bincount(origin[origin >= 0], weights=quantity[origin >= 0],
                            minlength=len(p.stock))
    return units_in, units_out


def _days(stock: np.ndarray, daily: np.ndarray) -> np.ndarray:
    stock, daily = np.asarray(stock, float), np.asarray(daily, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(daily > 0, stock / np.where(daily > 0, daily, 1.0), np.inf)
