"""The weekly plan: forecast, safety stock, and the transfer and replenishment plan.

The entry is :func:`plan_week` (stores, warehouses, SKUs, stock and sales in; a
:class:`WeeklyPlan` out). Its parts, one module each:

- :mod:`.inputs` checks the inventory tables, :mod:`.forecast` turns sales history into next
  week's demand distribution, :mod:`.safety_stock` the service-level arithmetic;
- :mod:`.lanes` prices the lanes between locations, :mod:`.model` builds the
  :class:`AllocationProblem` and its flow network;
- :mod:`.solve` (:func:`solve_allocation`) runs the solver: the Lagrangian bound
  (:mod:`.dual`, :mod:`.blocks`, :mod:`.lp`), the plans (:mod:`.flows`, :mod:`.plans`),
  the search that alternates them (:mod:`.search`, :mod:`.worker`) and the monolithic MIP
  (:mod:`.mip`);
- :mod:`.kpis` computes the plan's KPIs, :mod:`.transport` those of its cost structure;
- :mod:`.rule` is a planner's rule to compare plans with, :mod:`.backtest` plays plans out
  over seeded weeks of simulated demand;
- what planners read of a plan: :mod:`.cards` (warehouse, store and store-SKU cards),
  :mod:`.ship_days` (ship days within the week under daily throughput and delivery days),
  :mod:`.slow_movers` (cover, movers, stockout risk, regional mix, returns),
  :mod:`.demand_guide` (forecast and backtest per store-SKU), :mod:`.supplier_orders`
  (supplier-to-warehouse orders), :mod:`.day_plan` (:func:`plan_day`, a one-day re-plan),
  and :mod:`.planner_tables`, all of them for one plan in one call.
"""

from .day_plan import plan_day
from .model import AllocationProblem, problem_from_frames
from .plan import PlanSettings, WeeklyPlan, input_fingerprint, plan_week, week_problem
from .solve import AllocationResult, solve_allocation

__all__ = [
    "AllocationProblem",
    "AllocationResult",
    "PlanSettings",
    "WeeklyPlan",
    "input_fingerprint",
    "plan_day",
    "plan_week",
    "problem_from_frames",
    "solve_allocation",
    "week_problem",
]
