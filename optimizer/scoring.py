r"""Site scores for candidate cells, explained, and the battlefield ranking of areas.

Site scores for candidate cells: robust normalisation, user weights, catchment smoothing,
a plain-language explanation of every score, and the battlefield ranking of areas.

A score is a weighted sum of normalised factors, each smoothed over a catchment:

.. math::

    s_c = \sum_f w_f \, \tilde x_{cf}, \qquad \tilde x_{\cdot f} = S \, z(x_{\cdot f})

where :math:`z` is the robust normalisation (percentile rank or clipped robust z-score), :math:`S` a
row-stochastic smoothing (neighbour) matrix and :math:`w_f` the user weight of factor :math:`f`
(positive for demand factors, negative for competitor pressure). The contribution of factor
:math:`f` to cell :math:`c` is :math:`w_f \tilde x_{cf}` and the score is defined as their sum, so
contributions always add up exactly to the score.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError
from .geometry import pairs_within_km

Normalisation = Literal["percentile", "zscore"]
"""``percentile``: share of the other cells with a strictly lower value, in [0, 1] (ties share the
lowest rank, so all-zero cells stay at 0). ``zscore``: robust z-score
``(x - median) / (1.4826 * MAD)`` (standard deviation when the MAD is zero), clipped to
``[-clip, clip]``."""

Smoothing: TypeAlias = sp.spmatrix | sp.sparray | Callable[[pd.DataFrame], pd.DataFrame] | None
"""A neighbour matrix (cells x cells, same order as the layer table; rows are rescaled to sum to 1),
or a function that returns the smoothed copy of a factor table (same index and columns), e.g. a
k-ring smoother from the geometry package, or ``None`` for no smoothing."""

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "footfall": 0.30,
    "fan_index": 0.25,
    "population": 0.20,
    "poi_diversity": 0.15,
    "avg_ticket": 0.10,
    "competitors_nearby": -0.25,
}
"""Default weights: demand factors positive, competitor pressure negative. Footfall leads because
walk-in traffic drives store sales; the fan index (own customers per resident) says the brand is
already known there; residents and a varied POI mix add steady demand; a higher average ticket adds
value per visit. Competitors within the catchment take share, hence the negative weight."""

FACTOR_LABELS: Mapping[str, str] = {
    "footfall": "footfall",
    "fan_index": "fan index",
    "population": "residents",
    "poi_diversity": "POI mix",
    "poi_total": "POIs",
    "avg_ticket": "average ticket",
    "customers": "own customers",
    "devices_sold": "devices sold",
    "competitors_nearby": "competitors nearby",
    "competitor_count": "competitors in the cell",
    "competitor_distance_km": "distance to the nearest competitor",
    "own_store_distance_km": "distance to our nearest store",
}


def factor_label(column: str) -> str:
    """Plain-language name of a layer column, e.g. ``"fan_index"`` -> ``"fan index"``.

    Examples
    --------
    >>> factor_label("competitors_nearby")
    'competitors nearby'
    >>> factor_label("poi_school")
    'POIs: school'
    """
    if column in FACTOR_LABELS:
        return FACTOR_LABELS[column]
    if column.startswith("poi_"):
        return "POIs: " + column[4:].replace("_", " ")
    return column.replace("_", " ")


def normalise_factors(frame: pd.DataFrame, columns: Sequence[str] | None = None, *,
                      method: Normalisation = "percentile", clip: float = 3.0) -> pd.DataFrame:
    """Put factors on one robust scale so that weights are comparable.

    Missing values get the neutral value (0.5 for percentiles, 0 for z-scores).

    Parameters
    ----------
    frame
        Table with one row per cell.
    columns
        Columns to normalise; all of ``frame``'s columns when ``None``.
    method
        ``"percentile"`` (rank in [0, 1]) or ``"zscore"`` (robust z-score clipped to ``clip``).
    clip
        Clip bound for z-scores; outliers beyond it count as ``clip``.

    Returns
    -------
    pandas.DataFrame
        Same index, one column per factor.

    Examples
    --------
    >>> t = pd.DataFrame({"footfall": [0.0, 10.0, 10.0, 1000.0]})
    >>> normalise_factors(t)["footfall"].round(3).tolist()
    [0.0, 0.333, 0.333, 1.0]
    """
    columns = list(frame.columns if columns is None else columns)
    _require_columns(frame, columns, "frame")
    if method not in ("percentile", "zscore"):
        raise InputError(f"`method` is {method!r}; use 'percentile' or 'zscore'.")
    if not clip > 0:
        raise InputError(f"`clip` is {clip!r}; use a positive number such as 3.")
    values = frame[columns].to_numpy(dtype=float, copy=True)
    values[~np.isfinite(values)] = np.nan
    n = values.shape[0]
    if method == "percentile":
        ranks = pd.DataFrame(values).rank(method="min").to_numpy()
        counts = np.sum(~np.isnan(values), axis=0)
        spread = np.maximum(counts - 1, 1)
        out = (ranks - 1.0) / spread
        out[:, counts <= 1] = 0.5
        out = np.where(np.isnan(out), 0.5, out)
    else:
        with np.errstate(all="ignore"):
            median = np.nanmedian(values, axis=0) if n else np.zeros(len(columns))
            mad = 1.4826 * np.nanmedian(np.abs(values - median), axis=0)
            std = np.nanstd(values, axis=0)
        scale = np.where(mad > 0, mad, std)
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, np.inf)
        out = np.clip((values - median) / scale, -clip, clip)
        out = np.where(np.isnan(out), 0.0, out)
    return pd.DataFrame(out, index=frame.index, columns=columns)


def smooth_factors(factors: pd.DataFrame, smoothing: Smoothing) -> pd.DataFrame:
    """Average each factor over a catchment.

    Parameters
    ----------
    factors
        Normalised factors, one row per cell.
    smoothing
        See :data:`Smoothing`. A matrix's rows are rescaled to sum to 1 (a weighted average over
        neighbours); rows with no neighbour keep the cell's own value.

    Returns
    -------
    pandas.DataFrame
        Smoothed factors with the same index and columns.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> f = pd.DataFrame({"footfall": [0.0, 1.0]})
    >>> smooth_factors(f, sp.csr_array(np.ones((2, 2))))["footfall"].tolist()
    [0.5, 0.5]
    """
    if smoothing is None:
        return factors
    if callable(smoothing) and not sp.issparse(smoothing):
        smoothed = smoothing(factors)
        if not isinstance(smoothed, pd.DataFrame) or smoothed.shape != factors.shape:
            raise InputError("`smoothing` must return a DataFrame of the same shape as the factor "
                             f"table {factors.shape}; it returned {type(smoothed).__name__}.")
        return smoothed.reindex(index=factors.index, columns=factors.columns)
    if not sp.issparse(smoothing):
        raise InputError(f"`smoothing` is a {type(smoothing).__name__}; pass a scipy.sparse "
                         "neighbour matrix, a function on the factor table, or None.")
    n = len(factors)
    shape = cast(Any, smoothing).shape  # a sparse matrix from here on
    if shape != (n, n):
        raise InputError(f"`smoothing` has shape {shape} but the layer table has {n} "
                         f"cells; pass a ({n}, {n}) neighbour matrix in the table's row order.")
    matrix = sp.csr_array(smoothing, dtype=float)
    row_sums = np.asarray(matrix.sum(axis=1)).ravel()
    empty = row_sums <= 0
    matrix = sp.diags_array(np.where(empty, 0.0, 1.0 / np.where(empty, 1.0, row_sums))) @ matrix
    matrix = matrix + sp.diags_array(empty.astype(float))
    values = matrix @ factors.to_numpy(dtype=float)
    return pd.DataFrame(values, index=factors.index, columns=factors.columns)


def distance_decay_matrix(lat: np.ndarray, lng: np.ndarray, *, radius_km: float,
                          half_distance_km: float | None = None) -> sp.csr_array:
    """Neighbour matrix of cells within ``radius_km`` of each other, weighted by distance decay.

    Weight ``2 ** (-d / half_distance_km)`` (1 at the cell itself, 1/2 at ``half_distance_km``);
    with ``half_distance_km=None`` every neighbour weighs 1 (a plain catchment average).

    Parameters
    ----------
    lat, lng
        Cell centres in degrees.
    radius_km
        Catchment radius.
    half_distance_km
        Distance at which a neighbour counts half.

    Returns
    -------
    scipy.sparse.csr_array
        ``(n, n)`` weights, to pass as ``smoothing`` to :func:`score_cells`.

    Examples
    --------
    >>> m = distance_decay_matrix(np.array([22.5, 22.5]), np.array([114.0, 114.001]), radius_km=1)
    >>> m.toarray().tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    if not radius_km > 0:
        raise InputError(f"`radius_km` is {radius_km!r}; use a positive distance in km.")
    rows, cols, dist = pairs_within_km(lat, lng, lat, lng, radius_km)
    if half_distance_km is None:
        weight = np.ones_like(dist)
    else:
        if not half_distance_km > 0:
            raise InputError(f"`half_distance_km` is {half_distance_km!r}; use a positive distance.")
        weight = np.exp2(-dist / half_distance_km)
    n = len(lat)
    return sp.csr_array((weight, (rows, cols)), shape=(n, n))


