"""Outer approximation for maximum capture under the Huff rule (Ljubić & Moreno, 2018).

The captured demand ``F(S) = sum_i w_i R_i(S) / (1 + R_i(S))`` with ``R_i(S) = sum_{j in S} r_ij``
is monotone submodular and concave in each ``R_i``. A small master MIP over the site variables
``y`` and one epigraph variable ``theta_g`` per client group is cut, at each plan it proposes, by
gradient (outer-approximation) cuts and submodular cuts; the true value of the plans gives the
lower bound, the master's bound the upper bound. Everything is vectorised over the sparse
client x candidate pairs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..results import SolveReport, relative_gap
from ..solvers import MipProblem, solve_mip
from ._base import site_bounds, site_rows
from ._inputs import SiteOptions


@dataclass(frozen=True)
class HuffCapture:
    """Captured demand of a set of open sites, on the sparse pairs ``(rows, cols)``.

    ``ratio`` holds ``r_ij = s_ij / (1 - s_ij)`` for pairs with a share below 1; pairs with a
    share of exactly 1 (no competition) are flagged ``certain``: their client is captured whole.

    Examples
    --------
    >>> capture = HuffCapture.from_pairs(np.array([0, 0]), np.array([0, 1]),
    ...     np.array([0.5, 0.5]), np.array([10.0]), 2)
    >>> round(capture.value(np.array([True, True])), 6)
    6.666667
    """

    rows: np.ndarray
    cols: np.ndarray
    ratio: np.ndarray
    certain: np.ndarray
    weights: np.ndarray
    n_candidates: int
    pair_weight: np.ndarray = field(repr=False)

    @classmethod
    def from_pairs(
        cls,
        rows: np.ndarray,
        cols: np.ndarray,
        share: np.ndarray,
        weights: np.ndarray,
        n_candidates: int,
    ) -> HuffCapture:
        """Build from the pairs with a positive share and the client weights."""
        certain = share >= 1.0
        ratio = np.zeros(len(share))
        ratio[~certain] = share[~certain] / (1.0 - share[~certain])
        return cls(
            rows, cols, ratio, certain, weights, n_candidates, pair_weight=weights[rows]
        )

    def state(self, open_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per client: summed ratio of the open sites and whether an open site captures it whole."""
        is_open = open_mask[self.cols]
        n = len(self.weights)
        total_ratio = np.bincount(
            self.rows[is_open], weights=self.ratio[is_open], minlength=n
        )
        whole = np.bincount(self.rows[is_open & self.certain], minlength=n) > 0
        return total_ratio, whole

    def client_share(self, open_mask: np.ndarray) -> np.ndarray:
        """Share of each client's demand the open sites capture."""
        total_ratio, whole = self.state(open_mask)
        return np.where(whole, 1.0, total_ratio / (1.0 + total_ratio))

    def value(self, open_mask: np.ndarray) -> float:
        """Return the captured demand ``F(S)`` of the open sites."""
        return float((self.weights * self.client_share(open_mask)).sum())

    def pair_gains(self, open_mask: np.ndarray) -> np.ndarray:
        """Per pair: demand site ``j`` adds on client ``i`` when opened next to ``S``."""
        total_ratio, whole = self.state(open_mask)
        left = np.where(whole, 0.0, 1.0 / (1.0 + total_ratio))[self.rows]
        rest = total_ratio[self.rows]
        gain = np.where(
            self.certain, left, self.ratio / ((1.0 + rest) * (1.0 + rest + self.ratio))
        )
        return np.where(whole[self.rows], 0.0, self.pair_weight * gain)

    def gains(self, open_mask: np.ndarray) -> np.ndarray:
        """Marginal gain ``F(S + j) - F(S)`` of every candidate (0 for open ones)."""
        gain = np.bincount(
            self.cols, weights=self.pair_gains(open_mask), minlength=self.n_candidates
        )
        gain[open_mask] = 0.0
        return gain


