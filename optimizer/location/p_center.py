"""p-center: open ``p`` sites so that the farthest client is as close as possible."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ..errors import InfeasibleError, SolverError
from ..results import SolveReport, SolveStatus, relative_gap
from ..solvers import MipProblem, resolve_limits, resolve_solver, solve_mip
from ._base import LocationModel, nearest_open, site_bounds, site_rows
from ._inputs import (
    IndexLike,
    check_weights,
    reach_matrix,
    site_count_reasons,
    site_options,
    unreachable_reasons,
)
from ._result import LocationResult
from .coverage import _check_p


class PCenter(LocationModel):
    r"""p-center: open ``p`` sites minimising the largest client-to-nearest-site distance.

    Solved exactly by bisection over the sorted distinct distances :math:`r` (the optimum is one
    of them), each step a set-cover feasibility MIP (Minieka, 1970; Daskin, 2000):

    .. math::

        \min \sum_j y_j                                                 \quad (1)

        \sum_{j: d_{ij} \le r} y_j \ge 1 \quad \forall i: w_i > 0        \quad (2)

        \sum_j y_j \le p                                                \quad (3)

    plus the shared side constraints (budget, spacing, kept-open / excluded sites). Radius
    :math:`r` is feasible when (1)-(3) has a solution; the smallest feasible one is optimal. The
    search starts at the largest nearest-site distance (a lower bound) and reports as bound the
    smallest radius not proven infeasible, so a run stopped by the time limit is reported as
    ``"feasible"`` with its gap. Weights only select which clients count (those > 0).

    Examples
    --------
    >>> cost = np.array([[0.0, 4.0, 6.0], [3.0, 1.0, 6.0], [8.0, 2.0, 1.0]])
    >>> PCenter.from_cost_matrix(cost, [1, 1, 1], p=1).solve().objective
    4.0
    """

    model_name: ClassVar[str] = "PCenter"
    objective_name: str = "largest distance"

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
    ) -> PCenter:
        """Build a p-center model from a clients x candidates distance matrix.

        Parameters
        ----------
        cost
            Distances (dense, ``inf`` = out of reach; or sparse, missing = out of reach).
        weights
            Demand; clients with zero demand are ignored.
        p
            Largest number of open sites (kept-open ones included).
        max_distance
            Pairs farther apart are out of reach.
        fixed, excluded, opening_cost, budget, min_spacing, candidate_distance
            Shared site options (see :class:`optimizer.location.MCLP`).

        Returns
        -------
        PCenter
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

    def _cover_problem(self, radius: float) -> MipProblem:
        m = self.n_candidates
        coo = self.reach.tocoo()
        keep = self.options.allowed[coo.col] & (coo.data <= radius)
        indicator = sp.csr_array(
            (np.ones(int(keep.sum())), (coo.row[keep], coo.col[keep])), shape=self.reach.shape
        )
        need = np.flatnonzero(self.weights > 0)
        side, side_lower, side_upper = site_rows(self.options, self.p, m, p_sense="<=")
        lower, upper = site_bounds(self.options)
        return MipProblem(
            objective=np.ones(m),
            matrix=sp.vstack([indicator[need], side], format="csr"),
            row_lower=np.concatenate([np.ones(len(need)), side_lower]),
            row_upper=np.concatenate([np.full(len(need), np.inf), side_upper]),
            col_lower=lower,
            col_upper=upper,
            integer=np.ones(m, bool),
        )

    def solve(
        self, solver: str | None = None, time_limit: float | None = None, gap: float | None = None
    ) -> LocationResult:
        """Solve by bisection over radii; see :meth:`LocationModel.solve` for the arguments."""
        self.check()
        name = resolve_solver(solver)
        limit, gap = resolve_limits(time_limit, gap)
        started = time.perf_counter()
        coo = self.reach.tocoo()
        allowed_pairs = self.options.allowed[coo.col] & (self.weights[coo.row] > 0)
        radii = np.unique(coo.data[allowed_pairs])
        nearest = np.full(self.n_clients, np.inf)
        np.minimum.at(nearest, coo.row[allowed_pairs], coo.data[allowed_pairs])
        lower_bound = float(nearest[self.weights > 0].max(initial=0.0))
        radii = radii[radii >= lower_bound]
        low, high = 0, len(radii) - 1  # radii[high] is feasible if anything is
        best_values: np.ndarray | None = None
        proven = True
        solver_seconds = 0.0
        while low <= high:
            middle = (low + high) // 2
            remaining = None if limit is None else limit - (time.perf_counter() - started)
            if remaining is not None and remaining <= 0:
                proven = False
                break
            solution = solve_mip(self._cover_problem(float(radii[middle])), name, remaining, gap)
            solver_seconds += solution.report.solve_seconds
            if solution.values is not None:
                best_values = solution.values
                high = middle - 1
            elif solution.report.status == "infeasible":
                low = middle + 1
            else:
                proven = False
                break
        if best_values is None:
            if proven:
                raise InfeasibleError(
                    "PCenter has no feasible plan: no choice of p sites meets the budget, spacing "
                    "and kept-open requirements while reaching every client; relax one of them.",
                    ["the number of sites, budget, spacing and reach requirements conflict"],
                )
            raise SolverError(
                f"PCenter: {name} found no plan within the time limit; give a longer `time_limit`."
            )
        open_mask = best_values[: self.n_candidates] > 0.5
        assignment, distance = nearest_open(self.reach, open_mask)
        served = self.weights > 0
        objective = float(distance[served].max(initial=0.0))
        bound = float(radii[low]) if low < len(radii) else objective
        bound = min(bound, objective)
        status: SolveStatus = "optimal" if proven else "feasible"
        if status == "optimal":
            bound = objective
        report = SolveReport(
            status,
            objective,
            bound,
            relative_gap(objective, bound),
            solver_seconds,
            name,
            f"bisection over {len(radii)} candidate radii",
        )
        total = float(self.weights.sum())
        coverage = float(self.weights[assignment >= 0].sum()) / total if total > 0 else 1.0
        return self._result(
            report,
            open_mask,
            assignment,
            distance,
            coverage,
            time.perf_counter() - started - solver_seconds,
        )

    def _problem(self) -> MipProblem:  # pragma: no cover - solve() is overridden
        raise NotImplementedError

    def _decode(
        self, values: np.ndarray, report: SolveReport, build_seconds: float
    ) -> LocationResult:
        raise NotImplementedError  # pragma: no cover
