"""Battlefields page: which areas to enter, ranked by fan index, ticket, whitespace and competitors."""

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import common
from geodata import grid
from optimizer import scoring
from xingtu.export import csv_bytes

st.title("Battlefields")
st.caption("Areas ranked as places to enter: fan index (own customers per resident), average "
           "ticket, market whitespace (demand no store of ours reaches) and competitor pressure.")

LEVELS = {"District": None, "Large hexagons (H3 res 6, ~36 km²)": 6,
          "Very large hexagons (H3 res 5, ~250 km²)": 5}
METRICS = {"fan_index": "Fan index", "avg_ticket": "Average ticket (CNY)",
           "whitespace_rate": "Whitespace rate", "competitor_pressure": "Competitors per 100k residents"}

with st.sidebar:
    level = st.selectbox("Areas", list(LEVELS), key="bf_level")
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
    tiles = common.tiles()

layers = common.layers()
resolution = LEVELS[level]


@st.cache_data(show_spinner="Ranking areas…", max_entries=16)
def ranking(key: str, resolution: int | None, radius_km: float, weights: tuple,
            _layers: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Return the ranking and the area label of every cell (cached per data and settings)."""
    if resolution is None:
        areas = _layers["region"].astype(str)
    else:
        parents = grid.cells_to_parent(_layers.index.to_numpy(dtype=np.uint64), resolution)
        areas = pd.Series(grid.cells_to_str(parents), index=_layers.index)
    table = scoring.rank_battlefields(_layers, areas=areas, radius_km=radius_km,
                                      weights=dict(weights))
    return table, areas


try:
    table, areas = ranking(common.data_key(), resolution, radius_km, tuple(weights.items()), layers)
except ValueError as error:
    common.show_error(error, what="Ranking the areas")
    st.stop()

best = table.iloc[0]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Best area", str(table.index[0]))
c2.metric("Its fan index", f"{1000 * best['fan_index']:.2f} ‰",
          help="Own customers per 1,000 residents.")
c3.metric("Its whitespace rate", f"{best['whitespace_rate']:.0%}")
c4.metric("Areas ranked", f"{len(table):,}")

map_tab, table_tab = st.tabs(["Map", "Table"])
with map_tab:
    from xingtu import maps

    # Each cell shows its area's figures; cells are merged for drawing when there are many.
    per_cell = table.reindex(areas.to_numpy())[["attractiveness", "rank", *METRICS]]
    per_cell.index = layers.index
    fmap = maps.base_map(common.region_center(layers), zoom=9, tiles=tiles)
    maps.add_cells(fmap, per_cell, "attractiveness", name="Attractiveness",
                   tooltip={"rank": "Rank", **METRICS, "attractiveness": "Attractiveness"},
                   how=dict.fromkeys(per_cell.columns, "mean"))
    stores = getattr(common.region(), "stores", None)
    if stores is not None and len(stores):
        maps.add_points(fmap, stores, name="Our stores", color="#1f78b4", radius=4,
                        title="name" if "name" in stores else None)
    maps.finish(fmap)
    common.show_map(fmap, key="bf_map")
with table_tab:
    shown = table[["rank", *METRICS, "attractiveness", "population", "customers"]]
    st.dataframe(shown, width="stretch", column_config={
        "fan_index": st.column_config.NumberColumn("Fan index", format="%.4f"),
        "avg_ticket": st.column_config.NumberColumn("Avg ticket (CNY)", format="%.0f"),
        "whitespace_rate": st.column_config.ProgressColumn("Whitespace", min_value=0.0,
                                                           max_value=1.0, format="percent"),
        "competitor_pressure": st.column_config.NumberColumn("Competitors /100k", format="%.1f"),
        "attractiveness": st.column_config.NumberColumn("Attractiveness", format="%.2f"),
        "population": st.column_config.NumberColumn("Residents", format="%d"),
        "customers": st.column_config.NumberColumn("Customers", format="%d"),
    })
    st.download_button("Download the ranking (CSV)", csv_bytes(shown.reset_index()),
                       file_name="battlefields.csv", mime="text/csv", key="bf_download")
