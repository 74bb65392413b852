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


# --------------------------------------------------------------------------------------------
# The result a page shows: a fresh run, the last run kept in the database, or a scenario
# --------------------------------------------------------------------------------------------

SITE_SELECTION_PAGE = "site_selection"
"""Key of the Site selection page's last run in the database (:meth:`Database.load_last_run`)."""

SETTING_LABELS: dict[str, str] = {
    "model": "model", "n_new": "new stores (N)", "radius_km": "service radius (km)",
    "weights": "layers and weights", "budget": "budget (CNY)", "capacity": "capacity (CNY)",
    "min_spacing_km": "minimum spacing (km)", "where": "site only in",
    "candidate_list": "candidate list",
}
"""The settings of a siting run in a planner's words, in the order they are compared."""


@dataclass(frozen=True)
class ShownRun:
    """A siting result as a page shows it again: its settings, its sites and its figures.

    Attributes
    ----------
    parameters
        The settings it was made with (keys of :data:`SETTING_LABELS`).
    sites
        The chosen sites (:attr:`optimizer.siting.SiteSelectionRun.sites`).
    summary
        Headline figures (:func:`scenario_record`) with ``notes`` (the solve and decision
        lines), ``warnings`` and ``worst_distance_km`` (p-center) when there are.
    fingerprint
        The data it was made on (:func:`data_fingerprint`).
    created_at
        When it was made (ISO 8601, UTC).
    source
        Where it comes from: ``"run"``, ``"last run"`` or ``"scenario <name>"``.
    """

    parameters: dict[str, Any]
    sites: pd.DataFrame
    summary: dict[str, Any]
    fingerprint: str
    created_at: str = ""
    source: str = "run"


def data_fingerprint(data_key: str) -> str:
    """Return a short hash of the data in use (the app's data key of demo and uploads).

    Examples
    --------
    >>> data_fingerprint("demo|") == data_fingerprint("demo|")
    True
    >>> data_fingerprint("demo|") == data_fingerprint("demo|stores:3:abc")
    False
    """
    import hashlib

    return hashlib.sha1(data_key.encode()).hexdigest()[:16]


def shown_run(run: SiteSelectionRun, parameters: Mapping[str, Any], fingerprint: str
              ) -> ShownRun:
    """Return a finished run as a page shows and keeps it."""
    from datetime import UTC, datetime

    record = scenario_record("run", run, parameters)
    notes = [run.report.summary()]
    if run.decisions is not None:
        notes.append(f"Decisions: {run.decisions.summary()}")
    summary = {**record.summary, "model": run.model, "notes": notes,
               "warnings": list(run.warnings),
               "optimal": bool(run.report.is_optimal)}
    for key in ("worst_distance_km", "uncoverable_cells", "capacity"):
        if run.parameters.get(key) is not None:
            summary[key] = run.parameters[key]
    return ShownRun(parameters=record.parameters, sites=run.sites, summary=json_ready(summary),
                    fingerprint=fingerprint,
                    created_at=datetime.now(UTC).isoformat(timespec="seconds"))


def save_last_run(database: Database, shown: ShownRun, page: str = SITE_SELECTION_PAGE) -> None:
    """Keep ``shown`` as the page's last run, to show it again in a new browser session."""
    database.save_last_run(page, shown.fingerprint, shown.parameters, shown.sites,
                           {**shown.summary, "created_at": shown.created_at})


def load_last_run(database: Database, page: str = SITE_SELECTION_PAGE) -> ShownRun | None:
    """Return the page's last run from the database, ``None`` when there is none."""
    saved = database.load_last_run(page)
    if saved is None:
        return None
    parameters, sites, summary, fingerprint, created_at = saved
    return ShownRun(parameters=parameters, sites=sites, summary=summary,
                    fingerprint=fingerprint, created_at=summary.get("created_at", created_at),
                    source="last run")


