"""Coverage models: maximal coverage (MCLP) and set cover.

Both work on the sparse "within radius" pairs only: a client row holds the candidates that reach
it, so model size grows with the number of pairs in reach, not clients x candidates.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ..errors import InputError, SolverError
from ..results import SolveReport
from ..solvers import MipProblem, solve_mip
from ._base import (
    LocationModel,
    SolveClock,
    better,
    combined_report,
    early_report,
    mip_bound_after,
    nearest_open,
    site_bounds,
    site_rows,
    site_rules,
    start_clock,
    with_fixing,
)
from ._cover_lns import cover_lns
from ._cover_reduction import reduce_cover
from ._coverage_search import (
    SiteRules,
    cover_greedy,
    cover_lagrangian,
    covered_weight,
    indicator_matrix,
    mclp_greedy,
    mclp_lagrangian,
    mclp_local_search,
)
from ._inputs import (
    IndexLike,
    SiteOptions,
    check_weights,
    format_amount,
    reach_matrix,
    site_count_reasons,
    site_options,
    unreachable_reasons,
)
from ._result import LocationResult

PROBE_SHARE = 0.05
"""Share of a set cover's time limit given to a first MIP (small covers are proven in it)."""
LNS_SHARE = 0.8
"""Share of a set cover's time limit after which the neighbourhood search hands over to the MIP."""
LNS_MAX_SECONDS = 48.0
"""Seconds after the start past which the search hands over to the MIP whatever the limit."""


def _check_radius(radius: float | None) -> float:
    if radius is None or not np.isfinite(radius) or radius < 0:
        raise InputError(
            f"`radius` is {radius!r}; give the reach in the cost unit (e.g. 5000 for 5 km)."
        )
    return float(radius)


def _check_p(p: int | None, required: bool) -> int | None:
    if p is None:
        if required:
            raise InputError("`p` (the number of sites to open) is required; e.g. `p=5`.")
        return None
    if int(p) != p or p < 0:
        raise InputError(f"`p` is {p!r}; give a whole number of sites >= 0.")
    return int(p)


def _covered_by_fixed(reach: sp.csr_array, fixed_mask: np.ndarray) -> np.ndarray:
    coo = reach.tocoo()
    covered = np.zeros(reach.shape[0], dtype=bool)
    covered[coo.row[fixed_mask[coo.col]]] = True
    return covered


