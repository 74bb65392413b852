"""Xingtu map app: page setup and navigation only; each page lives in ``app_pages/``.

Run with ``streamlit run app.py`` (or ``make app``).
"""

import streamlit as st

st.set_page_config(page_title="Xingtu 星图", page_icon="🗺️", layout="wide")

PAGES = {
    "Expansion": [
        st.Page("app_pages/battlefields.py", title="Battlefields", icon=":material/target:", default=True),
        st.Page("app_pages/site_selection.py", title="Site selection", icon=":material/location_on:"),
        st.Page("app_pages/scenarios.py", title="Scenarios", icon=":material/compare:"),
    ],
    "Operations": [
        st.Page("app_pages/allocation.py", title="Allocation", icon=":material/local_shipping:"),
        st.Page("app_pages/repair_shops.py", title="Repair shops", icon=":material/build:"),
    ],
    "Data": [
        st.Page("app_pages/upload.py", title="Upload your data", icon=":material/upload_file:"),
    ],
}

st.navigation(PAGES).run()
