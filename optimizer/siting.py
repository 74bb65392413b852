"""Store siting run: score, calibrate, choose new sites and say why.

Store siting run: score the cells, calibrate demand, pick new sites with a location model and
say why each was chosen (score breakdown, expected sales, cannibalisation).

This is what the app and the CLI call. Steps of :func:`run_site_selection`:

1. score every cell (:func:`optimizer.scoring.score_cells`);
2. calibrate the demand model on the own stores' sales (:func:`optimizer.calibration.calibrate`;
   documented defaults when there are none) and turn the layers into sales potential per cell;
3. offer every cell without an own store as a candidate (or a given list of cells, or only the
   ``max_candidates`` best-scoring ones), add the own stores as sites kept open, and solve the
   chosen location model on the sales potential;
4. estimate each new site's sales with the Huff model (all new sites open together): gross
   sales, what it takes from competitors, from our own stores (cannibalisation) and from demand
   nobody served before;
5. report coverage (share of sales potential within ``radius_km`` of an own store) before and after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .calibration import Calibration, calibrate
from .decisions import DecisionReport, SitingDecisions
from .errors import InfeasibleError, InputError
from .geometry import EARTH_RADIUS_KM, frame_to_lat_lng, nearest_km, pairs_within_km
from .huff import StorePoints, network_capture, share_matrix
from .location import (
    MCLP,
    CapacitatedPMedian,
    LocationResult,
    MarketShare,
    PCenter,
    PMedian,
    SetCover,
)
from .results import SolveReport
from .scoring import Normalisation, ScoreTable, Smoothing, factor_label, score_cells
from .siting_checks import SpacingRequest, warn_budget_below_cheapest, warn_radius_covers_region

SitingModel = Literal["mclp", "p_median", "market_share", "set_cover", "p_center",
                      "capacitated"]
"""``mclp``: cover the most sales potential within ``radius_km``. ``p_median``: bring sales
potential closest to a store (demand-weighted distance; a cell with no store within the
demand model's cut-off counts at the cut-off distance). ``market_share``: capture the most sales
against competitors under the Huff model (:class:`optimizer.location.MarketShare`; own stores
kept open, candidates and own stores compete with the competitors for each cell's demand).
``set_cover``: the fewest new sites (or the cheapest, with opening costs) that bring every cell
with sales potential within ``radius_km`` of a store; no ``n_new`` (cells no candidate or own
store reaches are reported in the parameters as ``uncoverable_cells``). ``p_center``: ``n_new``
sites minimising the largest distance from a cell with sales potential to its nearest store.
``capacitated``: the p-median with ``capacity``, the sales potential one store serves at most
(CNY per year); what no store within the cut-off can take is lost demand."""

MODEL_NAMES: dict[str, str] = {"mclp": MCLP.model_name, "p_median": PMedian.model_name,
                               "market_share": MarketShare.model_name,
                               "set_cover": SetCover.model_name, "p_center": PCenter.model_name,
                               "capacitated": CapacitatedPMedian.model_name}
"""The location model's name of each siting model, as its messages use it."""

DEFAULT_OPENING_COST_CNY = 1_500_000.0
"""Cost of opening one store (fit-out and first-year rent) used with ``budget`` when no
``opening_cost`` is given."""

DEFAULT_MAX_CANDIDATES = 150
"""Best-scoring free cells offered to ``market_share`` when ``max_candidates`` is ``None``
(its outer approximation grows with the candidates: 2,000 on the demo region take about a
minute). ``mclp`` gets every free cell (coverage within ``radius_km`` stays sparse: the 24,991
free cells of the demo region solve in seconds), ``p_median``
:data:`DEFAULT_MAX_CANDIDATES_P_MEDIAN`."""

DEFAULT_MAX_CANDIDATES_P_MEDIAN = 2_000
"""Best-scoring free cells offered to ``p_median`` when ``max_candidates`` is ``None``: proven
optimal in seconds on the demo region (its Lagrangian bound rules out all but the chosen
sites). Cells no open store reaches within the demand model's cut-off count at the cut-off
distance, so any number of candidates is feasible."""

DEFAULT_MAX_CANDIDATES_P_CENTER = 300
"""Best-scoring free cells offered to ``p_center`` when ``max_candidates`` is ``None`` (each cell
keeps every candidate nearer than its distance to the nearest own store: the pairs grow with
cells x candidates)."""

MAX_CANDIDATES_BY_MODEL: dict[str, int | None] = {
    "mclp": None, "set_cover": None, "p_median": DEFAULT_MAX_CANDIDATES_P_MEDIAN,
    "market_share": DEFAULT_MAX_CANDIDATES, "capacitated": DEFAULT_MAX_CANDIDATES,
    "p_center": DEFAULT_MAX_CANDIDATES_P_CENTER}
"""Candidates offered to each model when ``max_candidates`` is ``None`` (``None``: every free
cell; for ``set_cover`` the best-scoring free cell of each square of half the radius, so every
free cell keeps a candidate within reach)."""

_DISTANCE_FLOOR_KM = 1e-6  # keeps a site in the client's own cell as a stored (non-zero) distance


@dataclass(frozen=True)
class SiteSelectionRun:
    """A finished store siting run.

    Attributes
    ----------
    sites
        One row per new site, best expected net gain first: ``site, cell, lat, lng, region,
        score, score_rank, reasons, expected_sales, from_competitors, from_own, from_unserved,
        net_gain, cannibalisation_rate, new_demand_covered, opening_cost`` and one
        ``score_<factor>`` column per factor (the score breakdown).
    report
        Status, objective, bound, gap and time of the location model.
    model
        Which location model ran.
    coverage_before, coverage_after
        Share of sales potential within ``radius_km`` of an own store, today and with the new sites.
    total_demand
        Total sales potential of the region (CNY per year when calibrated on sales).
    scores
        The score table of every cell (for maps and explanations).
    calibration
        The demand model used (held-out R2 / MAPE when calibrated).
    location
        The location model's own result (assignment, kept-open sites, ...).
    parameters
        The options of the run, for the record.
    decisions
        What the survey statuses, candidate list, exclusion areas and restriction did
        (``None`` when the run had no ``decisions``).
    warnings
        The input warnings of the run, each naming what was assumed or looks wrong, as the job
        layer collects them for its front ends (:func:`xingtu.jobs.siting.choose_sites`). Empty
        when this module is called directly: the warnings are then
        :class:`~optimizer.errors.InputWarning` warnings.
    """

    sites: pd.DataFrame
    report: SolveReport
    model: SitingModel
    coverage_before: float
    coverage_after: float
    total_demand: float
    scores: ScoreTable
    calibration: Calibration
    location: LocationResult | None = None
    parameters: Mapping[str, object] = field(default_factory=dict)
    decisions: DecisionReport | None = None
    warnings: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """Solve status (``"optimal"`` only when proven)."""
        return self.report.status

    def summary(self) -> str:
        """Return a few plain sentences for a planner.

        Examples
        --------
        The first line reads like ``"3 new sites (MCLP, proven optimal): coverage 41.2% -> 55.0%."``
        """
        report = self.report
        proven = "proven optimal" if report.is_optimal else f"status {report.status}, NOT proven"
        lines = [f"{len(self.sites)} new sites ({self.model.upper()}, {proven}): coverage "
                 f"{100 * self.coverage_before:.1f}% -> {100 * self.coverage_after:.1f}%."]
        if report.objective is not None:
            gap = "n/a" if report.gap is None else f"{100 * report.gap:.3g}%"
            bound = "n/a" if report.bound is None else f"{report.bound:,.0f}"
            lines.append(f"Objective {report.objective:,.0f}, bound {bound}, gap {gap}, "
                         f"{report.solver} {report.solve_seconds:.2f} s.")
        if len(self.sites):
            lines.append(f"Expected sales of the new sites {self.sites['expected_sales'].sum():,.0f}"
                         f", of which {self.sites['from_own'].sum():,.0f} taken from own stores; "
                         f"net gain {self.sites['net_gain'].sum():,.0f}.")
        lines.append(self.calibration.message)
        return "\n".join(lines)


def run_site_selection(
    layers: pd.DataFrame,
    own_stores: pd.DataFrame,
    competitors: pd.DataFrame | None = None,
    *,
    weights: Mapping[str, float] | None = None,
    model: SitingModel = "mclp",
    n_new: int | None = 3,
    radius_km: float = 3.0,
    budget: float | None = None,
    opening_cost: float | str | None = None,
    capacity: float | None = None,
    max_candidates: int | None = None,
    candidate_cells: Sequence[object] | None = None,
    min_spacing_km: float | None = None,
    normalisation: Normalisation = "percentile",
    smoothing: Smoothing = None,
    calibration: Calibration | None = None,
    new_store_area_m2: float | None = None,
    solver: str | None = None,
    time_limit: float | None = None,
    gap: float | None = None,
    decisions: SitingDecisions | None = None,
) -> SiteSelectionRun:
    """Choose ``n_new`` new store sites and explain each choice.

    Parameters
    ----------
    layers
        The layer table (index ``cell``; ``lat``, ``lng`` and the factor columns).
    own_stores
        Own stores (point geometry or ``lat``/``lng``; ``floor_area_m2``; ``annual_sales`` to
        calibrate on). They stay open.
    competitors
        Competitor stores (point geometry or ``lat``/``lng``; ``floor_area_m2``).
    weights
        Score weights (:data:`optimizer.scoring.DEFAULT_WEIGHTS` when ``None``).
    model
        See :data:`SitingModel`.
    n_new
        Number of new sites; ``None`` with ``budget`` opens as many as the budget allows.
        Not used by ``set_cover`` (it opens as many as full coverage needs).
    radius_km
        Service radius of a store (coverage, MCLP, set cover).
    budget
        Limit on the total opening cost of the new sites (CNY).
    opening_cost
        Cost of one new site: a number, or a layer column with a cost per cell;
        :data:`DEFAULT_OPENING_COST_CNY` when a budget is given without it.
    capacity
        ``capacitated`` only: the sales potential one store (own or new) serves at most, in the
        demand model's unit (CNY per year when calibrated on sales).
    max_candidates
        How many best-scoring free cells are offered as candidates; ``None`` (the default):
        see :data:`MAX_CANDIDATES_BY_MODEL` (all of ``candidate_cells`` when that is given).
    candidate_cells
        Cells (index labels of ``layers``) to offer as candidates instead, e.g. a surveyed
        list; cells with an own store are left out.
    min_spacing_km
        No two new sites closer than this.
    normalisation, smoothing
        Passed to :func:`optimizer.scoring.score_cells`.
    calibration
        A demand model; calibrated on ``own_stores`` when ``None``.
    new_store_area_m2
        Floor area of a new store for the Huff sales estimate; the median own store when ``None``.
    solver, time_limit, gap
        Passed to the location model's ``solve``.
    decisions
        Survey statuses, the user's candidate list, exclusion areas and a restriction to chosen
        areas (:class:`optimizer.decisions.SitingDecisions`): rejected cells are never chosen,
        approved ones are kept open and count among the ``n_new`` new sites, and the new sites
        come only from the candidate list and the allowed cells. ``sites`` then has a
        ``survey_status`` column.

    Returns
    -------
    SiteSelectionRun
        Sites with their reasons, the solve report and coverage before / after.

    Examples
    --------
    >>> run = run_site_selection(layers, stores, competitors, n_new=3)  # doctest: +SKIP
    >>> run.sites[["cell", "expected_sales", "from_own", "reasons"]]  # doctest: +SKIP
    """
    _check_run_arguments(model, n_new, radius_km, budget, max_candidates, capacity)
    if model == "set_cover":
        n_new = None
    cell_lat, cell_lng = frame_to_lat_lng(layers, "layers")
    scores = score_cells(layers, weights=weights, normalisation=normalisation, smoothing=smoothing)
    if calibration is None:
        calibration = calibrate(layers, own_stores, competitors)
    demand = calibration.demand(layers).to_numpy(float)
    own = StorePoints.from_frame(own_stores, attractiveness=_size_column(own_stores),
                                 id_column="store_id" if "store_id" in own_stores.columns else None)
    comp = (StorePoints.from_frame(competitors, attractiveness=_size_column(competitors))
            if competitors is not None and len(competitors) else None)

    free = np.ones(len(layers), dtype=bool)
    if "own_store_count" in layers.columns:
        free &= layers["own_store_count"].fillna(0).to_numpy() == 0
    if candidate_cells is not None:
        free &= _candidate_mask(layers, candidate_cells)
    order = np.argsort(-scores.score.to_numpy(), kind="stable")
    cap = max_candidates
    if cap is None and candidate_cells is None:
        cap = MAX_CANDIDATES_BY_MODEL[model]
    if model == "p_center" and candidate_cells is None and cap is not None:
        # The worst-off cell matters, not the best score: candidates spread over the region.
        free &= _spread_mask(cell_lat, cell_lng, scores.score.to_numpy(), free, cap)
    if model == "set_cover" and candidate_cells is None and max_candidates is None:
        # One candidate per square of half the radius (the best-scoring cell): every free cell
        # keeps one within 0.71 radius, so full coverage stays possible with far fewer columns.
        free &= _thin_mask(cell_lat, cell_lng, scores.score.to_numpy(), free, radius_km / 2)
    candidate_rows = order[free[order]][:cap]
    kept_open = np.zeros(0, dtype=np.int64)
    decision_report = None
    if decisions is not None:
        plan = decisions.candidate_plan(layers, scores.score.to_numpy(), free, cap, n_new=n_new)
        candidate_rows, kept_open, decision_report = plan.rows, plan.kept_open, plan.report
    if len(candidate_rows) == 0:
        raise InputError("`layers` has no cell without an own store to offer as a candidate site.")
    n_own = len(own)
    site_lat = np.concatenate([own.lat, cell_lat[candidate_rows]])
    site_lng = np.concatenate([own.lng, cell_lng[candidate_rows]])
    cost_per_site = _opening_costs(layers, opening_cost, candidate_rows, budget)
    site_costs = None if cost_per_site is None else np.concatenate([np.zeros(n_own), cost_per_site])
    p = None if n_new is None else n_own + int(n_new)
    options: dict[str, Any] = {"fixed": np.concatenate([np.arange(n_own), n_own + kept_open]),
                                  "p": p}
    if site_costs is not None:
        options.update(opening_cost=site_costs, budget=budget)
    spacing = None
    if min_spacing_km is not None:
        spacing = _spacing_request(cell_lat[candidate_rows], cell_lng[candidate_rows],
                                   scores.score.to_numpy()[candidate_rows], kept_open, own,
                                   float(min_spacing_km), n_new, model)
        spacing.check()  # before the candidate pairs are listed
    if cost_per_site is not None and budget is not None and n_new is None:
        warn_budget_below_cheapest(np.delete(cost_per_site, kept_open), budget, what="store")
    if min_spacing_km is not None:
        options.update(min_spacing=min_spacing_km,
                       candidate_distance=reach_matrix_km(site_lat, site_lng, site_lat, site_lng,
                                                          min_spacing_km))

    cutoff_km = calibration.cutoff_km
    extra: dict[str, Any] = {}
    location_model: MCLP | PMedian | MarketShare | SetCover | PCenter | CapacitatedPMedian
    if model == "mclp":
        cost = reach_matrix_km(cell_lat, cell_lng, site_lat, site_lng, radius_km)
        location_model = MCLP.from_cost_matrix(cost, demand, radius=radius_km, **options)
    elif model == "set_cover":
        cost = reach_matrix_km(cell_lat, cell_lng, site_lat, site_lng, radius_km)
        options.pop("p")
        reachable = np.diff(cost.indptr) > 0
        extra["uncoverable_cells"] = int(((demand > 0) & ~reachable).sum())
        location_model = SetCover.from_cost_matrix(cost, np.where(reachable, demand, 0.0),
                                                   radius=radius_km, **options)
    elif model in ("p_median", "capacitated", "p_center"):
        if p is None:
            raise InputError(f"`n_new` is None: the {MODEL_NAMES[model]} model needs a number "
                             "of new sites.")
        options.pop("p")
        if model == "p_center":
            reach_km = _p_center_reach_km(cell_lat, cell_lng, demand, own, site_lat, site_lng)
            cost = reach_matrix_km(cell_lat, cell_lng, site_lat, site_lng, reach_km)
            location_model = PCenter.from_cost_matrix(cost, demand, p=p, **options)
        else:
            cost = reach_matrix_km(cell_lat, cell_lng, site_lat, site_lng, cutoff_km)
            cost, options = _with_unserved_site(cost, options, cutoff_km)
            if model == "p_median":
                location_model = PMedian.from_cost_matrix(cost, demand, p=p + 1, **options)
            else:
                assert capacity is not None  # checked above
                # The "unserved" site takes whatever the stores cannot.
                capacities = np.append(np.full(len(site_lat), float(capacity)),
                                       float(demand.sum()) + 1.0)
                location_model = CapacitatedPMedian.from_cost_matrix(
                    cost, demand, capacity=capacities, p=p + 1, **options)
    else:
        location_model = _market_share_model(cell_lat, cell_lng, demand, site_lat, site_lng,
                                             own, comp, calibration, new_store_area_m2, options)
    if model == "mclp":
        warn_radius_covers_region(cell_lat, cell_lng, demand, site_lat, site_lng, radius_km,
                                  what="store")
    location_model.check()  # the reasons found before solving, as they are
    try:
        result = location_model.solve(solver=solver, time_limit=time_limit, gap=gap)
    except InfeasibleError:
        fit = None if spacing is None or budget is not None else spacing.check()
        if spacing is None or fit is None:
            raise  # with a budget too, the proof may rest on both: the solver's words stand
        raise spacing.error(fit) from None
    if model in ("p_median", "capacitated"):
        result = _without_unserved_site(result, len(site_lat))

    chosen = np.setdiff1d(result.sites, np.arange(n_own)) - n_own
    chosen_rows = candidate_rows[chosen]
    area = float(new_store_area_m2 or (np.median(own.attractiveness) if n_own else 200.0))
    new = StorePoints.from_arrays(cell_lat[chosen_rows], cell_lng[chosen_rows], area,
                                  ids=layers.index.to_numpy()[chosen_rows])
    capture = network_capture(demand, cell_lat, cell_lng, new=new, own=own if n_own else None,
                              competitors=comp, alpha=calibration.alpha, beta=calibration.beta,
                              cutoff_km=cutoff_km)
    before = covered_mask(cell_lat, cell_lng, own.lat, own.lng, radius_km)
    after = before | covered_mask(cell_lat, cell_lng, new.lat, new.lng, radius_km)
    newly = (reach_matrix_km(cell_lat, cell_lng, new.lat, new.lng, radius_km) != 0).astype(float)
    total = float(demand.sum())
    sites = _site_table(layers, scores, chosen_rows, capture,
                        newly.T @ np.where(before, 0.0, demand),
                        None if cost_per_site is None else cost_per_site[chosen])
    if model == "capacitated":
        flows = sp.csr_array(result.details["flows"])
        load = flows.T @ demand
        served = pd.Series(load[n_own + chosen], index=layers.index.to_numpy()[chosen_rows])
        sites["served_demand"] = sites["cell"].map(served).to_numpy(float)
        extra["own_store_load"] = load[:n_own].tolist()
    parameters: dict[str, Any] = {"model": model, "n_new": n_new, "radius_km": radius_km,
                                  "budget": budget,
                  "max_candidates": max_candidates, "candidates": len(candidate_rows),
                  "min_spacing_km": min_spacing_km,
                  "normalisation": normalisation, "weights": dict(scores.weights),
                  "new_store_area_m2": area, "capacity": capacity, **extra}
    if model == "p_center":
        parameters["worst_distance_km"] = result.objective
    if decision_report is not None:
        parameters["decisions"] = decision_report.as_dict()
        order_in_table = sites["cell"].to_numpy()
        sites["survey_status"] = decision_report.status_of(order_in_table)
    return SiteSelectionRun(
        sites=sites, report=result.report, model=model,
        coverage_before=_share(demand, before, total), coverage_after=_share(demand, after, total),
        total_demand=total, scores=scores, calibration=calibration, location=result,
        parameters=parameters, decisions=decision_report)


def reach_matrix_km(lat: np.ndarray, lng: np.ndarray, site_lat: np.ndarray, site_lng: np.ndarray,
                    radius_km: float) -> sp.csr_array:
    """Sparse client x site distances (km) for pairs within ``radius_km``; missing = out of reach.

    Distances are floored at 1e-6 km so a site in the client's own cell stays a stored entry.

    Examples
    --------
    >>> m = reach_matrix_km(np.array([22.5]), np.array([114.0]), np.array([22.5, 23.5]),
    ...                     np.array([114.0, 114.0]), 5.0)
    >>> m.nnz, m.shape
    (1, (1, 2))
    """
    rows, cols, dist = pairs_within_km(lat, lng, site_lat, site_lng, radius_km)
    return sp.csr_array((np.maximum(dist, _DISTANCE_FLOOR_KM), (rows, cols)),
                        shape=(len(lat), len(site_lat)))


def thin_candidates(lat: np.ndarray, lng: np.ndarray, weight: np.ndarray, spacing_km: float
                    ) -> np.ndarray:
    """Keep one candidate per ``spacing_km`` square: the point with the largest weight.

    Points are placed on a local equirectangular plane and binned into squares of side
    ``spacing_km``; every point then has a kept candidate within ``spacing_km * sqrt(2)``.
    Fewer, well-spread candidates keep coverage models small and fast.

    Returns
    -------
    numpy.ndarray
        Sorted positions of the kept points.

    Examples
    --------
    >>> thin_candidates(np.array([22.5, 22.5001, 22.6]), np.array([114.0, 114.0, 114.0]),
    ...                 np.array([1.0, 2.0, 1.0]), 1.0).tolist()
    [1, 2]
    """
    lat, lng = np.asarray(lat, float), np.asarray(lng, float)
    if len(lat) == 0:
        return np.zeros(0, dtype=np.int64)
    if not spacing_km > 0:
        return np.arange(len(lat))
    km_per_degree = np.pi * EARTH_RADIUS_KM / 180.0
    y = np.floor(lat * km_per_degree / spacing_km).astype(np.int64)
    x = np.floor(lng * km_per_degree * np.cos(np.radians(np.mean(lat))) / spacing_km)
    order = np.lexsort((-np.asarray(weight, float), x.astype(np.int64), y))
    keys = np.column_stack([y[order], x.astype(np.int64)[order]])
    first = np.ones(len(order), dtype=bool)
    first[1:] = np.any(keys[1:] != keys[:-1], axis=1)
    return np.sort(order[first])


def coverage_share(demand: np.ndarray, lat: np.ndarray, lng: np.ndarray, site_lat: np.ndarray,
                   site_lng: np.ndarray, radius_km: float) -> float:
    """Share of ``demand`` within ``radius_km`` of at least one site.

    Examples
    --------
    >>> coverage_share(np.array([3.0, 1.0]), np.array([22.5, 23.5]), np.array([114.0, 114.0]),
    ...                np.array([22.5]), np.array([114.0]), 5.0)
    0.75
    """
    demand = np.asarray(demand, float)
    return _share(demand, covered_mask(lat, lng, site_lat, site_lng, radius_km), float(demand.sum()))


def covered_mask(lat: np.ndarray, lng: np.ndarray, site_lat: np.ndarray, site_lng: np.ndarray,
                 radius_km: float) -> np.ndarray:
    """Return True for each point within ``radius_km`` of at least one site.

    Examples
    --------
    >>> covered_mask(np.array([22.5, 23.5]), np.array([114.0, 114.0]), np.array([22.5]),
    ...              np.array([114.0]), 5.0).tolist()
    [True, False]
    """
    covered = np.zeros(len(lat), dtype=bool)
    if len(site_lat):
        rows, _, _ = pairs_within_km(lat, lng, site_lat, site_lng, radius_km)
        covered[rows] = True
    return covered


def _share(demand: np.ndarray, mask: np.ndarray, total: float) -> float:
    return float(demand[mask].sum() / total) if total > 0 else 0.0


def _spread_mask(lat: np.ndarray, lng: np.ndarray, score: np.ndarray, free: np.ndarray,
                 count: int) -> np.ndarray:
    """Return the free cells thinned to at most ``count``, one per square, best score kept.

    The square side is the smallest (to 1 %) that leaves no more than ``count`` cells.
    """
    rows = np.flatnonzero(free)
    mask = np.zeros(len(lat), dtype=bool)
    if len(rows) <= count:
        mask[rows] = True
        return mask
    low, high = 0.0, 1.0
    while len(thin_candidates(lat[rows], lng[rows], score[rows], high)) > count:
        low, high = high, 2 * high
    while high - low > 0.01 * high:
        middle = (low + high) / 2
        if len(thin_candidates(lat[rows], lng[rows], score[rows], middle)) > count:
            low = middle
        else:
            high = middle
    return _thin_mask(lat, lng, score, free, high)


def _thin_mask(lat: np.ndarray, lng: np.ndarray, score: np.ndarray, free: np.ndarray,
               spacing_km: float) -> np.ndarray:
    """Return the free cells kept by :func:`thin_candidates` at ``spacing_km`` as a mask."""
    rows = np.flatnonzero(free)
    mask = np.zeros(len(lat), dtype=bool)
    mask[rows[thin_candidates(lat[rows], lng[rows], score[rows], spacing_km)]] = True
    return mask


def _p_center_reach_km(cell_lat: np.ndarray, cell_lng: np.ndarray, demand: np.ndarray,
                       own: StorePoints, site_lat: np.ndarray, site_lng: np.ndarray) -> float:
    """Return a reach no p-center plan needs to exceed: the worst distance to an own store.

    Own stores stay open, so every plan's worst distance is at most the worst distance of a
    demand cell to its nearest own store; without own stores, the farthest cell-site pair
    (bounded by the distance to the first site plus the sites' spread).
    """
    rows = demand > 0
    if not rows.any():
        return 1.0
    lat, lng = cell_lat[rows], cell_lng[rows]
    if len(own):
        worst = float(nearest_km(lat, lng, own.lat, own.lng)[0].max())
    else:
        to_first = nearest_km(lat, lng, site_lat[:1], site_lng[:1])[0]
        spread = nearest_km(site_lat, site_lng, site_lat[:1], site_lng[:1])[0]
        worst = float(to_first.max() + spread.max())
    return worst * (1 + 1e-9) + 1e-6


def _with_unserved_site(cost: sp.csr_array, options: dict[str, Any], cutoff_km: float
                        ) -> tuple[sp.csr_array, dict[str, Any]]:
    """Add the p-median's "unserved" site: at ``cutoff_km`` from every cell, always open.

    A cell with no open store within the demand model's cut-off is lost demand; the p-median
    prices it at the cut-off distance (no store is farther than that) instead of requiring a
    store within reach of every cell, which a few new sites cannot meet once remote cells are
    candidates (the model would be infeasible). The extra column is the last one, kept open,
    free to open and free of spacing rules; :func:`_without_unserved_site` removes it.
    """
    n_cells, n_sites = cost.shape
    column = sp.csr_array((np.full(n_cells, cutoff_km), (np.arange(n_cells), np.zeros(n_cells,
                          dtype=np.int64))), shape=(n_cells, 1))
    options = dict(options)
    options["fixed"] = np.append(options["fixed"], n_sites)
    if options.get("opening_cost") is not None:
        options["opening_cost"] = np.append(options["opening_cost"], 0.0)
    if options.get("candidate_distance") is not None:
        spacing = sp.coo_array(options["candidate_distance"])
        options["candidate_distance"] = sp.csr_array(
            (spacing.data, (spacing.row, spacing.col)), shape=(n_sites + 1, n_sites + 1))
    return sp.csr_array(sp.hstack([cost, column], format="csr")), options


def _without_unserved_site(result: LocationResult, unserved: int) -> LocationResult:
    """Return the p-median result without the "unserved" site (its cells unassigned, -1)."""
    lost = result.assignment == unserved
    assignment = np.where(lost, -1, result.assignment)
    distance = np.where(lost, np.nan, result.assigned_distance)
    total = float(result.weights.sum())
    served = float(result.weights[~lost].sum())
    return replace(
        result, sites=result.sites[result.sites != unserved],
        fixed=result.fixed[result.fixed != unserved], assignment=assignment,
        assigned_distance=distance, coverage=served / total if total > 0 else 1.0,
        details={**result.details, "unserved_demand": total - served,
                 "demand_word": "within the demand cut-off of a store"})


def _spacing_request(lat: np.ndarray, lng: np.ndarray, score: np.ndarray, kept_open: np.ndarray,
                     own: StorePoints, spacing_km: float, n_new: int | None, model: str
                     ) -> SpacingRequest:
    """Return the spacing request of a run: new candidates best score first, beside the kept."""
    others = np.setdiff1d(np.arange(len(lat)), kept_open)
    return SpacingRequest(lat=lat, lng=lng, order=others[np.argsort(-score[others],
                                                                    kind="stable")],
                          spacing_km=spacing_km,
                          asked=None if n_new is None else n_new - len(kept_open),
                          kept_lat=np.concatenate([own.lat, lat[kept_open]]),
                          kept_lng=np.concatenate([own.lng, lng[kept_open]]),
                          model_name=MODEL_NAMES[model])


def _size_column(frame: pd.DataFrame) -> str | float:
    return "floor_area_m2" if "floor_area_m2" in frame.columns else 1.0


def _opening_costs(layers: pd.DataFrame, opening_cost: float | str | None, rows: np.ndarray,
                   budget: float | None) -> np.ndarray | None:
    if opening_cost is None:
        return None if budget is None else np.full(len(rows), DEFAULT_OPENING_COST_CNY)
    if isinstance(opening_cost, str):
        if opening_cost not in layers.columns:
            raise InputError(f"`opening_cost` names column {opening_cost!r}, which `layers` does "
                             "not have; give a number or an existing column.")
        costs = layers[opening_cost].to_numpy(float)[rows]
    else:
        costs = np.full(len(rows), float(opening_cost))
    if not np.all(np.isfinite(costs)) or (costs < 0).any():
        raise InputError(f"`opening_cost` must be finite and >= 0; got {opening_cost!r}.")
    return costs


def _check_run_arguments(model: str, n_new: int | None, radius_km: float, budget: float | None,
                         max_candidates: int | None, capacity: float | None) -> None:
    if model not in MODEL_NAMES:
        raise InputError(f"`model` is {model!r}; use one of "
                         f"{', '.join(repr(name) for name in MODEL_NAMES)}.")
    if model == "capacitated" and (capacity is None or not np.isfinite(capacity)
                                   or capacity <= 0):
        raise InputError(f"`capacity` is {capacity!r}: the capacitated model needs the sales "
                         "potential one store serves at most, a positive amount (CNY per "
                         "year), e.g. capacity=20000000.")
    if model == "set_cover":
        pass  # covers every cell: no number of sites
    elif n_new is None and budget is None:
        raise InputError("Give `n_new` (how many new sites) or `budget` (how much to spend).")
    if n_new is not None and (int(n_new) != n_new or n_new < 0):
        raise InputError(f"`n_new` is {n_new!r}; give a whole number of new sites >= 0.")
    if not (np.isfinite(radius_km) and radius_km > 0):
        raise InputError(f"`radius_km` is {radius_km!r}; give a positive distance such as 3.")
    if budget is not None and not (np.isfinite(budget) and budget >= 0):
        raise InputError(f"`budget` is {budget!r}; give an amount >= 0 in CNY.")
    if max_candidates is not None and max_candidates < 1:
        raise InputError(f"`max_candidates` is {max_candidates!r}; give at least 1 or None.")


def _candidate_mask(layers: pd.DataFrame, candidate_cells: Sequence[object]) -> np.ndarray:
    """Rows of ``layers`` named in ``candidate_cells``; unknown cells are an error."""
    try:  # the layer index's own dtype (H3 ids are uint64: a float index would round them)
        wanted = pd.Index(list(candidate_cells), dtype=layers.index.dtype)
    except (TypeError, ValueError, OverflowError):
        wanted = pd.Index(list(candidate_cells), dtype=object)
    unknown = wanted.difference(layers.index)
    if len(unknown):
        raise InputError(
            f"`candidate_cells` names {len(unknown)} cell(s) not in `layers` (first: "
            f"{unknown[0]!r}); give cell ids from the layer table's index.")
    return layers.index.isin(wanted)


def _site_table(layers: pd.DataFrame, scores: ScoreTable, rows: np.ndarray,
                capture: pd.DataFrame, new_demand: np.ndarray,
                costs: np.ndarray | None) -> pd.DataFrame:
    cells = layers.index.to_numpy()[rows]
    lat, lng = frame_to_lat_lng(layers.iloc[rows], "layers")
    table = pd.DataFrame({"cell": cells, "lat": lat, "lng": lng})
    table["region"] = layers["region"].to_numpy()[rows] if "region" in layers.columns else ""
    table["score"] = scores.score.to_numpy()[rows]
    table["score_rank"] = scores.rank.to_numpy()[rows]
    table["expected_sales"] = capture["gross_captured"].to_numpy()
    table["from_competitors"] = capture["from_competitors"].to_numpy()
    table["from_own"] = capture["from_own"].to_numpy()
    table["from_unserved"] = capture["from_unserved"].to_numpy()
    table["net_gain"] = capture["net_gain"].to_numpy()
    table["cannibalisation_rate"] = capture["cannibalisation_rate"].to_numpy()
    table["new_demand_covered"] = np.asarray(new_demand, float)
    table["opening_cost"] = np.nan if costs is None else costs
    for factor in scores.contributions.columns:
        table[f"score_{factor}"] = scores.contributions[factor].to_numpy()[rows]
    table["reasons"] = [_reasons(scores, cell, row) for cell, (_, row) in
                        zip(cells, table.iterrows(), strict=True)]
    table = table.sort_values("net_gain", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(0, "site", np.arange(1, len(table) + 1))
    return table


def _reasons(scores: ScoreTable, cell: object, row: pd.Series) -> str:
    contribution = scores.contributions.loc[cell].sort_values(ascending=False)
    strengths = ", ".join(factor_label(f) for f in contribution.index[:2] if contribution[f] > 0)
    drag = [factor_label(f) for f in contribution.index[::-1][:1] if contribution[f] < 0]
    text = (f"Score {row['score']:.2f} (rank {int(row['score_rank'])}), strongest on "
            f"{strengths or 'no factor'}")
    if drag:
        text += f", held back by {drag[0]}"
    text += (f". Expected sales {row['expected_sales']:,.0f} a year: {row['from_competitors']:,.0f} "
             f"won from competitors, {row['from_unserved']:,.0f} from unserved demand, "
             f"{row['from_own']:,.0f} taken from our own stores "
             f"({100 * row['cannibalisation_rate']:.0f}% cannibalisation).")
    return text


def _market_share_model(cell_lat: np.ndarray, cell_lng: np.ndarray, demand: np.ndarray,
                        site_lat: np.ndarray, site_lng: np.ndarray, own: StorePoints,
                        comp: StorePoints | None, calibration: Calibration,
                        new_store_area_m2: float | None, options: dict[str, Any]
                        ) -> MarketShare:
    """Huff market share against the competitors; own stores are kept-open sites."""
    area = float(new_store_area_m2 or (np.median(own.attractiveness) if len(own) else 200.0))
    sizes = np.concatenate([own.attractiveness, np.full(len(site_lat) - len(own), area)])
    sites = StorePoints.from_arrays(site_lat, site_lng, sizes)
    share = share_matrix(cell_lat, cell_lng, candidates=sites, competitors=comp,
                         alpha=calibration.alpha, beta=calibration.beta,
                         cutoff_km=calibration.cutoff_km)
    # Cells reached by kept-open stores only give the same share whatever opens: leave them out.
    n_own = len(own)
    by_candidate = np.bincount(share.tocoo().row[share.tocoo().col >= n_own],
                               minlength=share.shape[0]) > 0
    return MarketShare.from_share_matrix(share, np.where(by_candidate, demand, 0.0), **options)
