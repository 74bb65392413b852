"""Shared pieces of the app's pages: data loading (cached), the store, maps and error display.

Not a page itself: ``app.py`` lists the pages. Pages call library functions and draw results; the
only logic here is caching and presentation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from geodata import demo
from optimizer.errors import InfeasibleError, XingtuError, collect_input_warnings
from optimizer.settings import settings
from optimizer.solvers import SolveProgress, solve_progress

if TYPE_CHECKING:
    from xingtu.maps import Tiles
from xingtu.database import Database, database_url
from xingtu.jobs import kept_inputs
from xingtu.jobs.progress import progress_text

MAP_HEIGHT = 560
UPLOADS_KEY = "uploads"
"""Session key of the user's uploaded tables: kind (``stores``, ``pois``...) -> DataFrame."""
SITING_AREAS_KEY = "siting_areas"
"""Session key of the battlefields chosen on the Battlefields page for the next siting run:
``{"label": str, "areas": list[str], "cells": list[int], "data": data_key()}``."""
TEAM_LAYERS_KEY = "team_layers"
"""Session key of the layers the team brought on the Upload page: name -> ``TeamLayer``."""
KEPT_UPLOADS_KEY, KEPT_TEAM_KEY = "uploads_kept", "team_layers_kept"
"""Session keys of what the database keeps of the uploads (kind -> ``KeptUpload``) and of the
team's layers (name -> ``KeptTeamLayer``): file name, rows, date, for the notes."""
SITE_RUN_KEY = "siting_run"
"""Session key of the Site selection page's result on screen (a
:class:`~xingtu.jobs.siting.ShownRun`); the Scenarios page puts a reloaded scenario there."""
SITE_CONTROLS_KEY = "ss_controls"
"""Session key of the Site selection page's own copy of its controls (widget key -> value)."""
SURVEY_COLORS = {"approved": "#1a9850", "rejected": "#000000", "surveyed": "#7b3294",
                 "candidate": "#ff7f00"}
"""Marker colour per field-survey status (distinct from the score colours)."""


# --------------------------------------------------------------------------------------------
# Data: the demo region, the user's uploads, the layer table
# --------------------------------------------------------------------------------------------


@st.cache_resource(show_spinner="Loading the demo region…")
def demo_region() -> Any:
    """Return the bundled demo region (built once per server process)."""
    return demo.load_demo()


def uploads() -> dict[str, pd.DataFrame]:
    """Return the user's uploaded tables in use (kind -> table).

    A new browser session starts with those kept in the database (:func:`use_upload`).
    """
    if UPLOADS_KEY not in st.session_state:
        kept = _from_database(kept_inputs.load_uploads, {}, "Reading the uploaded data kept")
        st.session_state[KEPT_UPLOADS_KEY] = kept
        st.session_state[UPLOADS_KEY] = {kind: upload.table for kind, upload in kept.items()}
    return st.session_state[UPLOADS_KEY]


def kept_uploads() -> dict[str, kept_inputs.KeptUpload]:
    """Return what the database keeps of the uploads in use: kind -> file name, rows, date."""
    in_use = uploads()
    kept = st.session_state.setdefault(KEPT_UPLOADS_KEY, {})
    return {kind: upload for kind, upload in kept.items() if kind in in_use}


def use_upload(kind: str, table: pd.DataFrame, source: str) -> None:
    """Put an uploaded table in use and keep it in the database (when it changed)."""
    uploads()[kind] = table
    kept = st.session_state.setdefault(KEPT_UPLOADS_KEY, {})
    try:
        kept[kind] = kept_inputs.keep_upload(store(), kind, table, source, kept.get(kind))
    except XingtuError as error:
        show_error(error, what="Keeping the upload for the next session")


def clear_uploads(kinds: Sequence[str] | None = None) -> None:
    """Stop using the uploaded tables of ``kinds`` (all when ``None``), here and in the database."""
    in_use, kept = uploads(), st.session_state.setdefault(KEPT_UPLOADS_KEY, {})
    for kind in list(in_use) if kinds is None else kinds:
        in_use.pop(kind, None)
        kept.pop(kind, None)
    kept_inputs.clear_uploads(store(), kinds)


