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


def rank_battlefields(layers: pd.DataFrame, *, areas: str | pd.Series = "region",
                      radius_km: float = 3.0, demand: str = "population",
                      weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Rank areas (regions or coarse H3 parents) as battlefields to enter.

    Per area: fan index (own customers per resident), average ticket (weighted by customers),
    market whitespace rate (share of demand no own store reaches within ``radius_km``) and
    competitor pressure (competitor stores per 100,000 residents). The ``attractiveness`` is the
    weighted sum of the four percentile ranks across areas; rank 1 is the best battlefield.

    Parameters
    ----------
    layers
        The layer table; needs ``population``, ``customers``, ``avg_ticket``, ``competitor_count``,
        ``own_store_distance_km`` and the ``demand`` column.
    areas
        Column of ``layers`` naming the area of each cell, or a Series of area labels on the same
        index (e.g. coarse H3 parents).
    radius_km
        Reach of a store for the whitespace rate.
    demand
        Column measuring demand for the whitespace rate.
    weights
        Weight of each of :data:`BATTLEFIELD_COLUMNS`; defaults ``fan_index 1, avg_ticket 1,
        whitespace_rate 1, competitor_pressure -1``.

    Returns
    -------
    pandas.DataFrame
        One row per area, best first, columns ``population, customers, demand, fan_index,
        avg_ticket, whitespace_rate, competitor_pressure, attractiveness, rank``.

    Examples
    --------
    >>> t = pd.DataFrame({"region": ["a", "b"], "population": [1000, 1000],
    ...                   "customers": [50, 10], "avg_ticket": [2000, 1000],
    ...                   "competitor_count": [0, 3], "own_store_distance_km": [9.0, 1.0]})
    >>> rank_battlefields(t).index.tolist()
    ['a', 'b']
    """
    needed = ["population", "customers", "avg_ticket", "competitor_count",
              "own_store_distance_km", demand]
    _require_columns(layers, list(dict.fromkeys(needed)), "layers")
    if not radius_km > 0:
        raise InputError(f"`radius_km` is {radius_km!r}; use a positive distance in km.")
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
    frame = pd.DataFrame({
        "area": label.to_numpy(),
        "population": layers["population"].to_numpy(float),
        "customers": layers["customers"].to_numpy(float),
        "ticket_total": (layers["avg_ticket"].fillna(0) * layers["customers"]).to_numpy(float),
        "demand": layers[demand].to_numpy(float),
        "unserved": np.where(layers["own_store_distance_km"].to_numpy(float) > radius_km,
                             layers[demand].to_numpy(float), 0.0),
        "competitors": layers["competitor_count"].to_numpy(float),
    })
    grouped = frame.groupby("area", sort=True).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "population": grouped["population"],
            "customers": grouped["customers"],
            "demand": grouped["demand"],
            "fan_index": grouped["customers"] / grouped["population"],
            "avg_ticket": grouped["ticket_total"] / grouped["customers"],
            "whitespace_rate": grouped["unserved"] / grouped["demand"],
            "competitor_pressure": 1e5 * grouped["competitors"] / grouped["population"],
        })
    table = table.replace([np.inf, -np.inf], np.nan)
    table.index.name = "area"
    weights = dict({"fan_index": 1.0, "avg_ticket": 1.0, "whitespace_rate": 1.0,
                    "competitor_pressure": -1.0} if weights is None else weights)
    unknown = set(weights) - set(BATTLEFIELD_COLUMNS)
    if unknown:
        raise InputError(f"`weights` names {sorted(unknown)}; use only {list(BATTLEFIELD_COLUMNS)}.")
    ranks = normalise_factors(table, list(weights), method="percentile")
    table["attractiveness"] = sum(ranks[c] * w for c, w in weights.items())
    table = table.sort_values("attractiveness", ascending=False, kind="stable")
    table["rank"] = np.arange(1, len(table) + 1)
    return table


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
