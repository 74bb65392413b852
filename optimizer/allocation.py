r"""The weekly transfer and replenishment plan: decomposition by SKU with a proven bound.

Formulation (per SKU :math:`k`, lane :math:`\ell`, position :math:`p` = location x SKU):

.. math::

    \min\; & \sum_p m_k\, ES_p(y_p) + \sum_{\ell,k} c_\ell x_{\ell k} + \sum_\ell F_\ell n_\ell \\
    \text{s.t.}\; & y_p = s_p - \sum_{\ell \in out(p)} x_{\ell k} + \sum_{\ell \in in(p)} x_{\ell k}
        && (1)\ \text{stock balance} \\
    & \sum_{\ell \in out(p)} x_{\ell k} \le s_p - r_p && (2)\ \text{reserve stays} \\
    & \sum_k v_k x_{\ell k} \le C\, n_\ell,\; n_\ell \in \mathbb{Z}_{\ge 0} && (3)\ \text{trucks} \\
    & x_{\ell k} \in a_k \mathbb{Z}_{\ge 0} \text{ for warehouse lanes} && (4)\ \text{whole cases} \\
    & x_{\ell k} = 0 \text{ or } x_{\ell k} \ge u \text{ for store lanes} && (5)\ \text{minimum lot} \\
    & \sum_{\ell \in out(w), k} x_{\ell k} \le T_w && (6)\ \text{warehouse throughput} \\
    & \sum_{\ell\, cross} x_{\ell k} \le \rho \sum_{\ell} x_{\ell k} && (7)\ \text{cross-region share}

with :math:`ES_p` the expected units short next week (convex, piecewise linear at whole units)
and :math:`m_k` the margin lost per unit short. Lanes exist only within the warehouse service
radius or the week's lead time.

Only (3), (6) and (7) couple SKUs. The bound dualises (6)-(7) with prices :math:`\lambda \ge 0`
and splits each lane's loads from the flows (:math:`y_{\ell k} = x_{\ell k}` with multipliers
:math:`\pi`), leaving one min-cost flow per SKU plus one small problem per lane with whole
trucks (a fractional knapsack for each truck count); (4)-(5) are relaxed. Every multiplier
vector gives a valid lower bound; the first passes take :math:`\pi` from the strengthened LP
links (:math:`n_\ell \ge x_{\ell k} / \min(\text{units available}, C / v_k)` mixed with the
volume link), later passes improve all multipliers by subgradient steps. Plans come from the same flows, repaired to meet
(3)-(7) exactly, then improved by slope scaling (each lane's truck cost re-linearised at its
current load). The report's bound is the best dual value, the objective the best repaired plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from optimizer.allocation_flows import (
    lane_closing_savings,
    lane_truck_subproblem,
    plan_cost,
    position_moves,
    repair_plan,
    solve_sku_flows,
)
from optimizer.allocation_model import ARC_LANE, AllocationProblem, FlowNetwork, build_network
from optimizer.results import SolveReport, relative_gap

Method = Literal["decomposition", "monolithic"]
WEIGHT_PASSES = 10
"""First passes price trucks by the strengthened LP links; later passes by Lagrange multipliers
of the lane subproblems with whole trucks."""
TRUCK_STEP = 1.0
"""Initial Polyak step scale of the truck multipliers (halved every five passes)."""


@dataclass(frozen=True)
class AllocationResult:
    """A solved weekly allocation.

    Attributes
    ----------
    shipments
        One row per lane and SKU shipped: ``from_id``, ``to_id``, ``sku``, ``quantity``,
        ``cases``, ``unit_cost``, ``lane`` (index), ``lead_time_days``.
    stock_after
        Stock per position after the moves (aligned with ``problem.stock``).
    costs
        ``shortage_cost``, ``unit_cost``, ``shipment_cost``, ``trucks``, ``objective``.
    report
        Status, objective, bound, gap and time.
    """

    shipments: pd.DataFrame
    stock_after: np.ndarray
    costs: dict
    report: SolveReport


def solve_allocation(problem: AllocationProblem, *, method: Method = "decomposition",
                     mip_gap: float = 0.01, time_limit: float = 300.0,
                     dual_iterations: int = 30, slope_iterations: int = 8,
                     network: FlowNetwork | None = None) -> AllocationResult:
    """Plan next week's transfers and replenishment.

    Parameters
    ----------
    problem
        The week's positions, lanes, SKUs and locations (:func:`problem_from_frames`).
    method
        ``"decomposition"`` (per-SKU min-cost flows, Lagrangian bound, slope scaling) or
        ``"monolithic"`` (one MIP in HiGHS; small instances and benchmarks).
    mip_gap
        Relative gap under which the plan counts as optimal.
    time_limit
        Seconds; the best plan so far is returned when it runs out.
    dual_iterations, slope_iterations
        Iteration limits of the bound and of the plan improvement.

    Returns
    -------
    AllocationResult

    Examples
    --------
    >>> from optimizer.allocation_model import problem_from_frames
    >>> problem = problem_from_frames(
    ...     pd.DataFrame({"location_id": ["S1", "S2"], "sku": "A", "stock": [9, 0],
    ...                   "reserve": [3, 0], "demand_mean": [2.0, 4.0],
    ...                   "demand_variance": [2.0, 4.0]}),
    ...     pd.DataFrame({"location_id": ["S1", "S2"], "region": "north",
    ...                   "is_warehouse": False, "weekly_throughput": np.inf}),
    ...     pd.DataFrame({"sku": ["A"], "margin": [100.0], "volume": [1.0], "case_size": [1]}),
    ...     pd.DataFrame({"from_id": ["S1"], "to_id": ["S2"], "unit_cost": [1.0],
    ...                   "shipment_cost": [10.0], "lead_time_days": [1.0]}),
    ...     truck_capacity=1000.0)
    >>> result = solve_allocation(problem)
    >>> result.report.status, int(result.shipments["quantity"].sum()) > 0
    ('optimal', True)
    """
    started = time.perf_counter()
    network = build_network(problem) if network is None else network
    if method == "monolithic":
        from optimizer.allocation_mip import solve_monolithic

        quantity, report = solve_monolithic(problem, network, mip_gap=mip_gap,
                                            time_limit=time_limit)
        return _result(problem, network, quantity, report)
    return _decompose(problem, network, mip_gap=mip_gap, time_limit=time_limit,
                      dual_iterations=dual_iterations, slope_iterations=slope_iterations,
                      started=started)


def _decompose(problem: AllocationProblem, network: FlowNetwork, *, mip_gap: float,
               time_limit: float, dual_iterations: int, slope_iterations: int,
               started: float) -> AllocationResult:
    p = problem
    lane_arcs = np.flatnonzero(network.arc_kind == ARC_LANE)
    lane = network.arc_lane[lane_arcs]
    volume = p.sku_volume[network.arc_sku[lane_arcs]]
    origin = p.lane_from[lane]
    capped = np.flatnonzero(np.isfinite(p.weekly_throughput))
    cross = p.lane_is_cross_region[lane].astype(float)
    share = p.max_cross_region_share
    fixed = p.lane_shipment_cost[lane]
    # A lane arc carrying x > 0 units needs n >= x / most_per_truck trucks, and every lane needs
    # n >= litres / capacity: any convex mix of these valid lower bounds on n prices trucks
    # per unit and keeps the SKUs separate (weights: aggregate_weight per lane, arc_weight).
    most_per_truck = np.maximum(np.minimum(network.arc_capacity[lane_arcs],
                                           p.truck_capacity / volume), 1e-9)
    arcs_per_lane = np.bincount(lane, minlength=len(p.lane_from))
    aggregate_weight = 1.0 / (arcs_per_lane + 1.0)
    arc_weight = aggregate_weight[lane].copy()

    prices = np.zeros(len(p.location_ids))
    cross_price = 0.0
    best_bound, best_plan, best_cost = -np.inf, None, None
    iterations = 0
    step_scale = 1.0

    def arc_costs(per_unit_truck: np.ndarray) -> np.ndarray:
        cost = network.arc_cost.copy()
        cost[lane_arcs] += per_unit_truck + prices[origin]
        if share is not None:
            cost[lane_arcs] += cross_price * (cross - share)
        return cost

    def consider(flows: np.ndarray) -> np.ndarray:
        nonlocal best_plan, best_cost
        quantity = repair_plan(p, network, flows)
        cost = plan_cost(p, network, quantity)
        if best_cost is None or cost["objective"] < best_cost["objective"]:
            best_plan, best_cost = quantity, cost
        return quantity

    has_trucks = bool(np.any(fixed > 0))
    truck_price: np.ndarray | None = None
    truck_step = TRUCK_STEP
    coupled = capped.size > 0 or share is not None or has_trucks
    for iteration in range(max(1, dual_iterations if coupled else 1)):
        iterations += 1
        if iteration < WEIGHT_PASSES or truck_price is None:
            truck_price = fixed * (aggregate_weight[lane] * volume / p.truck_capacity
                                   + arc_weight / most_per_truck)
        flows, flow_cost = solve_sku_flows(network, arc_costs(truck_price))
        lanes_value, lanes_load = lane_truck_subproblem(
            truck_price, lane, volume, network.arc_capacity[lane_arcs].astype(float),
            p.lane_shipment_cost, p.truck_capacity)
        bound = network.baseline + flow_cost + lanes_value - float(
            (prices[capped] * p.weekly_throughput[capped]).sum())
        best_bound = max(best_bound, bound)
        consider(flows)
        if not coupled or _gap(best_cost, best_bound) <= mip_gap:
            break
        if time.perf_counter() - started > time_limit / 2:
            break
        shipped = flows[lane_arcs].astype(float)
        if iteration >= WEIGHT_PASSES - 1 and has_trucks:
            # Lagrangian prices of "lane loads = flows": a subgradient step per lane arc.
            difference = shipped - lanes_load
            norm_trucks = float((difference**2).sum())
            if norm_trucks > 0:
                step = truck_step * max(best_cost["objective"] - bound, 0.0) / norm_trucks
                truck_price = truck_price + step * difference
            if iteration % 5 == 4:
                truck_step /= 2
        # Truck weights: move half the weight to the term that binds in this flow.
        by_arc = shipped / most_per_truck
        by_lane = np.bincount(lane, weights=shipped * volume,
                              minlength=len(p.lane_from)) / p.truck_capacity
        top_arc = np.zeros(len(p.lane_from))
        np.maximum.at(top_arc, lane, by_arc)
        used = (by_lane > 0) | (top_arc > 0)
        aggregate_wins = by_lane >= top_arc
        winner = (by_arc >= top_arc[lane]) & ~aggregate_wins[lane] & used[lane] & (by_arc > 0)
        first_winner = np.zeros(len(lane_arcs), dtype=bool)
        winner_index = np.flatnonzero(winner)
        _, first = np.unique(lane[winner_index], return_index=True)
        first_winner[winner_index[first]] = True
        aggregate_weight = np.where(used, 0.5 * aggregate_weight + 0.5 * aggregate_wins,
                                    aggregate_weight)
        arc_weight = np.where(used[lane], 0.5 * arc_weight + 0.5 * first_winner, arc_weight)
        # Prices of throughput and cross-region share: a subgradient step.
        out = np.bincount(origin, weights=shipped, minlength=len(prices))
        gradient = np.zeros(len(prices))
        gradient[capped] = out[capped] - p.weekly_throughput[capped]
        cross_gradient = float((shipped * (cross - share)).sum()) if share is not None else 0.0
        norm = float((gradient**2).sum() + cross_gradient**2)
        if norm > 0:
            step = step_scale * max(best_cost["objective"] - bound, 0.0) / norm
            prices = np.maximum(prices + step * gradient, 0.0)
            cross_price = max(cross_price + step * cross_gradient, 0.0)
        if iteration % 5 == 4:
            step_scale /= 2

    # Slope scaling: each lane's truck cost re-linearised at its load. Unused lanes start at a
    # full truck charged to the one SKU (pessimistic) and keep their last rate.
    arc_rate = fixed / most_per_truck
    load = _lane_litres(p, network, best_plan)
    for _ in range(slope_iterations):
        if _gap(best_cost, best_bound) <= mip_gap or time.perf_counter() - started > time_limit:
            break
        iterations += 1
        trucks = np.ceil(load / p.truck_capacity - 1e-9)
        per_litre = p.lane_shipment_cost * trucks / np.maximum(load, 1e-9)
        arc_rate = np.where(load[lane] > 0, per_litre[lane] * volume, arc_rate)
        flows, _ = solve_sku_flows(network, arc_costs(arc_rate))
        new_load = _lane_litres(p, network, consider(flows))
        if np.allclose(new_load, load):
            break
        load = new_load

    # Lane closing: drop lanes whose trucks cost more than their shipments save, re-route.
    closed = np.zeros(len(p.lane_from), dtype=bool)
    capacity = network.arc_capacity.copy()
    for _ in range(slope_iterations):
        if _gap(best_cost, best_bound) <= mip_gap or time.perf_counter() - started > time_limit:
            break
        newly = (lane_closing_savings(p, network, best_plan) > 0) & ~closed
        if not newly.any():
            break
        iterations += 1
        closed |= newly
        capacity[lane_arcs[closed[lane]]] = 0
        flows, _ = solve_sku_flows(network, arc_costs(arc_rate), capacity)
        consider(flows)

    elapsed = time.perf_counter() - started
    gap = _gap(best_cost, best_bound)
    status = "optimal" if gap <= mip_gap else "feasible"
    report = SolveReport(
        status=status, objective=best_cost["objective"], bound=best_bound, gap=gap,
        solve_seconds=elapsed, solver="ortools-min-cost-flow",
        message=(f"{iterations} flow passes over {len(p.sku_ids)} SKUs; bound from the "
                 "Lagrangian dual (per-SKU flows, lanes with whole trucks)"
                 + ("" if gap <= mip_gap else f"; gap {gap:.2%} above the requested "
                    f"{mip_gap:.2%}")))
    return _result(p, network, best_plan, report)


def _gap(cost: dict | None, bound: float) -> float:
    if cost is None:
        return np.inf
    gap = relative_gap(cost["objective"], bound)
    return np.inf if gap is None else max(gap, 0.0) if cost["objective"] >= bound else 0.0


def _lane_litres(p: AllocationProblem, network: FlowNetwork, quantity: np.ndarray) -> np.ndarray:
    arcs = np.flatnonzero(quantity > 0)
    return np.bincount(network.arc_lane[arcs],
                       weights=quantity[arcs] * p.sku_volume[network.arc_sku[arcs]],
                       minlength=len(p.lane_from))


def _result(p: AllocationProblem, network: FlowNetwork, quantity: np.ndarray,
            report: SolveReport) -> AllocationResult:
    sent, received = position_moves(p, network, quantity)
    arcs = np.flatnonzero(quantity > 0)
    lane = network.arc_lane[arcs]
    sku = network.arc_sku[arcs]
    units = quantity[arcs]
    case = p.sku_case_size[sku]
    shipments = pd.DataFrame({
        "from_id": p.location_ids[p.lane_from[lane]], "to_id": p.location_ids[p.lane_to[lane]],
        "sku": p.sku_ids[sku], "quantity": units.astype(np.int64),
        "cases": (units // case).astype(np.int64),
        "loose_units": (units % case).astype(np.int64),
        "unit_cost": p.lane_unit_cost[lane], "lane": lane,
        "lead_time_days": p.lane_lead_time_days[lane]})
    costs = plan_cost(p, network, quantity)
    return AllocationResult(shipments=shipments.sort_values(["from_id", "to_id", "sku"])
                            .reset_index(drop=True),
                            stock_after=p.stock - sent + received, costs=costs, report=report)
