r"""Shared machinery of the location models: site variables, side constraints, solve, decode.

Every model orders its variables with the site variables ``y`` (one per candidate) first, then
its own variables. The side constraints common to all models are added here:

.. math::

    \sum_j y_j = p                                  \quad (S1: number of sites, when p is given)

    \sum_j f_j y_j \le B                            \quad (S2: opening-cost budget)

    y_j + y_k \le 1 \quad \forall (j, k): d_{jk} < s  \quad (S3: minimum spacing)

    y_j = 1 \; (j \in \text{fixed}), \quad y_j = 0 \; (j \in \text{excluded})   \quad (S4)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from ..errors import InfeasibleError, InputError, SolverError
from ..results import SolveReport, relative_gap
from ..solvers import MipProblem, MipSolution, resolve_limits, resolve_solver, solve_mip
from ._coverage_search import SiteRules
from ._geo import distance_matrix_from_geodataframes
from ._inputs import SiteOptions, raise_if_infeasible
from ._result import LocationResult


def site_rows(
    options: SiteOptions, p: int | None, n_variables: int, *, p_sense: str = "=="
) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Rows S1-S3 over the first ``n_candidates`` columns of a model with ``n_variables``."""
    m = options.n_candidates
    blocks: list[sp.csr_array] = []
    lower: list[Any] = []
    upper: list[Any] = []
    if p is not None:
        blocks.append(
            sp.csr_array((np.ones(m), (np.zeros(m, int), np.arange(m))), shape=(1, n_variables))
        )
        lower.append([p if p_sense == "==" else -np.inf])
        upper.append([p])
    if options.budget is not None and options.opening_cost is not None:
        blocks.append(
            sp.csr_array(
                (options.opening_cost, (np.zeros(m, int), np.arange(m))), shape=(1, n_variables)
            )
        )
        lower.append([-np.inf])
        upper.append([options.budget])
    pairs = options.spacing_pairs
    if len(pairs):
        k = len(pairs)
        rows = np.repeat(np.arange(k), 2)
        blocks.append(
            sp.csr_array((np.ones(2 * k), (rows, pairs.reshape(-1))), shape=(k, n_variables))
        )
        lower.append(np.full(k, -np.inf))
        upper.append(np.ones(k))
    if not blocks:
        return sp.csr_array((0, n_variables)), np.zeros(0), np.zeros(0)
    return (
        sp.csr_array(sp.vstack(blocks)),
        np.concatenate([np.asarray(x, dtype=float) for x in lower]),
        np.concatenate([np.asarray(x, dtype=float) for x in upper]),
    )


def site_bounds(options: SiteOptions) -> tuple[np.ndarray, np.ndarray]:
    """Bounds S4 of the site variables."""
    lower = np.zeros(options.n_candidates)
    upper = np.ones(options.n_candidates)
    lower[options.fixed] = 1.0
    upper[options.excluded] = 0.0
    return lower, upper


def site_rules(options: SiteOptions) -> SiteRules:
    """Return the site options as the rules the heuristics check (budget, spacing conflicts)."""
    conflicts = None
    pairs = options.spacing_pairs
    if len(pairs):
        m = options.n_candidates
        both = np.concatenate([pairs, pairs[:, ::-1]])
        conflicts = sp.csr_array((np.ones(len(both)), (both[:, 0], both[:, 1])), shape=(m, m))
        conflicts.sum_duplicates()
        conflicts.data[:] = 1.0
    return SiteRules(
        allowed=options.allowed,
        fixed=options.fixed_mask,
        cost=options.opening_cost,
        budget=options.budget if options.opening_cost is not None else None,
        conflicts=conflicts,
    )


def deadline_after(time_limit: float | None, started: float) -> float:
    """Return the :func:`time.perf_counter` value a solve started at ``started`` must end by."""
    return math.inf if time_limit is None else started + float(time_limit)


