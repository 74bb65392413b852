"""The store siting job: layers and stores in; new sites with their reasons out, saved and exported.

The CLI (``xingtu sites``, ``xingtu demo``) and the app's Site selection and Scenarios pages call
this module: :func:`siting_decisions` gathers the team's decisions (survey statuses from the
database, a candidate list file, exclusion areas, chosen battlefields or regions),
:func:`choose_sites` runs the library's :func:`optimizer.siting.run_site_selection` with them, :func:`sites_frame` is the exported table (point
geometry, the H3 cell as text), :func:`choose_and_commit` commits the file, and
:func:`scenario_record` / :func:`save_scenario` are what a saved scenario holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.decisions import CellIds, SitingDecisions, cell_ids
from optimizer.errors import collect_input_warnings
from optimizer.siting import DEFAULT_OPENING_COST_CNY, SiteSelectionRun, run_site_selection

from ..database import Database, json_ready
from ..export import check_table_format, render_table
from .outputs import OutputClaim, Writer, commit_outputs

SITE_COLUMNS = ["site", "region", "score", "expected_sales", "from_own", "net_gain"]
"""Columns of the chosen sites a planner reads first."""


@dataclass(frozen=True)
class ModelChoice:
    """How a front end offers one location model: its label, one line on it, its inputs."""

    label: str
    summary: str
    uses_n: bool = True
    uses_radius: bool = False
    uses_capacity: bool = False


SITING_MODELS: dict[str, ModelChoice] = {
    "mclp": ModelChoice(
        "Maximal coverage (MCLP)",
        "N new stores covering the most sales potential within the service radius.",
        uses_radius=True),
    "p_median": ModelChoice(
        "Closest to demand (p-median)",
        "N new stores bringing the sales potential as close to a store as possible "
        "(demand-weighted distance)."),
    "market_share": ModelChoice(
        "Market share vs competitors (Huff)",
        "N new stores capturing the most sales against the competitors under the Huff model."),
    "set_cover": ModelChoice(
        "Cover everyone (set cover)",
        "The fewest new stores (the cheapest, with a budget) bringing every cell with sales "
        "potential within the service radius; no N.", uses_n=False, uses_radius=True),
    "p_center": ModelChoice(
        "Nobody far (p-center)",
        "N new stores making the farthest cell with sales potential as close to a store as "
        "possible (the worst distance, not the average)."),
    "capacitated": ModelChoice(
        "Closest within capacity (capacitated p-median)",
        "N new stores bringing the sales potential close to a store, each store (own or new) "
        "serving at most its capacity; what no store can take is lost.", uses_capacity=True),
}
"""Every siting model of :data:`optimizer.siting.SitingModel` as the CLI and the app offer it."""


@dataclass(frozen=True)
class ScenarioRecord:
    """A siting run as a saved scenario: its options, its sites and its headline figures."""

    name: str
    parameters: dict[str, Any]
    sites: pd.DataFrame
    summary: dict[str, Any]


def smoothing_for(layers: pd.DataFrame, smooth_k: int) -> Any:
    """Return the neighbourhood average over ``smooth_k`` rings of cells (``None`` for 0)."""
    if smooth_k <= 0:
        return None
    from geodata.grid import disk_matrix

    cells = layers.index.to_numpy(dtype="uint64")
    return disk_matrix(cells, cells, smooth_k, decay="linear")


def layer_resolution(layers: pd.DataFrame) -> int:
    """Return the H3 resolution of the layer table's cells."""
    from geodata.grid import cells_resolution

    if not len(layers):
        raise ValueError("The layer table has no cells.")
    return int(cells_resolution(layers.index[:1].to_numpy(dtype="uint64"))[0])


def siting_decisions(layers: pd.DataFrame, *, statuses: pd.DataFrame | None = None,
                     candidates: pd.DataFrame | None = None,
                     candidates_path: Path | None = None,
                     exclude_path: Path | None = None, excluded: CellIds = (),
                     regions: Sequence[str] | None = None,
                     within: CellIds | None = None) -> SitingDecisions:
    """Gather the team's decisions for a run on ``layers``.

    Parameters
    ----------
    layers
        The layer table the run uses (its cells and H3 resolution).
    statuses
        The survey table of :meth:`xingtu.database.Database.survey_statuses` (rejected cells are
        never chosen, approved ones kept open).
    candidates, candidates_path
        A candidate-site table (points or a ``cell`` column), or the file holding one
        (:func:`geodata.areas.read_candidate_sites`): the run chooses only from these cells.
    exclude_path, excluded
        A file of exclusion polygons (:func:`geodata.areas.read_exclusion_areas`), and cells to
        exclude besides.
    regions, within
        Restrict the run to cells of these regions, or to these cells (e.g. the cells of the
        chosen battlefields, :meth:`optimizer.scoring.BattlefieldRanking.cells`).

    Returns
    -------
    SitingDecisions
    """
    from geodata.areas import (
        candidate_sites_to_cells,
        polygons_to_cell_ids,
        read_candidate_sites,
        read_exclusion_areas,
    )

    resolution = layer_resolution(layers)
    if candidates is None and candidates_path is not None:
        candidates = read_candidate_sites(candidates_path)
    candidate_cells = (None if candidates is None
                       else candidate_sites_to_cells(candidates, resolution))
    excluded_cells = cell_ids(excluded, "excluded").tolist()
    if exclude_path is not None:
        areas = read_exclusion_areas(exclude_path)
        excluded_cells += polygons_to_cell_ids(areas, resolution,
                                               cells=layers.index.to_numpy(dtype="uint64")
                                               ).tolist()
    return SitingDecisions.from_survey(
        statuses, candidates=candidate_cells,
        excluded=np.asarray(excluded_cells, dtype=np.uint64),
        regions=list(regions) if regions else None, within=within)


