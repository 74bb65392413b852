"""Key figures of a weekly allocation: stockouts before and after, turnover, transfers, warehouses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .model import AllocationProblem
from .safety_stock import expected_shortage
from .solve import AllocationResult


def allocation_kpis(problem: AllocationProblem, result: AllocationResult, *,
                    horizon_days: float = 7.0) -> tuple[dict, pd.DataFrame]:
    """KPIs of a solved allocation, and one row per warehouse.

    Expected stockouts use the exact expected shortage of the horizon's demand (no tail cut);
    ``horizon_days`` is the number of days the problem's demand covers (7 for a week, 1 for a
    day), for turnover days.
    The cross-region transfer rate is what planners mean by it: units moved store to store
    across regions, as a share of all units shipped; warehouse service to stores of another
    region is reported apart (``cross_region_service_rate``), and ``cross_region_capped_share``
    is the share the optional cap (7) counts (see
    :attr:`optimizer.allocation.model.AllocationProblem.cross_region_counts`).

    Returns
    -------
    (kpis, warehouses)
        ``kpis``: plain numbers (JSON-ready). ``warehouses``: ``warehouse_id``,
        ``weekly_throughput``, ``units_out``, ``throughput_used``, ``replenishment_units``,
        ``stock_after``.

    Examples
    --------
    >>> from optimizer.allocation.solve import solve_allocation
    >>> from optimizer.allocation.model import example_problem
    >>> problem = example_problem()  # two stores, one SKU, one lane
    >>> kpis, _ = allocation_kpis(problem, solve_allocation(problem))
    >>> kpis["expected_stockout_units_after"] < kpis["expected_stockout_units_before"]
    True
    """
    p = problem
    store = ~p.is_warehouse[p.position_location]
    demand = store & (p.demand_mean > 0)
    variance = np.maximum(p.demand_variance, 1e-9)
    before = np.zeros(len(p.stock))
    after = np.zeros(len(p.stock))
    before[demand] = expected_shortage(p.stock[demand], p.demand_mean[demand], variance[demand],
                                       distribution=p.distribution)
    after[demand] = expected_shortage(result.stock_after[demand], p.demand_mean[demand],
                                      variance[demand], distribution=p.distribution)
    margin = p.sku_margin[p.position_sku]
    shipments = result.shipments
    lane = shipments["lane"].to_numpy(dtype=np.int64)
    units = shipments["quantity"].to_numpy(dtype=float)
    from_warehouse = p.is_warehouse[p.lane_from[lane]]
    crosses = p.lane_crosses_regions[lane]
    capped = p.lane_is_cross_region[lane]
    daily_demand = p.demand_mean[store].sum() / horizon_days
    shipped = float(units.sum())
    kpis = {
        "expected_stockout_units_before": float(before.sum()),
        "expected_stockout_units_after": float(after.sum()),
        "expected_stockout_reduction": float(1 - after.sum() / before.sum())
        if before.sum() > 0 else 0.0,
        "lost_margin_before": float((margin * before).sum()),
        "lost_margin_after": float((margin * after).sum()),
        "store_skus_expected_short_before": int((before >= 0.5).sum()),
        "store_skus_expected_short_after": int((after >= 0.5).sum()),
        "store_turnover_days_before": float(p.stock[store].sum() / daily_demand)
        if daily_demand > 0 else float("inf"),
        "store_turnover_days_after": float(result.stock_after[store].sum() / daily_demand)
        if daily_demand > 0 else float("inf"),
        "units_transferred_between_stores": float(units[~from_warehouse].sum()),
        "units_replenished_from_warehouses": float(units[from_warehouse].sum()),
        "cross_region_transfer_rate": float(units[crosses & ~from_warehouse].sum() / shipped)
        if shipped else 0.0,
        "cross_region_service_rate": float(units[crosses & from_warehouse].sum() / shipped)
        if shipped else 0.0,
        "cross_region_transfer_units": float(units[crosses & ~from_warehouse].sum()),
        "cross_region_service_units": float(units[crosses & from_warehouse].sum()),
        "cross_region_capped_share": float(units[capped].sum() / shipped) if shipped else 0.0,
        "plan_lines": len(shipments),
        "trucks": result.costs["trucks"],
        "transport_cost": result.costs["unit_cost"] + result.costs["shipment_cost"],
    }
    warehouse = np.flatnonzero(p.is_warehouse)
    origin = p.lane_from[lane]
    out = np.bincount(origin, weights=units, minlength=len(p.location_ids))
    replenishment = np.bincount(origin[from_warehouse], weights=units[from_warehouse],
                                minlength=len(p.location_ids))
    stock_after = np.bincount(p.position_location, weights=result.stock_after,
                              minlength=len(p.location_ids))
    throughput = p.weekly_throughput[warehouse]
    table = pd.DataFrame({
        "warehouse_id": p.location_ids[warehouse], "weekly_throughput": throughput,
        "units_out": out[warehouse],
        "throughput_used": np.where(np.isfinite(throughput) & (throughput > 0),
                                    out[warehouse] / np.where(throughput > 0, throughput, 1),
                                    0.0),
        "replenishment_units": replenishment[warehouse], "stock_after": stock_after[warehouse]})
    return kpis, table
