"""Documented defaults for every optimisation, overridable by environment variables.

This is the settings home: the command line and the app show these defaults rather than copies
of their own (the weekly plan's own defaults, time limit and gap included, are the fields of
:class:`optimizer.allocation.PlanSettings`). Read once at import into :data:`settings`; call
:func:`load_settings` again to re-read the environment (tests do). Environment variables read
here:

``XINGTU_SOLVER``
    Default solver name (see :func:`optimizer.solvers.available_solvers`), e.g. ``highs``.
``XINGTU_TIME_LIMIT``
    Default time limit in seconds for one solve (``0`` or empty: none).
``XINGTU_MIP_GAP``
    Default relative MIP gap at which a solution counts as optimal, e.g. ``0.0001``.

The one other variable of the library and the front ends, ``XINGTU_DATABASE_URL`` (where plans,
scenarios and survey statuses are saved), is read by :func:`xingtu.database.database_url` only;
the map's ``XINGTU_MAP_TILES`` belongs to the map builders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import InputError


@dataclass(frozen=True)
class Settings:
    """Defaults shared by the optimizer.

    Attributes
    ----------
    solver
        Solver used when none is passed to ``solve``; ``None`` means the first available
        in :data:`optimizer.solvers.SOLVER_PREFERENCE`.
    time_limit
        Seconds allowed for one solve; ``None`` means no limit.
    mip_gap
        Relative gap at which a MIP solution is accepted as optimal (``1e-4`` = 0.01 %).
    h3_resolution
        Default H3 resolution of the analysis grid (8: about 0.74 km2 per cell).
    threads
        Threads a solver may use (the reference machine has 2 cores).

    Examples
    --------
    >>> Settings().h3_resolution
    8
    """

    solver: str | None = None
    time_limit: float | None = 300.0
    mip_gap: float = 1e-4
    h3_resolution: int = 8
    threads: int = 2


def _float_from_env(name: str, default: float | None) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(
            f"Environment variable `{name}` is {raw!r}, which is not a number; "
            f"set it to a number such as 60, or unset it."
        ) from None
    if value < 0:
        raise InputError(f"Environment variable `{name}` is {raw!r}; it must be zero or positive.")
    return value


def load_settings() -> Settings:
    """Build the settings from the defaults and the ``XINGTU_*`` environment variables.

    Returns
    -------
    Settings
        The defaults with any environment override applied.

    Examples
    --------
    >>> load_settings().mip_gap > 0
    True
    """
    defaults = Settings()
    solver = os.environ.get("XINGTU_SOLVER", "").strip() or defaults.solver
    time_limit = _float_from_env("XINGTU_TIME_LIMIT", defaults.time_limit)
    if time_limit == 0:
        time_limit = None
    mip_gap = _float_from_env("XINGTU_MIP_GAP", defaults.mip_gap)
    return Settings(
        solver=solver,
        time_limit=time_limit,
        mip_gap=defaults.mip_gap if mip_gap is None else mip_gap,
    )


settings: Settings = load_settings()
"""The settings in force, read from the environment at import."""
