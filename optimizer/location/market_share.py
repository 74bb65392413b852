"""Competitor-aware market-share maximisation under a Huff (multinomial-logit) choice rule."""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..results import SolveReport
from ..solvers import MipProblem, MipSolution, resolve_limits
from ._base import LocationModel, site_bounds, site_rows
from ._inputs import (
    IndexLike,
    SiteOptions,
    check_weights,
    reach_matrix,
    site_count_reasons,
    site_options,
)
from ._outer_approximation import HuffCapture, solve_outer_approximation
from ._result import LocationResult
from .coverage import _check_p

MarketShareMethod = Literal["outer", "haase"]
"""``outer``: outer approximation with gradient and submodular cuts (default, scales to tens of
thousands of clients). ``haase``: the exact linear model with one variable per client-site pair
(for cross-checks on small cases)."""


def share_to_ratio(share: np.ndarray) -> np.ndarray:
    """Attraction ratio ``a_ij / C_i`` from the share a site would win alone: ``s / (1 - s)``.

    Examples
    --------
    >>> share_to_ratio(np.array([0.5, 0.2])).round(3).tolist()
    [1.0, 0.25]
    """
    return share / (1.0 - share)


def captured_demand(share: np.ndarray, weights: np.ndarray, open_sites: np.ndarray) -> float:
    """Demand our open sites capture together under the Huff rule (for checks and tests).

    Parameters
    ----------
    share
        Dense clients x candidates: share each site would win if it were our only addition.
    weights
        Client demand.
    open_sites
        Indices of our open sites.

    Examples
    --------
    >>> captured_demand(np.array([[0.5, 0.5]]), np.array([10.0]), np.array([0, 1]))
    6.666666666666667
    """
    ratio = share_to_ratio(np.asarray(share, dtype=float)[:, open_sites]).sum(axis=1)
    return float((weights * ratio / (1.0 + ratio)).sum())


