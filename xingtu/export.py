"""Atomic file exports: a failed write never leaves a half-written file nor replaces a good one.

Every writer renders to a temporary file in the destination folder and renames it into place
(``os.replace`` is atomic on one file system), so readers see either the old file or the new one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

TABLE_FORMATS = {".csv": "csv", ".xlsx": "excel", ".parquet": "parquet", ".geojson": "geojson",
                 ".gpkg": "gpkg"}


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
    kind = _format_of(destination)
    if kind in ("geojson", "gpkg") and not hasattr(frame, "geometry"):
        raise ValueError(f"`{destination.name}`: {kind} needs a table with geometry; "
                         "write .csv, .xlsx or .parquet instead.")

    def _write(tmp: Path) -> None:
        if kind == "csv":
            frame.to_csv(tmp, index=False)
        elif kind == "excel":
            with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
                frame.to_excel(writer, sheet_name=sheet_name, index=False)
        elif kind == "parquet":
            frame.to_parquet(tmp, index=False)
        elif kind == "geojson":
            frame.to_file(tmp, driver="GeoJSON")
        else:
            frame.to_file(tmp, driver="GPKG", layer=sheet_name)

    return atomic_write(destination, _write)


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

    def _write(tmp: Path) -> None:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, table in sheets.items():
                table.to_excel(writer, sheet_name=name[:31], index=False)

    return atomic_write(destination, _write)


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
