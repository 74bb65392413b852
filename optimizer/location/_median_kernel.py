r"""Compiled subgradient ascent of the nearest-sites p-median Lagrangian.

The same steps as the numpy evaluation in :mod:`optimizer.location._median_lagrangian`, one
compiled loop per call: numpy spent most of a tree node's time on the overhead of a dozen
small-array calls per step (a node takes about a hundred steps). Each client's kept sites are
cheapest first, so pricing :math:`\rho` stops at the first cost above the multiplier, and the
subgradient counts the same pairs.

Site statuses: 0 free, 1 fixed open, -1 closed (as in ``_median_lagrangian``). The entry point
is compiled for one signature when the module is imported (and cached on disk by numba), so
no solve pays for compiling inside its time limit.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _point(start: np.ndarray, site: np.ndarray, cost: np.ndarray, lam: np.ndarray,
           status: np.ndarray, p: int, rho: np.ndarray, selected: np.ndarray,
           scratch: np.ndarray) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """Fill ``rho`` and ``selected`` at ``lam``; return the bound, rho_[q] and rho_[q+1]."""
    n_sites = rho.shape[0]
    rho[:] = 0.0
    total = 0.0
    for i in range(lam.shape[0]):
        li = lam[i]
        total += li
        for k in range(start[i], start[i + 1]):
            c = cost[k]
            if c >= li:
                break
            rho[site[k]] += c - li
    n_open = 0
    n_free = 0
    for j in range(n_sites):
        selected[j] = False
        if status[j] == 1:
            selected[j] = True
            n_open += 1
            total += rho[j]
        elif status[j] == 0:
            scratch[n_free] = rho[j]
            n_free += 1
    q = p - n_open
    qth = np.inf
    nxt = np.inf
    if 0 < q <= n_free:
        if q < n_free:
            part = np.partition(scratch[:n_free], q - 1)
            qth = part[q - 1]
            nxt = part[q:].min()
            need = q
            for j in range(n_sites):
                if status[j] == 0 and rho[j] < qth:
                    selected[j] = True
                    total += rho[j]
                    need -= 1
            for j in range(n_sites):
                if need == 0:
                    break
                if status[j] == 0 and rho[j] == qth:
                    selected[j] = True
                    total += qth
                    need -= 1
        else:
            qth = -np.inf
            for j in range(n_sites):
                if status[j] == 0:
                    selected[j] = True
                    total += rho[j]
                    qth = max(qth, rho[j])
    return total, qth, nxt


@njit(cache=True)
def _gradient(start: np.ndarray, site: np.ndarray, cost: np.ndarray, lam: np.ndarray,
              selected: np.ndarray, gradient: np.ndarray) -> float:  # pragma: no cover
    """Fill ``gradient`` (1 less the selected sites cheaper than the multiplier); its norm."""
    norm = 0.0
    for i in range(lam.shape[0]):
        li = lam[i]
        g = 1.0
        for k in range(start[i], start[i + 1]):
            if cost[k] >= li:
                break
            if selected[site[k]]:
                g -= 1.0
        gradient[i] = g
        norm += g * g
    return norm


_ASCEND_SIGNATURE = (
    "(int64[::1], int64[::1], float64[::1], float64[::1], float64[::1], int8[::1], int64,"
    " float64[::1], float64, int64, float64, int64, float64, float64)"
)


@njit(_ASCEND_SIGNATURE, cache=True)
def ascend_kernel(start: np.ndarray, site: np.ndarray, cost: np.ndarray, cap: np.ndarray,
                  floor: np.ndarray, status: np.ndarray, p: int, multipliers: np.ndarray,
                  upper: float, steps: int, factor: float, patience: int, stop: float,
                  tolerance: float):  # pragma: no cover - compiled
    """Subgradient ascent from ``multipliers``; see :func:`_median_lagrangian.ascend`.

    Returns the best point (bound, multipliers, rho, selected, rho_[q], rho_[q+1]), the final
    factor, the selection counts per site, the steps taken and the capped clients.
    """
    n_clients = multipliers.shape[0]
    n_sites = status.shape[0]
    lam = np.minimum(np.maximum(multipliers, floor), cap)
    rho = np.zeros(n_sites)
    selected = np.zeros(n_sites, dtype=np.bool_)
    scratch = np.zeros(n_sites)
    bound, qth, nxt = _point(start, site, cost, lam, status, p, rho, selected, scratch)
    best_bound, best_qth, best_nxt = bound, qth, nxt
    best_lam, best_rho, best_selected = lam.copy(), rho.copy(), selected.copy()
    counts = np.zeros(n_sites)
    gradient = np.zeros(n_clients)
    best_gradient = np.zeros(n_clients)
    have_gradient = False
    at_best = True
    stall = 0
    taken = 0
    while taken < steps:
        taken += 1
        for j in range(n_sites):
            if selected[j]:
                counts[j] += 1.0
        norm = _gradient(start, site, cost, lam, selected, gradient)
        if at_best:
            best_gradient[:] = gradient
            have_gradient = True
        if best_bound >= stop or factor < 1e-3:
            break
        if norm == 0.0:  # the relaxed solution is a plan: the bound is its cost
            break
        scale = factor * max(upper - bound, tolerance) / norm
        for i in range(n_clients):
            lam[i] = min(max(lam[i] + scale * gradient[i], floor[i]), cap[i])
        bound, qth, nxt = _point(start, site, cost, lam, status, p, rho, selected, scratch)
        if bound > best_bound + tolerance:
            best_bound, best_qth, best_nxt = bound, qth, nxt
            best_lam[:] = lam
            best_rho[:] = rho
            best_selected[:] = selected
            stall = 0
            at_best = True
        else:
            at_best = False
            stall += 1
            if stall >= patience:
                factor /= 2.0
                stall = 0
    capped = 0
    if have_gradient:
        for i in range(n_clients):
            if best_lam[i] >= cap[i] and best_gradient[i] > 0:
                capped += 1
    share = counts / max(taken, 1)
    return (best_bound, best_lam, best_rho, best_selected, best_qth, best_nxt, factor, share,
            taken, capped)