def addable(options: SiteOptions, open_mask: np.ndarray) -> np.ndarray:
    """Candidates that may open next to ``open_mask`` (allowed, spacing and budget kept)."""
    mask = options.allowed & ~open_mask
    pairs = options.spacing_pairs
    if len(pairs):
        mask[pairs[open_mask[pairs[:, 0]], 1]] = False
        mask[pairs[open_mask[pairs[:, 1]], 0]] = False
    if options.budget is not None and options.opening_cost is not None:
        spent = float(options.opening_cost[open_mask].sum())
        mask &= options.opening_cost <= options.budget - spent + 1e-9
    return mask


def greedy_plan(
    capture: HuffCapture, options: SiteOptions, p: int | None
) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """Greedy plan from the kept-open sites, and every intermediate plan (for cuts).

    Returns ``None`` as plan when the greedy order gets stuck before ``p`` sites (spacing or
    budget); the intermediate plans are still returned.
    """
    open_mask = options.fixed_mask.copy()
    steps = [open_mask.copy()]
    while p is None or open_mask.sum() < p:
        gains = capture.gains(open_mask)
        candidates = addable(options, open_mask)
        if not candidates.any():
            break
        if p is None and gains[candidates].max() <= 0:
            break
        best = int(np.flatnonzero(candidates)[np.argmax(gains[candidates])])
        open_mask[best] = True
        steps.append(open_mask.copy())
    if p is not None and open_mask.sum() != p:
        return None, steps
    return open_mask, steps


def swap_search(
    capture: HuffCapture,
    options: SiteOptions,
    p: int | None,
    open_mask: np.ndarray,
    deadline: float,
) -> tuple[np.ndarray, float, list[np.ndarray]]:
    """Best-improvement 1-swap local search (plus additions when ``p`` is free)."""
    current = open_mask.copy()
    value = capture.value(current)
    visited = []
    while time.perf_counter() < deadline:
        best_value = value
        best_move: tuple[int | None, int] | None = None
        if p is None:
            candidates = addable(options, current)
            gains = np.where(candidates, capture.gains(current), -np.inf)
            if candidates.any() and value + gains.max() > best_value:
                best_value, best_move = value + gains.max(), (None, int(np.argmax(gains)))
        for out in np.flatnonzero(current & ~options.fixed_mask):
            reduced = current.copy()
            reduced[out] = False
            candidates = addable(options, reduced)
            candidates[out] = False
            if not candidates.any():
                continue
            gains = np.where(candidates, capture.gains(reduced), -np.inf)
            reduced_value = capture.value(reduced)
            if reduced_value + gains.max() > best_value:
                best_value = reduced_value + gains.max()
                best_move = (int(out), int(np.argmax(gains)))
        if best_move is None or best_value <= value * (1 + 1e-12) + 1e-12:
            break
        leave, enter = best_move
        moved = current.copy()
        if leave is not None:
            moved[leave] = False
        moved[enter] = True
        moved_value = capture.value(moved)
        if moved_value <= value:
            break
        current, value = moved, moved_value
        visited.append(current.copy())
    return current, value, visited


def client_groups(
    capture: HuffCapture, allowed: np.ndarray, n_groups: int | None
) -> np.ndarray:
    """Group of each client: by its strongest allowed site, or ``n_groups`` blocks in that order."""
    n = len(capture.weights)
    strength = np.where(
        capture.certain, np.inf, capture.ratio
    ) * allowed[capture.cols]
    order = np.lexsort((-strength, capture.rows))
    first_rows, first = np.unique(capture.rows[order], return_index=True)
    best_site = np.full(n, capture.n_candidates)
    best_site[first_rows] = capture.cols[order][first]
    if n_groups is None:
        _, group = np.unique(best_site, return_inverse=True)
        return group
    ranked = np.argsort(best_site, kind="stable")
    group = np.empty(n, dtype=np.int64)
    group[ranked] = np.arange(n) * min(n_groups, n) // max(n, 1)
    return group


