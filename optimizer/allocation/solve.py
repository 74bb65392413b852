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

import contextlib
import multiprocessing
import time
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd

from ..results import SolveReport
from .dual import lane_dual
from .flows import enforce_limits, lane_volumes, plan_cost, position_moves, solve_sku_flows
from .model import ARC_LANE, AllocationProblem, FlowNetwork, build_network
from .search import PlanSearch, plan_gap
from .worker import ForkedCall, PlanWorker, fork_available

Method = Literal["auto", "decomposition", "monolithic", "hybrid", "relaxation"]

HYBRID_MAX_ARCS = 100_000
"""``method="auto"`` takes the hybrid (decomposition, then HiGHS from its plan) on weeks of at
most this many arcs whose warehouse lanes are scheduled routes; the relaxation on larger
route-served weeks, the decomposition wherever dedicated trucks serve the stores (measured in
docs/bench_allocation.md)."""

HYBRID_DECOMPOSITION_SHARE = 0.35
"""Share of the time limit the hybrid gives the decomposition before HiGHS takes over."""

RELAXATION_LP_SHARE = 0.3
"""Most of the time limit the relaxation method gives the priced flows' steps (its first
bound)."""

LIFT_MARGIN = 0.02
"""With two or more workers the lane dual runs beside the plan's improvement in a second
process; it stops this share of the time limit before the end, so that its answer is in."""

LIFT_SHARE = 0.25
"""Share of the time limit the relaxation method gives the lane dual started from the flows'
prices (:func:`optimizer.allocation.flow_prices.lift_bound`), after the first plan: on the
realistic 500 x 200 week it lifts the bound 545,066 -> 550,055 in 20 s, more than the strong
rows' linear relaxation (546,938 in 42 s, which it replaces)."""

REGION_BLOCK_ARCS = 8_000
"""Most arcs of one region block of the relaxation method's improvement MIPs (on 250 x 100,
30 s of blocks of 3,000 or 8,000 arcs each saved 0.04 % after the SKU polish)."""

POLISH_SHARE = 0.15
"""Share of the time limit kept for the exact whole-case polish of the final plan
(:mod:`optimizer.allocation.polish`); the polish also takes whatever the solve leaves."""


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
                     workers: int = 1, polish: bool = True) -> AllocationResult:
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
        the higher bound are kept), ``"relaxation"`` (the linear relaxation by per-SKU
        min-cost flows for the bound, a plan on the lanes it uses, then exact MIPs by SKU and
        by region for the time left), or ``"auto"``: where warehouse lanes are scheduled
        routes, the hybrid on weeks of at most ``HYBRID_MAX_ARCS`` arcs and the relaxation on
        larger ones; the decomposition where dedicated trucks serve stores.
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
    polish
        Polish the final plan with the exact per-SKU whole-case MIP on its own lanes
        (:func:`optimizer.allocation.polish.polish_plan`) in the last ``POLISH_SHARE`` of the
        time limit (and whatever the solve leaves); never with ``"monolithic"``.

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
    polish_deadline = started + time_limit
    if polish:
        time_limit *= 1.0 - POLISH_SHARE
    if method == "auto":
        arcs = len(network.arc_cost)
        method = ("hybrid" if _routes_served(problem) and arcs <= HYBRID_MAX_ARCS
                  else "relaxation" if _routes_served(problem)
                  else "decomposition")
    solve = ({"hybrid": _hybrid, "relaxation": _relaxation}.get(method, _decompose)
             if not _uncoupled(problem) else _decompose)
    result = solve(problem, network, mip_gap=mip_gap, time_limit=time_limit,
                   dual_iterations=dual_iterations, started=started, workers=workers)
    return _polished(problem, network, result, started=started, deadline=polish_deadline,
                     mip_gap=mip_gap) if polish else result


def _polished(problem: AllocationProblem, network: FlowNetwork, result: AllocationResult, *,
              started: float, deadline: float, mip_gap: float) -> AllocationResult:
    """Return ``result`` with its plan polished (:func:`polish_plan`) until ``deadline``.

    A cheaper plan is passed to the progress reporter.
    """
    from ..solvers import progress_reporter
    from .polish import polish_plan

    r = result.report
    assert result.quantity is not None and r.bound is not None  # every plan path sets both
    if r.gap is not None and r.gap <= 1e-9:
        return result
    polished = polish_plan(problem, network, result.quantity, deadline=deadline)
    cost = plan_cost(problem, network, polished.quantity)
    gap = plan_gap(cost, r.bound)
    if polished.objective_after < polished.objective_before:
        progress_reporter()(time.perf_counter() - started, cost["objective"], r.bound,
                            new_plan=True)
    report = SolveReport(
        status="optimal" if gap <= mip_gap else "feasible", objective=cost["objective"],
        bound=r.bound, gap=gap, solve_seconds=r.solve_seconds + polished.seconds,
        solver=r.solver + "+polish", message=f"{r.message}; {polished.summary()}")
    return _result(problem, network, polished.quantity, report)


