"""Repair shops page: where new repair shops close the gaps left by good (well-rated) shops."""

from typing import cast

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import common
from optimizer import repair_shops as repair
from optimizer import siting
from optimizer.after_sales import AfterSalesAssessment
from optimizer.repair_shops import RepairObjective, RepairSitingRun
from xingtu.export import csv_bytes
from xingtu.jobs.repair import records_assessment, site_repair_shops

st.title("Repair shops")
st.caption("Expected repairs come from the devices sold in each cell (by model and age when repair "
           "records are in use). Only shops rated at or above the threshold count as covering "
           "demand; with repair records, each shop's rating is computed from its history.")

RUN_KEY = "repair_run"
OBJECTIVES = {"coverage": "Most repairs covered with N new shops",
              "fewest": "Fewest new shops to cover every area"}

with st.sidebar:
    radius_km = st.slider("Service radius (km)", 1.0, 15.0, 5.0, 0.5, key="rs_radius")
    min_rating = st.slider("Minimum rating of a shop that counts", 1.0, 5.0,
                           float(repair.DEFAULT_MIN_RATING), 0.1, key="rs_rating")
    objective = st.radio("Goal", list(OBJECTIVES), format_func=OBJECTIVES.get, key="rs_goal")
    n_new = int(st.number_input("New shops (N)", 1, 100, 5, key="rs_n",
                                disabled=objective != "coverage"))
    tiles = common.tiles()

layers = common.layers()
shops = common.region().repair_shops

# --- after-sales: ratings and flags from repair records ------------------------------------
GRADE_COLORS = {"A": "#1a9850", "B": "#91cf60", "C": "#fee08b", "D": "#fc8d59", "E": "#d73027"}


@st.cache_resource(show_spinner="Rating the repair shops from their records…", max_entries=2)
def _after_sales(key: str) -> AfterSalesAssessment | None:
    """Ratings, flags and expected repairs from the demo repair records (None without them)."""
    if "repair_shops" in common.uploads():
        return None
    return records_assessment(demo=True, repairs=None, devices=None, shops=None,
                              resolution=common.default_resolution())


with st.sidebar:
    use_records = st.toggle("Ratings from repair records", value=True, key="rs_records",
                            help="Rate each shop from its repair history and expect repairs from "
                                 "the devices sold by model and age; off: the given ratings and "
                                 "devices sold x 8 %.")
assessment = _after_sales(common.data_key()) if use_records else None
computed = assessment.ratings.ratings if assessment is not None else None
expected = assessment.expected_repairs if assessment is not None else None
if assessment is not None:
    grades = assessment.ratings.table.set_index("shop_id")[["grade", "reasons"]]
    shops = repair.shops_with_ratings(shops, computed).join(grades, on="shop_id")


def _show_after_sales() -> None:
    """Return the ratings table, the flagged shops and the flagged claims."""
    if assessment is None:
        st.caption("Ratings as given (no repair records in use).")
        return
    st.subheader("Shop ratings from repair records")
    st.text(assessment.summary())
    table = assessment.ratings.table
    given = common.region().repair_shops.set_index("shop_id")["rating"]
    shown = table[["shop_id", "repairs", "rating", "grade", "reasons"]].assign(
        given_rating=table["shop_id"].map(given))
    st.dataframe(shown, hide_index=True, width="stretch")
    st.download_button("Download ratings (CSV)", table.to_csv(index=False).encode("utf-8"),
                       file_name="repair_shop_ratings.csv", mime="text/csv", key="rs_ratings_dl")
    st.subheader("Flagged shops and claims")
    flagged = assessment.anomalies.flagged_shops
    st.caption(f"Flagged at a robust z-score of {assessment.anomalies.threshold:g} or more; "
               "each row says why.")
    st.dataframe(flagged[["rank", "shop_id", "repairs", "score", "signal", "reason"]],
                 hide_index=True, width="stretch")
    claims = assessment.anomalies.claims
    st.dataframe(claims.head(500), hide_index=True, width="stretch")
    st.download_button("Download flagged claims (CSV)",
                       claims.to_csv(index=False).encode("utf-8"),
                       file_name="flagged_claims.csv", mime="text/csv", key="rs_claims_dl")

if st.button("Run repair-shop siting", type="primary", key="rs_run"):
    with st.status("Running the repair-shop siting…", expanded=True) as status:
        st.write(f"Building layers… done ({len(layers):,} cells).")
        st.write("Building and solving the location model…")
        try:
            with common.live_gap():
                new_run = site_repair_shops(layers, shops, radius_km=radius_km,
                                            min_rating=min_rating,
                                            n_new=n_new if objective == "coverage" else None,
                                            objective=cast(RepairObjective, objective),
                                            assessment=assessment)
        except ValueError as error:
            status.update(label="The repair-shop siting did not finish", state="error")
            common.show_error(error, what="Repair-shop siting")
            st.stop()
        st.write(new_run.report.summary())
        status.update(label=f"Done: {len(new_run.new_shops)} new shops", state="complete",
                      expanded=False)
    st.session_state[RUN_KEY] = new_run

