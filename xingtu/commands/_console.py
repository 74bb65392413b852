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

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.status import Status

from geodata._errors import InputDataError
from optimizer.errors import InfeasibleError, InputError, XingtuError, collect_input_warnings
from optimizer.solvers import SolveProgress, solve_progress

from ..database import DatabaseError
from ..jobs.progress import progress_text

RUNTIME_FAILURE = 1
USAGE_ERROR = 2

TRACEBACK_VARIABLE = "XINGTU_TRACEBACK"
"""Set to any value to let an unexpected error end a command with its traceback."""

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
    """Print the run's warnings, and turn any error into a message and an exit code.

    The input warnings of the block (:func:`optimizer.errors.collect_input_warnings`: those of
    the jobs and of the files read) are printed on standard error once each, as
    ``Warning: ...`` lines, when the block ends, before the error if there is one. An error of
    the inputs or the run is printed as ``Error: ...`` (:func:`exit_code`); any other exception
    too, never as a traceback (set ``XINGTU_TRACEBACK=1`` to see it).
    """
    try:
        with collect_input_warnings() as seen:
            try:
                yield
            finally:
                print_warnings(seen)
    except (XingtuError, ValueError, OSError) as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(code=exit_code(error)) from None
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except Exception as error:
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        typer.echo(f"Error: the run stopped on an unexpected {type(error).__name__}: {error}. "
                   "Check the input files; if they look right, rerun with "
                   f"{TRACEBACK_VARIABLE}=1 and report the traceback with them.", err=True)
        raise typer.Exit(code=RUNTIME_FAILURE) from None


def print_warnings(messages: Iterable[str]) -> None:
    """Print each warning as one ``Warning: ...`` line on standard error."""
    for message in messages:
        typer.echo(f"Warning: {message}", err=True)


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
        self._status: Status | None = None
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