def team_layers() -> dict[str, Any]:
    """Return the team's layers in use (name -> ``TeamLayer``).

    A new browser session starts with those kept in the database (:func:`add_team_layer`).
    """
    if TEAM_LAYERS_KEY not in st.session_state:
        kept = _from_database(kept_inputs.load_team_layers, {}, "Reading the team's layers kept")
        st.session_state[KEPT_TEAM_KEY] = kept
        st.session_state[TEAM_LAYERS_KEY] = {name: k.layer for name, k in kept.items()}
    return st.session_state[TEAM_LAYERS_KEY]


def kept_team_layers() -> dict[str, kept_inputs.KeptTeamLayer]:
    """Return what the database keeps of the team's layers in use (with their dates)."""
    in_use = team_layers()
    kept = st.session_state.setdefault(KEPT_TEAM_KEY, {})
    return {name: layer for name, layer in kept.items() if name in in_use}


def add_team_layer(layer: Any) -> None:
    """Put a team layer in use and keep it in the database."""
    team_layers()[layer.name] = layer
    try:
        st.session_state.setdefault(KEPT_TEAM_KEY, {})[layer.name] = \
            kept_inputs.save_team_layer(store(), layer)
    except XingtuError as error:
        show_error(error, what="Keeping the layer for the next session")


def clear_team_layers(names: Sequence[str] | None = None) -> None:
    """Stop using the team layers ``names`` (all when ``None``), here and in the database."""
    in_use, kept = team_layers(), st.session_state.setdefault(KEPT_TEAM_KEY, {})
    for name in list(in_use) if names is None else names:
        in_use.pop(name, None)
        kept.pop(name, None)
    kept_inputs.clear_team_layers(store(), names)


def siting_areas() -> dict[str, Any] | None:
    """Return the battlefields chosen for the next siting run (see :data:`SITING_AREAS_KEY`).

    A new browser session starts with those kept in the database (:func:`choose_siting_areas`).
    """
    if SITING_AREAS_KEY not in st.session_state:
        kept = _from_database(kept_inputs.load_siting_areas, None,
                              "Reading the battlefields kept")
        st.session_state[SITING_AREAS_KEY] = None if kept is None else kept.as_session()
    return st.session_state[SITING_AREAS_KEY]


def choose_siting_areas(label: str, areas: Sequence[str], cells: Sequence[int]) -> None:
    """Restrict the next siting run to these battlefields, and keep them in the database."""
    try:
        chosen = kept_inputs.save_siting_areas(store(), label, areas, cells, data_key())
    except XingtuError as error:
        show_error(error, what="Keeping the battlefields for the next session")
        chosen = kept_inputs.SitingAreas(label, list(areas), [int(c) for c in cells], data_key())
    st.session_state[SITING_AREAS_KEY] = chosen.as_session()


def clear_siting_areas() -> None:
    """Forget the battlefields chosen for the next siting run, here and in the database."""
    st.session_state[SITING_AREAS_KEY] = None
    kept_inputs.clear_siting_areas(store())


def kept_data_notes() -> dict[str, str]:
    """Return a note on each upload and team layer in use, keyed ``upload:<kind>`` / ``team:<name>``.

    E.g. "Using the stores uploaded on 3 Dec 2026, 13:05 UTC (shops.csv, 12 rows)".
    """
    notes = {f"upload:{kind}": _using_note(kind, kept.saved_at, kept.source, kept.rows)
             for kind, kept in kept_uploads().items()}
    notes.update({f"team:{name}": _using_note(f"team layer **{name}**", kept.saved_at,
                                              kept.layer.source, kept.layer.rows)
                  for name, kept in kept_team_layers().items()})
    return notes


def _using_note(what: str, saved_at: str, source: str, rows: int) -> str:
    """Return "Using the <what> uploaded on <date> (<source>, <rows> rows)"."""
    return f"Using the {what} uploaded on {when_text(saved_at)} ({source}, {rows:,} rows)"


