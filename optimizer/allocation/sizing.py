"""The weekly model's size, estimated from the problem before the flow network is built.

The flow network (:func:`optimizer.allocation.model.build_network`) has one arc per unit of
expected shortage a store may fill (up to the 99.99 % quantile of its demand), one per lane and
SKU a sender can use, and two per position. Its arrays are therefore sized by input *values*
(demand), not only by the number of rows: a single sale of a billion units would ask for a
billion arcs. :func:`check_model_size` counts the arcs with the same formulas, cheaply (one pass
over the positions and lanes), and refuses a model that would not fit with a message that says
which input makes it large and what to change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .model import TAIL_QUANTILE, AllocationProblem
from .safety_stock import demand_quantile

BYTES_PER_ARC = 400
"""Peak bytes per arc while the network is built and solved (its arrays, the temporaries of the
build, and the solver's per-arc state), measured on the demo week with tracemalloc
(``bench/model_size.py``) and rounded up."""

DEFAULT_MEMORY_SHARE = 0.5
"""Share of the machine's physical memory a model may use when no limit is given."""

FALLBACK_MEMORY_BYTES = 4 * 2**30
"""Memory assumed when the platform does not report its physical memory."""


@dataclass(frozen=True)
class ModelSize:
    """How big the week's flow network would be.

    Attributes
    ----------
    segment_arcs
        Unit-of-shortage arcs (one per unit a store may receive below its demand tail).
    lane_arcs
        Lane arcs (lane and SKU pairs with a sender that has units to ship), before pruning.
    position_arcs
        Keep and overflow arcs (at most two per position).
    bytes
        Estimated peak memory of building and solving it.
    largest_segments
        The most unit arcs any one position has (its demand tail).
    largest_position
        Index of that position in the problem.
    """

    segment_arcs: int
    lane_arcs: int
    position_arcs: int
    bytes: int
    largest_segments: int
    largest_position: int

    @property
    def arcs(self) -> int:
        """Return the total number of arcs."""
        return self.segment_arcs + self.lane_arcs + self.position_arcs


def memory_limit_bytes() -> int:
    """Return the memory a model may use: half the machine's physical memory.

    Examples
    --------
    >>> memory_limit_bytes() > 0
    True
    """
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return FALLBACK_MEMORY_BYTES
    return int(DEFAULT_MEMORY_SHARE * total) if total > 0 else FALLBACK_MEMORY_BYTES


def estimate_model_size(problem: AllocationProblem) -> ModelSize:
    """Count the arcs :func:`~optimizer.allocation.model.build_network` would create.

    The count uses the network's own formulas in float arithmetic, so a huge demand gives a huge
    count rather than a huge array.

    Examples
    --------
    >>> from optimizer.allocation.model import example_problem
    >>> problem = example_problem(s2_reserve=3)  # two stores, one SKU, one lane
    >>> size = estimate_model_size(problem)
    >>> size.lane_arcs, size.position_arcs
    (1, 4)
    """
    p = problem
    shippable = p.shippable
    base_level = (p.stock - shippable).astype(np.float64)
    demand = ~p.is_warehouse[p.position_location] & (p.demand_mean > 0)
    top = np.zeros(len(p.stock))
    if demand.any():
        top[demand] = np.ceil(demand_quantile(
            TAIL_QUANTILE, p.demand_mean[demand], np.maximum(p.demand_variance[demand], 1e-9),
            distribution=p.distribution)) + 1
    segments = np.where(demand, np.maximum(top - base_level, 0.0), 0.0)
    lanes_per_location = np.bincount(p.lane_from, minlength=len(p.location_ids))
    lane_arcs = int(lanes_per_location[p.position_location[shippable > 0]].sum())
    position_arcs = 2 * len(p.stock)
    segment_arcs = float(segments.sum())
    total = segment_arcs + lane_arcs + position_arcs
    largest = int(np.argmax(segments)) if len(segments) else 0
    return ModelSize(segment_arcs=int(min(segment_arcs, 2**62)), lane_arcs=lane_arcs,
                     position_arcs=position_arcs,
                     bytes=int(min(total * BYTES_PER_ARC, 2**62)),
                     largest_segments=int(min(segments[largest], 2**62)) if len(segments) else 0,
                     largest_position=largest)


def check_model_size(problem: AllocationProblem, *, max_bytes: int | None = None) -> ModelSize:
    """Refuse a model that would not fit in memory, saying which input makes it large.

    Parameters
    ----------
    problem
        The week's problem, before :func:`~optimizer.allocation.model.build_network`.
    max_bytes
        Memory the model may use; default :func:`memory_limit_bytes`.

    Returns
    -------
    ModelSize
        The estimate, when it fits.

    Raises
    ------
    InputError
        When the estimate exceeds ``max_bytes``.
    """
    size = estimate_model_size(problem)
    limit = memory_limit_bytes() if max_bytes is None else int(max_bytes)
    if size.bytes <= limit:
        return size
    p = problem
    k = size.largest_position
    where = (f"the largest is store {p.location_ids[p.position_location[k]]!r}, SKU "
             f"{p.sku_ids[p.position_sku[k]]!r}: a weekly demand of "
             f"{p.demand_mean[k]:,.0f} units gives {size.largest_segments:,} unit arcs")
    if size.segment_arcs >= size.lane_arcs:
        fix = ("check the sales `units` of that store and SKU (one arc per unit a store may "
               "receive, up to the 99.99 % quantile of its demand), or plan fewer stores or "
               "SKUs per run")
    else:
        fix = ("give fewer lanes (a shorter `max_transfer_km`, smaller warehouse service radii) "
               "or plan fewer stores or SKUs per run")
    raise InputError(
        f"The week's model would need about {size.bytes / 2**30:,.1f} GiB ({size.arcs:,} arcs: "
        f"{size.segment_arcs:,} for expected shortage, {size.lane_arcs:,} for lanes), more than "
        f"the {limit / 2**30:,.1f} GiB allowed; {where}. Fix: {fix}.")
