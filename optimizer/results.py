"""Frozen result types shared by every model: how the solve went, in plain terms."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

SolveStatus = Literal["optimal", "feasible", "infeasible", "unbounded", "not_solved", "error"]

"""``optimal``: proven within the requested gap. ``feasible``: a solution exists but is not proven
within the gap (time limit, heuristic). The others carry no usable solution."""

PROVEN_GAP = 1e-6
"""A relative gap at most this counts as proven optimal in the one-line summary; an ``optimal``
status with a larger gap (within the solver's requested gap) is written so."""


@dataclass(frozen=True)
class SolveReport:
    """How one optimisation went: status, objective, best bound, gap and time.

    Attributes
    ----------
    status
        See :data:`SolveStatus`. Never ``"optimal"`` unless the gap is proven.
    objective
        Objective value of the returned solution, or ``None`` when there is none.
    bound
        Best proven bound on the objective (a lower bound when minimising).
    gap
        Relative gap ``|objective - bound| / max(|objective|, 1e-9)``; ``0.0`` when proven optimal.
    solve_seconds
        Wall-clock time spent in the solver (model building excluded unless stated).
    solver
        Name of the solver that ran, e.g. ``"highs"``.
    message
        Anything the solver or the method said worth reading (time limit hit, iterations, ...).
    """

    status: SolveStatus
    objective: float | None
    bound: float | None
    gap: float | None
    solve_seconds: float
    solver: str
    message: str = ""

    @property
    def is_optimal(self) -> bool:
        """True when the solution is proven optimal within the requested gap."""
        return self.status == "optimal"

    @property
    def has_solution(self) -> bool:
        """True when a feasible solution was found (optimal or not)."""
        return self.status in ("optimal", "feasible")

    def summary(self, *, objective: str = "objective") -> str:
        """Return the one line every front end shows about this solve.

        Parameters
        ----------
        objective
            What the objective is called for the reader (``"cost"`` for the weekly plan).

        Returns
        -------
        str
            Status, objective, bound, gap and time; ``n/a`` for what the solve did not give.
            The status word is the report's own: ``feasible`` is never called optimal.

        Examples
        --------
        >>> SolveReport("feasible", 137_579.2, 132_336.0, 0.0381, 30.46, "highs").summary(
        ...     objective="cost")
        'Solve: feasible, cost 137,579, bound 132,336, gap 3.81%, 30.5 s.'
        >>> SolveReport("optimal", 8_783.0, 8_749.0, 0.0039, 5.8, "highs").summary(
        ...     objective="cost")
        'Solve: optimal within the gap tolerance, cost 8,783, bound 8,749, gap 0.39%, 5.8 s.'
        >>> SolveReport("infeasible", None, None, None, 0.01, "highs").summary()
        'Solve: infeasible, objective n/a, bound n/a, gap n/a, 0.0 s.'
        """

        def number(value: float | None) -> str:
            if value is None or not math.isfinite(value):
                return "n/a"
            return f"{value:,.0f}"

        gap = "n/a" if self.gap is None or not math.isfinite(self.gap) else f"{self.gap:.2%}"
        status: str = self.status
        if status == "optimal" and self.gap is not None and self.gap > PROVEN_GAP:
            status = "optimal within the gap tolerance"  # not proven to the last unit
        return (f"Solve: {status}, {objective} {number(self.objective)}, bound "
                f"{number(self.bound)}, gap {gap}, {self.solve_seconds:.1f} s.")


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """Relative gap between a solution value and a bound.

    Parameters
    ----------
    objective
        Value of the best solution found.
    bound
        Best proven bound.

    Returns
    -------
    float or None
        ``|objective - bound| / max(|objective|, 1e-9)``, or ``None`` when either is missing.

    Examples
    --------
    >>> relative_gap(102.0, 100.0)
    0.0196078431372549
    """
    if objective is None or bound is None or not math.isfinite(objective) or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9)
