r"""Errors raised by Xingtu, written for planners rather than solver experts.

One family: every error raised on purpose is a :class:`XingtuError`, so a front end catches that
one class and shows its message. Problems with what the user gave are also ``ValueError``\ s
(:class:`InputError`, :class:`InfeasibleError`); a solver that fails is a ``RuntimeError``
(:class:`SolverError`): the inputs may be fine, the run was not.
"""

from __future__ import annotations


class XingtuError(Exception):
    """Base class of every error Xingtu raises on purpose."""


class InputError(XingtuError, ValueError):
    """An argument has the wrong shape, type or value; the message names it and says the fix."""


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
