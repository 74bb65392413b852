"""The monolithic weekly-allocation MIP in HiGHS: every SKU, truck, case and lot at once.

It states the formulation of :mod:`optimizer.allocation.solve` over the same per-SKU flow network
(:func:`optimizer.allocation.model.build_network`): one variable per arc (warehouse lane arcs
count whole cases), one integer count of trucks or parcels per lane that pays per load (none on
scheduled routes), a volume row per capped lane, one on/off variable per store lane arc
when a minimum lot applies. Built as one sparse matrix; meant for small instances, for checking
the decomposition and for the benchmark.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError
from ..results import SolveReport, SolveStatus, relative_gap
from .model import (
    ARC_KEEP,
    ARC_LANE,
    ARC_OVERFLOW,
    ARC_SEGMENT,
    AllocationProblem,
    FlowNetwork,
)


def solve_monolithic(problem: AllocationProblem, network: FlowNetwork, *, mip_gap: float = 0.01,
                     time_limit: float = 300.0, relax: bool = False, strong: bool = True,
                     start: np.ndarray | None = None) -> tuple[np.ndarray, SolveReport]:
    """Solve the whole week as one MIP (or its LP relaxation with ``relax=True``).

    ``strong`` adds, per lane arc that pays per load, ``units <= upper bound x loads`` (the
    strong formulation of the fixed charge; the LP bound of the volume row alone is far lower
    where a lane carries a fraction of a truck or parcel). ``start`` (units per arc, a feasible
    plan) is given to HiGHS as its first incumbent.

    Returns
    -------
    (quantity, report)
        Units per arc of ``network`` (lane arcs carry the shipments) and the solve report.
    """
    import highspy

    p = problem
    n_arcs = len(network.arc_cost)
    lane_arc = network.arc_kind == ARC_LANE
    from_warehouse = np.zeros(n_arcs, dtype=bool)
    from_warehouse[lane_arc] = p.is_warehouse[p.lane_from[network.arc_lane[lane_arc]]]
    scale = np.where(from_warehouse, p.sku_case_size[network.arc_sku], 1).astype(float)
    upper = np.where(network.arc_kind == ARC_SEGMENT, 1.0,
                     np.floor(network.arc_capacity / scale)).astype(float)

    # One integer load count (trucks or parcels) per lane that pays per load; scheduled routes
    # pay none, so their lanes get no count.
    lane_arcs = np.flatnonzero(lane_arc)
    paid = p.lane_shipment_cost[network.arc_lane[lane_arcs]] > 0
    used_lanes, lane_of_arc = np.unique(network.arc_lane[lane_arcs[paid]], return_inverse=True)
    n_trucks = len(used_lanes)
    lot = p.min_transfer_units
    lot_arcs = np.flatnonzero(lane_arc & ~from_warehouse) if lot > 1 else np.empty(0, np.int64)
    n_cols = n_arcs + n_trucks + len(lot_arcs)
    truck_col = n_arcs + np.arange(n_trucks)
    lot_col = n_arcs + n_trucks + np.arange(len(lot_arcs))

    rows, cols, values, lower, upper_row = [], [], [], [], []
    n_nodes = int(network.node_start[-1])
    arc_index = np.arange(n_arcs)
    rows += [network.arc_tail, network.arc_head]
    cols += [arc_index, arc_index]
    values += [scale, -scale]
    lower.append(network.node_supply.astype(float))
    upper_row.append(network.node_supply.astype(float))
    next_row = n_nodes

    litres = p.sku_volume[network.arc_sku[lane_arcs]] * scale[lane_arcs]
    rows += [next_row + lane_of_arc, next_row + np.arange(n_trucks)]
    cols += [lane_arcs[paid], truck_col]
    values += [litres[paid], -p.lane_litres_per_load[used_lanes]]
    lower.append(np.full(n_trucks, -np.inf))
    upper_row.append(np.zeros(n_trucks))
    next_row += n_trucks

    # Strong linking: a lane arc carries at most its upper bound per load of its lane (its
    # parcel or truck must be there at all), which the volume row alone leaves fractional.
    if strong and n_trucks:
        paid_arcs = lane_arcs[paid]
        k = len(paid_arcs)
        rows += [next_row + np.arange(k), next_row + np.arange(k)]
        cols += [paid_arcs, truck_col[lane_of_arc]]
        values += [np.ones(k), -upper[paid_arcs]]
        lower.append(np.full(k, -np.inf))
        upper_row.append(np.zeros(k))
        next_row += k

    capped_lane = np.isfinite(p.lane_litre_cap[network.arc_lane[lane_arcs]])
    if capped_lane.any():
        cap_lanes, which = np.unique(network.arc_lane[lane_arcs[capped_lane]],
                                     return_inverse=True)
        rows.append(next_row + which)
        cols.append(lane_arcs[capped_lane])
        values.append(litres[capped_lane])
        lower.append(np.full(len(cap_lanes), -np.inf))
        upper_row.append(p.lane_litre_cap[cap_lanes])
        next_row += len(cap_lanes)

    origin = p.lane_from[network.arc_lane[lane_arcs]]
    capped = np.isfinite(p.weekly_throughput[origin])
    if capped.any():
        warehouses, which = np.unique(origin[capped], return_inverse=True)
        rows.append(next_row + which)
        cols.append(lane_arcs[capped])
        values.append(scale[lane_arcs[capped]])
        lower.append(np.full(len(warehouses), -np.inf))
        upper_row.append(p.weekly_throughput[warehouses])
        next_row += len(warehouses)

    if p.max_cross_region_share is not None and lane_arcs.size:
        cross = p.lane_is_cross_region[network.arc_lane[lane_arcs]].astype(float)
        rows.append(np.full(len(lane_arcs), next_row))
        cols.append(lane_arcs)
        values.append((cross - p.max_cross_region_share) * scale[lane_arcs])
        lower.append(np.array([-np.inf]))
        upper_row.append(np.array([0.0]))
        next_row += 1

    if lot_arcs.size:
        k = len(lot_arcs)
        rows += [next_row + np.arange(k), next_row + np.arange(k),
                 next_row + k + np.arange(k), next_row + k + np.arange(k)]
        cols += [lot_arcs, lot_col, lot_arcs, lot_col]
        values += [np.ones(k), np.full(k, -float(lot)), np.ones(k), -upper[lot_arcs]]
        lower += [np.zeros(k), np.full(k, -np.inf)]
        upper_row += [np.full(k, np.inf), np.zeros(k)]
        next_row += 2 * k

    matrix = sp.csc_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(next_row, n_cols))
    truck_upper = np.ceil(np.bincount(lane_of_arc, weights=litres[paid] * upper[lane_arcs[paid]],
                                      minlength=n_trucks) / p.lane_litres_per_load[used_lanes])
    col_cost = np.concatenate([network.arc_cost * scale,
                               p.lane_shipment_cost[used_lanes], np.zeros(len(lot_arcs))])
    col_upper = np.concatenate([upper, truck_upper, np.ones(len(lot_arcs))])

    integer = np.zeros(n_cols, dtype=bool)
    if not relax:
        integer[lane_arcs] = True
        integer[n_arcs:] = True
    initial = (None if start is None or relax else
               _start_columns(p, network, start, scale, used_lanes, lot_arcs, n_cols))
    solver, elapsed = run_highs(col_cost, col_upper, matrix, np.concatenate(lower),
                                np.concatenate(upper_row), integer, offset=network.baseline,
                                time_limit=time_limit, mip_gap=mip_gap, start=initial)
    status = solver.getModelStatus()
    info = solver.getInfo()
    has_solution = info.primal_solution_status == 2
    if not has_solution:
        text = solver.modelStatusToString(status)
        if "nfeasible" in text:
            report = SolveReport("infeasible", None, None, None, elapsed, "highs", text)
            return np.zeros(n_arcs, dtype=np.int64), report
        raise SolverError(f"HiGHS stopped without a plan: {text}.")
    solution = np.asarray(solver.getSolution().col_value)
    quantity = np.where(lane_arc, np.round(solution[:n_arcs]) * scale, 0).astype(np.int64)
    objective = float(info.objective_function_value)
    label: SolveStatus
    if relax:
        bound, label = objective, "optimal"
    else:
        bound = float(info.mip_dual_bound)
        proven = status == highspy.HighsModelStatus.kOptimal
        label = "optimal" if proven else "feasible"
    report = SolveReport(status=label, objective=objective, bound=bound,
                         gap=relative_gap(objective, bound) if not relax else 0.0,
                         solve_seconds=elapsed, solver="highs",
                         message=f"HiGHS: {solver.modelStatusToString(status)}; "
                                 f"{n_cols} columns, {next_row} rows")
    return quantity, report


def run_highs(col_cost: np.ndarray, col_upper: np.ndarray, matrix: sp.csc_matrix,
              row_lower: np.ndarray, row_upper: np.ndarray, integer: np.ndarray, *,
              offset: float, time_limit: float, mip_gap: float,
              start: np.ndarray | None = None,
              col_lower: np.ndarray | None = None) -> tuple[Any, float]:
    """Solve ``min cost x + offset`` s.t. ``row_lower <= matrix x <= row_upper``, ``lower <= x <= upper``.

    Columns flagged in ``integer`` are integer (none: a linear program); ``start`` (a value per
    column, a feasible point) is HiGHS's first incumbent; ``col_lower`` defaults to 0.

    Returns
    -------
    (solver, seconds)
        The ``highspy.Highs`` object after its run (read its status, info and solution) and
        the seconds the run took.
    """
    import highspy

    n_rows, n_cols = matrix.shape
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, n_rows
    lp.col_cost_ = col_cost
    lp.col_lower_ = np.zeros(n_cols) if col_lower is None else col_lower
    lp.col_upper_ = col_upper
    lp.row_lower_ = row_lower
    lp.row_upper_ = row_upper
    lp.offset_ = offset
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    if integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
                           for flag in integer]
    solver = highspy.Highs()
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("time_limit", float(max(time_limit, 0.01)))
    solver.setOptionValue("mip_rel_gap", float(mip_gap))
    # No "threads" option, as in optimizer.solvers: HiGHS keeps one thread pool per process and
    # refuses a run whose count differs from it (e.g. after a site-selection MIP).
    solver.passModel(lp)
    if start is not None and integer.any():
        solution = highspy.HighsSolution()
        solution.col_value = list(start)
        solver.setSolution(solution)
    started = time.perf_counter()
    solver.run()
    return solver, time.perf_counter() - started


def arc_flows(p: AllocationProblem, network: FlowNetwork, quantity: np.ndarray) -> np.ndarray:
    """Return the units on every arc of ``network`` that lane quantities ``quantity`` imply.

    Lane arcs carry ``quantity``; keep arcs what each sender does not ship; segments the units
    above each position's base level, cheapest first; overflow arcs the rest, so every node
    balances.
    """
    from .flows import position_moves

    sent, received = position_moves(p, network, quantity)
    values = np.where(network.arc_kind == ARC_LANE, quantity, 0).astype(float)
    kinds = network.arc_kind
    keep = np.flatnonzero(kinds == ARC_KEEP)
    values[keep] = p.shippable[network.arc_position[keep]] - sent[network.arc_position[keep]]
    level = p.stock - sent + received - network.position_base_level
    level = np.maximum(level, 0)
    segment = np.flatnonzero(kinds == ARC_SEGMENT)
    order = segment[np.lexsort((network.arc_cost[segment], network.arc_position[segment]))]
    position = network.arc_position[order]
    rank = np.arange(len(order)) - np.searchsorted(position, position, side="left")
    values[order] = (rank < level[position]).astype(float)
    overflow = np.flatnonzero(kinds == ARC_OVERFLOW)
    filled = np.bincount(position, weights=values[order], minlength=len(p.stock))
    values[overflow] = np.maximum(level[network.arc_position[overflow]]
                                  - filled[network.arc_position[overflow]], 0)
    return values


def _start_columns(p: AllocationProblem, network: FlowNetwork, quantity: np.ndarray,
                   scale: np.ndarray, used_lanes: np.ndarray, lot_arcs: np.ndarray,
                   n_cols: int) -> np.ndarray:
    """Return a plan (units per arc) as a full column vector of the model.

    Lane arcs in cases, the keep, segment and overflow arcs the flow balance implies
    (:func:`arc_flows`), loads and lot flags.
    """
    from .flows import lane_volumes

    values = np.zeros(n_cols)
    values[:len(quantity)] = arc_flows(p, network, quantity) / scale
    loads = np.ceil(lane_volumes(p, network, quantity) / p.lane_litres_per_load - 1e-9)
    n_arcs = len(quantity)
    values[n_arcs:n_arcs + len(used_lanes)] = loads[used_lanes]
    values[n_arcs + len(used_lanes):] = (quantity[lot_arcs] > 0).astype(float)
    return values
