"""Atomic, formula-safe file exports.

A failed write never leaves a half-written file nor replaces a good one, and no text from an
input file becomes a live spreadsheet formula.

Every writer renders to a temporary file in the destination folder and renames it into place
(``os.replace`` is atomic on one file system), so readers see either the old file or the new one.
The renderers (:func:`render_table`, :func:`render_workbook`) write one given path and are what
:mod:`xingtu.jobs.outputs` uses to commit a run's files together with its database row.

Formula safety: text beginning with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) is
what a spreadsheet may run as a formula (a store id ``=HYPERLINK(...)`` in a plan, say).

* Excel: such text is written as a text cell with Excel's quote prefix, never as a formula cell;
  numbers stay numbers.
* CSV: such text gets a leading ``'`` (the usual defence; a spreadsheet shows the text, not a
  formula). Text that is a plain number (``-3``, ``+1.5``) is left as it is.
* Parquet, GeoJSON, GeoPackage are typed formats with no formulas and are written unchanged.

Week-based file names come from :func:`week_file_name`, which accepts only an ISO week label
(``2026-W02``), and day plans' from :func:`plan_label_file_name`, which accepts a week label or a
calendar day (``2026-12-03``), so a label such as ``../x`` can never become a path.

Workbooks for people (:func:`render_workbook` with ``formats``): numbers stay numbers with a
number format per column, the header row is frozen, every sheet has a filter on its header and
columns are as wide as their content (up to :data:`MAX_COLUMN_WIDTH` characters).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import InputError

TABLE_FORMATS = {".csv": "csv", ".xlsx": "excel", ".parquet": "parquet", ".geojson": "geojson",
                 ".gpkg": "gpkg"}

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters with which a spreadsheet may read a text cell as a formula."""

WEEK_LABEL = re.compile(r"[0-9]{4}-W[0-9]{2}")
"""An ISO week label as Xingtu writes it: four-digit year, ``-W``, two-digit week."""

DAY_LABEL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
"""A day plan's label: an ISO calendar date, ``2026-12-03``."""

MAX_COLUMN_WIDTH = 48
"""Widest column :func:`render_workbook` sets, in characters."""

SheetFormats = Mapping[str, str | Sequence[str | None]]
"""Number formats of one sheet: column name to one format, or to one format per row."""


def check_week_label(week: object) -> str:
    """Return ``week`` when it is an ISO week label such as ``2026-W02``, else raise.

    Parameters
    ----------
    week
        The label to check.

    Returns
    -------
    str
        The label, unchanged.

    Raises
    ------
    InputError
        Not of the form ``YYYY-Www`` with a week that exists in that year (``2026-W1``,
        ``2026-W60`` and ``../2026-W02`` are refused).

    Examples
    --------
    >>> check_week_label("2026-W02")
    '2026-W02'
    """
    text = week if isinstance(week, str) else ""
    short = re.fullmatch(r"(\d{4})-W(\d)", text)
    hint = f" ('{short[1]}-W0{short[2]}')" if short else ""
    return _check_label(
        week, WEEK_LABEL, lambda t: pd.Timestamp.fromisocalendar(int(t[:4]), int(t[6:]), 1),
        f"`week` is {week!r}; write an ISO week as YYYY-Www with two digits for the "
        f"week{hint}, e.g. '2026-W02' (a week that exists in that year).")


def check_day_label(day: object) -> str:
    """Return ``day`` when it is a calendar date written ``YYYY-MM-DD``, else raise.

    Parameters
    ----------
    day
        The label to check.

    Returns
    -------
    str
        The label, unchanged.

    Raises
    ------
    InputError
        Not of the form ``YYYY-MM-DD`` or not a real date (``2026-02-30``, ``2026-12-3`` and
        ``../2026-12-03`` are refused).

    Examples
    --------
    >>> check_day_label("2026-12-03")
    '2026-12-03'
    """
    return _check_label(
        day, DAY_LABEL, lambda t: pd.Timestamp(year=int(t[:4]), month=int(t[5:7]),
                                               day=int(t[8:])),
        f"`day` is {day!r}; write a day as YYYY-MM-DD, e.g. '2026-12-03' (a date that exists).")


def _check_label(label: object, pattern: re.Pattern[str], to_date: Callable[[str], object],
                 message: str) -> str:
    """Return ``label`` when it matches ``pattern`` whole and ``to_date`` accepts it.

    ``to_date`` raises ``ValueError`` for a label of the right shape that names no real date;
    anything else raises :class:`InputError` with ``message``.
    """
    text = label if isinstance(label, str) else ""
    valid = pattern.fullmatch(text) is not None
    if valid:
        try:
            to_date(text)
        except ValueError:
            valid = False
    if not valid:
        raise InputError(message)
    return text


