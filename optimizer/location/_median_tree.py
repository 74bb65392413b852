r"""Lagrangian branch-and-bound for the plain p-median (no kept-open sites, budget or spacing).

The bound of every node is the Lagrangian of :mod:`optimizer.location._median_lagrangian` with
the node's sites fixed open or closed. The root raises it by a long subgradient ascent (growing
each client's nearest-sites list while the cap holds clients back), fixes sites both ways
against the incumbent and drops the closed ones. Each node then re-optimises the multipliers
from its parent's for a few dozen steps, is pruned when its bound reaches the incumbent, fixes
sites by the same tests, and branches on the free site whose membership of :math:`P` flipped
most during its ascent (open child, closed child). Nodes are taken best bound first, so the
smallest bound of the open nodes is a valid global bound when the deadline stops the search.
Every node's relaxed plan is priced, and one that beats the incumbent is improved by swaps.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass

import numpy as np

from ._lagrangian import swap_improve
from ._median_lagrangian import (
    CLOSED,
    FREE,
    OPEN,
    Ascent,
    NearestCosts,
    ascend,
    fixing,
    nearest_costs,
)


@dataclass(frozen=True)
class TreeResult:
    """Result of :func:`median_branch_and_bound`.

    Attributes
    ----------
    plan
        Sorted indices of the best plan's sites (columns of the cost matrix).
    value
        Its total weighted cost.
    bound
        A lower bound on every plan (the incumbent's value when ``proven``).
    proven
        Whether the search finished: ``plan`` is optimal.
    closed, opened
        Boolean per site: in no plan cheaper than the incumbent / in every such plan (the
        root's fixing, for a MIP on the sites left).
    nodes
        Nodes solved.
    root_bound
        The root's Lagrangian bound.
    fixing_floor
        Every plan the root's fixing rules out costs at least this.
    """

    plan: np.ndarray
    value: float
    bound: float
    proven: bool
    closed: np.ndarray
    opened: np.ndarray
    nodes: int
    root_bound: float
    fixing_floor: float


def _plan_value(dense: np.ndarray, sites: np.ndarray) -> float:
    return float(dense[:, sites].min(axis=1).sum())


def _normalise(status: np.ndarray, p: int) -> bool:
    """Fill the node's status when the counts settle it; ``True`` if every site is fixed."""
    n_open = int((status == OPEN).sum())
    free = status == FREE
    if n_open >= p:
        status[free] = CLOSED
    elif n_open + int(free.sum()) <= p:
        status[free] = OPEN
    return not (status == FREE).any()


def median_branch_and_bound(
    dense: np.ndarray,
    p: int,
    plan: np.ndarray,
    deadline: float,
    *,
    gap: float = 0.0,
    root_steps: int = 3000,
    node_steps: int = 80,
    max_nodes: int = 1_000_000,
    hand_over: float = math.inf,
    hand_over_until: float = math.inf,
) -> TreeResult:
    """Solve the p-median on a dense weighted cost matrix, or bracket its optimum by ``deadline``.

    Parameters
    ----------
    dense
        Weighted costs ``w_i * d_ij`` (clients x sites), ``inf`` out of reach; the starting plan
        must reach every client.
    p
        Number of sites to open.
    plan
        Indices of a starting plan (the incumbent).
    deadline
        A :func:`time.perf_counter` value; the search stops there with the best global bound.
    gap
        Relative gap at which a node is pruned (a plan within it of the bound is proven).
    root_steps, node_steps
        Subgradient steps at the root and at each node at most.
    max_nodes
        Nodes solved at most.
    hand_over, hand_over_until
        :func:`time.perf_counter` values between which the search also stops when it does
        not look like finishing by ``deadline`` (see :func:`_on_course`). A caller with
        another method to finish with (a MIP) hands over to it then; after
        ``hand_over_until`` that method would have too little time left, so the tree goes on.

    Returns
    -------
    TreeResult
        The best plan, its value, the global bound and whether optimality is proven.

    Examples
    --------
    >>> dense = np.array([[0.0, 4.0, 9.0], [1.0, 3.0, 9.0], [9.0, 9.0, 0.0]])
    >>> result = median_branch_and_bound(dense, 2, np.array([0, 1]), time.perf_counter() + 5)
    >>> result.plan.tolist(), result.value, result.proven
    ([0, 2], 1.0, True)
    """
    n_sites = dense.shape[1]
    best_plan = np.sort(np.asarray(plan, dtype=np.int64))
    upper = _plan_value(dense, best_plan)
    finite = dense[np.isfinite(dense)]
    # Integral costs make every plan's value an integer: a node whose bound exceeds UB - 1
    # holds no cheaper plan (kept to values where rounding in the sums stays far below 1e-3).
    integral = bool(np.all(finite == np.round(finite))) and upper < 1e8
    started = time.perf_counter()
    heuristic_seconds = 0.0
    tried: set[bytes] = set()

    def level() -> float:
        """Return the bound at or above which a node holds no plan worth finding."""
        cut = upper - max(1e-9 * max(1.0, abs(upper)), gap * abs(upper))
        return min(cut, upper - 1.0 + 1e-3) if integral else cut

    def certified(bound: float) -> float:
        """Return what a node pruned at ``bound`` proves (integral costs lift it to UB)."""
        return upper if integral and bound >= upper - 1.0 + 1e-3 else min(bound, upper)

    def improve(sites: np.ndarray, always: bool = False) -> bool:
        """Swap-improve a node's plan; return whether the incumbent improved.

        Only plans that beat the incumbent, or come within 1 % while swaps have used under a
        quarter of the time, are tried, each once.
        """
        nonlocal best_plan, upper, heuristic_seconds
        value = _plan_value(dense, sites)
        if value >= upper - 1e-9 * max(1.0, abs(upper)) and not always:
            now = time.perf_counter()
            if value > 1.01 * upper or heuristic_seconds > 0.25 * (now - started):
                return False
        key = np.sort(sites).tobytes()
        if key in tried:
            return False
        tried.add(key)
        clock = time.perf_counter()
        sites, value = swap_improve(dense, np.sort(sites), deadline=deadline)
        heuristic_seconds += time.perf_counter() - clock
        if value >= upper - 1e-9 * max(1.0, abs(upper)):
            return False
        best_plan, upper = sites, value
        return True

    # --- root ---------------------------------------------------------------------------------
    k = min(n_sites, max(20, math.ceil(2 * n_sites / p)))
    near = nearest_costs(dense, k)
    status = np.zeros(n_sites, dtype=np.int8)
    multipliers = np.sort(dense, axis=1)[:, min(p, n_sites - 1)]
    multipliers = np.where(np.isfinite(multipliers), multipliers, near.floor)
    plans: dict[bytes, float] = {}

    def root_ascent(near: NearestCosts, start: np.ndarray, steps: int) -> Ascent:
        """Ascend in rounds of 25 steps from the best point, pricing the plans met."""
        run = ascend(near, p, status, start, upper, steps=0, target=level(), deadline=deadline)
        best, factor, taken = run, 2.0, 0
        while taken < steps:
            run = ascend(near, p, status, best.best.multipliers, upper, steps=25, factor=factor,
                         target=level(), deadline=deadline)
            taken, factor = taken + run.steps, run.factor
            if run.best.bound > best.best.bound:
                best = run
            for sites in (np.flatnonzero(run.best.selected), np.argsort(-run.share)[:p]):
                key = np.sort(sites).tobytes()
                if key not in plans:
                    plans[key] = _plan_value(dense, np.sort(sites))
            if best.best.bound >= level() or factor < 1e-3 or time.perf_counter() > deadline:
                break
        return Ascent(best.best, factor, run.share, taken, run.capped)

    root = root_ascent(near, multipliers, root_steps)
    while root.capped > 0.01 * dense.shape[0] and k < n_sites:
        k = min(n_sites, 2 * k)
        near = nearest_costs(dense, k)
        root = root_ascent(near, root.best.multipliers, root_steps)
    # The plans the ascent met, cheapest first, improved by swaps: a strong incumbent.
    improved = False
    for key in sorted(plans, key=plans.__getitem__)[:6]:
        improved |= improve(np.frombuffer(key, dtype=np.int64), always=True)
    if improved:
        root = root_ascent(near, root.best.multipliers, root_steps // 3)
    root_bound = root.best.bound
    fixing_floor = certified(level())
    close, force = fixing(root.best, status, level())
    status[close], status[force] = CLOSED, OPEN
    closed_at_root, opened_at_root = status == CLOSED, status == OPEN
    if root_bound >= level() or _normalise(status.copy(), p):
        bound = min(fixing_floor, certified(root_bound) if root_bound >= level() else upper)
        return TreeResult(best_plan, upper, bound, True, closed_at_root, opened_at_root, 1,
                          root_bound, fixing_floor)
    # Drop the closed sites: the nearest lists (and their caps) then reach further.
    keep = np.flatnonzero(status != CLOSED)
    sub = np.ascontiguousarray(dense[:, keep])
    # Each client keeps the sites cheaper than its multiplier and four more.
    below = (sub < root.best.multipliers[:, None]).sum(axis=1)
    near = nearest_costs(sub, np.minimum(below + 4, len(keep)))
    status = status[keep]
    lam = np.clip(root.best.multipliers, near.floor, near.cap)

    # --- tree ---------------------------------------------------------------------------------
    counter = 0
    heap: list[tuple[float, int, np.ndarray, np.ndarray, float]] = [
        (root_bound, counter, status, lam, max(root.factor, 0.25))]
    nodes = 1
    proven_floor = fixing_floor  # the least that the nodes pruned or fixed so far prove
    # (time, least open bound, open nodes), one a second
    history = [(time.perf_counter(), root_bound, 1)]
    while heap and nodes < max_nodes and time.perf_counter() < deadline:
        now = time.perf_counter()
        if now >= history[-1][0] + 1.0:
            history.append((now, heap[0][0], len(heap)))
            if (hand_over <= now < hand_over_until
                    and not _on_course(history, level(), deadline)):
                break
        parent_bound, _, status, lam, factor = heapq.heappop(heap)
        if parent_bound >= level():
            proven_floor = min(proven_floor, certified(parent_bound))
            continue
        nodes += 1
        if _normalise(status, p):
            improve(keep[status == OPEN])
            continue
        node = _solve_node(near, p, status, lam, upper, level(), node_steps, factor, deadline)
        bound, lam, factor, share, selected, fixed_any = node
        if fixed_any:
            proven_floor = min(proven_floor, certified(level()))
        improve(keep[selected])
        if bound >= level():
            proven_floor = min(proven_floor, certified(bound))
            continue
        if _normalise(status, p):
            improve(keep[status == OPEN])
            continue
        free = np.flatnonzero(status == FREE)
        site = int(free[np.argmin(np.abs(share[free] - 0.5))])
        for value in (OPEN, CLOSED):
            child = status.copy()
            child[site] = value
            counter += 1
            heapq.heappush(heap, (bound, counter, child, lam, factor))
    open_bounds = [entry[0] for entry in heap if entry[0] < level()]
    proven = not open_bounds
    bound = min([upper, proven_floor, *[certified(b) for b in open_bounds]])
    return TreeResult(np.sort(best_plan), upper, bound, proven, closed_at_root, opened_at_root,
                      nodes, root_bound, fixing_floor)


def _on_course(history: list[tuple[float, float, int]], level: float, deadline: float) -> bool:
    """Whether the search looks like finishing by ``deadline``.

    Yes if its open nodes are fewer than at the middle of ``history`` (the tree is being
    closed), or if the least open bound, rising as it did over the last half of ``history``,
    would reach ``level`` in under half the time left. Best-first, that bound only rises, and
    ever more slowly as the gap closes, so the linear projection is optimistic: it is doubled.

    Examples
    --------
    >>> _on_course([(0.0, 90.0, 1), (10.0, 96.0, 50), (20.0, 98.0, 90)], 100.0, 60.0)
    True
    >>> _on_course([(0.0, 90.0, 1), (10.0, 96.0, 50), (20.0, 98.0, 90)], 100.0, 30.0)
    False
    >>> _on_course([(0.0, 90.0, 1), (10.0, 96.0, 50), (20.0, 98.0, 40)], 100.0, 30.0)
    True
    """
    now, bound, open_now = history[-1]
    middle = (history[0][0] + now) / 2
    then, before, open_then = next(entry for entry in history if entry[0] >= middle)
    if now <= then or open_now < open_then:
        return True
    rate = (bound - before) / (now - then)
    return rate > 0 and 2 * (level - bound) / rate < deadline - now


def _solve_node(near: NearestCosts, p: int, status: np.ndarray, lam: np.ndarray, upper: float,
                level: float, steps: int, factor: float, deadline: float
                ) -> tuple[float, np.ndarray, float, np.ndarray, np.ndarray, bool]:
    """Ascend, fix, ascend again while fixing helps; fixes ``status`` in place."""
    fixed_any = False
    for _ in range(4):
        run = ascend(near, p, status, lam, upper, steps=steps, factor=factor, target=level,
                     deadline=deadline)
        lam, factor = run.best.multipliers, max(run.factor, 0.05)
        if run.best.bound >= level:
            break
        close, force = fixing(run.best, status, level)
        if not (close.any() or force.any()):
            break
        status[close], status[force] = CLOSED, OPEN
        fixed_any = True
        if _normalise(status, p):
            break
    return run.best.bound, lam, factor, run.share, run.best.selected, fixed_any
