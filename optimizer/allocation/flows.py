"""Per-SKU min-cost flows (OR-Tools) and the repair that makes a flow a feasible weekly plan."""

from __future__ import annotations

import numpy as np

from ..errors import SolverError
from .model import ARC_LANE, AllocationProblem, FlowNetwork, SegmentTable
from .safety_stock import expected_shortage

COST_SCALE = 10_000
"""Costs are rounded to 1/10,000 of a currency unit for the integer min-cost-flow solver."""


def solve_sku_flows(network: FlowNetwork, arc_cost: np.ndarray,
                    capacity: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Min-cost flow of every SKU's network with the given arc costs (and capacities).

    Returns
    -------
    (flows, lower_bound_of_cost)
        Integer flow per arc, and a lower bound on ``sum(arc_cost * flow)`` over all feasible
        flows: the rounded optimum minus the largest possible rounding error.
    """
    capacity = network.arc_capacity if capacity is None else capacity
    return solve_flow_blocks(network.node_start, network.node_supply, network.arc_start,
                             network.arc_tail, network.arc_head, capacity, arc_cost)


def solve_flow_blocks(node_start: np.ndarray, node_supply: np.ndarray, arc_start: np.ndarray,
                      tail: np.ndarray, head: np.ndarray, capacity: np.ndarray,
                      cost: np.ndarray) -> tuple[np.ndarray, float]:
    """Min-cost flows of independent blocks (one per SKU) stored in flat arrays.

    Block ``k`` has nodes ``node_start[k] .. node_start[k+1]-1`` and arcs
    ``arc_start[k] .. arc_start[k+1]-1``; each is solved by OR-Tools' min-cost flow.

    Returns
    -------
    (flows, lower_bound_of_cost)
        As :func:`solve_sku_flows`.
    """
    from ortools.graph.python import min_cost_flow

    flows = np.zeros(len(cost), dtype=np.int64)
    scaled = np.round(cost * COST_SCALE).astype(np.int64)
    total = 0.0
    for sku in range(len(arc_start) - 1):
        first, last = arc_start[sku], arc_start[sku + 1]
        if first == last:
            continue
        node_first, node_last = node_start[sku], node_start[sku + 1]
        solver = min_cost_flow.SimpleMinCostFlow()
        kept = first + np.flatnonzero(capacity[first:last] > 0)
        arcs = solver.add_arcs_with_capacity_and_unit_cost(
            tail[kept] - node_first, head[kept] - node_first, capacity[kept], scaled[kept])
        solver.set_nodes_supplies(np.arange(node_last - node_first),
                                  node_supply[node_first:node_last])
        status = solver.solve()
        if status != solver.OPTIMAL:
            raise SolverError(f"min-cost flow of SKU index {sku} ended with status {status}; the "
                              "stock balance of this SKU is inconsistent.")
        flows[kept] = solver.flows(arcs)
        total += solver.optimal_cost() / COST_SCALE
    shipped = float(node_supply[node_supply > 0].sum())
    return flows, total - shipped / COST_SCALE


def enforce_limits(problem: AllocationProblem, network: FlowNetwork, flows: np.ndarray, *,
                round_cases: bool = True) -> np.ndarray:
    """Turn arc flows into lane quantities that meet every side constraint.

    Steps: drop store transfers below the minimum lot; round warehouse shipments to whole cases
    (up where the extra units pay and the warehouse has them, down otherwise; skipped with
    ``round_cases=False`` when they are whole cases already); scale down lanes over their
    volume cap (scheduled routes' litres per visit times visits); scale down warehouses over
    their weekly throughput; scale down cross-region shipments over the allowed share. Units not
    shipped stay where they are, so stock balances hold by construction.

    Returns
    -------
    numpy.ndarray
        Quantity per lane arc of ``network`` (zeros elsewhere).
    """
    p = problem
    # Every step below is per shipment or sums shipments, so only the arcs that ship matter
    # (a few hundred thousand of the national week's 4.5 million lane arcs).
    arcs = np.flatnonzero((network.arc_kind == ARC_LANE) & (flows > 0))
    quantity = np.zeros(len(flows), dtype=np.int64)
    lane, sender, from_warehouse, case = lane_arc_terms(p, network, arcs)
    q = flows[arcs].astype(np.int64)
    if p.min_transfer_units > 1:
        q = np.where(~from_warehouse & (q < p.min_transfer_units), 0, q)
    if round_cases:
        q = _round_cases(p, network, arcs, sender, case, q)
    q = _cap_lane_volume(p, network, arcs, lane, case, q)
    q = _cap_warehouse_throughput(p, lane, from_warehouse, case, q)
    if p.max_cross_region_share is not None:
        q = _cap_cross_region(p, lane, from_warehouse, case, q)
    quantity[arcs] = q
    return quantity


def lane_arc_terms(problem: AllocationProblem, network: FlowNetwork, arcs: np.ndarray,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the lane, sender, warehouse flag and unit of each lane arc.

    Per lane arc of ``arcs``: its lane, its sending position, whether it leaves a warehouse,
    and the units it ships in (the SKU's case size from a warehouse, 1 between stores).
    """
    p = problem
    lane = network.arc_lane[arcs]
    from_warehouse = p.is_warehouse[p.lane_from[lane]]
    case = np.where(from_warehouse, p.sku_case_size[network.arc_sku[arcs]], 1).astype(np.int64)
    return lane, network.extra["sender_of_lane_arc"][arcs], from_warehouse, case


def _round_cases(p: AllocationProblem, network: FlowNetwork, arcs: np.ndarray,
                 sender: np.ndarray, case: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Round each shipment to whole cases.

    Down first, then up where the extra units save more than they cost, best saving per unit
    first, as far as the sender's shippable stock allows.
    """
    down = (q // case) * case
    extra = np.where(q % case > 0, case, 0)
    receiver = network.arc_position[arcs]
    received = np.bincount(receiver, weights=q, minlength=len(p.stock))
    level = network.position_base_level + received
    # Only the shipments with a part case are priced (a few of the millions of lane arcs).
    part = np.flatnonzero(extra > 0)
    r = receiver[part]
    mean, var = p.demand_mean[r], np.maximum(p.demand_variance[r], 1e-9)
    others = level[r] - q[part]
    saving = np.zeros(len(arcs))
    saving[part] = p.sku_margin[p.position_sku[r]] * (
        expected_shortage(others + down[part], mean, var, distribution=p.distribution)
        - expected_shortage(others + down[part] + extra[part], mean, var,
                            distribution=p.distribution)
    ) - extra[part] * network.arc_cost[arcs[part]]
    candidate = (extra > 0) & (saving > 0) & (p.demand_mean[receiver] > 0)
    left = p.shippable - np.bincount(sender, weights=down, minlength=len(p.stock))
    chosen = np.flatnonzero(candidate)
    order = chosen[np.lexsort((-saving[chosen] / extra[chosen], sender[chosen]))]
    taken = np.cumsum(extra[order])
    group_start = np.r_[True, sender[order][1:] != sender[order][:-1]] if order.size else order
    before = np.maximum.accumulate(np.where(group_start, taken - extra[order], 0)) \
        if order.size else taken
    fits = taken - before <= left[sender[order]]
    result = down.copy()
    result[order[fits]] += extra[order[fits]]
    return result


def _cap_lane_volume(p: AllocationProblem, network: FlowNetwork, arcs: np.ndarray,
                     lane: np.ndarray, case: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Scale every lane over its weekly volume cap down to it (whole cases, rounded down)."""
    cap = p.lane_litre_cap
    if not np.isfinite(cap).any():
        return q
    litres = q * p.sku_volume[network.arc_sku[arcs]]
    load = np.bincount(lane, weights=litres, minlength=len(p.lane_from))
    factor = np.where(load > cap, cap / np.maximum(load, 1e-12), 1.0)
    over = factor[lane] < 1.0
    scaled = np.floor(q * factor[lane] * (1 - 1e-12) / case).astype(np.int64) * case
    if p.min_transfer_units > 1:
        scaled = np.where(~p.lane_from_warehouse[lane] & (scaled < p.min_transfer_units), 0,
                          scaled)
    return np.where(over, scaled, q)


def _cap_warehouse_throughput(p: AllocationProblem, lane: np.ndarray, from_warehouse: np.ndarray,
                              case: np.ndarray, q: np.ndarray) -> np.ndarray:
    origin = p.lane_from[lane]
    out = np.bincount(origin, weights=q, minlength=len(p.location_ids))
    factor = np.where(out > p.weekly_throughput, p.weekly_throughput / np.maximum(out, 1), 1.0)
    scaled = np.floor(q * factor[origin] / case).astype(np.int64) * case
    return np.where(from_warehouse, scaled, q)


def _cap_cross_region(p: AllocationProblem, lane: np.ndarray, from_warehouse: np.ndarray,
                      case: np.ndarray, q: np.ndarray) -> np.ndarray:
    assert p.max_cross_region_share is not None  # called only when the week has the cap
    share = float(p.max_cross_region_share)
    cross = p.lane_is_cross_region[lane]
    cross_units, other_units = q[cross].sum(), q[~cross].sum()
    if cross_units <= share * (cross_units + other_units) + 1e-9:
        return q
    factor = 0.0 if share <= 0 else share * other_units / ((1 - share) * cross_units)
    scaled = np.floor(q * factor / case).astype(np.int64) * case
    if p.min_transfer_units > 1:
        scaled = np.where(~from_warehouse & (scaled < p.min_transfer_units), 0, scaled)
    return np.where(cross, scaled, q)


def position_moves(problem: AllocationProblem, network: FlowNetwork,
                   quantity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Units sent and received by every position for lane quantities ``quantity``."""
    arcs = np.flatnonzero(quantity > 0)
    sender = network.extra["sender_of_lane_arc"][arcs]
    receiver = network.arc_position[arcs]
    sent = np.bincount(sender, weights=quantity[arcs], minlength=len(problem.stock))
    received = np.bincount(receiver, weights=quantity[arcs], minlength=len(problem.stock))
    return sent.astype(np.int64), received.astype(np.int64)


def lane_volumes(problem: AllocationProblem, network: FlowNetwork,
                 quantity: np.ndarray) -> np.ndarray:
    """Litres carried on every lane."""
    arcs = np.flatnonzero(quantity > 0)
    volume = quantity[arcs] * problem.sku_volume[network.arc_sku[arcs]]
    return np.bincount(network.arc_lane[arcs], weights=volume,
                       minlength=len(problem.lane_from))


def plan_cost(problem: AllocationProblem, network: FlowNetwork,
              quantity: np.ndarray) -> dict[str, float]:
    """Objective of a plan on the model: margin-weighted expected shortage plus transport.

    Shortage is evaluated as in the model (exact at whole units up to the 99.99 % demand
    quantile, flat above it), so it is comparable with the bound. ``trucks`` counts the trucks
    of dedicated and store-truck lanes, ``parcels`` the parcels; scheduled routes add neither.
    """
    p = problem
    sent, received = position_moves(p, network, quantity)
    after = p.stock - sent + received
    demand = (p.demand_mean > 0) & ~p.is_warehouse[p.position_location]
    top = network.extra.get("position_top")
    level = np.minimum(after, top) if top is not None else after
    shortage = np.zeros(len(after))
    shortage[demand] = expected_shortage(level[demand], p.demand_mean[demand],
                                         np.maximum(p.demand_variance[demand], 1e-9),
                                         distribution=p.distribution)
    arcs = np.flatnonzero(quantity > 0)
    unit_cost = float((quantity[arcs] * network.arc_cost[arcs]).sum())
    loads = np.ceil(lane_volumes(p, network, quantity) / p.lane_litres_per_load - 1e-9)
    loads = np.where(p.lane_shipment_cost > 0, loads, 0.0)
    parcel = p.lane_modes == "parcel"
    shipment_cost = float((loads * p.lane_shipment_cost).sum())
    shortage_cost = float((p.sku_margin[p.position_sku] * shortage).sum())
    return {"shortage_cost": shortage_cost, "unit_cost": unit_cost,
            "shipment_cost": shipment_cost, "trucks": float(loads[~parcel].sum()),
            "parcels": float(loads[parcel].sum()),
            "objective": shortage_cost + unit_cost + shipment_cost}


def lane_closing_savings(problem: AllocationProblem, network: FlowNetwork,
                         quantity: np.ndarray) -> np.ndarray:
    """Return what closing each lane would save.

    Per lane: truck cost saved minus shortage cost added if the lane's shipments were dropped
    (each lane on its own, other moves kept). Positive means closing the lane looks better.
    """
    p = problem
    arcs = np.flatnonzero(quantity > 0)
    sent, received = position_moves(p, network, quantity)
    after = p.stock - sent + received
    receiver = network.arc_position[arcs]
    mean, var = p.demand_mean[receiver], np.maximum(p.demand_variance[receiver], 1e-9)
    loss = p.sku_margin[p.position_sku[receiver]] * (
        expected_shortage(after[receiver] - quantity[arcs], mean, var,
                          distribution=p.distribution)
        - expected_shortage(after[receiver], mean, var, distribution=p.distribution))
    loss -= quantity[arcs] * network.arc_cost[arcs]
    lane_loss = np.bincount(network.arc_lane[arcs], weights=loss, minlength=len(p.lane_from))
    trucks = np.ceil(lane_volumes(p, network, quantity) / p.lane_litres_per_load - 1e-9)
    return np.where(trucks > 0, trucks * p.lane_shipment_cost - lane_loss, -np.inf)


OPENING_CASES = 4
""":func:`lane_opening_gains` tries shipments of 1 to this many cases (units for store
transfers) on each SKU of a lane."""


def lane_opening_gains(problem: AllocationProblem, network: FlowNetwork, segments: SegmentTable,
                       quantity: np.ndarray) -> np.ndarray:
    """Per lane the plan does not use: what opening it alone would gain, minus its truck.

    For each SKU of the lane, the best of shipping 1 to ``OPENING_CASES`` cases (whole units,
    at least the minimum lot, for store transfers) that the sender has left: the receiver's
    shortage saved minus the sender's own shortage added (both at their levels after the plan)
    and the units' cost. A lane's gain is the sum over its SKUs minus one truck. Positive means
    opening it looks better; lanes the plan uses get ``-inf``. The counterpart of
    :func:`lane_closing_savings`, so a plan can grow its lane set as well as shrink it.

    Parameters
    ----------
    problem, network
        The week's problem and its flow network.
    segments
        :func:`optimizer.allocation.model.segment_table` of ``network``.
    quantity
        A feasible plan (units per arc of ``network``).
    """
    p = problem
    sent, received = position_moves(p, network, quantity)
    level = p.stock - sent + received - network.position_base_level
    spare = p.shippable - sent
    used = lane_volumes(p, network, quantity) > 0
    arcs = np.flatnonzero(network.arc_kind == ARC_LANE)
    arcs = arcs[~used[network.arc_lane[arcs]]]
    lane, sender, from_warehouse, case = lane_arc_terms(p, network, arcs)
    receiver = network.arc_position[arcs]
    first = np.where(from_warehouse, case, max(int(p.min_transfer_units), 1))
    useful = (spare[sender] >= first) & (level[receiver] < segments.count[receiver])
    arcs, lane, sender, receiver = arcs[useful], lane[useful], sender[useful], receiver[useful]
    case, first = case[useful], first[useful]
    best = np.zeros(len(arcs))
    for extra in range(OPENING_CASES):
        units = first + extra * case
        gain = (segments.saving_between(receiver, level[receiver], level[receiver] + units)
                - segments.saving_between(sender, level[sender] - units, level[sender])
                - units * network.arc_cost[arcs])
        best = np.where(units <= np.minimum(spare[sender], network.arc_capacity[arcs]),
                        np.maximum(best, gain), best)
    gains = np.bincount(lane, weights=best, minlength=len(p.lane_from)) - p.lane_shipment_cost
    return np.where(used, -np.inf, gains)
