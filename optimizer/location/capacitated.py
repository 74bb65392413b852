"""Capacitated p-median and capacitated facility location."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ..errors import InputError, SolverError
from ..results import SolveReport
from ..solvers import (
    MipProblem,
    check_solver_fits,
    solve_mip,
)
from ._base import (
    LocationModel,
    better,
    combined_report,
    early_report,
    mip_bound_after,
    site_bounds,
    site_rows,
    start_clock,
    with_fixing,
)
from ._capacitated_search import capacitated_search
from ._inputs import (
    IndexLike,
    SiteOptions,
    check_weights,
    format_amount,
    list_indices,
    reach_matrix,
    site_count_reasons,
    site_options,
    unreachable_reasons,
)
from ._result import LocationResult
from .coverage import _check_p


class CapacitatedPMedian(LocationModel):
    r"""Capacitated p-median / capacitated facility location.

    Each open site :math:`j` serves at most :math:`Q_j` demand. With the reachable pairs
    :math:`A`, :math:`x_{ij}` the share of client :math:`i`'s demand served by site :math:`j`:

    .. math::

        \min \sum_{(i,j) \in A} w_i d_{ij} x_{ij} + \sum_j \phi_j y_j          \quad (1)

        \sum_{j: (i,j) \in A} x_{ij} = 1 \quad \forall i: w_i > 0             \quad (2)

        \sum_{i: (i,j) \in A} w_i x_{ij} \le Q_j y_j \quad \forall j          \quad (3)

        x_{ij} \le y_j \quad \forall (i,j) \in A                              \quad (4)

        \sum_j y_j = p \quad \text{(when p is given)}                          \quad (5)

    with :math:`x_{ij} \in [0, 1]` (split demand) or :math:`\{0, 1\}` (``single_source=True``).
    (4) is redundant for integer solutions but tightens the LP bound. :math:`\phi_j` is the
    opening cost when ``p`` is None (capacitated facility location, which then needs
    ``opening_cost``), else 0. Shared side constraints (budget, spacing, kept-open / excluded)
    apply. Before solving it checks that the largest ``p`` capacities can hold the demand.
    ``assignment`` gives each client the site serving most of its demand; ``details["flows"]``
    holds the full split (sparse clients x sites).

    Examples
    --------
    >>> cost = np.array([[0.0, 5.0], [1.0, 4.0], [9.0, 0.0]])
    >>> model = CapacitatedPMedian.from_cost_matrix(cost, [1, 1, 1], p=2, capacity=[1, 5])
    >>> model.solve().objective
    4.0
    """

    model_name: ClassVar[str] = "CapacitatedPMedian"
    objective_name: str = "demand-weighted distance"

    def __init__(
        self,
        reach: sp.csr_array,
        weights: np.ndarray,
        options: SiteOptions,
        p: int | None,
        capacity: np.ndarray,
        single_source: bool,
    ) -> None:
        super().__init__(reach, weights, options, p)
        self.capacity = capacity
        self.single_source = single_source
        if p is None:
            self.objective_name = "opening cost + demand-weighted distance"

    @classmethod
    def from_cost_matrix(
        cls,
        cost: Any,
        weights: Any,
        *,
        capacity: Any,
        p: int | None = None,
        single_source: bool = False,
        max_distance: float | None = None,
        fixed: IndexLike = None,
        excluded: IndexLike = None,
        opening_cost: Any = None,
        budget: float | None = None,
        min_spacing: float | None = None,
        candidate_distance: Any = None,
    ) -> CapacitatedPMedian:
        """Build the model from a clients x candidates distance matrix.

        Parameters
        ----------
        cost
            Distances (dense, ``inf`` = out of reach; or sparse, missing = out of reach).
        weights
            Demand of each client (same unit as ``capacity``).
        capacity
            Demand each candidate can serve when open.
        p
            Number of open sites; ``None`` for facility location (minimise opening cost plus
            weighted distance; needs ``opening_cost``).
        single_source
            Each client served by one site only (harder MIP).
        max_distance, fixed, excluded, opening_cost, budget, min_spacing, candidate_distance
            Shared options (see :class:`optimizer.location.PMedian`).

        Returns
        -------
        CapacitatedPMedian
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
        capacities = np.asarray(capacity, dtype=float).reshape(-1)
        if capacities.shape[0] != reach.shape[1]:
            raise InputError(
                f"`capacity` has {capacities.shape[0]} values but there are {reach.shape[1]} "
                "candidates; give one capacity per candidate."
            )
        if not np.all(np.isfinite(capacities)) or np.any(capacities < 0):
            raise InputError("`capacity` must be finite and >= 0 for every candidate.")
        p = _check_p(p, required=False)
        if p is None and options.opening_cost is None:
            raise InputError(
                "Give `p` (number of sites) or `opening_cost` (facility location trades opening "
                "cost against distance); with neither, every site would open."
            )
        return cls(
            reach,
            check_weights(weights, reach.shape[0]),
            options,
            p,
            capacities,
            bool(single_source),
        )

    def _reasons(self) -> list[str]:
        reasons = site_count_reasons(self.options, self.p)
        reasons += unreachable_reasons(self.reach, self.weights, self.options, "reach")
        allowed = self.options.allowed
        demand = float(self.weights.sum())
        if self.p is None:
            usable = float(self.capacity[allowed].sum())
            words = f"total capacity {format_amount(usable)}"
        else:
            fixed_capacity = self.capacity[self.options.fixed]
            others = self.capacity[allowed & ~self.options.fixed_mask]
            extra = np.sort(others)[::-1][: max(self.p - len(fixed_capacity), 0)]
            usable = float(fixed_capacity.sum() + extra.sum())
            words = f"total capacity {format_amount(usable)} of the {self.p} largest sites"
        if usable < demand * (1 - 1e-12):
            reasons.append(
                f"{words} is smaller than total demand {format_amount(demand)}; raise capacities "
                "or the number of sites."
            )
        if self.single_source:
            coo = self.reach.tocoo()
            keep = allowed[coo.col]
            best = np.zeros(self.n_clients)
            np.maximum.at(best, coo.row[keep], self.capacity[coo.col[keep]])
            too_big = np.flatnonzero(self.weights > best + 1e-9)
            too_big = too_big[np.isin(too_big, coo.row[keep])]
            if len(too_big):
                reasons.append(
                    f"with single sourcing, clients {list_indices(too_big)} have more demand than "
                    "any site in reach can hold; allow split demand (`single_source=False`)."
                )
        return reasons

    def solve(
        self, solver: str | None = None, time_limit: float | None = None, gap: float | None = None
    ) -> LocationResult:
        """Solve: Lagrangian plans and bound, then the MIP from the best plan on the sites left.

        With split demand and no budget or spacing, the Lagrangian relaxation of the demand
        rows (strong links kept; :mod:`optimizer.location._capacitated_search`) gives a
        bound, plans priced exactly by a transport LP, drop / add / swap moves, and sites
        fixed by reduced cost; the MIP starts from the best plan with the time left. The plan
        returned is the best met, its objective recomputed from its sites and flows, and it is
        ``"optimal"`` only when proven within ``gap``. Arguments as
        :meth:`LocationModel.solve`.
        """
        self.check()
        clock = start_clock(solver, time_limit, gap)
        check_solver_fits(clock.solver, self.single_source)
        options = self.options
        clients = np.flatnonzero(self.weights > 0)
        searchable = (
            not self.single_source
            and options.budget is None
            and not len(options.spacing_pairs)
            and len(clients) * self.n_candidates <= 4_000_000
        )
        notes: list[str] = []
        bounds: list[float | None] = []
        plan_values: np.ndarray | None = None
        closed = opened = np.zeros(self.n_candidates, dtype=bool)
        if searchable:
            dense = np.full((len(clients), self.n_candidates), np.inf)
            sub = sp.csr_array(self.reach[clients])
            coo = sub.tocoo()
            dense[coo.row, coo.col] = coo.data * self.weights[clients][coo.row]
            opening = (options.opening_cost if self.p is None and options.opening_cost is not None
                       else np.zeros(self.n_candidates))
            search = capacitated_search(
                dense, self.weights[clients], self.capacity, opening, self.p, options.allowed,
                options.fixed_mask, clock.at(0.35))
            bounds.append(search.bound)
            notes.append(
                f"Lagrangian bound {format_amount(search.bound)} after {search.iterations} "
                f"steps, best of {search.plans_priced} plans priced "
                f"{format_amount(search.plan_value)}"
            )
            if search.share is not None:
                full_share = sp.csr_array(
                    (search.share.tocoo().data,
                     (clients[search.share.tocoo().row], search.share.tocoo().col)),
                    shape=self.reach.shape)
                plan_values = self._values_of(options, search.plan, full_share)
                closed, opened = search.fixed_closed, search.fixed_open
                notes.append(f"{int(closed.sum())} sites ruled out, {int(opened.sum())} fixed open")
                early = early_report(clock, "min", self._objective_of(plan_values), bounds)
                if early is not None:
                    return self._values_result(plan_values, early[0], notes + [early[1]],
                                               clock.started)
        build_started = time.perf_counter()
        reduced = with_fixing(options, closed, opened)
        problem = self._problem_with(reduced)
        if plan_values is not None:
            m = self.n_candidates
            rows, cols, _ = self._pairs(options)
            share_of = sp.csr_array((plan_values[m:], (rows, cols)), shape=self.reach.shape)
            r_rows, r_cols, _ = self._pairs(reduced)
            problem.start = np.concatenate(
                [plan_values[:m], np.asarray(share_of[r_rows, r_cols]).ravel()])
        build_seconds = time.perf_counter() - build_started
        solution = solve_mip(problem, clock.solver, clock.remaining(), clock.mip_gap)
        mip_report = solution.report
        if solution.values is None and plan_values is None:
            return self._finish(solution, build_seconds)
        incumbent = None if plan_values is None else self._objective_of(plan_values)
        bounds.append(mip_bound_after(mip_report, "min", incumbent,
                                      bool(closed.any() or opened.any())))
        values = plan_values
        if solution.values is not None:
            m = self.n_candidates
            r_rows, r_cols, _ = self._pairs(reduced)
            shares = sp.csr_array((solution.values[m:], (r_rows, r_cols)), shape=self.reach.shape)
            mip_values = self._values_of(options, self._open_mask(solution.values), shares)
            mip_value = self._objective_of(mip_values)
            notes.append(f"MIP ({mip_report.message}) plan {format_amount(mip_value)}")
            if better("min", mip_value, incumbent):
                values = mip_values
        else:
            notes.append(f"MIP: {mip_report.message}, no plan")
        if values is None:
            raise SolverError(f"No plan found within the time limit ({mip_report.message}); "
                              "give the solve more time.")
        report = combined_report(sense="min", objective=self._objective_of(values),
                                 bounds=bounds, mip_gap=clock.mip_gap, seconds=0.0,
                                 solver=clock.solver, message="")
        return self._values_result(values, report, notes, clock.started, build_seconds)

    def _values_of(self, options: SiteOptions, open_mask: np.ndarray, shares: sp.csr_array
                   ) -> np.ndarray:
        """Return the variable vector (sites, then shares of the pairs under ``options``)."""
        rows, cols, _ = self._pairs(options)
        share = np.asarray(sp.csr_array(shares)[rows, cols]).ravel()
        return np.concatenate([open_mask.astype(float), share])

    def _objective_of(self, values: np.ndarray) -> float:
        """Objective of a variable vector, recomputed from its sites and shares."""
        m = self.n_candidates
        rows, _, dist = self._pairs()
        total = float((self.weights[rows] * dist * np.clip(values[m:], 0.0, 1.0)).sum())
        if self.p is None and self.options.opening_cost is not None:
            total += float(self.options.opening_cost[values[:m] > 0.5].sum())
        return total

    def _values_result(self, values: np.ndarray, report: SolveReport, notes: list[str],
                       started: float, build_seconds: float = 0.0) -> LocationResult:
        report = replace(report, solve_seconds=time.perf_counter() - started,
                         message="; ".join(notes))
        return self._decode(values, report, build_seconds)

    def _pairs(self, options: SiteOptions | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        options = self.options if options is None else options
        coo = self.reach.tocoo()
        keep = options.allowed[coo.col] & (self.weights[coo.row] > 0)
        return coo.row[keep], coo.col[keep], coo.data[keep]

    def _problem(self) -> MipProblem:
        return self._problem_with(self.options)

    def _problem_with(self, options: SiteOptions) -> MipProblem:
        m = self.n_candidates
        rows, cols, dist = self._pairs(options)
        k = len(rows)
        clients = np.flatnonzero(self.weights > 0)
        client_row = np.full(self.n_clients, -1)
        client_row[clients] = np.arange(len(clients))
        x = m + np.arange(k)
        n_variables = m + k
        assign = sp.csr_array(
            (np.ones(k), (client_row[rows], x)), shape=(len(clients), n_variables)
        )
        capacity_rows = sp.csr_array(
            (
                np.concatenate([self.weights[rows], -self.capacity]),
                (np.concatenate([cols, np.arange(m)]), np.concatenate([x, np.arange(m)])),
            ),
            shape=(m, n_variables),
        )
        link = sp.csr_array(
            (
                np.concatenate([np.ones(k), -np.ones(k)]),
                (np.concatenate([np.arange(k), np.arange(k)]), np.concatenate([x, cols])),
            ),
            shape=(k, n_variables),
        )
        side, side_lower, side_upper = site_rows(options, self.p, n_variables)
        site_cost = np.zeros(m)
        if self.p is None and self.options.opening_cost is not None:
            site_cost = self.options.opening_cost.copy()
        lower, upper = site_bounds(options)
        return MipProblem(
            objective=np.concatenate([site_cost, self.weights[rows] * dist]),
            matrix=sp.vstack([assign, capacity_rows, link, side], format="csr"),
            row_lower=np.concatenate([np.ones(len(clients)), np.full(m + k, -np.inf), side_lower]),
            row_upper=np.concatenate([np.ones(len(clients)), np.zeros(m + k), side_upper]),
            col_lower=np.concatenate([lower, np.zeros(k)]),
            col_upper=np.concatenate([upper, np.ones(k)]),
            integer=np.concatenate([np.ones(m, bool), np.full(k, self.single_source)]),
            sense="min",
            integral_continuous=self.single_source,
        )

    def _decode(
        self, values: np.ndarray, report: SolveReport, build_seconds: float
    ) -> LocationResult:
        m = self.n_candidates
        open_mask = self._open_mask(values)
        rows, cols, dist = self._pairs()
        share = np.clip(values[m:], 0.0, 1.0)
        flows = sp.csr_array((share, (rows, cols)), shape=self.reach.shape)
        significant = share > 1e-9
        order = np.lexsort((-share[significant], rows[significant]))
        r, c, d = rows[significant][order], cols[significant][order], dist[significant][order]
        first_rows, first = np.unique(r, return_index=True)
        assignment = np.full(self.n_clients, -1, dtype=np.int64)
        distance = np.full(self.n_clients, np.nan)
        assignment[first_rows] = c[first]
        distance[first_rows] = d[first]
        served_by_site = np.bincount(cols, weights=self.weights[rows] * share, minlength=m)
        total = float(self.weights.sum())
        coverage = float((self.weights[rows] * share).sum()) / total if total > 0 else 1.0
        return self._result(
            report,
            open_mask,
            assignment,
            distance,
            coverage,
            build_seconds,
            flows=flows,
            served_by_site=served_by_site,
        )
