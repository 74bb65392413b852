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