def show_kept_data(key: str) -> bool:
    """Show a note on each upload and team layer in use, each with a Clear button.

    Returns ``True`` when one was cleared (the caller reruns the page).
    """
    cleared = False
    for item, note in kept_data_notes().items():
        what, name = item.split(":", 1)
        back = "return to the demo data" if what == "upload" else "stop using it"
        if show_kept_note(f"{note} — Clear to {back}.", key=f"{key}_clear_{what}_{name}",
                          help="Removes it from the database too."):
            try:
                (clear_uploads if what == "upload" else clear_team_layers)([name])
            except XingtuError as error:
                show_error(error, what="Clearing the kept data")
            cleared = True
    return cleared


def show_kept_note(text: str, *, key: str, help: str) -> bool:
    """Show a note on data the database keeps, with a Clear button beside it.

    Parameters
    ----------
    text
        The note (Markdown), ending with what Clear does.
    key
        The Clear button's widget key.
    help
        The Clear button's tooltip.

    Returns
    -------
    bool
        ``True`` when Clear was clicked; the caller forgets the data.
    """
    note, button = st.columns([6, 1], vertical_alignment="center")
    note.info(text, icon=":material/save:")
    return button.button("Clear", key=key, help=help)


def _from_database(load: Any, empty: Any, what: str) -> Any:
    """Return ``load(store())``, or ``empty`` after showing the error when it fails."""
    try:
        return load(store())
    except XingtuError as error:
        show_error(error, what=what)
        return empty


def _base_key() -> str:
    """Identify the uploaded tables in use (the base layer table depends on them only)."""
    parts = []
    for kind, table in sorted(uploads().items()):
        digest = hashlib.sha1(pd.util.hash_pandas_object(
            pd.DataFrame(table).drop(columns="geometry", errors="ignore"), index=True
        ).to_numpy().tobytes()).hexdigest()[:12]
        parts.append(f"{kind}:{len(table)}:{digest}")
    return "demo|" + "|".join(parts)


def data_key() -> str:
    """Identify the data in use (demo, uploads and the team's layers), for caching results."""
    team = [f"{name}:{layer.source}:{layer.rows}:" + hashlib.sha1(pd.util.hash_pandas_object(
        layer.columns, index=True).to_numpy().tobytes()).hexdigest()[:12]
        for name, layer in sorted(team_layers().items())]
    return _base_key() + ("|team:" + "|".join(team) if team else "")


def region() -> Any:
    """Return the demo region with the user's uploaded tables in place of the demo ones."""
    base = demo_region()
    replaced = {kind: table for kind, table in uploads().items() if hasattr(base, kind)}
    if not replaced:
        return base
    import dataclasses

    return dataclasses.replace(base, **replaced)


@st.cache_resource(show_spinner="Building the map layers…", max_entries=4)
def _layers_for(key: str, _region: Any, resolution: int) -> pd.DataFrame:
    return demo.build_layers(_region, resolution=resolution)


@st.cache_resource(show_spinner=False, max_entries=4)
def _with_team_for(key: str, _base: pd.DataFrame, _team: tuple[Any, ...]) -> pd.DataFrame:
    from xingtu.jobs.team_layers import with_team_layers

    return with_team_layers(_base, _team)


def base_layers(resolution: int | None = None) -> pd.DataFrame:
    """Return the layer table of the demo and uploaded tables, without the team's layers."""
    resolution = default_resolution() if resolution is None else int(resolution)
    return _layers_for(_base_key(), region(), resolution)


def layers(resolution: int | None = None) -> pd.DataFrame:
    """Return the layer table of the data in use, with the team's layers (cached)."""
    base = base_layers(resolution)
    team = tuple(layer for layer in team_layers().values() if layer.columns.index.equals(
        base.index))
    if not team:
        return base
    return _with_team_for(f"{data_key()}|{len(base)}", base, team)


def default_resolution() -> int:
    """Return the H3 resolution of the analysis grid, from :mod:`optimizer.settings`."""
    return settings.h3_resolution


def region_center(table: pd.DataFrame) -> tuple[float, float]:
    """Middle of the cells or points of a table with ``lat``/``lng``."""
    return float(table["lat"].median()), float(table["lng"].median())


# --------------------------------------------------------------------------------------------
# Saved state
# --------------------------------------------------------------------------------------------


@st.cache_resource
def _store_for(url: str) -> Database:
    return Database(url)


def store() -> Database:
    """Return the database of saved scenarios, survey statuses and plans (one for all)."""
    return _store_for(database_url())


