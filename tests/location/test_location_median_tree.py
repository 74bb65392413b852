"""The nearest-sites p-median Lagrangian, its site fixing and the Lagrangian branch-and-bound.

Seeded instances small enough to enumerate every plan give the optimum each result is checked
against.
"""

from __future__ import annotations

import time
from itertools import combinations

import numpy as np
import pytest

from optimizer.location import PMedian
from optimizer.location._lagrangian import greedy_interchange
from optimizer.location._median_lagrangian import (
    FREE,
    ascend,
    evaluate,
    fixing,
    nearest_costs,
)
from optimizer.location._median_tree import median_branch_and_bound

CASES = [(seed, p, integral) for seed in range(6) for p in (2, 4) for integral in (False, True)]


def instance(seed: int, n_clients: int = 36, n_sites: int = 14, integral: bool = False):
    """Weighted costs of seeded uniform points (rounded to integers when ``integral``)."""
    rng = np.random.default_rng(seed)
    clients = rng.uniform(0, 100, size=(n_clients, 2))
    sites = rng.uniform(0, 100, size=(n_sites, 2))
    weights = rng.integers(1, 20, size=n_clients).astype(float)
    distance = np.linalg.norm(clients[:, None] - sites[None], axis=2)
    if integral:
        distance = np.round(distance)
    return weights[:, None] * distance, weights, distance


def optimum(dense: np.ndarray, p: int) -> tuple[float, list[tuple[int, ...]]]:
    """The optimal value and every optimal plan, by enumeration."""
    values = {plan: float(dense[:, list(plan)].min(axis=1).sum())
              for plan in combinations(range(dense.shape[1]), p)}
    best = min(values.values())
    return best, [plan for plan, value in values.items() if value <= best + 1e-9 * best]


def dense_lagrangian(dense: np.ndarray, multipliers: np.ndarray, p: int) -> float:
    rho = np.minimum(dense - multipliers[:, None], 0.0).sum(axis=0)
    return float(multipliers.sum() + np.sort(rho)[:p].sum())


@pytest.mark.parametrize("seed", range(5))
def test_nearest_lists_give_the_dense_bound_under_the_cap(seed):
    dense, _, _ = instance(seed)
    rng = np.random.default_rng(seed)
    near = nearest_costs(dense, rng.integers(1, 8, size=dense.shape[0]))
    status = np.zeros(dense.shape[1], dtype=np.int8)
    for _ in range(20):
        multipliers = rng.uniform(near.floor, np.minimum(near.cap, 3 * near.floor + 50))
        point = evaluate(near, multipliers, 3, status)
        assert point.bound == pytest.approx(dense_lagrangian(dense, multipliers, 3), rel=1e-12)


def reference_ascent(near, p, status, multipliers, upper, steps, factor=2.0, patience=20):
    """The subgradient steps of :func:`ascend` written with numpy's :func:`evaluate`."""
    tolerance = 1e-9 * max(1.0, abs(upper))
    lam = np.clip(multipliers, near.floor, near.cap)
    best = point = evaluate(near, lam, p, status)
    stall = taken = 0
    while taken < steps:
        taken += 1
        columns = near.dense[:, np.flatnonzero(point.selected)]
        gradient = 1.0 - (columns < lam[:, None]).sum(axis=1)
        norm = float((gradient * gradient).sum())
        if best.bound >= upper - tolerance or factor < 1e-3 or norm == 0:
            break
        lam = np.clip(lam + factor * max(upper - point.bound, tolerance) / norm * gradient,
                      near.floor, near.cap)
        point = evaluate(near, lam, p, status)
        if point.bound > best.bound + tolerance:
            best, stall = point, 0
        else:
            stall += 1
            if stall >= patience:
                factor, stall = factor / 2, 0
    return best, factor, taken


