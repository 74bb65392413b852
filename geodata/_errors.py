"""Errors of the data layer: the public input error of :mod:`optimizer.errors`.

Files and tables share one error type, :class:`optimizer.errors.InputError`, which carries a list
of :class:`~optimizer.errors.Problem` records (file, column, row, value, message, fix).
``InputDataError`` is the same class under the name the data layer has always used.
"""

from __future__ import annotations

from optimizer.errors import (
    MAX_ROWS_SHOWN,
    InputError,
    InputWarning,
    Problem,
    problem_at_rows,
    warn_input,
)

InputDataError = InputError
"""The public :class:`optimizer.errors.InputError` (one type to catch for every input)."""

__all__ = ["MAX_ROWS_SHOWN", "InputDataError", "InputError", "InputWarning", "Problem",
           "problem_at_rows", "warn_input"]
