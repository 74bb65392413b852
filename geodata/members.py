"""The members' transactions file: reading, checking, each member's place and the per-cell layer.

The file (``docs/data.md``) has one row per purchase: ``member_id``, ``date``, ``amount`` (CNY) and
where the member lives (``lat``/``lng`` or point geometry; the latest row's place counts when a
member moved), optionally ``store_id``. The value model is :mod:`optimizer.member_value`; this
module gives it the checked table and turns its per-member values into a layer per H3 cell:

>>> from optimizer.member_value import customer_value   # doctest: +SKIP
>>> tx = read_members("members.csv")                      # doctest: +SKIP
>>> layer = member_value_layer(customer_value(tx)["expected_value"], member_cells(tx, 8))
...                                                        # doctest: +SKIP
>>> layers = add_cell_columns(layers, layer)               # doctest: +SKIP
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from . import grid
from ._validate import Column, Schema, register_schema
from .user_layers import add_cell_columns

__all__ = ["MEMBERS", "add_cell_columns", "member_cells", "member_locations",
           "member_value_layer", "read_members"]

MEMBERS = Schema("members", (
    Column("member_id", "id", description="member (loyalty card) id"),
    Column("date", "date", description="purchase date"),
    Column("amount", minimum=0, description="amount paid in CNY"),
    Column("store_id", "id", required=False, description="store of the purchase"),
), description="members' purchases, one row per purchase, at the member's home")

register_schema(MEMBERS)


def read_members(path: str | os.PathLike[str], *, layer: str | None = None) -> pd.DataFrame:
    r"""Read and check a members' transactions file (CSV, Excel, GeoPackage, GeoJSON, Parquet).

    Returns
    -------
    pandas.DataFrame
        A GeoDataFrame of points (EPSG:4326) with ``member_id``, ``date`` (datetime),
        ``amount`` and ``lat``/``lng``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "members.csv"
    >>> _ = p.write_text("member_id,date,amount,lat,lng\nM1,2025-03-01,899,22.54,114.06\n")
    >>> read_members(p)["amount"].tolist()
    [899.0]
    """
    from .io import read_input

    table = read_input(path, "members", layer=layer)
    table["amount"] = table["amount"].astype(float)
    if "store_id" in table.columns:
        table["store_id"] = table["store_id"].astype(str)
    table["member_id"] = table["member_id"].astype(str)
    return table


def member_locations(transactions: pd.DataFrame) -> pd.DataFrame:
    """Return where each member lives: the place of the member's latest purchase row.

    Examples
    --------
    >>> t = pd.DataFrame({"member_id": ["a", "a"], "date": ["2025-01-01", "2025-02-01"],
    ...                   "lat": [22.5, 22.6], "lng": [114.0, 114.1]})
    >>> member_locations(t).loc["a", "lat"]
    np.float64(22.6)
    """
    lat, lng = _lat_lng(transactions)
    frame = pd.DataFrame({"member_id": transactions["member_id"].to_numpy(),
                          "date": pd.to_datetime(transactions["date"]).to_numpy(),
                          "lat": lat, "lng": lng})
    latest = frame.sort_values("date", kind="stable").drop_duplicates("member_id", keep="last")
    return latest.set_index("member_id")[["lat", "lng"]].sort_index()


def member_cells(transactions: pd.DataFrame, resolution: int) -> pd.Series:
    """Return the H3 cell (``uint64``) each member lives in, indexed by member.

    Examples
    --------
    >>> t = pd.DataFrame({"member_id": ["a"], "date": ["2025-01-01"], "lat": [22.5],
    ...                   "lng": [114.0]})
    >>> int(grid.cells_resolution(member_cells(t, 8).to_numpy())[0])
    8
    """
    places = member_locations(transactions)
    cells = grid.points_to_cells(places["lat"].to_numpy(), places["lng"].to_numpy(), resolution)
    return pd.Series(cells, index=places.index, name="cell")


def member_value_layer(values: pd.Series, cells: pd.Series, *,
                       name: str = "member_value") -> pd.DataFrame:
    """Sum member values per cell: the member-value layer (the total is preserved).

    Parameters
    ----------
    values
        Value per member (e.g. ``optimizer.member_value.customer_value(tx)["expected_value"]``).
    cells
        Cell per member (:func:`member_cells`).
    name
        Name of the value column.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell`` (uint64): ``members``, ``<name>`` and ``<name>_per_member``.

    Examples
    --------
    >>> v = pd.Series({"a": 10.0, "b": 5.0})
    >>> member_value_layer(v, pd.Series({"a": 7, "b": 7}))["member_value"].tolist()
    [15.0]
    """
    missing = values.index.difference(cells.index)
    if len(missing):
        raise ValueError(f"{len(missing)} members have a value but no cell (e.g. "
                         f"{list(missing[:3])}); give every member a place.")
    member_cell = np.asarray(cells.reindex(values.index).to_numpy(), dtype=np.uint64)
    table = grid.aggregate_cells(member_cell, {"members": ("count", None),
                                               name: ("sum", values.to_numpy(float))})
    table[f"{name}_per_member"] = table[name] / table["members"]
    return table


def _lat_lng(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if {"lat", "lng"} <= set(frame.columns):
        return frame["lat"].to_numpy(float), frame["lng"].to_numpy(float)
    geometry = getattr(frame, "geometry", None)
    if geometry is None:
        raise ValueError("the members' table has no `lat`/`lng` columns or point geometry; "
                         "read it with `read_members`.")
    return geometry.y.to_numpy(float), geometry.x.to_numpy(float)
