"""Scenarios page: saved siting runs, compared side by side on one map, reopened for more work.

Compare any number of them (every setting and headline figure, with a column saying where they
differ; all their sites on one map, one marker per scenario), then open one in Site selection
(its settings into the controls, its result on screen), download, rename or delete it.
"""

import pandas as pd
import streamlit as st

from app_pages import common
from xingtu import maps
from xingtu.jobs.siting import (
    SETTING_LABELS,
    data_fingerprint,
    data_status,
    saved_settings,
    setting_text,
    shown_scenario,
)

st.title("Scenarios")
st.caption("Siting runs saved from the Site selection page. Compare several side by side: their "
           "settings, coverage, expected sales and cost, and their sites on one map; open one "
           "in Site selection to carry on from it.")

done = st.session_state.pop("sc_done", None)
if done:
    st.success(done)
store = common.store()
listed = store.list_scenarios()
if listed.empty:
    st.info("No scenario saved yet. Run a site selection and save it under a name.")
    st.stop()

labels = {int(row.id): f"{row.name} (v{row.version}, {common.when_text(row.created_at)})"
          for row in listed.itertuples()}
short = {int(row.id): f"{row.name} v{row.version}" for row in listed.itertuples()}
created = {int(row.id): str(row.created_at) for row in listed.itertuples()}
st.dataframe(listed.assign(created_at=listed["created_at"].map(common.when_text)),
             hide_index=True, width="stretch",
             column_config={"id": "Id", "name": "Name", "version": "Version",
                            "created_at": "Saved"})

ids = list(labels)
if [i for i in st.session_state.get("sc_compare", []) if i not in ids]:
    st.session_state.pop("sc_compare")  # a compared scenario was deleted
compared = st.multiselect("Scenarios to compare", ids, default=ids[:min(3, len(ids))],
                          format_func=lambda i: labels[i], key="sc_compare",
                          help="Any number; each gets a column and its own marker on the map.")

loaded: dict[int, tuple[dict, pd.DataFrame, dict]] = {}
for scenario_id in compared:
    try:
        loaded[scenario_id] = store.load_scenario(int(scenario_id))
    except ValueError as error:
        common.show_error(error, what=f"Loading scenario {labels[scenario_id]}")
        st.stop()

FIGURES = {"n_sites": ("New sites", "{:,.0f}"), "coverage_before": ("Coverage before", "{:.1%}"),
           "coverage_after": ("Coverage after", "{:.1%}"),
           "expected_sales": ("Expected sales (CNY)", "{:,.0f}"),
           "net_gain": ("Net gain (CNY)", "{:,.0f}"), "from_own": ("Taken from own stores", "{:,.0f}"),
           "opening_cost": ("Opening cost (CNY)", "{:,.0f}"),
           "worst_distance_km": ("Worst distance (km)", "{:,.2f}")}


def figure(summary: dict, key: str, pattern: str) -> str:
    """Format one figure of a saved run's summary, or a dash when it is missing."""
    value = summary.get(key)
    return pattern.format(value) if isinstance(value, int | float) else "–"


if compared:
    cells = {i: set(loaded[i][1]["cell"].astype("uint64")) for i in compared}
    in_all = set.intersection(*cells.values())
    rows: dict[str, dict[int, str]] = {"Saved": {i: common.when_text(created[i])
                                                 for i in compared}}
    fingerprint_now = data_fingerprint(common.data_key())
    rows["Made on"] = {i: data_status(str(loaded[i][2].get("data_fingerprint", "")),
                                      fingerprint_now) for i in compared}
    for key, label in SETTING_LABELS.items():
        rows[label[0].upper() + label[1:]] = {
            i: setting_text(key, saved_settings(loaded[i][0]).get(key)) for i in compared}
    for key, (label, pattern) in FIGURES.items():
        rows[label] = {i: figure(loaded[i][2], key, pattern) for i in compared}
    rows["Solve status"] = {i: str(loaded[i][2].get("status", "–")) for i in compared}
    rows["Sites in common"] = {i: f"{len(in_all)}" for i in compared}
    rows["Sites in no other"] = {
        i: f"{len(cells[i] - set().union(*(cells[j] for j in compared if j != i)))}"
        for i in compared}
    comparison = pd.DataFrame({"figure": list(rows)})
    names = {i: short[i] for i in compared}
    for i in compared:
        comparison[names[i]] = [rows[r][i] for r in rows]
    comparison["differs"] = ["" if r == "Saved" or len({rows[r][i] for i in compared}) == 1
                             else "differs" for r in rows]
    st.subheader("Side by side")
    st.dataframe(comparison, hide_index=True, width="stretch",
                 height=35 * (len(comparison) + 1) + 3,  # every row in view, no scrolling
                 column_config={"figure": "", "differs": "Difference"})

    everything = pd.concat([loaded[i][1][["lat", "lng"]] for i in compared])
    if len(everything):
        fmap = maps.base_map((float(everything["lat"].median()),
                              float(everything["lng"].median())), zoom=9, tiles=common.tiles())
        tooltip = {"region": "Region", "expected_sales": "Expected sales (CNY)"}
        for i, style in zip(compared, maps.series_styles(len(compared)), strict=True):
            sites_i = loaded[i][1]
            if len(sites_i):
                maps.add_points(fmap, sites_i.assign(scenario=names[i]), name=names[i],
                                symbol=style, tooltip={"scenario": "Scenario", **tooltip},
                                title="scenario")
        maps.finish(fmap, fit_to=everything)
        st.caption("One marker per scenario (see the map key); a site chosen in several "
                   "scenarios shows each of their markers on the same spot, nested (the "
                   "first scenario's the largest).")
        common.show_map(fmap, key="sc_map")

# ---- open, manage and download one scenario -----------------------------------------------------
st.subheader("Open, download, rename or delete a scenario")
first = st.selectbox("Scenario", ids, format_func=lambda i: labels[i], key="sc_a")
if first is None:  # no scenario saved: the page stopped above
    st.stop()
try:
    params_a, sites_a, summary_a = loaded.get(first) or store.load_scenario(int(first))
except ValueError as error:
    common.show_error(error, what=f"Loading scenario {labels[first]}")
    st.stop()
name_a = str(listed.set_index("id").loc[first, "name"])
if st.button("Open in Site selection", key="sc_open", type="primary",
             help="Its settings go into the Site selection controls and its sites on screen."):
    common.set_controls(common.SITE_CONTROLS_KEY, common.site_controls(saved_settings(params_a)))
    st.session_state[common.SITE_RUN_KEY] = shown_scenario(name_a, params_a, sites_a,
                                                           summary_a, created[first])
    st.switch_page("app_pages/site_selection.py")


from app_pages.downloads import site_downloads  # noqa: E402
from xingtu.jobs.site_files import scenario_from_saved  # noqa: E402

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
