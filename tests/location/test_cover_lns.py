"""The set cover neighbourhood search: never dearer than its start, exact when it frees all.

Seeded covers of random points where Chvátal's greedy is not optimal; the optimum is the
plain MIP solved here with HiGHS to proof.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial import cKDTree

from optimizer.location._cover_lns import cover_lns
from optimizer.location._coverage_search import SiteRules, cover_greedy
from optimizer.solvers import MipProblem, solve_mip

SEEDS = [1, 2, 3, 4]


def cover_instance(seed: int) -> tuple[sp.csr_array, np.ndarray]:
    """400 clients and 80 sites in a 100 square, radius 15; clients no site reaches dropped."""
    rng = np.random.default_rng(seed)
    clients = rng.uniform(0, 100, size=(400, 2))
    sites = rng.uniform(0, 100, size=(80, 2))
    reach = cKDTree(clients).sparse_distance_matrix(cKDTree(sites), 15.0,
                                                    output_type="coo_matrix").tocsr()
    reach.data[:] = 1.0
    csr = sp.csr_array(reach)
    return csr, np.diff(csr.indptr) > 0


def optimum(csr: sp.csr_array, need: np.ndarray) -> float:
    rows = np.flatnonzero(need)
    n = csr.shape[1]
    problem = MipProblem(np.ones(n), sp.csr_array(csr[rows]), np.ones(len(rows)),
                         np.full(len(rows), np.inf), np.zeros(n), np.ones(n), np.ones(n, bool))
    solution = solve_mip(problem, "highs", 60, 1e-9)
    assert solution.report.status == "optimal"
    assert solution.values is not None
    return float((solution.values > 0.5).sum())


def greedy_start(csr: sp.csr_array, need: np.ndarray) -> tuple[np.ndarray, SiteRules]:
    n = csr.shape[1]
    rules = SiteRules(allowed=np.ones(n, bool), fixed=np.zeros(n, bool))
    plan = cover_greedy(csr, sp.csc_array(csr), need, np.ones(n), rules)
    assert plan is not None
    return plan, rules


def test_greedy_is_not_optimal_on_some_seed() -> None:
    """Meta-check: the instances are not ones greedy already solves."""
    misses = 0
    for seed in SEEDS:
        csr, need = cover_instance(seed)
        plan, _ = greedy_start(csr, need)
        misses += int(plan.sum() > optimum(csr, need))
    assert misses >= 1


@pytest.mark.parametrize("seed", SEEDS)
def test_search_covers_everything_and_is_never_dearer_than_its_start(seed: int) -> None:
    csr, need = cover_instance(seed)
    plan, rules = greedy_start(csr, need)
    found = cover_lns(csr, sp.csc_array(csr), need, np.ones(csr.shape[1]), rules, plan,
                      time.perf_counter() + 20, "highs", size=3)
    assert np.all((csr @ found.plan.astype(float))[need] >= 1)
    assert found.value == found.plan.sum() <= plan.sum()
    assert found.value >= optimum(csr, need)


@pytest.mark.parametrize("seed", SEEDS)
def test_search_freeing_every_site_reaches_the_optimum(seed: int) -> None:
    csr, need = cover_instance(seed)
    plan, rules = greedy_start(csr, need)
    found = cover_lns(csr, sp.csc_array(csr), need, np.ones(csr.shape[1]), rules, plan,
                      time.perf_counter() + 30, "highs", size=csr.shape[1])
    assert found.value == optimum(csr, need)


def test_kept_open_sites_stay_open() -> None:
    csr, need = cover_instance(1)
    n = csr.shape[1]
    fixed = np.zeros(n, bool)
    fixed[[0, 7]] = True
    rules = SiteRules(allowed=np.ones(n, bool), fixed=fixed)
    plan = cover_greedy(csr, sp.csc_array(csr), need, np.ones(n), rules)
    assert plan is not None
    found = cover_lns(csr, sp.csc_array(csr), need, np.ones(n), rules, plan,
                      time.perf_counter() + 20, "highs", size=n)
    assert found.plan[[0, 7]].all()
    assert np.all((csr @ found.plan.astype(float))[need] >= 1)
