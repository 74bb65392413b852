"""Repair records: the columns the after-sales computations read, comebacks and chain norms.

One row per repair: ``shop_id``, ``serial``, ``model``, ``received``, ``returned`` (dates),
``fault_code``, ``parts_cost``, ``labour_cost``, ``warranty`` (bool), optionally ``warranty_end``
(date) and ``customer_rating`` (1-5). Reading and checking a file is :mod:`geodata.repairs`; this
module is pure computation on a checked frame.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError

REQUIRED_COLUMNS = ("shop_id", "serial", "model", "received", "returned", "fault_code",
                    "parts_cost", "labour_cost", "warranty")
"""Columns every repair record has."""

COMEBACK_DAYS = (30, 90)
"""Windows of the ``back_within_<days>`` columns: the same device received again (at any shop)
within this many days after the repair was returned."""

MIN_COST_GROUP = 20
"""Repairs a (fault, model) pair needs before it gets its own cost norm; smaller pairs use the
fault's norm."""


def check_records(repairs: pd.DataFrame) -> None:
    """Raise :class:`~optimizer.errors.InputError` when a required column is missing or empty.

    Examples
    --------
    >>> check_records(pd.DataFrame({"shop_id": ["R1"]}))
    Traceback (most recent call last):
    ...
    optimizer.errors.InputError: `repairs` has no `serial`, `model`, `received`, `returned`, ...
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in repairs.columns]
    if missing:
        names = ", ".join(f"`{c}`" for c in missing[:4]) + (", ..." if len(missing) > 4 else "")
        raise InputError(f"`repairs` has no {names} column; read the file with "
                         "`geodata.repairs.read_repairs`, which checks every column.")
    if len(repairs) == 0:
        raise InputError("`repairs` has no rows; give at least one repair record.")


def turnaround_days(repairs: pd.DataFrame) -> np.ndarray:
    """Return the days from receipt to return of each repair (0 for a same-day repair).

    Examples
    --------
    >>> frame = pd.DataFrame({"received": pd.to_datetime(["2025-01-01"]),
    ...                       "returned": pd.to_datetime(["2025-01-04"])})
    >>> turnaround_days(frame).tolist()
    [3.0]
    """
    received = pd.to_datetime(repairs["received"]).to_numpy("datetime64[D]")
    returned = pd.to_datetime(repairs["returned"]).to_numpy("datetime64[D]")
    return (returned - received).astype(np.float64)


def came_back_within(repairs: pd.DataFrame, days: int) -> np.ndarray:
    """Return whether each repaired device was received again within ``days`` of its return.

    The next repair of the same ``serial`` (at any shop) counts when it is received at most
    ``days`` days after this repair's ``returned`` date.

    Examples
    --------
    >>> days = pd.to_datetime
    >>> frame = pd.DataFrame({"serial": ["a", "a", "b"],
    ...                       "received": days(["2025-01-01", "2025-01-20", "2025-01-01"]),
    ...                       "returned": days(["2025-01-03", "2025-01-22", "2025-01-02"])})
    >>> came_back_within(frame, 30).tolist()
    [True, False, False]
    """
    received = pd.to_datetime(repairs["received"]).to_numpy("datetime64[D]").astype(np.int64)
    returned = pd.to_datetime(repairs["returned"]).to_numpy("datetime64[D]").astype(np.int64)
    serial = pd.factorize(repairs["serial"].astype(str))[0]
    order = np.lexsort((np.arange(len(repairs)), received, serial))
    same_next = np.zeros(len(repairs), dtype=bool)
    gap = np.full(len(repairs), np.iinfo(np.int64).max)
    same_next[:-1] = serial[order][1:] == serial[order][:-1]
    gap[:-1] = received[order][1:] - returned[order][:-1]
    back = same_next & (gap <= days)
    result = np.zeros(len(repairs), dtype=bool)
    result[order] = back
    return result


def with_comebacks(repairs: pd.DataFrame) -> pd.DataFrame:
    """Return the records with ``back_within_30`` and ``back_within_90`` computed from the data.

    Any such column already present is replaced: comebacks are derived from ``serial`` and the
    dates, never taken on trust (:func:`geodata.repairs.validate_repairs` compares a given column
    with the derived one).
    """
    frame = repairs.copy()
    for days in COMEBACK_DAYS:
        frame[f"back_within_{days}"] = came_back_within(frame, days)
    return frame


def turnaround_norm(repairs: pd.DataFrame) -> pd.Series:
    """Return the chain's median turnaround in days per fault code, one value per repair.

    Examples
    --------
    >>> returned = pd.to_datetime(["2025-01-02", "2025-01-04", "2025-01-08"])
    >>> frame = pd.DataFrame({"fault_code": ["A", "A", "B"],
    ...                       "received": pd.to_datetime(["2025-01-01"] * 3),
    ...                       "returned": returned})
    >>> turnaround_norm(frame).tolist()
    [2.0, 2.0, 7.0]
    """
    days = pd.Series(turnaround_days(repairs), index=repairs.index)
    return days.groupby(repairs["fault_code"].to_numpy()).transform("median").rename("norm_days")


def repair_cost(repairs: pd.DataFrame) -> np.ndarray:
    """Return parts plus labour cost of each repair, in CNY."""
    return (repairs["parts_cost"].to_numpy(np.float64)
            + repairs["labour_cost"].to_numpy(np.float64))


def cost_groups(repairs: pd.DataFrame, min_group: int = MIN_COST_GROUP) -> np.ndarray:
    """Return the cost-norm group of each repair: ``fault|model``, or ``fault`` for rare pairs.

    Examples
    --------
    >>> frame = pd.DataFrame({"fault_code": ["A", "A", "A"], "model": ["x", "x", "y"]})
    >>> cost_groups(frame, min_group=2).tolist()
    ['A|x', 'A|x', 'A']
    """
    fault = repairs["fault_code"].astype(str).to_numpy()
    pair = np.char.add(np.char.add(fault.astype(str), "|"),
                       repairs["model"].astype(str).to_numpy().astype(str))
    size = pd.Series(pair).map(pd.Series(pair).value_counts()).to_numpy()
    return np.where(size >= min_group, pair, fault).astype(object)


def cost_norm(repairs: pd.DataFrame, min_group: int = MIN_COST_GROUP) -> pd.Series:
    """Return the chain's median cost for the repair's fault and model (see :func:`cost_groups`).

    Examples
    --------
    >>> frame = pd.DataFrame({"fault_code": ["A", "A", "A"], "model": ["x", "x", "y"],
    ...                       "parts_cost": [100.0, 200.0, 600.0], "labour_cost": [0.0] * 3})
    >>> cost_norm(frame, min_group=2).tolist()
    [150.0, 150.0, 200.0]
    """
    cost = pd.Series(repair_cost(repairs), index=repairs.index)
    fault = repairs["fault_code"].astype(str).to_numpy()
    groups = cost_groups(repairs, min_group)
    by_pair = cost.groupby(groups).transform("median").to_numpy()
    by_fault = cost.groupby(fault).transform("median").to_numpy()
    own = groups != fault
    return pd.Series(np.where(own, by_pair, by_fault), index=repairs.index, name="norm_cost")


def records_span_years(repairs: pd.DataFrame) -> float:
    """Return the years the records span (first to last receipt, at least one day)."""
    received = pd.to_datetime(repairs["received"])
    return max((received.max() - received.min()).days + 1, 1) / 365.25
