"""Layers the team brings: any numeric column of a file, and the member value, added per H3 cell.

The CLI (``xingtu layers --layer/--members``, ``xingtu sites --layer/--members``,
``xingtu battlefields``) and the app's Upload page call this module:

- :func:`user_layer` grids one numeric column of the team's file (brand awareness from a survey,
  a reputation index, brand fit per mall: points, lines or polygons; mean, sum or count) over
  the layer table's cells, after :func:`geodata.user_layers.check_user_layer` has checked it;
- :func:`member_layer` reads a members' transactions file (:func:`geodata.members.read_members`),
  values every member (:func:`optimizer.member_value.customer_value`: RFM and expected value
  over the next year) and sums per cell where the members live: ``members``, ``member_value``
  (CNY a year) and ``member_value_per_member``;
- :func:`with_team_layers` joins them to the layer table, so their columns can be weighted in the
  site score (:func:`optimizer.scoring.score_cells`) and the battlefield ranking
  (:func:`optimizer.scoring.battlefield_ranking`, aggregated per area as
  :func:`area_aggregation` says).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from optimizer.errors import InputError
from optimizer.scoring import BATTLEFIELD_COLUMNS, AreaAggregation

LayerHow = Literal["mean", "sum", "count"]
"""How a team layer's values become one per cell: ``mean`` for scores (brand awareness), ``sum``
for totals, ``count`` for the number of features."""

MEMBER_COLUMNS = ("members", "member_value", "member_value_per_member")
"""Columns of the member-value layer."""

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
"""A team layer's name: lower-case letters, digits and underscores, starting with a letter."""


@dataclass(frozen=True)
class TeamLayer:
    """A layer the team brought, gridded on the cells of a layer table.

    Attributes
    ----------
    name
        The layer's name (its column, or ``member_value`` for the members' file).
    source
        The file it came from.
    columns
        Per cell of the layer table (same index): the new column(s).
    aggregation
        How each column becomes one value per battlefield area.
    rows
        Rows of the file.
    """

    name: str
    source: str
    columns: pd.DataFrame
    aggregation: Mapping[str, AreaAggregation] = field(default_factory=dict)
    rows: int = 0

    def summary(self) -> str:
        """Return one plain sentence on what the layer holds.

        Examples
        --------
        Reads like ``"brand_awareness from survey.csv: 120 rows, values in 310 cells (mean
        0.42)."``
        """
        first = self.columns.columns[0]
        values = self.columns[self.columns.columns[1 if first == "members" else 0]]
        known = values[values.notna() & values.ne(0)]
        average = float(known.mean()) if len(known) else 0.0
        shown = f"{average:,.0f}" if abs(average) >= 100 else f"{average:,.3g}"
        mean = f" (mean {shown})" if len(known) else ""
        return (f"{self.name} from {self.source}: {self.rows:,} rows, values in "
                f"{len(known):,} cells{mean}.")


def check_layer_name(name: str, layers: pd.DataFrame | None = None) -> str:
    """Return ``name`` when it can name a new layer column, else raise saying why.

    Examples
    --------
    >>> check_layer_name("brand_awareness")
    'brand_awareness'
    """
    text = str(name).strip()
    if not NAME_PATTERN.fullmatch(text):
        raise InputError(f"Layer name {name!r} cannot name a column; use lower-case letters, "
                         "digits and underscores, starting with a letter (e.g. "
                         "brand_awareness, reputation_index).")
    taken = set(BATTLEFIELD_COLUMNS) | ({str(c) for c in layers.columns}
                                        if layers is not None else set())
    if text in taken - set(MEMBER_COLUMNS):
        raise InputError(f"Layer name {text!r} is already a column of the layer table; choose "
                         f"another name (e.g. {text}_team).")
    return text


