"""Site selection page: weights, N, radius, budget and model; run; map, chosen sites and survey."""

from typing import get_args

import pandas as pd
import streamlit as st

from app_pages import common
from geodata.areas import check_candidate_sites
from optimizer import scoring, siting
from optimizer.calibration import calibrate
from optimizer.decisions import NOT_SURVEYED, SURVEY_STATUSES
from xingtu.jobs.siting import choose_sites, save_scenario, scenario_record, siting_decisions
from xingtu.maps import SCHEMES

st.title("Site selection")
st.caption("Score every cell, let a location model pick the new stores, read why each was chosen, "
           "then record the field survey. Every run obeys the survey: a rejected site is never "
           "chosen again, an approved one stays open.")

RUN_KEY = "siting_run"
CANDIDATES_KEY = "ss_candidate_table"
# Session key of the user's candidate list (checked table: lat/lng points or a cell column).
SURVEY_SAVED_KEY = "ss_survey_saved"
EVERYWHERE = "Everywhere"
MODEL_LABELS = {"mclp": "Maximal coverage (MCLP)", "p_median": "Closest to demand (p-median)",
                "market_share": "Market share vs competitors (Huff)"}
NOT_FACTORS = {"lat", "lng", "region", "own_store_count", "own_store_distance_km"}

layers = common.layers()
data = common.region()
resolution = common.default_resolution()
factor_choices = [c for c in layers.select_dtypes("number").columns if c not in NOT_FACTORS]

with st.sidebar:
    st.markdown("**Layers and weights**")
    chosen_layers = st.multiselect(
        "Layers", factor_choices,
        default=[c for c in scoring.DEFAULT_WEIGHTS if c in factor_choices],
        format_func=scoring.factor_label, key="ss_layers")
    weights = {
        column: st.slider(scoring.factor_label(column), -1.0, 1.0,
                          float(scoring.DEFAULT_WEIGHTS.get(column, 0.1)), 0.05,
                          key=f"ss_w_{column}")
        for column in chosen_layers
    }
    st.markdown("**Run**")
    n_new = int(st.number_input("New stores (N)", 1, 30, 5, key="ss_n"))
    radius_km = st.slider("Service radius (km)", 0.5, 10.0, 3.0, 0.5, key="ss_radius")
    use_budget = st.checkbox("Limit by budget", key="ss_use_budget")
    budget_m = st.number_input("Budget (million CNY)", 0.5, 500.0, 6.0, 0.5, key="ss_budget",
                               disabled=not use_budget,
                               help=f"Each new store costs "
                                    f"{siting.DEFAULT_OPENING_COST_CNY / 1e6:.1f} million CNY.")
    model = st.selectbox("Model", list(get_args(siting.SitingModel)),
                         format_func=lambda m: MODEL_LABELS.get(m, m), key="ss_model")
    st.markdown("**Where**")
    battlefields = st.session_state.get(common.SITING_AREAS_KEY)
    if battlefields and battlefields.get("data") != common.data_key():
        battlefields = None  # chosen on other data
    battlefield_option = f"Battlefields: {battlefields['label']}" if battlefields else None
    region_names = (sorted(layers["region"].dropna().astype(str).unique())
                    if "region" in layers else [])
    where_options = [EVERYWHERE, *([battlefield_option] if battlefield_option else []),
                     *region_names]
    where = st.selectbox("Site only in", where_options, key="ss_where",
                         index=1 if battlefield_option else 0,
                         help="A region, or the battlefields picked on the Battlefields page.")
    upload = st.file_uploader("Your candidate sites (CSV: lat,lng or cell)", type=["csv"],
                              key="ss_candidates_file",
                              help="Shops on offer: the run chooses only from these.")
    if upload is not None:
        try:
            st.session_state[CANDIDATES_KEY] = check_candidate_sites(pd.read_csv(upload),
                                                                     source=upload.name)
        except (ValueError, pd.errors.ParserError) as error:
            st.session_state.pop(CANDIDATES_KEY, None)
            common.show_error(error, what=f"Reading {upload.name}")
    candidate_table = st.session_state.get(CANDIDATES_KEY)
    if candidate_table is not None:
        use_list = st.checkbox(f"Choose only from my {len(candidate_table):,} candidates",
                               value=True, key="ss_use_candidates")
        if not use_list:
            candidate_table = None
    st.markdown("**Map**")
    map_layer = st.selectbox("Map layer", ["score", *factor_choices], key="ss_map_layer",
                             format_func=lambda c: "Site score" if c == "score"
                             else scoring.factor_label(c).capitalize(),
                             help="Colour the cells by the score or by any single layer.")
    map_scheme = st.selectbox("Classes", list(SCHEMES), format_func=SCHEMES.get,
                              key="ss_map_scheme",
                              help="How the colour classes of the map layer are cut.")
    tiles = common.tiles()


