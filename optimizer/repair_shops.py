"""Repair-shop siting: after-sales demand, a service radius and shop ratings.

Expected repairs per cell are ``devices_sold * repair_rate``, or, given repair records and the
devices sold, the expected repairs of :mod:`optimizer.after_sales` (failure rates by model and
age); shop ratings computed from the records replace the given ones
(:func:`shops_with_ratings`). A shop rated at least
``min_rating`` covers the cells within ``radius_km`` and stays open (a kept-open site); a shop
rated below it does not count as coverage at all. Two objectives:

``"coverage"``
    Open ``n_new`` new shops to cover as many expected repairs as possible (MCLP).
``"fewest"``
    Open the fewest new shops so that every cell with repair demand has a good shop within reach
    (set cover).

Candidate sites are the cells with the most repair demand in each square of side
``candidate_spacing_km`` (all such cells stay within reach of a candidate) plus the good shops. Pure computation: frames in, a frozen :class:`RepairSitingRun` out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from .errors import InputError, problem_at_rows, warn_input
from .geometry import frame_to_lat_lng
from .location import MCLP, LocationResult, SetCover
from .results import SolveReport
from .siting import covered_mask, reach_matrix_km, thin_candidates
from .siting_checks import warn_radius_below_cell_spacing, warn_radius_covers_region

RepairObjective = Literal["coverage", "fewest"]
"""``coverage``: most repairs covered with ``n_new`` new shops. ``fewest``: fewest new shops to
cover every cell with repair demand."""

DEFAULT_REPAIR_RATE = 0.08
"""Share of devices sold that come in for a repair within a year (8 %, a typical figure for
phones including screen and battery replacements)."""

DEFAULT_MIN_RATING = 3.5
"""Rating (on the 1-5 scale of the demo shops) below which a shop does not count as coverage."""

DEFAULT_MAX_CANDIDATES: int | None = None
"""Candidate sites kept for the ``"coverage"`` objective (those reaching the most uncovered
repairs); ``None``: every candidate (the coverage model solves thousands in seconds)."""

DEFAULT_MIN_CELL_REPAIRS = 0.5
"""With ``"fewest"``, cells expecting fewer repairs than this a year (one every two years) need no
shop within reach: covering every scattered rural cell would take hundreds of shops."""


@dataclass(frozen=True)
class RepairSitingRun:
    """A finished repair-shop siting run.

    Attributes
    ----------
    new_shops
        One row per new shop: ``shop, cell, lat, lng, region, repairs_in_reach,
        new_repairs_covered`` (repairs in reach not covered by a good shop), sorted by the latter.
    good_shops, poor_shops
        Existing shops at or above / below ``min_rating`` (id, name, rating, lat, lng).
    report
        Status, objective, bound, gap and time of the location model.
    objective
        Which objective ran.
    coverage_before
        Share of expected repairs within reach of a good shop today.
    coverage_if_poor_counted
        The same if poorly rated shops counted (what a naive map would show).
    coverage_after
        Share within reach of a good shop once the new shops open.
    total_repairs
        Expected repairs per year in the region.
    location
        The location model's own result.
    parameters
        The options of the run.
    warnings
        The input warnings of the run, as the job layer collects them for its front ends
        (:func:`xingtu.jobs.repair.site_repair_shops`); empty when this module is called
        directly (the warnings are then :class:`~optimizer.errors.InputWarning` warnings).
    """

    new_shops: pd.DataFrame
    good_shops: pd.DataFrame
    poor_shops: pd.DataFrame
    report: SolveReport
    objective: RepairObjective
    coverage_before: float
    coverage_if_poor_counted: float
    coverage_after: float
    total_repairs: float
    location: LocationResult | None = None
    parameters: Mapping[str, object] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """Solve status (``"optimal"`` only when proven)."""
        return self.report.status

    def summary(self) -> str:
        """Return a few plain sentences for the after-sales team."""
        report = self.report
        proven = "proven optimal" if report.is_optimal else f"status {report.status}, NOT proven"
        target = ""
        if self.objective == "fewest":
            target = (f" Every cell expecting at least {self.parameters.get('min_cell_repairs', 0):g}"
                      " repairs a year is within reach of a good shop.")
        lines = [
            f"{len(self.new_shops)} new repair shops ({self.objective}, {proven}).",
            f"Expected repairs {self.total_repairs:,.0f} a year; within reach of a good shop: "
            f"{100 * self.coverage_before:.1f}% today -> {100 * self.coverage_after:.1f}% after "
            f"({100 * self.coverage_if_poor_counted:.1f}% today if the {len(self.poor_shops)} "
            f"poorly rated shops counted).{target}",
        ]
        if self.parameters.get("ratings") == "records":
            demand = ("the devices sold by model and age"
                      if self.parameters.get("demand") == "expected_repairs"
                      else "devices sold x repair rate")
            lines.append(f"Ratings computed from repair records; demand from {demand}.")
        return "\n".join(lines)


def repair_demand(layers: pd.DataFrame, repair_rate: float = DEFAULT_REPAIR_RATE) -> pd.Series:
    """Return the expected repairs per cell: ``devices_sold * repair_rate``.

    Examples
    --------
    >>> repair_demand(pd.DataFrame({"devices_sold": [100, 0]}), 0.1).tolist()
    [10.0, 0.0]
    """
    if "devices_sold" not in layers.columns:
        raise InputError("`layers` has no `devices_sold` column, the after-sales demand; build the "
                         "layers with own customers' devices.")
    if not (np.isfinite(repair_rate) and 0 < repair_rate <= 1):
        raise InputError(f"`repair_rate` is {repair_rate!r}; give a share in (0, 1], e.g. 0.08.")
    devices = layers["devices_sold"].fillna(0).to_numpy(float)
    if (devices < 0).any():
        raise InputError("`devices_sold` has negative values; counts must be >= 0.")
    return pd.Series(devices * repair_rate, index=layers.index, name="repairs")


def run_repair_siting(
    layers: pd.DataFrame,
    shops: pd.DataFrame,
    *,
    radius_km: float = 5.0,
    min_rating: float = DEFAULT_MIN_RATING,
    n_new: int | None = None,
    objective: RepairObjective = "coverage",
    repair_rate: float = DEFAULT_REPAIR_RATE,
    candidate_spacing_km: float | None = None,
    max_candidates: int | None = DEFAULT_MAX_CANDIDATES,
    min_cell_repairs: float = DEFAULT_MIN_CELL_REPAIRS,
    solver: str | None = None,
    time_limit: float | None = None,
    gap: float | None = None,
    ratings: pd.Series | None = None,
    expected_repairs: pd.Series | None = None,
) -> RepairSitingRun:
    """Site new repair shops where good after-sales service is missing.

    Parameters
    ----------
    layers
        The layer table (``lat``, ``lng``, ``devices_sold``).
    shops
        Existing repair shops: point geometry (or ``lat``/``lng``), ``rating``, optionally
        ``shop_id`` and ``name``.
    radius_km
        Service radius: a good shop covers the cells within it.
    min_rating
        Shops rated below this do not count as coverage.
    n_new
        Number of new shops (``objective="coverage"``; required there).
    objective
        See :data:`RepairObjective`.
    repair_rate
        Repairs per device sold per year.
    candidate_spacing_km
        Candidate sites are the cells with the most repairs in each square of this side
        (:func:`optimizer.siting.thin_candidates`); ``radius_km / 2`` when ``None``, 0 for every
        cell with repair demand. Every cell keeps a candidate within ``0.71 * radius_km``, so
        ``"fewest"`` stays feasible.
    max_candidates
        With ``"coverage"``: keep only the candidates reaching the most repairs not yet covered
        by a good shop; ``None`` (the default) keeps them all.
    min_cell_repairs
        With ``"fewest"``: cells expecting fewer repairs a year need no shop in reach (they still
        count in the coverage figures); 0 requires every cell with any repair demand.
    solver, time_limit, gap
        Passed to the location model's ``solve``.
    ratings
        Ratings computed from repair records, indexed by ``shop_id``
        (:attr:`optimizer.after_sales.ShopRatings.ratings`). They replace the given ``rating``
        of those shops; shops without records keep their given rating (the fallback).
    expected_repairs
        Expected repairs a year per cell, indexed like ``layers``
        (:func:`optimizer.after_sales.expected_repairs_by_cell`); replaces
        ``devices_sold * repair_rate``. Cells of ``layers`` missing from it expect none.

    Returns
    -------
    RepairSitingRun
        New shops, good / poor existing shops, coverage before and after, the solve report.

    Examples
    --------
    >>> run = run_repair_siting(layers, shops, radius_km=5, min_rating=3.5,
    ...                         objective="fewest")  # doctest: +SKIP
    >>> run.coverage_after  # doctest: +SKIP
    1.0
    """
    if objective not in ("coverage", "fewest"):
        raise InputError(f"`objective` is {objective!r}; use 'coverage' or 'fewest'.")
    if objective == "coverage" and n_new is None:
        raise InputError("`n_new` is needed with objective 'coverage' (how many shops to open); "
                         "or use objective 'fewest' to cover every customer.")
    if objective == "fewest" and n_new is not None:
        raise InputError(f"`n_new` is {n_new} but objective 'fewest' chooses the number itself; "
                         "drop `n_new` or use objective 'coverage'.")
    if n_new is not None and (int(n_new) != n_new or n_new < 0):
        raise InputError(f"`n_new` is {n_new!r}; give a whole number of new shops >= 0.")
    if not (np.isfinite(radius_km) and radius_km > 0):
        raise InputError(f"`radius_km` is {radius_km!r}; give a positive distance such as 5.")
    if not (np.isfinite(min_cell_repairs) and min_cell_repairs >= 0):
        raise InputError(f"`min_cell_repairs` is {min_cell_repairs!r}; give a number >= 0.")
    if max_candidates is not None and max_candidates < 1:
        raise InputError(f"`max_candidates` is {max_candidates!r}; give at least 1 or None.")
    shops = shops_with_ratings(shops, ratings)
    ratings_given = pd.to_numeric(shops["rating"], errors="coerce").to_numpy(float)
    if np.isnan(ratings_given).any():
        rows = np.flatnonzero(np.isnan(ratings_given))
        raise InputError([problem_at_rows(
            "shops", "rating", rows, shops["rating"].to_numpy()[rows], "no numeric rating",
            "fill every rating (a missing rating can be set below `min_rating`)")], "shops")
    ratings = ratings_given

    demand = (repair_demand(layers, repair_rate) if expected_repairs is None
              else _expected_demand(layers, expected_repairs)).to_numpy()
    cell_lat, cell_lng = frame_to_lat_lng(layers, "layers")
    shop_lat, shop_lng = frame_to_lat_lng(shops, "shops") if len(shops) else (np.zeros(0),) * 2
    good = ratings >= min_rating
    good_table = _shop_table(shops, good, shop_lat, shop_lng)
    poor_table = _shop_table(shops, ~good, shop_lat, shop_lng)

    n_good = int(good.sum())
    before = covered_mask(cell_lat, cell_lng, shop_lat[good], shop_lng[good], radius_km)
    required = demand >= max(min_cell_repairs, 1e-12)
    pool = np.flatnonzero(required if objective == "fewest" else demand > 0)
    spacing = radius_km / 2 if candidate_spacing_km is None else candidate_spacing_km
    candidate_rows = pool[thin_candidates(cell_lat[pool], cell_lng[pool], demand[pool], spacing)]
    if objective == "coverage" and max_candidates is not None and \
            len(candidate_rows) > max_candidates:
        reach = reach_matrix_km(cell_lat, cell_lng, cell_lat[candidate_rows],
                                cell_lng[candidate_rows], radius_km)
        uncovered = (reach != 0).astype(float).T @ np.where(before, 0.0, demand)
        best = np.sort(np.argsort(-uncovered, kind="stable")[:max_candidates])
        candidate_rows = candidate_rows[best]
    site_lat = np.concatenate([shop_lat[good], cell_lat[candidate_rows]])
    site_lng = np.concatenate([shop_lng[good], cell_lng[candidate_rows]])
    cost = reach_matrix_km(cell_lat, cell_lng, site_lat, site_lng, radius_km)
    fixed = np.arange(n_good)
    if objective == "coverage":
        model: MCLP | SetCover = MCLP.from_cost_matrix(cost, demand, radius=radius_km,
                                                       p=n_good + int(n_new or 0),
                                      fixed=fixed)
    else:
        model = SetCover.from_cost_matrix(cost, np.where(required, demand, 0.0), radius=radius_km,
                                          fixed=fixed)
    warn_radius_covers_region(cell_lat, cell_lng, demand, site_lat, site_lng, radius_km,
                              what="shop")
    result = model.solve(solver=solver, time_limit=time_limit, gap=gap)

    chosen_rows = candidate_rows[np.setdiff1d(result.sites, fixed) - n_good]
    if objective == "fewest":
        warn_radius_below_cell_spacing(cell_lat, cell_lng, required, radius_km,
                                       len(chosen_rows), what="shop")
    naive = covered_mask(cell_lat, cell_lng, shop_lat, shop_lng, radius_km)
    after = before | covered_mask(cell_lat, cell_lng, cell_lat[chosen_rows], cell_lng[chosen_rows],
                              radius_km)
    in_reach = (reach_matrix_km(cell_lat, cell_lng, cell_lat[chosen_rows],
                                          cell_lng[chosen_rows], radius_km) != 0).astype(float)
    new_shops = pd.DataFrame({
        "cell": layers.index.to_numpy()[chosen_rows],
        "lat": cell_lat[chosen_rows],
        "lng": cell_lng[chosen_rows],
        "region": (layers["region"].to_numpy()[chosen_rows] if "region" in layers.columns
                   else ""),
        "repairs_in_reach": in_reach.T @ demand,
        "new_repairs_covered": in_reach.T @ np.where(before, 0.0, demand),
    }).sort_values("new_repairs_covered", ascending=False, kind="stable").reset_index(drop=True)
    new_shops.insert(0, "shop", np.arange(1, len(new_shops) + 1))
    new_shops["reasons"] = [
        f"Reaches {r['repairs_in_reach']:,.0f} expected repairs a year within {radius_km:g} km, "
        f"{r['new_repairs_covered']:,.0f} of them not reached by any well-rated shop today."
        for _, r in new_shops.iterrows()]
    total = float(demand.sum())
    return RepairSitingRun(
        new_shops=new_shops, good_shops=good_table, poor_shops=poor_table, report=result.report,
        objective=objective, coverage_before=_share(demand, before, total),
        coverage_if_poor_counted=_share(demand, naive, total),
        coverage_after=_share(demand, after, total), total_repairs=total, location=result,
        parameters={"radius_km": radius_km, "min_rating": min_rating, "n_new": n_new,
                    "objective": objective, "repair_rate": repair_rate,
                    "min_cell_repairs": min_cell_repairs, "max_candidates": max_candidates,
                    "candidates": len(candidate_rows),
                    "ratings": "records" if ratings_source_records(shops) else "given",
                    "demand": "given" if expected_repairs is None else "expected_repairs"})


def shops_with_ratings(shops: pd.DataFrame, ratings: pd.Series | None = None) -> pd.DataFrame:
    """Return the shops with computed ratings in place of the given ones where they exist.

    ``rating_source`` says ``"records"`` or ``"given"``; a shop with neither keeps a missing
    rating (refused by :func:`run_repair_siting`).

    Examples
    --------
    >>> shops = pd.DataFrame({"shop_id": ["R1", "R2"], "rating": [4.5, 4.0]})
    >>> rated = shops_with_ratings(shops, pd.Series({"R1": 2.9}))
    >>> rated[["rating", "rating_source"]].values.tolist()
    [[2.9, 'records'], [4.0, 'given']]
    """
    frame = shops.copy()
    given = (pd.to_numeric(frame["rating"], errors="coerce") if "rating" in frame.columns
             else pd.Series(np.nan, index=frame.index))
    if ratings is None:
        if "rating" not in shops.columns:
            raise InputError("`shops` has no `rating` column; add each shop's credit rating, or "
                             "give repair records to compute it.")
        frame["rating"] = given.to_numpy(float)
        frame["rating_source"] = "given"
        return frame
    if "shop_id" not in frame.columns:
        raise InputError("`shops` has no `shop_id` column, needed to match the computed ratings.")
    computed = pd.to_numeric(pd.Series(ratings), errors="coerce")
    computed.index = computed.index.astype(str)
    matched = frame["shop_id"].astype(str).map(computed).to_numpy(float)
    has = np.isfinite(matched)
    frame["rating"] = np.where(has, matched, given.to_numpy(float))
    frame["rating_source"] = np.where(has, "records", "given")
    return frame


def _expected_demand(layers: pd.DataFrame, expected: pd.Series) -> pd.Series:
    values = pd.to_numeric(pd.Series(expected), errors="coerce")
    if not np.isfinite(values.to_numpy(float)).all() or (values.to_numpy(float) < 0).any():
        raise InputError("`expected_repairs` has missing, infinite or negative values; give "
                         "expected repairs a year (>= 0) per cell.")
    values.index = values.index.astype(layers.index.dtype, copy=False)
    outside = float(values[~values.index.isin(layers.index)].sum())
    if outside > 1e-9 * max(float(values.sum()), 1.0):
        warn_input(f"{outside:,.1f} of {values.sum():,.1f} expected repairs lie in cells outside "
                   "`layers` and are left out; build the layers with the devices' cells.",
                   stacklevel=3)
    return values.reindex(layers.index, fill_value=0.0).astype(float).rename("repairs")


def ratings_source_records(shops: pd.DataFrame) -> bool:
    """Return whether any shop's rating came from repair records."""
    return bool("rating_source" in shops.columns and (shops["rating_source"] == "records").any())


def _share(demand: np.ndarray, mask: np.ndarray, total: float) -> float:
    return float(demand[mask].sum() / total) if total > 0 else 0.0


def _shop_table(shops: pd.DataFrame, mask: np.ndarray, lat: np.ndarray, lng: np.ndarray
                ) -> pd.DataFrame:
    table = pd.DataFrame({
        "shop_id": (shops["shop_id"].to_numpy() if "shop_id" in shops.columns
                    else shops.index.to_numpy())[mask],
        "name": (shops["name"].to_numpy() if "name" in shops.columns
                 else np.full(len(shops), ""))[mask],
        "rating": pd.to_numeric(shops["rating"]).to_numpy(float)[mask],
        "lat": lat[mask],
        "lng": lng[mask],
    })
    if "rating_source" in shops.columns:
        table["rating_source"] = shops["rating_source"].to_numpy()[mask]
    return table.reset_index(drop=True)