@dataclass(frozen=True)
class ScoreTable:
    """Scores of candidate cells with the contribution of each factor.

    Attributes
    ----------
    score
        Score per cell (index = the layer table's index). Equal, by construction, to
        ``contributions.sum(axis=1)``.
    contributions
        ``weight * smoothed normalised factor``, one column per factor.
    factors
        The smoothed, normalised factor values (percentile in [0, 1] or clipped z-score).
    raw
        The raw factor values from the layer table, for explanations.
    weights
        The weight of each factor.
    normalisation
        How factors were normalised.
    """

    score: pd.Series
    contributions: pd.DataFrame
    factors: pd.DataFrame
    raw: pd.DataFrame
    weights: Mapping[str, float] = field(default_factory=dict)
    normalisation: Normalisation = "percentile"

    @property
    def rank(self) -> pd.Series:
        """Rank of each cell, 1 = best score."""
        return self.score.rank(ascending=False, method="min").astype(int)

    def top(self, n: int = 10) -> pd.DataFrame:
        """Return the ``n`` best cells with their score and contributions, best first."""
        order = self.score.sort_values(ascending=False, kind="stable").index[:n]
        return pd.concat([self.score.rename("score"), self.contributions], axis=1).loc[order]

    def explain(self, cell: object, *, n_factors: int = 3) -> str:
        """Say in plain language why a cell scores what it scores.

        Parameters
        ----------
        cell
            An index value of the layer table (an H3 cell).
        n_factors
            How many strengths and drags to name at most.

        Returns
        -------
        str
            E.g. ``"Cell 8841... scores 0.62 (rank 3 of 1,200). Strengths: footfall +0.27
            (top 8% of cells) ... Holding it back: competitors nearby -0.15 (...)."``
        """
        if cell not in self.score.index:
            raise InputError(f"`cell` {_cell_text(cell)} is not in the score table; pass one of "
                             "the layer table's cells.")
        contribution = self.contributions.loc[cell]
        n = len(self.score)
        text = (f"Cell {_cell_text(cell)} scores {self.score.loc[cell]:.3f} "
                f"(rank {int(self.rank.loc[cell]):,} of {n:,}).")
        order = contribution.sort_values(ascending=False, kind="stable")
        strengths = [f for f in order.index if order[f] > 0][:n_factors]
        drags = [f for f in order.index[::-1] if order[f] < 0][:n_factors]
        if strengths:
            text += " Strengths: " + "; ".join(self._describe(cell, f) for f in strengths) + "."
        if drags:
            text += " Holding it back: " + "; ".join(self._describe(cell, f) for f in drags) + "."
        if not strengths and not drags:
            text += " No factor moves it up or down."
        return text

    def explanations(self, cells: Sequence[object], *, n_factors: int = 3) -> pd.Series:
        """:meth:`explain` for several cells, as a Series indexed by cell."""
        return pd.Series([self.explain(c, n_factors=n_factors) for c in cells], index=list(cells),
                         name="explanation", dtype=object)

    def _describe(self, cell: object, factor: str) -> str:
        value = self.contributions.loc[cell, factor]
        share = (self.raw[factor] < self.raw.loc[cell, factor]).mean()
        raw = self.raw.loc[cell, factor]
        raw_text = f"{raw:,.0f}" if abs(raw) >= 100 else f"{raw:,.2f}"
        return (f"{factor_label(factor)} {value:+.3f} ({raw_text}, higher than "
                f"{100 * share:.0f}% of cells)")


