"""Large-neighbourhood search for set cover: exact sub-MIPs around the incumbent.

A cover of a chain-sized region (10,000 clients, 1,000 sites) is too big for the MIP to
improve in a minute, but a few neighbouring sites of it are small enough to re-solve
exactly. Each step of :func:`cover_lns`:

1. picks a seed among the cover's open sites and the ``size`` open sites nearest to it, where
   two sites are neighbours when some candidate reaches clients of both (their reach areas
   lie within two radii);
2. closes them: the clients they alone covered become the sub-problem;
3. solves the cover of those clients exactly with HiGHS over every site that reaches one of
   them, with the closed sites as a start and their cost as a cutoff;
4. keeps the sub-cover when it is cheaper, and drops sites made redundant.

A seed whose neighbourhood is proven to hold no cheaper cover is not tried again until the
cover changes; when every seed is exhausted the neighbourhoods grow. The cover only ever
gets cheaper, so the search can stop at any moment with its best cover.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from optimizer.location._coverage_search import SiteRules, cover_drop_redundant
from optimizer.solvers import MipProblem, solve_mip

SUB_MIP_SECONDS = 5.0
"""Longest time one neighbourhood's sub-MIP may take."""


@dataclass(frozen=True)
class CoverSearch:
    """What the neighbourhood search found.

    Attributes
    ----------
    plan
        Boolean per site: the cheapest cover met (the start when nothing better was found).
    value
        Its cost.
    steps
        Sub-MIPs solved.
    improvements
        Steps that made the cover cheaper.
    """

    plan: np.ndarray
    value: float
    steps: int
    improvements: int


def cover_lns(
    csr: sp.csr_array,
    csc: sp.csc_array,
    need: np.ndarray,
    cost: np.ndarray,
    rules: SiteRules,
    plan: np.ndarray,
    deadline: float,
    solver: str | None = None,
    size: int = 8,
    seed: int = 0,
) -> CoverSearch:
    """Improve the cover ``plan`` by exact re-covers of groups of neighbouring sites.

    Parameters
    ----------
    csr, csc
        Client x site reach indicator (allowed sites only), row- and column-compressed.
    need
        Boolean per client: must be covered.
    cost
        Opening cost per site.
    rules
        Allowed and kept-open sites (budget and spacing are not handled here).
    plan
        A cover of every client in ``need`` (boolean per site).
    deadline
        A :func:`time.perf_counter` value after which no new step starts.
    solver
        MIP solver of the sub-problems (see :func:`optimizer.solvers.resolve_solver`).
    size
        Open sites freed per neighbourhood at first; grows when every seed is exhausted.
    seed
        Seed of the random choice of neighbourhoods.

    Returns
    -------
    CoverSearch
        The best cover, its cost and the search's counts. The cover is never dearer than
        ``plan``.

    Examples
    --------
    >>> reach = sp.csr_array(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=float))
    >>> rules = SiteRules(allowed=np.ones(3, bool), fixed=np.zeros(3, bool))
    >>> found = cover_lns(reach, sp.csc_array(reach), np.ones(3, bool), np.ones(3), rules,
    ...                   np.ones(3, bool), time.perf_counter() + 5, "highs")
    >>> found.value
    2.0
    """
    best = plan.copy()
    best_value = float(cost[best].sum())
    count = csc @ best.astype(float)
    movable = rules.allowed & ~rules.fixed
    near = _neighbour_sites(csc)
    rng = np.random.default_rng(seed)
    exhausted = np.zeros(len(best), dtype=bool)
    steps = improvements = 0
    while time.perf_counter() < deadline:
        seeds = np.flatnonzero(best & movable & ~exhausted)
        if not len(seeds):
            if size >= int((best & movable).sum()):
                break
            size, exhausted[:] = size + 4, False
            continue
        start = int(rng.choice(seeds))
        freed = _nearest_open(near, best & movable, start, size)
        uncovered = need & (count - csc @ freed.astype(float) <= 0)
        rows = np.flatnonzero(uncovered)
        columns = np.flatnonzero(movable & ((csr.T @ uncovered.astype(float)) > 0))
        freed_cost = float(cost[freed].sum())
        steps += 1
        better = _solve_sub_cover(csr, rows, columns, cost, freed, freed_cost, deadline, solver)
        if better is None:
            exhausted[start] = True
            continue
        best[freed] = False
        best[columns[better]] = True
        best = cover_drop_redundant(csc, need, cost, rules, best)
        count = csc @ best.astype(float)
        best_value = float(cost[best].sum())
        improvements += 1
        exhausted[:] = False
    return CoverSearch(best, best_value, steps, improvements)


def _neighbour_sites(csc: sp.csc_array) -> sp.csr_array:
    """Return the site x site 0/1 matrix: some site reaches clients of both (two radii)."""
    shared = (csc.T @ csc) > 0  # sites with a client in common
    return sp.csr_array((shared @ shared) > 0, dtype=float)


def _nearest_open(near: sp.csr_array, open_mask: np.ndarray, start: int, size: int) -> np.ndarray:
    """Return the ``size`` open sites nearest to ``start`` in the neighbour graph (breadth first)."""
    freed = np.zeros(len(open_mask), dtype=bool)
    freed[start] = True
    frontier = freed.copy()
    seen = freed.copy()
    while freed.sum() < size and frontier.any():
        reached = (near.T @ frontier.astype(float)) > 0
        frontier = reached & ~seen
        seen |= frontier
        new = np.flatnonzero(frontier & open_mask)
        room = size - int(freed.sum())
        freed[new[:room]] = True
    return freed


def _solve_sub_cover(
    csr: sp.csr_array, rows: np.ndarray, columns: np.ndarray, cost: np.ndarray,
    freed: np.ndarray, freed_cost: float, deadline: float, solver: str | None,
) -> np.ndarray | None:
    """Positions in ``columns`` of a cover of ``rows`` cheaper than ``freed``, or ``None``.

    ``None`` when no cheaper cover exists or none was found in the time given.
    """
    if not len(rows):
        return np.zeros(len(columns), dtype=bool)  # the freed sites were all redundant
    matrix = sp.csr_array(csr[rows][:, columns])
    sub_cost = cost[columns].astype(float)
    integral = bool(np.all(np.abs(sub_cost - np.rint(sub_cost)) < 1e-9))
    cutoff = freed_cost - (0.5 if integral else 1e-9 * max(1.0, freed_cost))
    problem = MipProblem(
        objective=sub_cost, matrix=matrix, row_lower=np.ones(len(rows)),
        row_upper=np.full(len(rows), np.inf), col_lower=np.zeros(len(columns)),
        col_upper=np.ones(len(columns)), integer=np.ones(len(columns), dtype=bool),
        sense="min", cutoff=cutoff, start=freed[columns].astype(float),
    )
    seconds = min(SUB_MIP_SECONDS, deadline - time.perf_counter())
    if seconds <= 0.05:
        return None
    solution = solve_mip(problem, solver, seconds, 1e-9)
    if solution.values is None:
        return None
    chosen = solution.values > 0.5
    if float(sub_cost[chosen].sum()) >= freed_cost - 1e-9 * max(1.0, freed_cost):
        return None
    if np.any((matrix @ chosen.astype(float)) < 1):
        return None
    return chosen
