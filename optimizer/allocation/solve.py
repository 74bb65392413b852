r"""The weekly transfer and replenishment plan: decomposition by SKU with a proven bound.

Formulation (per SKU :math:`k`, lane :math:`\ell`, position :math:`p` = location x SKU):

.. math::

    \min\; & \sum_p m_k\, ES_p(y_p) + \sum_{\ell,k} c_\ell x_{\ell k} + \sum_\ell F_\ell n_\ell \\
    \text{s.t.}\; & y_p = s_p - \sum_{\ell \in out(p)} x_{\ell k} + \sum_{\ell \in in(p)} x_{\ell k}
        && (1)\ \text{stock balance} \\
    & \sum_{\ell \in out(p)} x_{\ell k} \le s_p - r_p && (2)\ \text{reserve stays} \\
    & \sum_k v_k x_{\ell k} \le C\, n_\ell,\; n_\ell \in \mathbb{Z}_{\ge 0} && (3)\ \text{trucks} \\
    & x_{\ell k} \in a_k \mathbb{Z}_{\ge 0} \text{ for warehouse lanes} && (4)\ \text{whole cases} \\
    & x_{\ell k} = 0 \text{ or } x_{\ell k} \ge u \text{ for store lanes} && (5)\ \text{minimum lot} \\
    & \sum_{\ell \in out(w), k} x_{\ell k} \le T_w && (6)\ \text{warehouse throughput} \\
    & \sum_{\ell\, cross} x_{\ell k} \le \rho \sum_{\ell} x_{\ell k} && (7)\ \text{cross-region share}

with :math:`ES_p` the expected units short next week (convex, piecewise linear at whole units)
and :math:`m_k` the margin lost per unit short. Lanes exist only within the warehouse service
radius or the week's lead time.

Only (3), (6) and (7) couple SKUs; the fixed cost per truck is what makes the problem hard
(most lanes carry far less than a truck), together with whole cases (4): the 500 x 200
benchmark week closes to 0.9 % with cases of one unit. The bound is the Lagrangian dual of
:mod:`optimizer.allocation.dual`: every unit segment of shortage saving is filled at most once
and every sender ships at most its surplus (both priced), which leaves one exact problem per
lane (open it for a truck or not; whole cases per SKU), raised by the volume algorithm, in
turn with block steps that move each location's prices on their own
(:mod:`optimizer.allocation.blocks`), on small weeks from the prices of a linear program over
the lanes (:mod:`optimizer.allocation.lp`). Plans
come from the lanes that the dual opens in a good share of recent steps: per-SKU min-cost flows
on those lanes (their trucks paid), repaired to meet (3)-(7) exactly, whole cases then chosen
exactly for the transfers and the transfers for the cases (:mod:`optimizer.allocation.plans`),
then lanes whose trucks cost more than they save are closed and the flows re-solved. The
report's bound is the best dual value, the objective the best plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..results import SolveReport
from .dual import lane_dual
from .flows import enforce_limits, plan_cost, position_moves, solve_sku_flows
from .model import AllocationProblem, FlowNetwork, build_network
from .search import PlanSearch, plan_gap
from .worker import PlanWorker, fork_available

Method = Literal["auto", "decomposition", "monolithic", "hybrid"]

HYBRID_MAX_ARCS = 100_000
"""``method="auto"`` takes the hybrid (decomposition, then HiGHS from its plan) on weeks of at
most this many arcs whose warehouse lanes are scheduled routes; the decomposition alone on
larger weeks and wherever dedicated trucks serve the stores (measured in
docs/bench_allocation.md)."""

HYBRID_DECOMPOSITION_SHARE = 0.35
"""Share of the time limit the hybrid gives the decomposition before HiGHS takes over."""


@dataclass(frozen=True)
class AllocationResult:
    """A solved weekly allocation.

    Attributes
    ----------
    shipments
        One row per lane and SKU shipped: ``from_id``, ``to_id``, ``sku``, ``quantity``,
        ``cases``, ``unit_cost``, ``lane`` (index), ``lead_time_days``.
    stock_after
        Stock per position after the moves (aligned with ``problem.stock``).
    costs
        ``shortage_cost``, ``unit_cost``, ``shipment_cost``, ``trucks``, ``objective``.
    report
        Status, objective, bound, gap and time.
    quantity
        Units per arc of the week's flow network (lane arcs carry the shipments).
    """

    shipments: pd.DataFrame
    stock_after: np.ndarray
    costs: dict
    report: SolveReport
    quantity: np.ndarray | None = None


def solve_allocation(problem: AllocationProblem, *, method: Method = "auto",
                     mip_gap: float = 0.01, time_limit: float = 300.0,
                     dual_iterations: int = 2_000, network: FlowNetwork | None = None,
                     workers: int = 1) -> AllocationResult:
    """Plan next week's transfers and replenishment.

    Parameters
    ----------
    problem
        The week's positions, lanes, SKUs and locations (:func:`problem_from_frames`).
    method
        ``"decomposition"`` (lane Lagrangian bound, plans from per-SKU min-cost flows on the
        lanes it opens), ``"monolithic"`` (one MIP in HiGHS; small instances and benchmarks),
        ``"hybrid"`` (the decomposition for ``HYBRID_DECOMPOSITION_SHARE`` of the time, then
        the monolithic MIP in HiGHS started from its plan for the rest; the cheaper plan and
        the higher bound are kept), or ``"auto"``: the hybrid where warehouse lanes are
        scheduled routes and the week has at most ``HYBRID_MAX_ARCS`` arcs, the
        decomposition otherwise.
    mip_gap
        Relative gap under which the plan counts as optimal.
    time_limit
        Seconds; the best plan so far is returned when it runs out.
    dual_iterations
        Most bound steps (the volume algorithm's and block steps); on the demo week with
        dedicated trucks 2,000 steps take about 30 s and end at a 3.8 % gap, 500 take 10 s and
        end at 4.1 %.
    workers
        Processes for the decomposition: with 2 (and a platform that can fork) plans are built
        in a second process while the bound steps run (:mod:`optimizer.allocation.worker`), so
        a second core is used; with 1 both run in turn in this process, and a run that ends
        before its time limit gives the same plan every time.

    Returns
    -------
    AllocationResult

    Examples
    --------
    >>> from optimizer.allocation.model import example_problem
    >>> problem = example_problem()  # two stores, one SKU, one lane
    >>> result = solve_allocation(problem)
    >>> result.report.status, int(result.shipments["quantity"].sum()) > 0
    ('optimal', True)
    """
    started = time.perf_counter()
    network = build_network(problem) if network is None else network
    if method == "monolithic":
        from .mip import solve_monolithic

        quantity, report = solve_monolithic(problem, network, mip_gap=mip_gap,
                                            time_limit=time_limit)
        return _result(problem, network, quantity, report)
    if method == "auto":
        method = "hybrid" if _routes_served(problem, network) else "decomposition"
    if method == "hybrid" and not _uncoupled(problem):
        return _hybrid(problem, network, mip_gap=mip_gap, time_limit=time_limit,
                       dual_iterations=dual_iterations, started=started, workers=workers)
    return _decompose(problem, network, mip_gap=mip_gap, time_limit=time_limit,
                      dual_iterations=dual_iterations, started=started, workers=workers)


def _decompose(problem: AllocationProblem, network: FlowNetwork, *, mip_gap: float,
               time_limit: float, dual_iterations: int, started: float,
               workers: int) -> AllocationResult:
    p = problem
    clock = time.perf_counter
    deadline = started + time_limit
    if _uncoupled(p):
        flows, flow_cost = solve_sku_flows(network, network.arc_cost)
        quantity = enforce_limits(p, network, flows)
        cost = plan_cost(p, network, quantity)
        bound = network.baseline + flow_cost
        gap = plan_gap(cost, bound)
        report = SolveReport(
            status="optimal" if gap <= mip_gap else "feasible", objective=cost["objective"],
            bound=bound, gap=gap, solve_seconds=clock() - started,
            solver="ortools-min-cost-flow",
            message="no truck costs, throughput or cross-region caps: one min-cost flow per SKU"
                    + ("" if gap <= mip_gap else "; whole cases cost the gap"))
        return _result(p, network, quantity, report)
    search = PlanSearch(p, network, lane_dual(p, network), mip_gap=mip_gap, started=started,
                        deadline=deadline, dual_iterations=dual_iterations)
    if workers > 1 and fork_available():
        with PlanWorker(p, network) as worker:
            search.run_with_worker(worker)
    else:
        search.run()
    assert search.best_cost is not None and search.best_plan is not None  # a first plan always
    gap = plan_gap(search.best_cost, search.state.value.bound)
    report = SolveReport(
        status="optimal" if gap <= mip_gap else "feasible",
        objective=search.best_cost["objective"], bound=search.state.value.bound, gap=gap,
        solve_seconds=clock() - started, solver="lane-lagrangian+ortools-min-cost-flow",
        message=(f"{search.steps} bound steps (lane Lagrangian, volume algorithm with block "
                 "steps per location"
                 + (", from the lane program's prices" if search.lp_used else "") + ") and "
                 f"{search.plans} plans (per-SKU min-cost flows over {len(p.sku_ids)} SKUs"
                 + (", in a second process" if search.parallel else "") + ")"
                 + ("" if gap <= mip_gap else f"; gap {gap:.2%} above the requested "
                    f"{mip_gap:.2%}")))
    return _result(p, network, search.best_plan, report)


def _routes_served(p: AllocationProblem, network: FlowNetwork) -> bool:
    """Return whether stores are replenished on scheduled routes and the week suits the hybrid.

    Scheduled routes: no dedicated truck from any warehouse.
    """
    from_warehouse = p.lane_from_warehouse
    return (len(network.arc_cost) <= HYBRID_MAX_ARCS
            and not np.any(p.lane_modes[from_warehouse] == "dedicated"))


def _hybrid(problem: AllocationProblem, network: FlowNetwork, *, mip_gap: float,
            time_limit: float, dual_iterations: int, started: float,
            workers: int) -> AllocationResult:
    """Run the decomposition for a share of the time, then HiGHS from its plan.

    See :func:`solve_allocation`; the cheaper plan and the higher bound are reported.
    """
    from .mip import solve_monolithic

    clock = time.perf_counter
    first = _decompose(problem, network, mip_gap=mip_gap,
                       time_limit=HYBRID_DECOMPOSITION_SHARE * time_limit,
                       dual_iterations=dual_iterations, started=started, workers=workers)
    d = first.report
    left = started + time_limit - clock()
    if d.status == "optimal" or left < 1.0:
        return first
    quantity, mip = solve_monolithic(problem, network, mip_gap=mip_gap, time_limit=left,
                                     start=first.quantity)
    plan = first.quantity
    assert plan is not None  # every result of the decomposition carries its plan
    if mip.has_solution and plan_cost(problem, network, quantity)["objective"] < first.costs[
            "objective"]:
        plan = quantity
    cost = plan_cost(problem, network, plan)
    bound = max(b for b in (d.bound, mip.bound) if b is not None)
    gap = plan_gap(cost, bound)
    report = SolveReport(
        status="optimal" if gap <= mip_gap else "feasible", objective=cost["objective"],
        bound=bound, gap=gap, solve_seconds=clock() - started,
        solver="lane-lagrangian+ortools-min-cost-flow+highs",
        message=(f"decomposition {d.objective:,.0f} / {d.bound:,.0f} in "
                 f"{d.solve_seconds:.0f} s ({d.message}), then HiGHS from its plan: "
                 f"{mip.message}; plan from "
                 + ("HiGHS" if plan is quantity else "the decomposition")
                 + ("" if gap <= mip_gap else f"; gap {gap:.2%} above the requested "
                    f"{mip_gap:.2%}")))
    return _result(problem, network, plan, report)


def _uncoupled(p: AllocationProblem) -> bool:
    """Return whether nothing ties the SKUs together.

    That is: no truck or parcel costs, no throughput, lane volume or cross-region cap.
    """
    used_origin = np.unique(p.lane_from)
    return (not np.any(p.lane_shipment_cost > 0) and p.max_cross_region_share is None
            and not np.any(np.isfinite(p.weekly_throughput[used_origin]))
            and not np.any(np.isfinite(p.lane_litre_cap)))


def _result(p: AllocationProblem, network: FlowNetwork, quantity: np.ndarray,
            report: SolveReport) -> AllocationResult:
    sent, received = position_moves(p, network, quantity)
    arcs = np.flatnonzero(quantity > 0)
    lane = network.arc_lane[arcs]
    sku = network.arc_sku[arcs]
    units = quantity[arcs]
    case = p.sku_case_size[sku]
    shipments = pd.DataFrame({
        "from_id": p.location_ids[p.lane_from[lane]], "to_id": p.location_ids[p.lane_to[lane]],
        "sku": p.sku_ids[sku], "quantity": units.astype(np.int64),
        "cases": (units // case).astype(np.int64),
        "loose_units": (units % case).astype(np.int64),
        "unit_cost": network.arc_cost[arcs], "lane": lane, "mode": p.lane_modes[lane],
        "lead_time_days": p.lane_lead_time_days[lane]})
    costs = plan_cost(p, network, quantity)
    return AllocationResult(shipments=shipments.sort_values(["from_id", "to_id", "sku"])
                            .reset_index(drop=True),
                            stock_after=p.stock - sent + received, costs=costs, report=report,
                            quantity=quantity)
