"""The warehouse and store cards and the cross-region rates, against values computed here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from optimizer.allocation.cards import store_card, store_sku_card, warehouse_card
from optimizer.allocation.ship_days import schedule_ship_days
from tests.allocation.planners_week import tiny_plan

LEAD, REVIEW, LEVEL = 2.0, 7.0, 0.95


@pytest.fixture(scope="module")
def week():
    return tiny_plan()


def _quantile(level: float, mean: float, variance: float) -> float:
    """The plan's demand distribution, written out: normal from 20 units, else Poisson or
    negative binomial (variance above 1.05 x mean).
    """
    if mean >= 20:
        return float(stats.norm.ppf(level, mean, np.sqrt(variance)))
    if variance <= 1.05 * mean:
        return float(stats.poisson.ppf(level, mean))
    p = mean / variance
    return float(stats.nbinom.ppf(level, mean * p / (1 - p), p))


def _shortage(stock: float, mean: float, variance: float) -> float:
    """E[(D - stock)^+] by summing (discrete) or integrating (normal) the tail."""
    if mean <= 0:
        return 0.0
    if mean >= 20:
        sd = np.sqrt(variance)
        value, _ = integrate.quad(lambda x: (x - stock) * stats.norm.pdf(x, mean, sd), stock,
                                  mean + 12 * sd)
        return value
    k = np.arange(int(stock), int(mean + 60 * np.sqrt(variance)) + 60)
    if variance <= 1.05 * mean:
        pmf = stats.poisson.pmf(k, mean)
    else:
        p = mean / variance
        pmf = stats.nbinom.pmf(k, mean * p / (1 - p), p)
    return float(((k - stock) * pmf).sum())


def test_store_sku_card_matches_the_definitions(week) -> None:
    tables, plan = week
    p = plan.problem
    card = store_sku_card(plan).set_index(["store_id", "sku"])
    lines = plan.lines
    stock = tables["stock"].set_index(["location_id", "sku"])["on_hand"]
    for (store, sku), row in card.iterrows():
        position = np.flatnonzero((p.location_ids[p.position_location] == store)
                                  & (p.sku_ids[p.position_sku] == sku))[0]
        mean, variance = p.demand_mean[position], p.demand_variance[position]
        protected = (LEAD + REVIEW) / 7
        expected_up_to = np.ceil(_quantile(LEVEL, mean * protected, variance * protected))
        assert row["order_up_to"] == expected_up_to
        assert row["safety_stock"] == pytest.approx(max(expected_up_to - mean * protected, 0))
        assert row["reorder_point"] == np.ceil(_quantile(LEVEL, mean * LEAD / 7,
                                                         variance * LEAD / 7))
        units_in = lines.loc[(lines["to"] == store) & (lines["sku"] == sku), "quantity"].sum()
        units_out = lines.loc[(lines["from"] == store) & (lines["sku"] == sku), "quantity"].sum()
        assert (row["units_in"], row["units_out"]) == (units_in, units_out)
        before = stock.get((store, sku), 0)
        assert row["stock_before"] == before
        assert row["stock_after"] == before + units_in - units_out
        assert row["expected_stockout_before"] == pytest.approx(
            _shortage(before, mean, variance), abs=1e-6)
        assert row["expected_stockout_after"] == pytest.approx(
            _shortage(before + units_in - units_out, mean, variance), abs=1e-6)
        assert row["turnover_days_after"] == pytest.approx(
            (before + units_in - units_out) / (mean / 7))
    assert card["expected_stockout_after"].sum() < card["expected_stockout_before"].sum()


def test_store_card_sums_its_skus(week) -> None:
    tables, plan = week
    sku_card = store_sku_card(plan)
    card = store_card(plan, tables["stores"]).set_index("store_id")
    assert card.loc["S3", "channel"] == "key_account"
    assert set(card["home_warehouse"]) == {"W1"}
    for store, rows in sku_card.groupby("store_id"):
        assert card.loc[store, "units_in"] == rows["units_in"].sum()
        assert card.loc[store, "order_up_to"] == rows["order_up_to"].sum()
        assert card.loc[store, "turnover_days_before"] == pytest.approx(
            rows["stock_before"].sum() / (rows["demand_week"].sum() / 7))
        assert card.loc[store, "skus_short_before"] == int(
            (rows["expected_stockout_before"] >= 0.5).sum())


def test_warehouse_card_has_every_seed_figure(week) -> None:
    tables, plan = week
    lines = plan.lines
    stores = tables["stores"].set_index("store_id")
    scheduled = schedule_ship_days(lines, warehouses=tables["warehouses"], skus=tables["skus"])
    card = warehouse_card(plan, stores=tables["stores"], warehouses=tables["warehouses"],
                          lines=scheduled).set_index("warehouse_id").loc["W1"]
    from_w1 = lines[lines["from"] == "W1"]
    # Next week's replenishment and the stock it leaves.
    assert card["replenishment_units"] == from_w1["quantity"].sum() > 0
    w1_stock = tables["stock"].query("location_id == 'W1'")["on_hand"].sum()
    assert card["stock_after"] == w1_stock - from_w1["quantity"].sum()
    weekly_demand = plan.problem.demand_mean[~plan.problem.is_warehouse[
        plan.problem.position_location]].sum()
    assert card["turnover_days"] == pytest.approx(card["stock_after"] / (weekly_demand / 7))
    # Delivery days per channel: the plan's lines where they ship, else the lanes (rounded up).
    travel = (pd.to_datetime(from_w1["arrival_day"]) - pd.to_datetime(from_w1["ship_day"])).dt.days
    small = from_w1["to"].map(stores["channel"]) == "small_store"
    assert card["delivery_days_small_store"] == pytest.approx(
        np.average(travel[small], weights=from_w1["quantity"][small]))
    key = from_w1["to"].map(stores["channel"]) == "key_account"
    assert key.any() and card["delivery_days_key_account"] == 3.0  # lead 2.5 days -> arrives day 3
    assert not (from_w1["to"] == "S2").any() and card["delivery_days_own_store"] == 2.0
    # Cross-region: store-to-store transfers into its stores, and its own service, apart.
    region = stores["region"]
    crosses = lines["from"].map(region).fillna("north") != lines["to"].map(region)
    transfers = crosses & (lines["from"] != "W1")
    assert transfers.any()
    assert card["cross_region_transfer_rate"] == pytest.approx(
        lines.loc[transfers, "quantity"].sum() / lines["quantity"].sum())
    assert card["cross_region_service_rate"] == pytest.approx(
        from_w1.loc[from_w1["to"] == "S3", "quantity"].sum() / from_w1["quantity"].sum())
    # Daily throughput: units per ship day against the limit, never above it once scheduled.
    per_day = scheduled[scheduled["from"] == "W1"].groupby("ship_day")["quantity"].sum()
    assert card["daily_throughput"] == 40.0
    assert card["peak_day_units"] == per_day.max() <= 40
    assert card["ship_days_used"] == len(per_day) >= 2
    assert card["service_radius_km"] == 50.0 and card["stores_in_reach"] == 3
    sku_card = store_sku_card(plan)
    assert card["safety_stock_units"] == pytest.approx(sku_card["safety_stock"].sum())
    assert card["expected_stockout_after"] == pytest.approx(
        sku_card["expected_stockout_after"].sum())
    assert card["expected_stockout_before"] == pytest.approx(
        plan.kpis["expected_stockout_units_before"])


def test_kpis_report_transfers_and_warehouse_service_across_regions_apart(week) -> None:
    tables, plan = week
    lines = plan.lines
    region = tables["stores"].set_index("store_id")["region"]
    crosses = lines["from"].map(region).fillna("north") != lines["to"].map(region)
    from_warehouse = lines["from"] == "W1"
    total = lines["quantity"].sum()
    k = plan.kpis
    assert k["cross_region_transfer_rate"] == pytest.approx(
        lines.loc[crosses & ~from_warehouse, "quantity"].sum() / total)
    assert k["cross_region_service_rate"] == pytest.approx(
        lines.loc[crosses & from_warehouse, "quantity"].sum() / total)
    assert k["cross_region_service_units"] > 0 and k["cross_region_transfer_units"] > 0


def test_cross_region_cap_counts_transfers_by_default() -> None:
    _, capped = tiny_plan(max_cross_region_share=0.0)
    lines = capped.lines
    assert capped.kpis["cross_region_transfer_units"] == 0
    # Warehouse service to the south still runs under the default cap.
    assert ((lines["from"] == "W1") & (lines["to"] == "S3")).any()
    _, strict = tiny_plan(max_cross_region_share=0.0, cross_region_counts="all")
    assert strict.kpis["cross_region_transfer_units"] == 0
    assert strict.kpis["cross_region_service_units"] == 0
    assert strict.kpis["expected_stockout_units_after"] > capped.kpis[
        "expected_stockout_units_after"]
