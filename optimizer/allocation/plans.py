r"""Plans on a set of lanes: per-SKU flows, whole cases chosen exactly, lanes closed and opened.

:func:`plan_on_lanes` turns a set of open lanes (their trucks paid) into a feasible weekly plan.
The per-SKU min-cost flows of :mod:`optimizer.allocation.flows` decide in units, and rounding
warehouse shipments to whole cases afterwards leaves a store that needs 3 units of a SKU packed
by 10 with a case or nothing by a rule of thumb. Two exact steps mend that, each a min-cost
flow per SKU with the other half of the plan held fixed:

* :func:`resolve_cases` -- with the store-to-store transfers fixed, the choice of warehouse
  cases is itself a min-cost flow *counted in cases*: the :math:`n`-th case a store receives
  saves the shortage of its units :math:`L + (n-1)a + 1 .. L + na` above the store's level
  :math:`L` (own stock plus transfers in), which shrinks with :math:`n` because expected
  shortage is convex, so a store's cases are unit segments of a flow just as its units are;
* :func:`reflow_transfers` -- with the warehouse cases fixed, the transfers are solved again, so
  a neighbour's stock fills what the cases left.

Each step is exact for its half, so where the alternation starts matters: from the rounded unit
flow it keeps warehouse cases a neighbour's few spare units would have replaced; starting from
the transfers alone finds those (on a 40-store, 200-SKU week whose optimum HiGHS proves, the
plan went from 4.6 % to 1.8 % above it). :func:`plan_on_lanes` tries both starts.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from ..errors import InputError
from .flows import (
    enforce_limits,
    lane_closing_savings,
    lane_opening_gains,
    plan_cost,
    position_moves,
    solve_flow_blocks,
    solve_sku_flows,
)
from .model import (
    ARC_KEEP,
    ARC_LANE,
    AllocationProblem,
    FlowNetwork,
    SegmentTable,
    offsets_within,
    segment_table,
)

OPEN_WHEN_CLOSING = 0.01
"""A round also opens the lanes :func:`lane_opening_gains` finds worth a truck once it closes
at most this share of the lanes its plan uses (closing has about settled; opening while many
lanes close unsettles it)."""

CASE_PASSES = 1
"""Case/transfer passes after the transfers-only start. On a 40-store, 200-SKU week the first
took the plan from 176,859 (transfers alone) to 90,114; a second gained 0.07 % more, the next
ones under 0.03 % each, not worth a plan's time at national size."""


def plan_on_lanes(problem: AllocationProblem, network: FlowNetwork, open_lanes: np.ndarray, *,
                  arc_cost: np.ndarray | None = None, rounds: int = 4,
                  deadline: float | None = None, transfers_first: bool = True,
                  ) -> tuple[np.ndarray, dict[str, float]]:
    """Return a plan on ``open_lanes``, closing and opening lanes round by round.

    A plan that ships on ``open_lanes``, then closes lanes that do not pay their trucks and
    opens lanes that would.

    Each round solves every SKU's min-cost flow with the open lanes' trucks already paid (unit
    costs only) and repairs it into a feasible plan (:func:`enforce_limits`); then chooses the
    warehouse cases exactly for those transfers (:func:`resolve_cases`) and the transfers for
    those cases (:func:`reflow_transfers`). A second candidate starts from the other side:
    transfers alone first (neighbours' spare units, which the unit flow passes over because a
    warehouse unit looks cheaper before it is packed in a case), then cases for what they leave,
    then transfers again (``CASE_PASSES`` times; ``transfers_first=False`` skips this
    candidate, for a plan that only has to be quick). The round keeps the cheapest candidate
    and closes the lanes whose trucks cost more than their shipments save
    (:func:`lane_closing_savings`); once that has about settled (``OPEN_WHEN_CLOSING``), it
    also opens the unused lanes whose best shipments would pay a truck
    (:func:`lane_opening_gains`), so the lane set can grow beyond ``open_lanes``. The cheapest
    plan seen is returned.

    ``deadline`` is a :func:`time.perf_counter` reading: no further round starts when, at the
    pace of the last one, it would end after it (the first round always runs).

    Returns
    -------
    (quantity, costs)
        Units per arc of ``network`` and :func:`plan_cost` of that plan.
    """
    lane_arc = network.arc_kind == ARC_LANE
    capacity = network.arc_capacity.copy()
    arc_open = np.ones(len(capacity), dtype=bool)
    arc_open[lane_arc] = open_lanes[network.arc_lane[lane_arc]]
    capacity[~arc_open] = 0
    arc_cost = network.arc_cost if arc_cost is None else arc_cost
    segments = segment_table(network, len(problem.stock))
    best_quantity, best_cost = None, None
    lane_of_arc = np.maximum(network.arc_lane, 0)
    for _ in range(rounds):
        round_started = time.perf_counter()
        flows, _ = solve_sku_flows(network, arc_cost, capacity)
        rounded = enforce_limits(problem, network, flows)
        cased = resolve_cases(problem, network, segments, rounded, capacity, arc_cost)
        reflowed = reflow_transfers(problem, network, cased, capacity, arc_cost)
        candidates = [rounded, reflowed]
        if transfers_first:
            candidates.append(_transfers_first(problem, network, segments, capacity, arc_cost))
        quantity, cost = None, None
        for candidate in candidates:
            candidate_cost = plan_cost(problem, network, candidate)
            if cost is None or candidate_cost["objective"] < cost["objective"]:
                quantity, cost = candidate, candidate_cost
        assert quantity is not None and cost is not None  # two candidates at least
        if best_cost is None or cost["objective"] < best_cost["objective"]:
            best_quantity, best_cost = quantity, cost
        savings = lane_closing_savings(problem, network, quantity)
        closing = savings > 0
        opening = np.zeros(len(closing), dtype=bool)
        if closing.sum() <= OPEN_WHEN_CLOSING * np.isfinite(savings).sum():
            opening = lane_opening_gains(problem, network, segments, quantity) > 0
        now = time.perf_counter()
        if not (closing.any() or opening.any()) or (
                deadline is not None and 2 * now - round_started > deadline):
            break
        capacity[lane_arc & closing[lane_of_arc]] = 0
        reopen = lane_arc & opening[lane_of_arc]
        capacity[reopen] = network.arc_capacity[reopen]
    if best_quantity is None or best_cost is None:
        raise InputError(f"`rounds` is {rounds!r}; plan with at least one round.")
    return best_quantity, best_cost