@pytest.mark.parametrize("seed", range(6))
def test_compiled_ascent_takes_the_numpy_steps(seed):
    dense, _, _ = instance(seed, n_clients=50, n_sites=18)
    rng = np.random.default_rng(seed)
    near = nearest_costs(dense, rng.integers(2, 9, size=dense.shape[0]))
    p = 3 + seed % 3
    status = np.zeros(dense.shape[1], dtype=np.int8)
    status[rng.choice(dense.shape[1], size=4, replace=False)] = [1, -1, -1, 0]
    upper = optimum(dense, p)[0] * 1.05
    start = np.sort(dense, axis=1)[:, p]
    for steps in (0, 1, 7, 60, 250):
        run = ascend(near, p, status, start, upper, steps=steps, factor=1.5, patience=6)
        best, factor, taken = reference_ascent(near, p, status, start, upper, steps, 1.5, 6)
        assert run.steps == taken
        assert run.factor == factor
        assert run.best.bound == pytest.approx(best.bound, rel=1e-11)
        np.testing.assert_allclose(run.best.multipliers, best.multipliers, rtol=1e-11)
        np.testing.assert_allclose(run.best.rho, best.rho, rtol=1e-11, atol=1e-9)
        np.testing.assert_array_equal(run.best.selected, best.selected)
        assert (run.best.qth, run.best.next) == pytest.approx((best.qth, best.next), rel=1e-11)


@pytest.mark.parametrize(("seed", "p", "integral"), CASES)
def test_fixing_keeps_every_optimal_plan(seed, p, integral):
    dense, _, _ = instance(seed, integral=integral)
    best, plans = optimum(dense, p)
    upper = best * (1 + 1e-6) + 1e-6  # any incumbent above the optimum
    near = nearest_costs(dense, 5)
    status = np.full(dense.shape[1], FREE, dtype=np.int8)
    start = np.sort(dense, axis=1)[:, p]
    for steps in (1, 10, 50, 400):
        run = ascend(near, p, status, start, upper, steps=steps)
        assert run.best.bound <= best + 1e-9 * best
        close, force = fixing(run.best, status, upper - 1e-9 * upper)
        for plan in plans:
            assert not close[list(plan)].any(), "a site of an optimal plan was closed"
            assert set(np.flatnonzero(force)) <= set(plan), "a site outside it was forced open"


@pytest.mark.parametrize(("seed", "p", "integral"), CASES)
def test_fixing_is_exactly_the_forced_bound_test(seed, p, integral):
    dense, _, _ = instance(seed, integral=integral)
    best, _ = optimum(dense, p)
    near = nearest_costs(dense, 6)
    status = np.full(dense.shape[1], FREE, dtype=np.int8)
    run = ascend(near, p, status, np.sort(dense, axis=1)[:, p], best, steps=300)
    point = run.best
    for level in (best * (1 + 1e-3), best * (1 + 2e-2)):
        close, force = fixing(point, status, level)
        assert close.any() or force.any(), "the test instance should fix something"
        for site in range(dense.shape[1]):
            flipped = status.copy()
            flipped[site] = -1 if point.selected[site] else 1
            lifted = evaluate(near, point.multipliers, p, flipped).bound
            expected = lifted >= level
            assert (force if point.selected[site] else close)[site] == expected
            assert not (close if point.selected[site] else force)[site]


@pytest.mark.parametrize(("seed", "p", "integral"), CASES)
def test_branch_and_bound_finds_and_proves_the_optimum(seed, p, integral):
    dense, _, _ = instance(seed, integral=integral)
    best, _ = optimum(dense, p)
    start = np.arange(p)  # a poor start: the first p sites
    result = median_branch_and_bound(dense, p, start, time.perf_counter() + 30)
    assert result.proven
    assert result.value == pytest.approx(best, rel=1e-12)
    assert result.value == pytest.approx(float(dense[:, result.plan].min(axis=1).sum()))
    assert result.bound <= best + 1e-9 * best
    assert result.bound >= best * (1 - 1e-8)
    assert not result.closed[result.plan].any()


