"""All planners' tables of a plan in one call: consistent with the parts, ship days within limits."""

from __future__ import annotations

import pandas as pd

from optimizer.allocation.cards import warehouse_card
from optimizer.allocation.planner_tables import planner_tables
from optimizer.allocation.ship_days import daily_loads
from tests.allocation.planners_week import tiny_plan


def test_planner_tables_of_the_tiny_week() -> None:
    tables, plan = tiny_plan()
    inputs = {k: tables[k] for k in ("stores", "warehouses", "skus", "sales")}
    out = planner_tables(plan, **inputs)
    assert set(out) == {"lines", "warehouses", "stores", "demand_guide", "cover", "movers",
                        "stockout_risk", "regional_mix", "returns", "supplier_orders"}
    lines = out["lines"]
    assert lines["quantity"].sum() == plan.lines["quantity"].sum()
    assert (daily_loads(lines, tables["warehouses"])["units"] <= 40).all()
    monday_only = warehouse_card(plan, stores=tables["stores"], warehouses=tables["warehouses"])
    card = out["warehouses"].set_index("warehouse_id").loc["W1"]
    assert monday_only["peak_day_units"].iloc[0] > 40 >= card["peak_day_units"]
    assert card["supplier_order_units"] == out["supplier_orders"]["order_units"].sum()
    assert len(out["demand_guide"]) == len(out["cover"]) == len(pd.MultiIndex.from_frame(
        tables["sales"][["store_id", "sku"]]).unique())
