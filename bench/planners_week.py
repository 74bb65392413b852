"""What planners get from one week on the demo region: the figures quoted in docs/allocation.md.

Plans the demo's default week (2026-W02, as ``xingtu demo`` does), spreads its lines over ship
days, and prints the warehouse card, the store card's extremes, slow movers and overstock,
stockout risk, the regional mix, suggested returns, the demand guide's accuracy, the supplier
orders, and a daily re-plan of the week's first day (the same stock and sales, a one-day
horizon). It also prints the forecast of the week by calendar weeks (the
last one holding 3 days) against 7-day periods ending on the last sales day.

Run::

    .venv/bin/python bench/planners_week.py
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from geodata.demo import load_demo
from optimizer.allocation.cards import store_card, warehouse_card
from optimizer.allocation.day_plan import plan_day
from optimizer.allocation.demand_guide import demand_guide
from optimizer.allocation.forecast import (
    demand_history,
    forecast_demand,
    week_start,
    weekly_history,
)
from optimizer.allocation.plan import plan_week
from optimizer.allocation.ship_days import daily_loads, schedule_ship_days
from optimizer.allocation.slow_movers import (
    cover_table,
    movers,
    regional_mix,
    stockout_risk,
    suggested_returns,
)
from optimizer.allocation.supplier_orders import supplier_orders

WEEK = "2026-W02"


def main() -> None:
    """Run the demo week and print the planners' outputs."""
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    region = load_demo()
    tables = {"stores": region.stores, "warehouses": region.warehouses, "skus": region.skus,
              "sales": region.sales, "stock": region.stock, "lanes": region.lanes}
    _, calendar, labels = weekly_history(region.sales, week=WEEK, weeks=52)
    periods = demand_history(region.sales, before=week_start(WEEK), periods=52)
    print(f"calendar weeks: last {labels[-1]} holds {calendar[:, -1].sum():,.0f} units "
          f"(the week before {calendar[:, -2].sum():,.0f}); forecast "
          f"{forecast_demand(calendar)['mean'].sum():,.0f} units")
    print(f"7-day periods to {periods.last_day.date()}: last {periods.history[:, -1].sum():,.0f}"
          f" units; forecast {forecast_demand(periods.history)['mean'].sum():,.0f} units")

    started = time.perf_counter()
    plan = plan_week(**tables, week=WEEK)
    k = plan.kpis
    print(f"\nplan {WEEK} in {time.perf_counter() - started:.1f} s: stock projected "
          f"{k['stock_projected_days']} days; stockouts {k['expected_stockout_units_before']:,.0f}"
          f" -> {k['expected_stockout_units_after']:,.0f}; gap {plan.report.gap:.2%}")
    print(f"cross-region: transfers {k['cross_region_transfer_units']:,.0f} units "
          f"({k['cross_region_transfer_rate']:.1%}), warehouse service "
          f"{k['cross_region_service_units']:,.0f} units ({k['cross_region_service_rate']:.1%})")

    scheduled = schedule_ship_days(plan.lines, warehouses=region.warehouses, skus=region.skus)
    monday = daily_loads(plan.lines, region.warehouses)
    spread = daily_loads(scheduled, region.warehouses)
    print(f"\nship days: every line on Monday, peak load {monday['load'].max():.0%} "
          f"({monday.loc[monday['load'].idxmax(), 'warehouse_id']}); spread over the week, "
          f"peak {spread['load'].max():.0%}, {len(scheduled):,} lines")

    orders = supplier_orders(plan)
    card = warehouse_card(plan, stores=region.stores, warehouses=region.warehouses,
                          lines=scheduled, supplier_orders=orders)
    print("\nwarehouse card")
    print(card.drop(columns=["name", "peak_day"]).round(2).T.to_string())

    stores = store_card(plan, region.stores)
    print(f"\nstore card: {len(stores)} stores; turnover days after the plan median "
          f"{stores['turnover_days_after'].replace(np.inf, np.nan).median():.1f}; highest "
          f"expected stockout share after: "
          f"{stores.nlargest(3, 'stockout_share_after')[['store_id', 'stockout_share_after']].round(3).values.tolist()}")

    cover = cover_table(plan, sales=region.sales, stores=region.stores, skus=region.skus)
    over = (cover["weeks_of_cover"] > 26).sum()
    stale = ((cover["stock"] > 0) & ~(cover["days_since_last_sale"] <= 91)).sum()
    print(f"\nslow movers: {over} store-SKUs over 26 weeks of cover, {stale} with stock and no "
          "sale in 13 weeks")
    print(movers(cover, n=3).query("region == 'Shenzhen'").to_string(index=False))
    risk = stockout_risk(plan, stores=region.stores)
    print(f"\nstockout risk after the plan: {len(risk)} store-SKUs, lost margin "
          f"{risk['lost_margin'].sum():,.0f} CNY; top 3:")
    print(risk.head(3).round(2).to_string(index=False))
    mix = regional_mix(region.sales, stores=region.stores, skus=region.skus)
    power = mix[mix["category"] == "power_bank"].round(3)
    print("\npower banks, share of units (13 weeks):")
    print(power[["region", "share", "chain_share", "index"]].to_string(index=False))
    returns = suggested_returns(plan, cover=cover, skus=region.skus)
    print(f"\nreturns: {len(returns)} store-SKUs, {returns['quantity'].sum():,} units, net "
          f"saving {returns['net_saving'].sum():,.0f} CNY")

    guide = demand_guide(region.sales, before=week_start(WEEK))
    beats = guide["beats_naive"].dropna().astype(bool)
    pooled = guide.groupby("demand_class")[["mae", "mae_naive"]].mean().round(3)
    print(f"\ndemand guide: {len(guide):,} store-SKUs; the method beats naive on "
          f"{beats.mean():.0%} of them; mean absolute error by class:")
    print(pooled.to_string())
    print(f"\nsupplier orders: {int((orders['order_units'] > 0).sum())} warehouse-SKUs, "
          f"{orders['order_units'].sum():,} units in {orders['cases'].sum():,} cases")

    started = time.perf_counter()
    day = plan_day(**tables, day=str(week_start(WEEK).date()))
    d = day.kpis
    print(f"\nday plan {day.week} in {time.perf_counter() - started:.1f} s: {len(day.lines):,} "
          f"lines, {day.lines['quantity'].sum():,} units; stockouts "
          f"{d['expected_stockout_units_before']:,.1f} -> {d['expected_stockout_units_after']:,.1f}"
          f" (one day); {day.report.status}, gap {day.report.gap:.2%}")


if __name__ == "__main__":
    main()
