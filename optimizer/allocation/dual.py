r"""The lower bound of the weekly allocation: a Lagrangian dual with one small problem per lane.

The flow network of :mod:`optimizer.allocation.model` is read in a *disaggregated* form: every
unit segment :math:`j` of a receiving position (the :math:`t`-th unit above its reserve, worth a
saving :math:`g_j` of margin-weighted expected shortage) may be filled by the position's own
surplus or by one lane arc :math:`e` (lane :math:`\ell`, SKU :math:`k`) at the lane's unit cost
:math:`c_\ell`. Two families of constraints tie the lanes together and are priced:

* **cover** -- each segment is filled at most once, price :math:`\lambda_j \ge 0`;
* **supply** -- a sender ships at most its surplus, price :math:`\mu_p \ge 0`; warehouses also
  their weekly throughput (:math:`\nu_w \ge 0`), and the optional cross-region share
  (:math:`\kappa \ge 0`).

What is left splits into one exact problem per lane: open it (one truck, :math:`F_\ell`) or
not, and for each of its SKUs ship a whole number of cases filling the segments with the most
negative reduced cost :math:`c_\ell + \mu_p + \nu_w + \lambda_j - g_j`. A lane carries a truck only
if its SKUs' best values beat :math:`F_\ell`, which is what makes this bound strong where a
lane's fixed cost is large against its load: each segment pays a lane only up to its own
saving, as in the strong formulation of facility location. Relaxed: extra trucks above the first
(lanes here rarely fill one) and store transfers' minimum lot. Any prices give a valid bound;
:func:`improve_bound` raises it by the volume algorithm (Barahona and Anbil, 2000), a
subgradient method that averages directions and moves from the best point found.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .flows import lane_arc_terms
from .model import ARC_LANE, AllocationProblem, FlowNetwork, segment_table


@dataclass(frozen=True)
class LaneDual:
    """Arrays of the lane Lagrangian (segments sorted by position, lane arcs of the network)."""

    baseline: float
    saving: np.ndarray
    segment_position: np.ndarray
    segment_start: np.ndarray
    segment_count: np.ndarray
    arc: np.ndarray
    arc_lane: np.ndarray
    arc_sender: np.ndarray
    arc_receiver: np.ndarray
    arc_origin: np.ndarray
    arc_case: np.ndarray
    arc_most_cases: np.ndarray
    arc_unit_cost: np.ndarray
    arc_cross: np.ndarray
    lane_cost: np.ndarray
    supply: np.ndarray
    own_positions: np.ndarray
    capped: np.ndarray
    throughput: np.ndarray
    cross_share: float | None
    position_location: np.ndarray
    lane_sender: np.ndarray
    lane_receiver: np.ndarray
    arc_load_cost: np.ndarray
    """Per lane arc, its unit's share of a load: the lane's cost per truck or parcel times the
    unit's litres over the litres a load holds (what :attr:`Prices.load_share` charges)."""

    @cached_property
    def key_scale(self) -> float:
        """Spacing of the position blocks in the sorted search keys."""
        return 4.0 * float(self.saving.max(initial=1.0)) + 10.0

    @cached_property
    def arc_segment_start(self) -> np.ndarray:
        """Per lane arc, where its receiver's segments start (kept: every step needs it)."""
        return self.segment_start[self.arc_receiver]

    @cached_property
    def arc_segment_count(self) -> np.ndarray:
        """Per lane arc, how many segments its receiver has (kept: every step needs it)."""
        return self.segment_count[self.arc_receiver]

    @cached_property
    def arc_key(self) -> np.ndarray:
        """Per lane arc, where its receiver's block starts in the sorted search keys."""
        return self.arc_receiver * self.key_scale


@dataclass(frozen=True)
class Prices:
    r"""Lagrange multipliers of the lane dual.

    Lagrange multipliers: cover (per segment), supply (per position), throughput (per
    location) and the cross-region share; and per lane the share :math:`\theta_\ell \in [0, 1]`
    of its load cost paid per litre (``load_share``, none: 0).

    A lane's loads cost :math:`F_\ell \lceil V / C_\ell \rceil \ge F_\ell \max(1, V / C_\ell)
    \ge (1 - \theta_\ell) F_\ell + \theta_\ell F_\ell V / C_\ell` for any volume :math:`V > 0`
    and any :math:`\theta_\ell \in [0, 1]`, so the lane's problem may charge
    :math:`(1 - \theta_\ell) F_\ell` for opening and :math:`\theta_\ell F_\ell / C_\ell` per litre:
    the bound stays valid. At 0 only the first load is paid (right for lanes that ship less than
    a load), at 1 every litre pays its share (the linear relaxation's charge, right for lanes
    that fill several loads).
    """

    cover: np.ndarray
    supply: np.ndarray
    throughput: np.ndarray
    cross: float = 0.0
    load_share: np.ndarray | None = None


