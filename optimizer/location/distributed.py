"""Plans on Dask: solve the independent parts of a decomposed plan in parallel, then combine them.

A national plan splits into parts that share nothing: site selection by region (each region gets
its own number of new sites and serves its own demand), stock allocation by SKU when nothing
couples the SKUs. :func:`run_parts` sends the parts to a Dask cluster (or solves them one by one
without one), :func:`combine_reports` adds their objectives and bounds into one honest
:class:`~optimizer.results.SolveReport`, and :func:`sites_by_region` does both for the location
models of :mod:`optimizer.location`.

The optimizer stays pure: it never imports Dask. This module only orchestrates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..results import SolveReport, SolveStatus, relative_gap
from . import MCLP, LocationResult, PMedian

if TYPE_CHECKING:
    from distributed import Client

PartT = TypeVar("PartT")
ResultT = TypeVar("ResultT")

SiteModel = Literal["p_median", "mclp"]
"""Location model solved in each region: p-median (total distance) or maximal covering (MCLP)."""

_STATUS_ORDER: tuple[SolveStatus, ...] = (
    "error", "infeasible", "unbounded", "not_solved", "feasible", "optimal")
"""Worst first: the combined status is the worst status of any part."""


def run_parts(parts: Sequence[PartT], solve_part: Callable[[PartT], ResultT], *,
              client: Client | None) -> list[ResultT]:
    """Solve independent parts of a plan in parallel on a Dask cluster.

    Parameters
    ----------
    parts
        The parts, each a picklable object (arrays, frames, dataclasses).
    solve_part
        Function solving one part; it must be importable by the workers (a module-level function
        or a :func:`functools.partial` of one), not a lambda defined in a notebook cell.
    client
        A :class:`distributed.Client` (see :func:`geodata.distributed.dask_client`); ``None``
        solves the parts one after the other in this process.

    Returns
    -------
    list
        One result per part, in the order of ``parts``.

    Raises
    ------
    Exception
        The first part that fails re-raises its own error, with a note saying which part it was.

    Examples
    --------
    >>> run_parts([1, 2, 3], abs, client=None)
    [1, 2, 3]
    """
    parts = list(parts)
    if client is None:
        return [_solve_noting_part(solve_part, part, number, len(parts))
                for number, part in enumerate(parts, start=1)]
    futures = client.map(solve_part, parts, pure=False)
    try:
        results = []
        for number, future in enumerate(futures, start=1):
            try:
                results.append(future.result())
            except Exception as error:
                error.add_note(f"while solving part {number} of {len(parts)} on the Dask cluster")
                raise
        return results
    finally:
        client.cancel(futures)


def _solve_noting_part(solve_part: Callable[[PartT], ResultT], part: PartT, number: int,
                       total: int) -> ResultT:
    try:
        return solve_part(part)
    except Exception as error:
        error.add_note(f"while solving part {number} of {total}")
        raise


def combine_reports(reports: Sequence[SolveReport], *, message: str = "") -> SolveReport:
    """One report for a plan solved in independent parts.

    The objective and the bound are the sums over the parts and the gap is recomputed from those
    sums, so it is the gap of the whole plan, not an average of part gaps. The status is the worst
    of the parts: ``"optimal"`` only when every part is proven optimal, and no objective is given
    when a part has no solution.

    Parameters
    ----------
    reports
        The parts' reports (at least one).
    message
        What the parts are and what the bound means, added in front of the summary.

    Returns
    -------
    SolveReport
        Combined status, objective, bound, gap; ``solve_seconds`` is the sum of the parts' solver
        times (the wall-clock time is shorter when the parts ran in parallel).

    Examples
    --------
    >>> parts = [SolveReport("optimal", 10.0, 10.0, 0.0, 1.0, "highs"),
    ...          SolveReport("feasible", 12.0, 9.0, 0.25, 2.0, "highs")]
    >>> report = combine_reports(parts)
    >>> report.status, report.objective, report.bound, round(report.gap, 4)
    ('feasible', 22.0, 19.0, 0.1364)
    """
    reports = list(reports)
    if not reports:
        raise InputError("`reports` is empty; give the report of at least one part.")
    status = min((r.status for r in reports), key=_STATUS_ORDER.index)
    objectives = [r.objective for r in reports]
    bounds = [r.bound for r in reports]
    objective = None if any(v is None for v in objectives) else float(sum(objectives))
    bound = None if any(v is None for v in bounds) else float(sum(bounds))
    if status not in ("optimal", "feasible"):
        objective = None
    gap = relative_gap(objective, bound)
    part_gaps = [r.gap for r in reports if r.gap is not None]
    counts = {s: sum(r.status == s for r in reports) for s in _STATUS_ORDER}
    summary = (f"{len(reports)} parts solved separately ("
               + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
               + f"); slowest part {max(r.solve_seconds for r in reports):.2f} s"
               + (f"; largest part gap {max(part_gaps):.3%}" if part_gaps else "")
               + ". Objective and bound add up the parts; the gap is that of the sums.")
    solvers = ",".join(sorted({r.solver for r in reports}))
    return SolveReport(status=status, objective=objective, bound=bound, gap=gap,
                       solve_seconds=float(sum(r.solve_seconds for r in reports)),
                       solver=solvers, message=f"{message} {summary}".strip())


# --------------------------------------------------------------------------------------------------
# Site selection by region


@dataclass(frozen=True)
class RegionPart:
    """One region's share of a national site-selection problem.

    Attributes
    ----------
    region
        Region name.
    clients
        Indices of the region's demand points in the national arrays.
    candidates
        Indices of the region's candidate sites in the national arrays.
    cost
        Distances from ``clients`` to ``candidates`` (dense, or sparse with missing = out of reach).
    weights
        Demand of each client of the region.
    sites
        Number of sites to open in the region (``p``).
    """

    region: Hashable
    clients: np.ndarray
    candidates: np.ndarray
    cost: np.ndarray | sp.csr_array
    weights: np.ndarray
    sites: int


@dataclass(frozen=True)
class RegionSites:
    """The sites chosen in one region, in national indices, and the region's model result."""

    region: Hashable
    sites: np.ndarray
    assigned_site: np.ndarray
    result: LocationResult