def score_cells(layers: pd.DataFrame, *, weights: Mapping[str, float] | None = None,
                normalisation: Normalisation = "percentile", smoothing: Smoothing = None,
                clip: float = 3.0) -> ScoreTable:
    """Score every cell of the layer table.

    Parameters
    ----------
    layers
        The layer table (one row per cell, columns as in ``docs/architecture.md``).
    weights
        Factor column -> weight; :data:`DEFAULT_WEIGHTS` when ``None``. Demand factors positive,
        competitor pressure negative. Weights are used as given (not rescaled).
    normalisation
        See :data:`Normalisation`.
    smoothing
        See :data:`Smoothing`: the catchment over which each factor is averaged.
    clip
        Clip bound of z-scores.

    Returns
    -------
    ScoreTable
        Scores, per-factor contributions adding up exactly to the score, and explanations.

    Examples
    --------
    >>> t = pd.DataFrame({"footfall": [1.0, 5.0, 9.0], "competitors_nearby": [0, 0, 4]},
    ...                  index=[10, 11, 12])
    >>> s = score_cells(t, weights={"footfall": 1.0, "competitors_nearby": -0.5})
    >>> s.score.tolist()
    [0.0, 0.5, 0.5]
    """
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    if not weights:
        raise InputError("`weights` is empty; give at least one factor, e.g. {'footfall': 1.0}.")
    bad = {k: v for k, v in weights.items() if not np.isfinite(float(v))}
    if bad:
        raise InputError(f"`weights` has non-finite values {bad}; use finite numbers.")
    _require_columns(layers, list(weights), "layers", hint="drop the weight or add the layer")
    columns = list(weights)
    raw = layers[columns].astype(float)
    factors = smooth_factors(normalise_factors(raw, columns, method=normalisation, clip=clip),
                             smoothing)
    weight_row = np.array([float(weights[c]) for c in columns])
    contributions = factors * weight_row
    score = contributions.sum(axis=1).rename("score")
    return ScoreTable(score=score, contributions=contributions, factors=factors, raw=raw,
                      weights={c: float(weights[c]) for c in columns}, normalisation=normalisation)


