r"""The exact whole-case polish of a finished plan: one small MIP per SKU on the plan's lanes.

A plan from the decomposition chooses whole cases SKU by SKU with the other half of the plan
held fixed (:mod:`optimizer.allocation.plans`), and a plan from HiGHS stops within its gap; both
can leave a SKU whose cases, units and transfers a direct MIP of that SKU alone would place
more cheaply. :func:`polish_plan` solves, SKU by SKU and with every other SKU's shipments
fixed, the exact MIP of that SKU (HiGHS):

.. math::

    \min\; & \sum_a c_a f_a + \sum_\ell F_\ell n_\ell \\
    \text{s.t.}\; & \text{the SKU's flow balance (stock, reserve, shortage segments)} \\
    & a_k x_a = f_a,\; x_a \in \mathbb{Z}_{\ge 0} && \text{whole cases from a warehouse} \\
    & \textstyle\sum_{a \in \ell} v_k f_a \le L_\ell n_\ell - V^{other}_\ell,\;
      n_\ell \in \mathbb{Z}_{\ge 0} && \text{parcels or trucks of the lane} \\
    & f_a \le u_a n_\ell && \text{strong linking} \\
    & \text{lane volume caps, warehouse throughput and the cross-region share, each less what
      the other SKUs use}

over the lanes the plan may use: every lane without a per-load charge (a scheduled route runs
anyway) and every paid lane the plan already uses (its own parcels and trucks; the lane's
load count is a variable, so a SKU may add a parcel or free one). Because the other SKUs stay
as they are, every SKU's MIP is exact for that SKU and its optimum is feasible for the whole
week; the plan's own shipments of the SKU are the MIP's first incumbent, and a SKU's new
shipments are taken only when they cost less, so the polished plan is never worse. SKUs are
taken in order of what they cost in the plan (most first), until the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .flows import plan_cost
from .mip import arc_flows, run_highs
from .model import ARC_KEEP, ARC_LANE, ARC_OVERFLOW, ARC_SEGMENT, AllocationProblem, FlowNetwork

ENOUGH_CHECK_SECONDS = 1.0
"""Least time between two checks of a polish's ``enough`` (each prices the whole plan)."""

BLOCK_GAP = 1e-6
"""Relative gap at which a block's MIP stops (the polish is exact per SKU up to this)."""


@dataclass(frozen=True)
class PolishResult:
    """What the polish did.

    Attributes
    ----------
    quantity
        The polished plan (units per arc of the network), never costlier than the plan given.
    objective_before, objective_after
        The plan's objective before and after (:func:`optimizer.allocation.flows.plan_cost`).
    blocks_solved, blocks_improved, blocks_total
        Block MIPs run and those that changed the block's shipments (over all sweeps), and the
        blocks (by default one per SKU with lane arcs).
    label
        What the blocks are, for :meth:`summary`.
    seconds
        Time taken.
    """

    quantity: np.ndarray
    objective_before: float
    objective_after: float
    blocks_solved: int
    blocks_improved: int
    blocks_total: int
    seconds: float
    label: str = "SKU"

    @property
    def saving(self) -> float:
        """Relative saving of the polish (0 when it found nothing)."""
        return 1.0 - self.objective_after / self.objective_before if self.objective_before else 0.0

    def summary(self) -> str:
        """One line for a solve report's message."""
        return (f"{self.label} MIPs: {self.blocks_improved} of {self.blocks_solved} run "
                f"({self.blocks_total} {self.label} blocks) cheaper, {self.saving:.2%} saved in "
                f"{self.seconds:.1f} s")


