"""Upload page: the user's own stores, POIs, footfall... checked, with every problem listed."""

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages import common
from geodata import io
from geodata._validate import SCHEMAS

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

if uploaded is not None:
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
        common.uploads()[kind] = table
        st.success(f"**{uploaded.name}**: {len(table):,} rows of {kind} checked and in use. "
                   "The other pages now work on your data.")
        st.dataframe(pd.DataFrame(table).drop(columns="geometry", errors="ignore").head(200),
                     width="stretch")

in_use = common.uploads()
st.subheader("Your data in use")
if not in_use:
    st.write("Only the demo region is in use.")
else:
    st.dataframe(pd.DataFrame({"data": list(in_use), "rows": [len(t) for t in in_use.values()]}),
                 hide_index=True)
    if st.button("Go back to the demo data", key="upload_reset"):
        in_use.clear()
        st.rerun()
