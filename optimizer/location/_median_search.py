r"""A p-median plan over sparse reach: greedy addition, then drop / add interchange.

For instances the dense presolve (:mod:`optimizer.location._lagrangian`) does not take: kept-open
sites, budget or spacing, many candidates with a distance cut-off. One pass over the reachable
pairs gives every candidate's saving :math:`\\sum_i w_i \\max(0, d_i - d_{ij})` against the
current distances :math:`d_i` (a large penalty while client :math:`i` has no open site in reach).
The interchange closes each new site in turn and reopens the best one (Teitz & Bart, 1968, one
site at a time), until a sweep gains nothing or the deadline passes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._coverage_search import SiteRules


def _current_distance(coo: sp.coo_array, open_mask: np.ndarray, n_clients: int,
                      penalty: float) -> np.ndarray:
    keep = open_mask[coo.col]
    nearest = np.full(n_clients, penalty)
    np.minimum.at(nearest, coo.row[keep], coo.data[keep])
    return nearest


def median_value(reach: sp.csr_array, weights: np.ndarray, open_mask: np.ndarray) -> float:
    """Demand-weighted distance to the nearest open site (``inf`` if a client has none)."""
    coo = reach.tocoo()
    nearest = _current_distance(coo, open_mask, reach.shape[0], np.inf)
    served = weights > 0
    with np.errstate(invalid="ignore"):
        return float((weights[served] * nearest[served]).sum())


def median_greedy_interchange(
    reach: sp.csr_array, weights: np.ndarray, p: int, rules: SiteRules, deadline: float
) -> np.ndarray | None:
    """Return a plan of ``p`` sites serving every client with demand, or ``None`` if none found."""
    coo = reach.tocoo()
    n_clients = reach.shape[0]
    served = weights > 0
    keep = served[coo.row] & rules.allowed[coo.col]
    coo = sp.coo_array((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=reach.shape)
    penalty = 10.0 * (float(coo.data.max()) if coo.nnz else 1.0) + 1.0
    open_mask = rules.fixed & rules.allowed
    w = np.where(served, weights, 0.0)

    def saving(nearest: np.ndarray, addable: np.ndarray) -> np.ndarray:
        gain = w[coo.row] * np.maximum(0.0, nearest[coo.row] - coo.data)
        total = np.bincount(coo.col, weights=gain, minlength=reach.shape[1])
        return np.where(addable, total, -np.inf)

    nearest = _current_distance(coo, open_mask, n_clients, penalty)
    while int(open_mask.sum()) < p:
        addable = rules.can_add(open_mask)
        if not addable.any():
            return None
        site = int(np.argmax(saving(nearest, addable)))
        open_mask[site] = True
        nearest = _current_distance(coo, open_mask, n_clients, penalty)
    value = float((w * nearest).sum())
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        for leaving in np.flatnonzero(open_mask & ~rules.fixed):
            if time.perf_counter() >= deadline:
                break
            without = open_mask.copy()
            without[leaving] = False
            base = _current_distance(coo, without, n_clients, penalty)
            gains = saving(base, rules.can_add(without))
            site = int(np.argmax(gains))
            new_value = float((w * base).sum()) - float(gains[site])
            if site != leaving and new_value < value - 1e-9 * max(1.0, abs(value)):
                without[site] = True
                open_mask, value, improved = without, new_value, True
    if not np.isfinite(median_value(reach, weights, open_mask)):
        return None
    return open_mask


@dataclass(frozen=True)
class MedianBound:
    """Result of :func:`median_lagrangian`.

    Attributes
    ----------
    bound
        Lagrangian lower bound on the demand-weighted distance of every plan.
    closed, opened
        Boolean per site: in no plan better than the incumbent / in every such plan.
    plan
        Boolean per site: the kept-open sites plus the sites the best multipliers select.
    iterations
        Subgradient steps taken.
    """

    bound: float
    closed: np.ndarray
    opened: np.ndarray
    plan: np.ndarray
    iterations: int


def median_lagrangian(
    reach: sp.csr_array, weights: np.ndarray, p: int, rules: SiteRules, upper: float,
    deadline: float, max_iterations: int = 3000,
) -> MedianBound | None:
    r"""Lagrangian bound of the p-median over sparse reach, with kept-open sites, and fixing.

    With :math:`c_{ij} = w_i d_{ij}`, :math:`f_i` the cost of client :math:`i` at its nearest
    kept-open site (``inf`` without one) and :math:`q = p - |\text{kept open}|`, only the pairs
    with :math:`c_{ij} < f_i` can matter. Relaxing the assignment rows with multipliers
    :math:`\lambda` gives

    .. math:: L(\lambda) = \sum_i \big(\lambda_i + \min(0, f_i - \lambda_i)\big)
              + \min_{|Q| = q} \sum_{j \in Q} \rho_j, \quad
              \rho_j = \sum_i \min(0, c_{ij} - \lambda_i),

    raised by subgradient steps (Polyak's rule aimed at ``upper``, the factor halved when the
    bound stalls). A site outside :math:`Q` whose forced opening takes the bound to ``upper``
    is in no better plan (``closed``); one inside whose forced closing does is in every better
    plan (``opened``). Budget and spacing are not modelled: returns ``None`` with them, or when
    some client can reach no site.
    """
    if rules.budget is not None or rules.conflicts is not None:
        return None
    n_clients, n_sites = reach.shape
    coo = reach.tocoo()
    served = weights > 0
    fixed = rules.fixed & rules.allowed
    keep = served[coo.row] & rules.allowed[coo.col]
    rows, cols = coo.row[keep], coo.col[keep]
    cost = weights[rows] * coo.data[keep]
    at_fixed = fixed[cols]
    f = np.full(n_clients, np.inf)
    np.minimum.at(f, rows[at_fixed], cost[at_fixed])
    free = ~at_fixed & (cost < f[rows])
    rows, cols, cost = rows[free], cols[free], cost[free]
    active = np.zeros(n_clients, dtype=bool)
    active[rows] = True
    if np.any(served & ~active & ~np.isfinite(f)):
        return None
    constant = float(f[served & ~active].sum())
    q = p - int(fixed.sum())
    selectable = rules.allowed & ~fixed
    if q < 0 or q > int(selectable.sum()):
        return None
    f_active = f[active]
    index = np.cumsum(active) - 1
    r = index[rows]
    worst = np.zeros(int(active.sum()))
    np.maximum.at(worst, r, cost)
    lam = np.where(np.isfinite(f_active), f_active, worst)
    tolerance = 1e-9 * max(1.0, abs(upper))

    def evaluate(lam: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        rho = np.bincount(cols, weights=np.minimum(0.0, cost - lam[r]), minlength=n_sites)
        rho = np.where(selectable, rho, np.inf)
        chosen = np.argpartition(rho, q - 1)[:q] if q > 0 else np.zeros(0, dtype=np.int64)
        with np.errstate(invalid="ignore"):
            own = np.where(np.isfinite(f_active), np.minimum(0.0, f_active - lam), 0.0)
        return constant + float((lam + own).sum() + rho[chosen].sum()), rho, chosen

    best, best_lam = -np.inf, lam.copy()
    step, stall, iterations = 2.0, 0, 0
    while iterations < max_iterations and time.perf_counter() < deadline:
        iterations += 1
        bound, _, chosen = evaluate(lam)
        if bound > best + tolerance:
            best, best_lam, stall = bound, lam.copy(), 0
        else:
            stall += 1
            if stall >= 20:
                step, stall = step / 2, 0
        if step < 1e-4 or best >= upper - tolerance:
            break
        open_mask = np.zeros(n_sites, dtype=bool)
        open_mask[chosen] = True
        assigned = np.bincount(r, weights=(open_mask[cols] & (cost < lam[r])).astype(float),
                               minlength=len(lam))
        subgradient = 1.0 - assigned - (f_active < lam)
        norm = float((subgradient * subgradient).sum())
        if norm == 0:
            break
        lam = lam + step * max(upper - bound, tolerance) / norm * subgradient
    bound, rho, chosen = evaluate(best_lam)
    bound = max(bound, best)
    ordered = np.sort(rho[selectable])
    closed = np.zeros(n_sites, dtype=bool)
    opened = np.zeros(n_sites, dtype=bool)
    if 0 < q < len(ordered):
        closed = selectable & (bound - ordered[q - 1] + rho >= upper - tolerance)
        opened = selectable & (bound - rho + ordered[q] >= upper - tolerance)
        in_plan = np.zeros(n_sites, dtype=bool)
        in_plan[chosen] = True
        closed &= ~in_plan
        opened &= in_plan
    plan = fixed.copy()
    plan[chosen] = True
    return MedianBound(bound, closed, opened, plan, iterations)
