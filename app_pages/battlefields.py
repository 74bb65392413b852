"""Battlefields page: which areas to enter, ranked by fan index, ticket, whitespace and competitors."""

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from app_pages import common
from geodata import grid
from geodata.areas import cells_to_districts
from geodata.demo import load_places
from optimizer import scoring
from xingtu.export import csv_bytes
from xingtu.jobs.team_layers import area_aggregation, team_columns

st.title("Battlefields")
st.caption("Areas ranked as places to enter: fan index (own customers per resident), average "
           "ticket, market whitespace (demand no store of ours reaches) and competitor pressure. "
           "Areas with too few residents are merged into their nearest neighbour.")
if common.show_kept_data("bf"):
    st.rerun()

LEVELS: dict[str, str | int] = {"District (named after its main town)": "district", "Prefecture (region)": "region",
          "Large hexagons (H3 res 6, ~36 km²)": 6, "Very large hexagons (H3 res 5, ~250 km²)": 5}
METRICS = {"fan_index": "Fan index", "avg_ticket": "Average ticket (CNY)",
           "whitespace_rate": "Whitespace rate", "competitor_pressure": "Competitors per 100k residents"}

with st.sidebar:
    level = st.selectbox("Areas", list(LEVELS), key="bf_level")
    min_residents = st.number_input("Smallest area (residents)", 0, 1_000_000,
                                    int(scoring.DEFAULT_MIN_RESIDENTS), 5_000, key="bf_min_res",
                                    help="Smaller areas are merged into the nearest larger one.")
    radius_km = st.slider("Reach of a store (km)", 0.5, 10.0, 3.0, 0.5, key="bf_radius",
                          help="Demand farther than this from every store of ours is whitespace.")
    st.markdown("**Weights**")
    weights = {
        "fan_index": st.slider("Fan index", 0.0, 2.0, 1.0, 0.1, key="bf_w_fan"),
        "avg_ticket": st.slider("Average ticket", 0.0, 2.0, 1.0, 0.1, key="bf_w_ticket"),
        "whitespace_rate": st.slider("Whitespace rate", 0.0, 2.0, 1.0, 0.1, key="bf_w_white"),
        "competitor_pressure": -st.slider("Competitor pressure (counts against)", 0.0, 2.0, 1.0,
                                          0.1, key="bf_w_comp"),
    }
    layers = common.layers()
    team = list(common.team_layers().values())
    team_weighted = [c for c in team_columns(team) if c in layers.columns]
    if team_weighted:
        st.markdown("**Your layers** (from the Upload page; negative counts against)")
    for column in team_weighted:
        weights[column] = st.slider(scoring.factor_label(column).capitalize(), -2.0, 2.0, 0.0,
                                    0.1, key=f"bf_w_team_{column}")
    weights = {c: w for c, w in weights.items() if w != 0 or c not in team_weighted}
    tiles = common.tiles()


def area_labels(layers: pd.DataFrame, level: str | int) -> pd.Series | str:
    """Return the area of every cell for ``level`` (a layer column name, or an H3 resolution)."""
    if level == "district":
        if "region" not in layers:
            return pd.Series("all", index=layers.index)
        return cells_to_districts(layers, load_places())
    if level == "region":
        return "region"
    parents = grid.cells_to_parent(layers.index.to_numpy(dtype=np.uint64), int(level))
    return pd.Series(grid.cells_to_str(parents), index=layers.index)


@st.cache_data(show_spinner="Ranking areas…", max_entries=16)
def ranking(key: str, level: str | int, radius_km: float, weights: tuple, min_residents: float,
            aggregation: tuple, _layers: pd.DataFrame) -> scoring.BattlefieldRanking:
    """Return the battlefield ranking (cached per data and settings)."""
    return scoring.battlefield_ranking(_layers, areas=area_labels(_layers, level),
                                       radius_km=radius_km, weights=dict(weights),
                                       min_residents=min_residents, places=load_places(),
                                       layer_aggregation=dict(aggregation))


try:
    ranked = ranking(common.data_key(), LEVELS[level], radius_km, tuple(weights.items()),
                     float(min_residents), tuple(area_aggregation(team).items()), layers)
except ValueError as error:
    common.show_error(error, what="Ranking the areas")
    st.stop()
table = ranked.table

