"""Checks of a location run's options against the region: spacing, radius and budget.

The location models prove a request infeasible in their own terms ("the solver proved that no
choice of sites meets every requirement"); these checks say, before the solve where they can,
which option is impossible or useless for this region and what would work instead:

* :func:`spacing_fit`: how many new sites fit at a minimum spacing. A greedy packing (best
  score first) gives a choice that keeps the spacing; the area the candidates span bounds how
  many can (disks of half the spacing around sites that far apart do not overlap). A
  :class:`SpacingRequest` refuses a request above that bound before any pair of candidates is
  listed (:meth:`SpacingRequest.check`) and explains a solver's proof of infeasibility after
  the solve (:meth:`SpacingRequest.error`); :func:`spacing_message` names the spacing, the
  number asked for, the number that fits and the largest spacing at which that number fits;
* :func:`warn_radius_covers_region`: a service radius so large that one site reaches every
  demand cell (coverage cannot tell sites apart);
* :func:`warn_radius_below_cell_spacing`: a radius smaller than the distance between
  neighbouring demand cells (each site reaches only its own cell), with the count it leads to;
* :func:`warn_budget_below_cheapest`: a budget that cannot pay for even the cheapest site.

Warnings go through :func:`optimizer.errors.warn_input`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .errors import InfeasibleError, InputError, warn_input
from .geometry import EARTH_RADIUS_KM, haversine_km, km_to_chord, unit_vectors
from .location._inputs import format_amount

KM_PER_DEGREE = np.pi * EARTH_RADIUS_KM / 180.0

MAX_SPACING_PAIRS = 2_000_000
"""Most pairs of sites closer than the minimum spacing a run builds (one model row each)."""


def spacing_pair_count(lat: np.ndarray, lng: np.ndarray, spacing_km: float) -> int:
    """Return how many pairs of points lie within ``spacing_km``, without listing them.

    Examples
    --------
    >>> spacing_pair_count(np.zeros(3), np.array([0.0, 0.01, 0.05]), 2.0)  # 1.1 km, 4.4 km, ...
    1
    """
    tree = cKDTree(unit_vectors(np.asarray(lat, float), np.asarray(lng, float)))
    return (int(tree.count_neighbors(tree, km_to_chord(float(spacing_km)))) - len(lat)) // 2


@dataclass(frozen=True)
class SpacingFit:
    """How many new sites fit at a minimum spacing among the candidates.

    Attributes
    ----------
    spacing_km
        The minimum spacing asked for.
    asked
        New sites asked for.
    found
        New sites of a choice found that keeps the spacing (from each other and from the sites
        kept open): at least this many fit.
    most
        No more than this many fit: the area bound (``found <= most``).
    width_km, height_km
        The extent of the candidates and the sites kept open.
    """

    spacing_km: float
    asked: int
    found: int
    most: int
    width_km: float
    height_km: float

    @property
    def proven_impossible(self) -> bool:
        """Whether the area alone shows that ``asked`` new sites cannot keep the spacing."""
        return self.asked > self.most


def greedy_packing(lat: np.ndarray, lng: np.ndarray, order: np.ndarray, spacing_km: float,
                   *, kept_lat: np.ndarray, kept_lng: np.ndarray, limit: int) -> int:
    """Return how many points a greedy pass in ``order`` keeps ``spacing_km`` apart.

    A point is taken when it is at least ``spacing_km`` from every point taken before it and
    from every kept point (``kept_lat``/``kept_lng``: sites already open, which need not be
    apart from each other). The pass stops at ``limit`` points.

    Examples
    --------
    >>> lat, lng = np.array([0.0, 0.0, 0.0]), np.array([0.0, 0.05, 0.2])  # 0, 5.6, 22 km east
    >>> none = np.zeros(0)
    >>> greedy_packing(lat, lng, np.arange(3), 10.0, kept_lat=none, kept_lng=none, limit=3)
    2
    """
    taken_lat = list(np.asarray(kept_lat, float))
    taken_lng = list(np.asarray(kept_lng, float))
    n_kept = len(taken_lat)
    for i in order:
        if len(taken_lat) - n_kept >= limit:
            break
        if not taken_lat or haversine_km(lat[i], lng[i], np.asarray(taken_lat),
                                         np.asarray(taken_lng)).min() >= spacing_km:
            taken_lat.append(float(lat[i]))
            taken_lng.append(float(lng[i]))
    return len(taken_lat) - n_kept


def spacing_fit(lat: np.ndarray, lng: np.ndarray, order: np.ndarray, spacing_km: float,
                asked: int, *, kept_lat: np.ndarray, kept_lng: np.ndarray) -> SpacingFit:
    """Return how many new sites fit ``spacing_km`` apart among candidates at ``lat``/``lng``.

    Parameters
    ----------
    lat, lng
        Candidate sites, degrees.
    order
        Candidate positions, the preferred first (best score).
    spacing_km
        Minimum distance between two new sites, and between a new site and a kept one.
    asked
        New sites asked for.
    kept_lat, kept_lng
        Sites kept open (own stores): new sites keep the spacing from them.

    Returns
    -------
    SpacingFit

    Examples
    --------
    >>> lat, lng = np.zeros(5), np.linspace(0.0, 0.04, 5)  # five candidates over 4.4 km
    >>> fit = spacing_fit(lat, lng, np.arange(5), 3.0, 4, kept_lat=np.zeros(0),
    ...                   kept_lng=np.zeros(0))
    >>> fit.found, fit.most, fit.proven_impossible
    (2, 3, True)
    """
    found = greedy_packing(lat, lng, order, spacing_km, kept_lat=kept_lat, kept_lng=kept_lng,
                           limit=asked)
    # Kept sites that are spacing apart from each other also hold a disk of their own.
    kept_order = np.arange(len(kept_lat))
    none = np.zeros(0)
    apart = greedy_packing(np.asarray(kept_lat, float), np.asarray(kept_lng, float), kept_order,
                           spacing_km, kept_lat=none, kept_lng=none, limit=len(kept_lat))
    all_lat = np.concatenate([np.asarray(lat, float), np.asarray(kept_lat, float)])
    all_lng = np.concatenate([np.asarray(lng, float), np.asarray(kept_lng, float)])
    height = float(np.ptp(all_lat)) * KM_PER_DEGREE
    widest = float(np.cos(np.radians(np.min(np.abs(all_lat)))))  # widest parallel: an upper bound
    width = float(np.ptp(all_lng)) * KM_PER_DEGREE * widest
    # Disks of radius spacing/2 around points spacing apart do not overlap and lie within the
    # extent grown by spacing/2 on every side.
    room = (width + spacing_km) * (height + spacing_km) / (np.pi * spacing_km ** 2 / 4)
    most = max(int(np.floor(room + 1e-9)) - apart, found)
    return SpacingFit(spacing_km=float(spacing_km), asked=int(asked), found=found,
                      most=min(most, len(lat)), width_km=width, height_km=height)


def largest_spacing_fitting(lat: np.ndarray, lng: np.ndarray, order: np.ndarray, asked: int,
                            below_km: float, *, kept_lat: np.ndarray, kept_lng: np.ndarray,
                            steps: int = 14) -> float:
    """Return a spacing (under ``below_km``) at which a greedy choice of ``asked`` sites exists.

    Bisection on the spacing with :func:`greedy_packing`; 0 when even a tiny spacing does not
    leave room for ``asked`` new sites.
    """
    low, high = 0.0, float(below_km)
    for _ in range(steps):
        middle = (low + high) / 2
        if greedy_packing(lat, lng, order, middle, kept_lat=kept_lat, kept_lng=kept_lng,
                          limit=asked) >= asked:
            low = middle
        else:
            high = middle
    return low


def spacing_message(fit: SpacingFit, *, candidates: int, kept: int, fitting_spacing_km: float,
                    proven_by: str) -> str:
    """Return the planner's sentence for ``fit.asked`` new sites that cannot keep the spacing.

    Examples
    --------
    >>> fit = SpacingFit(8.0, 10, 3, 7, 13.2, 15.4)
    >>> print(spacing_message(fit, candidates=309, kept=8, fitting_spacing_km=3.24,
    ...                       proven_by="area"))  # doctest: +NORMALIZE_WHITESPACE
    `min_spacing_km` = 8 km: 10 new sites cannot be placed 8 km apart (and 8 km from the 8
    sites kept open) among the 309 candidates: they span 13 x 15 km, room for at most 7 sites
    that far apart, and the best choice found fits 3. Ask for at most 3 new sites, or lower the
    minimum spacing to 3.2 km, at which 10 new sites fit.
    """
    kept_words = f" (and {fit.spacing_km:g} km from the {kept} sites kept open)" if kept else ""
    if proven_by == "area":
        why = (f"they span {fit.width_km:,.0f} x {fit.height_km:,.0f} km, room for at most "
               f"{fit.most} sites that far apart, and the best choice found fits {fit.found}")
    else:
        why = f"the solver proved it; the best choice found fits {fit.found}"
    lower = (f"lower the minimum spacing to {np.floor(fitting_spacing_km * 10) / 10:g} km, at "
             f"which {fit.asked} new sites fit" if fitting_spacing_km > 0
             else "offer more candidates")
    ask = f"Ask for at most {fit.found} new sites, or " if fit.found else "Ask for fewer sites, or "
    return (f"`min_spacing_km` = {fit.spacing_km:g} km: {fit.asked} new sites cannot be placed "
            f"{fit.spacing_km:g} km apart{kept_words} among the {candidates:,} candidates: "
            f"{why}. {ask}{lower}.")


@dataclass(frozen=True)
class SpacingRequest:
    """New sites asked for at a minimum spacing, among candidates, beside sites kept open.

    Attributes
    ----------
    lat, lng
        Candidate sites that may open, degrees.
    order
        Candidate positions, the preferred first (best score).
    spacing_km
        Minimum distance between two new sites, and between a new site and a kept one.
    asked
        New sites asked for (besides the kept ones); ``None`` when a budget decides.
    kept_lat, kept_lng
        Sites kept open (own stores, approved sites).
    model_name
        The location model's name, for the message.
    """

    lat: np.ndarray
    lng: np.ndarray
    order: np.ndarray
    spacing_km: float
    asked: int | None
    kept_lat: np.ndarray
    kept_lng: np.ndarray
    model_name: str

    def check(self) -> SpacingFit | None:
        """Return how many fit; raise when the area alone shows ``asked`` cannot.

        Returns ``None`` without ``asked`` (a budget decides how many).

        Raises
        ------
        InputError
            When the candidates closer than the spacing make more pairs than a model holds
            (:data:`MAX_SPACING_PAIRS`): before they are listed.
        InfeasibleError
            Naming the spacing, the number asked for, how many fit and the spacing that would
            do (:func:`spacing_message`).
        """
        pairs = spacing_pair_count(np.concatenate([self.lat, self.kept_lat]),
                                   np.concatenate([self.lng, self.kept_lng]), self.spacing_km)
        if pairs > MAX_SPACING_PAIRS:
            raise InputError(
                f"`min_spacing_km` = {self.spacing_km:g} km: {len(self.lat):,} candidates make "
                f"about {pairs:,} pairs of sites closer than that, each a condition of the model "
                f"(at most {MAX_SPACING_PAIRS:,}). Offer fewer candidates (`max_candidates`, "
                "e.g. 2000, or a candidate list), or lower the spacing.")
        if self.asked is None:
            return None
        fit = spacing_fit(self.lat, self.lng, self.order, self.spacing_km, self.asked,
                          kept_lat=self.kept_lat, kept_lng=self.kept_lng)
        if fit.proven_impossible:
            raise self.error(fit, proven_by="area")
        return fit

    def error(self, fit: SpacingFit, *, proven_by: str = "solver") -> InfeasibleError:
        """Return the error for ``fit`` (``proven_by`` ``"area"`` or ``"solver"``)."""
        fitting = largest_spacing_fitting(self.lat, self.lng, self.order, fit.asked,
                                          self.spacing_km, kept_lat=self.kept_lat,
                                          kept_lng=self.kept_lng)
        reason = spacing_message(fit, candidates=len(self.lat), kept=len(self.kept_lat),
                                 fitting_spacing_km=fitting, proven_by=proven_by)
        return InfeasibleError(f"{self.model_name} has no feasible plan: {reason}", [reason])


def warn_radius_covers_region(cell_lat: np.ndarray, cell_lng: np.ndarray, demand: np.ndarray,
                              site_lat: np.ndarray, site_lng: np.ndarray, radius_km: float,
                              *, what: str) -> bool:
    """Warn when one site within ``radius_km`` reaches every cell with demand; return whether.

    The site tried is the candidate nearest the middle of the demand cells.

    Examples
    --------
    >>> lat, lng = np.array([22.5, 22.6]), np.array([114.0, 114.1])
    >>> warn_radius_covers_region(lat, lng, np.ones(2), lat, lng, 1.0, what="store")
    False
    """
    needed = np.asarray(demand, float) > 0
    if not needed.any() or len(site_lat) == 0:
        return False
    lat, lng = cell_lat[needed], cell_lng[needed]
    middle_lat, middle_lng = float(np.median(lat)), float(np.median(lng))
    central = int(np.argmin(haversine_km(middle_lat, middle_lng, site_lat, site_lng)))
    farthest = float(haversine_km(site_lat[central], site_lng[central], lat, lng).max())
    if farthest > radius_km or farthest == 0:  # demand in one cell: any radius reaches it
        return False
    warn_input(f"`radius_km` = {radius_km:g} km: one {what} reaches every cell with demand (the "
               f"farthest is {farthest:,.1f} km from the central candidate), so coverage cannot "
               f"tell one site from another and any choice covers everything. Use a radius near "
               f"a {what}'s real catchment, a few km.")
    return True


def neighbour_distance_km(lat: np.ndarray, lng: np.ndarray) -> float:
    """Return the median distance from a point to its nearest other point, km (0 for one point).

    Examples
    --------
    >>> round(neighbour_distance_km(np.zeros(3), np.array([0.0, 0.01, 0.02])), 2)
    1.11
    """
    if len(lat) < 2:
        return 0.0
    tree = cKDTree(unit_vectors(lat, lng))
    chord, _ = tree.query(unit_vectors(lat, lng), k=2)
    return float(np.median(2 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord[:, 1] / 2, 0, 1))))


def warn_radius_below_cell_spacing(cell_lat: np.ndarray, cell_lng: np.ndarray,
                                   required: np.ndarray, radius_km: float, chosen: int, *,
                                   what: str) -> bool:
    """Warn when ``radius_km`` is below the distance between neighbouring demand cells.

    Each new site then reaches only its own cell, so covering every cell needs about one site
    per cell: ``chosen`` is the count the run came to. Returns whether it warned.

    Examples
    --------
    >>> lat, lng = np.zeros(3), np.array([0.0, 0.01, 0.02])
    >>> warn_radius_below_cell_spacing(lat, lng, np.ones(3, bool), 5.0, 1, what="shop")
    False
    """
    mask = np.asarray(required, bool)
    spacing = neighbour_distance_km(cell_lat[mask], cell_lng[mask])
    if not spacing or radius_km >= spacing:
        return False
    warn_input(f"`radius_km` = {radius_km:g} km is below the {spacing:,.2f} km between "
               f"neighbouring cells: each new {what} reaches only its own cell, so reaching "
               f"every one of the {int(mask.sum()):,} cells that need a {what} takes {chosen:,} "
               f"new {what}s. Use a radius of a few km (a {what}'s real reach).")
    return True


def warn_budget_below_cheapest(costs: np.ndarray, budget: float, *, what: str) -> bool:
    """Warn when ``budget`` pays for no new site (below the cheapest); return whether.

    Examples
    --------
    >>> warn_budget_below_cheapest(np.array([1.5e6, 2e6]), 3e6, what="store")
    False
    """
    costs = np.asarray(costs, float)
    if not len(costs) or float(costs.min()) <= budget:
        return False
    warn_input(f"`budget` = {format_amount(budget)} CNY is below the cheapest new {what} "
               f"({format_amount(float(costs.min()))} CNY): no {what} can open. Raise the budget "
               f"to at least {format_amount(float(costs.min()))} CNY, or lower the opening cost.")
    return True