@pytest.mark.parametrize(("seed", "p", "integral"), CASES)
def test_stopped_tree_reports_a_valid_bound(seed, p, integral):
    dense, _, _ = instance(seed, n_clients=60, n_sites=16, integral=integral)
    best, _ = optimum(dense, p)
    result = median_branch_and_bound(dense, p, np.arange(p), time.perf_counter() + 30,
                                     root_steps=30, node_steps=5, max_nodes=3)
    assert result.bound <= best + 1e-9 * best <= result.value + 2e-9 * best
    if not result.proven:
        assert result.bound < result.value


@pytest.mark.parametrize(("seed", "p", "integral"), CASES)
def test_gap_prunes_only_within_the_gap(seed, p, integral):
    dense, _, _ = instance(seed, n_clients=60, n_sites=16, integral=integral)
    best, plans = optimum(dense, p)
    values = sorted(float(dense[:, list(plan)].min(axis=1).sum())
                    for plan in combinations(range(16), p))
    second = next(value for value in values if value > best * (1 + 1e-9))
    gap = 1.5 * (second - best) / second  # the second-best plan is within the gap
    worse = [plan for plan in combinations(range(16), p)
             if float(dense[:, list(plan)].min(axis=1).sum()) == second][0]
    result = median_branch_and_bound(dense, p, np.array(worse), time.perf_counter() + 30,
                                     gap=gap, root_steps=5, node_steps=3)
    assert result.proven
    assert result.bound <= best + 1e-9 * best
    assert result.value <= best * (1 + gap) / (1 - gap)


@pytest.mark.parametrize("seed", range(4))
def test_pmedian_solve_proves_the_optimum(seed):
    _, weights, distance = instance(seed, n_clients=40, n_sites=15)
    dense = weights[:, None] * distance
    best, _ = optimum(dense, 3)
    result = PMedian.from_cost_matrix(distance, weights, p=3).solve(time_limit=30, gap=1e-9)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(best, rel=1e-9)
    assert result.bound <= best + 1e-9 * best
    assert "branch-and-bound" in result.report.message


def test_tree_keeps_its_deadline():
    rng = np.random.default_rng(3)
    clients = rng.uniform(0, 10_000, size=(1_500, 2))
    sites = rng.uniform(0, 10_000, size=(300, 2))
    weights = rng.integers(1, 100, size=1_500).astype(float)
    dense = weights[:, None] * np.linalg.norm(clients[:, None] - sites[None], axis=2)
    plan, upper = greedy_interchange(dense, 10)
    started = time.perf_counter()
    result = median_branch_and_bound(dense, 10, plan, started + 1.5)
    assert time.perf_counter() - started <= 1.5 + 0.5
    assert result.value <= upper
    assert result.bound <= result.value
    assert result.proven or result.bound < result.value


def test_tree_hands_over_when_it_will_not_finish():
    # 1,500 clients and p = 10: the tree needs far longer than the 3 s it is given, and says
    # so after its first seconds instead of running to the deadline.
    rng = np.random.default_rng(5)
    clients = rng.uniform(0, 10_000, size=(1_500, 2))
    sites = rng.uniform(0, 10_000, size=(300, 2))
    weights = rng.integers(1, 100, size=1_500).astype(float)
    dense = weights[:, None] * np.linalg.norm(clients[:, None] - sites[None], axis=2)
    plan, upper = greedy_interchange(dense, 10)
    started = time.perf_counter()
    result = median_branch_and_bound(dense, 10, plan, started + 30.0, hand_over=started)
    elapsed = time.perf_counter() - started
    assert not result.proven
    assert elapsed < 15.0, "the tree ran on although its bound could not close the gap"
    assert result.bound < result.value <= upper
    full = median_branch_and_bound(dense, 10, plan, time.perf_counter() + elapsed + 2.0)
    assert result.bound <= full.value
