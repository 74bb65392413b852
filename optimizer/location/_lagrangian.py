r"""p-median presolve: a greedy + interchange plan and Lagrangian site fixing.

:class:`optimizer.location.PMedian` uses the plan (:func:`greedy_interchange`,
:func:`swap_improve`); its bound and fixing now come from the nearest-sites Lagrangian of
:mod:`optimizer.location._median_lagrangian`. :func:`lagrangian_bound` is the dense original:


1. A plan from greedy addition then best-improvement swaps (Teitz & Bart, 1968) gives an upper
   bound ``UB``.
2. Subgradient optimisation of the Lagrangian relaxation of the assignment constraints
   (Cornuéjols, Fisher & Nemhauser, 1977) gives multipliers :math:`\lambda` and the bound
   :math:`L(\lambda) = \sum_i \lambda_i + \sum_{j \in P} \rho_j`, with
   :math:`\rho_j = \sum_i \min(0, w_i d_{ij} - \lambda_i)` and :math:`P` the ``p`` smallest
   :math:`\rho_j`.
3. Forcing a site :math:`j \notin P` open raises the bound to
   :math:`L(\lambda) - \rho_{[p]} + \rho_j`; when that is ``>= UB`` no plan better than the
   incumbent opens :math:`j`, so :math:`j` is closed for the search.

Every step is vectorised over the dense weighted cost matrix (clients x sites, ``inf`` out of
reach).
"""

from __future__ import annotations

import math
import time

import numpy as np


def greedy_interchange(
    cost: np.ndarray, p: int, max_passes: int = 100, deadline: float = math.inf
) -> tuple[np.ndarray, float]:
    """Return a good p-median plan: greedy addition, then best-improvement single swaps.

    Parameters
    ----------
    cost
        Weighted costs ``w_i * d_ij`` (clients x sites), ``inf`` where out of reach.
    p
        Number of sites.
    max_passes
        Upper limit on swap passes.
    deadline
        A :func:`time.perf_counter` value after which no further swap is tried.

    Returns
    -------
    tuple
        Sorted site indices and the plan's total cost (``inf`` if some client is unreachable).

    Examples
    --------
    >>> cost = np.array([[0.0, 2.0, 9.0], [2.0, 0.0, 9.0], [9.0, 9.0, 0.0]])
    >>> greedy_interchange(cost, 2)
    (array([0, 2]), 2.0)
    """
    n_clients = cost.shape[0]
    current = np.full(n_clients, np.inf)
    chosen: list[int] = []
    for _ in range(p):
        with np.errstate(invalid="ignore"):
            totals = np.minimum(current[:, None], cost).sum(axis=0)
        totals[chosen] = np.inf
        site = int(np.argmin(totals))
        chosen.append(site)
        current = np.minimum(current, cost[:, site])
    return swap_improve(cost, np.array(chosen, dtype=np.int64), max_passes, deadline)


def swap_improve(
    cost: np.ndarray, sites: np.ndarray, max_passes: int = 100, deadline: float = math.inf
) -> tuple[np.ndarray, float]:
    """Best-improvement single swaps from a starting plan until none improves (or ``deadline``).

    Examples
    --------
    >>> cost = np.array([[0.0, 2.0, 9.0], [2.0, 0.0, 9.0], [9.0, 9.0, 0.0]])
    >>> swap_improve(cost, np.array([0, 1]))
    (array([1, 2]), 2.0)
    """
    n_clients = cost.shape[0]
    p = len(sites)
    best = float(cost[:, sites].min(axis=1).sum())
    if p < 2 or not np.isfinite(best):
        return np.sort(sites), best
    rows = np.arange(n_clients)
    for _ in range(max_passes):
        if time.perf_counter() >= deadline:
            break
        sub = cost[:, sites]
        order = np.argsort(sub, axis=1)
        nearest = sub[rows, order[:, 0]]
        second = sub[rows, order[:, 1]]
        best_gain, best_swap = 1e-9 * max(1.0, abs(best)), None
        for position in range(p):
            without = np.where(order[:, 0] == position, second, nearest)
            totals = np.minimum(without[:, None], cost).sum(axis=0)
            totals[sites] = np.inf
            site = int(np.argmin(totals))
            if best - totals[site] > best_gain:
                best_gain, best_swap = best - totals[site], (position, site)
        if best_swap is None:
            break
        sites = sites.copy()
        sites[best_swap[0]] = best_swap[1]
        best = float(cost[:, sites].min(axis=1).sum())
    return np.sort(sites), best


def lagrangian_bound(
    cost: np.ndarray,
    p: int,
    upper_bound: float,
    max_iterations: int = 3000,
    max_seconds: float | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Best Lagrangian lower bound and the sites that cannot be in a plan better than ``UB``.

    Parameters
    ----------
    cost
        Weighted costs (clients x sites), ``inf`` where out of reach; every client must reach
        at least one site.
    p
        Number of sites.
    upper_bound
        Cost of a known plan.
    max_iterations
        Subgradient iterations at most.
    max_seconds
        Stop the subgradient loop after this many seconds (the bound stays valid).

    Returns
    -------
    tuple
        The lower bound, a boolean mask of the sites proven useless (closed), and the ``p``
        sites the best multipliers select (a good starting plan).

    Examples
    --------
    >>> cost = np.array([[0.0, 2.0, 9.0], [2.0, 0.0, 9.0], [9.0, 9.0, 0.0]])
    >>> bound, closed, plan = lagrangian_bound(cost, 2, 2.0)
    >>> round(bound, 6) <= 2.0
    True
    """
    n_clients, n_sites = cost.shape
    multipliers = np.sort(cost, axis=1)[:, min(p, n_sites - 1)]
    nearest = cost.min(axis=1)
    multipliers = np.where(np.isfinite(multipliers), multipliers, nearest)
    best_bound, best_multipliers = -np.inf, multipliers.copy()
    step, stall = 2.0, 0
    started = time.perf_counter()
    for _ in range(max_iterations):
        if max_seconds is not None and time.perf_counter() - started > max_seconds:
            break
        reduced = np.minimum(0.0, cost - multipliers[:, None])
        rho = reduced.sum(axis=0)
        selected = np.argpartition(rho, p - 1)[:p]
        bound = float(multipliers.sum() + rho[selected].sum())
        if bound > best_bound + 1e-9 * max(1.0, abs(bound)):
            best_bound, best_multipliers, stall = bound, multipliers.copy(), 0
        else:
            stall += 1
            if stall >= 30:
                step, stall = step / 2, 0
        if step < 1e-4 or best_bound >= upper_bound - 1e-9 * max(1.0, abs(upper_bound)):
            break
        open_mask = np.zeros(n_sites, dtype=bool)
        open_mask[selected] = True
        subgradient = 1.0 - ((cost - multipliers[:, None] < 0) & open_mask[None, :]).sum(axis=1)
        norm = float((subgradient * subgradient).sum())
        if norm == 0:
            break
        multipliers = multipliers + step * max(upper_bound - bound, 1e-9) / norm * subgradient
    reduced = np.minimum(0.0, cost - best_multipliers[:, None])
    rho = reduced.sum(axis=0)
    ordered = np.sort(rho)
    bound = float(best_multipliers.sum() + ordered[:p].sum())
    forced_open = bound - ordered[p - 1] + rho
    closed = forced_open >= upper_bound - 1e-9 * max(1.0, abs(upper_bound))
    plan = np.sort(np.argsort(rho, kind="stable")[:p])
    closed[plan] = False
    return max(bound, best_bound), closed, plan
