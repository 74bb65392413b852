r"""Block steps for the lane dual: the volume algorithm run separately for every location.

The Lagrangian of :mod:`optimizer.allocation.dual` falls apart by location in two ways:

* **receivers** -- with the supply, throughput and cross-region prices held, it is a constant
  plus one term per receiving location :math:`r`: minus the cover prices of its segments, plus
  the lanes into :math:`r` (each lane delivers to one location) and the positions of :math:`r`
  that fill their own segments;
* **senders** -- with the cover and cross-region prices held, it is a constant plus one term per
  sending location :math:`w`: minus its positions' supply prices times their surplus and its
  throughput price times its throughput, plus the lanes out of :math:`w` and the positions of
  :math:`w` that fill their own segments.

The volume algorithm takes one step length for all prices and keeps a step only if the whole
bound rises, so a location whose prices would gain waits for the others. :func:`block_steps`
takes the same steps with one step factor per location, evaluates all locations at once (one
:func:`~optimizer.allocation.dual.evaluate` per step) and keeps each location's step if its own
term rose: because the terms are separate, the kept prices together bound exactly the constant
plus the best terms. Block steps alone get stuck (the two sides only meet at the prices they
hold), so the search alternates them with the volume algorithm's joint steps
(:class:`optimizer.allocation.search.PlanSearch`). On the 500 x 200 benchmark week, with the
plan cost as the target, 60 s of joint steps reach 821,258; 25 joint steps then 20 steps per
side in turn reach 855,998 (docs/bench_allocation.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from .dual import (
    FACTOR_GROWTH,
    FACTOR_MOST,
    FACTOR_SHRINK,
    IDLE_STEPS,
    NEWEST_WEIGHT,
    DualValue,
    LaneDual,
    Prices,
    VolumeState,
    evaluate,
    start_volume,
)

Side = Literal["receivers", "senders"]


@dataclass(frozen=True)
class _Blocks:
    """The prices one side moves, as one vector: each entry's location and upper bound."""

    dual: LaneDual
    side: Side
    location: np.ndarray
    upper: np.ndarray

    @classmethod
    def of(cls, dual: LaneDual, side: Side) -> _Blocks:
        d = dual
        if side == "receivers":
            return cls(d, side, d.position_location[d.segment_position], d.saving)
        n_locations = len(d.throughput)
        return cls(d, side, np.concatenate([d.position_location, np.arange(n_locations)]),
                   np.full(len(d.supply) + n_locations, np.inf))

    @property
    def n_locations(self) -> int:
        return len(self.dual.throughput)

    def values(self, prices: Prices) -> np.ndarray:
        if self.side == "receivers":
            return prices.cover
        return np.concatenate([prices.supply, prices.throughput])

    def with_values(self, prices: Prices, values: np.ndarray) -> Prices:
        if self.side == "receivers":
            return replace(prices, cover=values)
        n_positions = len(self.dual.supply)
        return replace(prices, supply=values[:n_positions], throughput=values[n_positions:])

    def part(self, cover: np.ndarray, supply: np.ndarray, throughput: np.ndarray,
             *_: object) -> np.ndarray:
        """Return this side's part of a direction over all prices."""
        if self.side == "receivers":
            return cover
        return np.concatenate([supply, throughput])

    def excess(self, value: DualValue) -> np.ndarray:
        return self.part(value.cover_excess, value.supply_excess, value.throughput_excess)

    def project(self, values: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """Drop the parts of ``direction`` that would push a price out of its bounds."""
        return np.where(((values <= 0) & (direction < 0))
                        | ((values >= self.upper) & (direction > 0)), 0.0, direction)

    def terms(self, prices: Prices, value: DualValue) -> np.ndarray:
        """Each location's term of the bound (module docstring)."""
        d, n = self.dual, self.n_locations
        own = np.bincount(d.position_location[d.own_positions], value.own_value, n)
        if self.side == "receivers":
            return (own + np.bincount(d.lane_receiver, value.lane_term, n)
                    - np.bincount(self.location, prices.cover, n))
        paid = np.zeros(n)
        paid[d.capped] = prices.throughput[d.capped] * d.throughput[d.capped]
        return (own + np.bincount(d.lane_sender, value.lane_term, n) - paid
                - np.bincount(d.position_location, prices.supply * d.supply, n))


def block_steps(dual: LaneDual, state: VolumeState, upper: float, *, side: Side,
                iterations: int, deadline: float | None = None,
                on_step: Callable[[float], None] | None = None) -> VolumeState:
    """Run ``iterations`` volume steps on one side's prices, kept or not per location.

    Parameters
    ----------
    dual
        The lane Lagrangian's arrays.
    state
        Where the volume algorithm stands; its best prices, averaged direction (this side's
        part) and step factor (for every location) are the start.
    upper
        The plan cost the steps aim at (Polyak's step, as in
        :func:`~optimizer.allocation.dual.improve_bound`).
    side
        ``"receivers"`` moves the cover prices, ``"senders"`` the supply and throughput prices.
    iterations, deadline, on_step
        Most steps; a :func:`time.perf_counter` reading after which no step starts; called
        with the bound after every step.

    Returns
    -------
    VolumeState
        Started again at the prices kept (with ``state``'s step factor and lane open shares),
        if they bound higher than ``state``; else ``state``.
    """
    d = dual
    blocks = _Blocks.of(d, side)
    location, n = blocks.location, blocks.n_locations
    value = state.value
    values = blocks.values(state.center)
    terms = blocks.terms(state.center, value)
    constant = value.bound - terms.sum()
    bound = value.bound
    factor = np.full(n, state.step_factor)
    idle = np.zeros(n, dtype=np.int64)
    direction = blocks.part(*state.direction)
    lane_open_share = state.lane_open_share.copy()
    order = value.segment_order
    alpha = NEWEST_WEIGHT
    for _ in range(iterations):
        if deadline is not None and time.perf_counter() > deadline:
            break
        direction = blocks.project(values, direction)
        norm = float(direction @ direction)
        if norm <= 0 or upper <= bound:
            break
        step = factor * ((upper - bound) / norm)
        trial_values = np.clip(values + step[location] * direction, 0.0, blocks.upper)
        trial = blocks.with_values(state.center, trial_values)
        value = evaluate(d, trial, order)
        order = value.segment_order
        trial_terms = blocks.terms(trial, value)
        gradient = blocks.project(trial_values, blocks.excess(value))
        better = trial_terms > terms
        agree = np.bincount(location, gradient * direction, n) >= 0
        factor = np.where(better & agree, np.minimum(factor * FACTOR_GROWTH, FACTOR_MOST),
                          factor)
        idle = np.where(better, 0, idle + 1)
        tired = idle >= IDLE_STEPS
        factor[tired] *= FACTOR_SHRINK
        idle[tired] = 0
        values = np.where(better[location], trial_values, values)
        terms = np.where(better, trial_terms, terms)
        bound = constant + float(terms.sum())
        direction = alpha * gradient + (1 - alpha) * direction
        lane_open_share = alpha * value.open_lanes + (1 - alpha) * lane_open_share
        if on_step is not None:
            on_step(max(bound, state.value.bound))
    moved = start_volume(d, blocks.with_values(state.center, values))
    if moved.value.bound <= state.value.bound:
        return state
    moved.step_factor, moved.lane_open_share = state.step_factor, lane_open_share
    return moved
