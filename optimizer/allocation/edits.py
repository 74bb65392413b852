r"""A planner's edits of a plan: lines locked at a quantity, lines dropped, and the re-solve.

An edits table has one row per plan line a planner decides on: ``from_id``, ``to_id``, ``sku``,
``action`` (``lock`` or ``drop``) and, for ``lock``, ``quantity`` (whole units, 0 or more).

The solve honours the edits by changing the week's problem before its flow network is built,
so every path of :func:`optimizer.allocation.solve.solve_allocation` (decomposition, MIP,
relaxation, polish) and the planner's rule it is compared with see the same week:

* a **dropped** line (lane and SKU) gets no arc in the network
  (:attr:`~optimizer.allocation.model.AllocationProblem.dropped_lane_sku`): it ships 0;
* a **locked** line ships exactly its quantity :math:`q`: the sender's stock loses :math:`q`
  (it must have that much above its reserve), the receiver's stock and reserve gain :math:`q`
  (the units count in its supply and are not sent on), a warehouse sender's throughput and the
  lane's volume cap lose what the line takes, and the lane and SKU get no arc, so the rest of
  the plan is re-optimised around it. The locked lines are added back to the plan with their
  transport cost: units times the lane's cost per unit and litre; the plan's trucks and
  parcels are counted on each lane's whole volume, locked and free lines together (the free
  part is solved as if the locked lines had loads of their own, so a shared load's room may
  go unused; the report's bound, the free part's bound plus the locked units' cost per unit,
  stays a bound of the edited week).

A locked line is outside the cross-region share cap (7): it is the planner's decision.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, problem_at_rows
from ..results import SolveReport
from .model import AllocationProblem
from .search import plan_gap
from .solve import AllocationResult

EDIT_COLUMNS = ("from_id", "to_id", "sku", "action", "quantity")
"""Columns of an edits table (``quantity`` is read for ``lock`` rows only)."""

ACTIONS = ("lock", "drop")


@dataclass(frozen=True)
class PlanEdits:
    """A checked edits table.

    Attributes
    ----------
    table
        ``row`` (the row number in the file, 1 for the first row below the header),
        ``from_id``, ``to_id``, ``sku``, ``action`` (``lock``/``drop``), ``quantity``
        (whole units for ``lock``, 0 for ``drop``).
    source
        The file (or table name) the edits came from, for error messages.
    """

    table: pd.DataFrame
    source: str = "edits"

    @property
    def locked(self) -> pd.DataFrame:
        """The ``lock`` rows."""
        return self.table[self.table["action"] == "lock"]

    @property
    def dropped(self) -> pd.DataFrame:
        """The ``drop`` rows."""
        return self.table[self.table["action"] == "drop"]

    def __len__(self) -> int:
        return len(self.table)


def edits_from_frame(frame: pd.DataFrame, *, source: str = "edits") -> PlanEdits:
    """Check an edits table and return it as :class:`PlanEdits`.

    Every problem is reported together, each naming its column, row and fix: a missing column,
    an empty id, an action other than ``lock``/``drop``, a ``lock`` without a whole quantity of
    0 or more, a line given twice, or a line both locked and dropped.

    Examples
    --------
    >>> edits = edits_from_frame(pd.DataFrame({
    ...     "from_id": ["W1", "S2"], "to_id": ["S1", "S3"], "sku": ["A", "B"],
    ...     "action": ["Lock", "drop"], "quantity": [6, None]}))
    >>> edits.table[["action", "quantity"]].values.tolist()
    [['lock', 6], ['drop', 0]]
    """
    missing = [c for c in EDIT_COLUMNS[:4] if c not in frame.columns]
    if missing:
        raise InputError([Problem(source, f"missing column `{c}`",
                                  "add the columns from_id, to_id, sku, action and quantity "
                                  "(quantity for lock rows)", c) for c in missing], source)
    table = pd.DataFrame({c: frame[c].fillna("").astype(str).str.strip()
                          for c in EDIT_COLUMNS[:3]})
    table["action"] = frame["action"].fillna("").astype(str).str.strip().str.lower()
    quantity = (pd.to_numeric(frame["quantity"], errors="coerce") if "quantity" in frame
                else pd.Series(np.nan, index=frame.index)).to_numpy(dtype=float)
    problems: list[Problem] = []
    for column in EDIT_COLUMNS[:3]:
        bad = np.flatnonzero(table[column].to_numpy() == "")
        if bad.size:
            problems.append(problem_at_rows(source, column, bad, None, "empty id",
                                            "fill it in or delete the row"))
    action = table["action"].to_numpy()
    bad = np.flatnonzero(~np.isin(action, ACTIONS))
    if bad.size:
        problems.append(problem_at_rows(source, "action", bad, action[bad],
                                        "not lock or drop", "write lock or drop"))
    lock = action == "lock"
    bad = np.flatnonzero(lock & ~((quantity >= 0) & (quantity == np.round(quantity))))
    if bad.size:
        problems.append(problem_at_rows(
            source, "quantity", bad, quantity[bad],
            "a locked line needs a whole number of units, 0 or more",
            "give the units the line must ship (0 to ship nothing), or drop the line"))
    key = table["from_id"] + "\x1f" + table["to_id"] + "\x1f" + table["sku"]
    both = key[lock].isin(set(key[action == "drop"]))
    bad = np.flatnonzero(lock & key.isin(set(key[lock][both])).to_numpy())
    if bad.size:
        problems.append(problem_at_rows(source, "action", bad, action[bad],
                                        "the line is both locked and dropped",
                                        "keep one of the two rows"))
    twice = key.duplicated(keep="first").to_numpy() & ~key.isin(set(key[lock][both])).to_numpy()
    if twice.any():
        rows = np.flatnonzero(twice)
        problems.append(problem_at_rows(source, "sku", rows, table["sku"].to_numpy()[rows],
                                        "the same line (from, to, SKU) is given twice",
                                        "keep one row per line"))
    if problems:
        raise InputError(problems, source)
    table["quantity"] = np.where(lock, np.nan_to_num(quantity), 0).astype(np.int64)
    table.insert(0, "row", np.arange(1, len(table) + 1))
    return PlanEdits(table=table.reset_index(drop=True), source=source)


@dataclass(frozen=True)
class FreePlan:
    """The plan of the same week without edits, that edits are priced against.

    Attributes
    ----------
    objective
        Its expected cost (the solve report's objective).
    lines
        Its plan lines (``from``, ``to``, ``sku``, ``quantity``).
    """

    objective: float | None
    lines: pd.DataFrame


@dataclass(frozen=True)
class ResolvedEdits:
    """Edits matched to a problem's lanes and SKUs (see :func:`resolve_edits`).

    ``locked_*``: lane, SKU and units of each locked line; ``dropped_*``: lane and SKU of each
    dropped line (lane ``-1`` when there is no such lane this week: nothing to forbid).
    """

    edits: PlanEdits
    locked_lane: np.ndarray
    locked_sku: np.ndarray
    locked_quantity: np.ndarray
    dropped_lane: np.ndarray
    dropped_sku: np.ndarray


def resolve_edits(problem: AllocationProblem, edits: PlanEdits) -> ResolvedEdits:
    """Match edits to the problem's lanes and check that the locked lines can hold.

    Errors, each naming the row and the fix: an unknown store, warehouse or SKU; a locked line
    on no lane of the week (beyond the warehouse's service radius or the week's lead time); a
    locked quantity from a warehouse that is not whole cases of a SKU picked by the case; locked
    lines taking more from a sender than it has above its reserve, more than a warehouse's
    throughput for the week, or more litres than a lane's volume cap.
    """
    p, source, table = problem, edits.source, edits.table
    location = pd.Index(p.location_ids)
    sku_index = pd.Index(p.sku_ids)
    origin = location.get_indexer(table["from_id"])
    target = location.get_indexer(table["to_id"])
    sku = sku_index.get_indexer(table["sku"])
    problems: list[Problem] = []
    for column, index in (("from_id", origin), ("to_id", target), ("sku", sku)):
        bad = np.flatnonzero(index < 0)
        if bad.size:
            what = "SKU" if column == "sku" else "store or warehouse"
            problems.append(problem_at_rows(
                source, column, bad, table[column].to_numpy()[bad], f"not a known {what}",
                f"use an id of the {'SKU catalogue' if column == 'sku' else 'stores or warehouses file'}"
                " or delete the row"))
    if problems:
        raise InputError(problems, source)
    lane_key = pd.Index(p.lane_from.astype(np.int64) * len(p.location_ids) + p.lane_to)
    lane = lane_key.get_indexer(origin.astype(np.int64) * len(p.location_ids) + target)
    lock = (table["action"] == "lock").to_numpy()
    quantity = table["quantity"].to_numpy(dtype=np.int64)
    bad = np.flatnonzero(lock & (lane < 0) & (quantity > 0))
    if bad.size:
        problems.append(problem_at_rows(
            source, "to_id", bad, table["to_id"].to_numpy()[bad],
            "no lane from this sender to this receiver this week (beyond the warehouse's "
            "service radius or the week's lead time)", "lock a line of the plan's lanes, or "
            "delete the row"))
    from_warehouse = p.is_warehouse[origin]
    case = np.where(from_warehouse, p.sku_case_size[sku], 1)
    bad = np.flatnonzero(lock & (quantity % case != 0))
    if bad.size:
        problems.append(problem_at_rows(
            source, "quantity", bad, quantity[bad],
            f"a warehouse ships this SKU in whole cases of {int(case[bad[0]])} units",
            "lock a multiple of the case size"))
    if problems:
        raise InputError(problems, source)
    live = lock & (quantity > 0)
    absent = np.flatnonzero(live & (_positions(p, target, sku) < 0))
    if absent.size:
        raise InputError([problem_at_rows(
            source, "sku", absent, table["sku"].to_numpy()[absent],
            "the receiver has no stock row for this SKU", "add the SKU to the receiver's "
            "stock (0 on hand) or delete the row")], source)
    _check_totals(p, source, table, live, origin, sku, lane, quantity)
    return ResolvedEdits(edits=edits, locked_lane=lane[live], locked_sku=sku[live],
                         locked_quantity=quantity[live],
                         dropped_lane=lane[~lock | (quantity == 0)],
                         dropped_sku=sku[~lock | (quantity == 0)])


def _check_totals(p: AllocationProblem, source: str, table: pd.DataFrame, live: np.ndarray,
                  origin: np.ndarray, sku: np.ndarray, lane: np.ndarray,
                  quantity: np.ndarray) -> None:
    """Raise when the locked lines together take more than a sender, warehouse or lane has."""
    problems: list[Problem] = []
    rows = np.flatnonzero(live)
    if not rows.size:
        return
    position = _positions(p, origin[rows], sku[rows])
    shippable = np.where(position >= 0, p.shippable[np.maximum(position, 0)], 0)
    taken = pd.Series(quantity[rows]).groupby(position).transform("sum").to_numpy()
    bad = rows[taken > shippable]
    if bad.size:
        first = int(np.flatnonzero(taken > shippable)[0])
        problems.append(problem_at_rows(
            source, "quantity", bad, quantity[bad],
            f"{table['from_id'].iloc[rows[first]]} has {int(shippable[first]):,} units of "
            f"{table['sku'].iloc[rows[first]]} above its reserve, and its locked lines take "
            f"{int(taken[first]):,}", "lock at most the units above the sender's reserve"))
    out = pd.Series(quantity[rows]).groupby(origin[rows]).transform("sum").to_numpy()
    limit = p.weekly_throughput[origin[rows]]
    over = out > limit
    if over.any():
        first = int(np.flatnonzero(over)[0])
        problems.append(problem_at_rows(
            source, "quantity", rows[over], quantity[rows[over]],
            f"warehouse {table['from_id'].iloc[rows[first]]} ships at most {limit[first]:,.0f} "
            f"units in the plan's days, and its locked lines take {int(out[first]):,}",
            "lock fewer units from this warehouse"))
    litres = quantity[rows] * p.sku_volume[sku[rows]]
    on_lane = pd.Series(litres).groupby(lane[rows]).transform("sum").to_numpy()
    cap = p.lane_litre_cap[lane[rows]]
    over = on_lane > cap + 1e-9
    if over.any():
        first = int(np.flatnonzero(over)[0])
        problems.append(problem_at_rows(
            source, "quantity", rows[over], quantity[rows[over]],
            f"the lane carries at most {cap[first]:,.0f} litres, and its locked lines take "
            f"{on_lane[first]:,.0f}", "lock fewer units on this lane"))
    if problems:
        raise InputError(problems, source)


def _positions(p: AllocationProblem, location: np.ndarray, sku: np.ndarray) -> np.ndarray:
    keys = pd.Index(p.position_location.astype(np.int64) * len(p.sku_ids) + p.position_sku)
    return keys.get_indexer(location.astype(np.int64) * len(p.sku_ids) + sku)


def edited_problem(problem: AllocationProblem, resolved: ResolvedEdits) -> AllocationProblem:
    """Return the week the free part of an edited plan is solved on (see the module docstring).

    Examples
    --------
    >>> from optimizer.allocation.model import example_problem
    >>> p = example_problem()  # S1 holds 9 (3 reserved), S2 holds 0
    >>> edits = edits_from_frame(pd.DataFrame({"from_id": ["S1"], "to_id": ["S2"],
    ...                                        "sku": ["A"], "action": ["lock"], "quantity": [2]}))
    >>> e = edited_problem(p, resolve_edits(p, edits))
    >>> e.stock.tolist(), e.reserve.tolist(), e.shippable.tolist()
    ([7, 2], [3, 2], [4, 0])
    """
    p = problem
    n_skus = len(p.sku_ids)
    stock, reserve = p.stock.copy(), p.reserve.copy()
    throughput = p.weekly_throughput.astype(float).copy()
    lane, sku, units = resolved.locked_lane, resolved.locked_sku, resolved.locked_quantity
    sender = _positions(p, p.lane_from[lane], sku)
    receiver = _positions(p, p.lane_to[lane], sku)
    np.subtract.at(stock, sender, units)
    np.add.at(stock, receiver, units)
    np.add.at(reserve, receiver, units)
    np.subtract.at(throughput, p.lane_from[lane], units)
    litres = np.bincount(lane, weights=units * p.sku_volume[sku], minlength=len(p.lane_from))
    cap = p.lane_litre_cap - litres
    drop = np.concatenate([lane.astype(np.int64) * n_skus + sku,
                           resolved.dropped_lane[resolved.dropped_lane >= 0].astype(np.int64)
                           * n_skus + resolved.dropped_sku[resolved.dropped_lane >= 0]])
    if p.dropped_lane_sku is not None:
        drop = np.concatenate([p.dropped_lane_sku, drop])
    return replace(p, stock=stock, reserve=reserve, weekly_throughput=throughput,
                   lane_volume_cap=None if not np.isfinite(cap).any() else cap,
                   dropped_lane_sku=np.unique(drop))


def locked_costs(problem: AllocationProblem, resolved: ResolvedEdits) -> dict[str, float]:
    """Return the transport of the locked lines: ``unit_cost``, ``shipment_cost``, loads."""
    p = problem
    lane, sku, units = resolved.locked_lane, resolved.locked_sku, resolved.locked_quantity
    unit_cost = float((units * (p.lane_unit_cost[lane]
                                + p.lane_litre_cost[lane] * p.sku_volume[sku])).sum())
    litres = np.bincount(lane, weights=units * p.sku_volume[sku], minlength=len(p.lane_from))
    loads = np.where(p.lane_shipment_cost > 0,
                     np.ceil(litres / p.lane_litres_per_load - 1e-9), 0.0)
    parcel = p.lane_modes == "parcel"
    return {"unit_cost": unit_cost, "shipment_cost": float((loads * p.lane_shipment_cost).sum()),
            "trucks": float(loads[~parcel].sum()), "parcels": float(loads[parcel].sum())}


def with_locked_lines(problem: AllocationProblem, resolved: ResolvedEdits,
                      free: AllocationResult) -> AllocationResult:
    """Return the week's plan: the free part (solved on :func:`edited_problem`) and the locks.

    Shipments, stock after and costs are those of ``problem`` (the week as given), loads
    counted on each lane's whole volume; the report's bound is the free part's plus the locked
    units' cost per unit (a bound of the edited week). ``quantity`` stays the free part's, per
    arc of the edited week's network.
    """
    p = problem
    lane, sku, units = resolved.locked_lane, resolved.locked_sku, resolved.locked_quantity
    case = np.where(p.is_warehouse[p.lane_from[lane]], p.sku_case_size[sku], 1)
    locked = pd.DataFrame({
        "from_id": p.location_ids[p.lane_from[lane]], "to_id": p.location_ids[p.lane_to[lane]],
        "sku": p.sku_ids[sku], "quantity": units.astype(np.int64),
        "cases": (units // case).astype(np.int64), "loose_units": (units % case).astype(np.int64),
        "unit_cost": p.lane_unit_cost[lane] + p.lane_litre_cost[lane] * p.sku_volume[sku],
        "lane": lane.astype(np.int64), "mode": p.lane_modes[lane],
        "lead_time_days": p.lane_lead_time_days[lane]})
    shipments = (pd.concat([free.shipments, locked], ignore_index=True) if len(locked)
                 else free.shipments.copy())
    shipments = shipments.sort_values(["from_id", "to_id", "sku"]).reset_index(drop=True)
    # Stock after, on the week as given: the edited week's stock after already holds the
    # locked units on both sides (taken from the sender, given to the receiver).
    stock_after = free.stock_after.copy()
    extra = locked_costs(p, resolved)
    costs = dict(free.costs)
    costs["unit_cost"] = costs["unit_cost"] + extra["unit_cost"]
    # Loads of the whole plan: locked and free shipments of a lane share its trucks or parcels.
    lane_of = shipments["lane"].to_numpy(dtype=np.int64)
    litres = np.bincount(lane_of, weights=shipments["quantity"].to_numpy(float)
                         * p.sku_volume[pd.Index(p.sku_ids).get_indexer(shipments["sku"])],
                         minlength=len(p.lane_from))
    loads = np.where(p.lane_shipment_cost > 0,
                     np.ceil(litres / p.lane_litres_per_load - 1e-9), 0.0)
    parcel = p.lane_modes == "parcel"
    costs["shipment_cost"] = float((loads * p.lane_shipment_cost).sum())
    costs["trucks"] = float(loads[~parcel].sum())
    costs["parcels"] = float(loads[parcel].sum())
    added = costs["unit_cost"] + costs["shipment_cost"] - free.costs["unit_cost"] \
        - free.costs["shipment_cost"]
    costs["objective"] = costs["shortage_cost"] + costs["unit_cost"] + costs["shipment_cost"]
    r = free.report
    # Any plan of the edited week pays the free part's cost (at least the free bound) plus
    # the locked units' cost per unit; its loads at least the free part's.
    bound = None if r.bound is None else r.bound + extra["unit_cost"]
    gap = plan_gap(costs, bound) if bound is not None else r.gap
    n_locked, n_dropped = len(resolved.edits.locked), len(resolved.edits.dropped)
    report = SolveReport(
        status=r.status, objective=costs["objective"], bound=bound, gap=gap,
        solve_seconds=r.solve_seconds, solver=r.solver,
        message=f"{r.message}; {n_locked} locked and {n_dropped} dropped lines "
                f"({int(units.sum()):,} locked units, {added:,.0f} transport)")
    return AllocationResult(shipments=shipments, stock_after=stock_after, costs=costs,
                            report=report, quantity=free.quantity)


def planned_units(lines: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    """Units each edit's line (from, to, SKU) ships in a plan's ``lines`` (0 when absent)."""
    if not len(lines):
        return np.zeros(len(table), dtype=np.int64)
    shipped = lines.assign(**{c: lines[c].astype(str) for c in ("from", "to", "sku")}).groupby(
        ["from", "to", "sku"])["quantity"].sum()
    index = pd.MultiIndex.from_arrays([table["from_id"], table["to_id"], table["sku"]])
    return shipped.reindex(index).fillna(0).to_numpy(dtype=np.int64)


def edit_outcomes(edits: PlanEdits, lines: pd.DataFrame,
                  free_lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return each edit with what the plan did with it (the "Locked and dropped lines" sheet).

    Locked lines first, then dropped ones, each sorted by line. Columns: ``from_id``,
    ``to_id``, ``sku``, ``action``, ``locked_quantity``,
    ``planned_quantity`` (what the edited plan ships on the line), ``free_plan_quantity``
    (what the plan without edits shipped, when known) and ``outcome`` in words.

    Examples
    --------
    >>> edits = edits_from_frame(pd.DataFrame({"from_id": ["W1", "S2"], "to_id": ["S1", "S3"],
    ...     "sku": ["A", "A"], "action": ["lock", "drop"], "quantity": [6, None]}))
    >>> lines = pd.DataFrame({"from": ["W1"], "to": ["S1"], "sku": ["A"], "quantity": [6]})
    >>> free = pd.DataFrame({"from": ["S2"], "to": ["S3"], "sku": ["A"], "quantity": [2]})
    >>> edit_outcomes(edits, lines, free)["outcome"].tolist()  # locked lines first
    ['locked: ships 6 (the free plan shipped 0)', 'dropped: ships 0 (the free plan shipped 2)']
    """
    t = edits.table
    planned = planned_units(lines, t)
    free = planned_units(free_lines, t) if free_lines is not None else None
    words = []
    for i, action in enumerate(t["action"]):
        text = f"{'locked' if action == 'lock' else 'dropped'}: ships {planned[i]:,}"
        if free is not None:
            text += f" (the free plan shipped {free[i]:,})"
        words.append(text)
    out = pd.DataFrame({"from_id": t["from_id"], "to_id": t["to_id"],
                        "sku": t["sku"], "action": t["action"],
                        "locked_quantity": np.where(t["action"] == "lock", t["quantity"], 0),
                        "planned_quantity": planned})
    out["free_plan_quantity"] = free if free is not None else np.nan
    out["outcome"] = words
    # Locked lines first, then dropped, each by line: the same sheet from a file or an editor.
    return out.sort_values(["action", "from_id", "to_id", "sku"], ascending=[False, True, True,
                                                                            True],
                           kind="stable").reset_index(drop=True)



def with_locked_transport(transport: dict[str, float], problem: AllocationProblem,
                          resolved: ResolvedEdits) -> dict[str, float]:
    """Return the transport KPIs of the free part with the locked lines added.

    ``transport`` is :func:`optimizer.allocation.transport.transport_kpis` of the edited week;
    the planner's rule is run on the same edited week, so the locked lines are added to both
    the plan and the rule, and the saving against the rule stays the free parts' difference.
    """
    p = problem
    out = dict(transport)
    mode = p.lane_modes[resolved.locked_lane]
    units = resolved.locked_quantity.astype(float)
    for name, key in (("scheduled", "units_scheduled"), ("dedicated", "units_dedicated"),
                      ("parcel", "units_parcel"), ("truck", "units_store_truck")):
        out[key] = out.get(key, 0.0) + float(units[mode == name].sum())
    extra = locked_costs(p, resolved)
    out["parcels"] = out.get("parcels", 0.0) + extra["parcels"]
    rule = out["rule_cost"] + extra["unit_cost"] + extra["shipment_cost"]
    out["rule_cost"] = round(rule, 2)
    out["expected_saving_vs_rule_pct"] = round(
        100 * out["expected_saving_vs_rule"] / max(rule, 1e-9), 2)
    return out
