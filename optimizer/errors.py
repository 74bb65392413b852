"""Errors raised by the optimizer, written for planners rather than solver experts."""

from __future__ import annotations


class XingtuError(ValueError):
    """Base class of every error Xingtu raises on purpose."""


class InputError(XingtuError):
    """An argument has the wrong shape, type or value; the message names it and says the fix."""


class InfeasibleError(XingtuError):
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


class SolverError(XingtuError):
    """The solver failed or stopped without a usable solution."""