@dataclass(frozen=True)
class RegionalSiteSelection:
    """A national site selection solved region by region.

    Attributes
    ----------
    sites
        National indices of the open candidate sites, sorted.
    assigned_site
        For each national demand point, the national index of its site (``-1`` when unassigned).
    regions
        Each region's result, in the order the regions were given.
    report
        The combined report (:func:`combine_reports`). Its bound is a bound for this split of the
        sites between regions, not for a single national model that could move sites across
        region borders.
    wall_seconds
        Wall-clock time of the whole run (parts in parallel).
    """

    sites: np.ndarray
    assigned_site: np.ndarray
    regions: list[RegionSites]
    report: SolveReport
    wall_seconds: float


def region_parts(cost: Any, weights: Any, *, client_region: Any, candidate_region: Any,
                 sites_per_region: Mapping[Hashable, int]) -> list[RegionPart]:
    """Split a national problem into one part per region.

    Parameters
    ----------
    cost
        National clients x candidates distances (dense array or scipy sparse matrix).
    weights
        Demand of each client.
    client_region, candidate_region
        Region of each client and of each candidate site.
    sites_per_region
        Region -> number of sites to open there. Every region holding demand must be listed.

    Returns
    -------
    list of RegionPart
        In the order of ``sites_per_region``.

    Examples
    --------
    >>> cost = np.array([[0.0, 5.0], [5.0, 0.0]])
    >>> parts = region_parts(cost, [1, 1], client_region=["a", "b"], candidate_region=["a", "b"],
    ...                      sites_per_region={"a": 1, "b": 1})
    >>> [(p.region, p.clients.tolist(), p.candidates.tolist()) for p in parts]
    [('a', [0], [0]), ('b', [1], [1])]
    """
    matrix = sp.csr_array(cost) if sp.issparse(cost) else np.asarray(cost, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    client_region = np.asarray(client_region, dtype=object)
    candidate_region = np.asarray(candidate_region, dtype=object)
    n_clients, n_candidates = matrix.shape
    problems = []
    if weights.shape != (n_clients,):
        problems.append(f"`weights` has {weights.size} values for {n_clients} clients")
    if client_region.shape != (n_clients,):
        problems.append(f"`client_region` has {client_region.size} values for {n_clients} clients")
    if candidate_region.shape != (n_candidates,):
        problems.append(f"`candidate_region` has {candidate_region.size} values for "
                        f"{n_candidates} candidate sites")
    if problems:
        raise InputError("; ".join(problems) + ". Give one value per row / column of `cost`.")
    unlisted = sorted(set(client_region[weights > 0]) - set(sites_per_region), key=str)
    if unlisted:
        raise InputError(f"`sites_per_region` has no number of sites for the region(s) {unlisted} "
                         f"that hold demand; add them (0 is not allowed where there is demand).")
    parts = []
    for region, sites in sites_per_region.items():
        clients = np.flatnonzero(client_region == region)
        candidates = np.flatnonzero(candidate_region == region)
        if clients.size and not candidates.size:
            raise InputError(f"region {region!r} has {clients.size} demand points but no candidate "
                             f"site; add candidates there or merge it with a neighbouring region.")
        if not clients.size:
            continue
        block = matrix[clients][:, candidates] if sp.issparse(matrix) else \
            matrix[np.ix_(clients, candidates)]
        parts.append(RegionPart(region, clients, candidates, block, weights[clients], int(sites)))
    return parts


def solve_region_part(part: RegionPart, *, model: SiteModel = "p_median",
                      radius: float | None = None, solver: str | None = None,
                      time_limit: float | None = None, gap: float | None = None) -> RegionSites:
    """Solve one region with :class:`~optimizer.location.PMedian` or :class:`~optimizer.location.MCLP`.

    Examples
    --------
    >>> part = RegionPart("a", np.array([0, 1]), np.array([3, 4]),
    ...                   np.array([[0.0, 2.0], [2.0, 0.0]]), np.array([1.0, 3.0]), 1)
    >>> solve_region_part(part).sites.tolist()
    [4]
    """
    if model == "p_median":
        location = PMedian.from_cost_matrix(part.cost, part.weights, p=part.sites)
    elif model == "mclp":
        if radius is None:
            raise InputError("`radius` is required for model='mclp': the distance within which "
                             "a site covers demand, in the units of `cost`.")
        location = MCLP.from_cost_matrix(part.cost, part.weights, radius=radius, p=part.sites)
    else:
        raise InputError(f"`model` must be 'p_median' or 'mclp', got {model!r}.")
    result = location.solve(solver=solver, time_limit=time_limit, gap=gap)
    local = result.assignment
    assigned = np.where(local >= 0, part.candidates[np.maximum(local, 0)], -1)
    return RegionSites(part.region, np.sort(part.candidates[result.sites]), assigned, result)


def sites_by_region(cost: Any, weights: Any, *, client_region: Any, candidate_region: Any,
                    sites_per_region: Mapping[Hashable, int], model: SiteModel = "p_median",
                    radius: float | None = None, client: Client | None = None,
                    solver: str | None = None, time_limit: float | None = None,
                    gap: float | None = None) -> RegionalSiteSelection:
    """National site selection solved region by region, the regions in parallel on Dask.

    Each region opens its own number of sites and serves only its own demand; the regions are
    solved as independent models (:func:`solve_region_part`) and combined
    (:func:`combine_reports`).

    Parameters
    ----------
    cost, weights, client_region, candidate_region, sites_per_region
        As in :func:`region_parts`.
    model, radius
        ``"p_median"`` (minimise demand-weighted distance) or ``"mclp"`` (maximise demand
        within ``radius``).
    client
        A :class:`distributed.Client`; ``None`` solves the regions one by one here.
    solver, time_limit, gap
        Passed to each region's ``solve`` (the time limit applies per region).

    Returns
    -------
    RegionalSiteSelection
        National site indices, assignment, per-region results and the combined report.

    Examples
    --------
    >>> cost = np.array([[0.0, 9.0, 9.0], [1.0, 9.0, 9.0], [9.0, 9.0, 0.0]])
    >>> plan = sites_by_region(cost, [1, 1, 1], client_region=["n", "n", "s"],
    ...                        candidate_region=["n", "n", "s"], sites_per_region={"n": 1, "s": 1})
    >>> plan.sites.tolist(), plan.report.objective, plan.report.status
    ([0, 2], 1.0, 'optimal')
    """
    started = time.perf_counter()
    parts = region_parts(cost, weights, client_region=client_region,
                         candidate_region=candidate_region, sites_per_region=sites_per_region)
    solve = partial(solve_region_part, model=model, radius=radius, solver=solver,
                    time_limit=time_limit, gap=gap)
    regions = run_parts(parts, solve, client=client)
    n_clients = len(np.asarray(weights))
    assigned_site = np.full(n_clients, -1, dtype=np.int64)
    for part, region in zip(parts, regions, strict=True):
        assigned_site[part.clients] = region.assigned_site
    sites = np.sort(np.concatenate([r.sites for r in regions])) if regions else np.empty(0, int)
    report = combine_reports(
        [r.result.report for r in regions],
        message=(f"{model} solved in {len(regions)} regions, each with its own number of sites "
                 f"and serving only its own demand; the bound holds for this split, not for one "
                 f"national model that could move sites across region borders."),
    )
    return RegionalSiteSelection(sites, assigned_site, list(regions), report,
                                 time.perf_counter() - started)