def polish_plan(problem: AllocationProblem, network: FlowNetwork, quantity: np.ndarray, *,
                deadline: float | None = None, passes: int = 2,
                blocks: list[np.ndarray] | None = None, new_lanes: bool = False,
                enough: Callable[[float], bool] | None = None) -> PolishResult:
    """Polish a feasible plan block by block with an exact MIP (see the module docstring).

    Parameters
    ----------
    problem, network
        The week's problem and its flow network.
    quantity
        A feasible plan: units per arc of ``network``.
    deadline
        A :func:`time.perf_counter` reading: no block's MIP runs past it (the blocks not
        reached keep the plan's shipments). ``None``: every block.
    passes
        Most sweeps over the blocks; a sweep after one that changed some block sees the
        capacities those blocks freed or took (the sweeps stop when one changes nothing).
    blocks
        The arcs each MIP may change (every other arc keeps its flow). Default: one block per
        SKU (its arcs), costliest SKU first; :func:`region_blocks` gives blocks of a region's
        stores.
    new_lanes
        Also let a block ship on paid lanes the plan does not use (opening a parcel or truck
        there); by default only on the plan's own lanes and on scheduled routes.
    enough
        Asked with the plan's cost before the first block, then at most once a second between
        blocks; ``True`` ends the polish: the plan is close enough to a bound found elsewhere.

    Returns
    -------
    PolishResult
    """
    started = time.perf_counter()
    p, net = problem, network
    plan = quantity.astype(np.int64).copy()
    before = plan_cost(p, net, plan)["objective"]
    flows = arc_flows(p, net, plan)
    usage = _Usage.of(p, net, plan)
    default_blocks = blocks is None
    if blocks is None:
        blocks = [np.arange(net.arc_start[k], net.arc_start[k + 1])
                  for k in _skus_by_cost(p, net, flows)]
    solved = improved = 0
    next_check, close_enough = started, False
    for _ in range(passes):
        changed = 0
        for rank, arcs in enumerate(blocks):
            now = time.perf_counter()
            left = (np.inf if deadline is None else deadline) - now
            if left <= 0.05:
                break
            if enough is not None and now >= next_check:
                next_check = now + ENOUGH_CHECK_SECONDS
                close_enough = enough(plan_cost(p, net, plan)["objective"])
                if close_enough:
                    break
            # A fair share of the time left for each block still to solve (four times it, as
            # most blocks take far less than their share).
            share = left if deadline is None else max(4 * left / (len(blocks) - rank), 0.5)
            new = _solve_block(p, net, plan, flows, usage, arcs, time_limit=min(share, left),
                               new_lanes=new_lanes)
            solved += 1
            if new is not None:
                usage.add(p, net, plan, arcs, sign=-1.0)
                plan[arcs] = new[0]
                flows[arcs] = new[1]
                usage.add(p, net, plan, arcs)
                changed += 1
        improved += changed
        if not changed or close_enough:
            break
    after = plan_cost(p, net, plan)["objective"]
    if after > before:  # cannot happen (each block is taken only when cheaper); kept as a guard
        plan, after = quantity.astype(np.int64).copy(), before
    return PolishResult(quantity=plan, objective_before=before, objective_after=after,
                        blocks_solved=solved, blocks_improved=improved,
                        blocks_total=len(blocks), seconds=time.perf_counter() - started,
                        label="SKU" if default_blocks else "region")


