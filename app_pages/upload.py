"""Upload page: the user's own files checked, with every problem listed, and the team's layers.

Own stores, POIs, footfall... replace the demo's; a numeric column of any file, or the members'
purchases, becomes a layer per cell (:mod:`xingtu.jobs.team_layers`). Both are kept in the
database, so a new browser session uses them too, until cleared (:mod:`xingtu.jobs.kept_inputs`).
"""

import tempfile
from pathlib import Path
from typing import cast

import pandas as pd
import streamlit as st

from app_pages import common
from geodata import io
from geodata._validate import SCHEMAS
from xingtu.jobs import team_layers
from xingtu.jobs.team_layers import LayerHow

st.title("Upload your data")
st.caption("Replace a part of the demo region with your own file. Formats: CSV (with latitude/"
           "longitude columns), Excel, GeoJSON, GeoPackage, GeoParquet.")

kinds = sorted(SCHEMAS)
kind = st.selectbox("What the file holds", kinds,
                    index=kinds.index("stores") if "stores" in kinds else 0, key="upload_kind")
schema = SCHEMAS[kind]
columns = pd.DataFrame([{"column": c.name, "required": "yes" if c.required else "no",
                         "meaning": c.description} for c in schema.columns])
with st.expander(f"Columns expected in {kind}: {schema.description}", expanded=False):
    st.dataframe(columns, hide_index=True, width="stretch")

uploaded = st.file_uploader("File", type=["csv", "xlsx", "geojson", "json", "gpkg", "parquet"],
                            key="upload_file")

CLEARED_KEY = "upload_cleared_files"
# Session key of the ids of the files still in the uploaders when their data was cleared (not
# read again until the user uploads a file anew).
cleared_files: set[str] = st.session_state.setdefault(CLEARED_KEY, set())
if uploaded is not None and uploaded.file_id in cleared_files:
    st.info(f"**{uploaded.name}** was cleared; remove it and upload it again to use it.")
elif uploaded is not None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(uploaded.name).name
        path.write_bytes(uploaded.getvalue())
        try:
            with common.warnings_shown():
                table = io.read_input(path, kind)
        except ValueError as error:  # InputDataError and other checks: shown, never a traceback
            common.show_error(error, what=uploaded.name)
            table = None
    if table is not None:
        common.use_upload(kind, table, uploaded.name)  # kept in the database for a new session
        st.success(f"**{uploaded.name}**: {len(table):,} rows of {kind} checked and in use. "
                   "The other pages now work on your data.")
        st.dataframe(pd.DataFrame(table).drop(columns="geometry", errors="ignore").head(200),
                     width="stretch")



def _cleared() -> None:
    """Do not read the file still in the uploader again: its data was just cleared."""
    if uploaded is not None:
        cleared_files.add(uploaded.file_id)
    st.rerun()


in_use = common.uploads()
st.subheader("Your data in use")
st.caption("Kept in the database: a new browser session (a reload) uses them too, until you "
           "clear them.")
if not in_use and not common.team_layers():
    st.write("Only the demo region is in use.")
if common.show_kept_data("upload"):
    _cleared()
if in_use:
    st.dataframe(pd.DataFrame({"data": list(in_use), "rows": [len(t) for t in in_use.values()]}),
                 hide_index=True)
    if st.button("Go back to the demo data", key="upload_reset",
                 help="Clears every uploaded table, also from the database."):
        common.clear_uploads()
        _cleared()

# ---- layers the team brings ---------------------------------------------------------------------
st.subheader("Layers your team brings")
st.caption("Any numeric column of your file (brand awareness from a survey, a reputation index, "
           "brand fit per mall) becomes a layer per map cell; a members' purchases file becomes "
           "the member value per cell. Weight them on Battlefields and in the Site selection "
           "sidebar.")
TEAM_KINDS = {"layer": "A numeric layer (points, lines or polygons)",
              "members": "Members' purchases (member_id, date, amount, lat/lng)"}
team_kind = st.radio("What the file holds", list(TEAM_KINDS), format_func=TEAM_KINDS.get,
                     key="upload_team_kind", horizontal=True)
team_file = st.file_uploader("Team file", type=["csv", "xlsx", "geojson", "json", "gpkg",
                                                 "parquet"], key="upload_team_file")


def _added(layer: team_layers.TeamLayer) -> None:
    common.add_team_layer(layer)  # kept in the database for a new session
    st.session_state["upload_team_done"] = f"Added **{layer.name}**: {layer.summary()}"


if team_file is not None:
    with tempfile.TemporaryDirectory() as folder:
        team_path = Path(folder) / Path(team_file.name).name
        team_path.write_bytes(team_file.getvalue())
        try:
            with common.warnings_shown():
                if team_kind == "members":
                    if st.button("Build the member-value layer", key="upload_members_add"):
                        _added(team_layers.member_layer(common.base_layers(), team_path))
                else:
                    preview = io.read_table(team_path)
                    numeric = [str(c) for c in preview.columns
                               if c not in ("geometry", "lat", "lng")
                               and pd.to_numeric(preview[c], errors="coerce").notna().any()]
                    others = [str(c) for c in preview.columns
                              if c not in ("geometry", "lat", "lng") and str(c) not in numeric]
                    t1, t2, t3 = st.columns(3)
                    value_column = t1.selectbox("Column", numeric + others,
                                                key=f"upload_team_column::{team_file.name}",
                                                help="Numeric columns first.")
                    how = t2.selectbox("Per cell", ["mean", "sum", "count"],
                                       key="upload_team_how",
                                       help="mean for scores (brand awareness), sum for totals, "
                                            "count for the number of rows.")
                    layer_name = t3.text_input(
                        "Layer name", value=str(value_column or "").strip().lower()
                        .replace(" ", "_"), key=f"upload_team_name::{team_file.name}")
                    if st.button("Add the layer", key="upload_team_add"):
                        _added(team_layers.user_layer(common.base_layers(), team_path,
                                                      name=layer_name, column=value_column,
                                                      how=cast(LayerHow, how)))
        except ValueError as error:
            common.show_error(error, what=team_file.name)

team_done = st.session_state.pop("upload_team_done", None)
if team_done:
    st.success(team_done)
team_in_use = common.team_layers()
if team_in_use:
    st.dataframe(pd.DataFrame({
        "layer": list(team_in_use), "from": [t.source for t in team_in_use.values()],
        "columns": [", ".join(map(str, t.columns.columns)) for t in team_in_use.values()],
        "rows": [t.rows for t in team_in_use.values()]}), hide_index=True)
    if st.button("Remove the team's layers", key="upload_team_reset",
                 help="Also from the database."):
        common.clear_team_layers()
        st.rerun()