def _relaxation(problem: AllocationProblem, network: FlowNetwork, *, mip_gap: float,
                time_limit: float, dual_iterations: int, started: float,
                workers: int) -> AllocationResult:
    """Bound by the linear relaxation, plan on its lanes, improve it by SKU and by region.

    The linear relaxation comes from one min-cost flow per SKU with the cross-SKU rows priced
    (:func:`optimizer.allocation.flow_relaxation.flow_relaxation`: on the national week 6 s,
    where HiGHS did not solve it in 900 s). A plan is built on the lanes the relaxation ships on
    (:func:`optimizer.allocation.plans.plan_on_lanes`). The lane dual, started from the flows'
    prices, then lifts the bound for ``LIFT_SHARE`` of the time (lanes pay their first parcel or
    truck whole: :func:`optimizer.allocation.flow_prices.lift_bound`); with ``workers > 1`` in a
    second process beside the polish for the whole time limit, both stopping once the plan is
    within ``mip_gap`` of the bound it shares. The plan is improved by the exact MIP of one
    SKU at a time (:func:`optimizer.allocation.polish.polish_plan`; on 250 x 100, 30 s of them
    saved 0.26 %), then of one region's stores and a group of SKUs at a time, every other
    shipment fixed (:func:`optimizer.allocation.polish.region_blocks`, any lane may open), for
    the time left.
    """
    from ..solvers import progress_reporter
    from .flow_prices import lift_bound
    from .flow_relaxation import flow_relaxation
    from .plans import plan_on_lanes
    from .polish import polish_plan, region_blocks

    clock = time.perf_counter
    deadline = started + time_limit
    lp_deadline = started + RELAXATION_LP_SHARE * time_limit
    relaxation = flow_relaxation(problem, network, deadline=lp_deadline)
    lane_arc = network.arc_kind == ARC_LANE
    bound, shipped = relaxation.bound, np.where(lane_arc, relaxation.flows, 0)
    notes = [relaxation.summary()]
    open_lanes = lane_volumes(problem, network, shipped) > 0
    plan, lp_cost = plan_on_lanes(problem, network, open_lanes, deadline=deadline,
                                  transfers_first=False)
    notes.append(f"plan on its lanes {lp_cost['objective']:,.0f} after {clock() - started:.0f} s")
    with contextlib.ExitStack() as stack:
        background = enough = None
        if plan_gap(lp_cost, bound) > mip_gap:
            upper = lp_cost["objective"]
            if workers > 1 and fork_available():
                # The lane dual runs in a second process beside the plan search for the whole
                # time limit and shares its best bound: both stop once the plan is within the
                # requested gap of it.
                lift_deadline = deadline - LIFT_MARGIN * time_limit
                context = multiprocessing.get_context("fork")
                shared_bound = context.RawValue("d", bound)
                proven = context.Event()

                def share(value: float) -> None:
                    shared_bound.value = max(shared_bound.value, value)

                def lift() -> tuple[float, str]:
                    lifted = lift_bound(problem, network, relaxation, upper,
                                        deadline=lift_deadline, stop=proven.is_set,
                                        on_bound=share)
                    return lifted.bound, lifted.summary() + ", in a second process"

                def within_gap(objective: float) -> bool:
                    if plan_gap({"objective": objective}, shared_bound.value) <= mip_gap:
                        proven.set()
                    return proven.is_set()

                enough = within_gap

                background = stack.enter_context(ForkedCall(lift))
            else:
                lift_deadline = min(deadline,
                                    max(lp_deadline, clock() + LIFT_SHARE * time_limit))
                lifted = lift_bound(problem, network, relaxation, upper,
                                    deadline=lift_deadline)
                notes.append(lifted.summary())
                bound = max(bound, lifted.bound)
                progress_reporter()(clock() - started, upper, bound)
        if plan_gap(lp_cost, bound) > mip_gap and deadline - clock() > 1.0:
            by_sku = polish_plan(problem, network, plan, deadline=deadline, enough=enough)
            by_region = polish_plan(problem, network, by_sku.quantity, deadline=deadline,
                                    blocks=region_blocks(problem, network,
                                                         max_arcs=REGION_BLOCK_ARCS),
                                    new_lanes=True, enough=enough)
            notes += [by_sku.summary(), by_region.summary()]
            plan = by_region.quantity
        if background is not None:
            answer = background.result(
                timeout=max(lift_deadline - clock(), 0.0) + LIFT_MARGIN * time_limit)
            if answer is None:
                # The bound it shared along the way is still valid.
                bound = max(bound, shared_bound.value)
                notes.append(f"lane dual: no answer from the second process in time (its "
                             f"shared bound {shared_bound.value:,.0f} kept)")
            else:
                lifted_bound, summary = cast(tuple[float, str], answer)
                notes.insert(2, summary)
                bound = max(bound, lifted_bound)
    cost = plan_cost(problem, network, plan)
    gap = plan_gap(cost, bound)
    progress_reporter()(clock() - started, cost["objective"], bound, new_plan=True)
    if gap > mip_gap:
        notes.append(f"gap {gap:.2%} above the requested {mip_gap:.2%}")
    report = SolveReport(
        status="optimal" if gap <= mip_gap else "feasible", objective=cost["objective"],
        bound=bound, gap=gap, solve_seconds=clock() - started,
        solver="ortools-min-cost-flow-relaxation+highs", message="; ".join(notes))
    return _result(problem, network, plan, report)


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


def _routes_served(p: AllocationProblem) -> bool:
    """Return whether stores are replenished on scheduled routes (no dedicated truck)."""
    return not np.any(p.lane_modes[p.lane_from_warehouse] == "dedicated")


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
