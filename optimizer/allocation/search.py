"""The decomposition's search: bound steps and plans, in turn or in two processes.

:class:`PlanSearch` holds the lane dual's volume state (the best bound) and the cheapest plan
found. :meth:`PlanSearch.run` alternates bound steps and plans in this process;
:meth:`PlanSearch.run_with_worker` keeps stepping the bound here while a
:class:`~optimizer.allocation.worker.PlanWorker` builds plans in a second process. The
constants below were measured on the benchmark weeks (docs/bench_allocation.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import numpy as np

from ..results import relative_gap
from ..solvers import progress_reporter
from .blocks import block_steps
from .dual import (
    LaneDual,
    improve_bound,
    initial_prices,
    plan_arc_costs,
    start_volume,
)
from .flows import plan_cost
from .lp import lp_prices
from .model import AllocationProblem, FlowNetwork
from .plans import plan_on_lanes
from .worker import PlanReply, PlanRequest, PlanWorker

BOUND_STEPS_PER_PLAN = 60
"""Volume-algorithm steps between two plans built from the lanes the dual opens."""

FIRST_PLAN_ROUNDS = 2
"""Rounds of lane closing in the first plan (every lane open)."""

PLAN_ROUNDS = 4
"""Rounds of lane closing and opening in the plans after the first."""

PLAN_OPEN_SHARES = (0.35, 0.2, 0.5)
"""Plans open the lanes open in at least this share of recent bound steps, in turn."""

WORKER_POLL_STEPS = 10
"""Bound steps between two looks at the plan worker."""

FIRST_PLAN_WAIT = 0.02
"""Share of the time limit that the bound steps wait for the worker's first plan."""

FINAL_PLAN_GRACE = 0.03
"""Share of the time limit that a solve waits past its deadline for the worker's last plan."""

WORKER_PLAN_STEPS = 30
"""Fewest bound steps between two plan requests to the worker, so the lanes it is given have
moved since the last plan."""

LP_TIME_SHARE = 0.25
"""Share of the time limit the lane program (:mod:`optimizer.allocation.lp`) may take."""

BOUND_PHASES: tuple[tuple[Literal["joint", "receivers", "senders"], int], ...] = (
    ("joint", 25), ("receivers", 20), ("senders", 20))
"""The bound steps' cycle: volume-algorithm steps on all prices, then block steps
(:func:`optimizer.allocation.blocks.block_steps`) on the cover prices and on the supply and
throughput prices, with these numbers of steps. Block steps alone get stuck, and joint steps
alone level off far lower; 25 joint steps beat 10, 20 and 50 on the national week
(docs/bench_allocation.md)."""

TRANSFERS_FIRST_BELOW = 0.1
"""Plans add the transfers-first candidate only when the first plan took less than this share of
the time limit. It makes plans slower (the national first plan took 85 s with it, 44 s
without): on 500 x 200 it cut the gap from 10.5 % to 9.6 %, but on the national week the
longer plans left half the bound steps and a wider gap (33.7 % against 27.4 %)."""


