"""Scenarios page: saved siting runs, listed and compared side by side on one map."""

import pandas as pd
import streamlit as st

from app_pages import common

st.title("Scenarios")
st.caption("Siting runs saved from the Site selection page. Compare two: sites in common, "
           "coverage, expected sales and cost.")

done = st.session_state.pop("sc_done", None)
if done:
    st.success(done)
store = common.store()
listed = store.list_scenarios()
if listed.empty:
    st.info("No scenario saved yet. Run a site selection and save it under a name.")
    st.stop()

labels = {int(row.id): f"{row.name} (v{row.version}, {row.created_at[:16].replace('T', ' ')})"
          for row in listed.itertuples()}
st.dataframe(listed, hide_index=True, width="stretch")

ids = list(labels)
c1, c2 = st.columns(2)
first = c1.selectbox("Scenario A", ids, format_func=labels.get, key="sc_a")
second = c2.selectbox("Scenario B", ids, index=min(1, len(ids) - 1), format_func=labels.get,
                      key="sc_b")

loaded = {}
for tag, scenario_id in (("A", first), ("B", second)):
    try:
        loaded[tag] = store.load_scenario(int(scenario_id))
    except ValueError as error:
        common.show_error(error, what=f"Loading scenario {tag}")
        st.stop()

(params_a, sites_a, summary_a), (params_b, sites_b, summary_b) = loaded["A"], loaded["B"]
cells_a, cells_b = set(sites_a["cell"].astype("uint64")), set(sites_b["cell"].astype("uint64"))
common_cells = cells_a & cells_b

FIGURES = {"n_sites": ("New sites", "{:,.0f}"), "coverage_before": ("Coverage before", "{:.1%}"),
           "coverage_after": ("Coverage after", "{:.1%}"),
           "expected_sales": ("Expected sales (CNY)", "{:,.0f}"),
           "net_gain": ("Net gain (CNY)", "{:,.0f}"), "from_own": ("Taken from own stores", "{:,.0f}"),
           "opening_cost": ("Opening cost (CNY)", "{:,.0f}")}


def figure(summary: dict, key: str, pattern: str) -> str:
    """Format one figure of a saved run's summary, or a dash when it is missing."""
    value = summary.get(key)
    return pattern.format(value) if isinstance(value, int | float) else "–"


comparison = pd.DataFrame({
    "figure": [label for label, _ in FIGURES.values()] + ["Model", "Sites in common"],
    "A": [figure(summary_a, k, p) for k, (_, p) in FIGURES.items()]
         + [str(params_a.get("model", "–")), f"{len(common_cells)}"],
    "B": [figure(summary_b, k, p) for k, (_, p) in FIGURES.items()]
         + [str(params_b.get("model", "–")), f"{len(common_cells)}"],
})
st.subheader("Side by side")
st.dataframe(comparison, hide_index=True, width="stretch")

from xingtu import maps  # noqa: E402

everything = pd.concat([sites_a[["lat", "lng"]], sites_b[["lat", "lng"]]])
fmap = maps.base_map((float(everything["lat"].median()), float(everything["lng"].median())),
                     zoom=9, tiles=common.tiles())
only_a = sites_a[~sites_a["cell"].astype("uint64").isin(common_cells)]
only_b = sites_b[~sites_b["cell"].astype("uint64").isin(common_cells)]
both = sites_a[sites_a["cell"].astype("uint64").isin(common_cells)]
tooltip = {"region": "Region", "expected_sales": "Expected sales (CNY)"}
if len(only_a):
    maps.add_points(fmap, only_a, name="Only in A", marker="only_a", tooltip=tooltip)
if len(only_b):
    maps.add_points(fmap, only_b, name="Only in B", marker="only_b", tooltip=tooltip)
if len(both):
    maps.add_points(fmap, both, name="In both", marker="in_both", tooltip=tooltip)
maps.finish(fmap, fit_to=everything)
st.caption("Red: only in A. Blue: only in B. Purple: in both.")
common.show_map(fmap, key="sc_map")

# ---- manage and download scenario A -------------------------------------------------------------
st.subheader("Download, rename or delete the first scenario")


from app_pages.downloads import site_downloads  # noqa: E402
from xingtu.jobs.site_files import scenario_from_saved  # noqa: E402

name_a = str(listed.set_index("id").loc[first, "name"])
site_downloads(scenario_from_saved(name_a, params_a, sites_a, summary_a), key="sc_dl")

r1, r2 = st.columns([3, 1])
new_name = r1.text_input("New name", value=name_a, key="sc_new_name")
if r2.button("Rename", key="sc_rename", disabled=not new_name.strip() or new_name == name_a):
    # Saved under the new name, then the old version removed.
    store.save_scenario(new_name.strip(), params_a, sites_a, summary_a)
    store.delete_scenario(int(first))
    st.session_state["sc_done"] = f"Renamed **{name_a}** to **{new_name.strip()}**."
    st.rerun()
confirm = st.checkbox(f"Yes, delete **{name_a}**", key="sc_confirm_delete")
if st.button("Delete it", key="sc_delete", disabled=not confirm):
    store.delete_scenario(int(first))
    st.session_state["sc_done"] = f"Deleted **{name_a}**."
    st.rerun()