def resolve_cases(problem: AllocationProblem, network: FlowNetwork, segments: SegmentTable,
                  quantity: np.ndarray, capacity: np.ndarray, arc_cost: np.ndarray) -> np.ndarray:
    """Keep the store transfers of ``quantity`` and choose the warehouse cases exactly.

    Parameters
    ----------
    problem, network
        The week's problem and its flow network.
    segments
        :func:`optimizer.allocation.model.segment_table` of ``network``.
    quantity
        A feasible plan (units per arc of ``network``).
    capacity
        Arc capacities; lane arcs of closed lanes have 0.
    arc_cost
        Cost per unit of every arc (lane arcs may carry coupling prices).

    Returns
    -------
    numpy.ndarray
        Quantity per lane arc: the same transfers, new warehouse shipments (repaired by
        :func:`optimizer.allocation.flows.enforce_limits` for throughput and the cross-region share).
    """
    p = problem
    n_positions = len(p.stock)
    from_warehouse = _from_warehouse(p, network)
    warehouse_arc = np.flatnonzero(from_warehouse)
    sender = network.extra["sender_of_lane_arc"]
    receiver = network.arc_position

    # Each store's level (units above its reserve) with the transfers but no warehouse cases.
    sent, received = position_moves(p, network, np.where(from_warehouse, 0, quantity))
    level = p.shippable - sent + received
    need = np.maximum(segments.count - level, 0)

    arcs = warehouse_arc[(capacity[warehouse_arc] > 0) & (need[receiver[warehouse_arc]] > 0)]
    case = p.sku_case_size[network.arc_sku[arcs]].astype(np.int64)
    whole = capacity[arcs] >= case
    arcs, case = arcs[whole], case[whole]
    result = quantity.copy()
    result[warehouse_arc] = 0
    if arcs.size == 0:
        return enforce_limits(p, network, result, round_cases=False)

    # Nodes: the warehouses and stores of these arcs, by SKU, then one sink per SKU.
    positions = _present(n_positions, sender[arcs], receiver[arcs])
    sku_of = p.position_sku[positions]
    order = np.lexsort((positions, sku_of))
    positions, sku_of = positions[order], sku_of[order]
    n_skus = len(p.sku_ids)
    node_start = np.concatenate([[0], np.cumsum(np.bincount(sku_of, minlength=n_skus) + 1)])
    sink = node_start[1:] - 1
    node_of = np.full(n_positions, -1, dtype=np.int64)
    node_of[positions] = np.arange(len(positions)) + sku_of

    warehouses = _present(n_positions, sender[arcs])
    warehouse_cases = p.shippable[warehouses] // p.sku_case_size[p.position_sku[warehouses]]
    node_supply = np.zeros(node_start[-1], dtype=np.int64)
    node_supply[node_of[warehouses]] = warehouse_cases
    np.subtract.at(node_supply, sink[p.position_sku[warehouses]], warehouse_cases)

    # The n-th case into a store saves the shortage of its units above the store's level.
    stores = _present(n_positions, receiver[arcs])
    store_case = p.sku_case_size[p.position_sku[stores]].astype(np.int64)
    n_cases = -(-need[stores] // store_case)
    store = np.repeat(stores, n_cases)
    nth = offsets_within(n_cases)
    size = np.repeat(store_case, n_cases)
    low = level[store] + nth * size
    case_saving = segments.saving_between(store, low, low + size)

    tail = np.concatenate([node_of[warehouses], node_of[sender[arcs]], node_of[store]])
    head = np.concatenate([sink[p.position_sku[warehouses]], node_of[receiver[arcs]],
                           sink[p.position_sku[store]]])
    cost = np.concatenate([np.zeros(len(warehouses)), arc_cost[arcs] * case, -case_saving])
    arc_capacity = np.concatenate([warehouse_cases, capacity[arcs] // case,
                                   np.ones(len(store), dtype=np.int64)])
    arc_sku = np.concatenate([p.position_sku[warehouses], network.arc_sku[arcs],
                              p.position_sku[store]])
    by_sku = np.argsort(arc_sku, kind="stable")
    arc_start = np.searchsorted(arc_sku[by_sku], np.arange(n_skus + 1))
    flows, _ = solve_flow_blocks(node_start, node_supply, arc_start, tail[by_sku], head[by_sku],
                                 arc_capacity[by_sku], cost[by_sku])
    cases = np.empty_like(flows)
    cases[by_sku] = flows
    result[arcs] = cases[len(warehouses):len(warehouses) + len(arcs)] * case
    return enforce_limits(p, network, result, round_cases=False)


def reflow_transfers(problem: AllocationProblem, network: FlowNetwork, quantity: np.ndarray,
                     capacity: np.ndarray, arc_cost: np.ndarray) -> np.ndarray:
    """Keep the warehouse shipments of ``quantity`` and re-solve the store transfers around them.

    With the cases fixed, the store-to-store transfers (on the lanes ``capacity`` leaves open)
    are solved again as per-SKU min-cost flows, so a neighbour's stock fills what the cases
    left, and the result is repaired (:func:`enforce_limits`).

    Returns
    -------
    numpy.ndarray
        Quantity per lane arc of ``network``: the same warehouse shipments, new transfers.
    """
    p = problem
    from_warehouse = _from_warehouse(p, network)
    fixed = np.flatnonzero(from_warehouse & (quantity > 0))
    supply = network.node_supply.copy()
    np.subtract.at(supply, network.arc_tail[fixed], quantity[fixed])
    np.add.at(supply, network.arc_head[fixed], quantity[fixed])
    capacity = np.where(from_warehouse, 0, capacity)
    keep = np.flatnonzero(network.arc_kind == ARC_KEEP)
    sent, _ = position_moves(p, network, np.where(from_warehouse, quantity, 0))
    capacity[keep] = np.maximum(capacity[keep] - sent[network.arc_position[keep]], 0)
    flows, _ = solve_sku_flows(replace(network, node_supply=supply), arc_cost, capacity)
    transfers = np.where((network.arc_kind == ARC_LANE) & ~from_warehouse, flows, 0)
    transfers[fixed] = quantity[fixed]
    return enforce_limits(p, network, transfers, round_cases=False)


def _transfers_first(problem: AllocationProblem, network: FlowNetwork, segments: SegmentTable,
                     capacity: np.ndarray, arc_cost: np.ndarray) -> np.ndarray:
    """Return a plan built transfers first.

    A plan built from the other side: transfers alone, then cases for what they leave, then
    transfers again (``CASE_PASSES`` times).
    """
    quantity = reflow_transfers(problem, network, np.zeros(len(arc_cost), dtype=np.int64),
                                capacity, arc_cost)
    for _ in range(CASE_PASSES):
        cased = resolve_cases(problem, network, segments, quantity, capacity, arc_cost)
        quantity = reflow_transfers(problem, network, cased, capacity, arc_cost)
    return quantity


def _present(n_positions: int, *indices: np.ndarray) -> np.ndarray:
    """Return the positions that occur in ``indices``, ascending.

    The positions that occur in ``indices``, ascending (``np.unique`` of their union, by
    counting: positions are dense integers, and hashing millions of them took seconds).
    """
    seen = np.zeros(n_positions, dtype=bool)
    for index in indices:
        seen[index] = True
    return np.flatnonzero(seen)


def _from_warehouse(problem: AllocationProblem, network: FlowNetwork) -> np.ndarray:
    """Return True on the lane arcs of ``network`` that leave a warehouse (whole cases)."""
    lane_arc = network.arc_kind == ARC_LANE
    result = np.zeros(len(lane_arc), dtype=bool)
    result[lane_arc] = problem.lane_from_warehouse[network.arc_lane[lane_arc]]
    return result
