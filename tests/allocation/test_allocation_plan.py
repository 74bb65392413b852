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


def test_cost_structures_read_from_the_files_with_documented_defaults(small_region) -> None:
    from optimizer.allocation.lanes import COST_STRUCTURES, LaneCosts
    from optimizer.allocation.plan import week_problem

    def problem(lanes, skus, costs):
        return week_problem(stores=small_region.stores, warehouses=small_region.warehouses,
                            skus=skus, sales=small_region.sales, stock=small_region.stock,
                            week="2026-W02", lanes=lanes,
                            settings=PlanSettings(lane_costs=costs))[0]

    region = small_region
    old_skus = region.skus.drop(columns="pick_unit")
    realistic = problem(region.lanes, old_skus, LaneCosts())
    from_warehouse = realistic.lane_from_warehouse
    # Files without the new columns: scheduled routes, parcels, unit picking below 20 litres.
    assert np.all(realistic.lane_modes[from_warehouse] == "scheduled")
    assert np.all(realistic.lane_modes[~from_warehouse] == "parcel")
    assert np.all(realistic.lane_shipment_cost[from_warehouse] == 0)
    assert np.all(realistic.lane_shipment_cost[~from_warehouse] == 12.0)
    assert np.all(realistic.lane_litres_per_load[~from_warehouse] == 60.0)
    bulky = old_skus["volume_l"].to_numpy() >= 20
    assert np.array_equal(realistic.sku_pick_unit == "case", bulky)
    assert np.all(realistic.sku_case_size[~bulky] == 1)
    # The dedicated variant: a truck per lane (150 + 4/km) and whole cases for every SKU.
    dedicated = problem(region.lanes, region.skus, COST_STRUCTURES["dedicated"])
    km = region.lanes.set_index(["origin", "destination"])["distance_km"]
    lane_km = km.loc[list(zip(dedicated.location_ids[dedicated.lane_from],
                              dedicated.location_ids[dedicated.lane_to], strict=True))].to_numpy()
    assert np.allclose(dedicated.lane_shipment_cost, 150.0 + 4.0 * lane_km)
    assert np.array_equal(dedicated.sku_case_size, region.skus["case_size"].to_numpy())
    assert np.all(dedicated.lane_litres_per_load == 18_000.0)
    # Columns in the lanes file win over the defaults, row by row; a visit cap times visits.
    lanes = region.lanes.assign(mode=np.where(region.lanes["origin"].str.startswith("W"),
                                              "dedicated", ""),
                                visit_cap_litres=np.nan)
    first = int(np.flatnonzero(region.lanes["origin"].str.startswith("W"))[0])
    lanes.loc[first, "mode"] = "scheduled"
    lanes.loc[first, "visit_cap_litres"] = 50.0
    lanes["delivery_weekdays"] = "mon wed fri"
    mixed = problem(lanes, region.skus, LaneCosts())
    capped = np.isfinite(mixed.lane_litre_cap)
    assert capped.sum() == 1 and np.all(mixed.lane_litre_cap[capped] == 150.0)
    assert set(mixed.lane_modes[mixed.lane_from_warehouse]) <= {"dedicated", "scheduled"}
    assert np.all(mixed.lane_modes[~mixed.lane_from_warehouse] == "parcel")