def region_blocks(problem: AllocationProblem, network: FlowNetwork, *,
                  max_arcs: int = 60_000) -> list[np.ndarray]:
    """Return blocks of arcs, one per region and group of SKUs, for :func:`polish_plan`.

    A region's block holds the lane arcs into its stores, the segment and overflow arcs of its
    store positions and the keep arcs of every sender of those lanes (so a warehouse serving
    several regions may move its stock between them, within what the other regions' fixed
    shipments leave). Store-to-store lanes never cross regions in the generated weeks; a lane
    that does simply belongs to its receiver's region. SKUs are split into groups so that a
    block has at most about ``max_arcs`` arcs (a MIP HiGHS improves in seconds).
    """
    p, net = problem, network
    n_skus = len(p.sku_ids)
    kind = net.arc_kind
    lane_arc = kind == ARC_LANE
    home = np.full(len(kind), -1, dtype=np.int64)
    regions, region_of_location = np.unique(p.location_region, return_inverse=True)
    position_region = region_of_location[p.position_location]
    store_position = ~p.is_warehouse[p.position_location]
    own = (kind == ARC_SEGMENT) | (kind == ARC_OVERFLOW)
    own &= store_position[net.arc_position]
    home[own] = position_region[net.arc_position[own]]
    home[lane_arc] = position_region[net.arc_position[lane_arc]]
    sender = net.extra["sender_of_lane_arc"]
    keep_arc_of = np.full(len(p.stock), -1, dtype=np.int64)
    keeps = np.flatnonzero(kind == ARC_KEEP)
    keep_arc_of[net.arc_position[keeps]] = keeps
    blocks: list[np.ndarray] = []
    for region in range(len(regions)):
        mine = home == region
        per_sku = np.bincount(net.arc_sku[mine], minlength=n_skus)
        group = np.cumsum(per_sku) // max(max_arcs, 1)
        for g in np.unique(group[per_sku > 0]):
            skus = np.flatnonzero((group == g) & (per_sku > 0))
            chosen = mine & np.isin(net.arc_sku, skus)
            senders = np.unique(sender[chosen & lane_arc])
            keep = keep_arc_of[senders]
            blocks.append(np.union1d(np.flatnonzero(chosen), keep[keep >= 0]))
    return blocks


@dataclass
class _Usage:
    """What a plan uses of every shared capacity.

    Litres per lane, units out of every location, and the cross-region share's row.
    """

    litres: np.ndarray
    out: np.ndarray
    cross_row: float

    @classmethod
    def of(cls, p: AllocationProblem, net: FlowNetwork, plan: np.ndarray) -> _Usage:
        usage = cls(np.zeros(len(p.lane_from)), np.zeros(len(p.location_ids)), 0.0)
        usage.add(p, net, plan, np.flatnonzero(plan > 0))
        return usage

    def add(self, p: AllocationProblem, net: FlowNetwork, plan: np.ndarray, arcs: np.ndarray,
            sign: float = 1.0) -> None:
        arcs = arcs[plan[arcs] > 0]
        lane, units = net.arc_lane[arcs], plan[arcs].astype(float)
        self.litres += sign * np.bincount(lane, weights=units * p.sku_volume[net.arc_sku[arcs]],
                                          minlength=len(p.lane_from))
        origin = p.lane_from[lane]
        self.out += sign * np.bincount(origin, weights=units, minlength=len(p.location_ids))
        if p.max_cross_region_share is not None:
            self.cross_row += sign * float(
                ((p.lane_is_cross_region[lane] - p.max_cross_region_share) * units).sum())


def _skus_by_cost(p: AllocationProblem, net: FlowNetwork, flows: np.ndarray) -> np.ndarray:
    """SKUs with lane arcs, costliest in the plan first (shortage left plus unit costs)."""
    cost = np.bincount(net.arc_sku, weights=net.arc_cost * flows, minlength=len(p.sku_ids))
    segments = net.arc_kind == ARC_SEGMENT
    # Shortage left: segment savings not taken (the segment arcs' costs are minus the savings).
    left = np.bincount(net.arc_sku[segments], weights=-net.arc_cost[segments]
                       * (1.0 - flows[segments]), minlength=len(p.sku_ids))
    has_lanes = np.bincount(net.arc_sku[net.arc_kind == ARC_LANE],
                            minlength=len(p.sku_ids)) > 0
    skus = np.flatnonzero(has_lanes)
    return skus[np.argsort(-(cost + left)[skus], kind="stable")]


