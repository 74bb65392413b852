"""The planner's rule and the simulated backtest, under both cost structures."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.allocation.backtest import backtest, draw_demand
from optimizer.allocation.flows import plan_cost, position_moves
from optimizer.allocation.model import build_network
from optimizer.allocation.rule import planner_rule
from optimizer.allocation.solve import _result, solve_allocation
from optimizer.results import SolveReport
from tests.allocation.test_allocation import assert_plan_invariants, synthetic_problem


@pytest.mark.parametrize("structure", ["realistic", "dedicated"])
def test_planner_rule_is_a_feasible_plan_that_tops_stores_up(structure: str) -> None:
    problem = synthetic_problem(seed=6, structure=structure, throughput=60.0)
    network = build_network(problem)
    quantity = planner_rule(problem, network)
    cost = plan_cost(problem, network, quantity)
    report = SolveReport("feasible", cost["objective"], None, None, 0.0, "rule", "")
    result = _result(problem, network, quantity, report)
    assert len(result.shipments) > 0
    assert_plan_invariants(problem, result)
    # Each receiver gets at most one warehouse lane and one store lane (its nearest ones).
    s = result.shipments
    from_warehouse = problem.is_warehouse[problem.lane_from[s["lane"]]]
    assert not s[from_warehouse].duplicated(["to_id", "sku"]).any()
    assert not s[~from_warehouse].duplicated(["to_id", "sku"]).any()
    # Warehouse shipments never exceed the need rounded up to one pick unit.
    sent, received = position_moves(problem, network, quantity)
    level = problem.order_up_to
    assert np.all(problem.stock + received - sent
                  <= np.maximum(level, problem.stock) + problem.sku_case_size[problem.position_sku])


def test_backtest_is_seeded_and_ranks_plans() -> None:
    problem = synthetic_problem(seed=2, structure="realistic")
    network = build_network(problem)
    plan = solve_allocation(problem, method="decomposition", time_limit=10,
                            dual_iterations=200).quantity
    plans = {"plan": plan, "rule": planner_rule(problem, network),
             "nothing": np.zeros_like(plan)}
    first = backtest(problem, network, plans, weeks=20, seed=3)
    again = backtest(problem, network, plans, weeks=20, seed=3)
    assert first.equals(again)
    by = first.set_index("plan")
    assert by.loc["nothing", "transport_cost"] == 0
    assert by.loc["plan", "stockout_units"] < by.loc["nothing", "stockout_units"]
    assert by.loc["plan", "total_cost"] < by.loc["nothing", "total_cost"]
    assert by.loc["plan", "fill_rate"] > by.loc["nothing", "fill_rate"]
    # Lost margin is margin times units short, week by week, on the same draws.
    rng = np.random.default_rng(3)
    draws = [draw_demand(problem, rng) for _ in range(20)]
    short = np.mean([np.maximum(d - problem.stock, 0).sum() for d in draws])
    assert by.loc["nothing", "stockout_units"] == pytest.approx(short)