BATTLEFIELD_COLUMNS = ("fan_index", "avg_ticket", "whitespace_rate", "competitor_pressure")
"""The built-in battlefield measures; any other numeric layer column may be weighted too."""

DEFAULT_BATTLEFIELD_WEIGHTS: Mapping[str, float] = {
    "fan_index": 1.0, "avg_ticket": 1.0, "whitespace_rate": 1.0, "competitor_pressure": -1.0}

DEFAULT_MIN_RESIDENTS = 20_000.0
"""Areas with fewer residents are merged into the nearest large area (or dropped): a fan index or
whitespace rate over a few hundred residents says nothing. 20,000 is about the median resolution-6
hexagon (36 km2) of the demo region and a small town."""

SmallAreas = Literal["merge", "drop"]
"""``merge``: a small area joins the nearest area that has enough residents (same ``region``
first, by the distance between resident-weighted centres). ``drop``: it is left out."""

AreaAggregation = Literal["mean", "sum", "per_resident"]
"""How a user layer column becomes one value per area: ``mean`` weighted by residents (plain
mean where an area has none; for scores such as brand awareness), ``sum`` (totals such as member
value) or ``per_resident`` (the sum per 1,000 residents)."""


@dataclass(frozen=True)
class BattlefieldRanking:
    """Areas ranked as battlefields, with the cells of each (to restrict a siting run).

    Attributes
    ----------
    table
        One row per area, best first (index ``area``): ``name, region, cells, population,
        customers, demand, fan_index, avg_ticket, whitespace_rate, competitor_pressure``, any
        weighted user layer, ``attractiveness`` and ``rank``.
    area_of_cell
        Area of every cell of the layer table after merging (index: the layer index; missing
        for cells of dropped areas).
    small_areas
        The areas below ``min_residents`` (index ``area``): ``population`` and ``merged_into``
        (missing when dropped).
    min_residents
        The threshold used.
    """

    table: pd.DataFrame
    area_of_cell: pd.Series
    small_areas: pd.DataFrame
    min_residents: float

    def cells(self, areas: object | Sequence[object]) -> np.ndarray:
        """Return the cells of the chosen areas, for ``SitingDecisions(within=...)``.

        Parameters
        ----------
        areas
            One area id or several (index values of ``table``).

        Returns
        -------
        numpy.ndarray
            The layer index values of the cells in those areas.
        """
        chosen = ([areas] if isinstance(areas, str | bytes) or np.isscalar(areas)
                  else list(areas))  # type: ignore[call-overload]
        unknown = [a for a in chosen if a not in self.table.index]
        if unknown:
            shown = ", ".join(map(str, self.table.index[:5]))
            raise InputError(f"`areas` names {unknown}, which are not ranked areas (small areas "
                             f"were merged or dropped); use ids such as {shown}.")
        return self.area_of_cell.index[self.area_of_cell.isin(chosen).to_numpy()].to_numpy()

    def top_cells(self, n: int = 1) -> np.ndarray:
        """Return the cells of the ``n`` best areas."""
        return self.cells(list(self.table.index[:n]))

    def summary(self) -> str:
        """Return one plain sentence on the ranking and the small areas.

        Examples
        --------
        Reads like ``"12 areas ranked (at least 20,000 residents each); best: Guangzhou ·
        Panyu. 3 small areas merged into their neighbours, 0 dropped."``
        """
        merged = int(self.small_areas["merged_into"].notna().sum())
        dropped = len(self.small_areas) - merged
        best = self.table["name"].iloc[0] if len(self.table) else "none"
        return (f"{len(self.table):,} areas ranked (at least {self.min_residents:,.0f} residents "
                f"each); best: {best}. {merged:,} small areas merged into their neighbours, "
                f"{dropped:,} dropped.")


