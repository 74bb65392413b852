"""Every table planners read of a plan, in one call (for the workbook, the app and the CLI)."""

from __future__ import annotations

import pandas as pd

from .cards import store_card, warehouse_card
from .demand_guide import demand_guide
from .plan import WeeklyPlan
from .ship_days import schedule_ship_days
from .slow_movers import cover_table, movers, regional_mix, stockout_risk, suggested_returns
from .supplier_orders import supplier_orders


def planner_tables(plan: WeeklyPlan, *, stores: pd.DataFrame, warehouses: pd.DataFrame,
                   skus: pd.DataFrame, sales: pd.DataFrame,
                   delivery_days: pd.DataFrame | None = None, top_n: int = 10,
                   supplier_lead_time_days: float = 7.0) -> dict[str, pd.DataFrame]:
    """Return the planners' tables of ``plan``, by name.

    Parameters
    ----------
    plan
        A weekly plan (:func:`optimizer.allocation.plan.plan_week`) or a day plan
        (:func:`optimizer.allocation.day_plan.plan_day`).
    stores, warehouses, skus, sales
        The plan's input tables.
    delivery_days
        Optional ``store_id``, ``weekday`` for :func:`~optimizer.allocation.ship_days.
        schedule_ship_days`.
    top_n
        Fast and slow movers per region.
    supplier_lead_time_days
        Supplier lead time to the warehouses (the review period is the plan's horizon).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``lines`` (with ship days spread over the horizon), ``warehouses`` (the warehouse
        card), ``stores`` (the store card), ``demand_guide``, ``cover`` (per store-SKU),
        ``movers``, ``stockout_risk``, ``regional_mix``, ``returns``, ``supplier_orders``.
    """
    lines = schedule_ship_days(plan.lines, warehouses=warehouses, skus=skus,
                               start=plan.ship_day, days=max(int(plan.horizon_days), 1),
                               delivery_days=delivery_days)
    orders = supplier_orders(plan, lead_time_days=supplier_lead_time_days,
                             review_days=max(plan.horizon_days, 1.0), skus=skus)
    cover = cover_table(plan, sales=sales, stores=stores, skus=skus)
    level = plan.settings.service_level if plan.settings is not None else 0.95
    history_weeks = plan.settings.history_weeks if plan.settings is not None else 52
    return {
        "lines": lines,
        "warehouses": warehouse_card(plan, stores=stores, warehouses=warehouses, lines=lines,
                                     supplier_orders=orders),
        "stores": store_card(plan, stores),
        "demand_guide": demand_guide(sales, before=plan.ship_day, stores=stores,
                                     service_level=level, history_weeks=history_weeks),
        "cover": cover,
        "movers": movers(cover, n=top_n),
        "stockout_risk": stockout_risk(plan, stores=stores),
        "regional_mix": regional_mix(sales, stores=stores, skus=skus),
        "returns": suggested_returns(plan, cover=cover, skus=skus),
        "supplier_orders": orders,
    }
