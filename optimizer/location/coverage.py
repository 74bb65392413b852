"""Coverage models: maximal coverage (MCLP) and set cover.

Both work on the sparse "within radius" pairs only: a client row holds the candidates that reach
it, so model size grows with the number of pairs in reach, not clients x candidates.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..results import SolveReport
from ..solvers import MipProblem, resolve_solver
from ._base import LocationModel, nearest_open, site_bounds, site_rows
from ._inputs import (
    IndexLike,
    check_weights,
    format_amount,
    reach_matrix,
    site_count_reasons,
    site_options,
    unreachable_reasons,
)
from ._result import LocationResult


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
        """Solve; a greedy plan that covers every coverable client is optimal without a MIP.

        Arguments and result as :meth:`LocationModel.solve`.
        """
        self.check()
        started = time.perf_counter()
        greedy = self._greedy_full_cover()
        if greedy is not None:
            open_mask, covered = greedy
            report = SolveReport(
                "optimal",
                covered,
                covered,
                0.0,
                time.perf_counter() - started,
                resolve_solver(solver),
                "greedy plan covers every client in reach of an allowed site (the bound)",
            )
            return self._decode(open_mask.astype(float), report, 0.0)
        return super().solve(solver, time_limit, gap)

    def _greedy_full_cover(self) -> tuple[np.ndarray, float] | None:
        """Greedy plan and its coverage when it reaches the trivial bound, else None."""
        options = self.options
        if self.p is None or options.budget is not None or len(options.spacing_pairs):
            return None
        coo = self.reach.tocoo()
        keep = options.allowed[coo.col]
        indicator = sp.csc_array(
            (np.ones(int(keep.sum())), (coo.row[keep], coo.col[keep])), shape=self.reach.shape
        )
        coverable = np.diff(sp.csr_array(indicator).indptr) > 0
        bound = float(self.weights[coverable].sum())
        open_mask = options.fixed_mask.copy()
        uncovered = self.weights.astype(float).copy()
        uncovered[(indicator @ open_mask.astype(float)) > 0] = 0.0
        for _ in range(self.p - int(open_mask.sum())):
            gain = indicator.T @ uncovered
            gain[~options.allowed | open_mask] = -1.0
            site = int(np.argmax(gain))
            if gain[site] <= 0:
                break
            open_mask[site] = True
            uncovered[indicator[:, [site]].toarray().ravel() > 0] = 0.0
        covered = float(self.weights.sum() - uncovered.sum())
        if covered < bound * (1 - 1e-12) or int(open_mask.sum()) > self.p:
            return None
        # Fill up to p sites (sum y = p) with any allowed sites; coverage cannot drop.
        spare = np.flatnonzero(options.allowed & ~open_mask)[: self.p - int(open_mask.sum())]
        open_mask[spare] = True
        if int(open_mask.sum()) != self.p:
            return None
        return open_mask, covered

    def _problem(self) -> MipProblem:
        m = self.n_candidates
        allowed = self.options.allowed
        reach = self.reach
        covered_fixed = _covered_by_fixed(reach, self.options.fixed_mask)
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
        side, side_lower, side_upper = site_rows(self.options, self.p, n_variables)
        matrix = sp.vstack([coverage_rows, side], format="csr")
        site_lower, site_upper = site_bounds(self.options)
        return MipProblem(
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

    def _problem(self) -> MipProblem:
        m = self.n_candidates
        allowed = self.options.allowed
        covered_fixed = _covered_by_fixed(self.reach, self.options.fixed_mask)
        coo = self.reach.tocoo()
        keep = allowed[coo.col]
        indicator = sp.csr_array(
            (np.ones(int(keep.sum())), (coo.row[keep], coo.col[keep])), shape=self.reach.shape
        )
        need = np.flatnonzero(~covered_fixed & (self.weights > 0))
        cover_rows = indicator[need]
        side, side_lower, side_upper = site_rows(self.options, None, m)
        costs = self.options.opening_cost
        site_lower, site_upper = site_bounds(self.options)
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
