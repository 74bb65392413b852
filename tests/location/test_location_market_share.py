"""MarketShare by outer approximation against brute force and against the Haase formulation.

Every test enumerates all site sets meeting the side constraints, computes the Huff capture
directly, and checks the optimum, the plan, the reported objective and bound.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from optimizer.errors import InputError
from optimizer.location import MarketShare
from optimizer.location.market_share import captured_demand

SEEDS = range(4)


def random_instance(seed: int, n_clients: int = 40, n_candidates: int = 9, density: float = 0.6):
    """Seeded sparse shares below 1 (zeros: out of reach) and integer demand."""
    rng = np.random.default_rng(seed)
    share = rng.uniform(0.05, 0.8, size=(n_clients, n_candidates))
    share[rng.random(share.shape) > density] = 0.0
    weights = rng.integers(1, 50, size=n_clients).astype(float)
    opening_cost = rng.integers(1, 6, size=n_candidates).astype(float)
    sites = rng.uniform(0, 100, size=(n_candidates, 2))
    site_distance = np.linalg.norm(sites[:, None] - sites[None], axis=2)
    return share, weights, opening_cost, site_distance


def huff_value(share, weights, sites):
    """Return the captured demand, written out independently (``share == 1``: all of it)."""
    chosen = share[:, list(sites)]
    whole = (chosen >= 1.0).any(axis=1)
    safe = np.where(chosen >= 1.0, 0.0, chosen)
    ratio = (safe / (1.0 - safe)).sum(axis=1)
    return float((weights * np.where(whole, 1.0, ratio / (1.0 + ratio))).sum())


def best_by_enumeration(share, weights, sizes, *, fixed=(), excluded=(), opening_cost=None,
                        budget=None, site_distance=None, min_spacing=None):
    """Best value and plan over every site set meeting the side constraints."""
    n = share.shape[1]
    best, best_sites = -np.inf, None
    for size in sizes:
        for chosen in combinations(range(n), size):
            chosen_set = set(chosen)
            if not set(fixed) <= chosen_set or chosen_set & set(excluded):
                continue
            if budget is not None and opening_cost[list(chosen)].sum() > budget + 1e-9:
                continue
            if min_spacing is not None and any(
                site_distance[a, b] < min_spacing and not (a in fixed and b in fixed)
                for a, b in combinations(chosen, 2)
            ):
                continue
            value = huff_value(share, weights, chosen)
            if value > best:
                best, best_sites = value, np.array(chosen)
    return best, best_sites


def check_report(result, share, weights, best):
    """Objective is the true capture of the plan, the bound covers the optimum."""
    assert result.objective == pytest.approx(best, rel=1e-9)
    assert result.objective == pytest.approx(captured_demand(share, weights, result.sites), rel=1e-9)
    assert result.details["captured_demand"] == pytest.approx(result.objective, rel=1e-9)
    assert result.bound >= best * (1 - 1e-9)
    assert result.status == "optimal"
    assert result.gap <= 1e-6


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("p", [2, 3])
def test_outer_matches_enumeration_and_haase(seed, p):
    share, weights, _, _ = random_instance(seed)
    best, _ = best_by_enumeration(share, weights, [p])
    model = MarketShare.from_share_matrix(share, weights, p=p)
    outer = model.solve(gap=1e-7)
    haase = model.solve(gap=1e-7, method="haase")
    check_report(outer, share, weights, best)
    assert haase.objective == pytest.approx(best, rel=1e-6)
    assert huff_value(share, weights, haase.sites) == pytest.approx(best, rel=1e-6)
    assert len(outer.sites) == p


@pytest.mark.parametrize("n_groups", [1, 3, 1000])
def test_any_grouping_gives_the_optimum(n_groups):
    share, weights, _, _ = random_instance(11, n_clients=30)
    best, _ = best_by_enumeration(share, weights, [3])
    result = MarketShare.from_share_matrix(share, weights, p=3).solve(gap=1e-7, n_groups=n_groups)
    check_report(result, share, weights, best)


@pytest.mark.parametrize("seed", SEEDS)
def test_fixed_and_excluded_sites(seed):
    share, weights, _, _ = random_instance(20 + seed)
    fixed, excluded = [1], [0, 4]
    best, _ = best_by_enumeration(share, weights, [3], fixed=fixed, excluded=excluded)
    result = MarketShare.from_share_matrix(
        share, weights, p=3, fixed=fixed, excluded=excluded
    ).solve(gap=1e-7)
    check_report(result, share, weights, best)
    assert 1 in result.sites and not set(result.sites) & {0, 4}
    assert result.new_sites.tolist() == sorted(set(result.sites) - {1})


@pytest.mark.parametrize("seed", SEEDS)
def test_budget_without_p(seed):
    share, weights, opening_cost, _ = random_instance(40 + seed)
    budget = 7.0
    best, _ = best_by_enumeration(
        share, weights, range(share.shape[1] + 1), opening_cost=opening_cost, budget=budget
    )
    result = MarketShare.from_share_matrix(
        share, weights, opening_cost=opening_cost, budget=budget
    ).solve(gap=1e-7)
    check_report(result, share, weights, best)
    assert opening_cost[result.sites].sum() <= budget + 1e-9


@pytest.mark.parametrize("seed", SEEDS)
def test_budget_and_spacing_with_p(seed):
    share, weights, opening_cost, site_distance = random_instance(60 + seed)
    spacing = float(np.percentile(site_distance[site_distance > 0], 25))
    options = dict(fixed=[2], opening_cost=opening_cost, budget=11.0)
    best, _ = best_by_enumeration(
        share, weights, [3], site_distance=site_distance, min_spacing=spacing, **options
    )
    result = MarketShare.from_share_matrix(
        share, weights, p=3, min_spacing=spacing, candidate_distance=site_distance, **options
    ).solve(gap=1e-7)
    check_report(result, share, weights, best)
    assert opening_cost[result.sites].sum() <= 11.0 + 1e-9
    for a, b in combinations(result.sites, 2):
        assert site_distance[a, b] >= spacing or {a, b} <= {2}


def test_share_of_one_captures_the_client_whole():
    share, weights, _, _ = random_instance(80, n_clients=25, n_candidates=7)
    share[:5, 3] = 1.0  # no competition for these clients at site 3
    share[5, 6] = 1.0
    best, _ = best_by_enumeration(share, weights, [2])
    model = MarketShare.from_share_matrix(share, weights, p=2)
    outer = model.solve(gap=1e-7)
    assert outer.objective == pytest.approx(best, rel=1e-9)
    assert huff_value(share, weights, outer.sites) == pytest.approx(best, rel=1e-9)
    assert outer.bound >= best * (1 - 1e-9)
    assert model.solve(gap=1e-7, method="haase").objective == pytest.approx(best, rel=1e-6)


def test_time_limited_run_is_feasible_with_an_honest_gap():
    # Tiny time limit: the warm-start plan comes back, never called optimal without proof.
    share, weights, _, _ = random_instance(90, n_clients=400, n_candidates=40, density=0.5)
    result = MarketShare.from_share_matrix(share, weights, p=6).solve(time_limit=1e-4, gap=0.0)
    assert result.status == "feasible"
    assert len(result.sites) == 6
    assert result.gap is not None and result.gap > 0
    assert result.objective == pytest.approx(captured_demand(share, weights, result.sites))
    assert result.bound > result.objective
    assert "NOT proven optimal" in result.summary()


def test_bound_never_below_the_optimum_when_stopped_early():
    share, weights, _, _ = random_instance(91, n_clients=60, n_candidates=10)
    best, _ = best_by_enumeration(share, weights, [4])
    result = MarketShare.from_share_matrix(share, weights, p=4).solve(time_limit=1e-4, gap=0.0)
    assert result.objective <= best * (1 + 1e-9)
    assert result.bound >= best * (1 - 1e-9)
    assert result.status in ("optimal", "feasible")
    if result.status == "optimal":
        assert result.gap <= 1e-9


def test_unknown_method_and_bad_groups_are_explained():
    model = MarketShare.from_share_matrix(np.array([[0.5, 0.2]]), [1.0], p=1)
    with pytest.raises(InputError, match="`method` is 'lp'"):
        model.solve(method="lp")
    with pytest.raises(InputError, match="`n_groups` is 0"):
        model.solve(n_groups=0)


@pytest.mark.parametrize("seed", SEEDS)
def test_marginal_gains_are_exact(seed):
    # gains(S)[j] == F(S + j) - F(S) for every closed j, shares of exactly 1 included.
    from optimizer.location._outer_approximation import HuffCapture

    share, weights, _, _ = random_instance(100 + seed, n_clients=20, n_candidates=6)
    share[:3, 2] = 1.0
    rows, cols = np.nonzero(share)
    capture = HuffCapture.from_pairs(rows, cols, share[rows, cols], weights, 6)
    for open_sites in ([], [2], [0, 2], [1, 4]):
        mask = np.zeros(6, dtype=bool)
        mask[open_sites] = True
        assert capture.value(mask) == pytest.approx(huff_value(share, weights, open_sites))
        gains = capture.gains(mask)
        for j in np.flatnonzero(~mask):
            expected = huff_value(share, weights, [*open_sites, j]) - capture.value(mask)
            assert gains[j] == pytest.approx(expected, abs=1e-9)
