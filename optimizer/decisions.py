"""The expansion team's decisions, applied by every siting run.

A person surveys candidate sites and marks them ``candidate``, ``surveyed``, ``approved`` or
``rejected`` (the latest status per site, as ``xingtu.database.Database.survey_statuses()``
returns them); the team may bring its own candidate list (shops a landlord offers), draw
exclusion areas, and restrict a run to the battlefields or regions it has chosen.
:class:`SitingDecisions` holds all of that as cell ids, and
:func:`optimizer.siting.run_site_selection` (``decisions=``) applies it:

- **rejected** cells are never offered as candidates, so they are never chosen;
- **approved** cells are kept open: they are among the new sites of every run and count towards
  ``n_new`` and the budget (they are opened);
- **surveyed** and **candidate** cells compete as usual; every chosen site reports its status;
- a **candidate list** replaces the automatic candidates (the best-scoring free cells): the run
  chooses only from it (the ``max_candidates`` cap applies to the automatic choice only);
- **excluded** cells (exclusion areas, see :func:`geodata.areas.polygons_to_cell_ids`) and cells
  outside the **within** cells or the **regions** are never offered.

Approved sites are a decision already made: they stay open even inside an exclusion area or
outside the restriction (the report says so). Cells are the layer table's index values; H3 cells
may be given as ``uint64`` integers or as their hexadecimal strings (``"881f1d4a8bfffff"``).
Points given as latitude/longitude (:attr:`SitingDecisions.candidate_points`) stand for the
layer cell whose centre is nearest (within ``max_snap_km``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from .errors import InputError
from .geometry import frame_to_lat_lng, nearest_km

SurveyStatus = Literal["candidate", "surveyed", "approved", "rejected"]
"""Field-survey steps of a candidate site (the values ``survey_statuses()`` stores)."""

SURVEY_STATUSES: tuple[str, ...] = ("candidate", "surveyed", "approved", "rejected")

NOT_SURVEYED = "not surveyed"
"""``survey_status`` of a chosen site that has no survey record."""

DEFAULT_MAX_SNAP_KM = 1.0
"""A candidate point farther than this from every layer cell centre lies outside the region."""

CellIds = Iterable[object] | np.ndarray


def cell_ids(values: CellIds | None, name: str = "cells") -> np.ndarray:
    """Turn cell ids (integers or H3 hexadecimal strings) into a ``uint64`` array.

    Parameters
    ----------
    values
        Integers, numpy integers or hexadecimal strings such as ``"881f1d4a8bfffff"``.
    name
        Argument name for messages.

    Returns
    -------
    numpy.ndarray
        ``uint64`` ids in the given order (duplicates kept).

    Examples
    --------
    >>> cell_ids(["88411ca2cdfffff", 613635009263173631]).tolist()
    [613635009263173631, 613635009263173631]
    """
    if values is None:
        return np.zeros(0, dtype=np.uint64)
    array = values if isinstance(values, np.ndarray) else np.asarray(list(values), dtype=object)
    if array.dtype == object and len(array) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in array):
        array = np.array([int(v) for v in array], dtype=object)
        if all(v >= 0 for v in array):
            return array.astype(np.uint64)
    if array.dtype.kind in "ui":
        if array.dtype.kind == "i" and (array < 0).any():
            raise InputError(f"`{name}` has a negative cell id {int(array[array < 0][0])}; "
                             "give H3 cells as uint64 numbers or hexadecimal strings.")
        return array.astype(np.uint64)
    out = np.zeros(len(array), dtype=np.uint64)
    for position, value in enumerate(array.tolist()):
        parsed = _parse_cell(value)
        if parsed is None:
            raise InputError(f"`{name}` item {position + 1} is {value!r}, not a cell id; give H3 "
                             "cells as hexadecimal strings such as '881f1d4a8bfffff' or as "
                             "uint64 numbers.")
        out[position] = parsed
    return out


def _parse_cell(value: object) -> int | None:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value) if int(value) >= 0 else None
    text = str(value).strip().lower()
    if not text or len(text) > 16 or any(c not in "0123456789abcdef" for c in text):
        return None
    return int(text, 16)


@dataclass(frozen=True)
class DecisionReport:
    """What the decisions did to one run's candidate set.

    Attributes
    ----------
    statuses
        Survey status per cell of the layer table that has one (index: cell).
    rejected_removed
        Rejected cells that would otherwise have been offered (removed from the candidates).
    approved_kept
        Approved cells kept open (new sites of the run).
    approved_outside
        Approved cells kept open although they are excluded or outside the restriction.
    excluded_cells, restricted_cells
        Number of layer cells in exclusion areas, and allowed by the restriction (``None``: no
        restriction).
    candidate_list
        Number of cells of the user's candidate list (``None``: automatic candidates).
    candidates_offered
        Candidates the location model chose from (approved ones included).
    unmatched
        Survey or candidate ids that are not cells of the layer table (ignored).
    """

    statuses: pd.Series
    rejected_removed: np.ndarray
    approved_kept: np.ndarray
    approved_outside: np.ndarray
    excluded_cells: int
    restricted_cells: int | None
    candidate_list: int | None
    candidates_offered: int
    unmatched: tuple[str, ...] = ()

    def status_of(self, cells: Sequence[object] | np.ndarray) -> np.ndarray:
        """Return the survey status of each cell (:data:`NOT_SURVEYED` when it has none).

        Examples
        --------
        >>> r = DecisionReport(pd.Series({5: "approved"}), *(np.zeros(0),) * 3, 0, None, None, 1)
        >>> r.status_of([5, 6]).tolist()
        ['approved', 'not surveyed']
        """
        return self.statuses.reindex(list(cells)).fillna(NOT_SURVEYED).to_numpy(dtype=object)

    def as_dict(self) -> dict[str, object]:
        """Return the counts, for the run's parameters and exports."""
        return {"rejected_removed": len(self.rejected_removed),
                "approved_kept": len(self.approved_kept),
                "approved_outside": len(self.approved_outside),
                "excluded_cells": self.excluded_cells,
                "restricted_cells": self.restricted_cells,
                "candidate_list": self.candidate_list,
                "candidates_offered": self.candidates_offered,
                "unmatched": len(self.unmatched)}

    def summary(self) -> str:
        """Return one plain sentence per decision that changed the run.

        Examples
        --------
        >>> r = DecisionReport(pd.Series(dtype=object), np.array([1]), np.zeros(0), np.zeros(0),
        ...                    0, None, None, 10)
        >>> r.summary()
        '1 rejected site left out. 10 candidates offered.'
        """
        parts = []
        if len(self.rejected_removed):
            parts.append(f"{len(self.rejected_removed):,} rejected site"
                         f"{'s' if len(self.rejected_removed) != 1 else ''} left out.")
        if len(self.approved_kept):
            parts.append(f"{len(self.approved_kept):,} approved site"
                         f"{'s' if len(self.approved_kept) != 1 else ''} kept open (counted "
                         "among the new sites).")
        if len(self.approved_outside):
            parts.append(f"{len(self.approved_outside):,} approved site(s) kept open although "
                         "excluded or outside the chosen areas.")
        if self.candidate_list is not None:
            parts.append(f"Your candidate list: {self.candidate_list:,} cells.")
        if self.excluded_cells:
            parts.append(f"{self.excluded_cells:,} cells in exclusion areas left out.")
        if self.restricted_cells is not None:
            parts.append(f"New sites restricted to {self.restricted_cells:,} cells of the chosen "
                         "areas.")
        if self.unmatched:
            parts.append(f"{len(self.unmatched):,} survey or candidate ids are not cells of this "
                         "layer table and were ignored.")
        parts.append(f"{self.candidates_offered:,} candidates offered.")
        return " ".join(parts)


