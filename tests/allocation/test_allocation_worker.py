"""Plans built in a second process: the same plans as in-process, errors surface, time left is
used. (The two-process solve's constraints and bounds are checked in test_allocation.py.)
"""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from optimizer.allocation.model import build_network
from optimizer.allocation.plans import plan_on_lanes
from optimizer.allocation.solve import solve_allocation
from optimizer.allocation.worker import PlanRequest, PlanWorker, fork_available
from tests.allocation.test_allocation import assert_plan_invariants, synthetic_problem

pytestmark = pytest.mark.skipif(not fork_available(), reason="needs the fork start method")


def test_worker_builds_the_same_plan_as_this_process() -> None:
    problem = synthetic_problem(seed=6, throughput=50.0)
    network = build_network(problem)
    rng = np.random.default_rng(0)
    open_lanes = rng.random(len(problem.lane_from)) < 0.6
    arc_cost = network.arc_cost * rng.uniform(0.9, 1.1, len(network.arc_cost))
    here, here_cost = plan_on_lanes(problem, network, open_lanes, arc_cost=arc_cost, rounds=3)
    with PlanWorker(problem, network) as worker:
        worker.submit(PlanRequest(open_lanes, arc_cost, rounds=3, transfers_first=True,
                                  seconds_left=60.0))
        assert worker.busy
        reply = worker.wait(timeout=60.0)
        assert reply is not None and not worker.busy
        # A second request on the same worker: every lane, the network's own costs.
        every_lane = np.ones(len(problem.lane_from), dtype=bool)
        worker.submit(PlanRequest(every_lane, None, rounds=2, transfers_first=False,
                                  seconds_left=60.0))
        second = worker.wait(timeout=60.0)
    np.testing.assert_array_equal(reply.quantity, here)
    assert reply.costs == here_cost
    expected, expected_cost = plan_on_lanes(problem, network, every_lane, rounds=2,
                                            transfers_first=False)
    np.testing.assert_array_equal(second.quantity, expected)
    assert second.costs == expected_cost


def test_a_plan_that_fails_in_the_worker_raises_here_with_its_traceback() -> None:
    problem = synthetic_problem(n_stores=6, n_skus=2, seed=1)
    network = build_network(problem)
    every_lane = np.ones(len(problem.lane_from), dtype=bool)
    wrong_length = np.ones(3)  # arc costs for 3 arcs, not one per arc of the network
    with PlanWorker(problem, network) as worker:
        worker.submit(PlanRequest(every_lane, wrong_length, rounds=1, transfers_first=False,
                                  seconds_left=60.0))
        with pytest.raises(RuntimeError, match="(?s)failed in the worker.*Traceback"):
            worker.wait(timeout=60.0)
        assert not worker.busy
        with pytest.raises(RuntimeError, match="still building"):
            for _ in range(2):
                worker.submit(PlanRequest(every_lane, None, rounds=1, transfers_first=False,
                                          seconds_left=60.0))


def test_closing_a_busy_worker_stops_its_process() -> None:
    problem = synthetic_problem(seed=2)
    network = build_network(problem)
    worker = PlanWorker(problem, network)
    worker.submit(PlanRequest(np.ones(len(problem.lane_from), dtype=bool), None, rounds=4,
                              transfers_first=True, seconds_left=60.0))
    worker.close()
    assert not worker.busy
    assert not any(child.name == "xingtu-plan-worker"
                   for child in multiprocessing.active_children())


def test_time_left_after_the_bound_stops_goes_to_plans_from_its_final_state() -> None:
    import re

    from optimizer.allocation.search import PLAN_OPEN_SHARES

    problem = synthetic_problem(seed=3, throughput=40.0)
    result = solve_allocation(problem, workers=2, dual_iterations=10, mip_gap=1e-9,
                              time_limit=60)
    steps, plans = (int(n) for n in re.findall(r"(\d+) (?:bound steps|plans)",
                                               result.report.message))
    assert steps == 10
    # The first plan, then one plan per share of open lanes from the final bound state.
    assert plans >= 1 + len(PLAN_OPEN_SHARES)
    assert_plan_invariants(problem, result)


def test_a_worker_that_dies_mid_plan_raises_here() -> None:
    import os
    import signal

    problem = synthetic_problem(seed=2)
    network = build_network(problem)
    with PlanWorker(problem, network) as worker:
        worker.submit(PlanRequest(np.ones(len(problem.lane_from), dtype=bool), None, rounds=4,
                                  transfers_first=True, seconds_left=60.0))
        os.kill(worker.pid, signal.SIGKILL)
        with pytest.raises(RuntimeError, match="worker stopped"):
            worker.wait(timeout=30.0)
        assert not worker.busy
