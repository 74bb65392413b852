"""Infeasible inputs are explained before solving, in words a planner can act on."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from optimizer.errors import InfeasibleError, InputError
from optimizer.location import MCLP, CapacitatedPMedian, PCenter, PMedian, SetCover


def line_instance(n_clients: int = 50, n_candidates: int = 10):
    clients = np.linspace(0, 10_000, n_clients)
    sites = np.linspace(0, 10_000, n_candidates)
    return np.abs(clients[:, None] - sites[None, :]), np.ones(n_clients)


def test_set_cover_lists_unreachable_cells():
    cost, weights = line_instance()
    cost[[12, 40, 41], :] = 9_000  # three cells far from every candidate
    with pytest.raises(InfeasibleError) as error:
        SetCover.from_cost_matrix(cost, weights, radius=5_000).solve()
    reasons = error.value.reasons
    assert len(reasons) == 1
    assert "3 demand cells are beyond 5,000" in reasons[0]
    assert "cells 12, 40, 41" in reasons[0]


def test_excluded_candidates_count_as_unreachable():
    cost, weights = line_instance(n_clients=5, n_candidates=5)
    with pytest.raises(InfeasibleError, match="cells 0"):
        SetCover.from_cost_matrix(cost, weights, radius=100, excluded=[0]).solve()


def test_capacity_shortfall_quotes_both_numbers():
    cost, weights = line_instance(n_clients=29, n_candidates=4)
    weights = np.full(29, 50.0)  # total demand 1,450
    capacity = np.array([300.0, 300.0, 300.0, 300.0])  # 1,200
    with pytest.raises(InfeasibleError) as error:
        CapacitatedPMedian.from_cost_matrix(cost, weights, p=4, capacity=capacity).solve()
    assert "total capacity 1,200" in str(error.value)
    assert "total demand 1,450" in str(error.value)


def test_budget_below_kept_open_sites():
    cost, weights = line_instance()
    opening_cost = np.full(10, 0.8e6)
    with pytest.raises(InfeasibleError) as error:
        PMedian.from_cost_matrix(
            cost, weights, p=4, fixed=[0, 1, 2], opening_cost=opening_cost, budget=2.0e6
        ).solve()
    assert "budget 2.0 M cannot pay for the 3 existing sites kept open (2.4 M)" in str(error.value)


def test_budget_below_cheapest_p_sites():
    cost, weights = line_instance()
    with pytest.raises(InfeasibleError, match="cheapest choice costs 4"):
        MCLP.from_cost_matrix(
            cost, weights, radius=1000, p=4, opening_cost=np.ones(10), budget=3
        ).solve()


def test_all_reasons_are_collected_together():
    cost, weights = line_instance()
    with pytest.raises(InfeasibleError) as error:
        PMedian.from_cost_matrix(cost, weights, p=1, fixed=[0, 1], excluded=[1]).solve()
    reasons = error.value.reasons
    assert any("both kept open" in r and "1" in r for r in reasons)
    assert any("p = 1" in r and "2 existing" in r for r in reasons)


def test_more_sites_than_candidates():
    cost, weights = line_instance(n_candidates=3)
    with pytest.raises(InfeasibleError, match="only 2 candidates may open"):
        PMedian.from_cost_matrix(cost, weights, p=3, excluded=[2]).solve()


def test_pmedian_client_out_of_reach():
    cost, weights = line_instance()
    sparse = sp.csr_array(np.where(cost <= 500, cost, 0.0))
    sparse.eliminate_zeros()  # a sparse matrix stores pairs at distance 0 only explicitly
    reached = np.diff(sparse.indptr) > 0
    assert not reached.all()
    with pytest.raises(InfeasibleError) as error:
        PMedian.from_cost_matrix(sparse, weights, p=2).solve()
    lonely = np.flatnonzero(~reached)
    assert f"{len(lonely)} demand cells are beyond reach" in error.value.reasons[0]
    assert ", ".join(str(i) for i in lonely[:3]) in error.value.reasons[0]


def test_reach_conflict_found_by_solver():
    cost, weights = line_instance()
    cost[cost > 1_500] = np.inf  # every client reaches a site, but not with only two sites
    with pytest.raises(InfeasibleError, match="reach"):
        PMedian.from_cost_matrix(cost, weights, p=2).solve()


def test_spacing_conflict_found_by_solver():
    cost, weights = line_instance(n_candidates=4)
    sites = np.linspace(0, 10_000, 4)
    site_distance = np.abs(sites[:, None] - sites[None, :])
    # p-center treats p as a maximum, so fewer, well-spaced sites are a valid answer.
    result = PCenter.from_cost_matrix(
        cost, weights, p=4, min_spacing=5_000, candidate_distance=site_distance
    ).solve()
    assert np.all(np.diff(np.sort(sites[result.sites])) >= 5_000)
    with pytest.raises(InfeasibleError, match="spacing"):
        PMedian.from_cost_matrix(
            cost, weights, p=4, min_spacing=5_000, candidate_distance=site_distance
        ).solve()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c, w: PMedian.from_cost_matrix(c, w[:-1], p=2), "`weights` has 49 values"),
        (lambda c, w: PMedian.from_cost_matrix(-c, w, p=2), "negative distance"),
        (lambda c, w: PMedian.from_cost_matrix(c[0], w, p=2), "2-D"),
        (lambda c, w: PMedian.from_cost_matrix(c, w, p=2.5), "`p` is 2.5"),
        (lambda c, w: MCLP.from_cost_matrix(c, w, radius=-1, p=2), "`radius`"),
        (lambda c, w: MCLP.from_cost_matrix(c, w, radius=10), "`p`"),
        (lambda c, w: PMedian.from_cost_matrix(c, w, p=2, fixed=[99]), "`fixed`"),
        (lambda c, w: PMedian.from_cost_matrix(c, w, p=2, budget=5), "`opening_cost`"),
        (lambda c, w: PMedian.from_cost_matrix(c, w, p=2, min_spacing=5), "candidate_distance"),
        (lambda c, w: CapacitatedPMedian.from_cost_matrix(c, w, capacity=np.ones(10)), "`p`"),
        (lambda c, w: PMedian.from_cost_matrix(c, -w, p=2), "`weights` must be"),
    ],
)
def test_bad_arguments_name_the_argument(call, match):
    cost, weights = line_instance()
    with pytest.raises(InputError, match=match):
        call(cost, weights)


def test_unknown_solver_lists_available():
    cost, weights = line_instance()
    with pytest.raises(InputError, match="available solvers: highs"):
        PMedian.from_cost_matrix(cost, weights, p=2).solve(solver="magic")


def test_time_limit_hit_is_not_called_optimal():
    rng = np.random.default_rng(7)
    clients, sites = rng.uniform(0, 1, (500, 2)), rng.uniform(0, 1, (120, 2))
    cost = np.rint(1000 * np.linalg.norm(clients[:, None] - sites[None], axis=2))
    try:
        # A kept-open site skips the presolve, so the MIP itself meets the time limit.
        result = PMedian.from_cost_matrix(cost, np.ones(500), p=6, fixed=[0]).solve(time_limit=0.05)
    except Exception as error:  # no incumbent in time: a SolverError, never a fake optimum
        assert "time_limit" in str(error)
        return
    assert result.status in ("optimal", "feasible")
    if result.status == "feasible":
        assert result.gap is None or result.gap > 0
        assert "NOT proven optimal" in result.summary()


def test_budget_message_counts_new_sites_apart_from_kept_open_ones():
    cost = np.array([[0.0, 1.0, 2.0, 3.0]])
    model = PMedian.from_cost_matrix(cost, np.array([1.0]), p=3, fixed=[0],
                                     opening_cost=np.array([0.0, 4.0, 5.0, 6.0]), budget=8.0)
    with pytest.raises(InfeasibleError) as error:
        model.solve()
    message = str(error.value)
    assert "cannot pay for 2 new sites besides the 1 existing sites kept open" in message
    assert "costs 9" in message
