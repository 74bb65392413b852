"""Every location model against brute-force enumeration on tiny seeded instances, per solver.

Each test enumerates all site sets that meet the side constraints, computes the objective
directly, and checks the model returns that optimum with a plan satisfying every constraint.
"""

from __future__ import annotations

from itertools import combinations, product

import numpy as np
import pytest
from scipy.optimize import linprog

from optimizer.errors import SolverError
from optimizer.location import (
    MCLP,
    CapacitatedPMedian,
    MarketShare,
    PCenter,
    PMedian,
    SetCover,
)
from optimizer.solvers import available_solvers


def tiny_instance(seed: int, n_clients: int = 9, n_candidates: int = 6):
    """Seeded random points; integer distances (so every solver, CP-SAT too, is exact)."""
    rng = np.random.default_rng(seed)
    clients = rng.uniform(0, 100, size=(n_clients, 2))
    sites = rng.uniform(0, 100, size=(n_candidates, 2))
    cost = np.rint(np.linalg.norm(clients[:, None] - sites[None], axis=2))
    site_distance = np.rint(np.linalg.norm(sites[:, None] - sites[None], axis=2))
    weights = rng.integers(1, 10, size=n_clients).astype(float)
    opening_cost = rng.integers(1, 6, size=n_candidates).astype(float)
    return cost, weights, site_distance, opening_cost


def site_sets(
    n_candidates: int,
    sizes,
    fixed=(),
    excluded=(),
    opening_cost=None,
    budget=None,
    site_distance=None,
    min_spacing=None,
):
    """Every site set meeting the side constraints."""
    fixed, excluded = set(fixed), set(excluded)
    for size in sizes:
        for chosen in combinations(range(n_candidates), size):
            chosen_set = set(chosen)
            if not fixed <= chosen_set or chosen_set & excluded:
                continue
            if budget is not None and opening_cost[list(chosen)].sum() > budget + 1e-9:
                continue
            if min_spacing is not None:
                close = [
                    (a, b)
                    for a, b in combinations(chosen, 2)
                    if site_distance[a, b] < min_spacing and not (a in fixed and b in fixed)
                ]
                if close:
                    continue
            yield np.array(chosen, dtype=int)


def covered_weight(cost, weights, sites, radius):
    return float(weights[(cost[:, sites] <= radius).any(axis=1)].sum())


def weighted_distance(cost, weights, sites):
    return float((weights * cost[:, sites].min(axis=1)).sum())


def largest_distance(cost, weights, sites):
    return float(cost[weights > 0][:, sites].min(axis=1).max())


def capacitated_cost(cost, weights, capacity, sites):
    """Split-demand transport LP for a fixed site set (inf when capacity is short)."""
    n, k = len(weights), len(sites)
    if capacity[sites].sum() < weights.sum() - 1e-9:
        return np.inf
    c = (weights[:, None] * cost[:, sites]).reshape(-1)
    a_eq = np.kron(np.eye(n), np.ones(k))
    a_ub = np.zeros((k, n * k))
    for j in range(k):
        a_ub[j, j::k] = weights
    result = linprog(
        c,
        A_ub=a_ub,
        b_ub=capacity[sites],
        A_eq=a_eq,
        b_eq=np.ones(n),
        bounds=(0, 1),
        method="highs",
    )
    return float(result.fun) if result.status == 0 else np.inf


SOLVERS = available_solvers()
SEEDS = [0, 1, 2]


def check_sides(
    result,
    *,
    p=None,
    fixed=(),
    excluded=(),
    opening_cost=None,
    budget=None,
    site_distance=None,
    min_spacing=None,
):
    sites = result.sites
    assert sites.dtype.kind == "i"
    assert np.all(np.diff(sites) > 0), "sites are sorted and unique"
    if p is not None:
        assert len(sites) == p
    assert set(fixed) <= set(sites.tolist())
    assert not set(excluded) & set(sites.tolist())
    if budget is not None:
        assert opening_cost[sites].sum() <= budget + 1e-9
    if min_spacing is not None:
        for a in sites:
            for b in sites:
                if a < b and not (a in fixed and b in fixed):
                    assert site_distance[a, b] >= min_spacing
    assigned = result.assignment[result.assignment >= 0]
    assert np.isin(assigned, sites).all(), "clients are assigned to open sites only"


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", SEEDS)
def test_mclp_matches_enumeration(solver, seed):
    cost, weights, site_distance, opening_cost = tiny_instance(seed)
    radius = float(np.median(cost))
    options = dict(fixed=[seed % 6], excluded=[(seed + 3) % 6])
    best = max(covered_weight(cost, weights, s, radius) for s in site_sets(6, [3], **options))
    result = MCLP.from_cost_matrix(cost, weights, radius=radius, p=3, **options).solve(solver)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(best)
    assert covered_weight(cost, weights, result.sites, radius) == pytest.approx(best)
    assert result.coverage == pytest.approx(best / weights.sum())
    check_sides(result, p=3, **options)
    covered = result.assignment >= 0
    assert np.all(cost[covered, result.assignment[covered]] <= radius)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", SEEDS)