best = table.iloc[0]
c1, c2, c3, c4 = st.columns([2, 1, 1, 1])  # the best area's name in full
c1.metric("Best area", str(best["name"]))
c2.metric("Its fan index", f"{1000 * best['fan_index']:.2f} ‰",
          help="Own customers per 1,000 residents.")
c3.metric("Its whitespace rate", f"{best['whitespace_rate']:.0%}")
c4.metric("Areas ranked", f"{len(table):,}")
st.caption(ranked.summary())

map_tab, table_tab = st.tabs(["Map", "Table"])
with map_tab:
    from xingtu import maps

    # Each cell shows its (merged) area's figures; cells are merged for drawing when there are many.
    area_of_cell = ranked.area_of_cell.reindex(layers.index)
    per_cell = table.reindex(area_of_cell.to_numpy())[["attractiveness", "rank", *METRICS]]
    per_cell.index = layers.index
    per_cell = per_cell.dropna(subset=["rank"])
    fmap = maps.base_map(common.region_center(layers), zoom=9, tiles=tiles)
    maps.add_cells(fmap, per_cell, "attractiveness", name="Attractiveness",
                   legend="Attractiveness of the area",
                   tooltip={"rank": "Rank", **METRICS, "attractiveness": "Attractiveness"},
                   how=dict.fromkeys(per_cell.columns, "mean"))
    stores = getattr(common.region(), "stores", None)
    if stores is not None and len(stores):
        maps.add_points(fmap, stores, name="Our stores", marker="own_store",
                        title="name" if "name" in stores else None)
    maps.finish(fmap)
    common.show_map(fmap, key="bf_map")
with table_tab:
    shown = table[["name", "region", "rank", *METRICS, "attractiveness", "population",
                   "customers", "cells", *[c for c in team_weighted if c in table.columns]]]
    st.dataframe(shown, width="stretch", column_config={
        "name": st.column_config.TextColumn("Area"),
        "region": st.column_config.TextColumn("Prefecture"),
        "fan_index": st.column_config.NumberColumn("Fan index", format="%.4f"),
        "avg_ticket": st.column_config.NumberColumn("Avg ticket (CNY)", format="%,.0f"),
        "whitespace_rate": st.column_config.ProgressColumn("Whitespace", min_value=0.0,
                                                           max_value=1.0, format="percent"),
        "competitor_pressure": st.column_config.NumberColumn("Competitors /100k", format="%.1f"),
        "attractiveness": st.column_config.NumberColumn("Attractiveness", format="%.2f"),
        "population": st.column_config.NumberColumn("Residents", format="%,.0f"),
        "customers": st.column_config.NumberColumn("Customers", format="%,.0f"),
        "cells": st.column_config.NumberColumn("Cells", format="%d"),
    })
    st.download_button("Download the ranking (CSV)", csv_bytes(shown.reset_index()),
                       file_name="battlefields.csv", mime="text/csv", key="bf_download")

# ---- link to siting ---------------------------------------------------------------------------
st.subheader("Site in these areas")
names = table["name"].astype(str)
picked = st.multiselect("Battlefields for the next siting run", list(table.index),
                        default=list(table.index[:1]), format_func=lambda a: names.get(a, str(a)),
                        key=f"bf_pick_{LEVELS[level]}")
if st.button("Site in these areas", type="primary", key="bf_site", disabled=not picked):
    label = ", ".join(names.get(a, str(a)) for a in picked)
    common.choose_siting_areas(label, [str(a) for a in picked],
                               [int(c) for c in ranked.cells(picked)])  # kept in the database
    st.success(f"The next run on **Site selection** sites only in: {label}.")
    try:
        st.page_link("app_pages/site_selection.py", label="Open Site selection",
                     icon=":material/location_on:")
    except StreamlitAPIException:  # the page runs alone, outside the app's navigation
        pass

chosen = common.siting_areas()
if chosen and not st.session_state.get("bf_site"):
    other = "" if chosen.get("data") == common.data_key() else \
        " They were chosen on other data than now, so Site selection does not offer them."
    when = f" on {common.when_text(chosen['saved_at'])}" if chosen.get("saved_at") else ""
    if common.show_kept_note(f"Battlefields chosen{when} for the next siting run: "
                             f"**{chosen['label']}**.{other} — Clear to site everywhere.",
                             key="bf_clear_areas", help="Removes them from the database too."):
        common.clear_siting_areas()
        st.rerun()
