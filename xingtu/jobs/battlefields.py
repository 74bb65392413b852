"""The battlefield job: areas ranked as places to enter, with the team's layers weighted too.

``xingtu battlefields`` calls :func:`rank_areas`; the app's Battlefields page calls the library's
:func:`optimizer.scoring.battlefield_ranking` with the same weights and
:func:`xingtu.jobs.team_layers.area_aggregation`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from optimizer.errors import InputError
from optimizer.scoring import DEFAULT_BATTLEFIELD_WEIGHTS, DEFAULT_MIN_RESIDENTS, BattlefieldRanking

from .team_layers import TeamLayer, area_aggregation

RANKING_COLUMNS = ("name", "region", "rank", "attractiveness", "fan_index", "avg_ticket",
                   "whitespace_rate", "competitor_pressure", "population", "customers", "cells")
"""Columns of the written ranking, before the weighted team layers."""


def area_labels(layers: pd.DataFrame, areas: str) -> str | pd.Series:
    """Return the area of every cell: a layer column (``region``) or H3 parents (``h3:6``).

    Examples
    --------
    >>> area_labels(pd.DataFrame({"region": ["a"]}), "region")
    'region'
    """
    if areas.startswith("h3:"):
        from geodata import grid

        try:
            resolution = int(areas[3:])
        except ValueError:
            resolution = -1
        cells = layers.index.to_numpy(dtype=np.uint64)
        finest = int(grid.cells_resolution(cells[:1])[0]) if len(cells) else 0
        if not 0 <= resolution < finest:
            raise InputError(f"`--areas` {areas!r}: give h3:RES with RES from 0 to {finest - 1} "
                             "(coarser than the layer table), e.g. h3:6 (about 36 km2).")
        parents = grid.cells_to_parent(cells, resolution)
        return pd.Series(grid.cells_to_str(parents), index=layers.index)
    if areas not in layers.columns:
        raise InputError(f"`--areas` {areas!r} is not a column of the layer table; use region "
                         "or h3:RES (e.g. h3:6).")
    return areas


def rank_areas(layers: pd.DataFrame, *, areas: str = "region",
               weights: Mapping[str, float] | None = None, team: Sequence[TeamLayer] = (),
               radius_km: float = 3.0, min_residents: float = DEFAULT_MIN_RESIDENTS,
               places: pd.DataFrame | None = None) -> BattlefieldRanking:
    """Rank the areas of ``layers`` (with the team's layers joined) as battlefields.

    Parameters
    ----------
    layers
        The layer table, with the team's layer columns (:func:`~.team_layers.with_team_layers`).
    areas
        See :func:`area_labels`.
    weights
        Measure or layer column -> weight; the given weights are added to the four default
        measures' (:data:`optimizer.scoring.DEFAULT_BATTLEFIELD_WEIGHTS`), so
        ``{"brand_awareness": 1.0}`` adds the team's layer to the usual ranking.
    team
        The team's layers (how each column is aggregated per area).
    radius_km, min_residents, places
        See :func:`optimizer.scoring.battlefield_ranking`.
    """
    from optimizer.scoring import battlefield_ranking

    merged = {**DEFAULT_BATTLEFIELD_WEIGHTS, **(weights or {})}
    return battlefield_ranking(layers, areas=area_labels(layers, areas), radius_km=radius_km,
                               weights=merged, min_residents=min_residents, places=places,
                               layer_aggregation=area_aggregation(team))


def ranking_table(ranking: BattlefieldRanking, weights: Mapping[str, float] | None = None,
                  ) -> pd.DataFrame:
    """Return the ranking as the file holds it: area id, the figures, the weighted layers."""
    table = ranking.table
    extra = [c for c in (weights or {}) if c in table.columns and c not in RANKING_COLUMNS]
    columns = [c for c in RANKING_COLUMNS if c in table.columns] + extra
    return table[columns].reset_index()