def test_mclp_with_budget_and_spacing(solver, seed):
    cost, weights, site_distance, opening_cost = tiny_instance(seed)
    radius = float(np.percentile(cost, 40))
    spacing = float(np.percentile(site_distance[site_distance > 0], 30))
    budget = float(np.sort(opening_cost)[:3].sum() + 2)
    options = dict(
        opening_cost=opening_cost, budget=budget, site_distance=site_distance, min_spacing=spacing
    )
    sets = list(site_sets(6, range(0, 7), **options))
    best = max(covered_weight(cost, weights, s, radius) for s in sets)
    result = MCLP.from_cost_matrix(
        cost,
        weights,
        radius=radius,
        opening_cost=opening_cost,
        budget=budget,
        min_spacing=spacing,
        candidate_distance=site_distance,
    ).solve(solver)
    assert result.objective == pytest.approx(best)
    check_sides(result, **options)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", SEEDS)
def test_pmedian_matches_enumeration(solver, seed):
    cost, weights, site_distance, opening_cost = tiny_instance(seed)
    for p in (1, 2, 4):
        best = min(weighted_distance(cost, weights, s) for s in site_sets(6, [p]))
        result = PMedian.from_cost_matrix(cost, weights, p=p).solve(solver)
        assert result.status == "optimal"
        assert result.objective == pytest.approx(best)
        assert weighted_distance(cost, weights, result.sites) == pytest.approx(best)
        assert np.all(result.assignment >= 0)
        nearest = cost[:, result.sites].min(axis=1)
        assert np.allclose(cost[np.arange(len(weights)), result.assignment], nearest)
        check_sides(result, p=p)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", SEEDS)
def test_pmedian_with_every_side_constraint(solver, seed):
    cost, weights, site_distance, opening_cost = tiny_instance(seed, n_candidates=7)
    spacing = float(np.percentile(site_distance[site_distance > 0], 20))
    options = dict(
        fixed=[1],
        excluded=[4],
        opening_cost=opening_cost,
        budget=float(opening_cost.sum() * 0.6),
        site_distance=site_distance,
        min_spacing=spacing,
    )
    sets = list(site_sets(7, [3], **options))
    if not sets:
        pytest.skip("no feasible set for this seed")
    best = min(weighted_distance(cost, weights, s) for s in sets)
    result = PMedian.from_cost_matrix(
        cost,
        weights,
        p=3,
        fixed=[1],
        excluded=[4],
        opening_cost=opening_cost,
        budget=options["budget"],
        min_spacing=spacing,
        candidate_distance=site_distance,
    ).solve(solver)
    assert result.objective == pytest.approx(best)
    check_sides(result, p=3, **options)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", SEEDS)
def test_set_cover_matches_enumeration(solver, seed):
    cost, weights, site_distance, opening_cost = tiny_instance(seed)
    radius = float(np.percentile(cost.min(axis=1), 100)) + 10
    feasible = [s for s in site_sets(6, range(1, 7)) if (cost[:, s] <= radius).any(axis=1).all()]
    fewest = min(len(s) for s in feasible)
    result = SetCover.from_cost_matrix(cost, weights, radius=radius).solve(solver)
    assert result.objective == pytest.approx(fewest)
    assert len(result.sites) == fewest
    assert (cost[:, result.sites] <= radius).any(axis=1).all(), "every client within radius"
    assert result.coverage == pytest.approx(1.0)
    cheapest = min(opening_cost[s].sum() for s in feasible)
    by_cost = SetCover.from_cost_matrix(
        cost, weights, radius=radius, opening_cost=opening_cost
    ).solve(solver)
    assert by_cost.objective == pytest.approx(cheapest)
    assert opening_cost[by_cost.sites].sum() == pytest.approx(cheapest)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", SEEDS)
