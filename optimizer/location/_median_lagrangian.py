r"""The Lagrangian of the plain p-median over each client's nearest sites, and site fixing.

With weighted costs :math:`c_{ij} = w_i d_{ij}`, relaxing the assignment rows
:math:`\sum_j x_{ij} = 1` with multipliers :math:`\lambda` gives (Cornuéjols, Fisher &
Nemhauser, 1977)

.. math:: L(\lambda) = \sum_i \lambda_i + \min_{|P| = p} \sum_{j \in P} \rho_j, \qquad
          \rho_j = \sum_i \min(0, c_{ij} - \lambda_i),

a lower bound on every plan for any :math:`\lambda`. Keep each client's ``K`` cheapest sites
and cap :math:`\lambda_i` at its :math:`(K+1)`-th cheapest cost :math:`\bar c_i`: then only the
kept pairs can have :math:`c_{ij} < \lambda_i`, so :math:`\rho` computed over them is exact and
the bound is the dense one at a fraction of the work (``K`` grows when the cap holds many
clients back). Raising :math:`\lambda_i` up to the client's cheapest cost never lowers
:math:`L`, so the multipliers live in :math:`[c_{i(1)}, \bar c_i]`.

At a node of the search some sites are fixed open (:math:`F_1`) or closed (:math:`F_0`):
:math:`P` then holds :math:`F_1` and the :math:`q = p - |F_1|` smallest :math:`\rho_j` of the
free sites. With :math:`\rho_{[q]}`, :math:`\rho_{[q+1]}` the :math:`q`-th and
:math:`(q+1)`-th smallest free values and ``UB`` the cost of a known plan:

* a free site :math:`j \notin P` is closed if :math:`L - \rho_{[q]} + \rho_j \ge UB` (forcing it
  open lifts the bound to ``UB``);
* a free site :math:`j \in P` is fixed open if :math:`L - \rho_j + \rho_{[q+1]} \ge UB` (closing
  it, replaced by the next one, lifts the bound to ``UB``).

Neither removes a plan cheaper than ``UB``. Subgradient steps follow Polyak's rule aimed at
``UB`` with the factor halved when the bound stalls (Beasley, 1993).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ._median_kernel import ascend_kernel

FREE, OPEN, CLOSED = 0, 1, -1


@dataclass(frozen=True)
class NearestCosts:
    """Each client's cheapest sites, as flat pairs grouped by client, cheapest first.

    Attributes
    ----------
    client, site, cost
        Per kept pair: the client, the site and the weighted cost (``inf`` out of reach).
    start
        Client ``i``'s pairs are ``start[i]:start[i + 1]``.
    cap
        Per client the cheapest cost among the sites not kept (``inf`` when all are kept).
    floor
        Per client the cheapest cost.
    dense
        The clients x sites weighted costs the lists come from.
    """

    client: np.ndarray
    site: np.ndarray
    cost: np.ndarray
    start: np.ndarray
    cap: np.ndarray
    floor: np.ndarray
    dense: np.ndarray

    @property
    def n_sites(self) -> int:
        """Number of sites."""
        return int(self.dense.shape[1])


def nearest_costs(dense: np.ndarray, k: int | np.ndarray) -> NearestCosts:
    """Keep each client's ``k`` cheapest sites (one count, or one per client) of ``dense``.

    Examples
    --------
    >>> near = nearest_costs(np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]]), np.array([2, 1]))
    >>> near.site.tolist(), near.cap.tolist()
    ([1, 2, 0], [3.0, 4.0])
    """
    n_clients, n_sites = dense.shape
    count = np.clip(np.broadcast_to(np.asarray(k, dtype=np.int64), (n_clients,)), 1, n_sites)
    widest = int(count.max())
    rows = np.arange(n_clients)[:, None]
    if widest < n_sites:
        part = np.argpartition(dense, widest, axis=1)[:, : widest + 1]
    else:
        part = np.broadcast_to(np.arange(n_sites), (n_clients, n_sites))
    values = dense[rows, part]
    order = np.argsort(values, axis=1, kind="stable")
    part, values = part[rows, order], values[rows, order]
    rank = np.arange(part.shape[1])[None, :]
    kept = rank < count[:, None]
    cap = np.full(n_clients, np.inf)
    short = count < n_sites
    cap[short] = values[np.flatnonzero(short), count[short]]
    client = np.broadcast_to(rows, part.shape)[kept]
    start = np.zeros(n_clients + 1, dtype=np.int64)
    np.cumsum(count, out=start[1:])
    return NearestCosts(client, np.ascontiguousarray(part[kept], dtype=np.int64),
                        np.ascontiguousarray(values[kept], dtype=np.float64), start, cap,
                        np.ascontiguousarray(values[:, 0], dtype=np.float64), dense)


@dataclass(frozen=True)
class LagrangianPoint:
    r"""The relaxation at one multiplier vector.

    Attributes
    ----------
    bound
        :math:`L(\lambda)`, a lower bound on every plan that agrees with the fixed sites.
    multipliers, rho
        :math:`\lambda` and :math:`\rho`.
    selected
        Boolean per site: :math:`P` (the fixed-open sites and the ``q`` best free ones).
    qth, next
        :math:`\rho_{[q]}` and :math:`\rho_{[q+1]}` over the free sites (``inf`` if none).
    """

    bound: float
    multipliers: np.ndarray
    rho: np.ndarray
    selected: np.ndarray
    qth: float
    next: float


def evaluate(near: NearestCosts, multipliers: np.ndarray, p: int, status: np.ndarray
             ) -> LagrangianPoint:
    """Return the Lagrangian bound at ``multipliers`` with the sites fixed by ``status``."""
    with np.errstate(invalid="ignore"):
        reduced = np.minimum(near.cost - multipliers[near.client], 0.0)
    rho = np.bincount(near.site, weights=reduced, minlength=near.n_sites)
    forced = status == OPEN
    free = np.flatnonzero(status == FREE)
    q = p - int(forced.sum())
    selected = forced.copy()
    qth = nxt = math.inf
    if 0 < q <= len(free):
        values = rho[free]
        if q < len(free):
            part = np.argpartition(values, q)
            selected[free[part[:q]]] = True
            qth, nxt = float(values[part[:q]].max()), float(values[part[q]])
        else:
            selected[free] = True
            qth = float(values.max())
    bound = float(multipliers.sum() + rho[selected].sum())
    return LagrangianPoint(bound, multipliers, rho, selected, qth, nxt)


@dataclass(frozen=True)
class Ascent:
    """Result of :func:`ascend`: the best point, the final step factor and selection shares."""

    best: LagrangianPoint
    factor: float
    share: np.ndarray
    steps: int
    capped: int


def ascend(near: NearestCosts, p: int, status: np.ndarray, multipliers: np.ndarray,
           upper: float, *, steps: int, factor: float = 2.0, patience: int = 20,
           target: float | None = None, deadline: float = math.inf) -> Ascent:
    """Subgradient ascent of :math:`L` from ``multipliers`` for at most ``steps`` steps.

    Steps follow Polyak's rule aimed at ``upper`` (the factor halved after ``patience`` steps
    without a better bound); the ascent stops early when the bound reaches ``target``
    (default ``upper``) or the step factor falls under ``1e-3``. The steps run in one compiled
    loop (:func:`optimizer.location._median_kernel.ascend_kernel`); ``deadline`` is checked
    before it starts (a call of a few hundred steps takes milliseconds).
    ``share`` is how often each site was in :math:`P` (the branching hint); ``capped`` counts
    the clients held at their cap while their subgradient still pointed up at the best point.
    """
    tolerance = 1e-9 * max(1.0, abs(upper))
    stop = upper - tolerance if target is None else target
    if time.perf_counter() > deadline:
        steps = 0
    (bound, lam, rho, selected, qth, nxt, factor, share, taken, capped) = ascend_kernel(
        near.start, near.site, near.cost, near.cap, near.floor,
        np.ascontiguousarray(status, dtype=np.int8), int(p),
        np.ascontiguousarray(multipliers, dtype=np.float64), float(upper), int(steps),
        float(factor), int(patience), float(stop), float(tolerance))
    best = LagrangianPoint(float(bound), lam, rho, selected, float(qth), float(nxt))
    return Ascent(best, float(factor), share, int(taken), int(capped))


def fixing(point: LagrangianPoint, status: np.ndarray, level: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """Sites to close and to fix open (masks over the free sites), by the tests above.

    ``level`` is ``UB`` less the tolerance: a bound at or above it rules the plans out.

    Examples
    --------
    >>> point = LagrangianPoint(10.0, np.zeros(0), np.array([-5.0, -1.0, 0.0]),
    ...                         np.array([True, False, False]), -5.0, -1.0)
    >>> close, force = fixing(point, np.zeros(3, dtype=np.int8), 13.0)
    >>> close.tolist(), force.tolist()
    ([False, True, True], [True, False, False])
    """
    free = status == FREE
    close = free & ~point.selected & (point.bound - point.qth + point.rho >= level)
    force = free & point.selected & (point.bound - point.rho + point.next >= level)
    return close, force
