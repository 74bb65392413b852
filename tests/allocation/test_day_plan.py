"""Daily re-planning: the weekly model on a one-day horizon, with earlier plans on the way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.allocation.day_plan import plan_day
from optimizer.allocation.lanes import LaneCosts
from optimizer.allocation.plan import PlanSettings, plan_week
from optimizer.errors import InputError
from tests.allocation.planners_week import WEEK, tiny_tables
from tests.allocation.test_allocation import assert_plan_invariants

SETTINGS = PlanSettings(lane_costs=LaneCosts(truck_fixed=0.0, truck_per_km=0.0))


def _units_to(plan, store: str, sku: str) -> int:
    lines = plan.lines
    return int(lines.loc[(lines["to"] == store) & (lines["sku"] == sku), "quantity"].sum())


def test_day_plan_meets_the_plan_invariants_on_a_one_day_horizon() -> None:
    tables = tiny_tables()
    day = plan_day(**tables, day="2026-01-05", settings=SETTINGS)
    week = plan_week(**tables, week=WEEK, settings=SETTINGS)
    assert_plan_invariants(day.problem, day.result)
    assert day.week == "2026-01-05" and day.horizon_days == 1.0
    p, q = day.problem, week.problem
    np.testing.assert_allclose(p.demand_mean, q.demand_mean / 7)
    w1 = list(p.location_ids).index("W1")
    assert p.weekly_throughput[w1] == 40.0 and q.weekly_throughput[w1] == 280.0
    # One day of review protects less than a week: reserves are lower, never higher.
    assert np.all(p.reserve <= q.reserve) and p.reserve.sum() < q.reserve.sum()
    assert (pd.to_datetime(day.lines["ship_day"]) == pd.Timestamp("2026-01-05")).all()
    assert day.kpis["expected_stockout_units_after"] < day.kpis["expected_stockout_units_before"]


def test_day_plan_counts_earlier_moves_on_the_way() -> None:
    tables = tiny_tables()
    alone = plan_day(**tables, day="2026-01-05", settings=SETTINGS)
    assert _units_to(alone, "S3", "K1") > 0
    later = pd.DataFrame({"to": ["S3"], "sku": ["K1"], "quantity": [60],
                          "arrival_day": ["2026-01-06"]})
    planned = plan_day(**tables, day="2026-01-05", settings=SETTINGS, in_transit=later)
    assert_plan_invariants(planned.problem, planned.result)
    p = planned.problem
    s3k1 = np.flatnonzero((p.location_ids[p.position_location] == "S3")
                          & (p.sku_ids[p.position_sku] == "K1"))[0]
    assert p.stock[s3k1] == 60 and p.reserve[s3k1] == 60  # on the way: counted, never sent on
    assert _units_to(planned, "S3", "K1") < _units_to(alone, "S3", "K1")
    arrived = later.assign(arrival_day="2026-01-05", to="S2", sku="K2")
    planned = plan_day(**tables, day="2026-01-05", settings=SETTINGS, in_transit=arrived)
    s2k2 = np.flatnonzero((planned.problem.location_ids[planned.problem.position_location]
                           == "S2") & (planned.problem.sku_ids[planned.problem.position_sku]
                                       == "K2"))[0]
    assert planned.problem.stock[s2k2] == 60 + 60
    assert planned.problem.reserve[s2k2] < 60  # arrived by the ship day: it may move on


def test_day_plan_errors_name_the_input() -> None:
    tables = tiny_tables()
    with pytest.raises(InputError, match="day"):
        plan_day(**tables, day="tomorrow", settings=SETTINGS)
    with pytest.raises(InputError, match="arrival_day"):
        plan_day(**tables, day="2026-01-05", settings=SETTINGS,
                 in_transit=pd.DataFrame({"to": ["S1"], "sku": ["K1"], "quantity": [1]}))


def test_week_plan_projects_store_stock_from_a_mid_week_cut_off() -> None:
    """Sales and stock end on Wednesday: four days of expected sales go before Monday's ship."""
    from optimizer.allocation.safety_stock import project_stock

    tables = tiny_tables()
    sales = tables["sales"]
    tables["sales"] = sales[pd.to_datetime(sales["date"]) <= "2025-12-31"]
    plan = plan_week(**tables, week=WEEK, settings=SETTINGS)
    assert plan.kpis["stock_projected_days"] == 4
    assert plan.kpis["sales_history_end"] == "2025-12-31"
    p = plan.problem
    forecast = plan.forecast.set_index(["store_id", "sku"])
    on_hand = tables["stock"].set_index(["location_id", "sku"])["on_hand"]
    for position in range(len(p.stock)):
        location = p.location_ids[p.position_location[position]]
        sku = p.sku_ids[p.position_sku[position]]
        held = on_hand.get((location, sku), 0)
        if p.is_warehouse[p.position_location[position]]:
            assert p.stock[position] == held
            continue
        row = forecast.loc[(location, sku)]
        assert p.stock[position] == project_stock(held, row["mean"], row["variance"], days=4)
    s2 = (p.location_ids[p.position_location] == "S2") & (p.sku_ids[p.position_sku] == "K1")
    assert p.stock[s2][0] < 120  # four days of sales gone
    # Given the stock date, nothing is projected.
    dated = plan_week(**tables, week=WEEK, settings=PlanSettings(
        lane_costs=SETTINGS.lane_costs, stock_date="2026-01-04"))
    assert dated.kpis["stock_projected_days"] == 0


