r"""Plans and bounds for capacitated location (split demand) without a MIP.

Used by :class:`optimizer.location.CapacitatedPMedian` before the MIP:

* **Transport of a plan.** For a fixed set of open sites the best split of demand is a
  transportation LP (HiGHS through :func:`scipy.optimize.linprog`), so every plan is priced
  exactly.
* **Lagrangian bound.** Relaxing the demand rows :math:`\\sum_j x_{ij} = 1` with multipliers
  :math:`\\lambda_i`, keeping the capacity rows and the strong links :math:`x_{ij} \\le y_j`,
  leaves one continuous knapsack per site:
  :math:`v_j = \\phi_j + \\min \\{ \\sum_i (w_i d_{ij} - \\lambda_i) x_{ij} :
  \\sum_i w_i x_{ij} \\le Q_j, 0 \\le x \\le 1 \\}` (filled by ratio), and
  :math:`L(\\lambda) = \\sum_i \\lambda_i + \\sum_j \\min(0, v_j)` (or the ``p`` smallest
  :math:`v_j` when ``p`` sites open). Subgradient steps (Polyak's rule on the best plan,
  the factor halved on a stall) raise it.
* **Plans.** Each Lagrangian step's sites, completed to enough capacity, are priced by the
  transport LP; the best plan is improved by drop / add / swap moves guided by :math:`v_j`.
* **Fixing.** A site whose forced opening (closing) lifts the bound past the best plan cannot
  be in (out of) a better plan.

The weighted costs are a dense clients x sites array (``inf`` out of reach).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog


def transport(
    cost: np.ndarray, weights: np.ndarray, capacity: np.ndarray, open_mask: np.ndarray
) -> tuple[float, sp.csr_array | None]:
    """Cheapest split of demand over the open sites: its cost and the shares (clients x sites).

    Returns ``(inf, None)`` when the open sites cannot serve every client.
    """
    sites = np.flatnonzero(open_mask)
    n = cost.shape[0]
    if capacity[sites].sum() < weights.sum() * (1 - 1e-12) - 1e-9:
        return np.inf, None
    sub = cost[:, sites]
    rows, cols = np.nonzero(np.isfinite(sub))
    if len(np.unique(rows)) < n:
        return np.inf, None
    k = len(rows)
    a_eq = sp.csr_array((np.ones(k), (rows, np.arange(k))), shape=(n, k))
    a_ub = sp.csr_array((weights[rows], (cols, np.arange(k))), shape=(len(sites), k))
    result = linprog(sub[rows, cols], A_ub=a_ub, b_ub=capacity[sites], A_eq=a_eq,
                     b_eq=np.ones(n), bounds=(0, 1), method="highs")
    if result.status != 0:
        return np.inf, None
    share = sp.csr_array((np.clip(result.x, 0, 1), (rows, sites[cols])), shape=cost.shape)
    return float(result.fun), share


def plan_cost(cost: np.ndarray, weights: np.ndarray, capacity: np.ndarray,
              opening: np.ndarray, open_mask: np.ndarray) -> tuple[float, sp.csr_array | None]:
    """Return opening cost plus transport cost of a plan (``inf`` when it cannot serve everyone)."""
    moved, share = transport(cost, weights, capacity, open_mask)
    return float(opening[open_mask].sum()) + moved, share


def knapsack_values(
    cost: np.ndarray, weights: np.ndarray, capacity: np.ndarray, opening: np.ndarray,
    multipliers: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each site's Lagrangian value :math:`v_j` and its shares (clients x sites, dense)."""
    reduced = cost - multipliers[:, None]
    with np.errstate(invalid="ignore"):
        ratio = np.where(reduced < 0, reduced / np.maximum(weights, 1e-12)[:, None], np.inf)
    order = np.argsort(ratio, axis=0, kind="stable")
    sorted_weight = weights[order]
    sorted_ratio = np.take_along_axis(ratio, order, axis=0)
    before = np.cumsum(sorted_weight, axis=0) - sorted_weight
    room = np.clip(capacity[None, :] - before, 0.0, None)
    fill = np.where(np.isfinite(sorted_ratio),
                    np.minimum(1.0, room / np.maximum(sorted_weight, 1e-12)), 0.0)
    share = np.zeros_like(cost)
    np.put_along_axis(share, order, fill, axis=0)
    value = opening + np.where(share > 0, reduced, 0.0).sum(axis=0)
    return value, share