class CutPool:
    """Cuts ``theta_g - sum_j a_gj y_j <= b_g`` of the master, grown plan by plan."""

    def __init__(self, capture: HuffCapture, group: np.ndarray) -> None:
        self.capture = capture
        self.group = group
        self.n_groups = int(group.max()) + 1 if len(group) else 0
        self.pair_group = group[capture.rows]
        self.blocks: list[sp.csr_array] = []
        self.bounds: list[np.ndarray] = []
        self.seen: set[bytes] = set()

    @property
    def n_cuts(self) -> int:
        """Number of cut rows."""
        return sum(len(b) for b in self.bounds)

    def _group_matrix(self, pair_values: np.ndarray) -> sp.csr_array:
        return sp.csr_array(
            (pair_values, (self.pair_group, self.capture.cols)),
            shape=(self.n_groups, self.capture.n_candidates),
        )

    def add(self, open_mask: np.ndarray) -> bool:
        """Gradient and submodular cuts of every group at ``open_mask``; False if cut already."""
        key = np.packbits(open_mask).tobytes()
        if key in self.seen:
            return False
        self.seen.add(key)
        capture = self.capture
        total_ratio, whole = capture.state(open_mask)
        share = np.where(whole, 1.0, total_ratio / (1.0 + total_ratio))
        slope = np.where(whole, 0.0, 1.0 / (1.0 + total_ratio) ** 2)
        group_value = np.bincount(
            self.group, weights=capture.weights * share, minlength=self.n_groups
        )
        # Gradient cut of f(R) = R / (1 + R) at R-bar, each pair's coefficient capped at
        # 1 - f(R-bar): at 0/1 plans the client term never exceeds 1 (valid, and finite when s = 1).
        room = (1.0 - share)[capture.rows]
        coefficient = np.where(
            capture.certain, room, np.minimum(slope[capture.rows] * capture.ratio, room)
        )
        constant = np.bincount(
            self.group,
            weights=capture.weights * (share - slope * total_ratio),
            minlength=self.n_groups,
        )
        self._append(self._group_matrix(capture.pair_weight * coefficient), constant)
        # Submodular cut: F_g(S) <= F_g(S-bar) + sum_{j not in S-bar} rho_gj(S-bar) y_j.
        gains = np.where(open_mask[capture.cols], 0.0, capture.pair_gains(open_mask))
        self._append(self._group_matrix(gains), group_value)
        return True

    def _append(self, coefficients: sp.csr_array, constant: np.ndarray) -> None:
        coefficients.eliminate_zeros()
        self.blocks.append(coefficients)
        self.bounds.append(constant)

    def rows(self) -> tuple[sp.csr_array, np.ndarray]:
        """Return ``[-A | I]`` over ``(y, theta)`` and the right-hand sides ``b``."""
        coefficients = sp.vstack(self.blocks, format="csr")
        k = coefficients.shape[0]
        theta = sp.csr_array(
            (np.ones(k), (np.arange(k), np.tile(np.arange(self.n_groups), len(self.blocks)))),
            shape=(k, self.n_groups),
        )
        return sp.csr_array(sp.hstack([-coefficients, theta])), np.concatenate(self.bounds)


def first_bound(capture: HuffCapture, options: SiteOptions, p: int | None) -> float:
    """Upper bound before any master solve, by submodularity around the kept-open sites.

    ``F(S) <= F(K) + sum_{j in S - K} rho_j(K)`` for ``S`` containing the kept-open ``K``: the
    ``p - |K|`` largest gains (all positive gains without ``p``), and never above total demand.
    """
    kept = options.fixed_mask
    gains = np.sort(capture.gains(kept)[options.allowed & ~kept])[::-1]
    if p is not None:
        gains = gains[: max(p - int(kept.sum()), 0)]
    bound = capture.value(kept) + float(gains[gains > 0].sum())
    return min(bound, float(capture.weights.sum()))


@dataclass(frozen=True)
class OuterResult:
    """Best plan found and the report of the run."""

    open_mask: np.ndarray | None
    report: SolveReport
    iterations: int


