"""Plans on open lanes: whole cases chosen exactly, transfers re-solved around them, lanes
closed and opened.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.allocation.flows import (
    OPENING_CASES,
    enforce_limits,
    lane_opening_gains,
    lane_volumes,
    plan_cost,
    position_moves,
    solve_sku_flows,
)
from optimizer.allocation.model import (
    ARC_LANE,
    AllocationProblem,
    build_network,
    problem_from_frames,
    segment_table,
)
from optimizer.allocation.plans import plan_on_lanes, reflow_transfers, resolve_cases
from optimizer.allocation.solve import solve_allocation
from tests.allocation.test_allocation import synthetic_problem


def only_warehouse_lanes(problem: AllocationProblem) -> AllocationProblem:
    return problem.select_lanes(problem.is_warehouse[problem.lane_from])


def warehouse_arcs(problem: AllocationProblem, network) -> np.ndarray:
    lane_arc = np.flatnonzero(network.arc_kind == ARC_LANE)
    return lane_arc[problem.is_warehouse[problem.lane_from[network.arc_lane[lane_arc]]]]


@pytest.mark.parametrize("seed", [11, 22, 29])
def test_cases_chosen_as_a_flow_of_cases_are_the_mip_optimum(seed: int) -> None:
    # Replenishment only, free trucks: the week is the choice of whole cases alone, which the
    # monolithic MIP solves exactly; on these seeds rounding a unit flow costs more.
    problem = only_warehouse_lanes(synthetic_problem(n_stores=10, n_skus=3, seed=seed,
                                                     truck_fixed=0.0))
    network = build_network(problem)
    quantity = resolve_cases(problem, network, segment_table(network, len(problem.stock)),
                             np.zeros(len(network.arc_cost), dtype=np.int64),
                             network.arc_capacity, network.arc_cost)
    optimum = solve_allocation(problem, method="monolithic", mip_gap=1e-9, time_limit=60)
    assert optimum.report.status == "optimal"
    assert plan_cost(problem, network, quantity)["objective"] == pytest.approx(
        optimum.report.objective, rel=1e-7)
    arcs = warehouse_arcs(problem, network)
    assert np.all(quantity[arcs] % problem.sku_case_size[network.arc_sku[arcs]] == 0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cases_then_transfers_keep_each_other_and_never_cost_more(seed: int) -> None:
    problem = synthetic_problem(n_stores=16, n_skus=4, seed=seed, truck_fixed=0.0)
    network = build_network(problem)
    flows, _ = solve_sku_flows(network, network.arc_cost)
    rounded = enforce_limits(problem, network, flows)
    arcs = warehouse_arcs(problem, network)
    lane_arc = np.flatnonzero(network.arc_kind == ARC_LANE)
    transfers = np.setdiff1d(lane_arc, arcs)

    cased = resolve_cases(problem, network, segment_table(network, len(problem.stock)), rounded,
                          network.arc_capacity, network.arc_cost)
    assert np.array_equal(cased[transfers], rounded[transfers])
    reflowed = reflow_transfers(problem, network, cased, network.arc_capacity, network.arc_cost)
    assert np.array_equal(reflowed[arcs], cased[arcs])
    # With free trucks each step is exact for the half it re-solves, so costs only fall.
    costs = [plan_cost(problem, network, q)["objective"] for q in (rounded, cased, reflowed)]
    assert costs[1] <= costs[0] + 1e-6
    assert costs[2] <= costs[1] + 1e-6
    sender = network.extra["sender_of_lane_arc"][lane_arc]
    sent = np.bincount(sender, weights=reflowed[lane_arc], minlength=len(problem.stock))
    assert np.all(sent <= problem.shippable)
    assert np.all(reflowed[arcs] % problem.sku_case_size[network.arc_sku[arcs]] == 0)


def test_plan_on_lanes_is_never_worse_than_rounding_the_flows() -> None:
    problem = synthetic_problem(n_stores=20, n_skus=5, seed=6)
    network = build_network(problem)
    everything = np.ones(len(problem.lane_from), dtype=bool)
    _, cost = plan_on_lanes(problem, network, everything, rounds=1)
    flows, _ = solve_sku_flows(network, network.arc_cost)
    rounded = plan_cost(problem, network, enforce_limits(problem, network, flows))
    assert cost["objective"] <= rounded["objective"] + 1e-6


def test_transfers_first_finds_the_optimum_that_cases_first_miss() -> None:
    # Store A needs a few units; the warehouse packs 12 to a case, neighbour B has 6 spare
    # units at twice the unit cost. Units from the warehouse look cheaper, so cases-first ships
    # a whole case; the optimum takes B's units, and only the transfers-first start finds it.
    problem = problem_from_frames(
        pd.DataFrame({"location_id": ["A", "B", "W"], "sku": "K", "stock": [0, 8, 40],
                      "reserve": [0, 2, 0], "demand_mean": [2.0, 0.5, 0.0],
                      "demand_variance": [2.0, 0.5, 0.0]}),
        pd.DataFrame({"location_id": ["A", "B", "W"], "region": "north",
                      "is_warehouse": [False, False, True], "weekly_throughput": np.inf}),
        pd.DataFrame({"sku": ["K"], "margin": [20.0], "volume": [1.0], "case_size": [12]}),
        pd.DataFrame({"from_id": ["W", "B"], "to_id": ["A", "A"], "unit_cost": [1.0, 2.0],
                      "shipment_cost": [0.0, 0.0], "lead_time_days": [1.0, 1.0]}),
        truck_capacity=1000.0)
    network = build_network(problem)
    flows, _ = solve_sku_flows(network, network.arc_cost)
    cases_first = reflow_transfers(
        problem, network,
        resolve_cases(problem, network, segment_table(network, len(problem.stock)),
                      enforce_limits(problem, network, flows), network.arc_capacity,
                      network.arc_cost),
        network.arc_capacity, network.arc_cost)
    quantity, cost = plan_on_lanes(problem, network, np.ones(2, dtype=bool), rounds=1)
    optimum = solve_allocation(problem, method="monolithic", mip_gap=1e-9, time_limit=60)
    assert optimum.report.status == "optimal"
    assert cost["objective"] == pytest.approx(optimum.report.objective, rel=1e-7)
    assert plan_cost(problem, network, cases_first)["objective"] > cost["objective"] + 1.0
    arcs = warehouse_arcs(problem, network)
    assert quantity[arcs].sum() == 0


@pytest.mark.parametrize("seed", [3, 8])
def test_lane_opening_gains_are_the_exact_gain_of_the_best_trial_shipments(seed: int) -> None:
    # A plan on half the lanes; every unused lane's gain must equal the plan cost saved by its
    # best trial shipments (1 to OPENING_CASES cases per SKU, or none), evaluated one SKU at a
    # time on the real cost function, minus one truck.
    problem = synthetic_problem(n_stores=14, n_skus=3, seed=seed, truck_capacity=1e6)
    network = build_network(problem)
    half = np.arange(len(problem.lane_from)) % 2 == 0
    quantity, _ = plan_on_lanes(problem, network, half, rounds=1, transfers_first=False)
    segments = segment_table(network, len(problem.stock))
    gains = lane_opening_gains(problem, network, segments, quantity)
    base = plan_cost(problem, network, quantity)
    used = lane_volumes(problem, network, quantity) > 0
    assert np.all(np.isneginf(gains[used]))
    lane_arcs = np.flatnonzero(network.arc_kind == ARC_LANE)
    sender = network.extra["sender_of_lane_arc"]
    sent, _ = position_moves(problem, network, quantity)
    checked = 0
    for lane in np.flatnonzero(~used):
        best_total = 0.0
        for arc in lane_arcs[network.arc_lane[lane_arcs] == lane]:
            case = (problem.sku_case_size[network.arc_sku[arc]]
                    if problem.lane_from_warehouse[lane] else 1)
            spare = problem.shippable[sender[arc]] - sent[sender[arc]]
            best = 0.0
            for k in range(1, OPENING_CASES + 1):
                units = k * case
                if units > min(spare, network.arc_capacity[arc]):
                    break
                trial = quantity.copy()
                trial[arc] += units
                cost = plan_cost(problem, network, trial)
                saved = (base["shortage_cost"] + base["unit_cost"]
                         - cost["shortage_cost"] - cost["unit_cost"])
                best = max(best, saved)
            best_total += best
        assert gains[lane] == pytest.approx(best_total - problem.lane_shipment_cost[lane],
                                            abs=1e-6)
        checked += best_total > 0
    assert checked >= 3


def test_plans_open_a_lane_outside_the_given_ones_when_it_pays() -> None:
    # Store A runs short and only the warehouse can help; the plan is given no lane at all.
    # Its first round ships nothing; the second opens W -> A, which the optimum uses.
    problem = problem_from_frames(
        pd.DataFrame({"location_id": ["A", "W"], "sku": "K", "stock": [0, 40],
                      "reserve": [0, 0], "demand_mean": [6.0, 0.0],
                      "demand_variance": [6.0, 0.0]}),
        pd.DataFrame({"location_id": ["A", "W"], "region": "north",
                      "is_warehouse": [False, True], "weekly_throughput": np.inf}),
        pd.DataFrame({"sku": ["K"], "margin": [50.0], "volume": [1.0], "case_size": [4]}),
        pd.DataFrame({"from_id": ["W"], "to_id": ["A"], "unit_cost": [1.0],
                      "shipment_cost": [30.0], "lead_time_days": [1.0]}),
        truck_capacity=1000.0)
    network = build_network(problem)
    closed = np.zeros(1, dtype=bool)
    _, first_round = plan_on_lanes(problem, network, closed, rounds=1)
    quantity, cost = plan_on_lanes(problem, network, closed, rounds=2)
    optimum = solve_allocation(problem, method="monolithic", mip_gap=1e-9, time_limit=60)
    assert optimum.report.status == "optimal"
    assert first_round["trucks"] == 0 and cost["trucks"] == 1
    assert cost["objective"] == pytest.approx(optimum.report.objective, rel=1e-7)
    assert quantity.sum() % 4 == 0 and quantity.sum() > 0
