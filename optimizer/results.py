"""Frozen result types shared by every model: how the solve went, in plain terms."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

SolveStatus = Literal["optimal", "feasible", "infeasible", "unbounded", "not_solved", "error"]
"""``optimal``: proven within the requested gap. ``feasible``: a solution exists but is not proven
within the gap (time limit, heuristic). The others carry no usable solution."""


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
