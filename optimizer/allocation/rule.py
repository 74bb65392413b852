"""A planner's rule for the week, to compare the plan with.

Top up from the nearest warehouse, then from the nearest store with surplus.

The rule, as a planner runs it by hand:

1. every store below its order-up-to level (``problem.order_up_to``) orders the difference, rounded up to
   its pick unit (whole cases for SKUs picked by the case), from its nearest warehouse; a
   warehouse serves its stores in turn while it has stock above its own reserve;
2. what is still missing comes from the nearest store with surplus above its reserve (at least
   the minimum lot), again in turn while the sender has surplus.

"Nearest" is the cheapest lane per unit plus its truck or parcel (both grow with the distance).
The rule ships on the lanes of the week's flow network (where the receiver has demand), and the
result is repaired like every plan (:func:`optimizer.allocation.flows.enforce_limits`: lane
volume caps, throughput, cross-region share), so it is a feasible plan whose
:func:`optimizer.allocation.flows.plan_cost` is comparable with the optimised plan's.
"""

from __future__ import annotations

import numpy as np

from .flows import enforce_limits, lane_arc_terms
from .model import ARC_LANE, AllocationProblem, FlowNetwork


def planner_rule(problem: AllocationProblem, network: FlowNetwork) -> np.ndarray:
    """Return the planner's rule's plan: units per arc of ``network`` (see the module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> from optimizer.allocation.model import build_network, problem_from_frames
    >>> problem = problem_from_frames(
    ...     pd.DataFrame({"location_id": ["W", "S1", "S2"], "sku": "A", "stock": [20, 0, 9],
    ...                   "reserve": [0, 4, 3], "demand_mean": [0.0, 3.0, 2.0],
    ...                   "demand_variance": [0.0, 3.0, 2.0]}),
    ...     pd.DataFrame({"location_id": ["W", "S1", "S2"], "region": "north",
    ...                   "is_warehouse": [True, False, False], "weekly_throughput": np.inf}),
    ...     pd.DataFrame({"sku": ["A"], "margin": [50.0], "volume": [1.0], "case_size": [6]}),
    ...     pd.DataFrame({"from_id": ["W", "S2"], "to_id": ["S1", "S1"], "unit_cost": [1.0, 2.0],
    ...                   "shipment_cost": [0.0, 10.0], "lead_time_days": [1.0, 1.0]}),
    ...     truck_capacity=1000.0)
    >>> network = build_network(problem)
    >>> int(planner_rule(problem, network).sum())  # 4 units missing: one case of 6
    6
    """
    p = problem
    quantity = np.zeros(len(network.arc_cost), dtype=np.int64)
    level = p.reserve if p.order_up_to is None else p.order_up_to
    need = np.maximum(level - p.stock, 0).astype(np.int64)
    need[p.is_warehouse[p.position_location]] = 0
    spare = p.shippable.copy()
    arcs = np.flatnonzero(network.arc_kind == ARC_LANE)
    lane, sender, from_warehouse, case = lane_arc_terms(p, network, arcs)
    receiver = network.arc_position[arcs]
    distance = p.lane_unit_cost[lane] + p.lane_shipment_cost[lane]
    for warehouse_pass in (True, False):
        side = from_warehouse == warehouse_pass
        chosen = _nearest_per_receiver(receiver, distance, side & (need[receiver] > 0)
                                       & (spare[sender] > 0))
        if not chosen.size:
            continue
        r, s, c = receiver[chosen], sender[chosen], case[chosen]
        if warehouse_pass:
            want = -(-need[r] // c) * c
        else:
            want = np.minimum(need[r], spare[s])
            want = np.where(want >= max(p.min_transfer_units, 1), want, 0)
        want = np.minimum(want, network.arc_capacity[arcs[chosen]] // c * c)
        given = _in_turn(s, want, c, spare)
        quantity[arcs[chosen]] += given
        np.subtract.at(spare, s, given)
        np.subtract.at(need, r, np.minimum(given, need[r]))
    return enforce_limits(p, network, quantity, round_cases=False)


def _nearest_per_receiver(receiver: np.ndarray, distance: np.ndarray,
                          eligible: np.ndarray) -> np.ndarray:
    """Return the indices (into the arrays) of each receiver's nearest eligible arc."""
    candidates = np.flatnonzero(eligible)
    order = candidates[np.lexsort((distance[candidates], receiver[candidates]))]
    first = np.r_[True, receiver[order][1:] != receiver[order][:-1]] if order.size else order
    return order[first.astype(bool)] if order.size else order


def _in_turn(sender: np.ndarray, want: np.ndarray, case: np.ndarray,
             spare: np.ndarray) -> np.ndarray:
    """Grant each request in turn per sender (in the given order).

    A request is granted whole while the sender's spare stock covers it; one that does not fit
    gets what is left in whole cases.
    """
    order = np.argsort(sender, kind="stable")
    s, w = sender[order], want[order]
    taken = np.cumsum(w)
    start = np.r_[True, s[1:] != s[:-1]] if s.size else np.zeros(0, bool)
    before = np.maximum.accumulate(np.where(start, taken - w, 0)) if s.size else taken
    left = np.maximum(spare[s] - (taken - w - before), 0)
    granted = np.minimum(w, left // case[order] * case[order])
    result = np.zeros(len(want), dtype=np.int64)
    result[order] = granted
    return result
