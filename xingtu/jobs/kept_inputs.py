"""What a user brought to the app, kept in the database so that a new browser session has it too.

Three things outlive a browser reload through the database (:mod:`xingtu.database`):

- the **uploaded tables** (own stores, POIs, footfall... replacing the demo's), one per kind:
  :func:`keep_upload` (written only when the table changed), :func:`load_uploads`,
  :func:`clear_uploads`;
- the **team's layers** (:class:`~xingtu.jobs.team_layers.TeamLayer`), one per name:
  :func:`save_team_layer`, :func:`load_team_layers`, :func:`clear_team_layers`;
- the **battlefields chosen** on the Battlefields page to restrict the next siting run:
  :func:`save_siting_areas`, :func:`load_siting_areas`, :func:`clear_siting_areas`.

Each is stored as the data itself (Parquet bytes, exact dtypes and index), not as a path, with the
file's name and when it was saved, so a page can say what is in use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from xingtu.database import Database

from .team_layers import TeamLayer

SITING_PAGE = "site_selection"
"""The page the chosen battlefields restrict."""


def table_digest(table: pd.DataFrame) -> str:
    """Return a short hash of a table's values and index (its geometry left out).

    Examples
    --------
    >>> table_digest(pd.DataFrame({"a": [1]})) == table_digest(pd.DataFrame({"a": [1]}))
    True
    >>> table_digest(pd.DataFrame({"a": [1]})) == table_digest(pd.DataFrame({"a": [2]}))
    False
    """
    values = pd.DataFrame(table).drop(columns="geometry", errors="ignore")
    hashed = pd.util.hash_pandas_object(values, index=True).to_numpy().tobytes()
    return hashlib.sha1(hashed + ",".join(map(str, values.columns)).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Uploaded tables
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeptUpload:
    """An uploaded table in use, as kept in the database.

    Attributes
    ----------
    kind
        What it holds (``stores``, ``pois``...).
    table
        The checked table.
    source
        The uploaded file's name.
    saved_at
        When it was saved (ISO 8601, UTC).
    digest
        :func:`table_digest` of the table.
    """

    kind: str
    table: pd.DataFrame
    source: str
    saved_at: str
    digest: str

    @property
    def rows(self) -> int:
        """Rows of the table."""
        return len(self.table)


def keep_upload(database: Database, kind: str, table: pd.DataFrame, source: str,
                kept: KeptUpload | None = None) -> KeptUpload:
    """Save an uploaded table unless it is the one ``kept``; return what is kept now.

    Parameters
    ----------
    database
        The database.
    kind
        What the table holds.
    table
        The checked table.
    source
        The uploaded file's name.
    kept
        What the previous call (or :func:`load_uploads`) returned for this kind: an upload with
        the same values and file name is not written again.

    Returns
    -------
    KeptUpload

    Examples
    --------
    >>> store = Database("sqlite://")
    >>> first = keep_upload(store, "stores", pd.DataFrame({"lat": [22.5]}), "a.csv")
    >>> keep_upload(store, "stores", pd.DataFrame({"lat": [22.5]}), "a.csv", first) is first
    True
    """
    digest = table_digest(table)
    if kept is not None and kept.kind == kind and kept.digest == digest \
            and kept.source == str(source):
        return kept
    saved_at = database.save_upload(kind, table, str(source))
    return KeptUpload(kind=kind, table=table, source=str(source), saved_at=saved_at,
                      digest=digest)


def load_uploads(database: Database) -> dict[str, KeptUpload]:
    """Return the kept uploaded tables, kind -> :class:`KeptUpload` (empty when none).

    Examples
    --------
    >>> load_uploads(Database("sqlite://"))
    {}
    """
    return {saved.kind: KeptUpload(kind=saved.kind, table=saved.table, source=saved.source,
                                   saved_at=saved.created_at, digest=table_digest(saved.table))
            for saved in database.load_uploads()}


def clear_uploads(database: Database, kinds: Sequence[str] | None = None) -> None:
    """Forget the kept uploaded tables of ``kinds`` (all when ``None``): the demo's come back.

    Examples
    --------
    >>> store = Database("sqlite://")
    >>> _ = keep_upload(store, "stores", pd.DataFrame({"lat": [22.5]}), "a.csv")
    >>> clear_uploads(store, ["stores"])
    >>> load_uploads(store)
    {}
    """
    database.delete_uploads(None if kinds is None else list(kinds))


# --------------------------------------------------------------------------------------------
# The team's layers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeptTeamLayer:
    """A team layer in use, as kept in the database (the layer and when it was saved)."""

    layer: TeamLayer
    saved_at: str


def save_team_layer(database: Database, layer: TeamLayer) -> KeptTeamLayer:
    """Save a team layer (replacing one of the same name); return it with its date.

    Examples
    --------
    >>> store = Database("sqlite://")
    >>> layer = TeamLayer("fit", "f.csv", pd.DataFrame({"fit": [0.5]}), {"fit": "mean"}, 3)
    >>> save_team_layer(store, layer).layer.name
    'fit'
    >>> load_team_layers(store)["fit"].layer.rows
    3
    """
    saved_at = database.save_team_layer(layer.name, layer.columns, layer.source, layer.rows,
                                        {str(c): str(how) for c, how in layer.aggregation.items()})
    return KeptTeamLayer(layer=layer, saved_at=saved_at)


def load_team_layers(database: Database) -> dict[str, KeptTeamLayer]:
    """Return the kept team layers, name -> :class:`KeptTeamLayer`, oldest first.

    Examples
    --------
    >>> load_team_layers(Database("sqlite://"))
    {}
    """
    kept = {}
    for saved in database.load_team_layers():
        aggregation: dict[str, Any] = dict(saved.aggregation)
        layer = TeamLayer(name=saved.name, source=saved.source, columns=saved.columns,
                          aggregation=aggregation, rows=saved.rows)
        kept[saved.name] = KeptTeamLayer(layer=layer, saved_at=saved.created_at)
    return kept


def clear_team_layers(database: Database, names: Sequence[str] | None = None) -> None:
    """Forget the kept team layers of ``names`` (all when ``None``).

    Examples
    --------
    >>> clear_team_layers(Database("sqlite://"))
    """
    database.delete_team_layers(None if names is None else list(names))


# --------------------------------------------------------------------------------------------
# The battlefields chosen for the next siting run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SitingAreas:
    """The battlefields chosen to site in.

    Attributes
    ----------
    label
        Their names, as shown (``"Foshan, Dongguan"``).
    areas
        Their ids.
    cells
        The H3 cells (``int``) they cover.
    data_key
        What identifies the data they were chosen on (the app's ``data_key()``).
    saved_at
        When they were chosen (ISO 8601, UTC).
    """

    label: str
    areas: list[str]
    cells: list[int]
    data_key: str
    saved_at: str = ""

    @property
    def option(self) -> str:
        """The choice "Site only in" shows for them.

        Examples
        --------
        >>> SitingAreas("Foshan", ["a"], [1], "demo|").option
        'Battlefields: Foshan'
        """
        return f"Battlefields: {self.label}"

    def as_session(self) -> dict[str, Any]:
        """Return them as the app's pages hold them: label, areas, cells, data, saved_at."""
        return {"label": self.label, "areas": list(self.areas), "cells": list(self.cells),
                "data": self.data_key, "saved_at": self.saved_at}


def save_siting_areas(database: Database, label: str, areas: Sequence[str],
                      cells: Sequence[int], data_key: str, page: str = SITING_PAGE
                      ) -> SitingAreas:
    """Save the battlefields chosen for the next siting run (replacing the previous choice).

    Examples
    --------
    >>> store = Database("sqlite://")
    >>> chosen = save_siting_areas(store, "Foshan", ["a1"], [613196571542028287], "demo|")
    >>> load_siting_areas(store) == chosen
    True
    """
    saved_at = database.save_siting_areas(page, label, [str(a) for a in areas],
                                          [int(c) for c in cells], data_key)
    return SitingAreas(label=str(label), areas=[str(a) for a in areas],
                       cells=[int(c) for c in cells], data_key=str(data_key), saved_at=saved_at)


def load_siting_areas(database: Database, page: str = SITING_PAGE) -> SitingAreas | None:
    """Return the battlefields kept for the next siting run, ``None`` when none are.

    Examples
    --------
    >>> load_siting_areas(Database("sqlite://")) is None
    True
    """
    saved = database.load_siting_areas(page)
    if saved is None:
        return None
    return SitingAreas(label=saved.label, areas=saved.areas, cells=saved.cells,
                       data_key=saved.data_key, saved_at=saved.created_at)


def clear_siting_areas(database: Database, page: str = SITING_PAGE) -> None:
    """Forget the battlefields kept for the next siting run.

    Examples
    --------
    >>> clear_siting_areas(Database("sqlite://"))
    """
    database.delete_siting_areas(page)