def _choose(value: np.ndarray, p: int | None, allowed: np.ndarray, fixed: np.ndarray
            ) -> np.ndarray:
    """Sites the Lagrangian subproblem opens: negative value (or the ``p`` smallest)."""
    value = np.where(allowed, value, np.inf)
    if p is None:
        return fixed | (allowed & (value < 0))
    chosen = fixed.copy()
    free = np.flatnonzero(allowed & ~fixed)
    k = p - int(fixed.sum())
    if k > 0:
        chosen[free[np.argsort(value[free], kind="stable")[:k]]] = True
    return chosen


def _enough_capacity(open_mask: np.ndarray, value: np.ndarray, capacity: np.ndarray,
                     demand: float, allowed: np.ndarray, p: int | None) -> np.ndarray:
    """Add sites (cheapest value per capacity) until capacity covers demand; ``p`` kept."""
    open_mask = open_mask.copy()
    if p is None:
        spare = np.flatnonzero(allowed & ~open_mask)
        spare = spare[np.argsort(value[spare] / np.maximum(capacity[spare], 1e-12))]
        for site in spare:
            if capacity[open_mask].sum() >= demand:
                break
            open_mask[site] = True
    return open_mask


@dataclass(frozen=True)
class CapacitatedBound:
    """Lagrangian bound, fixed sites and the best plan met (with its shares)."""

    bound: float
    fixed_closed: np.ndarray
    fixed_open: np.ndarray
    plan: np.ndarray
    plan_value: float
    share: sp.csr_array | None
    iterations: int
    plans_priced: int


def capacitated_search(
    cost: np.ndarray,
    weights: np.ndarray,
    capacity: np.ndarray,
    opening: np.ndarray,
    p: int | None,
    allowed: np.ndarray,
    fixed: np.ndarray,
    deadline: float,
    max_iterations: int = 300,
) -> CapacitatedBound:
    """Lagrangian bound with plans from its steps, then drop / add / swap local search.

    Parameters
    ----------
    cost
        Weighted costs ``w_i d_ij`` (clients x sites; ``inf`` out of reach), clients with
        demand only.
    weights, capacity, opening
        Demand per client, capacity and opening cost per site (zeros when ``p`` is given).
    p
        Number of sites, or ``None`` (facility location).
    allowed, fixed
        Sites that may open / must stay open.
    deadline
        A :func:`time.perf_counter` value to stop by.
    max_iterations
        Subgradient steps at most.
    """
    demand = float(weights.sum())
    finite_cost = np.where(np.isfinite(cost), cost, 1e18)
    nearest = np.sort(np.where(allowed[None, :], finite_cost, 1e18), axis=1)
    multipliers = nearest[:, min(1, nearest.shape[1] - 1)].copy()
    multipliers = np.minimum(multipliers, nearest[:, 0] * 2 + 1.0)
    best_value, best_plan, best_share = np.inf, fixed.copy(), None
    best_bound, best_multipliers = -np.inf, multipliers.copy()
    theta, stall, iterations, priced = 1.0, 0, 0, 0
    seen: set[bytes] = set()

    def price(candidate: np.ndarray) -> None:
        nonlocal best_value, best_plan, best_share, priced
        key = np.packbits(candidate).tobytes()
        if key in seen:
            return
        seen.add(key)
        priced += 1
        value, share = plan_cost(cost, weights, capacity, opening, candidate)
        if value < best_value:
            best_value, best_plan, best_share = value, candidate.copy(), share

    masked_cost = np.where(allowed[None, :], finite_cost, 1e18)
    while iterations < max_iterations and time.perf_counter() < deadline:
        iterations += 1
        value, share = knapsack_values(masked_cost, weights, capacity, opening, multipliers)
        value = np.where(allowed, value, np.inf)
        chosen = _choose(value, p, allowed, fixed)
        bound = float(multipliers.sum() + value[chosen].sum())
        if p is None:
            bound = float(multipliers.sum() + np.minimum(value[allowed], 0.0).sum()
                          + np.maximum(value[fixed], 0.0).sum())
        if bound > best_bound + 1e-12 * max(1.0, abs(bound)):
            best_bound, best_multipliers, stall = bound, multipliers.copy(), 0
        else:
            stall += 1
            if stall >= 15:
                theta, stall = theta / 2, 0
        if best_bound >= best_value - 1e-9 * max(1.0, abs(best_value)) or theta < 1e-4:
            break
        if iterations % 5 == 1:
            price(_enough_capacity(chosen, value, capacity, demand, allowed, p))
        subgradient = 1.0 - (share * chosen[None, :]).sum(axis=1)
        norm = float(subgradient @ subgradient)
        if norm == 0:
            break
        target = best_value if np.isfinite(best_value) else abs(bound) * 1.1 + 1.0
        step = theta * max(target - bound, 1e-6 * max(1.0, abs(bound))) / norm
        multipliers = multipliers + step * subgradient
    value, _ = knapsack_values(masked_cost, weights, capacity, opening, best_multipliers)
    value = np.where(allowed, value, np.inf)
    if not np.isfinite(best_value):
        price(_enough_capacity(_choose(value, p, allowed, fixed), value, capacity, demand,
                               allowed, p))
    best_plan, best_value, best_share, more = _local_search(
        cost, weights, capacity, opening, p, allowed, fixed, value, best_plan, best_value,
        best_share, deadline)
    priced += more
    closed = np.zeros(len(allowed), dtype=bool)
    opened = np.zeros(len(allowed), dtype=bool)
    tolerance = 1e-9 * max(1.0, abs(best_value))
    if np.isfinite(best_value):
        free = allowed & ~fixed
        if p is None:
            closed = free & (value > 0) & (best_bound + value >= best_value - tolerance)
            opened = free & (value < 0) & (best_bound - value >= best_value - tolerance)
        else:
            k = p - int(fixed.sum())
            order = np.flatnonzero(free)[np.argsort(value[free], kind="stable")]
            if 0 < k < len(order):
                in_top = np.zeros(len(allowed), dtype=bool)
                in_top[order[:k]] = True
                kth, next_one = value[order[k - 1]], value[order[k]]
                closed = free & ~in_top & (best_bound - kth + value >= best_value - tolerance)
                opened = free & in_top & (best_bound - value + next_one >= best_value - tolerance)
        closed &= ~best_plan
        opened &= best_plan
    return CapacitatedBound(best_bound, closed, opened, best_plan, best_value, best_share,
                            iterations, priced)


