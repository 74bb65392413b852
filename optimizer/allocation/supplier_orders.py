"""Supplier-to-warehouse orders for next week: order-up-to at the warehouse, in whole cases.

Each warehouse serves the demand of its home stores (:func:`optimizer.allocation.cards.
home_warehouses`): per SKU the sum of their weekly means and variances (stores independent).
With a supplier lead time ``L`` and a review period ``R`` (days), the warehouse's order-up-to
level is the demand quantile at the service level over ``L + R`` days, its safety stock that
level minus the mean demand over the same days. The inventory position is the warehouse's
stock after the week's plan (on hand plus in transit, less what the plan sends out); the order
is the gap up to the level, rounded up to whole cases (master cases matter from the supplier).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cards import home_warehouses
from .plan import WeeklyPlan
from .safety_stock import demand_quantile


def supplier_orders(plan: WeeklyPlan, *, lead_time_days: float = 7.0, review_days: float = 7.0,
                    service_level: float | None = None,
                    skus: pd.DataFrame | None = None) -> pd.DataFrame:
    """Next week's supplier orders per warehouse and SKU (see the module docstring).

    Parameters
    ----------
    plan
        The plan.
    lead_time_days
        Supplier lead time to the warehouse, days.
    review_days
        Days between supplier orders.
    service_level
        Cycle service level at the warehouse; default the plan's.
    skus
        The SKU table: orders come in its master cases (``case_size``), also for SKUs the
        warehouse picks by the unit; without it, the plan's pick units.

    Returns
    -------
    pandas.DataFrame
        ``warehouse_id``, ``sku``, ``demand_week``, ``variance_week``, ``order_up_to``,
        ``safety_stock``, ``position`` (stock after the plan), ``case_size``, ``cases``,
        ``order_units`` (``cases x case_size``); one row per warehouse and SKU it holds or
        serves.
    """
    p = plan.problem
    level = service_level if service_level is not None else (
        plan.settings.service_level if plan.settings is not None else 0.95)
    home = home_warehouses(p)
    store = ~p.is_warehouse[p.position_location]
    scale = 7.0 / plan.horizon_days
    n_skus = len(p.sku_ids)
    warehouse_index = np.flatnonzero(p.is_warehouse)
    slot = np.full(len(p.location_ids), -1)
    slot[warehouse_index] = np.arange(len(warehouse_index))
    served = store & (home[p.position_location] >= 0)
    key = slot[home[p.position_location[served]]] * n_skus + p.position_sku[served]
    size = len(warehouse_index) * n_skus
    mean = np.bincount(key, weights=p.demand_mean[served] * scale, minlength=size)
    variance = np.bincount(key, weights=p.demand_variance[served] * scale, minlength=size)
    held = ~store
    position = np.bincount(slot[p.position_location[held]] * n_skus + p.position_sku[held],
                           weights=plan.result.stock_after[held].astype(float), minlength=size)
    days = (lead_time_days + review_days) / 7.0
    sells = mean > 0
    up_to = np.zeros(size)
    up_to[sells] = np.ceil(demand_quantile(level, mean[sells] * days,
                                           np.maximum(variance[sells] * days, 1e-9)))
    master = (p.sku_case_size if skus is None else
              skus.assign(sku=skus["sku"].astype(str)).set_index("sku")["case_size"]
              .reindex(p.sku_ids).fillna(1).to_numpy(np.int64))
    case = np.tile(master, len(warehouse_index))
    cases = np.ceil(np.maximum(up_to - position, 0) / case).astype(np.int64)
    table = pd.DataFrame({
        "warehouse_id": np.repeat(p.location_ids[warehouse_index], n_skus),
        "sku": np.tile(p.sku_ids, len(warehouse_index)),
        "demand_week": mean, "variance_week": variance, "order_up_to": up_to,
        "safety_stock": np.maximum(up_to - mean * days, 0.0), "position": position,
        "case_size": case, "cases": cases, "order_units": cases * case})
    present = np.zeros(size, dtype=bool)
    present[slot[p.position_location[held]] * n_skus + p.position_sku[held]] = True
    return table[present | sells].reset_index(drop=True)