def combined_report(
    *,
    sense: Literal["min", "max"],
    objective: float,
    bounds: list[float | None],
    mip_gap: float,
    seconds: float,
    solver: str,
    message: str,
) -> SolveReport:
    """Report a plan's recomputed objective against the tightest of several valid bounds.

    Status ``"optimal"`` only when that bound proves the plan within ``mip_gap``.
    """
    valid = [float(b) for b in bounds if b is not None and math.isfinite(b)]
    bound = None
    if valid:
        bound = min(valid) if sense == "max" else max(valid)
        # A bound past the plan's value (rounding) is the plan's value.
        bound = max(bound, objective) if sense == "max" else min(bound, objective)
    gap = relative_gap(objective, bound)
    proven = gap is not None and gap <= mip_gap + 1e-12
    return SolveReport(
        "optimal" if proven else "feasible", objective, bound, gap, seconds, solver, message
    )


@dataclass(frozen=True)
class SolveClock:
    """Solver, limits and time shares of one solve (the preamble every model shares).

    Attributes
    ----------
    solver
        Resolved solver name.
    limit
        Time limit in seconds (``None``: none).
    mip_gap
        Relative gap accepted as optimal.
    started, deadline
        :func:`time.perf_counter` values at the start and by which the solve must end.
    span
        Seconds the time shares refer to (the limit, or 60 s without one).
    """

    solver: str
    limit: float | None
    mip_gap: float
    started: float
    deadline: float
    span: float

    def at(self, share: float) -> float:
        """Return the :func:`time.perf_counter` value ``share`` of the span after the start."""
        return self.started + share * self.span

    def out_of_time(self) -> bool:
        """Whether less than 5 % of the span is left (not worth starting a MIP)."""
        return time.perf_counter() >= self.deadline - 0.05 * self.span

    def remaining(self) -> float | None:
        """Seconds left for a MIP, keeping 5 % of the span for the closing (``None``: no limit)."""
        if self.limit is None:
            return None
        return max(self.deadline - time.perf_counter() - 0.05 * self.span, 1e-3)


def start_clock(solver: str | None, time_limit: float | None, gap: float | None) -> SolveClock:
    """Resolve the solver and limits and start the clock of a solve."""
    name = resolve_solver(solver)
    limit, mip_gap = resolve_limits(time_limit, gap)
    started = time.perf_counter()
    deadline = deadline_after(limit, started)
    span = (deadline - started) if limit is not None else 60.0
    return SolveClock(name, limit, mip_gap, started, deadline, span)


def with_fixing(options: SiteOptions, closed: np.ndarray, opened: np.ndarray) -> SiteOptions:
    """``options`` with the sites ``closed`` excluded and ``opened`` kept open (masks)."""
    if not (closed.any() or opened.any()):
        return options
    return replace(
        options,
        excluded=np.union1d(options.excluded, np.flatnonzero(closed)),
        fixed=np.union1d(options.fixed, np.flatnonzero(opened)),
    )


def early_report(
    clock: SolveClock, sense: Literal["min", "max"], objective: float, bounds: list[float | None]
) -> tuple[SolveReport, str] | None:
    """Return the incumbent's report when no MIP is needed (proven) or possible (no time left)."""
    report = combined_report(sense=sense, objective=objective, bounds=bounds,
                             mip_gap=clock.mip_gap, seconds=0.0, solver=clock.solver, message="")
    if report.status == "optimal":
        return report, "no MIP needed"
    if clock.out_of_time():
        return report, "no time left for the MIP"
    return None


def mip_bound_after(
    report: SolveReport, sense: Literal["min", "max"], incumbent: float | None, fixed_any: bool
) -> float | None:
    """Return the valid bound a MIP run gives, against the incumbent it may only try to beat.

    A MIP proven optimal bounds at its objective; an infeasible one (the sites left hold
    nothing better) and one run after reduced-cost fixing (which only rules out plans no
    better than the incumbent) bound at the incumbent's value at most.
    """
    bound = report.bound
    if report.status == "optimal" and report.objective is not None:
        bound = report.objective if bound is None else bound
    if incumbent is None:
        return bound
    if report.status == "infeasible":
        return incumbent
    if bound is not None and fixed_any:
        bound = min(bound, incumbent) if sense == "min" else max(bound, incumbent)
    return bound


