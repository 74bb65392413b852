"""Reading and checking repair records and devices sold (the after-sales inputs).

``repairs``: one row per repair. Required ``shop_id``, ``serial``, ``model``, ``received``,
``returned`` (dates), ``fault_code``, ``parts_cost``, ``labour_cost`` (CNY, >= 0), ``warranty``
(true/false, yes/no, 1/0, warranty/paid); optional ``repair_id`` (unique), ``warranty_end``
(date, to check claims outside warranty), ``customer_rating`` (whole number 1-5),
``back_within_30`` / ``back_within_90`` (derived from ``serial`` and the dates in any case; a
given column that disagrees is reported). Beyond the schema: a shop not in the repair-shop
table, a return before the receipt or more than :data:`MAX_TURNAROUND_DAYS` after it, infinite
values, and duplicate repairs (same shop, serial and day) are refused. Every problem of the file
is reported together, each with file, column, row (row 1 = the first data row) and the fix.

``devices``: one row per device sold: ``serial`` (unique), ``model``, ``sold`` (date), optional
``warranty_end``, and where its owner lives (point geometry or ``lat``/``lng``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.after_sales.records import COMEBACK_DAYS, came_back_within

from . import grid
from ._errors import InputDataError, Problem, problem_at_rows, warn_input
from ._validate import Column, Schema, register_schema, validate
from .io import read_table

PathLike = str | os.PathLike[str]

MAX_TURNAROUND_DAYS = 365
"""A repair returned more than this many days after receipt is taken for a date typo."""

TRUE_WORDS = ("true", "yes", "y", "1", "1.0", "t", "warranty", "是")
FALSE_WORDS = ("false", "no", "n", "0", "0.0", "f", "paid", "否")
"""Accepted spellings of the ``warranty`` flag (case-insensitive)."""

REPAIRS_SCHEMA = Schema("repairs", (
    Column("repair_id", "id", required=False, unique=True),
    Column("shop_id", "id", description="the repair shop's id, as in the repair-shop table"),
    Column("serial", "id", description="the device's serial number"),
    Column("model", "id", description="the device model"),
    Column("received", "date", description="day the shop received the device"),
    Column("returned", "date", description="day the device was returned"),
    Column("fault_code", "id", description="the fault repaired"),
    Column("parts_cost", minimum=0, description="parts cost in CNY"),
    Column("labour_cost", minimum=0, description="labour cost in CNY"),
    Column("warranty", "text", description="repaired under warranty (true/false)"),
    Column("warranty_end", "date", required=False),
    Column("customer_rating", "integer", required=False, minimum=1, maximum=5),
), geometry=None, unique_together=(("shop_id", "serial", "received"),),
    description="repair records, one row per repair")

DEVICES_SCHEMA = Schema("devices", (
    Column("serial", "id", unique=True, description="the device's serial number"),
    Column("model", "id", description="the device model"),
    Column("sold", "date", description="day the device was sold"),
    Column("warranty_end", "date", required=False),
), description="devices sold, where their owners live")

register_schema(REPAIRS_SCHEMA)
register_schema(DEVICES_SCHEMA)


def _warranty_flags(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return the flag of each row and where it could not be read."""
    if raw.dtype == bool:
        return raw.to_numpy(bool), np.zeros(len(raw), dtype=bool)
    text = raw.astype("string").str.strip().str.lower()
    true = text.isin(TRUE_WORDS).fillna(False).to_numpy(bool)
    false = text.isin(FALSE_WORDS).fillna(False).to_numpy(bool)
    return true, ~(true | false) & raw.notna().to_numpy()


def validate_repairs(frame: pd.DataFrame, *, shops: pd.DataFrame | Sequence[str] | None = None,
                     source: str = "repairs") -> pd.DataFrame:
    """Check repair records; raise one error listing every problem, or return them cleaned.

    Parameters
    ----------
    frame
        The records as read.
    shops
        The repair shops (a table with ``shop_id``, or the ids); records of other shops are
        refused. ``None`` skips that check.
    source
        File name used in messages.

    Returns
    -------
    pandas.DataFrame
        Dates as datetimes, costs as numbers, ``warranty`` as bool, ``back_within_30`` and
        ``back_within_90`` derived from the serials and dates.

    Raises
    ------
    InputDataError
        Listing every problem with file, column, row and fix.

    Examples
    --------
    >>> bad = pd.DataFrame({"shop_id": ["R1"], "serial": ["A"], "model": ["M"],
    ...     "received": ["2025-01-05"], "returned": ["2025-01-02"], "fault_code": ["SCREEN"],
    ...     "parts_cost": [100], "labour_cost": [50], "warranty": ["yes"]})
    >>> validate_repairs(bad, shops=["R1"], source="r.csv")
    Traceback (most recent call last):
    ...
    optimizer.errors.InputError: r.csv: 1 problem found
      1. r.csv, column `returned`, row 1: returned before it was received ...
    """
    problems: list[Problem] = []
    try:
        checked = validate(frame, "repairs", source=source)
    except InputDataError as error:
        problems += error.problems
        checked = frame.copy()
        checked.columns = [str(c).strip() for c in checked.columns]
    problems += _extra_problems(checked, shops, source)
    if problems:
        raise InputDataError(problems, source)
    warranty, _ = _warranty_flags(checked["warranty"])
    checked["warranty"] = warranty
    for name in ("received", "returned", "warranty_end"):
        if name in checked.columns:
            checked[name] = pd.to_datetime(checked[name])
    given = {days: checked[f"back_within_{days}"] for days in COMEBACK_DAYS
             if f"back_within_{days}" in checked.columns}
    for days in COMEBACK_DAYS:
        checked[f"back_within_{days}"] = came_back_within(checked, days)
    _check_given_comebacks(checked, given, source)
    return checked