@dataclass(frozen=True)
class DualValue:
    """The Lagrangian at some prices: the bound, its subgradient, and the lanes it opens."""

    bound: float
    cover_excess: np.ndarray
    supply_excess: np.ndarray
    throughput_excess: np.ndarray
    cross_excess: float
    open_lanes: np.ndarray
    segment_order: np.ndarray
    lane_term: np.ndarray
    """Per lane, its part of the bound: its truck plus its arcs' values when that is negative
    (the lane opens), else 0."""
    own_value: np.ndarray
    """Per position of ``own_positions``, its part of the bound for filling its own segments."""


def lane_dual(problem: AllocationProblem, network: FlowNetwork) -> LaneDual:
    """Collect the arrays of the lane Lagrangian from the problem and its flow network."""
    p = problem
    n_positions = len(p.stock)
    segments = segment_table(network, n_positions)
    segment_position, saving = segments.position, segments.saving
    segment_start, segment_count = segments.start, segments.count
    arcs = np.flatnonzero(network.arc_kind == ARC_LANE)
    # Arcs by receiver, then unit cost: the searches of :func:`evaluate` then ask for nearly
    # ascending keys, which binary search and the memory cache both reward.
    arcs = arcs[np.lexsort((network.arc_cost[arcs],
                            network.arc_position[arcs]))]
    lane, sender, _, case = lane_arc_terms(p, network, arcs)
    supply = p.shippable.astype(float)
    load_cost = (p.lane_shipment_cost[lane] * p.sku_volume[network.arc_sku[arcs]]
                 / p.lane_litres_per_load[lane])
    return LaneDual(
        baseline=network.baseline, saving=saving, segment_position=segment_position,
        segment_start=segment_start, segment_count=segment_count, arc=arcs, arc_lane=lane,
        arc_sender=sender,
        arc_receiver=network.arc_position[arcs], arc_origin=p.lane_from[lane], arc_case=case,
        arc_most_cases=network.arc_capacity[arcs] // case,
        arc_unit_cost=network.arc_cost[arcs],
        arc_cross=p.lane_is_cross_region[lane].astype(float),
        lane_cost=p.lane_shipment_cost.astype(float), supply=supply,
        own_positions=np.flatnonzero((supply > 0) & (segment_count > 0)),
        capped=np.flatnonzero(np.isfinite(p.weekly_throughput)),
        throughput=p.weekly_throughput.astype(float),
        cross_share=p.max_cross_region_share, position_location=p.position_location,
        lane_sender=p.lane_from, lane_receiver=p.lane_to,
        arc_load_cost=load_cost.astype(float))