def solve_outer_approximation(
    capture: HuffCapture,
    options: SiteOptions,
    p: int | None,
    *,
    solver: str | None,
    time_limit: float | None,
    gap: float,
    n_groups: int | None = None,
    max_iterations: int = 500,
) -> OuterResult:
    """Maximise captured demand by outer approximation with a greedy + swap warm start.

    Parameters
    ----------
    capture
        The captured-demand function on the sparse pairs.
    options
        Site options (kept-open, excluded, budget, spacing).
    p
        Number of open sites (kept-open included), or ``None`` with a budget.
    solver
        MIP solver for the master problems.
    time_limit
        Seconds for the whole run (``None``: no limit).
    gap
        Relative gap ``(UB - LB) / LB`` at which the plan is reported optimal.
    n_groups
        Client groups (epigraph variables); ``None``: one per strongest site.
    max_iterations
        Master solves at most.

    Returns
    -------
    OuterResult
        Best plan (``None`` when none was found), report with the true value as objective and
        the master's best bound as bound.
    """
    started = time.perf_counter()
    deadline = math.inf if time_limit is None else started + time_limit
    m = capture.n_candidates
    group = client_groups(capture, options.allowed, n_groups)
    pool = CutPool(capture, group)
    best_mask, best_value = None, -math.inf
    plan, steps = greedy_plan(capture, options, p)
    for step in steps:
        pool.add(step)
    if plan is not None:
        local_deadline = min(deadline, started + 0.25 * (time_limit or math.inf))
        best_mask, best_value, visited = swap_search(capture, options, p, plan, local_deadline)
        for point in [plan, *visited]:
            pool.add(point)

    side, side_lower, side_upper = site_rows(options, p, m + pool.n_groups)
    lower, upper = site_bounds(options)
    group_weight = np.bincount(group, weights=capture.weights, minlength=pool.n_groups)
    objective = np.concatenate([np.zeros(m), np.ones(pool.n_groups)])
    integer = np.concatenate([np.ones(m, bool), np.zeros(pool.n_groups, bool)])
    upper_bound = first_bound(capture, options, p)
    iterations, solver_name, message = 0, "", ""
    master_gap = gap / 4
    while iterations < max_iterations:
        remaining = deadline - time.perf_counter()
        if remaining <= 0.05:
            message = "time limit reached"
            break
        cuts, cut_upper = pool.rows()
        problem = MipProblem(
            objective=objective,
            matrix=sp.vstack([cuts, side], format="csr"),
            row_lower=np.concatenate([np.full(len(cut_upper), -np.inf), side_lower]),
            row_upper=np.concatenate([cut_upper, side_upper]),
            col_lower=np.concatenate([lower, np.zeros(pool.n_groups)]),
            col_upper=np.concatenate([upper, group_weight]),
            integer=integer,
            sense="max",
            integral_continuous=False,
        )
        solution = solve_mip(
            problem, solver, None if math.isinf(remaining) else remaining, master_gap
        )
        iterations += 1
        master = solution.report
        solver_name = master.solver
        if master.status == "infeasible":
            return OuterResult(None, master, iterations)
        if master.bound is not None:
            upper_bound = min(upper_bound, master.bound)
        elif master.status == "optimal" and master.objective is not None:
            upper_bound = min(upper_bound, master.objective)
        if solution.values is not None:
            point = solution.values[:m] > 0.5
            value = capture.value(point)
            if value > best_value:
                best_mask, best_value = point, value
            if not pool.add(point) and master.status == "optimal":
                # The master's optimum is a plan already cut: its bound is as low as cuts go.
                message = "master proposed a plan already cut (converged within tolerances)"
                break
        if best_mask is not None and upper_bound - best_value <= gap * max(abs(best_value), 1e-9):
            break
        if master.status != "optimal":
            message = f"master problem stopped: {master.message}"
            break
    seconds = time.perf_counter() - started
    if best_mask is None:
        report = SolveReport(
            "not_solved", None, None, None, seconds, solver_name or "outer", message
        )
        return OuterResult(None, report, iterations)
    bound = max(upper_bound, best_value) if math.isfinite(upper_bound) else None
    found_gap = relative_gap(best_value, bound)
    # 1e-9: the relative feasibility tolerance of the master's solver.
    proven = found_gap is not None and found_gap <= max(gap, 1e-9)
    text = (
        f"outer approximation: {iterations} master solves, {pool.n_cuts} cuts on "
        f"{pool.n_groups} client groups"
    )
    if message:
        text += f"; {message}"
    report = SolveReport(
        "optimal" if proven else "feasible",
        best_value,
        bound,
        found_gap,
        seconds,
        solver_name or "greedy",
        text,
    )
    return OuterResult(best_mask, report, iterations)