def rank_battlefields(layers: pd.DataFrame, *, areas: str | pd.Series = "region",
                      radius_km: float = 3.0, demand: str = "population",
                      weights: Mapping[str, float] | None = None,
                      min_residents: float = DEFAULT_MIN_RESIDENTS,
                      small_areas: SmallAreas = "merge",
                      places: pd.DataFrame | None = None,
                      layer_aggregation: Mapping[str, AreaAggregation] | None = None
                      ) -> pd.DataFrame:
    """Rank areas (regions, districts or coarse H3 parents) as battlefields to enter.

    The table of :func:`battlefield_ranking` (same arguments); use that function for the cells
    of each area and the list of small areas.

    Examples
    --------
    >>> t = pd.DataFrame({"region": ["a", "b"], "population": [1000, 1000],
    ...                   "customers": [50, 10], "avg_ticket": [2000, 1000],
    ...                   "competitor_count": [0, 3], "own_store_distance_km": [9.0, 1.0]})
    >>> rank_battlefields(t, min_residents=0).index.tolist()
    ['a', 'b']
    """
    return battlefield_ranking(layers, areas=areas, radius_km=radius_km, demand=demand,
                               weights=weights, min_residents=min_residents,
                               small_areas=small_areas, places=places,
                               layer_aggregation=layer_aggregation).table


