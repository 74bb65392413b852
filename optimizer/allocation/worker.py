"""Plans built in a second process while the bound's steps run in this one.

A plan is mostly per-SKU min-cost flows in OR-Tools, which keep Python's global interpreter
lock, so a thread cannot overlap them with the bound's numpy steps; a process can. The worker
is a child process *forked* after the problem and its flow network are built: it reads them
without a copy (the pages are shared copy-on-write), and only the open lanes and the arc costs
travel to it, the plan back. The standard library's :mod:`multiprocessing` does the work; a
plain process and pipe rather than a pool, so that a plan still running when time is up can be
stopped.

Forking needs the ``fork`` start method (Linux and other Unix systems);
:func:`fork_available` says whether it exists. Without it the solve builds its plans in turn,
in its own process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np

from .model import AllocationProblem, FlowNetwork
from .plans import plan_on_lanes


@dataclass(frozen=True)
class PlanRequest:
    """One plan to build: the lanes open to it and the rules of :func:`plan_on_lanes`."""

    open_lanes: np.ndarray
    arc_cost: np.ndarray | None
    rounds: int
    transfers_first: bool
    seconds_left: float


@dataclass(frozen=True)
class PlanReply:
    """A finished plan: units per arc, its :func:`plan_cost`, and the seconds it took."""

    quantity: np.ndarray
    costs: dict[str, float]
    seconds: float


def fork_available() -> bool:
    """Whether this platform can fork a worker that shares the problem's memory."""
    return "fork" in multiprocessing.get_all_start_methods()


class PlanWorker:
    """A child process that builds one plan at a time on request.

    Use as a context manager; leaving it stops the child, even in the middle of a plan.

    Parameters
    ----------
    problem, network
        The week's problem and flow network; the child inherits them when it is forked.

    Examples
    --------
    >>> with PlanWorker(problem, network) as worker:  # doctest: +SKIP
    ...     worker.submit(PlanRequest(open_lanes, None, 2, True, seconds_left=60.0))
    ...     reply = worker.wait(timeout=60.0)
    """

    def __init__(self, problem: AllocationProblem, network: FlowNetwork) -> None:
        self._connection, self._process = _fork(_serve, (problem, network), "xingtu-plan-worker",
                                                duplex=True)
        self.busy = False

    def __enter__(self) -> PlanWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def submit(self, request: PlanRequest) -> None:
        """Start a plan; the worker must not be busy."""
        if self.busy:
            raise RuntimeError("the plan worker is still building the previous plan")
        self._connection.send(request)
        self.busy = True

    def poll(self) -> PlanReply | None:
        """Return the finished plan if there is one now, else ``None`` (never waits)."""
        return self.wait(timeout=0.0)

    def wait(self, timeout: float) -> PlanReply | None:
        """Return the finished plan, waiting at most ``timeout`` seconds for it.

        Raises
        ------
        RuntimeError
            When the plan failed in the worker (its traceback is in the message) or the
            worker died.
        """
        if not self.busy or not self._connection.poll(max(timeout, 0.0)):
            return None
        self.busy = False
        try:
            reply = self._connection.recv()
        except (EOFError, OSError):  # the child is gone: killed, or out of memory
            self._process.join(timeout=10.0)
            raise RuntimeError(f"the plan worker stopped (exit code {self._process.exitcode})"
                               ) from None
        if isinstance(reply, str):
            raise RuntimeError(f"a plan failed in the worker process:\n{reply}")
        return reply

    @property
    def pid(self) -> int | None:
        """The worker's process id."""
        return self._process.pid

    def close(self) -> None:
        """Stop the worker (at once if it is building a plan)."""
        if self._process.is_alive():
            if self.busy:
                self._process.terminate()
            else:
                with contextlib.suppress(OSError):  # it may have died just now
                    self._connection.send(None)
        self._process.join(timeout=10.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._connection.close()
        self.busy = False


def _serve(connection: Connection, problem: AllocationProblem, network: FlowNetwork) -> None:
    """Return the worker's loop: build each requested plan and send it back, until ``None``."""
    while True:
        request = connection.recv()
        if request is None:
            break
        started = time.perf_counter()
        try:
            quantity, costs = plan_on_lanes(
                problem, network, request.open_lanes, arc_cost=request.arc_cost,
                rounds=request.rounds, deadline=started + request.seconds_left,
                transfers_first=request.transfers_first)
        except Exception:  # the parent re-raises it, with this traceback
            connection.send(traceback.format_exc())
            continue
        connection.send(PlanReply(quantity=quantity, costs=costs,
                                  seconds=time.perf_counter() - started))
    connection.close()


class ForkedCall:
    """One function run in a forked child process while this one goes on.

    The child inherits everything the function reads (no copy); only its return value travels
    back, pickled. Use as a context manager; leaving it stops the child if it still runs.

    Parameters
    ----------
    function
        Called without arguments in the child.

    Examples
    --------
    >>> with ForkedCall(lambda: 6 * 7) as call:  # doctest: +SKIP
    ...     call.result(timeout=10.0)
    42
    """

    def __init__(self, function: Callable[[], object]) -> None:
        self._connection, self._process = _fork(_call, (function,), "xingtu-forked-call",
                                                duplex=False)

    def __enter__(self) -> ForkedCall:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def result(self, timeout: float) -> object | None:
        """Return the function's value, waiting at most ``timeout`` seconds (``None``: none yet).

        Raises
        ------
        RuntimeError
            When the function raised in the child (its traceback is in the message) or the
            child died.
        """
        if not self._connection.poll(max(timeout, 0.0)):
            return None
        try:
            ok, value = self._connection.recv()
        except (EOFError, OSError):
            self._process.join(timeout=10.0)
            raise RuntimeError(f"the child process stopped (exit code {self._process.exitcode})"
                               ) from None
        if not ok:
            raise RuntimeError(f"the call failed in the child process:\n{value}")
        return value

    def close(self) -> None:
        """Stop the child if it still runs."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=10.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._connection.close()


def _call(connection: Connection, function: Callable[[], object]) -> None:
    try:
        value = function()
    except Exception:  # the parent re-raises it, with this traceback
        connection.send((False, traceback.format_exc()))
    else:
        connection.send((True, value))
    connection.close()


def _fork(target: Callable[..., None], args: tuple, name: str, *,
          duplex: bool) -> tuple[Connection, multiprocessing.process.BaseProcess]:
    """Fork a daemon child running ``target(child_end, *args)``; return this end and the child."""
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe(duplex=duplex)
    process = context.Process(target=target, args=(child_end, *args), name=name, daemon=True)
    with warnings.catch_warnings():
        # Python 3.12+ warns when a process with threads forks (a lock held by another thread
        # stays held in the child). The children here run only plan and bound code, which takes
        # no lock another thread of this process could hold.
        warnings.filterwarnings("ignore", message=".*multi-threaded.*fork",
                                category=DeprecationWarning)
        process.start()
    child_end.close()
    return parent_end, process
