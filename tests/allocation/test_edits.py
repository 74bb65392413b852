"""A planner's edits: dropped lines ship 0, locked lines ship exactly, the rest re-optimised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.allocation.edits import (
    edited_problem,
    edits_from_frame,
    resolve_edits,
    with_locked_lines,
)
from optimizer.allocation.model import AllocationProblem, build_network
from optimizer.allocation.rule import planner_rule
from optimizer.allocation.solve import solve_allocation
from optimizer.errors import InputError
from tests.allocation.test_allocation import assert_plan_invariants, synthetic_problem


def _week() -> AllocationProblem:
    return synthetic_problem(n_stores=10, n_skus=3, seed=4, structure="realistic",
                             throughput=400.0)


def _solve(problem: AllocationProblem, edits: pd.DataFrame | None = None, **options: object):
    options = {"method": "monolithic", "mip_gap": 1e-6, "time_limit": 30.0, **options}
    if edits is None:
        return solve_allocation(problem, **options)  # type: ignore[arg-type]
    resolved = resolve_edits(problem, edits_from_frame(edits))
    edited = edited_problem(problem, resolved)
    return with_locked_lines(problem, resolved, solve_allocation(edited, **options))  # type: ignore[arg-type]


def _shipped(result, from_id: str, to_id: str, sku: str) -> int:
    s = result.shipments
    return int(s.loc[(s["from_id"] == from_id) & (s["to_id"] == to_id) & (s["sku"] == sku),
                     "quantity"].sum())


def _edit(rows: list[tuple[str, str, str, str, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["from_id", "to_id", "sku", "action", "quantity"])


@pytest.fixture(scope="module")
def week() -> tuple[AllocationProblem, object]:
    problem = _week()
    return problem, _solve(problem)


def test_dropping_a_line_the_free_optimum_ships(week) -> None:
    problem, free = week
    assert free.report.status == "optimal"
    biggest = free.shipments.sort_values("quantity").iloc[-1]
    line = (biggest["from_id"], biggest["to_id"], biggest["sku"])
    assert _shipped(free, *line) > 0
    edited = _solve(problem, _edit([(*line, "drop", None)]))
    assert _shipped(edited, *line) == 0
    assert_plan_invariants(problem, edited)
    # The edited week is the free week with one more constraint: it cannot cost less.
    assert edited.costs["objective"] >= free.costs["objective"] - 1e-6
    assert edited.costs["objective"] >= free.report.bound - 1e-6


def test_locking_a_quantity_ships_exactly_that(week) -> None:
    problem, free = week
    p = problem
    # A store-to-store lane and SKU the free plan leaves empty, from a sender with surplus.
    n_skus = len(p.sku_ids)
    shippable = dict(zip(zip(p.position_location, p.position_sku, strict=True), p.shippable,
                         strict=True))
    candidates = [(lane, k) for lane in range(len(p.lane_from)) for k in range(n_skus)
                  if not p.is_warehouse[p.lane_from[lane]]
                  and shippable.get((p.lane_from[lane], k), 0) >= 3
                  and (p.lane_to[lane], k) in shippable
                  and _shipped(free, p.location_ids[p.lane_from[lane]],
                               p.location_ids[p.lane_to[lane]], p.sku_ids[k]) == 0]
    lane, k = candidates[0]
    line = (p.location_ids[p.lane_from[lane]], p.location_ids[p.lane_to[lane]], p.sku_ids[k])
    edited = _solve(problem, _edit([(*line, "lock", 3)]))
    assert _shipped(edited, *line) == 3
    assert_plan_invariants(problem, edited)
    assert edited.costs["objective"] >= free.costs["objective"] - 1e-6
    # The receiver holds the 3 locked units on top of what else it gets and keeps.
    s = edited.shipments
    receiver = (p.position_location == p.lane_to[lane]) & (p.position_sku == k)
    got = s.loc[(s["to_id"] == line[1]) & (s["sku"] == line[2]), "quantity"].sum()
    gave = s.loc[(s["from_id"] == line[1]) & (s["sku"] == line[2]), "quantity"].sum()
    assert int(edited.stock_after[receiver][0]) == int(p.stock[receiver][0] + got - gave)


def test_every_solve_path_keeps_the_edits(week) -> None:
    problem, free = week
    s = free.shipments.sort_values(["quantity", "from_id", "to_id", "sku"])
    drop = tuple(s.iloc[-1][["from_id", "to_id", "sku"]])
    keep = s.iloc[-2]
    lock_q = int(keep["quantity"]) // int(keep["cases"] or 1) if keep["cases"] else 1
    lock = (keep["from_id"], keep["to_id"], keep["sku"])
    edits = _edit([(*drop, "drop", None), (*lock, "lock", lock_q)])
    for method in ("decomposition", "hybrid", "relaxation"):
        result = _solve(problem, edits, method=method, time_limit=6.0)
        assert _shipped(result, *drop) == 0, method
        assert _shipped(result, *lock) == lock_q, method
        assert_plan_invariants(problem, result)
    # The planner's rule on the edited week leaves the dropped and locked arcs empty.
    resolved = resolve_edits(problem, edits_from_frame(edits))
    edited = edited_problem(problem, resolved)
    network = build_network(edited)
    rule = planner_rule(edited, network)
    n_skus = len(problem.sku_ids)
    keys = network.arc_lane[rule > 0] * n_skus + network.arc_sku[rule > 0]
    assert not np.isin(keys, edited.dropped_lane_sku).any()


def test_edited_week_moves_the_locked_units() -> None:
    problem = _week()
    p = problem
    lane, sku = next((int(lane), int(p.position_sku[q]))
                     for lane in np.flatnonzero(~p.is_warehouse[p.lane_from])
                     for q in np.flatnonzero((p.position_location == p.lane_from[lane])
                                             & (p.shippable >= 2)))
    sender = np.flatnonzero((p.position_location == p.lane_from[lane]) & (p.position_sku == sku))
    receiver = np.flatnonzero((p.position_location == p.lane_to[lane]) & (p.position_sku == sku))
    edits = edits_from_frame(_edit([(p.location_ids[p.lane_from[lane]],
                                     p.location_ids[p.lane_to[lane]], p.sku_ids[sku], "lock", 2)]))
    e = edited_problem(p, resolve_edits(p, edits))
    assert e.stock[sender[0]] == p.stock[sender[0]] - 2
    assert e.shippable[sender[0]] == p.shippable[sender[0]] - 2
    assert e.stock[receiver[0]] == p.stock[receiver[0]] + 2
    assert e.shippable[receiver[0]] == p.shippable[receiver[0]]  # not sent on
    assert lane * len(p.sku_ids) + sku in e.dropped_lane_sku


@pytest.mark.parametrize(("rows", "words"), [
    ([("S000", "S999", "K0", "lock", 1)], "not a known store or warehouse"),
    ([("S000", "S001", "K9", "drop", None)], "not a known SKU"),
    ([("S000", "S001", "K0", "lock", -2)], "whole number of units, 0 or more"),
    ([("S000", "S001", "K0", "lock", 1), ("S000", "S001", "K0", "drop", None)],
     "both locked and dropped"),
    ([("S000", "S001", "K0", "move", 1)], "not lock or drop"),
])
def test_bad_edit_rows_are_named(rows, words) -> None:
    with pytest.raises(InputError) as caught:
        resolve_edits(_week(), edits_from_frame(_edit(rows), source="edits.csv"))
    text = str(caught.value)
    assert words in text and "edits.csv" in text and "row " in text and "Fix:" in text


def test_locking_above_the_senders_surplus_is_refused() -> None:
    p = _week()
    lane = int(np.flatnonzero(~p.is_warehouse[p.lane_from])[0])
    sender = np.flatnonzero(p.position_location == p.lane_from[lane])[0]
    too_many = int(p.shippable[sender]) + 1
    rows = [(p.location_ids[p.lane_from[lane]], p.location_ids[p.lane_to[lane]],
             p.sku_ids[p.position_sku[sender]], "lock", too_many)]
    with pytest.raises(InputError, match=f"has {int(p.shippable[sender]):,} units"):
        resolve_edits(p, edits_from_frame(_edit(rows), source="edits.csv"))


def test_locking_off_the_lanes_or_in_broken_cases_is_refused() -> None:
    p = _week()
    stores = p.location_ids[~p.is_warehouse]
    pairs = set(zip(p.lane_from, p.lane_to, strict=True))
    index = {name: i for i, name in enumerate(p.location_ids)}
    a, b = next((x, y) for x in stores for y in stores
                if x != y and (index[x], index[y]) not in pairs)
    with pytest.raises(InputError, match="no lane from this sender"):
        resolve_edits(p, edits_from_frame(_edit([(a, b, "K0", "lock", 1)])))
    case_sku = int(np.flatnonzero(p.sku_case_size > 1)[0])
    lane = int(np.flatnonzero(p.is_warehouse[p.lane_from])[0])
    with pytest.raises(InputError, match="whole cases"):
        resolve_edits(p, edits_from_frame(_edit([
            (p.location_ids[p.lane_from[lane]], p.location_ids[p.lane_to[lane]],
             p.sku_ids[case_sku], "lock", int(p.sku_case_size[case_sku]) + 1)])))