def battlefield_ranking(layers: pd.DataFrame, *, areas: str | pd.Series = "region",
                        radius_km: float = 3.0, demand: str = "population",
                        weights: Mapping[str, float] | None = None,
                        min_residents: float = DEFAULT_MIN_RESIDENTS,
                        small_areas: SmallAreas = "merge",
                        places: pd.DataFrame | None = None,
                        layer_aggregation: Mapping[str, AreaAggregation] | None = None
                        ) -> BattlefieldRanking:
    """Rank areas of sensible size as battlefields, name them, and keep the cells of each.

    Per area: fan index (own customers per resident), average ticket (weighted by customers),
    market whitespace rate (share of demand no own store reaches within ``radius_km``),
    competitor pressure (competitor stores per 100,000 residents) and any user layer column
    that is weighted (aggregated as ``layer_aggregation`` says). The ``attractiveness`` is the
    weighted sum of the percentile ranks of the weighted measures across areas; rank 1 is the
    best battlefield. Areas with fewer than ``min_residents`` residents are merged into the
    nearest large area or dropped (``small_areas``) before ranking, and reported.

    Parameters
    ----------
    layers
        The layer table; needs ``population``, ``customers``, ``avg_ticket``, ``competitor_count``,
        ``own_store_distance_km``, the ``demand`` column, and ``lat``/``lng`` to merge areas.
    areas
        Column of ``layers`` naming the area of each cell, or a Series of area labels on the same
        index (e.g. :func:`geodata.areas.cells_to_districts`, or coarse H3 parents).
    radius_km
        Reach of a store for the whitespace rate.
    demand
        Column measuring demand for the whitespace rate.
    weights
        Weight per measure: :data:`BATTLEFIELD_COLUMNS` or any numeric column of ``layers``
        (brand awareness, reputation index, member value, ...);
        :data:`DEFAULT_BATTLEFIELD_WEIGHTS` when ``None``.
    min_residents
        Smallest area kept as it is (:data:`DEFAULT_MIN_RESIDENTS`); 0 keeps every area.
    small_areas
        See :data:`SmallAreas`.
    places
        Named places (``name``, ``population``, ``lat``/``lng`` or point geometry; e.g. the
        GeoNames places of :func:`geodata.demo.load_places`): an area is named after the most
        populous place in it, or the nearest one, with its region. Without places the area id
        (or region) is the name.
    layer_aggregation
        Per user layer column, see :data:`AreaAggregation` (``mean`` by default).

    Returns
    -------
    BattlefieldRanking
        The ranked table, the area of every cell and the small areas.

    Examples
    --------
    >>> t = pd.DataFrame({"region": ["a", "b", "c"], "population": [30000, 30000, 500],
    ...                   "customers": [50, 10, 9], "avg_ticket": [2000, 1000, 3000],
    ...                   "competitor_count": [0, 3, 0], "own_store_distance_km": [9.0, 1.0, 5],
    ...                   "lat": [22.5, 22.7, 22.51], "lng": [114.0, 114.0, 114.0]})
    >>> ranking = battlefield_ranking(t)
    >>> ranking.table.index.tolist(), ranking.small_areas["merged_into"].tolist()
    (['a', 'b'], ['a'])
    """
    needed = ["population", "customers", "avg_ticket", "competitor_count",
              "own_store_distance_km", demand]
    _require_columns(layers, list(dict.fromkeys(needed)), "layers")
    if not radius_km > 0:
        raise InputError(f"`radius_km` is {radius_km!r}; use a positive distance in km.")
    if not (np.isfinite(min_residents) and min_residents >= 0):
        raise InputError(f"`min_residents` is {min_residents!r}; give a number of residents "
                         ">= 0 (0 keeps every area).")
    if small_areas not in ("merge", "drop"):
        raise InputError(f"`small_areas` is {small_areas!r}; use 'merge' or 'drop'.")
    weights = dict(DEFAULT_BATTLEFIELD_WEIGHTS if weights is None else weights)
    extra = [c for c in weights if c not in BATTLEFIELD_COLUMNS]
    _check_battlefield_weights(layers, weights, extra)
    aggregation = dict(layer_aggregation or {})
    bad = {c: h for c, h in aggregation.items() if h not in ("mean", "sum", "per_resident")}
    if bad:
        raise InputError(f"`layer_aggregation` has {bad}; use 'mean', 'sum' or 'per_resident'.")
    label = _area_labels(layers, areas)
    label = _merge_small_areas(layers, label, min_residents, small_areas)
    small = label.attrs.pop("small_areas")
    kept = label.notna().to_numpy()
    if not kept.any():
        raise InputError(f"No area has {min_residents:,.0f} residents; lower `min_residents` or "
                         "rank larger areas.")
    table = _area_frame(layers.loc[kept], label[kept], demand, radius_km, extra, aggregation)
    ranks = normalise_factors(table, list(weights), method="percentile")
    table["attractiveness"] = sum(ranks[c] * w for c, w in weights.items())
    table = table.sort_values("attractiveness", ascending=False, kind="stable")
    table["rank"] = np.arange(1, len(table) + 1)
    names, regions = _area_names(layers.loc[kept], label[kept], table.index, places,
                                 by_region=isinstance(areas, str) and areas == "region")
    table.insert(0, "name", names)
    table.insert(1, "region", regions)
    return BattlefieldRanking(table=table, area_of_cell=label, small_areas=small,
                              min_residents=float(min_residents))


def _check_battlefield_weights(layers: pd.DataFrame, weights: Mapping[str, float],
                               extra: Sequence[str]) -> None:
    bad = {k: v for k, v in weights.items() if not np.isfinite(float(v))}
    if bad:
        raise InputError(f"`weights` has non-finite values {bad}; use finite numbers.")
    numeric = [str(c) for c in layers.columns if pd.api.types.is_numeric_dtype(layers[c])
               and c not in ("lat", "lng")]
    unknown = [c for c in extra if c not in numeric]
    if unknown:
        raise InputError(f"`weights` names {unknown}, which is neither a battlefield measure "
                         f"{list(BATTLEFIELD_COLUMNS)} nor a numeric column of `layers`; add the "
                         f"layer (e.g. brand awareness) or use one of {numeric[:12]}.")