class MCLP(LocationModel):
    r"""Maximal covering location: open ``p`` sites to cover as much demand as possible.

    A client is covered when an open site lies within ``radius`` (Church & ReVelle, 1974).
    With :math:`N_i` the allowed candidates within the radius of client :math:`i`, demand
    :math:`w_i`, site variables :math:`y_j \in \{0, 1\}` and coverage :math:`z_i \in [0, 1]`:

    .. math::

        \max \sum_i w_i z_i                                          \quad (1)

        z_i \le \sum_{j \in N_i} y_j \quad \forall i                  \quad (2)

        \sum_j y_j = p                                                \quad (3)

    plus the shared side constraints of :mod:`optimizer.location._base` (budget, spacing,
    kept-open / excluded sites). :math:`z_i` is continuous: at an optimum it equals
    :math:`\min(1, \sum_{N_i} y_j)`, which is 0 or 1. Clients already covered by a kept-open
    site are constants, and clients with no candidate in reach are dropped before solving.
    ``p`` counts every open site, kept-open ones included. Without ``p``, a ``budget`` alone
    limits the sites.

    Examples
    --------
    >>> cost = np.array([[0.0, 9.0], [1.0, 9.0], [9.0, 0.0]])
    >>> result = MCLP.from_cost_matrix(cost, [1.0, 1.0, 5.0], radius=2.0, p=1).solve()
    >>> result.sites.tolist(), result.objective
    ([1], 5.0)
    """

    model_name: ClassVar[str] = "MCLP"
    objective_name: str = "covered demand"
    _reach_keyword: ClassVar[str | None] = "radius"

    def __init__(
        self, reach: sp.csr_array, weights: np.ndarray, options: Any, p: int | None, radius: float
    ) -> None:
        super().__init__(reach, weights, options, p)
        self.radius = radius

    @classmethod
    def from_cost_matrix(
        cls,
        cost: Any,
        weights: Any,
        *,
        radius: float,
        p: int | None = None,
        fixed: IndexLike = None,
        excluded: IndexLike = None,
        opening_cost: Any = None,
        budget: float | None = None,
        min_spacing: float | None = None,
        candidate_distance: Any = None,
    ) -> MCLP:
        """Build an MCLP from a clients x candidates distance matrix.

        Parameters
        ----------
        cost
            Distances (dense, ``inf`` = out of reach; or sparse, missing = out of reach).
        weights
            Demand of each client.
        radius
            A client is covered by a site at distance ``<= radius``.
        p
            Number of open sites in total (kept-open ones included). Optional with ``budget``.
        fixed, excluded
            Candidate indices (or boolean masks) kept open / not allowed.
        opening_cost, budget
            Cost per candidate and the limit on the total cost of open sites.
        min_spacing, candidate_distance
            No two open sites (except two kept-open ones) closer than ``min_spacing``, measured
            with the candidate x candidate distance matrix.

        Returns
        -------
        MCLP
            The model, ready to ``solve()``.
        """
        radius = _check_radius(radius)
        reach = reach_matrix(cost, max_distance=radius)
        p = _check_p(p, required=budget is None)
        options = site_options(
            reach.shape[1],
            fixed=fixed,
            excluded=excluded,
            opening_cost=opening_cost,
            budget=budget,
            min_spacing=min_spacing,
            candidate_distance=candidate_distance,
        )
        return cls(reach, check_weights(weights, reach.shape[0]), options, p, radius)

    def _reasons(self) -> list[str]:
        return site_count_reasons(self.options, self.p)

    def solve(
        self, solver: str | None = None, time_limit: float | None = None, gap: float | None = None
    ) -> LocationResult:
        """Solve: a greedy + swap plan, a Lagrangian bound, then the MIP on the sites left.

        1. Greedy addition, then add/drop/swap local search, gives the incumbent.
        2. For ``p`` sites without budget or spacing, a Lagrangian bound (subgradient on the
           coverage rows) may prove the incumbent, and fixes the sites that cannot be in (or
           out of) a better plan.
        3. The MIP starts from the incumbent (HiGHS) with the time left. The plan returned is
           the best one met; its objective is recomputed from its sites, and it is
           ``"optimal"`` only when the best bound proves it within ``gap``.

        Arguments and result as :meth:`LocationModel.solve`.
        """
        self.check()
        clock = start_clock(solver, time_limit, gap)
        csr, csc = indicator_matrix(self.reach, self.options.allowed)
        rules = site_rules(self.options)
        plan = self._heuristic_plan(csr, csc, rules, clock.at(0.2))
        notes = []
        bounds: list[float | None] = [self._trivial_bound(csr)]
        closed = opened = np.zeros(self.n_candidates, dtype=bool)
        if plan is not None:
            value, _ = covered_weight(csc, self.weights, plan)
            notes.append(f"greedy + swap plan {format_amount(value)}")
            if self._lagrangian_applies():
                assert self.p is not None  # the Lagrangian applies to a fixed number of sites
                lagrangian = mclp_lagrangian(csr, csc, self.weights, int(self.p), rules, plan,
                                             clock.at(0.45))
                bounds.append(lagrangian.bound)
                if lagrangian.plan_value > value:
                    plan = mclp_local_search(csr, csc, self.weights, lagrangian.plan, rules,
                                             clock.at(0.5))
                closed, opened = lagrangian.fixed_closed, lagrangian.fixed_open
                notes.append(
                    f"Lagrangian bound {format_amount(lagrangian.bound)} after "
                    f"{lagrangian.iterations} steps, {int(closed.sum())} sites ruled out, "
                    f"{int(opened.sum())} fixed open"
                )
        incumbent_value = None if plan is None else covered_weight(csc, self.weights, plan)[0]
        if plan is not None and incumbent_value is not None:
            early = early_report(clock, "max", incumbent_value, bounds)
            if early is not None:
                return self._plan_result(plan, early[0], notes, clock.started, early[1])
        build_started = time.perf_counter()
        problem, free = self._problem_with(with_fixing(self.options, closed, opened))
        if plan is not None:
            count = csc @ plan.astype(float)
            problem.start = np.concatenate(
                [plan.astype(float), (count[free] > 0).astype(float)]
            )
        build_seconds = time.perf_counter() - build_started
        solution = solve_mip(problem, clock.solver, clock.remaining(), clock.mip_gap)
        if solution.values is None and plan is None:
            return self._finish(solution, build_seconds)
        bounds.append(mip_bound_after(solution.report, "max", incumbent_value,
                                      bool(closed.any() or opened.any())))
        if solution.values is not None:
            mip_plan = self._open_mask(solution.values)
            mip_value, _ = covered_weight(csc, self.weights, mip_plan)
            notes.append(f"MIP ({solution.report.message}) plan {format_amount(mip_value)}")
            if better("max", mip_value, incumbent_value):
                plan = mip_plan
        else:
            notes.append(f"MIP: {solution.report.message}, no plan")
        if plan is None:
            raise SolverError(f"No plan found within the time limit ({solution.report.message}); "
                              "give the solve more time.")
        report = combined_report(
            sense="max", objective=covered_weight(csc, self.weights, plan)[0], bounds=bounds,
            mip_gap=clock.mip_gap, seconds=0.0, solver=clock.solver, message="")
        return self._plan_result(plan, report, notes, clock.started, "", build_seconds)

    def _plan_result(self, plan: np.ndarray, report: SolveReport, notes: list[str],
                     started: float, last_note: str, build_seconds: float = 0.0
                     ) -> LocationResult:
        message = "; ".join(notes + ([last_note] if last_note else []))
        report = replace(report, solve_seconds=time.perf_counter() - started, message=message)
        return self._decode(plan.astype(float), report, build_seconds)

    def _lagrangian_applies(self) -> bool:
        options = self.options
        return self.p is not None and options.budget is None and not len(options.spacing_pairs)

    def _trivial_bound(self, csr: sp.csr_array) -> float:
        """Demand in reach of an allowed site: no plan covers more."""
        return float(self.weights[np.diff(csr.indptr) > 0].sum())

    def _heuristic_plan(self, csr: sp.csr_array, csc: sp.csc_array, rules: SiteRules,
                        deadline: float) -> np.ndarray | None:
        """Greedy, then local search; ``None`` if no plan meets the site count."""
        plan = mclp_greedy(csr, csc, self.weights, self.p, rules)
        if self.p is not None:
            while int(plan.sum()) < self.p:  # fill up: coverage cannot drop
                addable = np.flatnonzero(rules.can_add(plan))
                if not len(addable):
                    return None
                plan[addable[0]] = True
        plan = mclp_local_search(csr, csc, self.weights, plan, rules, deadline,
                                 allow_add=self.p is None)
        return plan

    def _problem(self) -> MipProblem:
        return self._problem_with(self.options)[0]

    def _problem_with(self, options: SiteOptions) -> tuple[MipProblem, np.ndarray]:
        """Return the MIP under ``options`` and the clients that have a coverage variable."""
        m = self.n_candidates
        allowed = options.allowed
        reach = self.reach
        covered_fixed = _covered_by_fixed(reach, options.fixed_mask)
        coo = reach.tocoo()
        keep = allowed[coo.col]
        indicator = sp.csr_array(
            (np.ones(int(keep.sum())), (coo.row[keep], coo.col[keep])), shape=reach.shape
        )
        has_site = np.diff(indicator.indptr) > 0
        free = np.flatnonzero(has_site & ~covered_fixed & (self.weights > 0))
        n_free = len(free)
        n_variables = m + n_free
        coverage_rows = sp.hstack(
            [-indicator[free], sp.identity(n_free, format="csr")], format="csr"
        )
        side, side_lower, side_upper = site_rows(options, self.p, n_variables)
        matrix = sp.vstack([coverage_rows, side], format="csr")
        site_lower, site_upper = site_bounds(options)
        problem = MipProblem(
            objective=np.concatenate([np.zeros(m), self.weights[free]]),
            matrix=matrix,
            row_lower=np.concatenate([np.full(n_free, -np.inf), side_lower]),
            row_upper=np.concatenate([np.zeros(n_free), side_upper]),
            col_lower=np.concatenate([site_lower, np.zeros(n_free)]),
            col_upper=np.concatenate([site_upper, np.ones(n_free)]),
            integer=np.concatenate([np.ones(m, bool), np.zeros(n_free, bool)]),
            sense="max",
            offset=float(self.weights[covered_fixed].sum()),
            integral_continuous=True,
        )
        return problem, free

    def _decode(
        self, values: np.ndarray, report: SolveReport, build_seconds: float
    ) -> LocationResult:
        open_mask = self._open_mask(values)
        assignment, distance = nearest_open(self.reach, open_mask)
        total = float(self.weights.sum())
        covered = float(self.weights[assignment >= 0].sum())
        coverage = covered / total if total > 0 else 1.0
        return self._result(
            report,
            open_mask,
            assignment,
            distance,
            coverage,
            build_seconds,
            radius=self.radius,
            covered_demand=covered,
        )