class PlanSearch:
    """The bound steps and the plans of one solve, and the best of each so far.

    Parameters
    ----------
    problem, network
        The week's problem and its flow network.
    dual
        Its lane Lagrangian (:func:`optimizer.allocation.dual.lane_dual`).
    mip_gap
        Relative gap at which the search stops.
    started, deadline
        :func:`time.perf_counter` readings: when the solve started and when it must end.
    dual_iterations
        Most bound steps.

    Every bound step and every better plan is passed to the progress reporter
    (:func:`optimizer.solvers.progress_reporter`). After a run, ``state.value.bound`` is the
    best bound, ``best_plan`` and ``best_cost`` the cheapest plan, ``steps`` and ``plans``
    what was done.
    """

    def __init__(self, problem: AllocationProblem, network: FlowNetwork, dual: LaneDual, *,
                 mip_gap: float, started: float, deadline: float,
                 dual_iterations: int) -> None:
        self.problem, self.network, self.dual = problem, network, dual
        self.mip_gap, self.started, self.deadline = mip_gap, started, deadline
        self.dual_iterations = dual_iterations
        self.progress = progress_reporter()
        # The volume state keeps the best prices found, so its value is the best bound so far.
        self.state = start_volume(dual, initial_prices(dual))
        self.progress(self.elapsed(), None, self.state.value.bound)
        self.best_plan: np.ndarray | None = None
        self.best_cost: dict | None = None
        self.steps = self.plans = 0
        self._phase = self._phase_steps = 0  # where the bound steps are in BOUND_PHASES
        self.plan_seconds = 0.0
        self.parallel = False
        self.lp_used = False
        self._checked = (0, self.state.value.bound)

    def elapsed(self) -> float:
        """Seconds since the solve started."""
        return time.perf_counter() - self.started

    @property
    def time_limit(self) -> float:
        """Seconds from the start of the solve to its deadline."""
        return self.deadline - self.started

    def quick_plans(self, first_plan_seconds: float) -> bool:
        """Tell whether plans are quick enough for the transfers-first candidate.

        Whether plans are quick enough for the transfers-first candidate: the first plan
        took less than ``TRANSFERS_FIRST_BELOW`` of the time limit.
        """
        return first_plan_seconds < TRANSFERS_FIRST_BELOW * self.time_limit

    def gap(self) -> float:
        """Relative gap of the best plan to the best bound."""
        return plan_gap(self.best_cost, self.state.value.bound)

    def offer(self, quantity: np.ndarray, cost: dict, seconds: float, *,
              built: bool = True) -> None:
        """Count a finished plan and keep it if it is the cheapest so far.

        Count a finished plan (unless it was not ``built``, as moving nothing); keep it if
        it is the cheapest so far.
        """
        self.plans += built
        self.plan_seconds = max(self.plan_seconds, seconds)
        if self.best_cost is None or cost["objective"] < self.best_cost["objective"]:
            self.best_plan, self.best_cost = quantity, cost
            self.progress(self.elapsed(), cost["objective"], self.state.value.bound,
                          new_plan=True)

    def start_from_lp(self) -> None:
        """Start from the lane program's prices when they bound higher.

        Solve the lane program when the week is small enough and, if its prices bound
        higher than the volume state's, go on from them, with its truck shares as the lanes'
        open shares (what the plans read).
        """
        lp = lp_prices(self.dual, time_limit=min(LP_TIME_SHARE * self.time_limit,
                                                 self.deadline - time.perf_counter()))
        if lp is None:
            return
        state = start_volume(self.dual, lp.prices)
        if state.value.bound > self.state.value.bound:
            state.lane_open_share = lp.lane_share
            self.state, self.lp_used = state, True
            self._checked = (self.steps, state.value.bound)
            objective = None if self.best_cost is None else self.best_cost["objective"]
            self.progress(self.elapsed(), objective, state.value.bound)

    def first_plan(self, *, transfers_first: bool) -> None:
        """Return a plan on every lane.

        A plan on every lane. It mostly gives the bound steps a target; two rounds of lane
        closing are enough for that, and the time is better spent on the bound.
        """
        self._plan(np.ones(len(self.problem.lane_from), dtype=bool), rounds=FIRST_PLAN_ROUNDS,
                   transfers_first=transfers_first)

    def step_bound(self, iterations: int, deadline: float) -> bool:
        """Run bound steps towards the best plan.

        Return ``False`` once the search should stop (gap closed, step budget spent, or the
        bound stalled).
        """
        assert self.best_cost is not None  # the first plan comes before any bound step
        target = self.best_cost["objective"]
        steps_before = self.steps

        def on_step(bound: float) -> None:
            self.steps += 1  # steps taken, not asked for: the deadline may cut them short
            self.progress(self.elapsed(), target, bound)

        self._climb(target, min(iterations, self.dual_iterations - self.steps), deadline, on_step)
        if self.steps == steps_before:  # no step was possible (deadline, or nothing to gain)
            return False
        # Stalled: no gain over the last BOUND_STEPS_PER_PLAN steps and a vanishing step.
        stalled = False
        if self.steps - self._checked[0] >= BOUND_STEPS_PER_PLAN:
            before = self._checked[1]
            stalled = (self.state.value.bound <= before + 1e-9 * abs(before)
                       and self.state.step_factor < 1e-4)
            self._checked = (self.steps, self.state.value.bound)
        return self.gap() > self.mip_gap and self.steps < self.dual_iterations and not stalled

    def _climb(self, target: float, iterations: int, deadline: float,
               on_step: Callable[[float], None]) -> None:
        """Run up to ``iterations`` bound steps of ``BOUND_PHASES`` in turn.

        Up to ``iterations`` bound steps of ``BOUND_PHASES`` in turn (where the last call
        stopped): volume-algorithm steps, then block steps for receivers and for senders.
        """
        last = self.steps + iterations
        while self.steps < last and time.perf_counter() < deadline:
            side, length = BOUND_PHASES[self._phase]
            before = self.steps
            count = min(length - self._phase_steps, last - self.steps)
            if side == "joint":
                self.state = improve_bound(self.dual, self.state, target, iterations=count,
                                           deadline=deadline, on_step=on_step)
                if self.steps == before:  # the volume algorithm cannot go on
                    break
            else:
                self.state = block_steps(self.dual, self.state, target, side=side,
                                         iterations=count, deadline=deadline, on_step=on_step)
            self._phase_steps += self.steps - before
            if self._phase_steps >= length or self.steps == before:
                self._phase, self._phase_steps = (self._phase + 1) % len(BOUND_PHASES), 0

    def lanes_to_plan(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the open lanes and arc costs of the next plan.

        The open lanes and arc costs of the next plan: lanes open in a good share of recent
        bound steps (the volume algorithm's primal estimate makes better plans than the lanes of
        any single step); the share asked for cycles.
        """
        share = PLAN_OPEN_SHARES[(self.plans - 1) % len(PLAN_OPEN_SHARES)]
        arc_cost = plan_arc_costs(self.dual, self.network.arc_cost, self.state.center)
        return self.state.lane_open_share >= share, arc_cost

    def run(self) -> None:
        """Bound steps and plans in turn, in this process."""
        clock = time.perf_counter
        self.start_from_lp()
        self.first_plan(transfers_first=False)
        transfers_first = self.quick_plans(self.plan_seconds)
        while self.gap() > self.mip_gap and self.steps < self.dual_iterations:
            # Leave time for one more plan after the bound steps; when that no longer fits,
            # the time left goes to bound steps alone.
            bound_deadline = self.deadline - 1.1 * self.plan_seconds
            if clock() > bound_deadline:
                self.step_bound(self.dual_iterations - self.steps, self.deadline)
                break
            going_on = self.step_bound(BOUND_STEPS_PER_PLAN, bound_deadline)
            if self.gap() <= self.mip_gap:
                break
            self.plan_in_turn(transfers_first)
            if not going_on:
                break
        # When the bound stopped before the deadline, plans from its final state with the
        # other shares of open lanes use the time left (as with a second process).
        for _ in range(len(PLAN_OPEN_SHARES) - 1):
            if self.gap() <= self.mip_gap or clock() + self.plan_seconds > self.deadline:
                break
            self.plan_in_turn(transfers_first)

    def plan_in_turn(self, transfers_first: bool) -> None:
        """Return a plan on the lanes of the latest bound state, built in this process."""
        open_lanes, arc_cost = self.lanes_to_plan()
        self._plan(open_lanes, arc_cost=arc_cost, rounds=PLAN_ROUNDS,
                   transfers_first=transfers_first)

    def _plan(self, open_lanes: np.ndarray, **options) -> None:
        """Build a plan on ``open_lanes`` in this process and offer it.

        ``options`` go to :func:`plan_on_lanes`.
        """
        started = time.perf_counter()
        quantity, cost = plan_on_lanes(self.problem, self.network, open_lanes,
                                       deadline=self.deadline, **options)
        self.offer(quantity, cost, time.perf_counter() - started)

    def run_with_worker(self, worker: PlanWorker) -> None:
        """Run bound steps here while ``worker`` builds plans.

        Bound steps here while ``worker`` builds plans: the first on every lane, then one
        from the latest bound state whenever the worker is free.

        When the first plan is not in after ``FIRST_PLAN_WAIT`` of the time limit, the steps
        start, aimed at the cost of moving nothing (a valid plan) until it is: on the national
        week that put the bound at 5.07 M after 45 s instead of 3.22 M when the steps waited
        for the first plan. Small weeks wait, because there the steps towards that far target
        ended lower (40 x 200: 84,790 against 85,137 to 85,282 when they waited).
        """
        clock = time.perf_counter
        self.parallel = True
        every_lane = np.ones(len(self.problem.lane_from), dtype=bool)
        worker.submit(PlanRequest(every_lane, None, FIRST_PLAN_ROUNDS, transfers_first=False,
                                  seconds_left=self.deadline - clock()))
        self.start_from_lp()  # while the worker builds the first plan
        transfers_first = None

        def take(reply: PlanReply) -> None:
            nonlocal transfers_first
            self.offer(reply.quantity, reply.costs, reply.seconds)
            if transfers_first is None:
                # The first plan decides, as with plans in turn.
                transfers_first = self.quick_plans(reply.seconds)

        first = worker.wait(timeout=FIRST_PLAN_WAIT * self.time_limit)
        if first is None:
            nothing = np.zeros(len(self.network.arc_cost), dtype=np.int64)
            self.offer(nothing, plan_cost(self.problem, self.network, nothing), 0.0,
                       built=False)
        else:
            take(first)

        def request_plan() -> None:
            open_lanes, arc_cost = self.lanes_to_plan()
            worker.submit(PlanRequest(open_lanes, arc_cost, rounds=PLAN_ROUNDS,
                                      transfers_first=bool(transfers_first),
                                      seconds_left=self.deadline - clock()))

        steps_at_request = 0
        going_on = True
        while going_on and clock() < self.deadline:
            going_on = self.step_bound(WORKER_POLL_STEPS, self.deadline)
            reply = worker.poll()
            if reply is not None:
                take(reply)
            if (going_on and not worker.busy
                    and self.steps - steps_at_request >= WORKER_PLAN_STEPS):
                request_plan()
                steps_at_request = self.steps
        # Collect the plan in flight. It starts no round that would end after the deadline;
        # a first round that cannot end by then is given up (the worker is stopped on
        # leaving). If the bound stopped before the deadline, plans from its final state
        # (one for each share of open lanes) use the time left.
        final_requests = 0
        while self.gap() > self.mip_gap:
            if worker.busy:
                reply = worker.wait(timeout=max(self.deadline - clock(), 0.0)
                                    + FINAL_PLAN_GRACE * self.time_limit)
                if reply is None:
                    break
                take(reply)
            elif final_requests < len(PLAN_OPEN_SHARES) and clock() < self.deadline:
                request_plan()
                final_requests += 1
            else:
                break


def plan_gap(cost: dict | None, bound: float) -> float:
    """Relative gap of a plan's costs (:func:`plan_cost`) to a bound; ``inf`` without a plan."""
    if cost is None:
        return np.inf
    gap = relative_gap(cost["objective"], bound)
    return np.inf if gap is None else max(gap, 0.0) if cost["objective"] >= bound else 0.0
