r"""Errors raised by Xingtu, written for planners rather than solver experts.

One family: every error raised on purpose is a :class:`XingtuError`, so a front end catches that
one class and shows its message. Problems with what the user gave are also ``ValueError``\ s
(:class:`InputError`, :class:`InfeasibleError`); a solver that fails is a ``RuntimeError``
(:class:`SolverError`): the inputs may be fine, the run was not.

An input error can carry :class:`Problem` records (file, column, row, value, message, fix), so a
command line, a log or a web page can show every problem at once, whether it is found while
reading a file (:mod:`geodata.io`) or while checking tables passed to the library. Recoverable
oddities (a documented default filled in, a suspicious but allowed value) are
:class:`InputWarning` warnings, raised through :func:`warn_input`: a front end that wants to show
them beside its result (the job layer, :mod:`xingtu.jobs`) runs the work inside
:func:`collect_input_warnings` and gets them as a list of messages instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

MAX_ROWS_SHOWN = 5
"""How many row numbers one problem lists before it says "and N more"."""


class XingtuError(Exception):
    """Base class of every error Xingtu raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input.

    Attributes
    ----------
    source
        The file (or table name) the problem is in.
    message
        What is wrong, in plain words.
    fix
        What to do about it.
    column
        The column concerned, or ``None`` for the whole table (CRS, empty file).
    rows
        Row numbers concerned, counted as a spreadsheet user counts data rows: row 1 is the first
        row below the header (``frame.iloc[0]``). Empty for a whole-column or whole-file problem.
    value
        The offending value (the first one when several rows are concerned).
    n_rows
        How many rows are concerned in total (``rows`` may be truncated).
    """

    source: str
    message: str
    fix: str
    column: str | None = None
    rows: tuple[int, ...] = ()
    value: Any = None
    n_rows: int = 0

    @property
    def row(self) -> int | None:
        """Return the first row concerned, or ``None``."""
        return self.rows[0] if self.rows else None

    def render(self) -> str:
        """Return one readable line describing the problem and its fix.

        Examples
        --------
        >>> Problem("stores.csv", "missing value", "fill it in", column="lat", rows=(3,)).render()
        'stores.csv, column `lat`, row 3: missing value. Fix: fill it in'
        """
        where = [self.source]
        if self.column is not None:
            where.append(f"column `{self.column}`")
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:MAX_ROWS_SHOWN])
            total = max(self.n_rows, len(self.rows))
            more = f" and {total - MAX_ROWS_SHOWN} more" if total > MAX_ROWS_SHOWN else ""
            where.append(f"row{'s' if total > 1 else ''} {shown}{more}")
        value = f" (value {self.value!r})" if self.value is not None else ""
        return f"{', '.join(where)}: {self.message}{value}. Fix: {self.fix}"


def problem_at_rows(source: str, column: str | None, positions: Sequence[int] | Iterable[int],
                    values: Sequence[Any] | Any | None, message: str, fix: str) -> Problem:
    """Build a :class:`Problem` for many rows from 0-based positions, keeping the first few.

    Positions are turned into row numbers (position 0 is row 1, the first row below the header).
    ``values`` are the offending values in the same order (the first is shown).

    Examples
    --------
    >>> p = problem_at_rows("a.csv", "x", [0, 4], [5, 6], "too big", "shrink it")
    >>> p.rows, p.n_rows
    ((1, 5), 2)
    """
    rows = [int(r) + 1 for r in positions]
    first = None
    if values is not None and len(values):
        first = values[0]
        if hasattr(first, "item"):
            first = first.item()
        if isinstance(first, float) and first.is_integer():
            first = int(first)
    return Problem(source=source, message=message, fix=fix, column=column,
                   rows=tuple(rows[:MAX_ROWS_SHOWN]), value=first, n_rows=len(rows))


class InputError(XingtuError, ValueError):
    """An input (file, table or argument) is wrong; the message names it and says the fix.

    Parameters
    ----------
    problems
        Either one message (an argument error) or every :class:`Problem` found, in the order
        the checks ran.
    source
        The file or table the problems are in (used in the headline).

    Examples
    --------
    >>> err = InputError([Problem("s.csv", "missing value", "fill it in", "lat", (1,))], "s.csv")
    >>> print(err)
    s.csv: 1 problem found
      1. s.csv, column `lat`, row 1: missing value. Fix: fill it in
    >>> InputError("`week` must look like '2026-W48'").problems
    []
    """

    def __init__(self, problems: str | Sequence[Problem], source: str = "input") -> None:
        self.source = source
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            super().__init__(problems)
        else:
            self.problems = list(problems)
            super().__init__(self.render())

    def render(self) -> str:
        """Return the multi-line message: a headline, then one numbered line per problem."""
        if not self.problems:
            return str(self.args[0]) if self.args else self.source
        count = len(self.problems)
        lines = [f"{self.source}: {count} problem{'s' if count != 1 else ''} found"]
        lines += [f"  {i}. {p.render()}" for i, p in enumerate(self.problems, start=1)]
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """Return the same message as a Markdown list, for a web page."""
        if not self.problems:
            return self.render()
        count = len(self.problems)
        lines = [f"**{self.source}**: {count} problem{'s' if count != 1 else ''} found", ""]
        lines += [f"- {p.render()}" for p in self.problems]
        return "\n".join(lines)

    def to_records(self) -> list[dict[str, Any]]:
        """Return the problems as plain dictionaries (one per problem), e.g. for a table."""
        return [{"file": p.source, "column": p.column, "row": p.row, "rows": len(p.rows) and p.n_rows,
                 "value": p.value, "message": p.message, "fix": p.fix} for p in self.problems]


class InputWarning(UserWarning):
    """An input was accepted with a documented default or looks suspicious; the plan still runs.

    The message names the file, column and rows and says what was assumed. The command line prints
    it as one line; the app shows it above the result.
    """


_COLLECTED: ContextVar[list[str] | None] = ContextVar("xingtu_input_warnings", default=None)
"""The messages of the innermost :func:`collect_input_warnings` block of this thread, if any."""


def warn_input(message: str, *, stacklevel: int = 2) -> None:
    """Report an accepted but suspicious input, or a documented default filled in.

    Inside :func:`collect_input_warnings` the message is added to the block's list (once: the
    same text twice is kept once); elsewhere it is an :class:`InputWarning`.

    Parameters
    ----------
    message
        What was assumed or looks wrong, naming the file, column and rows, and what to do.
    stacklevel
        As for :func:`warnings.warn`, counted from the caller of this function.

    Examples
    --------
    >>> with collect_input_warnings() as seen:
    ...     warn_input("stores.csv: no `region` column; assumed region = 'all'.")
    >>> seen
    ["stores.csv: no `region` column; assumed region = 'all'."]
    """
    collected = _COLLECTED.get()
    if collected is None:
        warnings.warn(message, InputWarning, stacklevel=stacklevel + 1)
    elif message not in collected:
        collected.append(message)


@contextmanager
def collect_input_warnings() -> Iterator[list[str]]:
    """Collect the input warnings of the work inside the block into a list of messages.

    The list is filled as the work runs and is complete when the block ends, also when it ends
    with an error. Blocks nest: an inner block's messages are also added to the outer block's
    list when it ends (a job inside a command: the job's result carries its warnings, and the
    command prints every warning of the run once). The collection follows the thread (and
    ``asyncio`` task) that opened the block: two pages of the app running at once keep their
    own lists.

    Yields
    ------
    list of str
        The messages, in the order they were raised, each once.
    """
    outer = _COLLECTED.get()
    collected: list[str] = []
    token = _COLLECTED.set(collected)
    try:
        yield collected
    finally:
        _COLLECTED.reset(token)
        if outer is not None:
            outer.extend(message for message in collected if message not in outer)


class InfeasibleError(XingtuError, ValueError):
    """A model has no feasible solution; the message explains why in planning terms.

    Parameters
    ----------
    message
        What is impossible and what to change, in the users' words.
    reasons
        Each separate cause found by the pre-solve checks, one sentence each.
    """

    def __init__(self, message: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.reasons = list(reasons or [])


class SolverError(XingtuError, RuntimeError):
    """The solver failed or stopped without a usable solution."""