# --------------------------------------------------------------------------------------------
# Page controls that outlive a page switch
# --------------------------------------------------------------------------------------------


def restore_controls(page_key: str, defaults: Mapping[str, Any]) -> None:
    """Give the page's widgets their remembered values before they are drawn.

    Streamlit forgets the state of the widgets of a page that is not shown. The page keeps its
    own copy under ``page_key`` (see :func:`keep_controls`); here each widget key absent from
    the session gets its copied value, else its default. The widgets are then drawn with their
    ``key`` only (no ``value``/``default``/``index``), so the session value is what they show.
    """
    kept = st.session_state.get(page_key, {})
    for key, default in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = kept.get(key, default)


def set_controls(page_key: str, values: Mapping[str, Any]) -> None:
    """Set the page's controls (e.g. from a saved run) for its next drawing."""
    kept = dict(st.session_state.get(page_key, {}))
    kept.update(values)
    st.session_state[page_key] = kept
    for key, value in values.items():
        st.session_state[key] = value


def keep_controls(page_key: str, keys: Sequence[str]) -> None:
    """Copy the page's widget values under ``page_key``, for :func:`restore_controls`."""
    kept = dict(st.session_state.get(page_key, {}))
    kept.update({key: st.session_state[key] for key in keys if key in st.session_state})
    st.session_state[page_key] = kept