@st.cache_data(show_spinner=False, max_entries=32)
def scores_for(key: str, weights: tuple, _layers: pd.DataFrame) -> pd.DataFrame:
    """Score and factor contributions per cell (cached per data and weights)."""
    table = scoring.score_cells(_layers, weights=dict(weights))
    return pd.concat([table.score.rename("score"), table.contributions], axis=1)


@st.cache_resource(show_spinner=False, max_entries=4)
def calibration_for(key: str, _layers: pd.DataFrame, _stores: pd.DataFrame,
                    _competitors: pd.DataFrame | None) -> object:
    """Return the demand model calibrated on the own stores' sales (cached per data)."""
    return calibrate(_layers, _stores, _competitors)


if not weights:
    st.info("Choose at least one layer in the sidebar to score the cells.")
    st.stop()
try:
    scores = scores_for(common.data_key(), tuple(weights.items()), layers)
except ValueError as error:
    common.show_error(error, what="Scoring the cells")
    st.stop()

if st.button("Run site selection", type="primary", key="ss_run"):
    parameters = {"weights": weights, "n_new": n_new, "radius_km": radius_km, "model": model,
                  "budget": budget_m * 1e6 if use_budget else None, "where": where,
                  "candidate_list": None if candidate_table is None else len(candidate_table)}
    with st.status("Running the site selection…", expanded=True) as status:
        try:
            st.write("Building layers… done (" f"{len(layers):,} cells).")
            st.write("Reading the field survey and the team's decisions…")
            decisions = siting_decisions(
                layers, statuses=common.store().survey_statuses(), candidates=candidate_table,
                regions=[where] if where in region_names else None,
                within=battlefields["cells"] if battlefields and where == battlefield_option
                else None)
            st.write("Calibrating the demand model on the own stores' sales…")
            calibration = calibration_for(common.data_key(), layers, data.stores,
                                          getattr(data, "competitors", None))
            st.write(calibration.message)
            st.write(f"Building and solving the {MODEL_LABELS.get(model, model)} model…")
            with common.live_gap():
                run = choose_sites(
                    layers, data.stores, getattr(data, "competitors", None), weights=weights,
                    model=model, n_new=n_new, radius_km=radius_km, budget=parameters["budget"],
                    calibration=calibration, decisions=decisions)
        except ValueError as error:
            status.update(label="The site selection did not finish", state="error")
            common.show_error(error, what="Site selection")
            st.stop()
        st.write(run.report.summary())
        if run.decisions is not None:
            st.write(run.decisions.summary())
        status.update(label=f"Done: {len(run.sites)} new sites", state="complete", expanded=False)
    st.session_state[RUN_KEY] = {"run": run, "parameters": parameters}

saved = st.session_state.get(RUN_KEY)
run = saved["run"] if saved else None
if run is not None:
    common.show_warnings(run.warnings)

# ---- map ------------------------------------------------------------------------------------
from xingtu import maps  # noqa: E402  (imported where the map is drawn)

fmap = maps.base_map(common.region_center(layers), zoom=9, tiles=tiles)
if map_layer == "score":
    maps.add_cells(fmap, scores[["score"]], "score", name="Site score", legend="Site score",
                   tooltip={"score": "Score"}, how={"score": "mean"}, scheme=map_scheme)
