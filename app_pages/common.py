"""Shared pieces of the app's pages: data loading (cached), the store, maps and error display.

Not a page itself: ``app.py`` lists the pages. Pages call library functions and draw results; the
only logic here is caching and presentation.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pandas as pd
import streamlit as st

from optimizer.errors import InfeasibleError, XingtuError

MAP_HEIGHT = 560
UPLOADS_KEY = "uploads"
"""Session key of the user's uploaded tables: kind (``stores``, ``pois``...) -> DataFrame."""


# --------------------------------------------------------------------------------------------
# Library modules that may be missing from an installation
# --------------------------------------------------------------------------------------------


def library(module: str, *names: str) -> ModuleType | None:
    """Import a library module, or return ``None`` if it (or one of ``names`` in it) is missing."""
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name and (module == error.name or module.startswith(error.name + ".")):
            return None
        raise
    return loaded if all(hasattr(loaded, name) for name in names) else None


def require(module: str, *names: str, feature: str) -> ModuleType:
    """The module, or a clear "not available" message and the end of the page."""
    loaded = library(module, *names)
    if loaded is None:
        wanted = f"`{module}`" + (f" ({', '.join(names)})" if names else "")
        st.warning(f"**{feature} is not available in this installation**: the library module "
                   f"{wanted} is missing. No results are shown rather than made-up ones.")
        st.stop()
    return loaded


# --------------------------------------------------------------------------------------------
# Data: the demo region, the user's uploads, the layer table
# --------------------------------------------------------------------------------------------


@st.cache_resource(show_spinner="Loading the demo region…")
def demo_region() -> Any:
    """The bundled demo region (built once per server process)."""
    demo = require("geodata.demo", "load_demo", feature="The demo region")
    return demo.load_demo()


def uploads() -> dict[str, pd.DataFrame]:
    """The user's uploaded tables of this browser session (kind -> table)."""
    return st.session_state.setdefault(UPLOADS_KEY, {})


def data_key() -> str:
    """Identifies the data in use (demo plus uploads), for caching derived results."""
    parts = []
    for kind, table in sorted(uploads().items()):
        digest = hashlib.sha1(pd.util.hash_pandas_object(
            pd.DataFrame(table).drop(columns="geometry", errors="ignore"), index=True
        ).to_numpy().tobytes()).hexdigest()[:12]
        parts.append(f"{kind}:{len(table)}:{digest}")
    return "demo|" + "|".join(parts)


def region() -> Any:
    """The demo region with the user's uploaded tables in place of the demo ones."""
    base = demo_region()
    replaced = {kind: table for kind, table in uploads().items() if hasattr(base, kind)}
    if not replaced:
        return base
    import dataclasses

    return dataclasses.replace(base, **replaced)


@st.cache_resource(show_spinner="Building the map layers…", max_entries=4)
def _layers_for(key: str, _region: Any, resolution: int) -> pd.DataFrame:
    demo = require("geodata.demo", "build_layers", feature="Map layers")
    return demo.build_layers(_region, resolution=resolution)


def layers(resolution: int | None = None) -> pd.DataFrame:
    """The layer table (one row per H3 cell) of the data in use, cached per data and resolution."""
    resolution = default_resolution() if resolution is None else int(resolution)
    return _layers_for(data_key(), region(), resolution)


def default_resolution() -> int:
    """The H3 resolution from the optimizer settings (8 when unset)."""
    settings = library("optimizer.settings", "load_settings")
    if settings is None:
        return 8
    return int(getattr(settings.load_settings(), "h3_resolution", 8))


def region_center(table: pd.DataFrame) -> tuple[float, float]:
    """Middle of the cells or points of a table with ``lat``/``lng``."""
    return float(table["lat"].median()), float(table["lng"].median())


# --------------------------------------------------------------------------------------------
# Saved state
# --------------------------------------------------------------------------------------------


@st.cache_resource
def _store_for(url: str | None) -> Any:
    from xingtu.database import Database

    return Database(url)


def store() -> Any:
    """The database of saved scenarios, survey statuses and plans (shared by all sessions)."""
    return _store_for(os.environ.get("XINGTU_DATABASE_URL"))


# --------------------------------------------------------------------------------------------
# Maps
# --------------------------------------------------------------------------------------------


def tiles() -> str:
    """Base-map choice from the sidebar: a plain background (offline) or OpenStreetMap tiles."""
    from geodata import maps

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
    """The H3 cell (``uint64``) under the user's last click on the map, if any."""
    point = (result or {}).get("last_object_clicked")
    if not point or point.get("lat") is None:
        return None
    import numpy as np

    from geodata import grid

    cell = grid.points_to_cells(np.array([float(point["lat"])]), np.array([float(point["lng"])]),
                                resolution)
    return int(cell[0])


def cell_text(cell: int) -> str:
    """String form of a ``uint64`` H3 cell."""
    import numpy as np

    from geodata import grid

    return str(grid.cells_to_str(np.array([cell], dtype=np.uint64))[0])


# --------------------------------------------------------------------------------------------
# Errors, in the users' words
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


def solve_report_line(report: Any) -> str:
    """One line about how a solve went: status, objective, gap, time, solver."""
    if report is None:
        return ""
    get = report.get if isinstance(report, Mapping) else lambda k, d=None: getattr(report, k, d)
    status = get("status", "?")
    gap = get("gap")
    gap_text = f", gap {100 * gap:.2f}%" if isinstance(gap, int | float) else ""
    seconds = get("solve_seconds", 0.0) or 0.0
    word = {"optimal": "proven optimal", "feasible": "feasible (not proven optimal)"}.get(
        str(status), str(status))
    return f"Solver: {get('solver', '?')}, {word}{gap_text}, {seconds:.1f} s."


@contextmanager
def live_gap() -> Iterator[None]:
    """Show the solver's gap so far while the runs inside the block solve.

    One line under the running stage is rewritten at each better plan and about twice a
    second otherwise, so a long solve never looks frozen.
    """
    from optimizer.solvers import solve_progress

    line = st.empty()

    def show(progress: Any) -> None:
        if progress.gap is None:
            line.write(f"Solving… {progress.seconds:.1f} s, no plan proven against a bound yet.")
        else:
            line.write(f"Solving… gap so far {progress.gap:.2%} after {progress.seconds:.1f} s.")

    with solve_progress(show):
        yield
    line.empty()