def site_controls(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Return the Site selection widget values that show a run's settings.

    ``parameters`` are a last run's or a saved scenario's (keys of
    :data:`xingtu.jobs.siting.SETTING_LABELS`); what they lack keeps its current value.
    """
    from xingtu.jobs.siting import SITING_MODELS

    weights = parameters.get("weights") or {}
    values = {"ss_layers": list(weights), **{f"ss_w_{c}": float(w) for c, w in weights.items()}}
    if parameters.get("model") in SITING_MODELS:
        values["ss_model"] = parameters["model"]
    if parameters.get("n_new"):
        values["ss_n"] = _within(int(parameters["n_new"]), 1, 30)
    if parameters.get("radius_km"):
        values["ss_radius"] = _within(round(2 * float(parameters["radius_km"])) / 2, 0.5, 10.0)
    budget, capacity = parameters.get("budget"), parameters.get("capacity")
    values["ss_use_budget"] = budget is not None
    if budget is not None:
        values["ss_budget"] = _within(float(budget) / 1e6, 0.5, 500.0)
    if capacity is not None:
        values["ss_capacity"] = _within(float(capacity) / 1e6, 1.0, 10_000.0)
    spacing = parameters.get("min_spacing_km")
    values["ss_use_spacing"] = spacing is not None
    if spacing is not None:
        values["ss_spacing"] = _within(float(spacing), 0.1, 20.0)
    if parameters.get("where"):
        values["ss_where"] = str(parameters["where"])
    return values


def _within(value: Any, low: Any, high: Any) -> Any:
    """Clip a restored value into its widget's range (a widget refuses one outside it)."""
    return min(max(value, low), high)


def valid_choice(key: str, options: Sequence[Any], default: Any) -> None:
    """Reset a remembered choice that is no longer among a selectbox's ``options``."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else options[0]


def when_text(iso: str) -> str:
    """Return an ISO 8601 time (as saved, UTC) as people read it, e.g. ``2 Dec 2026, 18:05 UTC``.

    Examples
    --------
    >>> when_text("2026-12-02T18:05:09.123456+00:00")
    '2 Dec 2026, 18:05 UTC'
    >>> when_text("")
    '–'
    """
    try:
        moment = pd.Timestamp(iso)
    except (ValueError, TypeError):
        return str(iso) or "–"
    if pd.isna(moment):
        return "–"
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC")
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


# --------------------------------------------------------------------------------------------
# Maps
# --------------------------------------------------------------------------------------------


def tiles() -> Tiles:
    """Base-map choice from the sidebar: a plain background (offline) or OpenStreetMap tiles."""
    from xingtu import maps

    online = st.sidebar.toggle("Base map tiles (needs internet)",
                               value=maps.tiles_setting() != "none", key="tiles_online",
                               help="Off: a plain background, works with no network.")
    return "openstreetmap" if online else "none"


def show_map(fmap: Any, *, key: str, height: int = MAP_HEIGHT) -> dict[str, Any]:
    """Draw a folium map; returns what the user clicked (``last_object_clicked``)."""
    from streamlit_folium import st_folium

    result = st_folium(fmap, key=key, height=height, use_container_width=True,
                       returned_objects=["last_object_clicked"])
    return result or {}


def clicked_cell(result: Mapping[str, Any], resolution: int) -> int | None:
    """Return the H3 cell (``uint64``) under the user's last click on the map, if any."""
    point = (result or {}).get("last_object_clicked")
    if not point or point.get("lat") is None:
        return None
    import numpy as np

    from geodata import grid

    cell = grid.points_to_cells(np.array([float(point["lat"])]), np.array([float(point["lng"])]),
                                resolution)
    return int(cell[0])


def cell_text(cell: int) -> str:
    """Return the string form of a ``uint64`` H3 cell."""
    import numpy as np

    from geodata import grid

    return str(grid.cells_to_str(np.array([cell], dtype=np.uint64))[0])


# --------------------------------------------------------------------------------------------
# Errors and warnings, in the users' words
# --------------------------------------------------------------------------------------------


def show_error(error: BaseException, *, what: str) -> None:
    """Show a library error on the page (never a traceback): message, reasons, problems."""
    if isinstance(error, InfeasibleError):
        st.error(f"**{what}: no plan satisfies every condition.** {error}")
        for reason in error.reasons:
            st.markdown(f"- {reason}")
        return
    problems = getattr(error, "problems", None)
    if problems and hasattr(error, "to_records"):
        st.error(f"**{what}: the file has {len(problems)} problem(s).** Fix them and upload again.")
        records = pd.DataFrame(error.to_records())
        # Values of different types in one column: shown as text.
        records = records.astype({c: str for c in ("value", "column") if c in records})
        records = records.replace({"None": ""})
        st.dataframe(records, hide_index=True, width="stretch")
        return
    if isinstance(error, XingtuError):
        st.error(f"**{what}:** {error}")
        return
    st.error(f"**{what} failed unexpectedly:** {type(error).__name__}: {error}")


def show_warnings(messages: Sequence[str]) -> None:
    """Show a job's input warnings in plain view: one warning box each, above the result.

    ``messages`` are a run's ``warnings`` (a documented default filled in, a suspicious value
    accepted), each naming the file, column and rows.
    """
    for message in messages:
        st.warning(message, icon="⚠️")


@contextmanager
def warnings_shown() -> Iterator[list[str]]:
    """Collect the input warnings of the block (reading an upload) and show them when it ends.

    Shown also when the block ends with an error (the error is shown by :func:`show_error`).
    """
    with collect_input_warnings() as seen:
        try:
            yield seen
        finally:
            show_warnings(seen)


@contextmanager
def live_gap() -> Iterator[None]:
    """Show the solver's gap so far while the runs inside the block solve.

    One line under the running stage is rewritten at each better plan and about twice a
    second otherwise, so a long solve never looks frozen.
    """
    line = st.empty()

    def show(progress: SolveProgress) -> None:
        line.write(f"Solving… {progress_text(progress)}.")

    with solve_progress(show):
        yield
    line.empty()


def add_legend(fmap: Any, title: str, entries: Mapping[str, str]) -> None:
    """Add a fixed legend box (label -> colour) to a folium map; plain HTML, nothing fetched."""
    import folium

    rows = "".join(
        f'<div><span style="display:inline-block;width:11px;height:11px;border-radius:50%;'
        f'background:{color};border:1px solid #333;margin-right:5px"></span>{label}</div>'
        for label, color in entries.items())
    html = (f'<div style="position:fixed;bottom:24px;left:12px;z-index:9999;background:white;'
            f'padding:6px 9px;border:1px solid #999;border-radius:4px;font-size:12px">'
            f"<b>{title}</b>{rows}</div>")
    fmap.get_root().html.add_child(folium.Element(html))


def cell_from_text(text: object) -> int | None:
    """Return the ``uint64`` H3 cell written as hexadecimal text, ``None`` if it is not one."""
    value = str(text).strip().lower()
    if not value or len(value) > 16 or any(c not in "0123456789abcdef" for c in value):
        return None
    return int(value, 16)
