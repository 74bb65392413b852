"""The weekly plan end to end on a small generated region: stockouts cut, lines, fingerprint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.allocation.plan import PlanSettings, input_fingerprint, plan_week


@pytest.fixture(scope="module")
def small_region():
    from geodata.demo import generate_region

    return generate_region(n_stores=25, n_skus=15, n_warehouses=3, n_competitors=5, n_pois=100,
                           n_footfall=500, n_customers=300, days=182, seed=3)


def _plan(region, **settings):
    return plan_week(stores=region.stores, warehouses=region.warehouses, skus=region.skus,
                     sales=region.sales, stock=region.stock, lanes=region.lanes,
                     week="2026-W02", settings=PlanSettings(**settings))


def test_plan_cuts_expected_stockouts_and_lines_are_consistent(small_region) -> None:
    plan = _plan(small_region)
    k = plan.kpis
    assert k["expected_stockout_units_after"] < k["expected_stockout_units_before"]
    assert k["expected_stockout_reduction"] == pytest.approx(
        1 - k["expected_stockout_units_after"] / k["expected_stockout_units_before"])
    lines = plan.lines
    assert {"from", "to", "sku", "quantity", "cases", "cost", "ship_day", "arrival_day",
            "reason"} <= set(lines.columns)
    assert (pd.to_datetime(lines["arrival_day"]) > pd.to_datetime(lines["ship_day"])).all()
    warehouse_ids = set(small_region.warehouses["warehouse_id"])
    from_warehouse = lines["from"].isin(warehouse_ids).to_numpy()
    assert np.all(lines.loc[from_warehouse, "loose_units"] == 0)
    assert (lines.loc[from_warehouse, "reason"] == "replenishment from warehouse").all()
    assert plan.warehouses["replenishment_units"].sum() == lines.loc[from_warehouse,
                                                                     "quantity"].sum()
    assert plan.report.bound <= plan.report.objective + 1e-6
    # Reserves hold: stores never fall below their reserve.
    p = plan.problem
    assert np.all(plan.result.stock_after >= p.reserve)


def test_store_without_history_gets_channel_fallback(small_region) -> None:
    sales = small_region.sales
    silent = small_region.stores["store_id"].iloc[0]
    plan = plan_week(stores=small_region.stores, warehouses=small_region.warehouses,
                     skus=small_region.skus, sales=sales[sales["store_id"] != silent],
                     stock=small_region.stock, lanes=small_region.lanes, week="2026-W02")
    assert plan.kpis["stores_without_history"] == [silent]
    p = plan.problem
    store = np.flatnonzero(p.location_ids == silent)[0]
    assert p.demand_mean[p.position_location == store].sum() > 0


def test_fingerprint_is_canonical_and_sensitive(small_region) -> None:
    tables = {"stock": small_region.stock, "stores": small_region.stores}
    shuffled = {"stock": small_region.stock.sample(frac=1.0, random_state=1),
                "stores": small_region.stores}
    assert input_fingerprint(tables, {"week": "2026-W02"}) == input_fingerprint(
        shuffled, {"week": "2026-W02"})
    changed = small_region.stock.copy()
    changed.loc[changed.index[0], "on_hand"] += 1
    assert input_fingerprint({**tables, "stock": changed}, {"week": "2026-W02"}) != \
        input_fingerprint(tables, {"week": "2026-W02"})
    assert input_fingerprint(tables, {"week": "2026-W03"}) != input_fingerprint(
        tables, {"week": "2026-W02"})
