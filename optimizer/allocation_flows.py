"""Per-SKU min-cost flows (OR-Tools) and the repair that makes a flow a feasible weekly plan."""

from __future__ import annotations

import time

import numpy as np

from optimizer.allocation_model import ARC_LANE, AllocationProblem, FlowNetwork
from optimizer.errors import SolverError
from optimizer.safety_stock import expected_shortage

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
    from ortools.graph.python import min_cost_flow

    flows = np.zeros(len(arc_cost), dtype=np.int64)
    scaled = np.round(arc_cost * COST_SCALE).astype(np.int64)
    capacity = network.arc_capacity if capacity is None else capacity
    total = 0.0
    for sku in range(len(network.arc_start) - 1):
        first, last = network.arc_start[sku], network.arc_start[sku + 1]
        if first == last:
            continue
        node_first, node_last = network.node_start[sku], network.node_start[sku + 1]
        solver = min_cost_flow.SimpleMinCostFlow()
        kept = first + np.flatnonzero(capacity[first:last] > 0)
        arcs = solver.add_arcs_with_capacity_and_unit_cost(
            network.arc_tail[kept] - node_first, network.arc_head[kept] - node_first,
            capacity[kept], scaled[kept])
        solver.set_nodes_supplies(np.arange(node_last - node_first),
                                  network.node_supply[node_first:node_last])
        status = solver.solve()
        if status != solver.OPTIMAL:
            raise SolverError(f"min-cost flow of SKU index {sku} ended with status {status}; the "
                              "stock balance of this SKU is inconsistent.")
        flows[kept] = solver.flows(arcs)
        total += solver.optimal_cost() / COST_SCALE
    shipped = float(network.node_supply[network.node_supply > 0].sum())
    return flows, total - shipped / COST_SCALE


def repair_plan(problem: AllocationProblem, network: FlowNetwork,
                flows: np.ndarray) -> np.ndarray:
    """Turn arc flows into lane quantities that meet every side constraint.

    Steps: drop store transfers below the minimum lot; round warehouse shipments to whole cases
    (half up when the warehouse has the units, down otherwise); scale down warehouses over
    their weekly throughput; scale down cross-region shipments over the allowed share. Units not
    shipped stay where they are, so stock balances hold by construction.

    Returns
    -------
    numpy.ndarray
        Quantity per lane arc of ``network`` (zeros elsewhere).
    """
    p = problem
    lane_arc = network.arc_kind == ARC_LANE
    quantity = np.where(lane_arc, flows, 0).astype(np.int64)
    arcs = np.flatnonzero(lane_arc)
    lane = network.arc_lane[arcs]
    sender = network.extra["sender_of_lane_arc"][arcs]
    from_warehouse = p.is_warehouse[p.lane_from[lane]]
    case = np.where(from_warehouse, p.sku_case_size[network.arc_sku[arcs]], 1)
    q = quantity[arcs]
    if p.min_transfer_units > 1:
        q = np.where(~from_warehouse & (q < p.min_transfer_units), 0, q)
    q = _round_cases(p, network, arcs, sender, case, q)
    q = _cap_warehouse_throughput(p, lane, from_warehouse, case, q)
    if p.max_cross_region_share is not None:
        q = _cap_cross_region(p, lane, from_warehouse, case, q)
    quantity[arcs] = q
    return quantity


def _round_cases(p: AllocationProblem, network: FlowNetwork, arcs: np.ndarray,
                 sender: np.ndarray, case: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Round each shipment to whole cases: down, then up where the extra units save more than
    they cost, best saving per unit first, as far as the sender's shippable stock allows."""
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
    ) - extra[part] * p.lane_unit_cost[network.arc_lane[arcs[part]]]
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


def _cap_warehouse_throughput(p: AllocationProblem, lane: np.ndarray, from_warehouse: np.ndarray,
                              case: np.ndarray, q: np.ndarray) -> np.ndarray:
    origin = p.lane_from[lane]
    out = np.bincount(origin, weights=q, minlength=len(p.location_ids))
    factor = np.where(out > p.weekly_throughput, p.weekly_throughput / np.maximum(out, 1), 1.0)
    scaled = np.floor(q * factor[origin] / case).astype(np.int64) * case
    return np.where(from_warehouse, scaled, q)


def _cap_cross_region(p: AllocationProblem, lane: np.ndarray, from_warehouse: np.ndarray,
                      case: np.ndarray, q: np.ndarray) -> np.ndarray:
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
    quantile, flat above it), so it is comparable with the bound.
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
    unit_cost = float((quantity[arcs] * p.lane_unit_cost[network.arc_lane[arcs]]).sum())
    trucks = np.ceil(lane_volumes(p, network, quantity) / p.truck_capacity - 1e-9)
    shipment_cost = float((trucks * p.lane_shipment_cost).sum())
    shortage_cost = float((p.sku_margin[p.position_sku] * shortage).sum())
    return {"shortage_cost": shortage_cost, "unit_cost": unit_cost,
            "shipment_cost": shipment_cost, "trucks": float(trucks.sum()),
            "objective": shortage_cost + unit_cost + shipment_cost}


def lane_closing_savings(problem: AllocationProblem, network: FlowNetwork,
                         quantity: np.ndarray) -> np.ndarray:
    """Per lane: truck cost saved minus shortage cost added if the lane's shipments were dropped
    (each lane on its own, other moves kept). Positive means closing the lane looks better."""
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
    loss -= quantity[arcs] * p.lane_unit_cost[network.arc_lane[arcs]]
    lane_loss = np.bincount(network.arc_lane[arcs], weights=loss, minlength=len(p.lane_from))
    trucks = np.ceil(lane_volumes(p, network, quantity) / p.truck_capacity - 1e-9)
    return np.where(trucks > 0, trucks * p.lane_shipment_cost - lane_loss, -np.inf)


def plan_on_lanes(problem: AllocationProblem, network: FlowNetwork, open_lanes: np.ndarray, *,
                  arc_cost: np.ndarray | None = None, rounds: int = 4,
                  deadline: float | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """A plan that ships only on ``open_lanes``, then closes lanes that do not pay their trucks.

    Each round solves every SKU's min-cost flow with the open lanes' trucks already paid (unit
    costs only), repairs it into a feasible plan (:func:`repair_plan`) and closes the lanes whose
    trucks cost more than their shipments save (:func:`lane_closing_savings`); the cheapest
    round's plan is returned.

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
    best_quantity, best_cost = None, None
    for _ in range(rounds):
        flows, _ = solve_sku_flows(network, arc_cost, capacity)
        quantity = repair_plan(problem, network, flows)
        cost = plan_cost(problem, network, quantity)
        if best_cost is None or cost["objective"] < best_cost["objective"]:
            best_quantity, best_cost = quantity, cost
        closing = lane_closing_savings(problem, network, quantity) > 0
        if not closing.any() or (deadline is not None and time.perf_counter() > deadline):
            break
        capacity[lane_arc & closing[np.maximum(network.arc_lane, 0)]] = 0
    return best_quantity, best_cost