else:
    layer_label = scoring.factor_label(map_layer).capitalize()
    maps.add_cells(fmap, layers[[map_layer]].join(scores[["score"]]), map_layer,
                   name=layer_label, tooltip={map_layer: layer_label, "score": "Score"},
                   how={map_layer: "sum" if maps.unit_of(map_layer) == "count" else "mean",
                        "score": "mean"}, scheme=map_scheme)
maps.add_points(fmap, data.stores, name="Our stores", marker="own_store",
                title="name" if "name" in data.stores else None,
                tooltip={"channel": "Channel", "annual_sales": "Annual sales (CNY)"})
competitors = getattr(data, "competitors", None)
if competitors is not None and len(competitors):
    maps.add_points(fmap, competitors, name="Competitors", marker="competitor",
                    title="brand" if "brand" in competitors else None, show=False)
free = layers.get("own_store_count", pd.Series(0, index=layers.index)).fillna(0).eq(0)
candidates = scores.loc[free[free].index, "score"].nlargest(siting.DEFAULT_MAX_CANDIDATES)
maps.add_points(fmap, layers.loc[candidates.index, ["lat", "lng"]].assign(score=candidates),
                name="Candidate cells", marker="candidate", tooltip={"score": "Score"},
                show=False)
if candidate_table is not None and {"lat", "lng"} <= set(candidate_table.columns):
    maps.add_points(fmap, candidate_table, name="Your candidate sites", marker="user_candidate")
store = common.store()
statuses = store.survey_statuses()
surveyed_cells = pd.DataFrame()
if len(statuses):
    parsed = statuses["site_id"].map(common.cell_from_text)
    surveyed_cells = statuses.assign(cell=parsed).dropna(subset=["cell"])
    surveyed_cells = surveyed_cells[surveyed_cells["cell"].isin(layers.index)]
    for status_name in ("approved", "surveyed", "rejected", "candidate"):
        rows = surveyed_cells[surveyed_cells["status"] == status_name]
        if len(rows):
            maps.add_points(
                fmap, layers.loc[rows["cell"].to_numpy(), ["lat", "lng"]].assign(
                    status=rows["status"].to_numpy(), note=rows["note"].to_numpy(),
                    user=rows["user"].to_numpy()),
                name=f"Survey: {status_name}",
                marker=status_name if status_name in maps.MARKERS else "candidate",
                tooltip={"status": "Survey", "note": "Note", "user": "By"})
if run is not None and len(run.sites):
    maps.add_points(fmap, run.sites, name="Chosen sites", marker="chosen",
                    title="site", tooltip={"region": "Region", "expected_sales": "Expected sales",
                                           "cannibalisation_rate": "Cannibalisation",
                                           "survey_status": "Survey"})
maps.finish(fmap)  # the map key lists every layer with its symbol
clicked = common.show_map(fmap, key="ss_map")

cell = common.clicked_cell(clicked, resolution)
if cell is not None:
    if cell in layers.index:
        with st.expander(f"Cell {common.cell_text(cell)}", expanded=True):
            explained = scoring.score_cells(layers, weights=weights)
            st.write(explained.explain(cell))
            profile = layers.loc[cell].drop(labels=["lat", "lng"], errors="ignore")
            st.dataframe(profile.rename("value").to_frame().astype(str), width="stretch")
            p1, p2 = st.columns([2, 1])
            cell_status = p1.selectbox("Field survey status of this cell",
                                       ["candidate", "surveyed", "approved", "rejected"],
                                       key="ss_cell_status")
            if p2.button("Record", key="ss_cell_record"):
                store.set_survey_status(common.cell_text(cell), cell_status)
                saved_status = store.survey_statuses().set_index("site_id")["status"]
                st.success(f"Saved: {common.cell_text(cell)} is "
                           f"**{saved_status.get(common.cell_text(cell))}**; the next run "
                           "obeys it.")
    else:
        st.caption("No data in the clicked cell.")

# ---- what-if on one site ---------------------------------------------------------------------
WHAT_IF_KEY = "ss_what_if"


