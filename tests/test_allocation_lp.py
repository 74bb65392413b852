"""The lane program's prices (optimizer.allocation_lp): valid, and a better start than the
volume algorithm's."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.allocation import solve_allocation
from optimizer.allocation_dual import (
    evaluate,
    improve_bound,
    initial_prices,
    lane_dual,
    start_volume,
)
from optimizer.allocation_lp import cover_prices, fill_count, lp_prices
from optimizer.allocation_model import build_network
from tests.test_allocation import synthetic_problem


@pytest.mark.parametrize("seed", range(3))
def test_lane_program_prices_bound_below_the_optimum_and_above_the_start(seed: int) -> None:
    problem = synthetic_problem(seed=seed, n_stores=12, n_skus=3, throughput=60.0, share=0.4)
    network = build_network(problem)
    dual = lane_dual(problem, network)
    optimum = solve_allocation(problem, method="monolithic", mip_gap=1e-7, time_limit=60)
    assert optimum.report.status == "optimal"
    found = lp_prices(dual, time_limit=30.0)
    assert found is not None and found.status == "Optimal"
    prices = found.prices
    assert np.all((prices.cover >= 0) & (prices.cover <= dual.saving))
    assert np.all(prices.supply >= 0) and np.all(prices.throughput >= 0) and prices.cross >= 0
    assert np.all((found.lane_share >= 0) & (found.lane_share <= 1))
    bound = evaluate(dual, prices).bound
    assert bound <= optimum.report.objective + 1e-6
    start = start_volume(dual, initial_prices(dual))
    assert bound >= start.value.bound


def test_fill_count_keeps_the_segments_worth_more_than_the_unit_cost() -> None:
    problem = synthetic_problem(seed=4, n_stores=10, n_skus=3)
    dual = lane_dual(problem, build_network(problem))
    counted = fill_count(dual)
    for arc in range(len(dual.arc)):
        receiver = dual.arc_receiver[arc]
        start, count = dual.segment_start[receiver], dual.segment_count[receiver]
        worth = dual.saving[start:start + count] > dual.arc_unit_cost[arc]
        assert counted[arc] == worth.sum()
        assert worth[:counted[arc]].all()  # the first ones: savings descend


def test_large_weeks_are_left_to_the_volume_algorithm(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = synthetic_problem(seed=2, n_stores=12, n_skus=3, throughput=60.0)
    dual = lane_dual(problem, build_network(problem))
    assert lp_prices(dual, time_limit=30.0, max_fills=0) is None
    with_program = solve_allocation(problem)
    assert "lane program" in with_program.report.message
    monkeypatch.setattr("optimizer.allocation_lp.LP_MAX_FILLS", 0)
    without = solve_allocation(problem)
    assert "lane program" not in without.report.message
    assert without.report.bound <= with_program.report.objective + 1e-6


def test_lane_program_prices_beat_the_volume_algorithm_on_average() -> None:
    """What the program is for, and what its whole-case rows buy: on six seeded weeks the mean
    gap to the proven optimum at its prices is below the mean gap after 300 volume steps.
    Without the row "a segment is filled no further than the first case is shipped" the mean
    gap is 6.6 % against the volume algorithm's 5.2 % (3.8 % with it)."""
    program_gaps, volume_gaps = [], []
    for seed in range(6):
        problem = synthetic_problem(seed=seed, n_stores=15, n_skus=4)
        dual = lane_dual(problem, build_network(problem))
        optimum = solve_allocation(problem, method="monolithic", mip_gap=1e-7, time_limit=60)
        assert optimum.report.status == "optimal"
        best = optimum.report.objective
        found = lp_prices(dual, time_limit=30.0)
        assert found is not None
        program_gaps.append((best - evaluate(dual, found.prices).bound) / best)
        stepped = improve_bound(dual, start_volume(dual, initial_prices(dual)), best,
                                iterations=300)
        volume_gaps.append((best - stepped.value.bound) / best)
    assert min(program_gaps) >= -1e-9  # a valid bound on every week
    assert np.mean(program_gaps) < np.mean(volume_gaps)