def shown_scenario(name: str, parameters: Mapping[str, Any], sites: pd.DataFrame,
                   summary: Mapping[str, Any], created_at: str = "") -> ShownRun:
    """Return a saved scenario as the Site selection page shows it.

    A scenario saved before a setting existed gets that setting's value of the time
    (:func:`saved_settings`); one saved before data fingerprints were kept has an empty
    ``fingerprint`` (see :func:`data_status`).
    """
    return ShownRun(parameters=saved_settings(parameters), sites=sites, summary=dict(summary),
                    fingerprint=str(summary.get("data_fingerprint", "")),
                    created_at=created_at, source=f"scenario {name}")


EVERYWHERE = "Everywhere"
"""The "Site only in" choice of no restriction."""

SETTINGS_BEFORE: dict[str, Any] = {"budget": None, "capacity": None, "min_spacing_km": None,
                                   "where": EVERYWHERE, "candidate_list": None}
"""What a run saved before a setting existed had instead: no budget, no capacity, no
spacing, everywhere, no candidate list."""

NO_FINGERPRINT_NOTE = ("made before data fingerprints were kept: cannot tell if the data "
                       "changed")
"""What a page says of a result saved without the fingerprint of its data."""


def saved_settings(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Return a saved run's settings with those added since it was saved at their old value.

    Examples
    --------
    >>> saved_settings({"model": "mclp", "n_new": 5})["where"]
    'Everywhere'
    >>> saved_settings({"where": "Foshan"})["where"]
    'Foshan'
    """
    return {**SETTINGS_BEFORE, **parameters}


def data_status(fingerprint: str, fingerprint_now: str) -> str:
    """Return in words whether a result was made on the data in use now.

    Examples
    --------
    >>> data_status("abc", "abc"), data_status("abc", "def")
    ('the data in use now', 'other data than now')
    >>> data_status("", "abc")
    'made before data fingerprints were kept: cannot tell if the data changed'
    """
    if not fingerprint:
        return NO_FINGERPRINT_NOTE
    return "the data in use now" if fingerprint == fingerprint_now else "other data than now"


def candidate_digest(candidates: pd.DataFrame) -> str:
    """Return a short hash of a candidate-site table's values (its geometry left out)."""
    values = pd.DataFrame(candidates).drop(columns="geometry", errors="ignore")
    return data_fingerprint(pd.util.hash_pandas_object(values, index=False)
                            .to_numpy().tobytes().hex())[:8]


# --------------------------------------------------------------------------------------------
# The controls a page showed last, and its uploaded candidate list, for a new browser session
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageState:
    """What a page's controls showed last, kept in the database.

    Attributes
    ----------
    controls
        Control key -> value (as JSON gives them back).
    candidates
        The uploaded candidate-site table, checked (``None`` when there is none).
    candidates_source
        The name of the file it came from.
    """

    controls: dict[str, Any]
    candidates: pd.DataFrame | None = None
    candidates_source: str = ""


def keep_page_controls(database: Database, controls: Mapping[str, Any],
                       kept: Mapping[str, Any] | None, page: str = SITE_SELECTION_PAGE
                       ) -> dict[str, Any]:
    """Save a page's controls when they differ from those ``kept``; return those kept now.

    Parameters
    ----------
    database
        The database.
    controls
        The controls now (key -> value).
    kept
        What the previous call returned (``None`` at first): nothing is written when the
        controls are the same.
    page
        The page's key.

    Returns
    -------
    dict
        The controls as saved (JSON values), to pass as ``kept`` next time.
    """
    now = json_ready(dict(controls))
    if now != kept:
        database.save_page_controls(page, now)
    return now


def keep_candidate_list(database: Database, candidates: pd.DataFrame | None, source: str,
                        kept: str | None, page: str = SITE_SELECTION_PAGE) -> str:
    """Save a page's candidate list when it differs from the one ``kept``; return its digest.

    ``kept`` is what the previous call returned (``None`` at first; ``""`` stands for no
    list), so an unchanged list is not written again. ``None`` forgets the saved list.
    """
    digest = "" if candidates is None else candidate_digest(candidates)
    if digest != kept:
        database.save_page_candidates(page, candidates, source)
    return digest


def load_page_state(database: Database, page: str = SITE_SELECTION_PAGE) -> PageState | None:
    """Return the page's kept controls and candidate list, ``None`` when nothing is kept."""
    saved = database.load_page_state(page)
    if saved is None:
        return None
    controls, candidates, source = saved
    return PageState(controls=controls, candidates=candidates, candidates_source=source)


def shown_record(name: str, shown: ShownRun) -> ScenarioRecord:
    """Return what a saved scenario holds for a shown result (its data fingerprint with it)."""
    summary = {**shown.summary, "data_fingerprint": shown.fingerprint}
    return ScenarioRecord(name=name, parameters=json_ready(shown.parameters), sites=shown.sites,
                          summary=json_ready(summary))


def setting_text(key: str, value: Any) -> str:
    """Return one setting of a run as a planner reads it (``"–"`` when not set).

    Examples
    --------
    >>> setting_text("budget", 6000000.0), setting_text("weights", {"footfall": 0.4})
    ('6,000,000', 'footfall 0.40')
    >>> setting_text("model", "p_center"), setting_text("min_spacing_km", None)
    ('Nobody far (p-center)', '–')
    """
    if value is None or value == "":
        return "–"
    if key == "model":
        choice = SITING_MODELS.get(str(value))
        return choice.label if choice else str(value)
    if key == "weights" and isinstance(value, Mapping):
        return ", ".join(f"{name} {float(weight):.2f}" for name, weight in sorted(value.items())
                         ) or "–"
    if key == "candidate_list" and isinstance(value, Mapping):
        return f"{value.get('count', '?')} sites"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"
    return str(value)


def setting_differences(made_with: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """Return, in words, each setting that differs between a result and the controls now.

    Settings a model does not use (N for set cover, the radius of the median models, the
    capacity outside the capacitated model) are not compared.

    Examples
    --------
    >>> setting_differences({"model": "mclp", "n_new": 5}, {"model": "mclp", "n_new": 6})
    ['new stores (N): 5 in the result, 6 now']
    >>> setting_differences({"model": "set_cover", "n_new": 5}, {"model": "set_cover", "n_new": 6})
    []
    """
    model = str(now.get("model", made_with.get("model")))
    choice = SITING_MODELS.get(model)
    unused = set()
    if choice is not None:
        if not choice.uses_n:
            unused.add("n_new")
        if not choice.uses_capacity:
            unused.add("capacity")
    differences = []
    for key, label in SETTING_LABELS.items():
        if key in unused:
            continue
        before, after = made_with.get(key), now.get(key)
        if _same_setting(before, after):
            continue
        differences.append(f"{label}: {setting_text(key, before)} in the result, "
                           f"{setting_text(key, after)} now")
    return differences


def stale_reasons(shown: ShownRun, parameters_now: Mapping[str, Any], fingerprint_now: str
                  ) -> list[str]:
    """Return why a shown result no longer matches the page: other data, other settings.

    Empty when the result was made on the data in use with the settings the controls show.
    A result saved without its data fingerprint is not called stale for its data (it cannot
    be told): :func:`data_status` gives the note to show instead.
    """
    reasons = []
    if shown.fingerprint and shown.fingerprint != fingerprint_now:
        reasons.append("the data changed since (an upload replaced stores or layers, or the "
                       "result was made on other data)")
    reasons += setting_differences(shown.parameters, parameters_now)
    return reasons


def _same_setting(before: Any, after: Any) -> bool:
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        return (set(before) == set(after)
                and all(_same_setting(before[k], after[k]) for k in before))
    if isinstance(before, int | float) and isinstance(after, int | float) \
            and not isinstance(before, bool) and not isinstance(after, bool):
        return bool(np.isclose(float(before), float(after), rtol=1e-9, atol=1e-9))
    return bool(before == after)
