r"""The lane dual started from the linear relaxation's flows, and the bound it lifts to.

The min-cost flows of :mod:`optimizer.allocation.flow_relaxation` are optimal for their linear
program, so node potentials exist under which no arc of the residual network has a negative
reduced cost. Bellman-Ford from every node at once (a root joined to each node at cost 0) finds
them, in the flows' integral costs so that no rounding leaves a negative cycle. Read per SKU
against its sink, the potential of a position's keep node is the worth :math:`v_q` of one more
unit there, and that of its avail node the worth :math:`a_p` of one unit of its surplus. In the
lane dual's terms (:mod:`optimizer.allocation.dual`) these are the linear program's prices:
cover :math:`\lambda_j = (g_j - v_q)^+` on each segment, supply :math:`\mu_p = a_p^+`, with the
relaxation's throughput and cross-region prices. With every lane's load share at 1 the lane
dual is then worth the linear relaxation (545,130 on the realistic 500 x 200 week, HiGHS's
value for it). Lanes that the relaxation ships less than a load on get the share 0: they pay
their first parcel or truck whole. The volume algorithm (:func:`optimizer.allocation.dual.
improve_bound`) and the block steps per location (:func:`optimizer.allocation.blocks.
block_steps`) move the prices from there, and each lane pays its load only up to what its
segments are worth: on the same week 550,055 after 20 s (joint steps alone 548,491), where
the linear relaxation with the strong linking rows gives 546,938 in 42 s and the lane dual from
its own start 524,342 in 60 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .blocks import block_steps
from .dual import LaneDual, Prices, VolumeState, improve_bound, lane_dual, start_volume
from .flow_relaxation import FlowRelaxation
from .flows import COST_SCALE, lane_volumes
from .model import ARC_LANE, AllocationProblem, FlowNetwork
from .search import BOUND_PHASES

MOST_SWEEPS = 300
"""Most Bellman-Ford sweeps for the potentials (the realistic weeks settle in 20-30); any
potentials give valid prices, so an unsettled run only starts the dual lower."""


@dataclass(frozen=True)
class LiftedBound:
    """The lane dual's best point from the relaxation's start.

    Attributes
    ----------
    bound
        Lower bound on the cost of every plan of the week (at least the start's).
    start_bound
        The lane dual's value at the prices read from the flows.
    state
        The volume algorithm's state at the end (best prices, their value and the lanes'
        open shares).
    steps
        Volume steps taken.
    seconds
        Time taken.
    """

    bound: float
    start_bound: float
    state: VolumeState
    steps: int
    seconds: float

    def summary(self) -> str:
        """Return one line for the solve report.

        Examples
        --------
        >>> LiftedBound(12.0, 10.0, None, 30, 2.5).summary()  # type: ignore[arg-type]
        "lane dual from the flows' prices 10 -> 12 in 30 steps, 2.5 s"
        """
        return (f"lane dual from the flows' prices {self.start_bound:,.0f} -> "
                f"{self.bound:,.0f} in {self.steps} steps, {self.seconds:.1f} s")


def node_potentials(network: FlowNetwork, cost: np.ndarray, capacity: np.ndarray,
                    flows: np.ndarray, *, most_sweeps: int = MOST_SWEEPS) -> np.ndarray:
    r"""Return node potentials for optimal ``flows``, each relative to its SKU's sink.

    The potential :math:`\pi_v` (cost units) makes ``cost + pi[tail] - pi[head] >= 0`` on
    every arc with room left and ``<= 0`` on every arc that carries flow, up to the flows'
    cost rounding; ``pi[sink] = 0`` per SKU.

    Examples
    --------
    >>> from optimizer.allocation.model import build_network, example_problem
    >>> from optimizer.allocation.flow_relaxation import flow_relaxation
    >>> problem = example_problem()
    >>> network = build_network(problem)
    >>> r = flow_relaxation(problem, network)
    >>> pi = node_potentials(network, r.arc_cost, r.capacity, r.flows)
    >>> bool(np.all(pi[network.node_start[1:] - 1] == 0))
    True
    """
    scaled = np.round(cost * COST_SCALE)
    room, used = flows < capacity, flows > 0
    tail = np.concatenate([network.arc_tail[room], network.arc_head[used]])
    head = np.concatenate([network.arc_head[room], network.arc_tail[used]])
    length = np.concatenate([scaled[room], -scaled[used]])
    order = np.argsort(head, kind="stable")
    tail, head, length = tail[order], head[order], length[order]
    distance = np.zeros(len(network.node_supply))
    if len(head):
        starts = np.flatnonzero(np.r_[True, head[1:] != head[:-1]])
        heads = head[starts]
        for _ in range(most_sweeps):
            reached = np.minimum.reduceat(distance[tail] + length, starts)
            better = reached < distance[heads]
            if not better.any():
                break
            distance[heads[better]] = reached[better]
    n_skus = len(network.node_start) - 1
    sku_of_node = np.repeat(np.arange(n_skus), np.diff(network.node_start))
    sink = network.node_start[1:] - 1
    return (distance - distance[sink][sku_of_node]) / COST_SCALE


def relaxation_prices(problem: AllocationProblem, network: FlowNetwork, dual: LaneDual,
                      relaxation: FlowRelaxation) -> Prices:
    """Return the lane dual's prices read from the relaxation's flows (see the module docstring).

    Each lane's load share is 1 where the relaxation ships at least a full load on it, else 0.
    """
    assert relaxation.arc_cost is not None and relaxation.capacity is not None
    potential = node_potentials(network, relaxation.arc_cost, relaxation.capacity,
                                relaxation.flows)
    worth_kept = potential[network.keep_node]
    worth_surplus = potential[network.avail_node]
    cover = np.clip(dual.saving - worth_kept[dual.segment_position], 0.0, dual.saving)
    supply = np.maximum(worth_surplus, 0.0)
    litres = lane_volumes(problem, network,
                          np.where(network.arc_kind == ARC_LANE, relaxation.flows, 0))
    load_share = (litres >= problem.lane_litres_per_load).astype(float)
    throughput = (relaxation.throughput_price if relaxation.throughput_price is not None
                  else np.zeros(len(dual.throughput)))
    return Prices(cover=cover, supply=supply, throughput=throughput.astype(float),
                  cross=relaxation.cross_price, load_share=load_share)


def lift_bound(problem: AllocationProblem, network: FlowNetwork, relaxation: FlowRelaxation,
               upper: float, *, deadline: float,
               stop: Callable[[], bool] | None = None,
               on_bound: Callable[[float], None] | None = None) -> LiftedBound:
    """Run the lane dual from the relaxation's prices towards the plan cost ``upper``.

    The steps cycle as in the decomposition's search (``BOUND_PHASES``): the volume
    algorithm's joint steps, then block steps per receiving and per sending location
    (:func:`optimizer.allocation.blocks.block_steps`), which let each location's prices move
    at their own pace: on the national week 3,813,288 -> 3,857,841 in 116 s, where joint steps
    alone stay below the relaxation's bound (3,811,598 after 120 s).

    Parameters
    ----------
    problem, network
        The week and its flow network.
    relaxation
        The week's linear relaxation (:func:`optimizer.allocation.flow_relaxation.
        flow_relaxation`).
    upper
        Cost of a plan of the week (the volume steps' target).
    deadline
        A :func:`time.perf_counter` reading after which no further step starts.
    stop
        Asked between phases; once it answers ``True`` the lift ends early with its best point
        (e.g. the plan search beside it has proven its plan with the bound shared).
    on_bound
        Receives the best bound after every step (e.g. to share it with the plan search).

    Returns
    -------
    LiftedBound
        Any prices give a valid bound; the best point found.
    """
    started = time.perf_counter()
    dual = lane_dual(problem, network)
    state = start_volume(dual, relaxation_prices(problem, network, dual, relaxation))
    start_bound = state.value.bound
    steps = 0

    def counted(bound: float) -> None:
        nonlocal steps
        steps += 1
        if on_bound is not None:
            on_bound(bound)

    while time.perf_counter() < deadline and state.value.bound < upper:
        before = state.value.bound
        for side, length in BOUND_PHASES:
            if stop is not None and stop():
                break
            if side == "joint":
                state = improve_bound(dual, state, upper, iterations=length, deadline=deadline,
                                      on_step=counted)
            else:
                state = block_steps(dual, state, upper, side=side, iterations=length,
                                    deadline=deadline, on_step=counted)
        if (state.value.bound <= before and state.step_factor < 1e-4) or (
                stop is not None and stop()):
            break
    return LiftedBound(bound=state.value.bound, start_bound=start_bound, state=state,
                       steps=steps, seconds=time.perf_counter() - started)