def show_what_if(where: dict) -> None:
    """Compute and show the Huff what-if of a new store at ``where`` (a cell or lat/lng)."""
    from optimizer.what_if import site_what_if

    competitors_now = getattr(data, "competitors", None)
    try:
        calibration = calibration_for(common.data_key(), layers, data.stores, competitors_now)
        result = site_what_if(layers, data.stores, competitors_now, calibration=calibration,
                              **where)
    except ValueError as error:
        common.show_error(error, what="What-if")
        return
    w1, w2, w3, w4 = st.columns(4)
    w1.metric("Expected sales", f"{result.expected_sales:,.0f} CNY")
    w2.metric("Taken from own stores", f"{result.from_own:,.0f} CNY")
    w3.metric("From competitors", f"{result.from_competitors:,.0f} CNY")
    w4.metric("Net gain", f"{result.net_gain:,.0f} CNY")
    st.caption(result.summary())
    catchment = result.catchment[result.catchment["probability"] > 0.001]
    if len(catchment):
        from xingtu import maps as what_if_maps

        wmap = what_if_maps.base_map((result.lat, result.lng), zoom=11, tiles=tiles)
        what_if_maps.add_cells(wmap, catchment[["probability", "captured"]], "probability",
                               name="Catchment", legend="Visit probability",
                               tooltip={"probability": "Visit probability",
                                        "captured": "Captured (CNY)"},
                               how={"probability": "mean", "captured": "sum"})
        what_if_maps.add_points(wmap, pd.DataFrame({"lat": [result.lat], "lng": [result.lng],
                                                    "site": [result.site]}),
                                name="What-if site", marker="what_if", title="site")
        what_if_maps.finish(wmap)
        common.show_map(wmap, key="ss_what_if_map", height=380)
    if len(result.own_stores):
        st.dataframe(result.own_stores, width="stretch", column_config={
            "sales_before": st.column_config.NumberColumn("Sales before (CNY)", format="%,.0f"),
            "lost": st.column_config.NumberColumn("Lost to the site (CNY)", format="%,.0f"),
            "share_lost": st.column_config.NumberColumn("Share lost", format="percent")})


with st.expander("What if we open a store here?", expanded=WHAT_IF_KEY in st.session_state):
    st.caption("Click a cell on the map, or type a position: the Huff model's expected sales "
               "of a new store there, what it takes from our stores and from competitors, and "
               "where its customers come from.")
    centre = common.region_center(layers)
    q1, q2, q3 = st.columns([2, 2, 1])
    wi_lat = q1.number_input("Latitude", -90.0, 90.0, float(centre[0]), 0.001, format="%.5f",
                             key="ss_wi_lat")
    wi_lng = q2.number_input("Longitude", -180.0, 180.0, float(centre[1]), 0.001,
                             format="%.5f", key="ss_wi_lng")
    if q3.button("What if here?", key="ss_wi_point"):
        st.session_state[WHAT_IF_KEY] = {"lat": float(wi_lat), "lng": float(wi_lng)}
    if cell is not None and cell in layers.index and st.button(
            f"What if at the clicked cell {common.cell_text(cell)}?", key="ss_wi_cell"):
        st.session_state[WHAT_IF_KEY] = {"cell": int(cell)}
    if WHAT_IF_KEY in st.session_state:
        show_what_if(st.session_state[WHAT_IF_KEY])

# ---- results --------------------------------------------------------------------------------
if run is None:
    st.info("Set the layers and weights, then **Run site selection**. The map shows the score "
            "of every cell; click a cell for its profile.")
    st.stop()

sites = run.sites
c1, c2, c3, c4 = st.columns(4)
c1.metric("Coverage", f"{run.coverage_after:.1%}",
          f"{100 * (run.coverage_after - run.coverage_before):+.1f} points")
c2.metric("Expected sales of new sites", f"{sites['expected_sales'].sum() / 1e6:,.1f} M CNY")
c3.metric("Net gain", f"{sites['net_gain'].sum() / 1e6:,.1f} M CNY")
taken = sites["from_own"].sum() / max(sites["expected_sales"].sum(), 1e-9)
c4.metric("Taken from own stores", f"{taken:.1%}")
st.caption(run.report.summary())
if run.decisions is not None:
    st.caption(f"Decisions: {run.decisions.summary()}")
if not run.report.is_optimal:
    st.warning("The solver stopped before proving this choice optimal; a better one may exist.")