def test_pcenter_matches_enumeration(solver, seed):
    cost, weights, site_distance, opening_cost = tiny_instance(seed)
    for p in (1, 2, 3):
        best = min(largest_distance(cost, weights, s) for s in site_sets(6, range(1, p + 1)))
        result = PCenter.from_cost_matrix(cost, weights, p=p).solve(solver)
        assert result.status == "optimal"
        assert result.objective == pytest.approx(best)
        assert largest_distance(cost, weights, result.sites) == pytest.approx(best)
        assert len(result.sites) <= p


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", SEEDS)
def test_capacitated_pmedian_matches_enumeration(solver, seed):
    cost, weights, site_distance, opening_cost = tiny_instance(seed)
    capacity = np.full(6, weights.sum() / 2.5)
    best = min(capacitated_cost(cost, weights, capacity, s) for s in site_sets(6, [3]))
    model = CapacitatedPMedian.from_cost_matrix(cost, weights, p=3, capacity=capacity)
    if solver == "cpsat":
        with pytest.raises(SolverError, match="CP-SAT"):
            model.solve(solver)
        return
    result = model.solve(solver)
    assert result.objective == pytest.approx(best, rel=1e-6)
    served = result.details["served_by_site"]
    assert np.all(served <= capacity + 1e-6), "capacities respected"
    assert served.sum() == pytest.approx(weights.sum())
    assert set(np.flatnonzero(served > 1e-9)) <= set(result.sites.tolist())
    check_sides(result, p=3)


@pytest.mark.parametrize("solver", SOLVERS)
def test_capacitated_single_source(solver):
    cost, weights, site_distance, opening_cost = tiny_instance(5, n_clients=6, n_candidates=4)
    capacity = np.full(4, weights.sum() / 1.6)
    result = CapacitatedPMedian.from_cost_matrix(
        cost, weights, p=2, capacity=capacity, single_source=True
    ).solve(solver)
    assert np.all(result.assignment >= 0)
    load = np.bincount(result.assignment, weights=weights, minlength=4)
    assert np.all(load <= capacity + 1e-6)
    # Enumerate every single-source assignment to two open sites.
    best = np.inf
    for sites in site_sets(4, [2]):
        for choice in product(range(2), repeat=6):
            chosen = sites[list(choice)]
            if np.all(np.bincount(chosen, weights=weights, minlength=4) <= capacity + 1e-9):
                best = min(best, float((weights * cost[np.arange(6), chosen]).sum()))
    assert result.objective == pytest.approx(best)


def huff_capture(share, weights, sites):
    ratio = (share[:, sites] / (1 - share[:, sites])).sum(axis=1)
    return float((weights * ratio / (1 + ratio)).sum())


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("seed", SEEDS)
def test_market_share_matches_enumeration(solver, seed):
    rng = np.random.default_rng(100 + seed)
    share = rng.uniform(0, 0.7, size=(10, 6))
    share[rng.random((10, 6)) < 0.4] = 0.0
    weights = rng.integers(1, 20, size=10).astype(float)
    model = MarketShare.from_share_matrix(share, weights, p=2, fixed=[0])
    if solver == "cpsat":
        with pytest.raises(SolverError):
            model.solve(solver)
        return
    best = max(huff_capture(share, weights, s) for s in site_sets(6, [2], fixed=[0]))
    result = model.solve(solver)
    assert result.objective == pytest.approx(best, rel=1e-6)
    assert huff_capture(share, weights, result.sites) == pytest.approx(best, rel=1e-6)
    assert result.details["captured_demand"] == pytest.approx(best, rel=1e-6)
    check_sides(result, p=2, fixed=[0])


@pytest.mark.parametrize("seed", SEEDS)
def test_mclp_full_cover_shortcut_is_exact(seed):
    # With a wide radius a greedy plan covers every coverable client: that is the bound.
    cost, weights, site_distance, opening_cost = tiny_instance(seed)
    radius = float(np.percentile(cost, 80))
    best = max(covered_weight(cost, weights, s, radius) for s in site_sets(6, [3], fixed=[2]))
    result = MCLP.from_cost_matrix(cost, weights, radius=radius, p=3, fixed=[2]).solve()
    assert result.objective == pytest.approx(best)
    assert covered_weight(cost, weights, result.sites, radius) == pytest.approx(best)
    assert len(result.sites) == 3 and 2 in result.sites
    assert result.status == "optimal"
