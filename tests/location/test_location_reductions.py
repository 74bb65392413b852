"""Set-cover reductions and the sparse p-median Lagrangian keep the optimum (brute force).

Small seeded instances, each solved by enumeration here: the reduced set cover's optimum plus
its essential sites equals the original optimum and its covers cover every client; the sparse
p-median Lagrangian bound (with kept-open sites) never exceeds the optimum, and the sites it
rules out or fixes open agree with every strictly better plan.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp

from optimizer.location import PMedian, SetCover
from optimizer.location._cover_reduction import reduce_cover
from optimizer.location._coverage_search import SiteRules
from optimizer.location._median_search import median_lagrangian, median_value


def cover_instance(seed: int, n_rows: int = 30, n_columns: int = 12):
    """Geometric cover: clients and sites in a square, a site covers the clients within 30."""
    rng = np.random.default_rng(seed)
    clients = rng.uniform(0, 100, size=(n_rows, 2))
    sites = rng.uniform(0, 100, size=(n_columns, 2))
    reach = np.linalg.norm(clients[:, None] - sites[None], axis=2) <= 32.0
    reach = reach[reach.any(axis=1)]
    cost = rng.integers(1, 4, size=n_columns).astype(float)
    return reach, cost


def cheapest_cover(reach: np.ndarray, cost: np.ndarray, columns: np.ndarray
                   ) -> tuple[float, list[int]]:
    """Enumerate subsets of ``columns``: the cheapest covering every row (inf if none)."""
    if reach.shape[0] == 0:
        return 0.0, []
    best, chosen = np.inf, []
    for size in range(1, len(columns) + 1):
        for subset in combinations(columns, size):
            if cost[list(subset)].sum() < best and reach[:, list(subset)].any(axis=1).all():
                best, chosen = float(cost[list(subset)].sum()), list(subset)
    return best, chosen


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("unit", [True, False])
def test_cover_reductions_keep_the_optimum(seed: int, unit: bool) -> None:
    reach, cost = cover_instance(seed)
    if unit:
        cost = np.ones_like(cost)
    reduction = reduce_cover(sp.csr_array(reach.astype(float)), cost)
    everything = np.arange(reach.shape[1])
    optimum, _ = cheapest_cover(reach, cost, everything)
    kept = np.flatnonzero(reduction.columns)
    left = reach[reduction.rows]
    assert not (reduction.columns & reduction.fixed_open).any()
    reduced, best = cheapest_cover(left, cost, kept)
    fixed_cost = float(cost[reduction.fixed_open].sum())
    assert reduced + fixed_cost == pytest.approx(optimum)
    # The reduced problem's optimal cover plus the essential sites covers every client.
    plan = np.zeros(reach.shape[1], dtype=bool)
    plan[best] = True
    plan |= reduction.fixed_open
    assert reach[:, plan].any(axis=1).all()


def test_cover_reductions_shrink_a_duplicated_instance() -> None:
    # Rows 0/1 identical, row 2 a superset of row 0: one row stays; site 2 is dominated.
    reach = np.array([[1, 1, 0], [1, 1, 0], [1, 1, 1]], dtype=float)
    reduction = reduce_cover(sp.csr_array(reach), np.ones(3))
    assert reduction.rows.tolist() == [False, False, False]
    assert reduction.fixed_open.sum() == 1 and reduction.fixed_open[:2].any()


@pytest.mark.parametrize("seed", range(4))
def test_set_cover_solve_uses_the_reductions_and_stays_optimal(seed: int) -> None:
    reach, cost = cover_instance(seed, 40, 14)
    distance = np.where(reach, 1.0, np.inf)
    model = SetCover.from_cost_matrix(distance, np.ones(reach.shape[0]), radius=1.0,
                                      opening_cost=cost)
    result = model.solve(time_limit=20)
    assert "reductions" in result.report.message
    assert reach[:, result.sites].any(axis=1).all()
    optimum, _ = cheapest_cover(reach, cost, np.arange(reach.shape[1]))
    assert result.objective == pytest.approx(float(cost[result.sites].sum()))
    assert result.objective == pytest.approx(optimum)
    assert result.status == "optimal"


def median_instance(seed: int, n_clients: int = 40, n_sites: int = 12, radius: float = 60.0):
    rng = np.random.default_rng(seed)
    clients = rng.uniform(0, 100, size=(n_clients, 2))
    sites = rng.uniform(0, 100, size=(n_sites, 2))
    distance = np.linalg.norm(clients[:, None] - sites[None], axis=2) + 1e-3
    weights = rng.integers(1, 20, size=n_clients).astype(float)
    reach = sp.csr_array(np.where(distance <= radius, distance, 0.0))
    return reach, weights, distance


def plans(n_sites: int, p: int, fixed: np.ndarray):
    free = [j for j in range(n_sites) if not fixed[j]]
    for subset in combinations(free, p - int(fixed.sum())):
        mask = fixed.copy()
        mask[list(subset)] = True
        yield mask


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_fixed", [0, 2])
def test_sparse_median_lagrangian_bound_and_fixing_are_valid(seed: int, n_fixed: int) -> None:
    reach, weights, _ = median_instance(seed)
    n_sites, p = reach.shape[1], 4
    fixed = np.zeros(n_sites, dtype=bool)
    fixed[:n_fixed] = True
    values = {tuple(np.flatnonzero(m)): median_value(reach, weights, m)
              for m in plans(n_sites, p, fixed)}
    optimum = min(values.values())
    assert np.isfinite(optimum)
    # An incumbent 2 % above the optimum leaves strictly better plans to protect.
    upper = 1.02 * optimum
    rules = SiteRules(allowed=np.ones(n_sites, dtype=bool), fixed=fixed)
    result = median_lagrangian(reach, weights, p, rules, upper, deadline=np.inf)
    assert result is not None
    assert result.bound <= optimum + 1e-6 * optimum
    assert result.bound >= 0.5 * optimum  # a real bound, not a trivial one
    assert int(result.plan.sum()) == p and (result.plan >= fixed).all()
    for sites, value in values.items():
        if value < upper - 1e-9 * upper:
            mask = np.zeros(n_sites, dtype=bool)
            mask[list(sites)] = True
            assert not (mask & result.closed).any()
            assert (mask | ~result.opened).all()


@pytest.mark.parametrize("seed", range(4))
def test_pmedian_with_kept_open_sites_is_optimal_against_brute_force(seed: int) -> None:
    reach, weights, _ = median_instance(seed, radius=80.0)
    n_sites, p = reach.shape[1], 5
    fixed = np.zeros(n_sites, dtype=bool)
    fixed[[0, 1]] = True
    optimum = min(median_value(reach, weights, m) for m in plans(n_sites, p, fixed))
    result = PMedian.from_cost_matrix(reach, weights, p=p, fixed=[0, 1]).solve(time_limit=20)
    mask = np.zeros(n_sites, dtype=bool)
    mask[result.sites] = True
    assert result.objective == pytest.approx(median_value(reach, weights, mask))
    assert result.bound <= optimum + 1e-6 * optimum <= result.objective + 2e-6 * optimum
    assert result.objective == pytest.approx(optimum)
    assert result.status == "optimal"