run: RepairSitingRun | None = st.session_state.get(RUN_KEY)
if run is not None:
    common.show_warnings(run.warnings)

from xingtu import maps  # noqa: E402

demand = (repair.repair_demand(layers) if expected is None else
          expected.reindex(layers.index, fill_value=0.0)).rename("repairs").to_frame()
fmap = maps.base_map(common.region_center(layers), zoom=9, tiles=tiles)
maps.add_cells(fmap, demand, "repairs", name="Expected repairs a year",
               tooltip={"repairs": "Repairs a year"})
if run is not None:
    sites = pd.concat([run.good_shops[["lat", "lng"]], run.new_shops[["lat", "lng"]]])
    covered = siting.covered_mask(layers["lat"].to_numpy(float), layers["lng"].to_numpy(float),
                                  sites["lat"].to_numpy(float), sites["lng"].to_numpy(float),
                                  radius_km)
    gaps = demand[(~np.asarray(covered)) & (demand["repairs"].to_numpy() > 0)]
    if len(gaps):
        maps.add_cells(fmap, gaps, "repairs", name="Not covered after", legend="",
                       colors=["#636363"], tooltip={"repairs": "Repairs a year (not covered)"},
                       show=False)
    maps.add_radius_circles(fmap, run.new_shops, radius_km, name="Reach of new shops",
                            color=maps.REACH_COLOR, dashed=True)
    good, poor = run.good_shops, run.poor_shops
else:
    rated = shops.assign(lat=shops.geometry.y, lng=shops.geometry.x)
    good, poor = rated[rated["rating"] >= min_rating], rated[rated["rating"] < min_rating]
point_tooltip = {"rating": "Rating"}
if assessment is not None:
    good, poor = (frame.drop(columns=["grade", "reasons"], errors="ignore").join(
        grades, on="shop_id") for frame in (good, poor))
    point_tooltip = {"rating": "Rating", "grade": "Grade", "reasons": "Why"}
    located = shops.assign(lat=shops.geometry.y, lng=shops.geometry.x)
    for grade, color in GRADE_COLORS.items():
        of_grade = located[located["grade"] == grade]
        if len(of_grade):
            maps.add_points(fmap, of_grade, name=f"Grade {grade} shops", color=color, radius=7,
                            title="name" if "name" in of_grade else None, show=False,
                            tooltip={"rating": "Rating", "grade": "Grade", "reasons": "Why"})
if len(good):
    maps.add_radius_circles(fmap, good, radius_km, name="Reach of good shops", show=False)
    maps.add_points(fmap, good, name=f"Shops rated ≥ {min_rating:g}", marker="good_shop",
                    title="name" if "name" in good else None, tooltip=point_tooltip)
if len(poor):
    maps.add_points(fmap, poor, name=f"Shops rated < {min_rating:g} (do not count)",
                    marker="poor_shop", title="name" if "name" in poor else None,
                    tooltip=point_tooltip)
if run is not None and len(run.new_shops):
    maps.add_points(fmap, run.new_shops, name="New shops", marker="new_shop",
                    title="shop", tooltip={"region": "Region", "new_repairs_covered":
                                           "Newly covered repairs a year"})
maps.finish(fmap)
common.show_map(fmap, key="rs_map")

if run is None:
    st.info("Set the radius and rating threshold, then **Run repair-shop siting**.")
    _show_after_sales()
    st.stop()

c1, c2, c3 = st.columns(3)
c1.metric("Covered by a good shop", f"{run.coverage_after:.1%}",
          f"{100 * (run.coverage_after - run.coverage_before):+.1f} points")
c2.metric("New shops", f"{len(run.new_shops)}")
c3.metric("Today if poor shops counted", f"{run.coverage_if_poor_counted:.1%}",
          help="What a map that ignores ratings would show.")
st.caption(run.report.summary())
if not run.report.is_optimal:
    st.warning("The solver stopped before proving this choice optimal; a better one may exist.")
st.text(run.summary())
table = run.new_shops.assign(cell=run.new_shops["cell"].map(common.cell_text))
st.dataframe(table.drop(columns=["lat", "lng"], errors="ignore"), hide_index=True,
             width="stretch")
st.download_button("Download new shops (CSV)", csv_bytes(table),
                   file_name="new_repair_shops.csv", mime="text/csv", key="rs_download")
_show_after_sales()
