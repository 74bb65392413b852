"""p-median: open ``p`` sites minimising the demand-weighted distance to the nearest open site.

Built with the radius formulation of Elloumi (2010), truncated as in García, Labbé & Marín (2011);
see :class:`PMedian`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ..errors import InfeasibleError, SolverError
from ..results import SolveReport, SolveStatus, relative_gap
from ..solvers import MipProblem, resolve_limits, resolve_solver, solve_mip
from ._base import (
    LocationModel,
    nearest_open,
    site_bounds,
    site_rows,
    site_rules,
    with_fixing,
)
from ._inputs import (
    IndexLike,
    SiteOptions,
    check_weights,
    reach_matrix,
    site_count_reasons,
    site_options,
    unreachable_reasons,
)
from ._lagrangian import greedy_interchange
from ._median_search import median_greedy_interchange, median_lagrangian, median_value
from ._median_tree import median_branch_and_bound
from ._result import LocationResult
from .coverage import _check_p


@dataclass(frozen=True)
class DistanceLevels:
    """Distinct distances of each client to the allowed candidates, nearest first, truncated.

    Attributes
    ----------
    level_client, level_distance
        Per level: the client and the distance :math:`D_i^k`.
    first_of_client, last_of_client
        Boolean per level: first / last level of its client.
    entry_level, entry_site
        Per reachable (client, site) pair kept: its level and the site.
    """

    level_client: np.ndarray
    level_distance: np.ndarray
    first_of_client: np.ndarray
    last_of_client: np.ndarray
    entry_level: np.ndarray
    entry_site: np.ndarray
    level_rank: np.ndarray
    ball_size: np.ndarray


def distance_levels(
    reach: sp.csr_array, clients: np.ndarray, options: SiteOptions, p: int
) -> DistanceLevels:
    """Group each client's reachable sites by distinct distance and truncate safely.

    A client's levels stop at the first ball that surely holds an open site: one with at least
    ``n_allowed - p + 1`` sites (at most ``n_allowed - p`` stay closed) or one holding a
    kept-open site. Vectorised: one sort of the pairs, no per-client loop.
    """
    coo = reach.tocoo()
    allowed = options.allowed
    in_model = np.zeros(reach.shape[0], dtype=bool)
    in_model[clients] = True
    keep = allowed[coo.col] & in_model[coo.row]
    rows, cols, dist = coo.row[keep], coo.col[keep], coo.data[keep]
    order = np.lexsort((cols, dist, rows))
    rows, cols, dist = rows[order], cols[order], dist[order]
    n_entries = len(rows)
    new_level = np.ones(n_entries, dtype=bool)
    new_level[1:] = (rows[1:] != rows[:-1]) | (dist[1:] != dist[:-1])
    level_start = np.flatnonzero(new_level)
    entry_level = np.cumsum(new_level) - 1
    level_size = np.diff(np.append(level_start, n_entries))
    level_client = rows[level_start]
    first = np.ones(len(level_start), dtype=bool)
    first[1:] = level_client[1:] != level_client[:-1]
    client_start = np.flatnonzero(first)
    client_of_level = np.cumsum(first) - 1
    cumulative = np.cumsum(level_size)
    before_client = np.concatenate([[0], cumulative])[client_start]
    ball_size = cumulative - before_client[client_of_level]
    holds_fixed = np.add.reduceat(options.fixed_mask[cols].astype(np.int64), level_start) > 0
    threshold = int(allowed.sum()) - p + 1
    stop = (ball_size >= threshold) | holds_fixed
    rank = np.arange(len(level_start)) - client_start[client_of_level]
    big = np.iinfo(np.int64).max
    stop_rank = np.minimum.reduceat(np.where(stop, rank, big), client_start)
    kept_level = rank <= stop_rank[client_of_level]
    last = np.ones(len(level_start), dtype=bool)
    last[:-1] = first[1:]
    last |= rank == stop_rank[client_of_level]
    new_index = np.cumsum(kept_level) - 1
    kept_entry = kept_level[entry_level]
    return DistanceLevels(
        level_client=level_client[kept_level],
        level_distance=dist[level_start][kept_level],
        first_of_client=first[kept_level],
        last_of_client=last[kept_level],
        entry_level=new_index[entry_level[kept_entry]],
        entry_site=cols[kept_entry],
        level_rank=rank[kept_level],
        ball_size=ball_size[kept_level],
    )


def rank_limit_for_ball(levels: DistanceLevels, n_clients: int, ball: int) -> np.ndarray:
    """Per client, the first level rank whose ball holds at least ``ball`` sites (or its last)."""
    reaches = levels.ball_size >= ball
    limit = np.full(n_clients, np.iinfo(np.int64).max // 2, dtype=np.int64)
    np.minimum.at(limit, levels.level_client[reaches], levels.level_rank[reaches])
    last_rank = np.zeros(n_clients, dtype=np.int64)
    np.maximum.at(last_rank, levels.level_client, levels.level_rank)
    return np.minimum(limit, last_rank)


def radius_rows(
    levels: DistanceLevels, limit: np.ndarray, n_sites: int, weights: np.ndarray
) -> tuple[sp.csr_array, np.ndarray, np.ndarray, float, int]:
    """Rows (2)-(4) for the levels up to ``limit[client]``; a cut client keeps an open tail.

    Returns the level rows (over ``n_sites + n_z`` columns), their lower bounds, the objective
    coefficients of the ``z`` columns, the constant term and the number of ``z`` columns.
    """
    kept = levels.level_rank <= limit[levels.level_client]
    at_limit = levels.level_rank == limit[levels.level_client]
    last_kept = levels.last_of_client | at_limit
    cut = at_limit & ~levels.last_of_client
    has_z = kept & (~last_kept | cut)
    index = np.flatnonzero(kept)
    new_row = np.full(len(kept), -1)
    new_row[index] = np.arange(len(index))
    z_levels = np.flatnonzero(has_z)
    n_z = len(z_levels)
    z_columns = n_sites + np.arange(n_z)
    chained = ~last_kept[z_levels]
    entry_kept = kept[levels.entry_level]
    rows = np.concatenate(
        [new_row[levels.entry_level[entry_kept]], new_row[z_levels], new_row[z_levels[chained] + 1]]
    )
    cols = np.concatenate([levels.entry_site[entry_kept], z_columns, z_columns[chained]])
    data = np.concatenate(
        [np.ones(int(entry_kept.sum())), np.ones(n_z), -np.ones(int(chained.sum()))]
    )
    matrix = sp.csr_array((data, (rows, cols)), shape=(len(index), n_sites + n_z))
    weight = weights[levels.level_client]
    step = levels.level_distance[z_levels + 1] - levels.level_distance[z_levels]
    offset = float((weight * levels.level_distance)[levels.first_of_client].sum())
    lower = levels.first_of_client[index].astype(float)
    return matrix, lower, weight[z_levels] * step, offset, n_z


class PMedian(LocationModel):
    r"""p-median: open ``p`` sites, minimising total demand-weighted distance.

    Every client with positive demand goes to its nearest open site within reach. The model is
    the radius formulation of Elloumi (2010). For client :math:`i` let
    :math:`D_i^1 < D_i^2 < \dots < D_i^{K_i}` be its distinct distances to the allowed
    candidates, :math:`R_i^k = \{j : d_{ij} = D_i^k\}` the sites at the :math:`k`-th distance,
    :math:`y_j \in \{0,1\}` the site variables and :math:`z_i^k \ge 0` equal to 1 when no open site
    lies within :math:`D_i^k` of client :math:`i`:

    .. math::

        \min \sum_i w_i \Big( D_i^1 + \sum_{k=1}^{K_i - 1} (D_i^{k+1} - D_i^k)\, z_i^k \Big)   \quad (1)

        z_i^1 + \sum_{j \in R_i^1} y_j \ge 1 \quad \forall i                                   \quad (2)

        z_i^k - z_i^{k-1} + \sum_{j \in R_i^k} y_j \ge 0 \quad \forall i, 2 \le k < K_i         \quad (3)

        -z_i^{K_i - 1} + \sum_{j \in R_i^{K_i}} y_j \ge 0 \quad \forall i                        \quad (4)

        \sum_j y_j = p                                                                        \quad (5)

    (for :math:`K_i = 1`, (2) and (4) become :math:`\sum_{j \in R_i^1} y_j \ge 1`). Reduction
    (García, Labbé & Marín, 2011): :math:`K_i` is cut at the first distance whose ball holds at
    least :math:`m - p + 1` allowed sites, or a kept-open site, since an open site surely lies
    there; beyond it :math:`z_i^k = 0`. The model has one row per distinct distance level kept,
    and each reachable pair appears once, so it is sparse. Its LP bound equals that of the
    classic assignment formulation, and the pmed instances of OR-Library solve to their proven
    optima (see ``bench/location.py``). Shared side constraints (budget, spacing, kept-open and
    excluded sites) apply; ``p`` counts kept-open sites.

    Solution method (each step keeps the proof of optimality):

    * for plain instances (no kept-open sites, budget or spacing; ``2 <= p <= 60``): a greedy
      + swap plan (:mod:`optimizer.location._lagrangian`), then a Lagrangian branch-and-bound
      over each client's nearest sites (:mod:`optimizer.location._median_tree`) for up to
      ``tree_share`` of the time limit: it fixes sites closed or open against the incumbent
      at every node and usually proves the optimum itself. Between ``hand_over_share`` and
      ``hand_over_until_share`` of the limit it stops early when its open nodes grow and its
      bound does not rise fast enough to close the gap in time (a projection of its own
      progress). If it does not finish, the MIP
      below runs on the sites its root left, cut off at its plan, and the bound reported is
      the better of the tree's (the least bound of its open nodes) and the MIP's;
    * nearest-sites reduction: each client first sees only its nearest ``ceil(2 m / p)`` sites,
      with the rest of its chain priced at the next distance (a relaxation). If every client's
      nearest open site lies inside its window the relaxation's optimum is exact; otherwise
      the windows are widened and the model solved again.

    Examples
    --------
    >>> cost = np.array([[0.0, 4.0, 9.0], [1.0, 3.0, 9.0], [9.0, 9.0, 0.0]])
    >>> result = PMedian.from_cost_matrix(cost, [1, 1, 1], p=2).solve()
    >>> result.sites.tolist(), result.objective
    ([0, 2], 1.0)
    """

    model_name: ClassVar[str] = "PMedian"
    objective_name: str = "demand-weighted distance"
    #: Share of the time limit the Lagrangian branch-and-bound may use before the MIP.
    tree_share: ClassVar[float] = 0.9
    #: Shares of the time limit between which the tree hands over to the MIP once its own
    #: progress says it will not finish within ``tree_share`` (later the MIP has too little
    #: time left to do better).
    hand_over_share: ClassVar[float] = 0.2
    hand_over_until_share: ClassVar[float] = 0.5

    @classmethod
    def from_cost_matrix(
        cls,
        cost: Any,
        weights: Any,
        *,
        p: int,
        max_distance: float | None = None,
        fixed: IndexLike = None,
        excluded: IndexLike = None,
        opening_cost: Any = None,
        budget: float | None = None,
        min_spacing: float | None = None,
        candidate_distance: Any = None,
    ) -> PMedian:
        """Build a p-median model from a clients x candidates distance matrix.

        Parameters
        ----------
        cost
            Distances (dense, ``inf`` = out of reach; or sparse, missing = out of reach).
        weights
            Demand of each client.
        p
            Number of open sites in total (kept-open ones included).
        max_distance
            Pairs farther apart are out of reach (clients must still reach an open site).
        fixed, excluded
            Candidate indices (or boolean masks) kept open / not allowed.
        opening_cost, budget
            Cost per candidate and the limit on the total cost of open sites.
        min_spacing, candidate_distance
            Minimum distance between open sites and the candidate x candidate distances.

        Returns
        -------
        PMedian
            The model, ready to ``solve()``.
        """
        reach = reach_matrix(cost, max_distance=max_distance)
        options = site_options(
            reach.shape[1],
            fixed=fixed,
            excluded=excluded,
            opening_cost=opening_cost,
            budget=budget,
            min_spacing=min_spacing,
            candidate_distance=candidate_distance,
        )
        return cls(reach, check_weights(weights, reach.shape[0]), options, _check_p(p, True))

    def _reasons(self) -> list[str]:
        reasons = site_count_reasons(self.options, self.p)
        return reasons + unreachable_reasons(self.reach, self.weights, self.options, "reach")

    def _levels(self) -> DistanceLevels:
        clients = np.flatnonzero(self.weights > 0)
        return distance_levels(self.reach, clients, self.options, int(self.p or 0))

    def _problem(
        self, levels: DistanceLevels | None = None, limit: np.ndarray | None = None
    ) -> MipProblem:
        m = self.n_candidates
        levels = self._levels() if levels is None else levels
        if limit is None:
            limit = np.full(self.n_clients, np.iinfo(np.int64).max // 2, dtype=np.int64)
        level_rows, level_lower, z_cost, offset, n_z = radius_rows(levels, limit, m, self.weights)
        n_variables = m + n_z
        side, side_lower, side_upper = site_rows(self.options, self.p, n_variables)
        site_lower, site_upper = site_bounds(self.options)
        n_levels = level_rows.shape[0]
        return MipProblem(
            objective=np.concatenate([np.zeros(m), z_cost]),
            matrix=sp.vstack([level_rows, side], format="csr"),
            row_lower=np.concatenate([level_lower, side_lower]),
            row_upper=np.concatenate([np.full(n_levels, np.inf), side_upper]),
            col_lower=np.concatenate([site_lower, np.zeros(n_z)]),
            col_upper=np.concatenate([site_upper, np.ones(n_z)]),
            integer=np.concatenate([np.ones(m, bool), np.zeros(n_z, bool)]),
            sense="min",
            offset=offset,
            integral_continuous=True,
        )

    def solve(
        self, solver: str | None = None, time_limit: float | None = None, gap: float | None = None
    ) -> LocationResult:
        """Solve to proven optimality (presolve, then the nearest-sites reduction; see above).

        Each client first sees only its nearest ``ceil(2 m / p)`` sites; the tail beyond them
        is priced at the next distance (a relaxation, so its bound is a valid lower bound). If
        every client's nearest open site lies within its window, the relaxation's optimum is
        the true optimum (proof). Otherwise the windows of the clients that reached past them
        are widened and the model is solved again. Arguments as :meth:`LocationModel.solve`.
        """
        self.check()
        name = resolve_solver(solver)
        limit_seconds, mip_gap = resolve_limits(time_limit, gap)
        if self._presolve_applies():
            return self._solve_with_presolve(name, limit_seconds, mip_gap)
        return self._solve_from_plan(name, limit_seconds, mip_gap)

    def _solve_from_plan(
        self, name: str, limit_seconds: float | None, mip_gap: float
    ) -> LocationResult:
        """Greedy + interchange over the sparse reach, then the windows MIP cut off at it."""
        started = time.perf_counter()
        span = 240.0 if limit_seconds is None else float(limit_seconds)
        incumbent = median_greedy_interchange(
            self.reach, self.weights, int(self.p or 0), site_rules(self.options),
            started + 0.25 * span)
        remaining = None if limit_seconds is None else max(
            limit_seconds - (time.perf_counter() - started), 1e-3)
        if incumbent is None:
            return self._solve_windows(name, remaining, mip_gap)
        value = median_value(self.reach, self.weights, incumbent)
        note = f"greedy + interchange plan {value:.6g}"
        heuristic_seconds = time.perf_counter() - started
        best_plan: np.ndarray = incumbent  # the closure below reads the latest best plan

        def incumbent_result(status: SolveStatus, bound: float | None, message: str
                             ) -> LocationResult:
            report = SolveReport(status, value, bound, relative_gap(value, bound),
                                 time.perf_counter() - started, name, f"{note}; {message}")
            assignment, distance = nearest_open(self.reach, best_plan)
            return self._decode_open(best_plan, assignment, distance, report, heuristic_seconds)

        lower: float | None = None
        model: PMedian = self
        # With kept-open sites (a chain's own stores) most clients are settled by them and
        # the sparse Lagrangian is fast and tight; without, the MIP alone is faster.
        lagrangian = None if not len(self.options.fixed) else median_lagrangian(
            self.reach, self.weights, int(self.p or 0), site_rules(self.options), value,
            started + 0.45 * span)
        if lagrangian is not None:
            lower = min(lagrangian.bound, value)
            candidate = median_value(self.reach, self.weights, lagrangian.plan)
            if candidate < value:
                best_plan, value = lagrangian.plan, candidate
            note += (f"; Lagrangian bound {lower:.6g} after {lagrangian.iterations} steps, "
                     f"{int(lagrangian.closed.sum())} sites ruled out, "
                     f"{int(lagrangian.opened.sum())} fixed open")
            gap_now = relative_gap(value, lower)
            if gap_now is not None and gap_now <= mip_gap + 1e-12:
                return incumbent_result("optimal", lower, "no MIP needed")
            model = PMedian(self.reach, self.weights,
                            with_fixing(self.options, lagrangian.closed, lagrangian.opened),
                            self.p)
            remaining = None if limit_seconds is None else max(
                limit_seconds - (time.perf_counter() - started), 1e-3)
        if remaining is not None and remaining <= 0.05 * span:
            return incumbent_result("feasible", lower, "no time left for the MIP")
        try:
            result = model._solve_windows(name, remaining, mip_gap, cutoff=value)
        except InfeasibleError:  # nothing beats the plan: it is optimal
            return incumbent_result("optimal", value, "the MIP proved no plan is better")
        except SolverError:
            return incumbent_result("feasible", lower, "the MIP found no better plan in time")
        if result.objective is not None and result.objective < value:
            if lower is None or result.bound is None or result.bound >= lower:
                return result
            report = replace(result.report, bound=lower,
                             gap=relative_gap(result.objective, lower))
            return replace(result, report=report)
        bound = None if result.bound is None else min(result.bound, value)
        if lower is not None:
            bound = lower if bound is None else max(bound, lower)
        status: SolveStatus = "optimal" if result.status == "optimal" else "feasible"
        return incumbent_result(status, value if status == "optimal" else bound,
                                result.report.message)

    def _presolve_applies(self) -> bool:
        options = self.options
        plain = (
            len(options.fixed) == 0 and options.budget is None and len(options.spacing_pairs) == 0
        )
        size = int((self.weights > 0).sum()) * self.n_candidates
        return plain and self.p is not None and 2 <= self.p <= 60 and size <= 4_000_000

    def _solve_with_presolve(
        self, name: str, limit_seconds: float | None, mip_gap: float
    ) -> LocationResult:
        """Heuristic plan + Lagrangian site fixing, then the exact MIP on the sites left."""
        started = time.perf_counter()
        clients = np.flatnonzero(self.weights > 0)
        allowed = np.flatnonzero(self.options.allowed)
        dense = np.full((len(clients), len(allowed)), np.inf)
        sub = sp.csr_array(self.reach[clients][:, allowed])
        coo = sub.tocoo()
        dense[coo.row, coo.col] = coo.data * self.weights[clients][coo.row]
        assert self.p is not None  # set by from_cost_matrix
        p = int(self.p)
        span = 240.0 if limit_seconds is None else float(limit_seconds)
        plan, upper = greedy_interchange(dense, p, deadline=started + 0.2 * span)
        if not np.isfinite(upper):  # the heuristic left a client unserved: no presolve
            remaining = None if limit_seconds is None else max(
                limit_seconds - (time.perf_counter() - started), 1e-3)
            return self._solve_windows(name, remaining, mip_gap)
        tree = median_branch_and_bound(dense, p, plan, started + self.tree_share * span,
                                       gap=mip_gap, hand_over=started + self.hand_over_share * span,
                                       hand_over_until=started + self.hand_over_until_share * span)
        upper, lower, closed, opened = tree.value, tree.bound, tree.closed, tree.opened
        presolve_seconds = time.perf_counter() - started
        incumbent = np.zeros(self.n_candidates, dtype=bool)
        incumbent[allowed[tree.plan]] = True
        note = (
            f"presolve: Lagrangian branch-and-bound, plan {upper:.6g}, bound {lower:.6g} "
            f"(root {tree.root_bound:.6g}), {tree.nodes} nodes, {int(closed.sum())} of "
            f"{len(allowed)} sites ruled out and {int(opened.sum())} fixed open at the root"
        )
        presolve_gap = relative_gap(upper, lower)
        if tree.proven or (presolve_gap is not None and presolve_gap <= mip_gap):
            report = SolveReport(
                "optimal", upper, lower, relative_gap(upper, lower), 0.0, name, note
            )
            assignment, distance = nearest_open(self.reach, incumbent)
            return self._decode_open(incumbent, assignment, distance, report, presolve_seconds)
        if limit_seconds is not None and presolve_seconds >= 0.95 * limit_seconds:
            report = SolveReport("feasible", upper, lower, relative_gap(upper, lower), 0.0, name,
                                 f"{note}; no time left for the MIP")
            assignment, distance = nearest_open(self.reach, incumbent)
            return self._decode_open(incumbent, assignment, distance, report, presolve_seconds)
        closed_mask = np.zeros(self.n_candidates, dtype=bool)
        opened_mask = np.zeros(self.n_candidates, dtype=bool)
        closed_mask[allowed[closed]] = True
        opened_mask[allowed[opened]] = True
        reduced = PMedian(
            self.reach, self.weights, with_fixing(self.options, closed_mask, opened_mask), self.p
        )
        remaining = None if limit_seconds is None else max(limit_seconds - presolve_seconds, 1e-3)
        try:
            result = reduced._solve_windows(name, remaining, mip_gap, cutoff=upper)
        except InfeasibleError:  # nothing on the sites left beats the incumbent: optimal
            floor = min(upper, tree.fixing_floor)
            report = SolveReport("optimal", upper, floor, relative_gap(upper, floor), 0.0, name,
                                 f"{note}; the MIP proved no plan on the sites left is better")
            assignment, distance = nearest_open(self.reach, incumbent)
            return self._decode_open(incumbent, assignment, distance, report, presolve_seconds)
        except SolverError:  # stopped before improving: the incumbent, honestly not proven
            report = SolveReport(
                "feasible",
                upper,
                lower,
                relative_gap(upper, lower),
                0.0,
                name,
                f"{note}; stopped by the time limit",
            )
            assignment, distance = nearest_open(self.reach, incumbent)
            return self._decode_open(incumbent, assignment, distance, report, presolve_seconds)
        inner = result.report
        found = result.objective
        assert found is not None  # the MIP returned a plan (it raises otherwise)
        objective: float
        if found <= upper:
            objective, open_mask = (
                found,
                np.isin(np.arange(self.n_candidates), result.sites),
            )
        else:
            objective, open_mask = upper, incumbent
        bound = None if inner.bound is None else min(inner.bound, upper, tree.fixing_floor)
        if inner.status == "optimal":
            bound = objective if bound is None else min(bound, objective)
        bound = lower if bound is None else max(bound, min(lower, objective))
        report = SolveReport(
            inner.status,
            objective,
            bound,
            relative_gap(objective, bound),
            inner.solve_seconds,
            name,
            f"{note}; {inner.message}",
        )
        assignment, distance = nearest_open(self.reach, open_mask)
        return self._decode_open(
            open_mask, assignment, distance, report, presolve_seconds + result.build_seconds
        )

    def _solve_windows(
        self, name: str, limit_seconds: float | None, mip_gap: float, cutoff: float | None = None
    ) -> LocationResult:
        self.check()
        started = time.perf_counter()
        levels = self._levels()
        if limit_seconds is not None and time.perf_counter() - started >= limit_seconds:
            raise SolverError("PMedian: the time limit passed while building the model; "
                              "give a longer `time_limit`.")
        n_allowed = int(self.options.allowed.sum())
        p = max(int(self.p or 1), 1)
        window = min(n_allowed, max(8, int(np.ceil(2 * n_allowed / p))))
        limit = rank_limit_for_ball(levels, self.n_clients, window)
        full = rank_limit_for_ball(levels, self.n_clients, n_allowed + 1)
        solver_seconds = 0.0
        build_seconds = 0.0
        best: tuple[float, np.ndarray] | None = None
        bound = None
        proven = False
        rounds = 0
        while True:
            rounds += 1
            build_started = time.perf_counter()
            problem = self._problem(levels, limit)
            if cutoff is not None:
                problem.cutoff = cutoff - 1e-9 * max(1.0, abs(cutoff))
            build_seconds += time.perf_counter() - build_started
            remaining = None
            if limit_seconds is not None:
                remaining = limit_seconds - (time.perf_counter() - started)
                if remaining <= 0:
                    break
            solution = solve_mip(problem, name, remaining, mip_gap)
            solver_seconds += solution.report.solve_seconds
            if solution.report.status == "infeasible" or (solution.values is None and best is None):
                # Raises: infeasible (with a cutoff: nothing beats the known plan) or no plan.
                return self._finish(solution, build_seconds)
            if solution.values is None:
                break
            open_mask = self._open_mask(solution.values)
            _, distance = nearest_open(self.reach, open_mask)
            served = self.weights > 0
            true_objective = float((self.weights[served] * distance[served]).sum())
            if best is None or true_objective < best[0]:
                best = (true_objective, open_mask)
            if solution.report.bound is not None:
                bound = (
                    solution.report.bound if bound is None else max(bound, solution.report.bound)
                )
            if solution.report.status != "optimal":
                break
            gap_now = relative_gap(best[0], bound)
            if gap_now is not None and gap_now <= mip_gap + 1e-12:
                proven = True
                break
            needed = self._needed_rank(levels, open_mask)
            short = needed > limit
            if not short.any():  # every nearest open site inside its window: relaxation exact
                proven = True
                break
            widened = np.where(short, np.maximum(needed, 2 * limit + 1), limit)
            limit = np.minimum(widened, full)
        if best is None:
            raise SolverError(
                f"PMedian: {name} found no plan within the time limit; give a longer `time_limit`."
            )
        objective, open_mask = best
        if proven:
            bound = objective if bound is None or bound > objective else bound
        status: SolveStatus = "optimal" if proven else "feasible"
        report = SolveReport(
            status,
            objective,
            bound,
            relative_gap(objective, bound),
            solver_seconds,
            name,
            f"{rounds} round(s) of the nearest-sites reduction",
        )
        assignment, distance = nearest_open(self.reach, open_mask)
        return self._decode_open(open_mask, assignment, distance, report, build_seconds)

    def _needed_rank(self, levels: DistanceLevels, open_mask: np.ndarray) -> np.ndarray:
        """Per client, the rank of the first level holding an open site (0 if none needed)."""
        holds = np.zeros(len(levels.level_client), dtype=bool)
        np.logical_or.at(holds, levels.entry_level, open_mask[levels.entry_site])
        needed = np.full(self.n_clients, np.iinfo(np.int64).max // 2, dtype=np.int64)
        np.minimum.at(needed, levels.level_client[holds], levels.level_rank[holds])
        needed[self.weights <= 0] = 0
        return needed

    def _decode(
        self, values: np.ndarray, report: SolveReport, build_seconds: float
    ) -> LocationResult:
        open_mask = self._open_mask(values)
        assignment, distance = nearest_open(self.reach, open_mask)
        return self._decode_open(open_mask, assignment, distance, report, build_seconds)

    def _decode_open(
        self, open_mask, assignment, distance, report, build_seconds
    ) -> LocationResult:
        total = float(self.weights.sum())
        served = float(self.weights[assignment >= 0].sum())
        coverage = served / total if total > 0 else 1.0
        return self._result(report, open_mask, assignment, distance, coverage, build_seconds)