def check_plan_label(label: object) -> str:
    """Return ``label`` when it is a week (``2026-W02``) or a day (``2026-12-03``), else raise.

    Examples
    --------
    >>> check_plan_label("2026-W02"), check_plan_label("2026-12-03")
    ('2026-W02', '2026-12-03')
    """
    if isinstance(label, str) and DAY_LABEL.fullmatch(label):
        return check_day_label(label)
    return check_week_label(label)


def plan_label_file_name(prefix: str, label: str, suffix: str) -> str:
    """Return the file name of a week's or a day's output, e.g. ``plan-2026-12-03.xlsx``.

    Parameters
    ----------
    prefix
        What the file holds (``"plan"``).
    label
        ISO week or calendar day, checked by :func:`check_plan_label`.
    suffix
        File extension with its dot.

    Returns
    -------
    str
        ``<prefix>-<label><suffix>``, a plain file name (no folder part).

    Examples
    --------
    >>> plan_label_file_name("plan", "2026-12-03", ".xlsx")
    'plan-2026-12-03.xlsx'
    """
    return f"{prefix}-{check_plan_label(label)}{suffix}"


def week_file_name(prefix: str, week: str, suffix: str) -> str:
    """Return the file name of a week's output, e.g. ``plan-2026-W02.xlsx``.

    Parameters
    ----------
    prefix
        What the file holds (``"plan"``).
    week
        ISO week label, checked by :func:`check_week_label`.
    suffix
        File extension with its dot.

    Returns
    -------
    str
        ``<prefix>-<week><suffix>``, a plain file name (no folder part).

    Examples
    --------
    >>> week_file_name("plan", "2026-W02", ".xlsx")
    'plan-2026-W02.xlsx'
    """
    return f"{prefix}-{check_week_label(week)}{suffix}"


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Write a file through ``write(tmp_path)`` and move it into place only if that succeeded.

    Parameters
    ----------
    path
        Destination. Its folder is created if missing.
    write
        Function that writes the complete file to the temporary path it is given.

    Returns
    -------
    Path
        The destination path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(out, lambda p: p.write_text("hi")).read_text()
    'hi'
    """
    destination = Path(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp",
                                        dir=destination.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        tmp.chmod(_default_file_mode())  # mkstemp creates 0600; give the file the usual mode
        os.replace(tmp, destination)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return destination


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str], *, sheet_name: str = "data",
                ) -> Path:
    """Write one table as CSV, Excel, Parquet (GeoParquet for a GeoDataFrame), GeoJSON or GeoPackage.

    The format follows the file extension. The write is atomic (see :func:`atomic_write`).

    Parameters
    ----------
    frame
        The table; a GeoDataFrame for ``.geojson`` and ``.gpkg``.
    path
        Destination; its extension picks the format.
    sheet_name
        Sheet name for Excel.

    Returns
    -------
    Path
        The destination path.
    """
    destination = Path(path)
    check_table_format(frame, destination)
    return atomic_write(destination, lambda tmp: render_table(frame, tmp, destination.suffix,
                                                              sheet_name=sheet_name))


def check_table_format(frame: pd.DataFrame, path: Path) -> None:
    """Raise when ``path``'s extension is unknown or needs a geometry ``frame`` lacks.

    Examples
    --------
    >>> check_table_format(pd.DataFrame({"a": [1]}), Path("plan.csv"))
    """
    kind = _format_of(path)
    if kind in ("geojson", "gpkg") and not hasattr(frame, "geometry"):
        raise ValueError(f"`{path.name}`: {kind} needs a table with geometry; "
                         "write .csv, .xlsx or .parquet instead.")


def render_table(frame: pd.DataFrame, path: Path, suffix: str, *, sheet_name: str = "data",
                 ) -> None:
    """Write one table to exactly ``path`` in the format of ``suffix`` (not atomic by itself).

    Parameters
    ----------
    frame
        The table.
    path
        File to write (a temporary name; the caller moves it into place).
    suffix
        Extension naming the format (``.csv``, ``.xlsx``, ...).
    sheet_name
        Sheet (Excel) or layer (GeoPackage) name.
    """
    kind = TABLE_FORMATS[suffix.lower()]
    if kind == "csv":
        formula_safe_text(frame).to_csv(path, index=False)
    elif kind == "excel":
        render_workbook({sheet_name: frame}, path)
    elif kind == "parquet":
        frame.to_parquet(path, index=False)
    elif kind == "geojson":
        frame.to_file(path, driver="GeoJSON")
    else:
        frame.to_file(path, driver="GPKG", layer=sheet_name)


def render_workbook(sheets: Mapping[str, pd.DataFrame], path: Path, *,
                    formats: Mapping[str, SheetFormats] | None = None) -> None:
    """Write tables as the sheets of one workbook at exactly ``path``, text never as a formula.

    Parameters
    ----------
    sheets
        Sheet name to table, in order (names are cut to Excel's 31 characters).
    path
        File to write (a temporary name; the caller moves it into place).
    formats
        Optional sheet name to :data:`SheetFormats` (Excel number formats such as ``#,##0``,
        ``#,##0.00`` or ``0.0%``). When given, the workbook is laid out for people: every sheet
        gets a frozen header row, a filter on the header and column widths that fit the
        content, and the named columns (or cells) their number formats.
    """
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, table in sheets.items():
            table.to_excel(writer, sheet_name=name[:31], index=False)
            sheet = writer.sheets[name[:31]]
            for row, column in _risky_text_cells(table):
                cell = sheet.cell(row=row + 2, column=column + 1)  # header row, 1-based
                cell.data_type = "s"  # the text itself, never a formula
                cell.quotePrefix = True  # and Excel keeps it text when the cell is edited
            if formats is not None:
                _lay_out(sheet, table, formats.get(name, {}))


def _lay_out(sheet: Any, table: pd.DataFrame, formats: SheetFormats) -> None:
    """Freeze the header, filter it, size the columns and set the number formats of a sheet."""
    from openpyxl.utils import get_column_letter

    sheet.freeze_panes = "A2"
    last = get_column_letter(max(len(table.columns), 1))
    sheet.auto_filter.ref = f"A1:{last}{len(table) + 1}"
    for position, column in enumerate(table.columns, start=1):
        letter = get_column_letter(position)
        pattern = formats.get(str(column))
        if pattern is not None:
            patterns = ([pattern] * len(table) if isinstance(pattern, str) else list(pattern))
            for row, row_pattern in enumerate(patterns, start=2):
                if row_pattern:
                    sheet.cell(row=row, column=position).number_format = row_pattern
        sample = table[column].head(200)
        widest = max([len(str(column))] + [len(_shown(value)) for value in sample])
        sheet.column_dimensions[letter].width = min(widest + 2, MAX_COLUMN_WIDTH)


def _shown(value: object) -> str:
    """Roughly what a cell shows, for the column width."""
    if isinstance(value, float | np.floating):
        return f"{value:,.2f}" if np.isfinite(value) else ""
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    return "" if value is None else str(value)


def formula_safe_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with text a spreadsheet could run as a formula prefixed by ``'``.

    Only text cells change; numbers, and text that is a plain number, stay as they are.

    Examples
    --------
    >>> formula_safe_text(pd.DataFrame({"id": ["=1+1", "-3", "S1"], "n": [-1, 2, 3]}))["id"].tolist()
    ["'=1+1", '-3', 'S1']
    """
    cells = _risky_text_cells(frame)
    if not cells:
        return frame
    safe = frame.copy()
    for row, column in cells:
        safe.iat[row, column] = "'" + str(frame.iat[row, column])
    return safe


def _risky_text_cells(frame: pd.DataFrame) -> list[tuple[int, int]]:
    """Positions (row, column) of text cells that begin like a formula and are not a number."""
    cells: list[tuple[int, int]] = []
    for column, name in enumerate(frame.columns):
        series = frame[name]
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        text = series.map(lambda value: value if isinstance(value, str) else "")
        risky = text.str.startswith(FORMULA_PREFIXES) & pd.to_numeric(
            text, errors="coerce").isna()
        cells.extend((int(row), column) for row in np.flatnonzero(risky.to_numpy()))
    return cells


def write_workbook(sheets: Mapping[str, pd.DataFrame], path: str | os.PathLike[str]) -> Path:
    """Write several tables as the sheets of one Excel workbook, atomically.

    Parameters
    ----------
    sheets
        Sheet name to table, in the order the sheets should appear.
    path
        Destination ``.xlsx`` file.

    Returns
    -------
    Path
        The destination path.
    """
    destination = Path(path)
    if _format_of(destination) != "excel":
        raise ValueError(f"`{destination.name}`: a workbook must end in .xlsx.")
    return atomic_write(destination, lambda tmp: render_workbook(sheets, tmp))


def workbook_bytes(sheets: Mapping[str, pd.DataFrame], *,
                   formats: Mapping[str, SheetFormats] | None = None) -> bytes:
    """Return the workbook :func:`render_workbook` writes, as bytes (for a download button).

    Examples
    --------
    >>> workbook_bytes({"plan": pd.DataFrame({"a": [1]})})[:2]
    b'PK'
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "workbook.xlsx"
        render_workbook(sheets, path, formats=formats)
        return path.read_bytes()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    r"""Return ``frame`` as the UTF-8 CSV :func:`render_table` writes (formula-safe text).

    Examples
    --------
    >>> csv_bytes(pd.DataFrame({"id": ["@x"]}))
    b"id\n'@x\n"
    """
    return formula_safe_text(frame).to_csv(index=False).encode("utf-8")


def _default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        known = ", ".join(sorted(TABLE_FORMATS))
        raise ValueError(f"`{path.name}`: unknown file type {suffix!r}; use one of {known}.")
    return TABLE_FORMATS[suffix]