@dataclass(frozen=True)
class CandidatePlan:
    """The candidate set of one run after the decisions.

    Attributes
    ----------
    rows
        Positions in the layer table offered as candidate sites.
    kept_open
        Positions in ``rows`` of the approved sites (kept open).
    report
        What the decisions did.
    """

    rows: np.ndarray
    kept_open: np.ndarray
    report: DecisionReport


@dataclass(frozen=True)
class SitingDecisions:
    """Survey statuses, a candidate list, exclusion areas and a restriction for siting runs.

    Attributes
    ----------
    survey
        Latest survey status per site id (index: cell id as integer or H3 string; values in
        :data:`SURVEY_STATUSES`). Build it with :meth:`from_survey`.
    candidates
        The user's own candidate cells; ``None`` lets the run choose the best-scoring free cells.
    candidate_points
        The user's own candidates as ``(lat, lng)`` arrays (added to ``candidates``); each stands
        for the nearest layer cell centre within ``max_snap_km``.
    excluded
        Cells never offered as new sites (exclusion areas).
    within
        If given, new sites only in these cells (chosen battlefields, see
        :meth:`optimizer.scoring.BattlefieldRanking.cells`).
    regions
        If given, new sites only in cells whose layer ``region`` is one of these.
    max_snap_km
        See ``candidate_points``.

    Examples
    --------
    >>> statuses = pd.DataFrame({"site_id": ["88411ca2cdfffff"], "status": ["rejected"]})
    >>> SitingDecisions.from_survey(statuses).rejected.tolist()
    [613635009263173631]
    """

    survey: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    candidates: CellIds | None = None
    candidate_points: tuple[np.ndarray, np.ndarray] | None = None
    excluded: CellIds = ()
    within: CellIds | None = None
    regions: Sequence[str] | None = None
    max_snap_km: float = DEFAULT_MAX_SNAP_KM

    @classmethod
    def from_survey(cls, statuses: pd.DataFrame | None, **options: object) -> SitingDecisions:
        """Build from the survey table of ``Database.survey_statuses()``.

        Parameters
        ----------
        statuses
            Columns ``site_id`` and ``status`` (other columns ignored). With several rows per
            site (``history=True``) the last one counts.
        **options
            The other fields (``candidates``, ``excluded``, ``within``, ``regions``, ...).

        Returns
        -------
        SitingDecisions
        """
        survey = pd.Series(dtype=object)
        if statuses is not None and len(statuses):
            missing = [c for c in ("site_id", "status") if c not in statuses.columns]
            if missing:
                raise InputError(f"`statuses` has no column {missing}; pass the table of "
                                 "`survey_statuses()` (columns site_id, status, note, user, "
                                 "updated_at).")
            latest = statuses.drop_duplicates("site_id", keep="last")
            survey = pd.Series(latest["status"].astype(str).str.strip().str.lower().to_numpy(),
                               index=latest["site_id"].to_numpy(), dtype=object)
        return cls(survey=survey, **options)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        """Check the survey statuses and the snapping distance."""
        bad = ~self.survey.isin(SURVEY_STATUSES)
        if bad.any():
            position = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"survey row {position + 1} (site {self.survey.index[position]!r}) "
                             f"has status {self.survey.iloc[position]!r}; use one of "
                             f"{', '.join(SURVEY_STATUSES)}.")
        if not (np.isfinite(self.max_snap_km) and self.max_snap_km > 0):
            raise InputError(f"`max_snap_km` is {self.max_snap_km!r}; give a positive distance.")

    @property
    def rejected(self) -> np.ndarray:
        """Cell ids marked rejected (those that parse as cell ids)."""
        return self._status_cells("rejected")

    @property
    def approved(self) -> np.ndarray:
        """Cell ids marked approved."""
        return self._status_cells("approved")

    @property
    def surveyed(self) -> np.ndarray:
        """Cell ids marked surveyed."""
        return self._status_cells("surveyed")

    def with_status(self, cells: CellIds, status: SurveyStatus) -> SitingDecisions:
        """Return a copy with ``cells`` set to ``status`` (the latest decision wins).

        Examples
        --------
        >>> SitingDecisions().with_status([7], "approved").approved.tolist()
        [7]
        """
        ids = cell_ids(cells)
        update = pd.Series([status] * len(ids), index=ids.tolist(), dtype=object)
        keys = [_parse_cell(v) if _parse_cell(v) is not None else v for v in self.survey.index]
        merged = {**dict(zip(keys, self.survey.tolist(), strict=True)),
                  **dict(zip(update.index, update.tolist(), strict=True))}
        return replace(self, survey=pd.Series(list(merged.values()), index=list(merged),
                                              dtype=object))

    def _status_cells(self, status: str) -> np.ndarray:
        ids = [_parse_cell(v) for v in self.survey.index[self.survey.to_numpy() == status]]
        return np.array([v for v in ids if v is not None], dtype=np.uint64)

    def candidate_plan(self, layers: pd.DataFrame, score: np.ndarray, free: np.ndarray,
                       max_candidates: int | None, *, n_new: int | None = None) -> CandidatePlan:
        """Return the candidate rows of a run on ``layers`` after every decision.

        Parameters
        ----------
        layers
            The layer table (index: cell; ``lat``/``lng``; ``region`` when restricting by region).
        score
            Site score per row (automatic candidates are the best-scoring ones).
        free
            Rows without an own store (the automatic candidates' pool).
        max_candidates
            How many automatic candidates to offer.
        n_new
            Number of new sites of the run; it must leave room for the approved ones.

        Returns
        -------
        CandidatePlan
            Rows offered (approved ones included) and the positions of the approved ones.
        """
        index = _layer_ids(layers.index)
        position = pd.Series(np.arange(len(index)), index=index)
        unmatched: list[str] = []

        def rows_of(ids: np.ndarray, label: str) -> np.ndarray:
            found = position.reindex(ids.tolist())
            for value in np.asarray(ids)[found.isna().to_numpy()]:
                unmatched.append(f"{label} {_cell_text(value)}")
            return np.unique(found.dropna().to_numpy(dtype=np.int64))

        n = len(layers)
        statuses = self._layer_statuses(index, unmatched)
        excluded = np.zeros(n, dtype=bool)
        excluded[rows_of(cell_ids(self.excluded, "excluded"), "excluded cell")] = True
        allowed = np.ones(n, dtype=bool)
        restricted = self.within is not None or self.regions is not None
        if self.within is not None:
            allowed[:] = False
            allowed[rows_of(cell_ids(self.within, "within"), "restriction cell")] = True
        if self.regions is not None:
            if "region" not in layers.columns:
                raise InputError("`regions` restricts the run to regions but `layers` has no "
                                 "`region` column; restrict with `within` cells instead.")
            known = set(layers["region"].astype(str))
            unknown = [r for r in self.regions if str(r) not in known]
            if unknown:
                raise InputError(f"`regions` names {unknown}, which are not regions of the layer "
                                 f"table; use some of {sorted(known)}.")
            allowed &= layers["region"].astype(str).isin([str(r) for r in self.regions]).to_numpy()
        status = statuses.reindex(index.tolist()).to_numpy(dtype=object)
        rejected = status == "rejected"
        approved_rows = np.flatnonzero(status == "approved")
        eligible = allowed & ~excluded & ~rejected

        user_rows = self._user_rows(layers, rows_of)
        if user_rows is not None:
            pool = user_rows
            offered = pool[eligible[pool]]
            rejected_removed = pool[rejected[pool]]
        else:
            order = np.argsort(-np.asarray(score, float), kind="stable")
            pool = order[np.asarray(free, bool)[order]]
            offered = pool[eligible[pool]][:max_candidates]
            # Rejected cells that would have been offered without the survey.
            before = pool[(allowed & ~excluded)[pool]][:max_candidates]
            rejected_removed = before[rejected[before]]
        outside = approved_rows[~(allowed & ~excluded)[approved_rows]]
        rows = np.concatenate([approved_rows, offered[~np.isin(offered, approved_rows)]])
        if n_new is not None and len(approved_rows) > n_new:
            raise InputError(f"{len(approved_rows)} sites are approved (kept open) but `n_new` is "
                             f"{n_new}; approved sites count among the new sites, so raise "
                             f"`n_new` to at least {len(approved_rows)} or change a survey "
                             "status.")
        if len(rows) == 0:
            raise InputError("No candidate site is left after the survey statuses, the exclusion "
                             "areas and the restriction: widen the chosen areas, remove an "
                             "exclusion area or add candidates.")
        report = DecisionReport(
            statuses=statuses, rejected_removed=index[rejected_removed],
            approved_kept=index[approved_rows], approved_outside=index[outside],
            excluded_cells=int(excluded.sum()),
            restricted_cells=int(allowed.sum()) if restricted else None,
            candidate_list=None if user_rows is None else len(user_rows),
            candidates_offered=len(rows), unmatched=tuple(unmatched))
        return CandidatePlan(rows=rows, kept_open=np.arange(len(approved_rows)), report=report)

    def _layer_statuses(self, index: np.ndarray, unmatched: list[str]) -> pd.Series:
        """Survey status per layer cell (ids that are not layer cells go to ``unmatched``)."""
        if self.survey.empty:
            return pd.Series(dtype=object)
        known = set(index.tolist())
        ids, values = [], []
        for site_id, status in self.survey.items():
            parsed = _parse_cell(site_id)
            if parsed is None or parsed not in known:
                unmatched.append(f"survey site {site_id}")
                continue
            ids.append(parsed)
            values.append(status)
        return pd.Series(values, index=pd.Index(ids, dtype=index.dtype) if ids else None,
                         dtype=object)

    def _user_rows(self, layers: pd.DataFrame,
                   rows_of: Callable[[np.ndarray, str], np.ndarray]) -> np.ndarray | None:
        if self.candidates is None and self.candidate_points is None:
            return None
        parts = []
        if self.candidates is not None:
            parts.append(rows_of(cell_ids(self.candidates, "candidates"), "candidate cell"))
        if self.candidate_points is not None:
            parts.append(snap_points_to_rows(layers, *self.candidate_points,
                                             max_km=self.max_snap_km))
        rows = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        if len(rows) == 0:
            raise InputError("The candidate list has no cell of the layer table; check that it "
                             "covers the region of the layers (and the H3 resolution).")
        return rows


