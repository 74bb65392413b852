"""Layers the team brings, added to an existing layer table without rebuilding it.

Any numeric column of a file (brand awareness from a survey, a reputation index, brand fit per
mall, member value) becomes a layer column: :func:`add_user_layer` grids a
:class:`geodata.layers.UserLayer` (points, lines or polygons; sum, count or mean) and
:func:`add_cell_columns` joins any per-cell table. The new columns can then be weighted in the
site score (:func:`optimizer.scoring.score_cells`) and the battlefield ranking
(:func:`optimizer.scoring.rank_battlefields`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import grid
from ._errors import warn_input
from .layers import UserLayer


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