def user_layer(layers: pd.DataFrame, data: pd.DataFrame | str | os.PathLike[str], *,
               name: str, column: str | None, how: LayerHow = "mean") -> TeamLayer:
    """Grid one numeric column of the team's file over the cells of ``layers``.

    Parameters
    ----------
    layers
        The layer table (index: H3 cells of one resolution).
    data
        The file (CSV with ``lat``/``lng``, GeoPackage, GeoJSON, GeoParquet, Excel) or a table.
    name
        The new column's name (:func:`check_layer_name`).
    column
        The file's numeric column (not needed for ``count``).
    how
        See :data:`LayerHow`. Cells without data: missing for ``mean`` (scoring treats them as
        neutral), 0 otherwise.

    Returns
    -------
    TeamLayer

    Raises
    ------
    InputError
        Every problem of the file (missing or non-numeric column, no locations, wrong CRS), or
        a bad name.
    """
    from geodata.layers import UserLayer
    from geodata.user_layers import add_user_layer, check_user_layer

    name = check_layer_name(name, layers)
    if how not in ("mean", "sum", "count"):
        raise InputError(f"`how` is {how!r}; use 'mean' (scores such as brand awareness), "
                         "'sum' (totals) or 'count' (number of rows).")
    source = (Path(os.fspath(data)).name if not isinstance(data, pd.DataFrame)
              else "the table given")
    checked = check_user_layer(UserLayer(name, data, column, how))
    added = add_user_layer(layers[[]], checked)
    aggregation: AreaAggregation = "mean" if how == "mean" else "per_resident"
    return TeamLayer(name=name, source=source, columns=added[[name]],
                     aggregation={name: aggregation},
                     rows=len(pd.DataFrame(checked.data)))


def member_layer(layers: pd.DataFrame, data: pd.DataFrame | str | os.PathLike[str], *,
                 as_of: pd.Timestamp | str | None = None,
                 horizon_days: int | None = None) -> TeamLayer:
    """Value every member of a transactions file and sum the values per cell of ``layers``.

    Parameters
    ----------
    layers
        The layer table.
    data
        The members' transactions file (``member_id``, ``date``, ``amount``, where the member
        lives; ``docs/data.md``) or that table as read by :func:`geodata.members.read_members`.
    as_of, horizon_days
        Reference date (default: the day after the last purchase) and horizon of the expected
        value (default one year), see :func:`optimizer.member_value.customer_value`.

    Returns
    -------
    TeamLayer
        Columns ``members`` (count), ``member_value`` (sum of the members' expected value, CNY)
        and ``member_value_per_member`` (missing where no member lives).
    """
    from geodata.members import add_cell_columns, member_cells, member_value_layer, read_members
    from optimizer.member_value import DEFAULT_HORIZON_DAYS, customer_value

    from .siting import layer_resolution

    if isinstance(data, pd.DataFrame):
        transactions, source = data, "the table given"
    else:
        transactions, source = read_members(data), Path(os.fspath(data)).name
    values = customer_value(transactions, as_of=as_of,
                            horizon_days=horizon_days or DEFAULT_HORIZON_DAYS)
    cells = member_cells(transactions, layer_resolution(layers))
    per_cell = member_value_layer(values["expected_value"], cells)
    sums = add_cell_columns(layers[[]], per_cell[["members", "member_value"]])
    means = add_cell_columns(layers[[]], per_cell[["member_value_per_member"]],
                             fill_value=np.nan)
    columns = sums.join(means)[list(MEMBER_COLUMNS)]
    return TeamLayer(name="member_value", source=source, columns=columns,
                     aggregation={"members": "per_resident", "member_value": "per_resident",
                                  "member_value_per_member": "mean"},
                     rows=len(transactions))


def with_team_layers(layers: pd.DataFrame, team: Sequence[TeamLayer]) -> pd.DataFrame:
    """Return the layer table with the team's layers as columns.

    A later layer replaces a column of the same name.
    """
    if not team:
        return layers
    out = layers.copy()
    for layer in team:
        joined = layer.columns.reindex(out.index)
        for column in layer.columns.columns:
            out[column] = joined[column].astype(float).to_numpy()
    return out


def area_aggregation(team: Sequence[TeamLayer]) -> dict[str, AreaAggregation]:
    """Return how each team column becomes one value per battlefield area.

    ``mean`` layers (scores): the resident-weighted mean; ``sum``/``count`` layers and the
    member value: per 1,000 residents (so a large area does not win by size alone).
    """
    return {column: how for layer in team for column, how in layer.aggregation.items()}


def team_columns(team: Sequence[TeamLayer]) -> list[str]:
    """Return the columns a weight can be given to (every team column)."""
    return [str(c) for layer in team for c in layer.columns.columns]