def snap_points_to_rows(layers: pd.DataFrame, lat: np.ndarray, lng: np.ndarray, *,
                        max_km: float = DEFAULT_MAX_SNAP_KM) -> np.ndarray:
    """Return the layer row whose cell centre is nearest to each point.

    Parameters
    ----------
    layers
        The layer table with ``lat``/``lng`` cell centres.
    lat, lng
        The points, in degrees.
    max_km
        A point farther than this from every cell centre is refused (it lies outside the region).

    Returns
    -------
    numpy.ndarray
        One row position per point.

    Examples
    --------
    >>> t = pd.DataFrame({"lat": [22.5, 22.6], "lng": [114.0, 114.0]})
    >>> snap_points_to_rows(t, np.array([22.597]), np.array([114.0])).tolist()
    [1]
    """
    lat, lng = np.asarray(lat, float).ravel(), np.asarray(lng, float).ravel()
    if lat.shape != lng.shape:
        raise InputError(f"`lat` has {len(lat)} values and `lng` {len(lng)}; give one pair per "
                         "point.")
    bad = ~(np.isfinite(lat) & np.isfinite(lng))
    if bad.any():
        raise InputError(f"candidate point {int(np.flatnonzero(bad)[0]) + 1} has no valid "
                         "latitude/longitude; fill it in or drop the row.")
    cell_lat, cell_lng = frame_to_lat_lng(layers, "layers")
    if len(cell_lat) == 0:
        raise InputError("`layers` has no cells to place the candidate points on.")
    distance, rows = nearest_km(lat, lng, cell_lat, cell_lng)
    rows = np.asarray(rows, dtype=np.int64)
    far = distance > max_km
    if far.any():
        first = int(np.flatnonzero(far)[0])
        raise InputError(f"candidate point {first + 1} ({lat[first]:.5f}, {lng[first]:.5f}) is "
                         f"{distance[first]:.1f} km from the nearest cell of the layer table "
                         f"({int(far.sum())} points in all): it lies outside the region. Check "
                         "latitude/longitude (not swapped?) or drop the point.")
    return rows


def _layer_ids(index: pd.Index) -> np.ndarray:
    values = index.to_numpy()
    if values.dtype.kind in "ui":
        return values.astype(np.uint64)
    parsed = [_parse_cell(v) for v in values]
    if all(v is not None for v in parsed):
        return np.array(parsed, dtype=np.uint64)
    raise InputError("The layer table's index is not cell ids; index it by H3 cell (uint64).")


def _cell_text(value: object) -> str:
    if isinstance(value, (int, np.integer)) and int(value) > 2**40:
        return format(int(value), "x")
    return str(value)


def statuses_to_frame(statuses: Mapping[object, str]) -> pd.DataFrame:
    """Return a ``site_id``/``status`` table (the ``survey_statuses()`` shape) from a mapping.

    Examples
    --------
    >>> statuses_to_frame({"a": "approved"}).values.tolist()
    [['a', 'approved']]
    """
    return pd.DataFrame({"site_id": [str(k) for k in statuses],
                         "status": list(statuses.values())})
