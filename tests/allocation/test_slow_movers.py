"""Slow movers, stockout risk, regional mix, returns, demand guide and supplier orders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.allocation.demand_guide import demand_guide
from optimizer.allocation.forecast import demand_history, forecast_demand
from optimizer.allocation.lanes import LaneCosts
from optimizer.allocation.plan import PlanSettings, plan_week
from optimizer.allocation.slow_movers import (
    cover_table,
    movers,
    regional_mix,
    stockout_risk,
    suggested_returns,
)
from optimizer.allocation.supplier_orders import supplier_orders
from tests.allocation.planners_week import WEEK, tiny_plan, tiny_tables
from tests.allocation.test_cards import _quantile

LAST_DAY = pd.Timestamp("2026-01-04")


@pytest.fixture(scope="module")
def slow_week():
    """The tiny week plus K4 (a TV S2 holds 100 of and last sold on 2025-10-20, S1 sells about
    one a day) and K5 (sold in the south, held nowhere).
    """
    tables = tiny_tables()
    tables["skus"] = pd.concat([tables["skus"], pd.DataFrame({
        "sku": ["K4", "K5"], "category": ["tv", "tv"], "unit_cost": [3000.0, 2000.0],
        "margin": [0.1, 0.1], "volume_l": [1.0, 1.0], "case_size": [1, 1]})],
        ignore_index=True)
    old = pd.DataFrame({"date": pd.to_datetime(["2025-10-07", "2025-10-13", "2025-10-20"]),
                        "store_id": "S2", "sku": "K4", "units": [1, 1, 1]})
    days = pd.date_range("2025-10-06", LAST_DAY)
    rng = np.random.default_rng(2)
    south = pd.DataFrame({"date": days, "store_id": "S3", "sku": "K5",
                          "units": rng.poisson(2.0, len(days))})
    north = pd.DataFrame({"date": days, "store_id": "S1", "sku": "K4",
                          "units": rng.poisson(1.0, len(days))})
    tables["sales"] = pd.concat([tables["sales"], old, south[south["units"] > 0],
                                 north[north["units"] > 0]], ignore_index=True)
    tables["stock"] = pd.concat([tables["stock"], pd.DataFrame({
        "location_id": ["S2"], "sku": ["K4"], "on_hand": [100], "in_transit": [0]})],
        ignore_index=True)
    settings = PlanSettings(lane_costs=LaneCosts(truck_fixed=0.0, truck_per_km=0.0))
    plan = plan_week(**tables, week=WEEK, settings=settings)
    cover = cover_table(plan, sales=tables["sales"], stores=tables["stores"],
                        skus=tables["skus"])
    return tables, plan, cover


def test_cover_table_weeks_of_cover_and_days_since_last_sale(slow_week) -> None:
    tables, plan, cover = slow_week
    cover = cover.set_index(["store_id", "sku"])
    sales = tables["sales"]
    forecast = plan.forecast.set_index(["store_id", "sku"])["mean"]
    stock = tables["stock"].set_index(["location_id", "sku"])["on_hand"]
    for (store, sku), row in cover.iterrows():
        mine = sales[(sales["store_id"] == store) & (sales["sku"] == sku) & (sales["units"] > 0)]
        assert row["days_since_last_sale"] == (LAST_DAY - mine["date"].max()).days
        recent = mine[mine["date"] > LAST_DAY - pd.Timedelta(weeks=13)]["units"].sum()
        assert row["units_recent"] == recent
        weekly = forecast.get((store, sku), 0.0)
        assert row["demand_week"] == pytest.approx(weekly)
        if weekly > 0:
            assert row["weeks_of_cover"] == pytest.approx(stock.get((store, sku), 0) / weekly)
    assert cover.loc[("S2", "K4"), "days_since_last_sale"] == 76
    assert cover.loc[("S2", "K4"), "weeks_of_cover_after"] > 26


def test_movers_rank_skus_per_region_by_recent_units(slow_week) -> None:
    _, _, cover = slow_week
    table = movers(cover, n=2)
    for region, rows in cover.groupby("region"):
        units = rows.groupby("sku")["units_recent"].sum()
        stock = rows.groupby("sku")["stock"].sum()
        fast = table[(table["region"] == region) & (table["kind"] == "fast")]
        assert fast["sku"].tolist() == sorted(units.index, key=lambda s: (-units[s], s))[:2]
        held = [s for s in units.index if stock[s] > 0]
        slow = table[(table["region"] == region) & (table["kind"] == "slow")]
        assert slow["sku"].tolist() == sorted(held, key=lambda s: (units[s], -stock[s], s))[:2]
        assert fast["rank"].tolist() == list(range(1, len(fast) + 1))
    north_slow = table[(table["region"] == "north") & (table["kind"] == "slow")]
    assert north_slow["sku"].iloc[0] == "K4"


def test_stockout_risk_lists_every_short_store_sku_most_margin_first(slow_week) -> None:
    tables, plan, _ = slow_week
    risk = stockout_risk(plan, stores=tables["stores"])
    top = risk.iloc[0]
    assert (top["store_id"], top["sku"]) == ("S3", "K5")  # held nowhere: all demand is short
    assert top["expected_stockout_after"] == pytest.approx(top["demand_horizon"], rel=1e-9)
    margin = 2000.0 * 0.1 / 0.9
    assert top["lost_margin"] == pytest.approx(top["expected_stockout_after"] * margin)
    assert (risk["expected_stockout_after"] >= 0.5).all()
    assert risk["lost_margin"].is_monotonic_decreasing
    assert risk["region"].iloc[0] == "south"


def test_regional_mix_against_the_chain(slow_week) -> None:
    tables, _, _ = slow_week
    sales, stores, skus = tables["sales"], tables["stores"], tables["skus"]
    mix = regional_mix(sales, stores=stores, skus=skus, weeks=4).set_index(["region", "category"])
    recent = sales[pd.to_datetime(sales["date"]) > LAST_DAY - pd.Timedelta(weeks=4)]
    region = dict(zip(stores["store_id"], stores["region"], strict=True))
    category = dict(zip(skus["sku"], skus["category"], strict=True))
    totals: dict[tuple[str, str], float] = {}
    for store, sku, units in zip(recent["store_id"], recent["sku"], recent["units"],
                                 strict=True):
        key = (region[store], category[sku])
        totals[key] = totals.get(key, 0.0) + units
    chain = sum(totals.values())
    for (r, c), units in totals.items():
        in_region = sum(v for (r2, _), v in totals.items() if r2 == r)
        in_chain = sum(v for (_, c2), v in totals.items() if c2 == c)
        assert mix.loc[(r, c), "units"] == units
        assert mix.loc[(r, c), "share"] == pytest.approx(units / in_region)
        assert mix.loc[(r, c), "index"] == pytest.approx((units / in_region) / (in_chain / chain))
    assert len(mix) == len(totals) == 6


def test_returns_follow_the_documented_rule(slow_week) -> None:
    tables, plan, cover = slow_week
    returns = suggested_returns(plan, cover=cover, skus=tables["skus"])
    # Only slow store-SKUs go back (cover above 26 weeks, or stock and no sale in 91 days),
    # each where it pays; K4 (100 TVs at S2, not sold for months) is the costliest.
    slow = cover[(cover["weeks_of_cover_after"] > 26.0)
                 | ((cover["stock_after"] > 0) & (cover["days_since_last_sale"] > 91.0))]
    slow_pairs = set(map(tuple, slow[["store_id", "sku"]].to_numpy().tolist()))
    assert set(map(tuple, returns[["store_id", "sku"]].to_numpy().tolist())) <= slow_pairs
    assert returns[["store_id", "sku"]].iloc[0].tolist() == ["S2", "K4"]
    assert (returns["net_saving"] > 0).all()
    row = cover.set_index(["store_id", "sku"]).loc[("S2", "K4")]
    p = plan.problem
    k4 = p.sku_ids[p.position_sku] == "K4"
    chain_weeks = min(plan.result.stock_after[k4].sum() / cover.query("sku == 'K4'")[
        "demand_week"].sum(), 52.0)
    weekly = row["demand_week"]
    up_to = np.ceil(_quantile(0.95, weekly * 9 / 7, max(p.demand_variance[
        k4 & (p.location_ids[p.position_location] == "S2")][0] * 9 / 7, 1e-9)))
    keep = max(up_to, np.ceil(8 * weekly))
    saving = 3000.0 * 0.005 * (min(row["weeks_of_cover_after"], 52.0) - chain_weeks)
    got = returns.iloc[0]
    assert got["warehouse_id"] == "W1"
    assert got["quantity"] == row["stock_after"] - keep
    assert got["saving_per_unit"] == pytest.approx(saving)
    assert got["cost_per_unit"] == 1.0  # the lane W1 -> S2, taken back
    assert got["net_saving"] == pytest.approx(got["quantity"] * (saving - 1.0))
    # With ageing too cheap to pay the trip, nothing goes back.
    assert suggested_returns(plan, cover=cover, skus=tables["skus"],
                             ageing_per_week=1e-6).empty


def test_demand_guide_accuracy_against_naive_refit_by_hand() -> None:
    tables = tiny_tables()
    guide = demand_guide(tables["sales"], before=pd.Timestamp("2026-01-05"),
                         stores=tables["stores"], holdout_weeks=4)
    history = demand_history(tables["sales"], before=pd.Timestamp("2026-01-05")).history
    forecast = forecast_demand(history)
    np.testing.assert_allclose(guide["mean"], forecast["mean"])
    np.testing.assert_allclose(guide["upper"], forecast["upper"])
    n = history.shape[1]
    predicted = np.column_stack([forecast_demand(history[:, :n - 4 + t])["mean"]
                                 for t in range(4)])
    actual = history[:, -4:]
    mae = np.abs(predicted - actual).mean(axis=1)
    mae_naive = np.abs(history[:, -5:-1] - actual).mean(axis=1)
    np.testing.assert_allclose(guide["mae"], mae, atol=1e-9)
    np.testing.assert_allclose(guide["mae_naive"], mae_naive)
    scale = np.abs(np.diff(history[:, :n - 4], axis=1)).mean(axis=1)
    np.testing.assert_allclose(guide["mase"], mae / scale, atol=1e-9)
    assert guide["beats_naive"].tolist() == (mae < mae_naive).tolist()
    assert guide["region"].notna().all()
    short = demand_guide(tables["sales"][pd.to_datetime(tables["sales"]["date"])
                                         > LAST_DAY - pd.Timedelta(weeks=3)])
    assert short["mae"].isna().all() and (short["weeks"] == 3).all()


def test_supplier_orders_bring_the_warehouse_up_to_its_level_in_whole_cases() -> None:
    tables, plan = tiny_plan()
    orders = supplier_orders(plan, lead_time_days=10, review_days=7,
                             skus=tables["skus"]).set_index("sku")
    p = plan.problem
    store = ~p.is_warehouse[p.position_location]
    lines = plan.lines
    case = tables["skus"].set_index("sku")["case_size"]
    for sku, row in orders.iterrows():
        mine = store & (p.sku_ids[p.position_sku] == sku)
        mean, variance = p.demand_mean[mine].sum(), p.demand_variance[mine].sum()
        level = np.ceil(_quantile(0.95, mean * 17 / 7, variance * 17 / 7))
        on_hand = tables["stock"].query("location_id == 'W1' and sku == @sku")["on_hand"].sum()
        position = on_hand - lines.query("`from` == 'W1' and sku == @sku")["quantity"].sum()
        assert row["order_up_to"] == level
        assert row["position"] == position
        assert row["safety_stock"] == pytest.approx(level - mean * 17 / 7)
        assert row["order_units"] % case[sku] == 0
        gap = max(level - position, 0)
        assert gap <= row["order_units"] < gap + case[sku]
    assert orders["order_units"].sum() > 0
