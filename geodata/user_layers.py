"""Layers the team brings, added to an existing layer table without rebuilding it.

Any numeric column of a file (brand awareness from a survey, a reputation index, brand fit per
mall, member value) becomes a layer column: :func:`add_user_layer` grids a
:class:`geodata.layers.UserLayer` (points, lines or polygons; sum, count or mean) and
:func:`add_cell_columns` joins any per-cell table. The new columns can then be weighted in the
site score (:func:`optimizer.scoring.score_cells`) and the battlefield ranking
(:func:`optimizer.scoring.rank_battlefields`).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import numpy as np
import pandas as pd

from . import grid
from ._errors import InputDataError, Problem, problem_at_rows, warn_input
from .layers import UserLayer


def check_user_layer(layer: UserLayer) -> UserLayer:
    """Read and check a user layer's file; return the layer with its checked table.

    Every problem is reported together, each naming the file, the column, the rows and the fix:
    a value column that is missing (with the nearest column name), values that are missing or
    not numbers, no locations (neither ``lat``/``lng`` columns nor geometries), a geometry with
    no CRS or with coordinates that cannot be in the CRS it states (degrees labelled as metres,
    or the reverse). A file in another CRS is reprojected to EPSG:4326.

    Parameters
    ----------
    layer
        The layer; ``layer.data`` a path (:func:`geodata.io.read_table`) or a table.

    Returns
    -------
    UserLayer
        The same layer with ``data`` the checked GeoDataFrame (EPSG:4326).

    Raises
    ------
    InputDataError
        Listing every problem of the file.

    Examples
    --------
    >>> survey = pd.DataFrame({"lat": [22.54], "lng": [114.06], "awareness": ["high"]})
    >>> try:
    ...     check_user_layer(UserLayer("brand_awareness", survey, "awareness", "mean"))
    ... except ValueError as error:
    ...     print(str(error).splitlines()[1])
      1. layer `brand_awareness`, column `awareness`, row 1: value is not a number (value 'high'). Fix: write a number (a dot for decimals, no units) or drop the row
    """
    from ._validate import Schema, _check_geometry

    data = layer.data
    source = f"layer `{layer.name}`"
    if not isinstance(data, pd.DataFrame):
        from .io import read_table

        source = f"{Path(os.fspath(data)).name} (layer `{layer.name}`)"
        data = read_table(data)
    problems: list[Problem] = []
    frame = data.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    if layer.how != "count":
        columns = [c for c in frame.columns if c != "geometry"]
        if layer.column is None or layer.column not in frame.columns:
            near = difflib.get_close_matches(str(layer.column), columns, n=1)
            fix = (f"did you mean `{near[0]}`?" if near
                   else f"name one of the columns {columns}")
            problems.append(Problem(source, f"column {layer.column!r} not found for a "
                                            f"'{layer.how}' layer", fix, column=layer.column))
        else:
            raw = frame[layer.column]
            numbers = pd.to_numeric(raw, errors="coerce")
            empty = raw.isna().to_numpy()
            wrong = (numbers.isna().to_numpy() | ~np.isfinite(numbers.fillna(0).to_numpy(float))
                     ) & ~empty
            if wrong.any():
                rows = np.flatnonzero(wrong)
                problems.append(problem_at_rows(
                    source, layer.column, rows, raw.to_numpy()[rows], "value is not a number",
                    "write a number (a dot for decimals, no units) or drop the row"))
            if empty.any():
                problems.append(problem_at_rows(source, layer.column, np.flatnonzero(empty),
                                                None, "value is missing",
                                                "fill in a number or drop the row"))
    checked = _check_geometry(frame, Schema(source, (), geometry="any"), source, problems)
    if problems:
        raise InputDataError(problems, source)
    if layer.how != "count" and layer.column is not None:
        checked[layer.column] = pd.to_numeric(checked[layer.column]).astype(float)
    return UserLayer(layer.name, checked, layer.column, layer.how)


def add_user_layer(layers: pd.DataFrame, layer: UserLayer) -> pd.DataFrame:
    """Return the layer table with one user layer added as a column.

    Parameters
    ----------
    layers
        The layer table (index: ``uint64`` H3 cells of one resolution).
    layer
        The user layer: a file or GeoDataFrame, its numeric column and how to aggregate it.
        Cells with no data get 0 for ``"sum"``/``"count"`` layers and are missing for
        ``"mean"`` layers (a score such as brand awareness is unknown there, and scoring treats
        it as neutral).

    Returns
    -------
    pandas.DataFrame
        A copy with the column ``layer.name``.

    Examples
    --------
    >>> import pandas as pd
    >>> from geodata.layers import build_layers
    >>> t = build_layers(footfall=pd.DataFrame({"lat": [22.54], "lng": [114.06], "count": [3]}))
    >>> survey = pd.DataFrame({"lat": [22.54], "lng": [114.06], "awareness": [0.4]})
    >>> add_user_layer(t, UserLayer("brand_awareness", survey, "awareness", "mean"))[
    ...     "brand_awareness"].tolist()
    [0.4]
    """
    from .layers import _user_layer

    cells = np.asarray(layers.index.to_numpy(), dtype=np.uint64)
    if cells.size == 0:
        raise ValueError("`layers` has no cells to add the layer to.")
    resolutions = np.unique(grid.cells_resolution(cells))
    if resolutions.size != 1:
        raise ValueError(f"`layers` mixes H3 resolutions {resolutions.tolist()}; add the layer "
                         "to a table of one resolution.")
    values = _user_layer(layer, int(resolutions[0]))
    fill = np.nan if layer.how == "mean" else 0.0
    return add_cell_columns(layers, values.to_frame(layer.name), fill_value=fill)


def add_cell_columns(layers: pd.DataFrame, columns: pd.DataFrame, *,
                     fill_value: float = 0.0) -> pd.DataFrame:
    """Return the layer table with the columns of a per-cell table added (joined on the cell).

    Cells of the layer table missing from ``columns`` get ``fill_value`` (0 for counts and sums;
    ``numpy.nan`` for scores such as brand awareness, which scoring then treats as neutral).
    Values in cells outside the layer table are left out with a warning saying how much.
    Columns already in the table are replaced.

    Examples
    --------
    >>> layers = pd.DataFrame({"lat": [22.5]}, index=pd.Index([7], dtype="uint64", name="cell"))
    >>> add_cell_columns(layers, pd.DataFrame({"members": [3]}, index=[7]))["members"].tolist()
    [3.0]
    """
    index = pd.Index(np.asarray(columns.index.to_numpy(), dtype=np.uint64), name="cell")
    table = columns.set_axis(index)
    outside = ~index.isin(layers.index)
    if outside.any():
        lost = table.loc[outside].select_dtypes("number").sum()
        shown = ", ".join(f"{c} {v:,.0f}" for c, v in lost.items())
        warn_input(f"{int(outside.sum()):,} cells of the new layer lie outside the layer table "
                   f"and were left out ({shown}); build the layers over the whole area the "
                   "file covers.", stacklevel=2)
    clash = [c for c in table.columns if c in layers.columns]
    out = layers.drop(columns=clash)
    joined = table.reindex(out.index)
    for column in table.columns:
        out[column] = joined[column].astype(float).fillna(fill_value).to_numpy()
    return out