@dataclass(frozen=True)
class SortedBlocks:
    """Segment values sorted within each position's block.

    Values of the segments sorted ascending within each position's block, for two quick
    questions per position: how many lie below a threshold, and what the first few add up to.
    """

    dual: LaneDual
    keys: np.ndarray
    prefix: np.ndarray

    @classmethod
    def of(cls, dual: LaneDual, values: np.ndarray) -> SortedBlocks:
        """Blocks of ``values`` (one per segment, already ascending within each position)."""
        return cls(dual, dual.segment_position * dual.key_scale + values,
                   np.concatenate([[0.0], np.cumsum(values)]))

    def count_below(self, position: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        """Count each position's segments below ``threshold``."""
        d = self.dual
        found = (np.searchsorted(self.keys, position * d.key_scale + threshold)
                 - d.segment_start[position])
        return np.clip(found, 0, d.segment_count[position])

    def first_sum(self, position: np.ndarray, count: np.ndarray) -> np.ndarray:
        """Add up the first ``count`` segments of each position."""
        start = self.dual.segment_start[position]
        return self.prefix[start + count] - self.prefix[start]


def evaluate(dual: LaneDual, prices: Prices, order_hint: np.ndarray | None = None) -> DualValue:
    """Return the Lagrangian value (a valid lower bound on the plan cost) and its subgradient.

    ``order_hint`` is the ``segment_order`` of an earlier evaluation: prices move a little
    between steps, so the segments are then nearly sorted already and sort in linear time.
    """
    d = dual
    n_segments = len(d.saving)
    reduced = prices.cover - d.saving
    keys = d.segment_position * d.key_scale + reduced
    if order_hint is None:
        order_hint = np.arange(n_segments)
    order = order_hint[np.argsort(keys[order_hint], kind="stable")]
    blocks = SortedBlocks(d, keys[order], np.concatenate([[0.0], np.cumsum(reduced[order])]))
    count_below, first_sum = blocks.count_below, blocks.first_sum

    # Per lane arc: the receiver's segments whose reduced cost beats the arc's price, then
    # the whole number of cases on either side of that count (gathers of the receivers'
    # segment blocks are kept in ``dual``, as they never change).
    start, filled = d.arc_segment_start, d.arc_segment_count
    price = d.arc_unit_cost + prices.supply[d.arc_sender] + coupling_price(d, prices)
    lane_cost = d.lane_cost
    if prices.load_share is not None:
        price = price + prices.load_share[d.arc_lane] * d.arc_load_cost
        lane_cost = (1.0 - prices.load_share) * lane_cost
    useful = np.searchsorted(blocks.keys, d.arc_key - price) - start
    np.clip(useful, 0, filled, out=useful)
    fewer = np.minimum(useful // d.arc_case, d.arc_most_cases)
    more = np.minimum(fewer + 1, d.arc_most_cases)
    units_fewer, units_more = fewer * d.arc_case, more * d.arc_case
    prefix = blocks.prefix
    before_block = prefix[start]
    value_fewer = (price * units_fewer
                   + (prefix[start + np.minimum(units_fewer, filled)] - before_block))
    value_more = price * units_more + (prefix[start + np.minimum(units_more, filled)] - before_block)
    take_more = value_more < value_fewer
    value = np.minimum(np.where(take_more, value_more, value_fewer), 0.0)
    n_lanes = len(d.lane_cost)
    lane_value = lane_cost + np.bincount(d.arc_lane, weights=value, minlength=n_lanes)
    open_lanes = lane_value < 0
    lane_term = np.minimum(lane_value, 0.0)
    # Few arcs ship (their lane opens and their value is negative): the rest is on those.
    shipping = np.flatnonzero((value < 0) & open_lanes[d.arc_lane])
    units = np.where(take_more[shipping], units_more[shipping], units_fewer[shipping])

    own = d.own_positions
    own_units = count_below(own, -prices.supply[own])
    own_value = prices.supply[own] * own_units + first_sum(own, own_units)

    capped = d.capped
    bound = (d.baseline - prices.cover.sum() - float(prices.supply @ d.supply)
             - float(prices.throughput[capped] @ d.throughput[capped])
             + lane_term.sum() + own_value.sum())

    covered = np.minimum(units, filled[shipping])
    starts = np.concatenate([start[shipping], d.segment_start[own]])
    counts = np.concatenate([covered, own_units])
    on = counts > 0
    change = (np.bincount(starts[on], minlength=n_segments + 1)
              - np.bincount((starts + counts)[on], minlength=n_segments + 1))
    cover_excess = np.empty(n_segments)
    cover_excess[order] = np.cumsum(change)[:-1] - 1.0
    n_positions = len(d.supply)
    used = np.bincount(d.arc_sender[shipping], weights=units, minlength=n_positions)
    used[own] += own_units
    out = np.bincount(d.arc_origin[shipping], weights=units, minlength=len(prices.throughput))
    throughput_excess = np.zeros(len(prices.throughput))
    throughput_excess[capped] = out[capped] - d.throughput[capped]
    cross_excess = (float(units @ (d.arc_cross[shipping] - d.cross_share))
                    if d.cross_share is not None else 0.0)
    return DualValue(bound=float(bound), cover_excess=cover_excess,
                     supply_excess=used - d.supply, throughput_excess=throughput_excess,
                     cross_excess=cross_excess, open_lanes=open_lanes, segment_order=order,
                     lane_term=lane_term, own_value=own_value)


def coupling_price(dual: LaneDual, prices: Prices) -> np.ndarray:
    """Return the coupling price per unit on each lane arc.

    Price per unit on each lane arc of the constraints that couple SKUs: the origin's
    throughput and the cross-region share. A location without a throughput limit has no such
    constraint, so a price given for it is ignored (the bound stays valid at any prices).
    """
    throughput = np.zeros(len(dual.throughput))
    throughput[dual.capped] = prices.throughput[dual.capped]
    price = throughput[dual.arc_origin]
    if dual.cross_share is not None:
        price = price + prices.cross * (dual.arc_cross - dual.cross_share)
    return price


def plan_arc_costs(dual: LaneDual, arc_cost: np.ndarray, prices: Prices) -> np.ndarray:
    """Return the arc costs a plan is built on.

    Arc costs for a plan: the network's ``arc_cost`` plus, on lane arcs, the coupling prices
    (so plans steer away from full warehouses and the cross-region cap).
    """
    cost = arc_cost.copy()
    cost[dual.arc] += coupling_price(dual, prices)
    return cost


def initial_prices(dual: LaneDual, *, bisection_steps: int = 14) -> Prices:
    r"""Prices to start from: every lane's truck paid exactly by the segments it could fill.

    Each lane gets a markup :math:`t_\ell` per unit such that its segments, each paying
    :math:`\min(g_j - c_\ell, t_\ell)^+`, pay the truck :math:`F_\ell` exactly (bisection; a lane
    whose segments could never pay it gets none). A segment is then worth the cheapest
    :math:`c_\ell + t_\ell` of a lane into it, or its own saving if lower (``cover`` is the
    saving minus that worth), and a position's own surplus is priced at the worth of the first
    segment it cannot fill. At these prices no lane gains from opening and supply is still free,
    so the bound is what every receiver would pay for fully loaded deliveries; the volume
    algorithm takes it from there.
    """
    d = dual
    # Savings are non-increasing within a position, so their negatives ascend in each block.
    blocks = SortedBlocks.of(d, -d.saving)
    receiver, cost = d.arc_receiver, d.arc_unit_cost
    most_units = d.arc_most_cases * d.arc_case

    def count_above(threshold: np.ndarray) -> np.ndarray:
        return np.minimum(blocks.count_below(receiver, -threshold), most_units)

    def paid_above_cost(count: np.ndarray) -> np.ndarray:
        return -blocks.first_sum(receiver, count) - cost * count

    paid_before_markup = paid_above_cost(count_above(cost))
    n_lanes = len(d.lane_cost)

    def lane_pays(markup: np.ndarray) -> np.ndarray:
        above = count_above(cost + markup[d.arc_lane])
        paid = paid_before_markup - paid_above_cost(above) + above * markup[d.arc_lane]
        return np.bincount(d.arc_lane, weights=paid, minlength=n_lanes)

    top = float(d.saving.max(initial=0.0))
    low, high = np.zeros(n_lanes), np.full(n_lanes, top)
    for _ in range(bisection_steps):
        middle = (low + high) / 2
        short = lane_pays(middle) < d.lane_cost
        low, high = np.where(short, middle, low), np.where(short, high, middle)
    # ``low`` never quite pays the truck, so no lane gains from opening at these prices.
    markup = np.where(lane_pays(np.full(n_lanes, top)) < d.lane_cost, np.inf, low)
    delivered = np.full(len(d.supply), np.inf)
    np.minimum.at(delivered, receiver, cost + markup[d.arc_lane])
    worth = np.minimum(d.saving, delivered[d.segment_position])
    supply = np.zeros(len(d.supply))
    own = d.own_positions
    filled = np.minimum(d.supply[own].astype(np.int64), d.segment_count[own])
    beyond = d.segment_start[own] + filled
    supply[own] = np.where(filled < d.segment_count[own],
                           worth[np.minimum(beyond, len(worth) - 1)], 0.0)
    return Prices(cover=d.saving - worth, supply=supply,
                  throughput=np.zeros(len(d.throughput)))


NEWEST_WEIGHT = 0.1
"""Weight of the newest subgradient in the volume algorithm's averaged direction (and of the
newest step in the lanes' open shares)."""

FACTOR_GROWTH, FACTOR_MOST = 1.1, 2.0
"""The step factor grows by this much after an improving step that agrees with the direction,
up to the most."""

IDLE_STEPS, FACTOR_SHRINK = 10, 0.66
"""After this many steps without improvement the step factor shrinks by this much."""


@dataclass
class VolumeState:
    """Where the volume algorithm stands.

    Best prices, their value, the averaged direction, and how often each lane has been open lately (``lane_open_share``, averaged like the
    direction: the algorithm's estimate of the fractional primal solution).
    """

    center: Prices
    value: DualValue
    direction: tuple[np.ndarray, np.ndarray, np.ndarray, float]
    lane_open_share: np.ndarray
    step_factor: float = 0.1
    idle: int = 0


def start_volume(dual: LaneDual, prices: Prices) -> VolumeState:
    """Evaluate the first prices and start the volume algorithm there."""
    value = evaluate(dual, prices)
    direction = _projected(dual, prices, value.cover_excess, value.supply_excess,
                           value.throughput_excess, value.cross_excess)
    return VolumeState(center=prices, value=value, direction=direction,
                       lane_open_share=value.open_lanes.astype(float))


def improve_bound(dual: LaneDual, state: VolumeState, upper: float, *, iterations: int,
                  deadline: float | None = None,
                  on_step: Callable[[float], None] | None = None) -> VolumeState:
    """Run ``iterations`` steps of the volume algorithm towards the plan cost ``upper``.

    The step is ``factor * (upper - bound) / |direction|^2`` from the best prices so far; the
    factor grows after improving steps that agree with the direction and shrinks after ten
    steps without improvement; the direction averages subgradients (weight 0.1 on the newest).
    ``deadline`` is a :func:`time.perf_counter` reading after which no further step starts;
    ``on_step`` receives the best bound after every step.
    """
    alpha = NEWEST_WEIGHT
    for _ in range(iterations):
        if deadline is not None and time.perf_counter() > deadline:
            break
        center = state.center
        lam_d, mu_d, nu_d, cross_d = _projected(dual, center, *state.direction)
        norm = float(lam_d @ lam_d + mu_d @ mu_d + nu_d @ nu_d + cross_d * cross_d)
        if norm <= 0 or upper <= state.value.bound:
            break
        step = state.step_factor * (upper - state.value.bound) / norm
        trial = Prices(cover=np.clip(center.cover + step * lam_d, 0.0, dual.saving),
                       supply=np.maximum(center.supply + step * mu_d, 0.0),
                       throughput=np.maximum(center.throughput + step * nu_d, 0.0),
                       cross=max(center.cross + step * cross_d, 0.0),
                       load_share=center.load_share)
        value = evaluate(dual, trial, state.value.segment_order)
        gradient = _projected(dual, trial, value.cover_excess, value.supply_excess,
                              value.throughput_excess, value.cross_excess)
        if value.bound > state.value.bound:
            agree = (gradient[0] @ lam_d + gradient[1] @ mu_d + gradient[2] @ nu_d
                     + gradient[3] * cross_d)
            if agree >= 0:
                state.step_factor = min(state.step_factor * FACTOR_GROWTH, FACTOR_MOST)
            state.center, state.value, state.idle = trial, value, 0
        else:
            state.idle += 1
            if state.idle >= IDLE_STEPS:
                state.step_factor *= FACTOR_SHRINK
                state.idle = 0
        state.direction = (alpha * gradient[0] + (1 - alpha) * lam_d,
                           alpha * gradient[1] + (1 - alpha) * mu_d,
                           alpha * gradient[2] + (1 - alpha) * nu_d,
                           alpha * gradient[3] + (1 - alpha) * cross_d)
        state.lane_open_share = alpha * value.open_lanes + (1 - alpha) * state.lane_open_share
        if on_step is not None:
            on_step(state.value.bound)
    return state


def _projected(dual: LaneDual, prices: Prices, cover: np.ndarray, supply: np.ndarray,
               throughput: np.ndarray, cross: float,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Drop the parts of a direction that would push a price out of its bounds."""
    cover = np.where(((prices.cover <= 0) & (cover < 0))
                     | ((prices.cover >= dual.saving) & (cover > 0)), 0.0, cover)
    supply = np.where((prices.supply <= 0) & (supply < 0), 0.0, supply)
    throughput = np.where((prices.throughput <= 0) & (throughput < 0), 0.0, throughput)
    if dual.cross_share is None or (prices.cross <= 0 and cross < 0):
        cross = 0.0
    return cover, supply, throughput, float(cross)