def _local_search(
    cost: np.ndarray, weights: np.ndarray, capacity: np.ndarray, opening: np.ndarray,
    p: int | None, allowed: np.ndarray, fixed: np.ndarray, value: np.ndarray,
    plan: np.ndarray, plan_value: float, share: sp.csr_array | None, deadline: float,
    max_moves: int = 60,
) -> tuple[np.ndarray, float, sp.csr_array | None, int]:
    """Drop / add (facility location) and swap moves, ranked by Lagrangian value."""
    priced = 0
    if not np.isfinite(plan_value):
        return plan, plan_value, share, priced
    improved = True
    while improved and priced < max_moves and time.perf_counter() < deadline:
        improved = False
        movable = np.flatnonzero(plan & ~fixed)
        outside = np.flatnonzero(allowed & ~plan)
        outside = outside[np.argsort(value[outside], kind="stable")]
        moves: list[np.ndarray] = []
        for leaving in movable[np.argsort(-value[movable], kind="stable")][:4]:
            if p is None:
                moves.append(np.setdiff1d(np.flatnonzero(plan), [leaving]))
            for entering in outside[:3]:
                moves.append(np.append(np.setdiff1d(np.flatnonzero(plan), [leaving]), entering))
        if p is None:
            moves.extend(np.append(np.flatnonzero(plan), entering) for entering in outside[:3])
        for sites in moves:
            if time.perf_counter() >= deadline or priced >= max_moves:
                break
            candidate = np.zeros(len(plan), dtype=bool)
            candidate[sites] = True
            priced += 1
            candidate_value, candidate_share = plan_cost(cost, weights, capacity, opening,
                                                         candidate)
            if candidate_value < plan_value - 1e-9 * max(1.0, abs(plan_value)):
                plan, plan_value, share = candidate, candidate_value, candidate_share
                improved = True
                break
    return plan, plan_value, share, priced
