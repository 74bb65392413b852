r"""Plans and bounds for the coverage models without a MIP: greedy, local search, Lagrangian.

Used by :class:`optimizer.location.MCLP` and :class:`optimizer.location.SetCover` before (and
instead of, when it proves enough) the MIP:

* **MCLP.** Greedy addition of the site covering the most uncovered demand, then add/drop/swap
  local search (for each open site, the best site to trade it for, over one sparse product).
  The Lagrangian relaxation of the coverage rows :math:`z_i \\le \\sum_{j \\in N_i} y_j` with
  multipliers :math:`0 \\le \\mu_i \\le w_i` gives

  .. math:: L(\\mu) = \\sum_i (w_i - \\mu_i) + \\max_{|P| = p} \\sum_{j \\in P} \\sum_{i \\in N_j} \\mu_i

  (the subproblem opens the ``p`` sites with the largest reduced gain), an upper bound on the
  coverage, lowered by subgradient steps (Polyak's rule with the best plan as target, the step
  factor halved when the bound stalls). Each subproblem's sites are a plan too.
* **Set cover.** Chvátal's greedy (cheapest cost per newly covered client) with redundant sites
  dropped, and Beasley's (1990) Lagrangian relaxation of the cover rows,
  :math:`L(u) = \\sum_i u_i + \\sum_j \\min(0, c_j - \\sum_{i \\in N_j} u_i)`, raised by
  subgradient steps, with the Lagrangian plan of each step repaired into a cover.

Both bounds fix sites by reduced cost: a site whose forced opening (or closing) takes the bound
past the best plan cannot be in (out of) any better plan, so the MIP that follows is smaller.
Every routine works on a 0/1 client x site indicator in CSR and CSC form (one sparse product a
step) and stops at a ``deadline`` (a :func:`time.perf_counter` value).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class SiteRules:
    """Which plans are allowed: sites, kept-open sites, budget and spacing conflicts.

    Attributes
    ----------
    allowed
        Boolean per site: may open.
    fixed
        Boolean per site: must stay open.
    cost
        Opening cost per site (``None``: no budget).
    budget
        Limit on the summed opening cost (``None``: none).
    conflicts
        Sparse symmetric site x site 0/1 matrix of pairs too close to both open (``None``).
    """

    allowed: np.ndarray
    fixed: np.ndarray
    cost: np.ndarray | None = None
    budget: float | None = None
    conflicts: sp.csr_array | None = None

    def can_add(self, open_mask: np.ndarray) -> np.ndarray:
        """Sites that may be added to ``open_mask`` keeping budget and spacing."""
        ok = self.allowed & ~open_mask
        if self.budget is not None and self.cost is not None:
            spent = float(self.cost[open_mask].sum())
            ok &= self.cost <= self.budget - spent + 1e-9 * max(1.0, abs(self.budget))
        if self.conflicts is not None:
            ok &= (self.conflicts @ open_mask.astype(float)) == 0
        return ok

    def can_swap_in(self, open_mask: np.ndarray, leaving: int) -> np.ndarray:
        """Sites that may replace ``leaving`` in ``open_mask`` keeping budget and spacing."""
        without = open_mask.copy()
        without[leaving] = False
        return self.can_add(without) & (np.arange(len(open_mask)) != leaving)


def indicator_matrix(reach: sp.csr_array, allowed: np.ndarray) -> tuple[sp.csr_array, sp.csc_array]:
    """Return the 0/1 client x site matrix of the allowed pairs in reach, as CSR and CSC."""
    coo = reach.tocoo()
    keep = allowed[coo.col]
    csr = sp.csr_array(
        (np.ones(int(keep.sum())), (coo.row[keep], coo.col[keep])), shape=reach.shape
    )
    csr.sum_duplicates()
    csr.data[:] = 1.0
    return csr, sp.csc_array(csr)


def covered_weight(
    csc: sp.csc_array, weights: np.ndarray, open_mask: np.ndarray
) -> tuple[float, np.ndarray]:
    """Demand covered by ``open_mask`` and the number of open sites reaching each client."""
    count = csc @ open_mask.astype(float)
    return float(weights[count > 0].sum()), count


# --- MCLP ------------------------------------------------------------------------------------


def mclp_greedy(
    csr: sp.csr_array, csc: sp.csc_array, weights: np.ndarray, p: int | None, rules: SiteRules
) -> np.ndarray:
    """Open sites one at a time, each the one covering the most demand not yet covered.

    Starts from the kept-open sites; stops at ``p`` sites or when nothing affordable and
    well-spaced is left. Ties go to the lowest index.
    """
    open_mask = rules.fixed.copy()
    count = csc @ open_mask.astype(float)
    uncovered = np.where(count > 0, 0.0, weights)
    target = p if p is not None else len(open_mask)
    while int(open_mask.sum()) < target:
        addable = rules.can_add(open_mask)
        if not addable.any():
            break
        gain = csr.T @ uncovered
        gain[~addable] = -1.0
        site = int(np.argmax(gain))
        if p is None and gain[site] <= 0:
            break
        open_mask[site] = True
        column = csc.indices[csc.indptr[site] : csc.indptr[site + 1]]
        uncovered[column] = 0.0
    return open_mask


def mclp_local_search(
    csr: sp.csr_array,
    csc: sp.csc_array,
    weights: np.ndarray,
    open_mask: np.ndarray,
    rules: SiteRules,
    deadline: float,
    *,
    allow_add: bool = False,
) -> np.ndarray:
    """Improve a plan by swaps (and, with ``allow_add``, additions) until none gains.

    For each open site in turn (least useful first) one sparse product gives every other
    site's gain if the two were traded; the best trade is made when it covers more. Stops at a
    sweep without gain or at ``deadline``.
    """
    open_mask = open_mask.copy()
    count = csc @ open_mask.astype(float)
    tolerance = 1e-12 * max(1.0, float(weights.sum()))
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        if allow_add:
            addable = rules.can_add(open_mask)
            while addable.any():
                gain = csr.T @ np.where(count > 0, 0.0, weights)
                gain[~addable] = -1.0
                site = int(np.argmax(gain))
                if gain[site] <= tolerance:
                    break
                open_mask[site] = True
                count[csc.indices[csc.indptr[site] : csc.indptr[site + 1]]] += 1
                addable = rules.can_add(open_mask)
                improved = True
        only = np.where(count == 1, weights, 0.0)
        loss = csr.T @ only
        movable = np.flatnonzero(open_mask & ~rules.fixed)
        for leaving in movable[np.argsort(loss[movable], kind="stable")]:
            if time.perf_counter() >= deadline:
                break
            if not open_mask[leaving]:
                continue
            rows = csc.indices[csc.indptr[leaving] : csc.indptr[leaving + 1]]
            count[rows] -= 1
            uncovered = np.where(count > 0, 0.0, weights)
            lost = float(uncovered[rows].sum())
            gain = csr.T @ uncovered
            gain[~rules.can_swap_in(open_mask, leaving)] = -np.inf
            gain[leaving] = lost
            site = int(np.argmax(gain))
            if gain[site] > lost + tolerance:
                open_mask[leaving] = False
                open_mask[site] = True
                count[csc.indices[csc.indptr[site] : csc.indptr[site + 1]]] += 1
                improved = True
            else:
                count[rows] += 1
    return open_mask


@dataclass(frozen=True)
class CoverageBound:
    """A Lagrangian bound, the sites it fixes and the best plan met on the way.

    Attributes
    ----------
    bound
        The bound (an upper bound on coverage for MCLP, a lower bound on cost for set cover).
    fixed_closed, fixed_open
        Sites that no plan better than ``plan_value`` opens / closes.
    plan, plan_value
        The best plan found (incumbent or Lagrangian) and its value.
    iterations
        Subgradient steps made.
    """

    bound: float
    fixed_closed: np.ndarray
    fixed_open: np.ndarray
    plan: np.ndarray
    plan_value: float
    iterations: int


def mclp_lagrangian(
    csr: sp.csr_array,
    csc: sp.csc_array,
    weights: np.ndarray,
    p: int,
    rules: SiteRules,
    plan: np.ndarray,
    deadline: float,
    max_iterations: int = 400,
) -> CoverageBound:
    """Upper bound on an MCLP's coverage by subgradient on the coverage rows; fix sites.

    Only for plans of exactly ``p`` sites with kept-open and excluded sites (no budget or
    spacing). ``plan`` is the incumbent (a boolean mask of ``p`` sites); Lagrangian plans that
    cover more replace it.
    """
    fixed = rules.fixed & rules.allowed
    free_sites = rules.allowed & ~fixed
    count_fixed = csc @ fixed.astype(float)
    reachable = (csc @ free_sites.astype(float)) > 0
    active = (count_fixed == 0) & (weights > 0) & reachable
    w = np.where(active, weights, 0.0)
    k = p - int(fixed.sum())
    base = float(weights[count_fixed > 0].sum())
    best_plan = plan.copy()
    best_value, _ = covered_weight(csc, weights, best_plan)
    integral = bool(np.all(np.abs(weights - np.rint(weights)) < 1e-9))
    n_free = int(free_sites.sum())
    if k <= 0 or n_free <= k:
        # Nothing to choose (or every free site opens): the plan's value is the optimum.
        return CoverageBound(best_value, np.zeros_like(plan), np.zeros_like(plan), best_plan,
                             best_value, 0)
    mu = 0.5 * w
    best_bound, best_mu = np.inf, mu.copy()
    theta, stall, iterations = 1.0, 0, 0
    rounding = np.floor if integral else (lambda x: x)
    while iterations < max_iterations:
        iterations += 1
        gain = csr.T @ mu
        gain[~free_sites] = -np.inf
        top = np.argpartition(-gain, k - 1)[:k]
        bound = base + float((w - mu).sum() + gain[top].sum())
        if bound < best_bound - 1e-12 * max(1.0, abs(bound)):
            best_bound, best_mu, stall = bound, mu.copy(), 0
        else:
            stall += 1
            if stall >= 15:
                theta, stall = theta / 2, 0
        if rounding(best_bound + 1e-9) <= best_value + 1e-9 * max(1.0, best_value):
            break
        if theta < 1e-4 or time.perf_counter() >= deadline:
            break
        candidate = fixed.copy()
        candidate[top] = True
        value, count = covered_weight(csc, weights, candidate)
        if value > best_value:
            best_value, best_plan = value, candidate
        subgradient = np.where(w > mu, 1.0, 0.0) * active - (count - count_fixed) * active
        # Projection onto 0 <= mu <= w drops directions that leave the box.
        subgradient[(mu <= 0) & (subgradient < 0)] = 0.0
        subgradient[(mu >= w) & (subgradient > 0)] = 0.0
        norm = float(subgradient @ subgradient)
        if norm == 0:
            break
        step = theta * max(bound - best_value, 1e-9 * max(1.0, bound)) / norm
        mu = np.clip(mu + step * subgradient, 0.0, w)
    gain = csr.T @ best_mu
    gain[~free_sites] = -np.inf
    order = np.argsort(-gain, kind="stable")
    kth, next_one = gain[order[k - 1]], gain[order[k]] if n_free > k else -np.inf
    bound = min(best_bound, base + float((w - best_mu).sum() + gain[order[:k]].sum()))
    in_top = np.zeros(len(plan), dtype=bool)
    in_top[order[:k]] = True
    tolerance = 1e-9 * max(1.0, best_value)
    target = best_value + (1.0 - 1e-9 if integral else tolerance)
    # Forcing a site outside the top in replaces the k-th; forcing one inside out brings the next.
    closed = free_sites & ~in_top & (bound - kth + gain < target) & ~best_plan
    opened = free_sites & in_top & (bound - gain + next_one < target) & best_plan
    return CoverageBound(float(rounding(bound + 1e-9)), closed, opened, best_plan, best_value,
                         iterations)


# --- set cover ---------------------------------------------------------------------------------


def cover_greedy(
    csr: sp.csr_array, csc: sp.csc_array, need: np.ndarray, cost: np.ndarray, rules: SiteRules,
    *, reduced_cost: np.ndarray | None = None, start: np.ndarray | None = None,
) -> np.ndarray | None:
    """Chvátal's greedy cover of the clients in ``need``, then redundant sites dropped.

    ``reduced_cost`` (Lagrangian) ranks the sites instead of ``cost`` when given; ``start``
    is a partial plan to complete. Returns ``None`` when some client cannot be covered.
    """
    open_mask = (rules.fixed | (start if start is not None else False)) & rules.allowed
    open_mask |= rules.fixed
    count = csc @ open_mask.astype(float)
    uncovered = need & (count == 0)
    rank = cost if reduced_cost is None else np.maximum(reduced_cost, 0.0) + 1e-6 * cost
    while uncovered.any():
        new = csr.T @ uncovered.astype(float)
        usable = rules.allowed & ~open_mask & (new > 0)
        if not usable.any():
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(usable, rank / np.where(new > 0, new, 1.0), np.inf)
        site = int(np.argmin(ratio))
        open_mask[site] = True
        rows = csc.indices[csc.indptr[site] : csc.indptr[site + 1]]
        count[rows] += 1
        uncovered[rows] = False
    return cover_drop_redundant(csc, need, cost, rules, open_mask, count)


def cover_drop_redundant(
    csc: sp.csc_array, need: np.ndarray, cost: np.ndarray, rules: SiteRules,
    open_mask: np.ndarray, count: np.ndarray | None = None,
) -> np.ndarray:
    """Close open sites (dearest first) whose clients all stay covered without them."""
    open_mask = open_mask.copy()
    count = csc @ open_mask.astype(float) if count is None else count.copy()
    candidates = np.flatnonzero(open_mask & ~rules.fixed)
    for site in candidates[np.argsort(-cost[candidates], kind="stable")]:
        rows = csc.indices[csc.indptr[site] : csc.indptr[site + 1]]
        rows = rows[need[rows]]
        if np.all(count[rows] >= 2):
            open_mask[site] = False
            count[rows] -= 1
    return open_mask


def cover_lagrangian(
    csr: sp.csr_array,
    csc: sp.csc_array,
    need: np.ndarray,
    cost: np.ndarray,
    rules: SiteRules,
    plan: np.ndarray,
    deadline: float,
    max_iterations: int = 1000,
) -> CoverageBound:
    """Beasley's Lagrangian lower bound for set cover, Lagrangian plans, and site fixing.

    Kept-open sites are paid for up front and their clients need no cover. ``plan`` is the
    incumbent cover (boolean mask).
    """
    fixed = rules.fixed & rules.allowed
    free_sites = rules.allowed & ~fixed
    rows_needed = need & ((csc @ fixed.astype(float)) == 0)
    base = float(cost[fixed].sum())
    best_plan = plan.copy()
    best_value = float(cost[best_plan].sum())
    integral = bool(np.all(np.abs(cost - np.rint(cost)) < 1e-9))
    ceil = np.ceil if integral else (lambda x: x)
    u = np.zeros(csr.shape[0])
    # Start: each client priced at the cheapest cost per client of the sites reaching it.
    per_client = np.where(free_sites, cost / np.maximum(csc.T @ rows_needed.astype(float), 1), np.inf)
    coo = csr.tocoo()
    cheapest = np.full(csr.shape[0], np.inf)
    np.minimum.at(cheapest, coo.row, per_client[coo.col])
    u = np.where(rows_needed & np.isfinite(cheapest), cheapest, 0.0)
    best_bound, best_u = -np.inf, u.copy()
    theta, stall, iterations = 2.0, 0, 0
    while iterations < max_iterations:
        iterations += 1
        reduced = cost - csr.T @ u
        reduced[~free_sites] = np.inf
        chosen = reduced < 0
        bound = base + float(u.sum() + reduced[chosen].sum())
        if bound > best_bound + 1e-12 * max(1.0, abs(bound)):
            best_bound, best_u, stall = bound, u.copy(), 0
        else:
            stall += 1
            if stall >= 20:
                theta, stall = theta / 2, 0
        if ceil(best_bound - 1e-6) >= best_value - 1e-9 * max(1.0, best_value):
            break
        if theta < 1e-4 or time.perf_counter() >= deadline:
            break
        count = csc @ chosen.astype(float)
        if iterations % 10 == 1:
            candidate = cover_greedy(csr, csc, need, cost, rules, reduced_cost=reduced,
                                     start=chosen)
            if candidate is not None and float(cost[candidate].sum()) < best_value - 1e-9:
                best_plan, best_value = candidate, float(cost[candidate].sum())
        subgradient = np.where(rows_needed, 1.0 - count, 0.0)
        subgradient[(u <= 0) & (subgradient < 0)] = 0.0
        norm = float(subgradient @ subgradient)
        if norm == 0:
            break
        step = theta * max(best_value - bound, 1e-3 * max(1.0, best_value)) / norm
        u = np.maximum(0.0, u + step * subgradient)
    reduced = cost - csr.T @ best_u
    reduced[~free_sites] = np.inf
    bound = base + float(best_u.sum() + np.minimum(reduced[free_sites], 0.0).sum())
    bound = max(bound, best_bound)
    gap_needed = (1.0 - 1e-6) if integral else 1e-9 * max(1.0, best_value)
    finite = np.isfinite(reduced)
    closed = finite & (reduced > 0) & (bound + reduced > best_value - gap_needed) & ~best_plan
    opened = finite & (reduced < 0) & (bound - reduced > best_value - gap_needed) & best_plan
    return CoverageBound(float(ceil(bound - 1e-6)), closed, opened, best_plan, best_value,
                         iterations)