def _area_labels(layers: pd.DataFrame, areas: str | pd.Series) -> pd.Series:
    if isinstance(areas, str):
        if areas not in layers.columns:
            raise InputError(f"`layers` has no column {areas!r} for `areas`; pass a column name "
                             "or a Series of area labels on the layer table's index.")
        label = layers[areas]
    else:
        label = pd.Series(areas).reindex(layers.index)
        if label.isna().any():
            raise InputError(f"`areas` has no label for {int(label.isna().sum())} cells; give one "
                             "label per row of the layer table.")
    return pd.Series(label.to_numpy(dtype=object), index=layers.index, name="area", dtype=object)


def _merge_small_areas(layers: pd.DataFrame, label: pd.Series, min_residents: float,
                       how: SmallAreas) -> pd.Series:
    """Relabel cells of areas below ``min_residents``; the list goes to ``attrs``."""
    population = layers["population"].to_numpy(float)
    totals = pd.Series(population).groupby(label.to_numpy()).sum()
    small = totals[totals < min_residents]
    report = pd.DataFrame({"population": small.to_numpy(), "merged_into": pd.Series(
        [None] * len(small), dtype=object).to_numpy()},
        index=pd.Index(small.index, name="area"))
    out = label.copy()
    if len(small) and how == "merge" and {"lat", "lng"} <= set(layers.columns) \
            and len(small) < len(totals):
        from .geometry import nearest_km

        centre = _area_centres(layers, label)
        large = totals.index[totals >= min_residents]
        region = _main_region(layers, label) if "region" in layers.columns else None
        small_region = (region.reindex(small.index).to_numpy() if region is not None
                        else np.zeros(len(small)))
        large_region = (region.reindex(large).to_numpy() if region is not None
                        else np.zeros(len(large)))
        target: dict[object, object] = {}
        for name in pd.unique(small_region):
            pool = large[large_region == name]
            pool = pool if len(pool) else large
            these = small.index[small_region == name]
            _, nearest = nearest_km(centre.loc[these, "lat"].to_numpy(),
                                    centre.loc[these, "lng"].to_numpy(),
                                    centre.loc[pool, "lat"].to_numpy(),
                                    centre.loc[pool, "lng"].to_numpy())
            target.update(zip(these, pool[np.atleast_1d(nearest)], strict=True))
        report["merged_into"] = pd.Series(target, dtype=object).reindex(report.index).to_numpy()
        out = label.map(lambda a: target.get(a, a))
    elif len(small):
        out = label.where(~label.isin(small.index))
    out.attrs["small_areas"] = report
    return out


def _main_region(layers: pd.DataFrame, label: pd.Series) -> pd.Series:
    """Return the region holding most cells of each area."""
    counts = pd.DataFrame({"area": label.to_numpy(), "region": layers["region"].astype(str)
                           .to_numpy()}).value_counts(sort=True)
    first = counts.reset_index().drop_duplicates("area")
    return pd.Series(first["region"].to_numpy(), index=first["area"].to_numpy(), dtype=object)


def _area_centres(layers: pd.DataFrame, label: pd.Series) -> pd.DataFrame:
    """Resident-weighted centre of each area (plain mean where an area has no residents)."""
    weight = layers["population"].to_numpy(float)
    frame = pd.DataFrame({"w": weight, "wlat": weight * layers["lat"].to_numpy(float),
                          "wlng": weight * layers["lng"].to_numpy(float),
                          "lat": layers["lat"].to_numpy(float),
                          "lng": layers["lng"].to_numpy(float)})
    grouped = frame.groupby(label.to_numpy())
    sums, means = grouped[["w", "wlat", "wlng"]].sum(), grouped[["lat", "lng"]].mean()
    has = sums["w"] > 0
    return pd.DataFrame({
        "lat": np.where(has, sums["wlat"] / sums["w"].where(has, 1.0), means["lat"]),
        "lng": np.where(has, sums["wlng"] / sums["w"].where(has, 1.0), means["lng"])},
        index=sums.index)


