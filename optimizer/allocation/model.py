"""The weekly transfer problem as arrays, and its per-SKU flow network.

An :class:`AllocationProblem` holds, per location and SKU (a *position*), the stock, the
reserve that must stay (safety stock, or the whole order-up-to level for stores), and next
week's demand (mean and variance); per lane the costs and the week's lead time; per SKU the
margin, volume and case size; per warehouse its weekly throughput.

:func:`build_network` turns it into one flow network per SKU (all SKUs in one set of arrays,
sorted by SKU, so a solver can take one slice per SKU):

* node ``avail[p]`` supplies the shippable units of position ``p``: ``stock - reserve``;
* node ``keep[p]`` collects what position ``p`` holds after the week's moves;
* arc ``avail[p] -> keep[p]`` keeps the excess (cost 0);
* arc ``avail[p] -> keep[q]`` ships along a lane (cost per unit: the lane's cost per unit plus
  its cost per litre times the SKU's volume);
* arcs ``keep[p] -> sink`` are the unit segments of expected shortage: unit ``t`` above the
  reserve costs ``-margin * (ES(t - 1) - ES(t))`` (``ES`` the expected units short, convex and
  decreasing, so segments fill in order), plus one free overflow arc.

The expected shortage of the reserved units is a constant (``baseline``). The objective of a
flow is ``baseline + sum(cost * flow)``, exact at whole units up to the 99.99 % demand quantile.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import InputError, problem_at_rows
from .lanes import LANE_MODES
from .safety_stock import Distribution, demand_quantile, expected_shortage

ARC_KEEP, ARC_LANE, ARC_SEGMENT, ARC_OVERFLOW = 0, 1, 2, 3
CrossRegionLanes = Literal["transfers", "all"]
"""Which lanes between two regions count as cross-region for the cap (7): store-to-store
transfers only (``"transfers"``, what planners call the cross-region transfer rate), or also
warehouse service to stores of another region (``"all"``)."""
TAIL_QUANTILE = 0.9999
PICK_UNITS = ("unit", "case")


@dataclass(frozen=True)
class AllocationProblem:
    """Arrays of one week's allocation problem (positions, lanes, SKUs, locations).

    Build it with :func:`problem_from_frames`. Locations are indexed ``0..n_locations-1``,
    SKUs ``0..n_skus-1``; a position is one (location, SKU) pair.

    The cost structure: ``lane_mode`` per lane (``scheduled``, ``dedicated``, ``parcel`` or
    ``truck``, see :mod:`optimizer.allocation.lanes`); a lane pays ``lane_shipment_cost`` per
    load of ``lane_load_litres`` (a truck, or a parcel; 0 on scheduled routes, which run
    anyway), ``lane_unit_cost`` per unit plus ``lane_cost_per_litre`` per litre, and carries at
    most ``lane_volume_cap`` litres in the week (the volume per visit times the visits).
    ``sku_case_size`` is the unit a warehouse ships in: the case for SKUs picked by the case,
    1 for SKUs picked by the unit (``sku_pick_unit``).
    """

    location_ids: np.ndarray
    location_region: np.ndarray
    is_warehouse: np.ndarray
    weekly_throughput: np.ndarray
    sku_ids: np.ndarray
    sku_margin: np.ndarray
    sku_volume: np.ndarray
    sku_case_size: np.ndarray
    position_location: np.ndarray
    position_sku: np.ndarray
    stock: np.ndarray
    reserve: np.ndarray
    demand_mean: np.ndarray
    demand_variance: np.ndarray
    lane_from: np.ndarray
    lane_to: np.ndarray
    lane_unit_cost: np.ndarray
    lane_shipment_cost: np.ndarray
    lane_lead_time_days: np.ndarray
    truck_capacity: float
    min_transfer_units: int = 1
    max_cross_region_share: float | None = None
    distribution: Distribution = "auto"
    cross_region_counts: CrossRegionLanes = "transfers"
    lane_mode: np.ndarray | None = None
    lane_load_litres: np.ndarray | None = None
    lane_cost_per_litre: np.ndarray | None = None
    lane_volume_cap: np.ndarray | None = None
    sku_pick_unit: np.ndarray | None = None
    order_up_to: np.ndarray | None = None
    dropped_lane_sku: np.ndarray | None = None
    """Lane and SKU pairs that must ship nothing (``lane * n_skus + sku``): a planner's dropped
    and locked lines (:mod:`optimizer.allocation.edits`); they get no arc in the network."""

    @property
    def lane_modes(self) -> np.ndarray:
        """Return the mode of every lane.

        When not given: ``dedicated`` from a warehouse, ``truck`` between stores.
        """
        if self.lane_mode is not None:
            return self.lane_mode
        return np.where(self.lane_from_warehouse, "dedicated", "truck")

    @property
    def lane_litres_per_load(self) -> np.ndarray:
        """Litres one truck or parcel of every lane takes (``truck_capacity`` when not given)."""
        if self.lane_load_litres is not None:
            return self.lane_load_litres
        return np.full(len(self.lane_from), self.truck_capacity)

    @property
    def lane_litre_cost(self) -> np.ndarray:
        """Cost per litre of every lane (0 when not given)."""
        if self.lane_cost_per_litre is not None:
            return self.lane_cost_per_litre
        return np.zeros(len(self.lane_from))

    @property
    def lane_litre_cap(self) -> np.ndarray:
        """Most litres every lane carries in the week (``inf`` when not capped)."""
        if self.lane_volume_cap is not None:
            return self.lane_volume_cap
        return np.full(len(self.lane_from), np.inf)

    def select_lanes(self, keep: np.ndarray) -> AllocationProblem:
        """Return the same week with only the lanes ``keep`` (a mask or indices) selects."""
        optional: dict[str, Any] = {
            name: None if getattr(self, name) is None else getattr(self, name)[keep]
            for name in ("lane_mode", "lane_load_litres", "lane_cost_per_litre",
                         "lane_volume_cap")}
        dropped = self.dropped_lane_sku
        if dropped is not None:
            n_skus = len(self.sku_ids)
            new_index = np.full(len(self.lane_from), -1, dtype=np.int64)
            new_index[np.arange(len(self.lane_from))[keep]] = np.arange(
                len(self.lane_from[keep]))
            lane = new_index[dropped // n_skus]
            dropped = (lane * n_skus + dropped % n_skus)[lane >= 0]
        optional["dropped_lane_sku"] = dropped
        return replace(self, lane_from=self.lane_from[keep], lane_to=self.lane_to[keep],
                       lane_unit_cost=self.lane_unit_cost[keep],
                       lane_shipment_cost=self.lane_shipment_cost[keep],
                       lane_lead_time_days=self.lane_lead_time_days[keep], **optional)

    @property
    def lane_is_cross_region(self) -> np.ndarray:
        """True for lanes that count as cross-region for the cap (see :data:`CrossRegionLanes`)."""
        crosses = self.lane_crosses_regions
        if self.cross_region_counts == "all":
            return crosses
        return crosses & ~self.is_warehouse[self.lane_from]

    @property
    def lane_crosses_regions(self) -> np.ndarray:
        """True for every lane between two regions (transfers and warehouse service)."""
        return self.location_region[self.lane_from] != self.location_region[self.lane_to]

    @property
    def lane_from_warehouse(self) -> np.ndarray:
        """True for replenishment lanes (shipped in whole cases)."""
        return self.is_warehouse[self.lane_from]

    @property
    def shippable(self) -> np.ndarray:
        """Whole units each position may send: stock above its reserve."""
        return np.maximum(self.stock - self.reserve, 0).astype(np.int64)


def problem_from_frames(positions: pd.DataFrame, locations: pd.DataFrame, skus: pd.DataFrame,
                        lanes: pd.DataFrame, *, truck_capacity: float,
                        min_transfer_units: int = 1, max_cross_region_share: float | None = None,
                        distribution: Distribution = "auto",
                        cross_region_counts: CrossRegionLanes = "transfers") -> AllocationProblem:
    """Build an :class:`AllocationProblem` from four tables.

    Parameters
    ----------
    positions
        ``location_id``, ``sku``, ``stock`` (on hand plus arriving in-transit, whole units),
        ``reserve`` (units that must stay; more than the stock means all of it),
        ``demand_mean``, ``demand_variance`` (next week), optional ``order_up_to`` (the level
        a planner tops a store up to; default the reserve as given, before it is cut to the
        stock).
    locations
        ``location_id``, ``region``, ``is_warehouse``, ``weekly_throughput`` (items in and out,
        ``inf`` for stores).
    skus
        ``sku``, ``margin`` (lost margin per unit short), ``volume`` (litres per unit),
        ``case_size`` (units per case), optional ``pick_unit`` (``"case"``: warehouse shipments
        are whole cases; ``"unit"``: picked by the unit; ``"case"`` when the column is absent).
    lanes
        ``from_id``, ``to_id``, ``unit_cost``, ``shipment_cost`` (per truck or parcel),
        ``lead_time_days``; optional ``mode`` (``scheduled``/``dedicated`` from a warehouse,
        ``parcel``/``truck`` between stores; default ``dedicated``/``truck``), ``load_litres``
        (litres per truck or parcel; default ``truck_capacity``), ``cost_per_litre`` (default
        0), ``volume_cap_litres`` (most litres in the week; default no cap). Only lanes usable
        this week.
    truck_capacity
        Litres per truck (lanes without ``load_litres``).
    min_transfer_units
        Smallest store-to-store transfer on a lane (0 or at least this many units).
    max_cross_region_share
        Optional cap on the share of shipped units that cross regions.
    cross_region_counts
        Which cross-region lanes the cap counts: store-to-store transfers only (default) or
        also warehouse service (``"all"``).

    Examples
    --------
    Two stores of one region and one SKU (the frames of :func:`example_problem`):

    >>> problem = example_problem(s2_reserve=3)
    >>> problem.shippable.tolist(), problem.location_ids.tolist()
    ([6, 0], ['S1', 'S2'])
    """
    location_ids = locations["location_id"].astype(str).to_numpy()
    sku_ids = skus["sku"].astype(str).to_numpy()
    location_index = pd.Index(location_ids)
    sku_index = pd.Index(sku_ids)
    if not location_index.is_unique or not sku_index.is_unique:
        raise InputError("`locations.location_id` and `skus.sku` must be unique.")
    position_location = location_index.get_indexer(positions["location_id"].astype(str))
    position_sku = sku_index.get_indexer(positions["sku"].astype(str))
    _require_known(positions, "positions", "location_id", position_location)
    _require_known(positions, "positions", "sku", position_sku)
    keys = pd.MultiIndex.from_arrays([position_location, position_sku])
    if keys.has_duplicates:
        rows = np.flatnonzero(keys.duplicated())
        first = int(rows[0])
        raise InputError([problem_at_rows(
            "positions", "sku", rows, positions["sku"].to_numpy()[rows],
            f"location {positions['location_id'].iloc[first]!r} and SKU "
            f"{positions['sku'].iloc[first]!r} appear twice", "keep one row")], "positions")
    stock = positions["stock"].to_numpy(dtype=float)
    reserve = positions["reserve"].to_numpy(dtype=float)
    for name, values in (("stock", stock), ("reserve", reserve)):
        bad = np.flatnonzero((values < 0) | ~np.isfinite(values) | (values != np.round(values)))
        if bad.size:
            raise InputError([problem_at_rows(
                "positions", name, bad, values[bad], "not a whole number of units >= 0",
                "give whole units, 0 or more")], "positions")
    lane_from = location_index.get_indexer(lanes["from_id"].astype(str))
    lane_to = location_index.get_indexer(lanes["to_id"].astype(str))
    _require_known(lanes, "lanes", "from_id", lane_from)
    _require_known(lanes, "lanes", "to_id", lane_to)
    if truck_capacity <= 0:
        raise InputError(f"`truck_capacity` must be positive, got {truck_capacity!r}.")
    case_size = skus["case_size"].to_numpy(dtype=np.int64)
    if np.any(case_size < 1):
        raise InputError("`skus.case_size` must be at least 1 unit.")
    pick_unit = (skus["pick_unit"].astype(str).str.strip().str.lower().to_numpy()
                 if "pick_unit" in skus else np.full(len(skus), "case"))
    _require_choice(pick_unit, "skus", "pick_unit", PICK_UNITS)
    lane_mode = _lane_modes(lanes, locations["is_warehouse"].to_numpy(dtype=bool)[lane_from])
    is_warehouse = locations["is_warehouse"].to_numpy(dtype=bool)
    order = np.lexsort((position_location, position_sku))
    return AllocationProblem(
        location_ids=location_ids,
        location_region=locations["region"].astype(str).to_numpy(),
        is_warehouse=is_warehouse,
        weekly_throughput=np.where(is_warehouse,
                                   locations["weekly_throughput"].to_numpy(dtype=float), np.inf),
        sku_ids=sku_ids,
        sku_margin=skus["margin"].to_numpy(dtype=float),
        sku_volume=skus["volume"].to_numpy(dtype=float),
        sku_case_size=np.where(pick_unit == "case", case_size, 1).astype(np.int64),
        position_location=position_location[order],
        position_sku=position_sku[order],
        stock=stock[order].astype(np.int64),
        reserve=np.minimum(reserve[order], stock[order]).astype(np.int64),
        order_up_to=(positions["order_up_to"].to_numpy(dtype=float)[order]
                     if "order_up_to" in positions else reserve[order]).astype(np.int64),
        demand_mean=np.where(is_warehouse[position_location[order]], 0.0,
                             positions["demand_mean"].to_numpy(dtype=float)[order]),
        demand_variance=np.where(is_warehouse[position_location[order]], 0.0,
                                 positions["demand_variance"].to_numpy(dtype=float)[order]),
        lane_from=lane_from,
        lane_to=lane_to,
        lane_unit_cost=lanes["unit_cost"].to_numpy(dtype=float),
        lane_shipment_cost=lanes["shipment_cost"].to_numpy(dtype=float),
        lane_lead_time_days=lanes["lead_time_days"].to_numpy(dtype=float),
        truck_capacity=float(truck_capacity),
        min_transfer_units=int(min_transfer_units),
        max_cross_region_share=max_cross_region_share,
        distribution=distribution,
        cross_region_counts=cross_region_counts,
        lane_mode=lane_mode,
        lane_load_litres=_lane_column(lanes, "load_litres", float(truck_capacity), positive=True),
        lane_cost_per_litre=_lane_column(lanes, "cost_per_litre", 0.0),
        lane_volume_cap=_lane_column(lanes, "volume_cap_litres", np.inf),
        sku_pick_unit=pick_unit,
    )



def example_problem(*, s2_reserve: int = 0) -> AllocationProblem:
    """Return the two-store problem of the examples: one SKU, one lane, no warehouse.

    Store ``S1`` holds 9 units of SKU ``A`` with 3 reserved and expects to sell 2 (variance 2);
    store ``S2`` holds none, keeps ``s2_reserve`` and expects 4 (variance 4); the margin is
    100 CNY a unit, and the lane ``S1 -> S2`` costs 1 CNY a unit plus 10 CNY a shipment with a
    one-day lead time (trucks of 1,000 litres).

    Parameters
    ----------
    s2_reserve
        Units store ``S2`` must keep.

    Returns
    -------
    AllocationProblem

    Examples
    --------
    >>> example_problem().reserve.tolist()
    [3, 0]
    """
    return problem_from_frames(
        pd.DataFrame({"location_id": ["S1", "S2"], "sku": "A", "stock": [9, 0],
                      "reserve": [3, s2_reserve], "demand_mean": [2.0, 4.0],
                      "demand_variance": [2.0, 4.0]}),
        pd.DataFrame({"location_id": ["S1", "S2"], "region": "north",
                      "is_warehouse": False, "weekly_throughput": np.inf}),
        pd.DataFrame({"sku": ["A"], "margin": [100.0], "volume": [1.0], "case_size": [1]}),
        pd.DataFrame({"from_id": ["S1"], "to_id": ["S2"], "unit_cost": [1.0],
                      "shipment_cost": [10.0], "lead_time_days": [1.0]}),
        truck_capacity=1000.0)

def _lane_modes(lanes: pd.DataFrame, from_warehouse: np.ndarray) -> np.ndarray:
    default = np.where(from_warehouse, "dedicated", "truck")
    if "mode" not in lanes:
        return default
    mode = lanes["mode"].fillna("").astype(str).str.strip().str.lower().to_numpy()
    mode = np.where(mode == "", default, mode)
    _require_choice(mode, "lanes", "mode", LANE_MODES)
    warehouse_mode = np.isin(mode, ("scheduled", "dedicated"))
    bad = np.flatnonzero(warehouse_mode != from_warehouse)
    if bad.size:
        row = int(bad[0])
        raise InputError(f"`lanes.mode` row {row + 1}: {mode[row]!r} on a lane "
                         f"{'from a warehouse' if from_warehouse[row] else 'between stores'}; "
                         "use scheduled or dedicated from a warehouse, parcel or truck between "
                         "stores.")
    return mode


def _lane_column(lanes: pd.DataFrame, column: str, default: float, *,
                 positive: bool = False) -> np.ndarray:
    if column not in lanes:
        return np.full(len(lanes), default, dtype=float)
    values = pd.to_numeric(lanes[column], errors="coerce").to_numpy(dtype=float)
    values = np.where(np.isnan(values), default, values)
    bad = np.flatnonzero((values <= 0) if positive else (values < 0))
    if bad.size:
        row = int(bad[0])
        raise InputError(f"`lanes.{column}` row {row + 1} is {values[row]:g}; it must be "
                         f"{'positive' if positive else 'at least 0'} (leave it empty for the "
                         "default).")
    return values


def _require_choice(values: np.ndarray, name: str, column: str,
                    choices: tuple[str, ...]) -> None:
    bad = np.flatnonzero(~np.isin(values, choices))
    if bad.size:
        row = int(bad[0])
        raise InputError(f"`{name}.{column}` row {row + 1}: {values[row]!r} is not one of "
                         f"{', '.join(choices)}; fix the value or leave the column out.")


@dataclass(frozen=True)
class FlowNetwork:
    """All SKUs' flow networks in flat arrays, sorted by SKU.

    Nodes of SKU ``k`` are ``node_start[k] .. node_start[k+1]-1`` (its sink is the last one);
    arcs of SKU ``k`` are ``arc_start[k] .. arc_start[k+1]-1``.
    """

    node_start: np.ndarray
    node_supply: np.ndarray
    arc_start: np.ndarray
    arc_tail: np.ndarray
    arc_head: np.ndarray
    arc_cost: np.ndarray
    arc_capacity: np.ndarray
    arc_kind: np.ndarray
    arc_lane: np.ndarray
    arc_position: np.ndarray
    arc_sku: np.ndarray
    avail_node: np.ndarray
    keep_node: np.ndarray
    baseline: float
    position_base_level: np.ndarray
    extra: dict = field(default_factory=dict)


def build_network(problem: AllocationProblem) -> FlowNetwork:
    """Return the per-SKU flow networks of ``problem`` (see the module docstring).

    Lanes are kept for a SKU only where the sender has units to ship, the receiver is a store
    with demand, the unit fits the lane's parcel (on parcel lanes), and the first unit's margin-weighted shortage saving exceeds the lane's cost
    per unit (otherwise no optimal plan uses it), unless the lane and SKU are in
    ``problem.dropped_lane_sku`` (a planner's edit: no arc at all). A lane arc carries at most what the receiver
    can use below its demand tail quantile (more only costs), which leaves the optimum unchanged.
    """
    p = problem
    n_positions = len(p.stock)
    n_skus = len(p.sku_ids)
    shippable = p.shippable
    base_level = p.stock - shippable
    margin = p.sku_margin[p.position_sku]
    is_store_position = ~p.is_warehouse[p.position_location]
    demand = is_store_position & (p.demand_mean > 0)
    # Unit segments above the base level, up to the tail quantile of next week's demand.
    top = np.where(demand, np.ceil(demand_quantile(TAIL_QUANTILE, p.demand_mean,
                                                   np.maximum(p.demand_variance, 1e-9),
                                                   distribution=p.distribution)) + 1, 0)
    top = np.maximum(top, 0).astype(np.int64)
    segment_count = np.where(demand, np.maximum(top - base_level, 0), 0)
    baseline_shortage = np.where(demand, expected_shortage(
        base_level, p.demand_mean, np.maximum(p.demand_variance, 1e-9),
        distribution=p.distribution), 0.0)
    baseline = float((margin * baseline_shortage).sum())

    # Lane candidates per SKU: join lanes to sender and receiver positions of the same SKU.
    position_key = p.position_location.astype(np.int64) * n_skus + p.position_sku
    key_order = np.argsort(position_key)
    sorted_keys = position_key[key_order]
    sender = np.flatnonzero(shippable > 0)
    lane_order = np.argsort(p.lane_from, kind="stable")
    lanes_from_sorted = p.lane_from[lane_order]
    first = np.searchsorted(lanes_from_sorted, p.position_location[sender], side="left")
    last = np.searchsorted(lanes_from_sorted, p.position_location[sender], side="right")
    count = last - first
    cand_sender = np.repeat(sender, count)
    cand_lane = lane_order[ranges_from(first, count)]
    receiver_key = p.lane_to[cand_lane].astype(np.int64) * n_skus + p.position_sku[cand_sender]
    where = np.searchsorted(sorted_keys, receiver_key)
    where = np.minimum(where, len(sorted_keys) - 1)
    found = sorted_keys[where] == receiver_key
    cand_receiver = np.where(found, key_order[where], -1)
    ok = found.copy()
    ok[found] = demand[cand_receiver[found]]
    first_gain = np.zeros(len(cand_lane))
    if ok.any():
        r = cand_receiver[ok]
        gain = expected_shortage(base_level[r], p.demand_mean[r], p.demand_variance[r],
                                 distribution=p.distribution) - expected_shortage(
            base_level[r] + 1, p.demand_mean[r], p.demand_variance[r],
            distribution=p.distribution)
        first_gain[ok] = margin[r] * gain
    cand_unit_cost = (p.lane_unit_cost[cand_lane]
                      + p.lane_litre_cost[cand_lane] * p.sku_volume[p.position_sku[cand_sender]])
    ok &= first_gain > cand_unit_cost
    if p.dropped_lane_sku is not None and len(p.dropped_lane_sku):
        ok &= ~np.isin(cand_lane.astype(np.int64) * n_skus + p.position_sku[cand_sender],
                       p.dropped_lane_sku)
    # A unit larger than a parcel does not go by parcel (bulky goods move by truck or route).
    if p.lane_mode is not None:
        ok &= ~((p.lane_mode[cand_lane] == "parcel")
                & (p.sku_volume[p.position_sku[cand_sender]] > p.lane_litres_per_load[cand_lane]))
    cand_sender, cand_lane, cand_receiver = cand_sender[ok], cand_lane[ok], cand_receiver[ok]
    cand_unit_cost = cand_unit_cost[ok]
    cand_case = np.where(p.is_warehouse[p.position_location[cand_sender]],
                         p.sku_case_size[p.position_sku[cand_sender]], 1).astype(np.int64)
    # A lane's volume cap bounds each of its arcs (whole cases), not only their sum.
    cand_volume = np.maximum(p.sku_volume[p.position_sku[cand_sender]], 1e-12)
    cap_litres = p.lane_litre_cap[cand_lane]
    cand_cap_units = (np.floor(np.minimum(cap_litres / cand_volume, 1e15) / cand_case)
                      * cand_case).astype(np.int64)

    # Segments: unit t = base+1 .. base+count of each position with demand.
    seg_position = np.repeat(np.arange(n_positions), segment_count)
    seg_offset = np.arange(segment_count.sum()) - np.repeat(
        np.cumsum(segment_count) - segment_count, segment_count)
    seg_unit = base_level[seg_position] + seg_offset + 1
    mean_s, var_s = p.demand_mean[seg_position], np.maximum(p.demand_variance[seg_position], 1e-9)
    seg_gain = (expected_shortage(seg_unit - 1, mean_s, var_s, distribution=p.distribution)
                - expected_shortage(seg_unit, mean_s, var_s, distribution=p.distribution))
    seg_cost = -margin[seg_position] * np.maximum(seg_gain, 0.0)
    # Keep the segments convex within each position (monotone non-decreasing costs).
    seg_cost = _monotone_within(seg_cost, seg_position)
    # Paid lanes that can never pay for their first truck or parcel are dropped.
    cand_capacity = np.minimum(np.minimum(shippable[cand_sender], _round_up(
        np.maximum(top, base_level)[cand_receiver] - base_level[cand_receiver], cand_case)),
        cand_cap_units)
    keep_arc = ~never_paying_lanes(p, cand_lane, cand_receiver, cand_unit_cost, cand_capacity,
                                   seg_cost, segment_count)[cand_lane]
    cand_sender, cand_lane, cand_receiver = (cand_sender[keep_arc], cand_lane[keep_arc],
                                             cand_receiver[keep_arc])
    cand_unit_cost, cand_case = cand_unit_cost[keep_arc], cand_case[keep_arc]
    cand_capacity = cand_capacity[keep_arc]

    # Node numbering: per SKU, [avail of its positions, keep of its positions, sink].
    positions_per_sku = np.bincount(p.position_sku, minlength=n_skus)
    node_count = 2 * positions_per_sku + 1
    node_start = np.concatenate([[0], np.cumsum(node_count)])
    position_start = np.concatenate([[0], np.cumsum(positions_per_sku)])
    rank = np.arange(n_positions) - position_start[p.position_sku]
    avail_node = node_start[p.position_sku] + rank
    keep_node = avail_node + positions_per_sku[p.position_sku]
    sink_node = node_start[1:] - 1
    node_supply = np.zeros(node_start[-1], dtype=np.int64)
    node_supply[avail_node] = shippable
    np.add.at(node_supply, sink_node[p.position_sku], -shippable)

    big = np.int64(shippable.sum() + 1)
    keep_positions = np.flatnonzero((shippable > 0) | demand)
    parts = {
        "tail": [avail_node[sender], avail_node[cand_sender], keep_node[seg_position],
                 keep_node[keep_positions]],
        "head": [keep_node[sender], keep_node[cand_receiver], sink_node[p.position_sku[seg_position]],
                 sink_node[p.position_sku[keep_positions]]],
        "cost": [np.zeros(len(sender)), cand_unit_cost, seg_cost,
                 np.zeros(len(keep_positions))],
        "capacity": [shippable[sender], cand_capacity,
                     np.ones(len(seg_position), dtype=np.int64),
                     np.full(len(keep_positions), big)],
        "kind": [np.full(len(sender), ARC_KEEP), np.full(len(cand_lane), ARC_LANE),
                 np.full(len(seg_position), ARC_SEGMENT), np.full(len(keep_positions), ARC_OVERFLOW)],
        "lane": [np.full(len(sender), -1), cand_lane, np.full(len(seg_position), -1),
                 np.full(len(keep_positions), -1)],
        "position": [sender, cand_receiver, seg_position, keep_positions],
        "sku": [p.position_sku[sender], p.position_sku[cand_sender], p.position_sku[seg_position],
                p.position_sku[keep_positions]],
    }
    arrays = {name: np.concatenate(values) for name, values in parts.items()}
    order = np.argsort(arrays["sku"], kind="stable")
    arrays = {name: values[order] for name, values in arrays.items()}
    arc_start = np.searchsorted(arrays["sku"], np.arange(n_skus + 1))
    return FlowNetwork(
        node_start=node_start, node_supply=node_supply, arc_start=arc_start,
        arc_tail=arrays["tail"].astype(np.int64), arc_head=arrays["head"].astype(np.int64),
        arc_cost=arrays["cost"].astype(float), arc_capacity=arrays["capacity"].astype(np.int64),
        arc_kind=arrays["kind"].astype(np.int8), arc_lane=arrays["lane"].astype(np.int64),
        arc_position=arrays["position"].astype(np.int64), arc_sku=arrays["sku"].astype(np.int64),
        avail_node=avail_node, keep_node=keep_node, baseline=baseline,
        position_base_level=base_level,
        extra={"sender_of_lane_arc": _sender_positions(arrays, avail_node),
               "position_top": np.maximum(top, base_level)})


@dataclass(frozen=True)
class SegmentTable:
    """The unit segments of a network by position.

    The unit segments of a network by position: position ``p`` owns segments
    ``start[p] .. start[p]+count[p]-1`` of ``position`` and ``saving`` (margin-weighted
    shortage saved by that unit, non-increasing within a position).
    """

    position: np.ndarray
    start: np.ndarray
    count: np.ndarray
    saving: np.ndarray

    @cached_property
    def _prefix(self) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(self.saving)])

    def saving_between(self, position: np.ndarray, low: np.ndarray,
                       high: np.ndarray) -> np.ndarray:
        """Return the savings of the segments between two levels.

        Per entry, the savings of segments ``low+1 .. high`` of ``position`` (the units that
        take its level from ``low`` to ``high`` above its reserve), both clipped to the
        position's segments.
        """
        start, count = self.start[position], self.count[position]
        return (self._prefix[start + np.clip(high, 0, count)]
                - self._prefix[start + np.clip(low, 0, count)])


def segment_table(network: FlowNetwork, n_positions: int) -> SegmentTable:
    """Collect the segment arcs of ``network`` by position (see :class:`SegmentTable`)."""
    arcs = np.flatnonzero(network.arc_kind == ARC_SEGMENT)
    order = np.argsort(network.arc_position[arcs], kind="stable")
    arcs = arcs[order]
    position = network.arc_position[arcs]
    count = np.bincount(position, minlength=n_positions)
    return SegmentTable(position=position,
                        start=np.concatenate([[0], np.cumsum(count)[:-1]]), count=count,
                        saving=np.maximum(-network.arc_cost[arcs], 0.0))


def offsets_within(count: np.ndarray) -> np.ndarray:
    """``0 .. count[i] - 1`` for every ``i``, concatenated: each item's place in its run.

    Examples
    --------
    >>> offsets_within(np.array([2, 0, 3])).tolist()
    [0, 1, 0, 1, 2]
    """
    return np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)


def ranges_from(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``start[i] + 0 .. count[i] - 1`` for every ``i``, concatenated.

    Examples
    --------
    >>> ranges_from(np.array([5, 9, 0]), np.array([2, 0, 3])).tolist()
    [5, 6, 0, 1, 2]
    """
    return np.repeat(start, count) + offsets_within(count)


def never_paying_lanes(p: AllocationProblem, arc_lane: np.ndarray, arc_receiver: np.ndarray,
                       arc_unit_cost: np.ndarray, arc_capacity: np.ndarray,
                       segment_cost: np.ndarray, segment_count: np.ndarray) -> np.ndarray:
    """Return the paid lanes no optimal plan uses: all they could save is below one load.

    Per lane arc, the most its shipments can save is the sum of ``saving - unit cost`` over
    the receiver's first unit segments above its base level, as far as the arc's capacity
    and while positive (segments save less and less, and a receiver never sits below its
    base level). A lane whose arcs together cannot save more than the price of one truck or
    parcel is used by no optimal plan: dropping its shipments from a plan saves at least one
    load, loses at most that sum (the units it carried filled segments no better than the
    first ones) and gives the sender its units back, and every constraint holds after a
    shipment is dropped (volume, throughput, lots), except the cross-region share when the
    lane is not a counted cross-region lane, so those lanes are kept where the share is capped.

    Parameters
    ----------
    p
        The week's problem.
    arc_lane, arc_receiver, arc_unit_cost, arc_capacity
        The candidate lane arcs: lane, receiving position, cost per unit, most units.
    segment_cost, segment_count
        The unit segments' costs (minus the saving, non-decreasing within a position), stored
        by position in order, and each position's number of segments.

    Returns
    -------
    numpy.ndarray
        One flag per lane.
    """
    start = np.concatenate([[0], np.cumsum(segment_count)[:-1]]).astype(np.int64)
    prefix = np.concatenate([[0.0], np.cumsum(segment_cost)])
    # Segments of the receiver that save more than the arc's unit cost, within its capacity:
    # a binary search on each receiver's (ascending) segment costs.
    low = start[arc_receiver]
    high = low + np.minimum(segment_count[arc_receiver], np.maximum(arc_capacity, 0))
    while True:
        open_range = low < high
        if not open_range.any():
            break
        middle = (low + high) // 2
        saves = np.zeros(len(low), dtype=bool)
        saves[open_range] = -segment_cost[middle[open_range]] > arc_unit_cost[open_range]
        low = np.where(open_range & saves, middle + 1, low)
        high = np.where(open_range & ~saves, middle, high)
    first = start[arc_receiver]
    count = low - first
    most = -(prefix[low] - prefix[first]) - count * arc_unit_cost
    lane_most = np.bincount(arc_lane, weights=np.maximum(most, 0.0), minlength=len(p.lane_from))
    droppable = (p.lane_shipment_cost > 0) & (lane_most <= p.lane_shipment_cost)
    if p.max_cross_region_share is not None:
        droppable &= p.lane_is_cross_region
    return droppable


def _sender_positions(arrays: dict[str, np.ndarray], avail_node: np.ndarray) -> np.ndarray:
    """Return the sending position of every arc (``-1`` for arcs that leave a keep node)."""
    lookup = np.full(int(avail_node.max(initial=-1)) + 2, -1, dtype=np.int64)
    lookup[avail_node] = np.arange(len(avail_node))
    tails = arrays["tail"]
    inside = tails < len(lookup)
    result = np.full(len(tails), -1, dtype=np.int64)
    result[inside] = lookup[tails[inside]]
    kinds = arrays["kind"]
    result[(kinds == ARC_SEGMENT) | (kinds == ARC_OVERFLOW)] = -1
    return result


def _monotone_within(costs: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Make costs non-decreasing along each group.

    Make costs non-decreasing along each (contiguous, ascending) group: floating-point noise in
    far tails could otherwise break the convexity the segments rely on.
    """
    if costs.size == 0:
        return costs
    spread = float(np.abs(costs).max()) * 2 + 1.0
    _, dense = np.unique(group, return_inverse=True)
    shifted = costs + dense * spread
    return np.maximum.accumulate(shifted) - dense * spread


def _round_up(units: np.ndarray, case: np.ndarray) -> np.ndarray:
    return -(-units // case) * case


def _require_known(frame: pd.DataFrame, name: str, column: str, index: np.ndarray) -> None:
    bad = np.flatnonzero(index < 0)
    if bad.size:
        raise InputError([problem_at_rows(
            name, column, bad, frame[column].to_numpy()[bad], "not a known id",
            "add it to the master table or drop the rows")], name)