def _solve_block(p: AllocationProblem, net: FlowNetwork, plan: np.ndarray, flows: np.ndarray,
                 usage: _Usage, arcs: np.ndarray, *, time_limit: float, new_lanes: bool,
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """Solve the MIP of the arcs ``arcs`` with every other arc fixed.

    Returns their new lane quantities and arc flows when they cost less than the plan's,
    ``None`` otherwise.
    """
    kind = net.arc_kind[arcs]
    lane_arc = kind == ARC_LANE
    lane = np.where(lane_arc, net.arc_lane[arcs], 0)
    sku = net.arc_sku[arcs]
    volume = p.sku_volume[sku]
    own = plan[arcs]
    own_litres = np.bincount(lane[lane_arc], weights=own[lane_arc] * volume[lane_arc],
                             minlength=len(p.lane_from))
    other_litres = np.maximum(usage.litres - own_litres, 0.0)
    paid_lane = p.lane_shipment_cost > 0
    # The plan's lanes: every lane without a per-load charge, and the paid lanes it uses.
    allowed = ~lane_arc | ~paid_lane[lane] | (usage.litres[lane] > 1e-9) | new_lanes
    from_warehouse = lane_arc & p.is_warehouse[p.lane_from[lane]]
    scale = np.where(from_warehouse, p.sku_case_size[sku], 1).astype(float)
    upper = np.where(kind == ARC_SEGMENT, 1.0, np.floor(net.arc_capacity[arcs] / scale))
    upper = np.where(allowed, upper, 0.0)
    n_arcs = len(arcs)

    # Flow balance on the nodes the block touches: the block's arcs carry what they carry now
    # out of each node, net (every other arc keeps its flow).
    nodes, ends = np.unique(np.concatenate([net.arc_tail[arcs], net.arc_head[arcs]]),
                            return_inverse=True)
    tail_row, head_row = ends[:n_arcs], ends[n_arcs:]
    current = flows[arcs]
    net_out = (np.bincount(tail_row, weights=current, minlength=len(nodes))
               - np.bincount(head_row, weights=current, minlength=len(nodes)))
    index = np.arange(n_arcs)
    rows: list[np.ndarray] = [tail_row, head_row]
    cols: list[np.ndarray] = [index, index]
    values: list[np.ndarray] = [scale, -scale]
    lower: list[np.ndarray] = [net_out]
    upper_row: list[np.ndarray] = [net_out.copy()]
    next_row = len(nodes)

    # Load counts of the paid lanes the block may use, at least what the other arcs need.
    paid_arc = np.flatnonzero(lane_arc & paid_lane[lane] & (upper > 0))
    loads, which = np.unique(lane[paid_arc], return_inverse=True)
    n_loads = len(loads)
    load_col = n_arcs + np.arange(n_loads)
    per_load = p.lane_litres_per_load[loads]
    litres = volume * scale
    rows += [next_row + which, next_row + np.arange(n_loads)]
    cols += [paid_arc, load_col]
    values += [litres[paid_arc], -per_load]
    lower.append(np.full(n_loads, -np.inf))
    upper_row.append(-other_litres[loads])
    next_row += n_loads
    # Strong linking: an arc carries at most its upper bound per load of its lane.
    rows += [next_row + np.arange(len(paid_arc)), next_row + np.arange(len(paid_arc))]
    cols += [paid_arc, load_col[which]]
    values += [np.ones(len(paid_arc)), -upper[paid_arc]]
    lower.append(np.full(len(paid_arc), -np.inf))
    upper_row.append(np.zeros(len(paid_arc)))
    next_row += len(paid_arc)
    load_low = np.ceil(other_litres[loads] / per_load - 1e-9)
    load_high = np.ceil((other_litres[loads] + np.bincount(
        which, weights=litres[paid_arc] * upper[paid_arc], minlength=n_loads)) / per_load)

    live = np.flatnonzero(lane_arc & (upper > 0))
    capped = live[np.isfinite(p.lane_litre_cap[lane[live]])]
    if capped.size:
        cap_lanes, at = np.unique(lane[capped], return_inverse=True)
        rows.append(next_row + at)
        cols.append(capped)
        values.append(litres[capped])
        lower.append(np.full(len(cap_lanes), -np.inf))
        upper_row.append(np.maximum(p.lane_litre_cap[cap_lanes] - other_litres[cap_lanes], 0))
        next_row += len(cap_lanes)
    origin = p.lane_from[lane]
    limited = live[np.isfinite(p.weekly_throughput[origin[live]])]
    if limited.size:
        warehouses, at = np.unique(origin[limited], return_inverse=True)
        own_out = np.bincount(origin[lane_arc], weights=own[lane_arc],
                              minlength=len(p.location_ids))[warehouses]
        rows.append(next_row + at)
        cols.append(limited)
        values.append(scale[limited])
        lower.append(np.full(len(warehouses), -np.inf))
        upper_row.append(np.maximum(p.weekly_throughput[warehouses]
                                    - (usage.out[warehouses] - own_out), 0))
        next_row += len(warehouses)
    if p.max_cross_region_share is not None and live.size:
        coefficient = np.zeros(n_arcs)
        coefficient[lane_arc] = (p.lane_is_cross_region[lane[lane_arc]]
                                 - p.max_cross_region_share)
        own_row = float((coefficient * own).sum())
        rows.append(np.full(len(live), next_row))
        cols.append(live)
        values.append(coefficient[live] * scale[live])
        lower.append(np.array([-np.inf]))
        upper_row.append(np.array([-(usage.cross_row - own_row) + 1e-9]))
        next_row += 1
    lot = p.min_transfer_units
    lot_arcs = live[~from_warehouse[live]] if lot > 1 else np.empty(0, np.int64)
    lot_col = n_arcs + n_loads + np.arange(len(lot_arcs))
    if lot_arcs.size:
        k = len(lot_arcs)
        rows += [next_row + np.arange(k), next_row + np.arange(k),
                 next_row + k + np.arange(k), next_row + k + np.arange(k)]
        cols += [lot_arcs, lot_col, lot_arcs, lot_col]
        values += [np.ones(k), np.full(k, -float(lot)), np.ones(k), -upper[lot_arcs]]
        lower += [np.zeros(k), np.full(k, -np.inf)]
        upper_row += [np.full(k, np.inf), np.zeros(k)]
        next_row += 2 * k

    n_cols = n_arcs + n_loads + len(lot_arcs)
    matrix = sp.csc_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(next_row, n_cols))
    col_cost = np.concatenate([net.arc_cost[arcs] * scale, p.lane_shipment_cost[loads],
                               np.zeros(len(lot_arcs))])
    col_lower = np.concatenate([np.zeros(n_arcs), load_low, np.zeros(len(lot_arcs))])
    col_upper = np.concatenate([upper, np.maximum(load_high, load_low), np.ones(len(lot_arcs))])
    integer = np.zeros(n_cols, dtype=bool)
    integer[live] = True
    integer[n_arcs:] = True
    start = np.concatenate([current / scale,
                            np.ceil((other_litres[loads] + own_litres[loads]) / per_load - 1e-9),
                            (own[lot_arcs] > 0).astype(float)])
    start_cost = float(col_cost @ start)
    solver, _ = run_highs(col_cost, col_upper, matrix, np.concatenate(lower),
                          np.concatenate(upper_row), integer, offset=0.0,
                          time_limit=time_limit, mip_gap=BLOCK_GAP, start=start,
                          col_lower=col_lower)
    if solver.getInfo().primal_solution_status != 2:
        return None
    solution = np.asarray(solver.getSolution().col_value)
    units = np.where(lane_arc, np.round(solution[:n_arcs]) * scale, 0).astype(np.int64)
    if np.array_equal(units, own):
        return None
    candidate = np.concatenate([np.where(lane_arc, units / scale, solution[:n_arcs]),
                                solution[n_arcs:]])
    if float(col_cost @ candidate) >= start_cost - 1e-7 * max(abs(start_cost), 1.0):
        return None
    return units, np.where(lane_arc, units, solution[:n_arcs] * scale)
