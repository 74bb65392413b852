"""Daily re-planning: tomorrow's moves from today's closing stock and sales, with the weekly model.

:func:`plan_day` builds the same problem as :func:`optimizer.allocation.plan.plan_week` with a
one-day horizon: the demand is the weekly forecast (7-day periods ending on the last sales
day) scaled to one day, a store's reserve protects its lead time plus one day of review,
warehouses may ship one day's throughput, and the moves of earlier plans still on the way
(``in_transit``) count as the receiver's stock; those arriving after the ship day also join its
reserve, so they are never sent on. The result is a :class:`~optimizer.allocation.plan.
WeeklyPlan` whose ``week`` is the day (``"2026-12-03"``) and whose ``horizon_days`` is 1.
"""

from __future__ import annotations

import pandas as pd

from ..errors import InputError
from .plan import PlanSettings, WeeklyPlan, horizon_problem, solve_built


def plan_day(*, stores: pd.DataFrame, warehouses: pd.DataFrame, skus: pd.DataFrame,
             sales: pd.DataFrame, stock: pd.DataFrame, day: str | pd.Timestamp,
             lanes: pd.DataFrame | None = None, settings: PlanSettings | None = None,
             in_transit: pd.DataFrame | None = None, sources: dict[str, str] | None = None,
             workers: int = 1) -> WeeklyPlan:
    """Plan the moves that ship on ``day`` (see the module docstring).

    Parameters
    ----------
    stores, warehouses, skus, sales, stock, lanes, sources, workers
        As for :func:`optimizer.allocation.plan.plan_week`; ``stock`` is the closing stock of
        the day before ``day`` (its ``in_transit`` column counts as arrived, as in the weekly
        plan: leave it 0 for what ``in_transit`` lists).
    day
        The ship day, ``"2026-12-03"``; sales from it on are ignored.
    settings
        :class:`~optimizer.allocation.plan.PlanSettings`; ``review_days`` is replaced by the
        one-day horizon.
    in_transit
        Lines of earlier plans not yet arrived: ``to``, ``sku``, ``quantity``, ``arrival_day``
        (the plan-line columns).

    Returns
    -------
    WeeklyPlan
        ``week`` is the day as ``"YYYY-MM-DD"``, ``horizon_days`` and ``review_days`` are 1;
        KPIs and lines as for the week.
    """
    try:
        start = pd.Timestamp(day).normalize()
    except (ValueError, TypeError) as exc:
        raise InputError(f"`day` must be a date such as '2026-12-03', got {day!r}.") from exc
    settings = settings or PlanSettings()
    built = horizon_problem(stores=stores, warehouses=warehouses, skus=skus, sales=sales,
                            stock=stock, start=start, horizon_days=1.0, review_days=1.0,
                            lanes=lanes, settings=settings, sources=sources,
                            arrivals=in_transit)
    return solve_built(built, label=str(start.date()), settings=settings,
                       workers=workers)