factor_columns = [c for c in sites.columns if c.startswith("score_") and c != "score_rank"]
table = sites.assign(cell=sites["cell"].map(common.cell_text))
st.subheader("Chosen sites and why")
st.dataframe(
    table[["site", "cell", "region", "survey_status", "score", "expected_sales", "from_own", "net_gain",
           "cannibalisation_rate", "reasons", *factor_columns]],
    hide_index=True, width="stretch",
    column_config={
        "survey_status": st.column_config.TextColumn("Survey"),
        "score": st.column_config.NumberColumn("Score", format="%.3f"),
        "expected_sales": st.column_config.NumberColumn("Expected sales (CNY)", format="%,.0f"),
        "from_own": st.column_config.NumberColumn("From own stores", format="%,.0f"),
        "net_gain": st.column_config.NumberColumn("Net gain", format="%,.0f"),
        "cannibalisation_rate": st.column_config.NumberColumn("Cannibalisation", format="percent"),
        "reasons": st.column_config.TextColumn("Reasons", width="large"),
        **{c: st.column_config.NumberColumn(scoring.factor_label(c.removeprefix("score_")),
                                            format="%+.3f") for c in factor_columns},
    })
from app_pages.downloads import site_downloads  # noqa: E402

site_downloads(scenario_record(f"{run.model}-{len(sites)}-sites", run, saved["parameters"]),
               key="ss_dl")

# ---- field survey ---------------------------------------------------------------------------
st.subheader("Field survey")
st.caption("Record what the survey found: **rejected** sites are never chosen again, "
           "**approved** ones stay open in every run, **surveyed** ones compete as usual.")
confirmed = st.session_state.pop(SURVEY_SAVED_KEY, None)
if confirmed:
    st.success(confirmed)
latest = statuses.set_index("site_id") if len(statuses) else pd.DataFrame(
    columns=["status", "note", "user", "updated_at"])
survey = pd.DataFrame({"cell": table["cell"], "region": table["region"]})
for column in ("status", "note", "user", "updated_at"):
    survey[column] = table["cell"].map(latest[column]) if len(latest) else None
survey["status"] = survey["status"].fillna(NOT_SURVEYED)
survey["updated_at"] = pd.to_datetime(survey["updated_at"], errors="coerce")
st.dataframe(survey, hide_index=True, width="stretch", column_config={
    "cell": "Cell", "region": "Region", "status": "Status", "note": "Note", "user": "By",
    "updated_at": st.column_config.DatetimeColumn("Date", format="YYYY-MM-DD HH:mm")})
with st.form("ss_survey"):
    f1, f2 = st.columns(2)
    target = f1.selectbox("Site", table["cell"].tolist(), key="ss_survey_cell")
    new_status = f2.selectbox("Status", list(SURVEY_STATUSES), key="ss_survey_status")
    note = st.text_input("Note", key="ss_survey_note")
    user = st.text_input("Your name", key="ss_survey_user")
    if st.form_submit_button("Save survey status"):
        store.set_survey_status(target, new_status, note=note, user=user)
        stored = store.survey_statuses().set_index("site_id").loc[target]
        st.session_state[SURVEY_SAVED_KEY] = (
            f"Saved: {target} is **{stored['status']}**"
            + (f" ({stored['note']})" if stored["note"] else "")
            + (f" by {stored['user']}" if stored["user"] else "")
            + ". The next run obeys it.")
        st.rerun()
with st.expander("Survey history"):
    history = store.survey_statuses(history=True)
    if len(history):
        st.dataframe(history, hide_index=True, width="stretch")
    else:
        st.caption("No survey recorded yet.")

# ---- save as a scenario -----------------------------------------------------------------------
st.subheader("Save this run as a scenario")
s1, s2 = st.columns([3, 1])
name = s1.text_input("Scenario name", value=f"{run.model}-{len(sites)}-sites", key="ss_name")
if s2.button("Save scenario", key="ss_save"):
    try:
        scenario_id = save_scenario(store, scenario_record(name, run, saved["parameters"]))
    except ValueError as error:
        common.show_error(error, what="Saving the scenario")
    else:
        st.success(f"Saved as scenario **{name}** (id {scenario_id}).")
