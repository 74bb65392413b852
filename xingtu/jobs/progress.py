"""How a job tells its front end what it is doing: stage names and the solver's gap so far."""

from __future__ import annotations

from collections.abc import Callable

from optimizer.solvers import SolveProgress

Stage = Callable[[str], None]
"""Told the name of each stage of a job as it starts (to show progress)."""


def no_stage(_: str) -> None:
    """Ignore a stage name (the default when nobody watches)."""
    return None


def progress_text(progress: SolveProgress) -> str:
    """Return a solver's state in words, as the CLI and the app show it while it runs.

    Examples
    --------
    >>> progress_text(SolveProgress(12.3, 105.0, 100.0, 0.0476))
    'gap so far 4.76% after 12.3 s'
    >>> progress_text(SolveProgress(1.0, None, None, None))
    'no plan proven against a bound yet after 1.0 s'
    """
    if progress.gap is None:
        return f"no plan proven against a bound yet after {progress.seconds:.1f} s"
    return f"gap so far {progress.gap:.2%} after {progress.seconds:.1f} s"