def _extra_problems(frame: pd.DataFrame, shops: pd.DataFrame | Sequence[str] | None,
                    source: str) -> list[Problem]:
    problems: list[Problem] = []
    columns = frame.columns
    for name in ("parts_cost", "labour_cost", "customer_rating"):
        if name in columns:
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
            infinite = np.isinf(values)
            if infinite.any():
                rows = np.flatnonzero(infinite)
                problems.append(problem_at_rows(source, name, rows, values[rows],
                                                "value is infinite",
                                                "write the amount as a plain finite number"))
    if "warranty" in columns:
        _, unreadable = _warranty_flags(frame["warranty"])
        if unreadable.any():
            rows = np.flatnonzero(unreadable)
            problems.append(problem_at_rows(
                source, "warranty", rows, frame["warranty"].to_numpy()[rows],
                "value is not a yes/no flag", "write true or false (or yes/no, 1/0, "
                "warranty/paid)"))
    if "received" in columns and "returned" in columns:
        received = pd.to_datetime(frame["received"], errors="coerce")
        returned = pd.to_datetime(frame["returned"], errors="coerce")
        days = (returned - received).dt.days.to_numpy(np.float64)
        early = np.flatnonzero(days < 0)
        if early.size:
            problems.append(problem_at_rows(
                source, "returned", early, [str(returned.iloc[early[0]].date())],
                "returned before it was received",
                "check the `received` and `returned` dates (they may be swapped)"))
        late = np.flatnonzero(days > MAX_TURNAROUND_DAYS)
        if late.size:
            problems.append(problem_at_rows(
                source, "returned", late, [str(returned.iloc[late[0]].date())],
                f"returned more than {MAX_TURNAROUND_DAYS} days after it was received",
                "check the year of the dates"))
    if shops is not None and "shop_id" in columns:
        known = (shops["shop_id"] if isinstance(shops, pd.DataFrame) else pd.Series(list(shops)))
        known_ids = set(known.astype(str))
        ids = frame["shop_id"].astype(str)
        unknown = np.flatnonzero(~ids.isin(known_ids).to_numpy() & frame["shop_id"].notna()
                                 .to_numpy())
        if unknown.size:
            first = ids.iloc[unknown[0]]
            problems.append(problem_at_rows(
                source, "shop_id", unknown, [first], "shop is not in the repair-shop table",
                f"add shop {first!r} to the repair shops or correct the id ({len(known_ids)} "
                "shops are known)"))
    return problems


def _check_given_comebacks(checked: pd.DataFrame, given: dict[int, pd.Series],
                           source: str) -> None:
    for days, column in given.items():
        flags, unreadable = _warranty_flags(column)
        wrong = np.flatnonzero((flags != checked[f"back_within_{days}"].to_numpy())
                               & ~unreadable)
        if wrong.size:
            problem = problem_at_rows(
                source, f"back_within_{days}", wrong, None,
                f"disagrees with the serials and dates ({wrong.size} rows); the derived value "
                "is used", "drop the column: it is derived from `serial`, `received` and "
                "`returned`")
            warn_input(problem.render(), stacklevel=3)


def read_repairs(path: PathLike, *, shops: pd.DataFrame | Sequence[str] | None = None,
                 layer: str | None = None) -> pd.DataFrame:
    r"""Read and check repair records from a file (CSV, Excel, Parquet, ...).

    Parameters
    ----------
    path
        The file (see :func:`geodata.io.read_table` for formats).
    shops
        The repair shops the records must belong to (table or ids); ``None`` skips the check.
    layer
        Workbook sheet or GeoPackage layer.

    Returns
    -------
    pandas.DataFrame
        See :func:`validate_repairs`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "repairs.csv"
    >>> _ = p.write_text("shop_id,serial,model,received,returned,fault_code,parts_cost,"
    ...                  "labour_cost,warranty\nR1,A,M,2025-01-02,2025-01-05,SCREEN,100,50,no\n")
    >>> read_repairs(p, shops=["R1"])["warranty"].tolist()
    [False]
    """
    return validate_repairs(read_table(path, layer=layer), shops=shops, source=Path(path).name)


def read_devices(path: PathLike, *, layer: str | None = None) -> pd.DataFrame:
    r"""Read and check the devices sold (serial, model, sold date, where the owner lives).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "devices.csv"
    >>> _ = p.write_text("serial,model,sold,lat,lng\nA,M,2024-03-01,22.5,114.0\n")
    >>> len(read_devices(p))
    1
    """
    return validate(read_table(path, layer=layer), "devices", source=Path(path).name)


def devices_with_cells(devices: pd.DataFrame, resolution: int = 8) -> pd.DataFrame:
    """Return the devices with the H3 ``cell`` (uint64) of where each owner lives.

    Examples
    --------
    >>> d = pd.DataFrame({"serial": ["A"], "lat": [22.5], "lng": [114.0]})
    >>> int(devices_with_cells(d)["cell"].iloc[0]) > 0
    True
    """
    frame = devices.copy()
    if "lat" in frame.columns and "lng" in frame.columns:
        lat, lng = frame["lat"].to_numpy(np.float64), frame["lng"].to_numpy(np.float64)
    else:
        lat, lng = frame.geometry.y.to_numpy(), frame.geometry.x.to_numpy()
    frame["cell"] = grid.points_to_cells(lat, lng, resolution)
    return frame
