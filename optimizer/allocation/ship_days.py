r"""Ship days within the week: spread a plan's lines so no warehouse exceeds its daily throughput.

The plan respects each warehouse's weekly throughput (seven times the daily one); this
post-processing gives every line a ship day of the week such that

* a line arrives (ship day plus its lead time) on one of its store's delivery weekdays;
* no warehouse ships more than its daily throughput on any day;
* lines ship as early as they can (units-weighted ship day is minimised).

Store-to-store transfers are not limited by throughput: each goes on the first day its
receiver accepts. Warehouse lines may be split over days in whole cases (a line then appears
once per day, its cost shared by units). Per warehouse this is a small integer program,

.. math::

    \min \sum_{l,d} d\, a_l x_{ld} \quad\text{s.t.}\quad \sum_d x_{ld} = n_l,\;
    \sum_l a_l x_{ld} \le T_w,\; x_{ld} \in \mathbb{Z}_{\ge 0},\; x_{ld} = 0
    \text{ where line } l \text{ cannot arrive on a delivery day},

with :math:`n_l` the cases of line :math:`l`, :math:`a_l` its case size and :math:`T_w` the daily
throughput, solved by HiGHS (``scipy.optimize.milp``). When no schedule fits (delivery days too
few for the volume), the lines that do not fit go on their allowed day with the most room left,
``over_throughput`` is set on them and a warning names the warehouse and the excess.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, sparse

from ..errors import InputError, warn_input
from .lanes import LaneCosts, pick_units

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def schedule_ship_days(lines: pd.DataFrame, *, warehouses: pd.DataFrame, skus: pd.DataFrame,
                       start: pd.Timestamp | str | None = None, days: int = 7,
                       delivery_days: pd.DataFrame | None = None,
                       time_limit: float = 30.0) -> pd.DataFrame:
    """Give every plan line a ship day within the week (see the module docstring).

    Parameters
    ----------
    lines
        Plan lines: ``from``, ``to``, ``sku``, ``quantity``, ``ship_day``, ``arrival_day``
        (their difference is the line's lead time), and any other columns (kept; ``cost`` and
        ``cases`` are split with the units).
    warehouses
        ``warehouse_id``, ``daily_throughput``.
    skus
        ``sku``, ``case_size``.
    start
        First ship day; default the earliest ``ship_day`` of the lines.
    days
        Ship days available from ``start`` (7 for a week).
    delivery_days
        Optional ``store_id``, ``weekday`` (0 = Monday .. 6, or ``"Mon"`` .. ``"Sun"``): the days
        each listed store accepts deliveries; stores not listed accept every day.
    time_limit
        Seconds for each warehouse's integer program.

    Returns
    -------
    pandas.DataFrame
        The lines, split where needed, with ``ship_day`` and ``arrival_day`` set and a
        boolean ``over_throughput``.

    Examples
    --------
    >>> lines = pd.DataFrame({"from": "W1", "to": ["S1", "S2"], "sku": "A", "quantity": [6, 6],
    ...                       "ship_day": pd.Timestamp("2026-01-05"),
    ...                       "arrival_day": pd.Timestamp("2026-01-06")})
    >>> out = schedule_ship_days(lines, warehouses=pd.DataFrame({"warehouse_id": ["W1"],
    ...                          "daily_throughput": [8]}),
    ...                          skus=pd.DataFrame({"sku": ["A"], "case_size": [2]}))
    >>> out.groupby("ship_day")["quantity"].sum().tolist()
    [8, 4]
    """
    if len(lines) == 0:
        return lines.assign(over_throughput=pd.Series(dtype=bool))
    ship = pd.to_datetime(lines["ship_day"])
    start = pd.Timestamp(start) if start is not None else ship.min()
    lead = (pd.to_datetime(lines["arrival_day"]) - ship).dt.days.to_numpy(dtype=np.int64)
    allowed = _allowed_days(lines["to"].astype(str).to_numpy(), lead, start, days, delivery_days)
    case_size = _pick_sizes(skus)
    limits = warehouses.assign(warehouse_id=warehouses["warehouse_id"].astype(str)).set_index(
        "warehouse_id")["daily_throughput"].astype(float)
    origin = lines["from"].astype(str).to_numpy()
    quantity = lines["quantity"].to_numpy(dtype=np.int64)
    from_warehouse = np.isin(origin, limits.index.to_numpy())
    case = np.where(from_warehouse,
                    case_size.reindex(lines["sku"].astype(str)).fillna(1).to_numpy(np.int64), 1)
    no_day = ~allowed.any(axis=1)
    if no_day.any():
        row = int(np.flatnonzero(no_day)[0])
        raise InputError(f"`delivery_days`: store {lines['to'].iloc[row]!r} (line {row + 1}) "
                         f"accepts no delivery that a line shipped in the {days} days from "
                         f"{pd.Timestamp(start).date()} can reach; add a delivery weekday for it.")
    units = np.zeros((len(lines), days), dtype=np.int64)
    over = np.zeros((len(lines), days), dtype=bool)
    first_allowed = allowed.argmax(axis=1)
    stores = np.flatnonzero(~from_warehouse)
    units[stores, first_allowed[stores]] = quantity[stores]
    for warehouse in np.unique(origin[from_warehouse]):
        rows = np.flatnonzero(origin == warehouse)
        bad = quantity[rows] % case[rows] != 0
        if bad.any():
            row = int(rows[np.flatnonzero(bad)[0]])
            raise InputError(f"`lines` row {row + 1}: warehouse line of {quantity[row]} units is "
                             f"not a whole number of cases of {case[row]}; warehouse lines ship "
                             "in whole cases.")
        cases, fits = _schedule_warehouse(quantity[rows] // case[rows], case[rows],
                                          allowed[rows], float(limits[warehouse]), time_limit)
        units[rows] = cases * case[rows, None]
        if not fits:
            load = units[rows].sum(axis=0)
            excess = np.maximum(load - limits[warehouse], 0)
            over[rows] = (units[rows] > 0) & (excess > 0)[None, :]
            warn_input(f"Warehouse {warehouse}: no ship days fit its daily throughput of "
                       f"{limits[warehouse]:,.0f} within the stores' delivery days; "
                       f"{excess.sum():,.0f} units ship above it (lines marked "
                       "`over_throughput`). Allow more delivery days or lower the plan.",
                       stacklevel=2)
    line, day = np.nonzero(units)
    out = lines.iloc[line].reset_index(drop=True).copy()
    split = units[line, day]
    share = split / np.maximum(quantity[line], 1)
    out["quantity"] = split
    if "cases" in out.columns:
        out["cases"] = np.where(from_warehouse[line], split // case[line], out["cases"])
    if "loose_units" in out.columns:
        out["loose_units"] = np.where(from_warehouse[line], 0, out["loose_units"])
    if "cost" in out.columns:
        out["cost"] = np.round(out["cost"].to_numpy(dtype=float) * share, 2)
    ship_days = start + pd.to_timedelta(day, unit="D")
    out["ship_day"] = ship_days.date
    out["arrival_day"] = (ship_days + pd.to_timedelta(lead[line], unit="D")).date
    out["over_throughput"] = over[line, day]
    return out


def daily_loads(lines: pd.DataFrame, warehouses: pd.DataFrame) -> pd.DataFrame:
    """Units each warehouse ships per ship day, against its daily throughput.

    Examples
    --------
    >>> lines = pd.DataFrame({"from": ["W1", "W1", "S1"], "quantity": [3, 4, 9],
    ...                       "ship_day": ["2026-01-05", "2026-01-06", "2026-01-05"]})
    >>> daily_loads(lines, pd.DataFrame({"warehouse_id": ["W1"], "daily_throughput": [5]}))[
    ...     "load"].tolist()
    [0.6, 0.8]
    """
    limits = warehouses.assign(warehouse_id=warehouses["warehouse_id"].astype(str)).set_index(
        "warehouse_id")["daily_throughput"].astype(float)
    mine = lines["from"].astype(str).isin(limits.index)
    table = lines.loc[mine].assign(warehouse_id=lines.loc[mine, "from"].astype(str),
                                   ship_day=pd.to_datetime(lines.loc[mine, "ship_day"]))
    table = table.groupby(["warehouse_id", "ship_day"], as_index=False)["quantity"].sum()
    table["daily_throughput"] = table["warehouse_id"].map(limits).to_numpy()
    table["load"] = table["quantity"] / table["daily_throughput"]
    return table.rename(columns={"quantity": "units"})


def _allowed_days(receiver: np.ndarray, lead: np.ndarray, start: pd.Timestamp, days: int,
                  delivery_days: pd.DataFrame | None) -> np.ndarray:
    """``allowed[l, d]``: line ``l`` shipped on day ``d`` arrives on a delivery weekday."""
    allowed = np.ones((len(receiver), days), dtype=bool)
    if delivery_days is None or len(delivery_days) == 0:
        return allowed
    missing = {"store_id", "weekday"} - set(delivery_days.columns)
    if missing:
        raise InputError(f"`delivery_days` lacks column(s) {sorted(missing)}; it needs store_id "
                         "and weekday (0 = Monday, or Mon..Sun).")
    weekday = delivery_days["weekday"].map(
        lambda v: WEEKDAYS.index(v[:3].title()) if isinstance(v, str) and v[:3].title()
        in WEEKDAYS else v)
    bad = ~weekday.isin(range(7))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"`delivery_days`, column `weekday`, row {row + 1}: "
                         f"{delivery_days['weekday'].iloc[row]!r} is not a weekday; use 0..6 "
                         "(0 = Monday) or Mon..Sun.")
    stores = pd.Index(delivery_days["store_id"].astype(str).unique())
    accepts = np.zeros((len(stores), 7), dtype=bool)
    accepts[stores.get_indexer(delivery_days["store_id"].astype(str)),
            weekday.to_numpy(dtype=np.int64)] = True
    listed = stores.get_indexer(receiver)
    arrival_weekday = (start.weekday() + np.arange(days)[None, :] + lead[:, None]) % 7
    rows = np.flatnonzero(listed >= 0)
    allowed[rows] = accepts[listed[rows][:, None], arrival_weekday[rows]]
    return allowed


def _schedule_warehouse(cases: np.ndarray, case: np.ndarray, allowed: np.ndarray,
                        limit: float, time_limit: float) -> tuple[np.ndarray, bool]:
    """Cases of each line per day (``(lines, days)``) and whether the schedule fits the limit."""
    n_lines, n_days = allowed.shape
    line, day = np.nonzero(allowed)
    n_vars = len(line)
    cost = (day + 1) * case[line].astype(float)
    equal = sparse.csr_matrix((np.ones(n_vars), (line, np.arange(n_vars))),
                              shape=(n_lines, n_vars))
    capacity = sparse.csr_matrix((case[line].astype(float), (day, np.arange(n_vars))),
                                 shape=(n_days, n_vars))
    constraints = [optimize.LinearConstraint(equal, cases, cases),
                   optimize.LinearConstraint(capacity, -np.inf, np.full(n_days, limit))]
    result = optimize.milp(cost, constraints=constraints, integrality=np.ones(n_vars),
                           bounds=optimize.Bounds(0, cases[line].astype(float)),
                           options={"time_limit": time_limit})
    schedule = np.zeros((n_lines, n_days), dtype=np.int64)
    if result.x is not None and result.status in (0, 1):
        schedule[line, day] = np.round(result.x).astype(np.int64)
        if np.array_equal(schedule.sum(axis=1), cases):
            load = (schedule * case[:, None]).sum(axis=0)
            if np.all(load <= limit + 1e-9):
                return schedule, True
    return _greedy(cases, case, allowed, limit), False


def _greedy(cases: np.ndarray, case: np.ndarray, allowed: np.ndarray,
            limit: float) -> np.ndarray:
    """Earliest allowed day with room, case by case; what fits nowhere goes where most room is."""
    n_lines, n_days = allowed.shape
    room = np.full(n_days, float(limit))
    schedule = np.zeros((n_lines, n_days), dtype=np.int64)
    for line in np.argsort(allowed.sum(axis=1), kind="stable"):
        left = int(cases[line])
        for d in np.flatnonzero(allowed[line]):
            take = min(left, int(max(room[d], 0) // case[line]))
            schedule[line, d] += take
            room[d] -= take * case[line]
            left -= take
            if left == 0:
                break
        if left:
            days = np.flatnonzero(allowed[line])
            d = days[np.argmax(room[days])]
            schedule[line, d] += left
            room[d] -= left * case[line]
    return schedule


def _pick_sizes(skus: pd.DataFrame) -> pd.Series:
    """Return the units a warehouse line of each SKU is split in: its case, or 1 if unit-picked.

    The pick unit is the SKU file's ``pick_unit``, else the volume rule of
    :func:`optimizer.allocation.lanes.pick_units`; a table with neither ships whole cases.
    """
    case = skus["case_size"].to_numpy(dtype=np.int64)
    if "pick_unit" in skus or "volume_l" in skus:
        case = np.where(pick_units(skus, LaneCosts()) == "case", case, 1)
    return pd.Series(case, index=skus["sku"].astype(str).to_numpy())