def better(sense: Literal["min", "max"], value: float, than: float | None) -> bool:
    """Whether ``value`` improves on ``than`` (``None``: nothing yet)."""
    return than is None or (value < than if sense == "min" else value > than)


def nearest_open(reach: sp.csr_array, open_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each client, the nearest open reachable site and its distance (-1 / nan if none).

    Examples
    --------
    >>> reach = sp.csr_array(np.array([[1.0, 2.0], [3.0, 0.5]]))
    >>> nearest_open(reach, np.array([True, False]))[0].tolist()
    [0, 0]
    """
    coo = reach.tocoo()
    keep = open_mask[coo.col]
    rows, cols, dist = coo.row[keep], coo.col[keep], coo.data[keep]
    order = np.lexsort((cols, dist, rows))
    rows, cols, dist = rows[order], cols[order], dist[order]
    first_rows, first = np.unique(rows, return_index=True)
    site = np.full(reach.shape[0], -1, dtype=np.int64)
    distance = np.full(reach.shape[0], np.nan)
    site[first_rows] = cols[first]
    distance[first_rows] = dist[first]
    return site, distance


class LocationModel:
    """Base of the location models: holds the inputs, solves, and decodes the sites.

    Subclasses implement :meth:`_reasons`, :meth:`_problem` and :meth:`_decode`.
    """

    model_name: ClassVar[str] = "LocationModel"
    objective_name: str = "objective"
    #: Keyword passed to ``distance_matrix_from_geodataframes`` as ``max_distance``.
    _reach_keyword: ClassVar[str | None] = None

    def __init__(
        self, reach: sp.csr_array, weights: np.ndarray, options: SiteOptions, p: int | None
    ) -> None:
        self.reach = reach
        self.weights = weights
        self.options = options
        self.p = p

    @property
    def n_clients(self) -> int:
        """Number of clients (demand points, rows of the cost matrix)."""
        return int(self.reach.shape[0])

    @property
    def n_candidates(self) -> int:
        """Number of candidate sites (columns of the cost matrix)."""
        return int(self.reach.shape[1])

    @classmethod
    def from_cost_matrix(cls, *args: Any, **options: Any) -> LocationModel:
        """Build the model from a clients x candidates cost matrix (see each subclass)."""
        raise NotImplementedError

    @classmethod
    def from_geodataframe(
        cls,
        clients_gdf: Any,
        candidates_gdf: Any,
        weights_column: str,
        *,
        max_distance: float | None = None,
        **options: Any,
    ) -> LocationModel:
        """Build the model from two GeoDataFrames, then delegate to :meth:`from_cost_matrix`.

        Distances: Euclidean in CRS units for a projected CRS; haversine great-circle metres for
        EPSG:4326 (or any geographic CRS). Only pairs within ``max_distance`` (or the model's
        ``radius``) are kept, as a sparse matrix. ``min_spacing`` gets its candidate x candidate
        distances computed the same way. ``fixed`` / ``excluded`` are row positions in
        ``candidates_gdf``.

        Parameters
        ----------
        clients_gdf
            Demand points (or polygons: their centroid) with a demand column.
        candidates_gdf
            Candidate sites.
        weights_column
            Column of ``clients_gdf`` holding the demand weight.
        max_distance
            Pairs farther apart are out of reach.
        **options
            Passed to :meth:`from_cost_matrix` (``p``, ``radius``, ``fixed``, ...).

        Returns
        -------
        LocationModel
            The model, ready to :meth:`solve`.
        """
        if weights_column not in clients_gdf.columns:
            raise InputError(
                f"`weights_column` is {weights_column!r}, not a column of `clients_gdf`; "
                f"choose one of {list(clients_gdf.columns.drop('geometry', errors='ignore'))}."
            )
        if cls._reach_keyword is not None and options.get(cls._reach_keyword) is not None:
            reach_limit = float(options[cls._reach_keyword])
            max_distance = reach_limit if max_distance is None else min(max_distance, reach_limit)
        cost = distance_matrix_from_geodataframes(
            clients_gdf, candidates_gdf, max_distance=max_distance
        )
        if options.get("min_spacing") is not None and options.get("candidate_distance") is None:
            options["candidate_distance"] = distance_matrix_from_geodataframes(
                candidates_gdf, candidates_gdf, max_distance=float(options["min_spacing"])
            )
        weights = clients_gdf[weights_column].to_numpy(dtype=float)
        return cls.from_cost_matrix(cost, weights, **options)

    # --- to implement ------------------------------------------------------------------------

    def _reasons(self) -> list[str]:
        """Causes of infeasibility found before solving."""
        raise NotImplementedError

    def _problem(self) -> MipProblem:
        """Return the MIP as arrays."""
        raise NotImplementedError

    def _decode(
        self, values: np.ndarray, report: SolveReport, build_seconds: float
    ) -> LocationResult:
        """Turn solver values into a result."""
        raise NotImplementedError

    # --- shared --------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise :class:`~optimizer.errors.InfeasibleError` if the inputs cannot be satisfied.

        Every cause found is listed in ``.reasons``, in planning words.
        """
        raise_if_infeasible(self.model_name, self._reasons())

    def solve(
        self, solver: str | None = None, time_limit: float | None = None, gap: float | None = None
    ) -> LocationResult:
        """Solve the model.

        Parameters
        ----------
        solver
            Solver name (:func:`optimizer.solvers.available_solvers`); default from settings.
        time_limit
            Seconds; default from :mod:`optimizer.settings`.
        gap
            Relative MIP gap accepted as optimal; default from :mod:`optimizer.settings`.

        Returns
        -------
        LocationResult
            Sites, assignment, coverage and the report. When stopped by the time limit with a
            solution, the status is ``"feasible"`` and the gap says how far from proven.

        Raises
        ------
        InfeasibleError
            When the inputs cannot be satisfied (explained before solving when possible).
        SolverError
            When the solver stops without any solution (e.g. time limit too short).
        """
        self.check()
        started = time.perf_counter()
        problem = self._problem()
        build_seconds = time.perf_counter() - started
        solution = solve_mip(problem, solver, time_limit, gap)
        return self._finish(solution, build_seconds)

    def _finish(self, solution: MipSolution, build_seconds: float) -> LocationResult:
        report = solution.report
        if report.status == "infeasible":
            raise InfeasibleError(
                f"{self.model_name} has no feasible plan: the solver proved that no choice of "
                "sites meets every requirement together (number of sites, reach, budget, "
                "spacing, capacities); relax one of them.",
                ["the requirements on number of sites, budget, spacing and capacity conflict"],
            )
        if solution.values is None:
            raise SolverError(
                f"{self.model_name}: {report.solver} stopped with status {report.status!r} "
                f"({report.message}) and no plan; give a longer `time_limit` or a larger `gap`."
            )
        return self._decode(solution.values, report, build_seconds)

    def _open_mask(self, values: np.ndarray) -> np.ndarray:
        return values[: self.n_candidates] > 0.5

    def _opening_cost(self, open_mask: np.ndarray) -> float | None:
        costs = self.options.opening_cost
        return None if costs is None else float(costs[open_mask].sum())

    def _result(
        self,
        report: SolveReport,
        open_mask: np.ndarray,
        assignment: np.ndarray,
        distance: np.ndarray,
        coverage: float | None,
        build_seconds: float,
        **details: Any,
    ) -> LocationResult:
        return LocationResult(
            model=self.model_name,
            report=report,
            sites=np.flatnonzero(open_mask).astype(np.int64),
            fixed=self.options.fixed,
            assignment=assignment,
            assigned_distance=distance,
            weights=self.weights,
            coverage=coverage,
            objective_name=self.objective_name,
            opening_cost=self._opening_cost(open_mask),
            build_seconds=build_seconds,
            details=details,
        )