def choose_sites(layers: pd.DataFrame, stores: pd.DataFrame, competitors: pd.DataFrame | None,
                 *, n_new: int | None, smooth_k: int = 0,
                 decisions: SitingDecisions | None = None, **options: Any) -> SiteSelectionRun:
    """Run the site selection (see :func:`optimizer.siting.run_site_selection` for ``options``).

    ``n_new=0`` with a ``budget`` opens as many sites as the budget allows. ``decisions`` (see
    :func:`siting_decisions`) are the survey statuses, candidate list, exclusions and
    restriction the run obeys. The run's input warnings are in its ``warnings``.
    """
    if n_new == 0 and options.get("budget") is not None:
        n_new = None
    with collect_input_warnings() as seen:
        run = run_site_selection(layers, stores, competitors, n_new=n_new,
                                 smoothing=smoothing_for(layers, smooth_k), decisions=decisions,
                                 **options)
    return replace(run, warnings=tuple(seen))


def sites_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Return a site table as a point GeoDataFrame (EPSG:4326) with the H3 cell as hex text."""
    import geopandas as gpd

    from geodata.grid import cells_to_str

    frame = table.copy()
    if "cell" in frame.columns and len(frame):
        frame.insert(frame.columns.get_loc("cell") + 1, "cell_id",
                     cells_to_str(frame["cell"].to_numpy(dtype="uint64")))
    if "cell" in frame.columns:
        frame["cell"] = frame["cell"].astype("uint64").astype(str)
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lng"], frame["lat"]),
                            crs="EPSG:4326")


def site_writer(table: pd.DataFrame, out: Path) -> Writer:
    """Return how to write a site table at ``out`` (by extension; no geometry in CSV/Excel)."""
    frame = sites_frame(table)
    if out.suffix.lower() in (".csv", ".xlsx"):
        frame = pd.DataFrame(frame.drop(columns="geometry"))
    check_table_format(frame, out)
    return lambda tmp: render_table(frame, tmp, out.suffix)


def commit_sites(claim: OutputClaim, table: pd.DataFrame, out: Path) -> Path:
    """Write a site table at ``out`` through the output transaction; return ``out``.

    ``out`` is claimed by :func:`~xingtu.jobs.outputs.claim_outputs` before the run.
    """
    commit_outputs(claim, {out: site_writer(table, out)})
    return out


def scenario_record(name: str, run: SiteSelectionRun,
                    parameters: Mapping[str, Any] | None = None) -> ScenarioRecord:
    """Return what a saved scenario holds for ``run`` (the one definition of its figures)."""
    sites = run.sites
    opening = np.nan_to_num(sites["opening_cost"].astype(float)).sum() if len(sites) else 0.0
    summary = {"n_sites": int(len(sites)), "coverage_before": run.coverage_before,
               "coverage_after": run.coverage_after,
               "expected_sales": float(sites["expected_sales"].sum()),
               "net_gain": float(sites["net_gain"].sum()),
               "from_own": float(sites["from_own"].sum()),
               "opening_cost": float(opening or len(sites) * DEFAULT_OPENING_COST_CNY),
               "status": run.report.status, "gap": run.report.gap}
    params = dict(parameters) if parameters is not None else dict(run.parameters)
    return ScenarioRecord(name=name, parameters=json_ready(params), sites=sites,
                          summary=json_ready(summary))


def save_scenario(database: Database, record: ScenarioRecord) -> int:
    """Save a scenario record; returns the saved version's id."""
    return database.save_scenario(record.name, record.parameters, record.sites, record.summary)


def site_lines(run: SiteSelectionRun) -> str:
    """Return the text a planner reads after a run: the solve, the summary, the sites."""
    lines = [run.report.summary(), run.summary()]
    if run.decisions is not None:
        lines.append(run.decisions.summary())
    if len(run.sites):
        columns = [*SITE_COLUMNS, *(["survey_status"] if "survey_status" in run.sites else [])]
        lines.append(run.sites[columns].to_string(index=False,
                                                       float_format=lambda v: f"{v:,.2f}"))
    return "\n".join(lines)
