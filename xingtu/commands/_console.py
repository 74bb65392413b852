"""What every command shares: exit codes, error messages and live progress on the console.

Exit codes: ``0`` done; ``1`` a runtime failure (the solver failed, the database or the disk
could not be used); ``2`` a usage or input error (a bad option, a bad file, an impossible
request: the message says what to change). Typer's own usage errors also exit 2.

Progress goes to standard error, so standard output keeps only the results: each stage of a job
(reading, building the layers, solving, writing) as it starts, and while a solver runs its gap
so far (from :func:`optimizer.solvers.solve_progress`), drawn with rich. On a terminal the
current stage is a live line; elsewhere (a log, a pipe) each stage is one plain line. ``--quiet``
silences all of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console

from geodata._errors import InputDataError
from optimizer.errors import InfeasibleError, InputError, XingtuError
from optimizer.solvers import SolveProgress, solve_progress

from ..database import DatabaseError
from ..jobs.progress import progress_text

RUNTIME_FAILURE = 1
USAGE_ERROR = 2

PLAIN_PROGRESS_SECONDS = 10.0
"""Off a terminal, the least time between two lines about the solver's gap."""

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print no progress, only results.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]


def exit_code(error: BaseException) -> int:
    """Return the exit code for an error: 2 for usage and input errors, 1 for the rest.

    Examples
    --------
    >>> exit_code(InputError("bad")), exit_code(DatabaseError("gone")), exit_code(OSError())
    (2, 1, 1)
    """
    if isinstance(error, InputError | InputDataError | InfeasibleError):
        return USAGE_ERROR
    if isinstance(error, DatabaseError | OSError):
        return RUNTIME_FAILURE
    if isinstance(error, XingtuError):  # SolverError and other failures of a run
        return RUNTIME_FAILURE
    if isinstance(error, ValueError):  # a library argument check
        return USAGE_ERROR
    return RUNTIME_FAILURE


@contextmanager
def readable_errors() -> Iterator[None]:
    """Turn the errors a run can meet into a message on standard error and an exit code."""
    try:
        yield
    except (XingtuError, ValueError, OSError) as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(code=exit_code(error)) from None


class JobProgress:
    """Stages and the solver's gap so far, on standard error (nothing with ``quiet``).

    Parameters
    ----------
    quiet
        Show nothing.
    console
        Where to draw; standard error by default.
    """

    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        self.quiet = quiet
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self._status = None
        self._stage = ""
        self._started = time.perf_counter()
        self._last_line = self._started

    def stage(self, name: str) -> None:
        """Report that a stage starts."""
        if self.quiet:
            return
        self._stage = name
        elapsed = time.perf_counter() - self._started
        if self._status is not None:
            self._status.update(f"{name}…")
        else:
            self.console.print(f"[{elapsed:6.1f} s] {name}…")

    def solver(self, progress: SolveProgress) -> None:
        """Report the solver's state (called from the solving thread)."""
        if self.quiet:
            return
        text = progress_text(progress)
        if self._status is not None:
            self._status.update(f"{self._stage}… {text}")
            return
        now = time.perf_counter()
        if now - self._last_line >= PLAIN_PROGRESS_SECONDS:
            self._last_line = now
            self.console.print(f"[{now - self._started:6.1f} s] {self._stage}: {text}")

    @contextmanager
    def running(self) -> Iterator[JobProgress]:
        """Show the live line (on a terminal) and the solver's gap while the block runs."""
        if self.quiet or not self.console.is_terminal:
            with solve_progress(self.solver):
                yield self
            return
        with self.console.status("Starting…") as status, solve_progress(self.solver):
            self._status = status
            try:
                yield self
            finally:
                self._status = None
