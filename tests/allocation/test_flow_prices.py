"""The lane dual started from the flow relaxation's prices: optimality conditions, validity."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from optimizer.allocation.dual import evaluate, lane_dual
from optimizer.allocation.flow_prices import lift_bound, node_potentials, relaxation_prices
from optimizer.allocation.flow_relaxation import flow_relaxation
from optimizer.allocation.flows import COST_SCALE
from optimizer.allocation.mip import solve_monolithic
from optimizer.allocation.model import build_network
from optimizer.allocation.solve import solve_allocation

from .test_allocation import synthetic_problem


def _week(seed: int, **options):
    problem = synthetic_problem(n_stores=12, n_skus=4, seed=seed, structure="realistic",
                                **options)
    return problem, build_network(problem)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_potentials_meet_the_flows_optimality_conditions(seed: int) -> None:
    problem, network = _week(seed)
    r = flow_relaxation(problem, network)
    assert r.arc_cost is not None and r.capacity is not None
    pi = node_potentials(network, r.arc_cost, r.capacity, r.flows)
    reduced = r.arc_cost + pi[network.arc_tail] - pi[network.arc_head]
    tolerance = 2.0 / COST_SCALE
    assert np.all(reduced[r.flows < r.capacity] >= -tolerance)
    assert np.all(reduced[r.flows > 0] <= tolerance)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flow_prices_with_every_load_share_at_one_are_worth_the_relaxation(seed: int) -> None:
    # Strong duality: the relaxation's dual prices, read in the lane dual's terms, give its value.
    problem, network = _week(seed)
    r = flow_relaxation(problem, network)
    dual = lane_dual(problem, network)
    prices = relaxation_prices(problem, network, dual, r)
    full_share = replace(prices, load_share=np.ones(len(dual.lane_cost)))
    _, lp = solve_monolithic(problem, network, relax=True, strong=False, time_limit=60)
    assert lp.status == "optimal" and lp.objective is not None
    value = evaluate(dual, full_share).bound
    assert value <= lp.objective + 1e-6 * abs(lp.objective)
    assert value == pytest.approx(lp.objective, rel=2e-5)  # the flows round costs


@pytest.fixture(scope="module")
def proven_weeks():
    weeks = []
    for seed in (4, 8):
        problem, network = _week(seed)
        _, report = solve_monolithic(problem, network, mip_gap=1e-7, time_limit=120)
        assert report.status == "optimal" and report.objective is not None
        weeks.append((problem, network, report.objective))
    return weeks


def test_any_load_shares_bound_the_optimum(proven_weeks) -> None:
    # At the lifted prices (close to the optimum on these weeks) and at shaken ones.
    rng = np.random.default_rng(0)
    for problem, network, optimum in proven_weeks:
        r = flow_relaxation(problem, network)
        dual = lane_dual(problem, network)
        lifted = lift_bound(problem, network, r, optimum * 1.2,
                            deadline=time.perf_counter() + 4.0).state.center
        for scale in (0.0, 0.0, 0.0, 0.1, 0.5):
            def shake(values: np.ndarray, scale: float = scale) -> np.ndarray:
                return values * rng.uniform(1 - scale, 1 + scale, len(values))
            shaken = replace(lifted, cover=np.clip(shake(lifted.cover), 0.0, dual.saving),
                             supply=shake(lifted.supply),
                             load_share=rng.uniform(0.0, 1.0, len(dual.lane_cost)))
            assert evaluate(dual, shaken).bound <= optimum + 1e-6 * abs(optimum)


def test_the_lift_raises_the_bound_above_the_relaxation_and_stays_below_the_optimum(
        proven_weeks) -> None:
    raised = 0
    for problem, network, optimum in proven_weeks:
        r = flow_relaxation(problem, network)
        # A target above the optimum: the steps go on until they stall or time is up.
        lifted = lift_bound(problem, network, r, optimum * 1.2,
                            deadline=time.perf_counter() + 4.0)
        assert lifted.steps > 0
        assert lifted.bound <= optimum + 1e-6 * abs(optimum)
        raised += lifted.bound > r.bound + 1e-6 * abs(r.bound)
    # Parcels between stores are paid whole by the lane dual, pro rata by the relaxation.
    assert raised >= 1


def test_the_lift_keeps_its_deadline() -> None:
    problem, network = _week(6)
    r = flow_relaxation(problem, network)
    started = time.perf_counter()
    lift_bound(problem, network, r, r.bound * 1.5, deadline=started + 0.5)
    assert time.perf_counter() - started < 1.5


def test_relaxation_method_with_two_processes_lifts_its_bound_beside_the_polish(
        proven_weeks) -> None:
    problem, network, optimum = proven_weeks[1]
    flows_bound = flow_relaxation(problem, network).bound
    started = time.perf_counter()
    result = solve_allocation(problem, network=network, method="relaxation", time_limit=6,
                              mip_gap=1e-9, workers=2)
    assert time.perf_counter() - started < 6 * 1.2 + 1.0
    report = result.report
    assert "in a second process" in report.message
    assert flows_bound < report.bound <= optimum + 1e-6 * abs(optimum)
    assert report.objective >= optimum - 1e-6 * abs(optimum)


def test_the_lift_stops_when_asked() -> None:
    problem, network = _week(6)
    r = flow_relaxation(problem, network)
    started = time.perf_counter()
    lifted = lift_bound(problem, network, r, r.bound * 1.5, deadline=started + 30.0,
                        stop=lambda: True)
    assert time.perf_counter() - started < 5.0
    assert lifted.steps == 0
    assert lifted.bound == lifted.start_bound


def test_two_processes_stop_together_once_the_shared_bound_proves_the_plan(proven_weeks,
                                                                          monkeypatch) -> None:
    # The lift shares a bound at once (here the proven optimum) and then waits to be stopped:
    # the polish sees the plan within the gap of it and ends, and so does the lift, long
    # before the time limit it would otherwise run to.
    from optimizer.allocation import flow_prices

    real_lift = flow_prices.lift_bound
    problem, network, optimum = proven_weeks[1]

    def sharing_lift(problem, network, relaxation, upper, *, deadline, stop=None,
                     on_bound=None):
        assert on_bound is not None and stop is not None
        on_bound(optimum)
        while time.perf_counter() < deadline and not stop():
            time.sleep(0.05)
        return real_lift(problem, network, relaxation, upper, deadline=time.perf_counter())

    monkeypatch.setattr(flow_prices, "lift_bound", sharing_lift)
    started = time.perf_counter()
    # Its first plan is 2.5 % above the flows' bound and 0.7 % above the optimum.
    result = solve_allocation(problem, network=network, method="relaxation", time_limit=40,
                              mip_gap=0.015, workers=2)
    assert time.perf_counter() - started < 0.2 * 40
    assert "in a second process" in result.report.message
    assert result.report.bound <= optimum + 1e-6 * abs(optimum)
    assert result.report.objective >= optimum - 1e-6 * abs(optimum)


def test_a_second_process_that_does_not_answer_still_leaves_the_bound_it_shared(
        proven_weeks, monkeypatch) -> None:
    from optimizer.allocation import flow_prices

    problem, network, optimum = proven_weeks[1]
    flows_bound = flow_relaxation(problem, network).bound
    shared = flows_bound + 0.5 * (optimum - flows_bound)  # a valid bound above the flows'

    def hanging_lift(problem, network, relaxation, upper, *, deadline, stop=None,
                     on_bound=None):
        assert on_bound is not None
        on_bound(shared)
        time.sleep(120.0)

    monkeypatch.setattr(flow_prices, "lift_bound", hanging_lift)
    result = solve_allocation(problem, network=network, method="relaxation", time_limit=6,
                              mip_gap=1e-9, workers=2)
    assert "no answer from the second process" in result.report.message
    assert result.report.bound == pytest.approx(shared)