class MarketShare(LocationModel):
    r"""Open ``p`` sites maximising the demand captured from competitors (Huff choice rule).

    Input: the share :math:`s_{ij} \in [0, 1)` of client :math:`i`'s demand that site :math:`j`
    would win if it were the only site added to today's market (existing competitors and own
    stores included), e.g. from :mod:`optimizer.huff`. Under the Huff / multinomial-logit rule
    this fixes the attraction ratio :math:`r_{ij} = a_{ij} / C_i = s_{ij} / (1 - s_{ij})`, and a set
    :math:`S` of open sites captures :math:`f(R_i(S))` of client :math:`i` with
    :math:`R_i(S) = \sum_{j \in S} r_{ij}` and :math:`f(R) = R / (1 + R)`. The captured demand
    :math:`F(S) = \sum_i w_i f(R_i(S))` is monotone submodular and each client term is concave
    in :math:`R_i`.

    **Outer approximation** (``method="outer"``, default; Ljubić & Moreno 2018). Clients are
    partitioned into groups :math:`g` (default: by their strongest allowed site). A master MIP
    over the site variables :math:`y_j` and one epigraph variable :math:`\theta_g` per group is

    .. math::

        \max \sum_g \theta_g                                                \quad (1)

        \theta_g \le \sum_{i \in g} w_i \Big[ f(\bar R_i) + \sum_j
            \min\big(f'(\bar R_i)\, r_{ij},\; 1 - f(\bar R_i)\big)\, y_j
            - f'(\bar R_i) \bar R_i \Big]
            \quad \forall g, \forall \bar S \in \mathcal{C}                 \quad (2)

        \theta_g \le F_g(\bar S) + \sum_{j \notin \bar S} \rho_{gj}(\bar S)\, y_j
            \quad \forall g, \forall \bar S \in \mathcal{C}                 \quad (3)

        0 \le \theta_g \le \sum_{i \in g} w_i                               \quad (4)

        \sum_j y_j = p, \; \text{budget, spacing, kept-open / excluded}     \quad (5)

    with :math:`f'(R) = 1 / (1 + R)^2`, :math:`\bar R_i = R_i(\bar S)` and
    :math:`\rho_{gj}(\bar S) = F_g(\bar S \cup \{j\}) - F_g(\bar S)`. (2) is the gradient cut of the
    concave client term; capping each coefficient at :math:`1 - f(\bar R_i)` keeps it valid at
    0/1 points (a client never yields more than its demand) and finite when :math:`s_{ij} = 1`.
    (3) is the submodular cut. Both are tight at :math:`\bar S`. The cut points
    :math:`\mathcal{C}` are the greedy plans of every size, the plans a 1-swap local search
    visits from the greedy plan, and every plan the master proposes. Each round solves the
    master (its bound is an upper bound on :math:`F`), evaluates the true :math:`F` of its plan
    (the best is the lower bound) and adds its cuts, until ``(UB - LB) / LB <= gap`` or the
    time limit. The report gives the best true value as objective and the best master bound
    as bound; the status is ``"optimal"`` only when that gap is within ``gap``.

    **Haase** (``method="haase"``). The exact linear ("probabilistic choice") formulation of
    Haase (2009) uses :math:`x_{ij}` the share captured by site :math:`j` and :math:`x_{i0}` the
    share left to the rest of the market:

    .. math::

        \max \sum_i w_i \sum_j x_{ij}                                     \quad (H1)

        x_{i0} + \sum_j x_{ij} = 1 \quad \forall i                          \quad (H2)

        x_{ij} \le r_{ij}\, x_{i0} \quad \forall i, j                       \quad (H3)

        x_{ij} \le s_{ij}\, y_j \quad \forall i, j                          \quad (H4)

        \sum_j y_j = p                                                     \quad (H5)

    For fixed :math:`y`, (H2)-(H3) at the optimum give exactly the Huff shares; (H4) is the
    tightest valid upper bound (the share when :math:`j` is alone) and only strengthens the LP.
    It has one variable per client-site pair and is only practical for small cases.

    Pairs with :math:`s_{ij} = 0` are left out (sparse); :math:`s_{ij} = 1` (no competition)
    captures the client whole. Shared side constraints (budget, spacing, kept-open / excluded)
    apply in both methods.

    Examples
    --------
    >>> share = np.array([[0.5, 0.4, 0.0], [0.0, 0.4, 0.6]])
    >>> MarketShare.from_share_matrix(share, [10, 10], p=1).solve().sites.tolist()
    [1]
    """

    model_name: ClassVar[str] = "MarketShare"
    objective_name: str = "captured demand"

    def __init__(
        self, reach: sp.csr_array, weights: np.ndarray, options: SiteOptions, p: int | None
    ) -> None:
        super().__init__(reach, weights, options, p)

    @classmethod
    def from_share_matrix(
        cls,
        share: Any,
        weights: Any,
        *,
        p: int | None = None,
        fixed: IndexLike = None,
        excluded: IndexLike = None,
        opening_cost: Any = None,
        budget: float | None = None,
        min_spacing: float | None = None,
        candidate_distance: Any = None,
    ) -> MarketShare:
        """Build the model from the clients x candidates share matrix.

        Parameters
        ----------
        share
            Dense or sparse; ``share[i, j]`` in [0, 1] is the share of client ``i``'s demand
            site ``j`` would win alone against today's market. Missing / 0: no capture.
        weights
            Demand of each client.
        p
            Number of open sites (kept-open ones included); optional with ``budget``.
        fixed, excluded, opening_cost, budget, min_spacing, candidate_distance
            Shared site options (see :class:`optimizer.location.MCLP`).

        Returns
        -------
        MarketShare
            The model, ready to ``solve()``.
        """
        matrix = reach_matrix(share)
        if matrix.nnz and matrix.data.max() > 1.0:
            raise InputError(
                f"`share` has a value {matrix.data.max():g} above 1; shares are fractions of "
                "demand in [0, 1]."
            )
        matrix.data[matrix.data < 0] = 0.0
        matrix.eliminate_zeros()
        options = site_options(
            matrix.shape[1],
            fixed=fixed,
            excluded=excluded,
            opening_cost=opening_cost,
            budget=budget,
            min_spacing=min_spacing,
            candidate_distance=candidate_distance,
        )
        p = _check_p(p, required=budget is None)
        return cls(matrix, check_weights(weights, matrix.shape[0]), options, p)

    @classmethod
    def from_cost_matrix(
        cls,
        cost: Any,
        weights: Any,
        *,
        share: Any,
        max_distance: float | None = None,
        **options: Any,
    ) -> MarketShare:
        """Build the model from distances (which set reach) and the share matrix.

        Pairs out of reach in ``cost`` (``inf``, missing or beyond ``max_distance``) capture
        nothing, whatever ``share`` says. Other options as :meth:`from_share_matrix`.

        Examples
        --------
        >>> cost = np.array([[1.0, np.inf], [2.0, 1.0]])
        >>> share = np.array([[0.5, 0.5], [0.2, 0.6]])
        >>> MarketShare.from_cost_matrix(cost, [1, 1], share=share, p=1).solve().sites.tolist()
        [0]
        """
        reach = reach_matrix(cost, max_distance=max_distance)
        share_matrix = reach_matrix(share)
        if share_matrix.shape != reach.shape:
            raise InputError(
                f"`share` has shape {share_matrix.shape} but `cost` has {reach.shape}; both are "
                "clients x candidates."
            )
        indicator = reach.copy()
        indicator.data[:] = 1.0
        masked = sp.csr_array(share_matrix.multiply(indicator))
        return cls.from_share_matrix(masked, weights, **options)

    def solve(
        self,
        solver: str | None = None,
        time_limit: float | None = None,
        gap: float | None = None,
        *,
        method: MarketShareMethod = "outer",
        n_groups: int | None = None,
    ) -> LocationResult:
        """Solve the model (see the class docstring for both methods).

        Parameters
        ----------
        solver
            MIP solver (:func:`optimizer.solvers.available_solvers`); default from settings.
        time_limit
            Seconds for the whole solve; default from :mod:`optimizer.settings`.
        gap
            Relative gap ``(bound - objective) / objective`` accepted as optimal; default from
            :mod:`optimizer.settings`.
        method
            ``"outer"`` (outer approximation, default) or ``"haase"`` (exact linear model).
        n_groups
            Outer approximation only: number of client groups (epigraph variables). ``None``
            groups clients by their strongest allowed site.

        Returns
        -------
        LocationResult
            Sites, strongest site of each client, captured demand and the report. Status
            ``"optimal"`` only when the gap is proven within ``gap``; ``"feasible"`` otherwise.

        Raises
        ------
        InfeasibleError
            When the inputs cannot be satisfied.
        SolverError
            When no plan was found within the time limit.

        Examples
        --------
        >>> share = np.array([[0.5, 0.4, 0.0], [0.0, 0.4, 0.6]])
        >>> model = MarketShare.from_share_matrix(share, [10, 10], p=1)
        >>> model.solve(method="outer").sites.tolist(), model.solve(method="haase").sites.tolist()
        ([1], [1])
        """
        if method == "haase":
            return super().solve(solver, time_limit, gap)
        if method != "outer":
            raise InputError(f"`method` is {method!r}; use 'outer' or 'haase'.")
        if n_groups is not None and n_groups < 1:
            raise InputError(f"`n_groups` is {n_groups}; give a positive number or None.")
        self.check()
        started = time.perf_counter()
        rows, cols, share = self._pairs()
        capture = HuffCapture.from_pairs(rows, cols, share, self.weights, self.n_candidates)
        build_seconds = time.perf_counter() - started
        limit, wanted_gap = resolve_limits(time_limit, gap)
        outcome = solve_outer_approximation(
            capture,
            self.options,
            self.p,
            solver=solver,
            time_limit=limit,
            gap=wanted_gap,
            n_groups=n_groups,
        )
        if outcome.open_mask is None:
            solution = MipSolution(None, outcome.report)
        else:
            solution = MipSolution(outcome.open_mask.astype(float), outcome.report)
        return self._finish(solution, build_seconds)

    def _reasons(self) -> list[str]:
        return site_count_reasons(self.options, self.p)

    def _pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        coo = self.reach.tocoo()
        keep = self.options.allowed[coo.col] & (self.weights[coo.row] > 0) & (coo.data > 0)
        return coo.row[keep], coo.col[keep], coo.data[keep]

    def _problem(self) -> MipProblem:
        m = self.n_candidates
        rows, cols, share = self._pairs()
        k = len(rows)
        clients = np.unique(rows)
        n_clients = len(clients)
        client_row = np.full(self.n_clients, -1)
        client_row[clients] = np.arange(n_clients)
        x = m + np.arange(k)
        rest = m + k + np.arange(n_clients)
        n_variables = m + k + n_clients
        total = sp.csr_array(
            (
                np.ones(k + n_clients),
                (
                    np.concatenate([client_row[rows], np.arange(n_clients)]),
                    np.concatenate([x, rest]),
                ),
            ),
            shape=(n_clients, n_variables),
        )
        competitive = share < 1.0
        pair = np.flatnonzero(competitive)
        ratio = share_to_ratio(share[pair])
        choice = sp.csr_array(
            (
                np.concatenate([np.ones(len(pair)), -ratio]),
                (
                    np.concatenate([np.arange(len(pair))] * 2),
                    np.concatenate([x[pair], rest[client_row[rows[pair]]]]),
                ),
            ),
            shape=(len(pair), n_variables),
        )
        alone = sp.csr_array(
            (
                np.concatenate([np.ones(k), -share]),
                (np.concatenate([np.arange(k)] * 2), np.concatenate([x, cols])),
            ),
            shape=(k, n_variables),
        )
        side, side_lower, side_upper = site_rows(self.options, self.p, n_variables)
        lower, upper = site_bounds(self.options)
        return MipProblem(
            objective=np.concatenate([np.zeros(m), self.weights[rows], np.zeros(n_clients)]),
            matrix=sp.vstack([total, choice, alone, side], format="csr"),
            row_lower=np.concatenate(
                [np.ones(n_clients), np.full(len(pair) + k, -np.inf), side_lower]
            ),
            row_upper=np.concatenate([np.ones(n_clients), np.zeros(len(pair) + k), side_upper]),
            col_lower=np.concatenate([lower, np.zeros(k + n_clients)]),
            col_upper=np.concatenate([upper, np.ones(k + n_clients)]),
            integer=np.concatenate([np.ones(m, bool), np.zeros(k + n_clients, bool)]),
            sense="max",
            integral_continuous=False,
        )

    def _decode(
        self, values: np.ndarray, report: SolveReport, build_seconds: float
    ) -> LocationResult:
        open_mask = self._open_mask(values)
        rows, cols, share = self._pairs()
        # Recompute the Huff shares of the chosen sites exactly (not from solver tolerances).
        is_open = open_mask[cols]
        ratio = np.zeros(len(rows))
        ratio[is_open] = share_to_ratio(np.minimum(share[is_open], 1 - 1e-12))
        total_ratio = np.bincount(rows, weights=ratio, minlength=self.n_clients)
        captured_share = total_ratio / (1.0 + total_ratio)
        pair_share = np.where(is_open, ratio / (1.0 + total_ratio[rows]), 0.0)
        order = np.lexsort((-pair_share, rows))
        r, c, s = rows[order], cols[order], pair_share[order]
        first_rows, first = np.unique(r, return_index=True)
        assignment = np.full(self.n_clients, -1, dtype=np.int64)
        winners = s[first] > 0
        assignment[first_rows[winners]] = c[first][winners]
        captured = float((self.weights * captured_share).sum())
        total = float(self.weights.sum())
        flows = sp.csr_array((pair_share, (rows, cols)), shape=self.reach.shape)
        return self._result(
            report,
            open_mask,
            assignment,
            np.full(self.n_clients, np.nan),
            captured / total if total > 0 else 0.0,
            build_seconds,
            captured_demand=captured,
            captured_share=captured_share,
            flows=flows,
            demand_word="captured",
        )