class SetCover(LocationModel):
    r"""Set cover (location set covering): the fewest (or cheapest) sites reaching all demand.

    Every client with positive demand must have an open site within ``radius`` (Toregas et al.,
    1971). With :math:`N_i` the allowed candidates within the radius of client :math:`i` and
    site variables :math:`y_j \in \{0, 1\}`:

    .. math::

        \min \sum_j f_j y_j                                   \quad (1)

        \sum_{j \in N_i} y_j \ge 1 \quad \forall i: w_i > 0     \quad (2)

    with :math:`f_j = 1` (count of sites) unless ``opening_cost`` is given, plus the shared
    side constraints (budget, spacing, kept-open / excluded sites). Clients within reach of a
    kept-open site need no row. Demand cells no allowed candidate reaches are reported before
    solving (listing the cells).

    Examples
    --------
    >>> cost = np.array([[0.0, 9.0, 1.0], [9.0, 0.0, 1.0]])
    >>> SetCover.from_cost_matrix(cost, [1, 1], radius=1.0).solve().sites.tolist()
    [2]
    """

    model_name: ClassVar[str] = "SetCover"
    objective_name: str = "number of sites"
    _reach_keyword: ClassVar[str | None] = "radius"

    def __init__(
        self, reach: sp.csr_array, weights: np.ndarray, options: Any, radius: float
    ) -> None:
        super().__init__(reach, weights, options, None)
        self.radius = radius
        if options.opening_cost is not None:
            self.objective_name = "opening cost"

    @classmethod
    def from_cost_matrix(
        cls,
        cost: Any,
        weights: Any,
        *,
        radius: float,
        fixed: IndexLike = None,
        excluded: IndexLike = None,
        opening_cost: Any = None,
        budget: float | None = None,
        min_spacing: float | None = None,
        candidate_distance: Any = None,
    ) -> SetCover:
        """Build a set cover model from a clients x candidates distance matrix.

        Parameters
        ----------
        cost
            Distances (dense, ``inf`` = out of reach; or sparse, missing = out of reach).
        weights
            Demand of each client; clients with zero demand need no cover.
        radius
            Every demand client needs an open site at distance ``<= radius``.
        fixed, excluded
            Candidate indices (or boolean masks) kept open / not allowed.
        opening_cost
            When given, the total opening cost is minimised instead of the number of sites.
        budget
            Limit on the total opening cost.
        min_spacing, candidate_distance
            Minimum distance between open sites and the candidate x candidate distances.

        Returns
        -------
        SetCover
            The model, ready to ``solve()``.
        """
        radius = _check_radius(radius)
        reach = reach_matrix(cost, max_distance=radius)
        options = site_options(
            reach.shape[1],
            fixed=fixed,
            excluded=excluded,
            opening_cost=opening_cost,
            budget=budget,
            min_spacing=min_spacing,
            candidate_distance=candidate_distance,
        )
        return cls(reach, check_weights(weights, reach.shape[0]), options, radius)

    def _reasons(self) -> list[str]:
        return site_count_reasons(self.options, None) + unreachable_reasons(
            self.reach, self.weights, self.options, format_amount(self.radius)
        )

    def solve(
        self, solver: str | None = None, time_limit: float | None = None, gap: float | None = None
    ) -> LocationResult:
        """Solve: reductions, greedy cover, Beasley's Lagrangian bound, neighbourhood search, MIP.

        1. Without budget or spacing, the classic reductions (essential sites, dominated
           clients, dominated sites; :mod:`optimizer.location._cover_reduction`) shrink the
           problem to a fixpoint without losing an optimal cover.
        2. Chvátal's greedy with redundant sites dropped gives the incumbent.
        3. The Lagrangian bound (subgradient on the cover rows, Lagrangian plans repaired into
           covers) may prove it, and fixes the sites that cannot be in (or out of) a cheaper
           cover.
        4. A first MIP of 5 % of the time limit proves small covers; otherwise a
           neighbourhood search re-covers groups of neighbouring open sites exactly with
           sub-MIPs (:mod:`optimizer.location._cover_lns`) until 80 % of the time limit
           (48 s at most).
        5. The MIP of the reduced problem starts from the incumbent (HiGHS) with the time
           left. The plan returned is the cheapest met; its cost is recomputed from its
           sites, ``"optimal"`` only when proven within ``gap``.

        Arguments and result as :meth:`LocationModel.solve`.
        """
        self.check()
        clock = start_clock(solver, time_limit, gap)
        cost = self._costs()
        plain = self.options.budget is None and not len(self.options.spacing_pairs)
        options, need, notes = self.options, self.weights > 0, []
        if plain:
            options, need, note = self._reduced()
            notes.append(note)
        csr, csc = indicator_matrix(self.reach, options.allowed)
        rules = site_rules(options)
        plan = cover_greedy(csr, csc, need, cost, rules) if plain else None
        bounds: list[float | None] = []
        closed = opened = np.zeros(self.n_candidates, dtype=bool)
        if plan is not None:
            notes.append(f"greedy cover {format_amount(float(cost[plan].sum()))}")
            lagrangian = cover_lagrangian(csr, csc, need, cost, rules, plan, clock.at(0.25))
            plan = lagrangian.plan
            bounds.append(lagrangian.bound)
            closed, opened = lagrangian.fixed_closed, lagrangian.fixed_open
            notes.append(
                f"Lagrangian bound {format_amount(lagrangian.bound)} after "
                f"{lagrangian.iterations} steps, plan {format_amount(lagrangian.plan_value)}, "
                f"{int(closed.sum())} sites ruled out, {int(opened.sum())} fixed open"
            )
            early = early_report(clock, "min", float(cost[plan].sum()), bounds)
            if early is not None:
                return self._plan_result(plan, early[0], notes + [early[1]], clock.started)
        build_started = time.perf_counter()
        problem = self._problem_with(with_fixing(options, closed, opened), need)
        build_seconds = time.perf_counter() - build_started
        fixed_any = bool(closed.any() or opened.any())
        if plan is not None:
            # A short MIP first: small covers are proven in it and need no search.
            probe = PROBE_SHARE * clock.span
            left = clock.remaining()
            plan = self._mip_round(problem, plan, cost, probe if left is None else min(probe, left),
                                   clock, bounds, notes, fixed_any)
            early = early_report(clock, "min", float(cost[plan].sum()), bounds)
            if early is not None:
                return self._plan_result(plan, early[0], notes + [early[1]], clock.started,
                                         build_seconds)
            search = cover_lns(csr, csc, need, cost, rules, plan,
                               min(clock.at(LNS_SHARE), clock.started + LNS_MAX_SECONDS),
                               clock.solver)
            plan = search.plan
            notes.append(f"neighbourhood search: {search.steps} sub-MIPs, "
                         f"{search.improvements} better, plan {format_amount(search.value)}")
            early = early_report(clock, "min", search.value, bounds)
            if early is not None:
                return self._plan_result(plan, early[0], notes + [early[1]], clock.started,
                                         build_seconds)
        if plan is None:
            solution = solve_mip(problem, clock.solver, clock.remaining(), clock.mip_gap)
            if solution.values is None:
                return self._finish(solution, build_seconds)
            bounds.append(mip_bound_after(solution.report, "min", None, fixed_any))
            plan = self._open_mask(solution.values)
            notes.append(f"MIP ({solution.report.message}) plan "
                         f"{format_amount(float(cost[plan].sum()))}")
        else:
            plan = self._mip_round(problem, plan, cost, clock.remaining(), clock, bounds, notes,
                                   fixed_any)
        report = combined_report(sense="min", objective=float(cost[plan].sum()), bounds=bounds,
                                 mip_gap=clock.mip_gap, seconds=0.0, solver=clock.solver,
                                 message="")
        return self._plan_result(plan, report, notes, clock.started, build_seconds)

    def _mip_round(
        self, problem: MipProblem, plan: np.ndarray, cost: np.ndarray, seconds: float | None,
        clock: SolveClock, bounds: list[float | None], notes: list[str], fixed_any: bool,
    ) -> np.ndarray:
        """Run the cover MIP from ``plan`` for ``seconds``; return the cheaper plan of the two.

        The MIP's valid bound is added to ``bounds`` and a line to ``notes``.
        """
        problem.start = plan.astype(float)
        solution = solve_mip(problem, clock.solver, seconds, clock.mip_gap)
        incumbent = float(cost[plan].sum())
        bounds.append(mip_bound_after(solution.report, "min", incumbent, fixed_any))
        if solution.values is None:
            notes.append(f"MIP: {solution.report.message}, no plan")
            return plan
        mip_plan = self._open_mask(solution.values)
        mip_value = float(cost[mip_plan].sum())
        notes.append(f"MIP ({solution.report.message}) plan {format_amount(mip_value)}")
        return mip_plan if better("min", mip_value, incumbent) else plan

    def _reduced(self) -> tuple[SiteOptions, np.ndarray, str]:
        """Return the options and clients of the reduced cover problem, and a note saying its size.

        Sites the reductions drop are excluded, essential ones kept open; the clients left
        are the ones that still need a cover row. Every cover of the reduced problem covers
        every client, and the reduced problem keeps an optimal cover.
        """
        options = self.options
        covered = _covered_by_fixed(self.reach, options.fixed_mask)
        rows = np.flatnonzero((self.weights > 0) & ~covered)
        columns = np.flatnonzero(options.allowed & ~options.fixed_mask)
        csr, _ = indicator_matrix(self.reach, options.allowed & ~options.fixed_mask)
        reduction = reduce_cover(sp.csr_array(csr[rows][:, columns]), self._costs()[columns])
        need = np.zeros(self.n_clients, dtype=bool)
        need[rows[reduction.rows]] = True
        dropped = columns[~reduction.columns & ~reduction.fixed_open]
        essential = columns[reduction.fixed_open]
        reduced = replace(options, excluded=np.union1d(options.excluded, dropped),
                          fixed=np.union1d(options.fixed, essential))
        note = (f"reductions ({reduction.passes} passes): {len(rows)} -> "
                f"{int(reduction.rows.sum())} clients, {len(columns)} -> "
                f"{int(reduction.columns.sum())} sites, {len(essential)} essential")
        return reduced, need, note

    def _costs(self) -> np.ndarray:
        costs = self.options.opening_cost
        return np.ones(self.n_candidates) if costs is None else costs.astype(float)

    def _plan_result(self, plan: np.ndarray, report: SolveReport, notes: list[str],
                     started: float, build_seconds: float = 0.0) -> LocationResult:
        report = replace(report, solve_seconds=time.perf_counter() - started,
                         message="; ".join(notes))
        return self._decode(plan.astype(float), report, build_seconds)

    def _problem(self) -> MipProblem:
        return self._problem_with(self.options, self.weights > 0)

    def _problem_with(self, options: SiteOptions, need_cover: np.ndarray) -> MipProblem:
        """Return the cover MIP under ``options`` with a row for each client in ``need_cover``."""
        m = self.n_candidates
        allowed = options.allowed
        covered_fixed = _covered_by_fixed(self.reach, options.fixed_mask)
        coo = self.reach.tocoo()
        keep = allowed[coo.col]
        indicator = sp.csr_array(
            (np.ones(int(keep.sum())), (coo.row[keep], coo.col[keep])), shape=self.reach.shape
        )
        need = np.flatnonzero(~covered_fixed & need_cover)
        cover_rows = indicator[need]
        side, side_lower, side_upper = site_rows(options, None, m)
        costs = self.options.opening_cost
        site_lower, site_upper = site_bounds(options)
        return MipProblem(
            objective=np.ones(m) if costs is None else costs.copy(),
            matrix=sp.vstack([cover_rows, side], format="csr"),
            row_lower=np.concatenate([np.ones(len(need)), side_lower]),
            row_upper=np.concatenate([np.full(len(need), np.inf), side_upper]),
            col_lower=site_lower,
            col_upper=site_upper,
            integer=np.ones(m, bool),
            sense="min",
        )

    def _decode(
        self, values: np.ndarray, report: SolveReport, build_seconds: float
    ) -> LocationResult:
        open_mask = self._open_mask(values)
        assignment, distance = nearest_open(self.reach, open_mask)
        total = float(self.weights.sum())
        covered = float(self.weights[assignment >= 0].sum())
        coverage = covered / total if total > 0 else 1.0
        return self._result(
            report, open_mask, assignment, distance, coverage, build_seconds, radius=self.radius
        )