def test_day_plan_turnover_days_count_days_not_weeks() -> None:
    tables = tiny_tables()
    day = plan_day(**tables, day="2026-01-05", settings=SETTINGS)
    p = day.problem
    store = ~p.is_warehouse[p.position_location]
    daily = p.demand_mean[store].sum()  # one day's demand
    assert day.kpis["store_turnover_days_before"] == pytest.approx(p.stock[store].sum() / daily)


def _left_after_sales(stock: float, mean: float, variance: float) -> int:
    """E[(stock - D)^+] rounded, summed by hand over D's distribution (the chain's rule:
    normal from a mean of 20, else Poisson, or negative binomial when over-dispersed).
    """
    import math

    from scipy import stats

    if mean <= 0:
        return round(stock)
    if mean >= 20.0:
        sd = math.sqrt(variance)
        z = (stock - mean) / sd
        density = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
        below = 0.5 * (1 + math.erf(z / math.sqrt(2)))
        left = (stock - mean) * below + sd * density  # E[(s - D)^+] of a normal D
    else:
        if variance > 1.05 * mean:
            p = mean / variance
            pmf = stats.nbinom(mean * p / (1 - p), p).pmf
        else:
            pmf = stats.poisson(mean).pmf
        left = sum((stock - d) * pmf(d) for d in range(int(stock)))
    return max(round(left), 0)


def test_an_earlier_saved_plan_still_on_the_road_counts_as_in_transit(tmp_path) -> None:
    """Stock counted on Friday, sales to Sunday, ship Monday: a saved plan's lines that arrive
    on Monday or later are stock of their receivers, projected with two days of sales.
    """
    from xingtu.database import Database
    from xingtu.jobs import weekly

    tables = tiny_tables()
    database = Database(f"sqlite:///{tmp_path / 'plans.db'}")
    earlier = pd.DataFrame({
        "from": ["W1", "W1", "W1"], "to": ["S1", "S3", "S2"], "sku": ["K2", "K1", "K1"],
        "quantity": [30, 8, 5], "ship_day": ["2026-01-03", "2026-01-04", "2026-01-02"],
        "arrival_day": ["2026-01-05", "2026-01-07", "2026-01-04"]})  # the last one has arrived
    weekly.save_record(database, weekly.PlanRecord(
        week="2026-01-03", fingerprint="earlier", lines=earlier,
        kpis={weekly.TABLES_KEY: {"lines": earlier.to_dict(orient="records")}}, report={}))
    moving = weekly.in_transit_lines(database, "2026-01-05")
    assert moving is not None
    assert sorted(zip(moving["to"], moving["quantity"], strict=True)) == [("S1", 30), ("S3", 8)]

    settings = PlanSettings(lane_costs=LaneCosts(truck_fixed=0.0, truck_per_km=0.0),
                            stock_date="2026-01-02")
    run = weekly.run_day(tables, day="2026-01-05", settings=settings, in_transit=moving)
    plan = run.plan
    assert plan.kpis["stock_projected_days"] == 2  # Saturday and Sunday sell before Monday
    p = plan.problem
    forecast = plan.forecast.set_index(["store_id", "sku"])
    on_hand = tables["stock"].set_index(["location_id", "sku"])["on_hand"]
    for store, sku, coming, later in (("S1", "K2", 30, 0), ("S3", "K1", 8, 8),
                                      ("S2", "K1", 0, 0)):
        mean, variance = forecast.loc[(store, sku), ["mean", "variance"]]
        expected = _left_after_sales(on_hand.get((store, sku), 0) + coming, mean * 2 / 7,
                                     variance * 2 / 7)
        at = np.flatnonzero((p.location_ids[p.position_location] == store)
                            & (p.sku_ids[p.position_sku] == sku))[0]
        assert p.stock[at] == expected, (store, sku)
        assert p.reserve[at] >= min(later, expected)  # arriving after Monday: never sent on
    assert_plan_invariants(p, plan.result)