def _area_frame(layers: pd.DataFrame, label: pd.Series, demand: str, radius_km: float,
                extra: Sequence[str], aggregation: Mapping[str, AreaAggregation]
                ) -> pd.DataFrame:
    population = layers["population"].to_numpy(float)
    frame = pd.DataFrame({
        "area": label.to_numpy(),
        "population": population,
        "customers": layers["customers"].to_numpy(float),
        "ticket_total": (layers["avg_ticket"].fillna(0) * layers["customers"]).to_numpy(float),
        "demand": layers[demand].to_numpy(float),
        "unserved": np.where(layers["own_store_distance_km"].to_numpy(float) > radius_km,
                             layers[demand].to_numpy(float), 0.0),
        "competitors": layers["competitor_count"].to_numpy(float),
        "n_cells": np.ones(len(layers)),
    })
    for column in extra:
        values = layers[column].to_numpy(float)
        known = np.isfinite(values)
        frame[f"{column}__sum"] = np.where(known, values, 0.0)
        frame[f"{column}__wsum"] = np.where(known, values * population, 0.0)
        frame[f"{column}__w"] = np.where(known, population, 0.0)
        frame[f"{column}__n"] = known.astype(float)
    grouped = frame.groupby("area", sort=True).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "cells": grouped["n_cells"].astype(int),
            "population": grouped["population"],
            "customers": grouped["customers"],
            "demand": grouped["demand"],
            "fan_index": grouped["customers"] / grouped["population"],
            "avg_ticket": grouped["ticket_total"] / grouped["customers"],
            "whitespace_rate": grouped["unserved"] / grouped["demand"],
            "competitor_pressure": 1e5 * grouped["competitors"] / grouped["population"],
        })
        for column in extra:
            how = aggregation.get(column, "mean")
            total = grouped[f"{column}__sum"]
            if how == "sum":
                table[column] = total
            elif how == "per_resident":
                table[column] = 1e3 * total / grouped["population"]
            else:
                weighted = grouped[f"{column}__wsum"] / grouped[f"{column}__w"]
                plain = total / grouped[f"{column}__n"]
                table[column] = weighted.where(grouped[f"{column}__w"] > 0, plain)
    table = table.replace([np.inf, -np.inf], np.nan)
    table.index.name = "area"
    return table


def _area_names(layers: pd.DataFrame, label: pd.Series, areas: pd.Index,
                places: pd.DataFrame | None, *, by_region: bool) -> tuple[list[str], list[str]]:
    """Return a readable name and the main region of each area."""
    if "region" in layers.columns:
        region = _main_region(layers, label).reindex(areas)
    else:
        region = pd.Series("", index=areas)
    regions = [str(r) for r in region.fillna("")]
    if by_region or places is None or len(places) == 0:
        return [str(a) for a in areas], regions
    from .geometry import frame_to_lat_lng, nearest_km

    missing = [c for c in ("name", "population") if c not in places.columns]
    if missing:
        raise InputError(f"`places` has no column {missing}; give each place a `name` and its "
                         "`population` (e.g. geodata.demo.load_places()).")
    place_lat, place_lng = frame_to_lat_lng(places, "places")
    cell_lat, cell_lng = frame_to_lat_lng(layers, "layers")
    # Each place belongs to the area of the cell nearest to it.
    _, nearest_cell = nearest_km(place_lat, place_lng, cell_lat, cell_lng)
    place_area = label.to_numpy()[np.asarray(nearest_cell, dtype=np.int64)]
    order = np.argsort(-places["population"].to_numpy(float), kind="stable")
    biggest: dict[object, str] = {}
    for position in order:
        biggest.setdefault(place_area[position], str(places["name"].iloc[position]))
    centre = _area_centres(layers, label)
    _, nearest_place = nearest_km(centre.loc[areas, "lat"].to_numpy(),
                                  centre.loc[areas, "lng"].to_numpy(), place_lat, place_lng)
    names = []
    for area, near, reg in zip(areas, np.atleast_1d(nearest_place), regions, strict=True):
        place = biggest.get(area)
        text = place if place is not None else f"near {places['name'].iloc[int(near)]}"
        names.append(text if not reg or text == reg else f"{reg} · {text}")
    return names, regions


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str, *,
                     hint: str = "add it to the table") -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        shown = ", ".join(map(str, list(frame.columns)[:12]))
        raise InputError(f"`{name}` has no column {missing}; {hint}. Columns present: {shown}.")
    numeric = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if numeric:
        raise InputError(f"`{name}` column(s) {numeric} are not numeric; convert them to numbers.")


def _cell_text(cell: object) -> str:
    if isinstance(cell, (int, np.integer)) and int(cell) > 2**40:
        return format(int(cell), "x")
    return str(cell)