@pytest.mark.parametrize("seed", range(3))
def test_cover_prices_reprice_only_the_cover_rows_and_bound_validly(seed: int) -> None:
    """Repriced at the supply prices of 50 volume steps, the cover rows bound higher than
    those steps, never above the optimum, and at least the program's own value: the program
    holds every fill the Lagrangian's lanes can make, including the segments the last whole
    case fills beyond those that pay (without their columns the demo week's bound was 2,600
    below the program's value)."""
    problem = synthetic_problem(seed=seed, n_stores=15, n_skus=4)
    dual = lane_dual(problem, build_network(problem))
    optimum = solve_allocation(problem, method="monolithic", mip_gap=1e-7, time_limit=60)
    assert optimum.report.status == "optimal"
    best = optimum.report.objective
    stepped = improve_bound(dual, start_volume(dual, initial_prices(dual)), best, iterations=50)
    found = cover_prices(dual, stepped.center, time_limit=30.0)
    assert found.status.endswith("Optimal") and "not solved" not in found.status
    prices = found.prices
    assert prices.supply is stepped.center.supply
    assert prices.throughput is stepped.center.throughput
    assert prices.cross == stepped.center.cross
    assert np.all((prices.cover >= 0) & (prices.cover <= dual.saving))
    assert np.all((found.lane_share >= 0) & (found.lane_share <= 1))
    bound = evaluate(dual, prices).bound
    assert found.value - 1e-6 * abs(found.value) <= bound <= best + 1e-6
    assert bound > stepped.value.bound


def test_cover_prices_solve_the_same_program_in_any_grouping(
        monkeypatch: pytest.MonkeyPatch) -> None:
    problem = synthetic_problem(seed=1, n_stores=15, n_skus=4)
    dual = lane_dual(problem, build_network(problem))
    prices = improve_bound(dual, start_volume(dual, initial_prices(dual)), 9_000.0,
                           iterations=50).center
    together = cover_prices(dual, prices, time_limit=30.0)
    monkeypatch.setattr("optimizer.allocation_lp.GROUP_COLUMNS", 1)  # one receiver per group
    apart = cover_prices(dual, prices, time_limit=30.0)
    assert together.status != apart.status  # different numbers of groups
    assert apart.value == pytest.approx(together.value, rel=1e-9)


def test_cover_prices_keep_the_prices_of_groups_not_solved_in_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    problem = synthetic_problem(seed=1, n_stores=15, n_skus=4)
    dual = lane_dual(problem, build_network(problem))
    prices = initial_prices(dual)
    found = cover_prices(dual, prices, time_limit=0.0)
    assert found.status.endswith("not solved") and np.isnan(found.value)
    np.testing.assert_array_equal(found.prices.cover, prices.cover)
    # A later call goes on where this one ran out, and a whole round says so with 0.
    monkeypatch.setattr("optimizer.allocation_lp.GROUP_COLUMNS", 1)
    assert cover_prices(dual, prices, time_limit=0.0, first_group=3).next_group == 3
    assert cover_prices(dual, prices, time_limit=30.0, first_group=3).next_group == 0


def test_cover_prices_from_any_first_group_reprice_every_group() -> None:
    problem = synthetic_problem(seed=1, n_stores=15, n_skus=4)
    dual = lane_dual(problem, build_network(problem))
    prices = improve_bound(dual, start_volume(dual, initial_prices(dual)), 9_000.0,
                           iterations=50).center
    first = cover_prices(dual, prices, time_limit=30.0)
    rotated = cover_prices(dual, prices, time_limit=30.0, first_group=2)
    assert rotated.value == pytest.approx(first.value, rel=1e-9)


def test_weeks_too_large_for_the_whole_program_reprice_the_cover_rows(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On this week repricing cuts the gap from 7.0 % to 1.7 % (bound 5,838 to 6,083, optimum
    6,140)."""
    problem = synthetic_problem(seed=0, n_stores=15, n_skus=4)
    optimum = solve_allocation(problem, method="monolithic", mip_gap=1e-7, time_limit=60)
    monkeypatch.setattr("optimizer.allocation_lp.LP_MAX_FILLS", 0)
    repriced = solve_allocation(problem).report
    assert "cover rows repriced" in repriced.message
    monkeypatch.setattr("optimizer.allocation_search.REPRICE_MAX_FILLS", 0)
    not_repriced = solve_allocation(problem).report
    assert "repriced" not in not_repriced.message
    assert not_repriced.bound < repriced.bound <= optimum.report.objective + 1e-6


def test_two_processes_reprice_the_cover_rows_too(monkeypatch: pytest.MonkeyPatch) -> None:
    problem = synthetic_problem(seed=0, n_stores=15, n_skus=4)
    optimum = solve_allocation(problem, method="monolithic", mip_gap=1e-7, time_limit=60)
    monkeypatch.setattr("optimizer.allocation_lp.LP_MAX_FILLS", 0)
    report = solve_allocation(problem, workers=2).report
    assert "cover rows repriced" in report.message and "second process" in report.message
    assert report.bound <= optimum.report.objective + 1e-6
