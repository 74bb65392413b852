"""The exact block polish (per SKU, per region), never-paying lanes, and the relaxation method."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.allocation import model
from optimizer.allocation.flows import lane_volumes, plan_cost
from optimizer.allocation.mip import solve_monolithic
from optimizer.allocation.model import ARC_LANE, ARC_SEGMENT, build_network
from optimizer.allocation.polish import polish_plan, region_blocks
from optimizer.allocation.solve import _result, solve_allocation
from tests.allocation.test_allocation import assert_plan_invariants, synthetic_problem

WEEKS = [
    ("realistic", {}),
    ("realistic", {"visit_cap_litres": 10.0}),
    ("realistic", {"throughput": 40.0, "share": 0.1, "min_lot": 2}),
    ("realistic", {"throughput": 8.0}),
    ("dedicated", {}),
    ("dedicated", {"throughput": 60.0, "share": 0.2, "min_lot": 2}),
    ("dedicated", {"throughput": 20.0}),
]


def first_plan(problem, network):
    """A quick plan of the decomposition, not polished."""
    return solve_allocation(problem, network=network, method="decomposition", time_limit=5,
                            dual_iterations=60, polish=False).quantity


@pytest.mark.parametrize(("structure", "settings"), WEEKS)
@pytest.mark.parametrize("seed", [1, 3])
def test_polish_is_never_worse_whole_case_on_its_own_lanes_and_feasible(
        structure: str, settings: dict, seed: int) -> None:
    problem = synthetic_problem(n_stores=14, n_skus=5, seed=seed, structure=structure,
                                **settings)
    network = build_network(problem)
    plan = first_plan(problem, network)
    polished = polish_plan(problem, network, plan)
    before = plan_cost(problem, network, plan)["objective"]
    after = plan_cost(problem, network, polished.quantity)["objective"]
    assert polished.objective_before == pytest.approx(before)
    assert polished.objective_after == pytest.approx(after)
    assert after <= before + 1e-9
    # Every invariant of a plan (reserves, whole cases for case picks, loads, caps, shares).
    report = solve_allocation(problem, network=network, method="decomposition", time_limit=1,
                              dual_iterations=1, polish=False).report
    assert_plan_invariants(problem, _result(problem, network, polished.quantity, report))
    # Its own lanes: no paid lane the plan did not use carries anything.
    paid = problem.lane_shipment_cost > 0
    used_before = lane_volumes(problem, network, plan) > 0
    used_after = lane_volumes(problem, network, polished.quantity) > 0
    assert not np.any(used_after & paid & ~used_before)


def test_polish_ends_once_its_plan_is_close_enough() -> None:
    problem = synthetic_problem(n_stores=14, n_skus=5, seed=1, structure="realistic")
    network = build_network(problem)
    plan = first_plan(problem, network)
    full = polish_plan(problem, network, plan)
    assert full.blocks_solved > 0
    asked: list[float] = []

    def enough(objective: float) -> bool:
        asked.append(objective)
        return True

    stopped = polish_plan(problem, network, plan, enough=enough)
    assert stopped.blocks_solved == 0
    assert asked == [pytest.approx(plan_cost(problem, network, plan)["objective"])]
    assert np.array_equal(stopped.quantity, plan)
    # Never close enough: the same polish as without the question.
    never = polish_plan(problem, network, plan, enough=lambda objective: False)
    assert np.array_equal(never.quantity, full.quantity)


@pytest.mark.parametrize("structure", ["realistic", "dedicated"])
@pytest.mark.parametrize("seed", [2, 5])
def test_polish_of_a_one_sku_week_is_the_mip_optimum(structure: str, seed: int) -> None:
    # With one SKU, the SKU's block is the whole week: from moving nothing, with every lane
    # allowed to open, the polish must reach the optimum HiGHS proves on the monolithic MIP.
    problem = synthetic_problem(n_stores=12, n_skus=1, seed=seed, structure=structure)
    network = build_network(problem)
    nothing = np.zeros(len(network.arc_cost), dtype=np.int64)
    polished = polish_plan(problem, network, nothing, new_lanes=True)
    optimum = solve_allocation(problem, network=network, method="monolithic", mip_gap=1e-9,
                               time_limit=60)
    assert optimum.report.status == "optimal"
    assert polished.objective_after == pytest.approx(optimum.report.objective, rel=1e-6)
    arcs = np.flatnonzero((network.arc_kind == ARC_LANE) & (polished.quantity > 0))
    from_warehouse = problem.lane_from_warehouse[network.arc_lane[arcs]]
    case = problem.sku_case_size[network.arc_sku[arcs]]
    assert np.all(polished.quantity[arcs][from_warehouse] % case[from_warehouse] == 0)


@pytest.mark.parametrize("structure", ["realistic", "dedicated"])
def test_region_blocks_split_the_lane_arcs_and_their_polish_is_never_worse(
        structure: str) -> None:
    problem = synthetic_problem(n_stores=16, n_skus=6, seed=7, structure=structure,
                                throughput=80.0)
    network = build_network(problem)
    blocks = region_blocks(problem, network, max_arcs=300)
    lane_arcs = np.flatnonzero(network.arc_kind == ARC_LANE)
    counted = np.concatenate([b[network.arc_kind[b] == ARC_LANE] for b in blocks])
    # Every lane arc is in exactly one block, in its receiver's region.
    assert np.array_equal(np.sort(counted), lane_arcs)
    for arcs in blocks:
        lanes = arcs[network.arc_kind[arcs] == ARC_LANE]
        regions = problem.location_region[problem.position_location[network.arc_position[lanes]]]
        assert len(set(regions)) <= 1
    assert len(blocks) > len(set(problem.location_region))  # SKUs were split into groups
    plan = first_plan(problem, network)
    polished = polish_plan(problem, network, plan, blocks=blocks, new_lanes=True)
    assert polished.objective_after <= plan_cost(problem, network, plan)["objective"] + 1e-9
    report = solve_allocation(problem, network=network, time_limit=1, dual_iterations=1,
                              method="decomposition", polish=False).report
    assert_plan_invariants(problem, _result(problem, network, polished.quantity, report))


def unpruned_network(problem, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(model, "never_paying_lanes",
                      lambda p, *args: np.zeros(len(p.lane_from), dtype=bool))
        return build_network(problem)


@pytest.mark.parametrize("structure", ["realistic", "dedicated"])
@pytest.mark.parametrize("seed", [1, 2])
def test_never_paying_lanes_are_those_whose_best_shipments_save_less_than_a_load(
        structure: str, seed: int, monkeypatch) -> None:
    problem = synthetic_problem(n_stores=14, n_skus=5, seed=seed, structure=structure)
    full = unpruned_network(problem, monkeypatch)
    pruned = build_network(problem)
    # The most each lane's arcs could save, unit by unit from the receiver's base level.
    segments = np.flatnonzero(full.arc_kind == ARC_SEGMENT)
    saving = {}
    for arc in segments:
        saving.setdefault(int(full.arc_position[arc]), []).append(-full.arc_cost[arc])
    most = np.zeros(len(problem.lane_from))
    for arc in np.flatnonzero(full.arc_kind == ARC_LANE):
        gains = sorted(saving.get(int(full.arc_position[arc]), []), reverse=True)
        best = total = 0.0
        for gain in gains[:int(full.arc_capacity[arc])]:
            total += gain - full.arc_cost[arc]
            best = max(best, total)
        most[full.arc_lane[arc]] += best
    kept = np.unique(pruned.arc_lane[pruned.arc_kind == ARC_LANE])
    had = np.unique(full.arc_lane[full.arc_kind == ARC_LANE])
    expected_dropped = had[(problem.lane_shipment_cost[had] > 0)
                           & (most[had] <= problem.lane_shipment_cost[had])]
    assert np.array_equal(np.setdiff1d(had, kept), expected_dropped)
    assert expected_dropped.size > 0  # the weeks have such lanes
    # Dropping them leaves the optimum unchanged.
    on_pruned = solve_allocation(problem, network=pruned, method="monolithic", mip_gap=1e-9,
                                 time_limit=60).report
    on_full = solve_allocation(problem, network=full, method="monolithic", mip_gap=1e-9,
                               time_limit=60).report
    assert on_pruned.status == on_full.status == "optimal"
    assert on_pruned.objective == pytest.approx(on_full.objective, rel=1e-7)


@pytest.mark.parametrize("seed", [3, 4])
def test_relaxation_bound_is_below_the_optimum_and_its_plan_feasible(seed: int) -> None:
    problem = synthetic_problem(n_stores=12, n_skus=4, seed=seed, structure="realistic",
                                throughput=60.0)
    network = build_network(problem)
    optimum = solve_allocation(problem, network=network, method="monolithic", mip_gap=1e-9,
                               time_limit=60).report
    assert optimum.status == "optimal"
    result = solve_allocation(problem, network=network, method="relaxation", time_limit=20)
    assert "linear relaxation" in result.report.message
    assert_plan_invariants(problem, result)
    assert result.report.bound <= optimum.objective + 1e-6
    assert result.report.objective >= optimum.objective - 1e-6
    # The bound is at least the monolithic model's linear relaxation (the flows' value, up to
    # their cost rounding), lifted by the lane dual where parcels are paid whole.
    _, weak = solve_monolithic(problem, network, relax=True, strong=False, time_limit=20)
    assert weak.objective is not None
    assert result.report.bound >= weak.objective * (1 - 1e-5)
    assert "lane dual from the flows' prices" in result.report.message
