"""Site selection page: model, weights, N, radius, budget; run; map, chosen sites and survey.

The controls and the last result outlive a page switch (copied under :data:`CONTROLS_KEY` and
:data:`RUN_KEY`) and a browser reload (the last run, the controls and the uploaded candidate
list are kept in the database and restored in a new session). A result made with other
settings or on other data than the page now shows is marked stale, saying what differs.
"""

from typing import cast

import pandas as pd
import streamlit as st

from app_pages import common
from geodata.areas import check_candidate_sites
from optimizer import scoring, siting
from optimizer.calibration import Calibration, calibrate
from optimizer.decisions import NOT_SURVEYED, SURVEY_STATUSES, SurveyStatus
from optimizer.errors import XingtuError
from xingtu.jobs.siting import (
    EVERYWHERE,
    SITING_MODELS,
    ShownRun,
    candidate_digest,
    choose_sites,
    data_fingerprint,
    data_status,
    keep_candidate_list,
    keep_page_controls,
    load_last_run,
    load_page_state,
    save_last_run,
    save_scenario,
    setting_differences,
    shown_record,
    shown_run,
    siting_decisions,
    stale_reasons,
)
from xingtu.maps import SCHEMES, Scheme

st.title("Site selection")
st.caption("Score every cell, let a location model pick the new stores, read why each was chosen, "
           "then record the field survey. Every run obeys the survey: a rejected site is never "
           "chosen again, an approved one stays open.")
if common.show_kept_data("ss"):
    st.rerun()

RUN_KEY = common.SITE_RUN_KEY
CONTROLS_KEY = common.SITE_CONTROLS_KEY
FAILED_KEY = "ss_failed"
# Session key of the last failed run: {"error": exception, "parameters": dict}.
LOADED_KEY = "ss_last_run_loaded"
# Set once the database's last run was looked for in this browser session.
CANDIDATES_KEY = "ss_candidate_table"
# Session key of the user's candidate list (checked table: lat/lng points or a cell column).
SURVEY_SAVED_KEY = "ss_survey_saved"
OFFERED_KEY = common.SITING_AREAS_KEY + "_offered"
# Session key of the battlefields last offered first under "Site only in" (kept with the
# controls, so a new session offers battlefields first only if chosen since).
SAVED_CONTROLS_KEY, SAVED_CANDIDATES_KEY = "ss_controls_saved", "ss_candidates_saved"
# Session keys of the controls and the candidate list's digest last kept in the database.
NOT_FACTORS = {"lat", "lng", "region", "own_store_count", "own_store_distance_km"}
DEFAULTS = {"ss_n": 5, "ss_radius": 3.0, "ss_use_budget": False, "ss_budget": 6.0,
            "ss_model": "mclp", "ss_capacity": 100.0, "ss_use_spacing": False,
            "ss_spacing": 2.0, "ss_where": EVERYWHERE, "ss_use_candidates": True,
            "ss_map_layer": "score", "ss_map_scheme": next(iter(SCHEMES))}


layers = common.layers()
data = common.region()
resolution = common.default_resolution()
fingerprint = data_fingerprint(common.data_key())
store = common.store()
factor_choices = [c for c in layers.select_dtypes("number").columns if c not in NOT_FACTORS]

if not st.session_state.get(LOADED_KEY):
    # A new browser session: the last run, the controls and the candidate list again (what the
    # session has already, e.g. a scenario opened on its page, stays).
    st.session_state[LOADED_KEY] = True
    last, kept = load_last_run(store), load_page_state(store)
    if last is not None and RUN_KEY not in st.session_state:
        st.session_state[RUN_KEY] = last
    if CONTROLS_KEY not in st.session_state:
        if kept is not None and kept.controls:
            common.set_controls(CONTROLS_KEY, kept.controls)
            st.session_state[SAVED_CONTROLS_KEY] = kept.controls
        elif last is not None:
            common.set_controls(CONTROLS_KEY, common.site_controls(last.parameters))
    if kept is not None and kept.candidates is not None \
            and CANDIDATES_KEY not in st.session_state:
        st.session_state[CANDIDATES_KEY] = kept.candidates
        st.session_state[SAVED_CANDIDATES_KEY] = candidate_digest(kept.candidates)

common.restore_controls(CONTROLS_KEY, {
    **DEFAULTS, "ss_layers": [c for c in scoring.DEFAULT_WEIGHTS if c in factor_choices]})
st.session_state["ss_layers"] = [c for c in st.session_state["ss_layers"] if c in factor_choices]
common.valid_choice("ss_model", list(SITING_MODELS), "mclp")
common.valid_choice("ss_map_scheme", list(SCHEMES), DEFAULTS["ss_map_scheme"])

with st.sidebar:
    st.markdown("**Model**")
    model = st.selectbox("Model", list(SITING_MODELS), key="ss_model",
                         format_func=lambda m: SITING_MODELS[m].label)
    choice = SITING_MODELS[model]
    st.caption(choice.summary)
    st.markdown("**Layers and weights**")
    chosen_layers = st.multiselect("Layers", factor_choices, format_func=scoring.factor_label,
                                   key="ss_layers")
    common.restore_controls(CONTROLS_KEY, {
        f"ss_w_{c}": float(scoring.DEFAULT_WEIGHTS.get(c, 0.1)) for c in chosen_layers})
    weights = {column: st.slider(scoring.factor_label(column), -1.0, 1.0, step=0.05,
                                 key=f"ss_w_{column}")
               for column in chosen_layers}
    st.markdown("**Run**")
    n_new = int(st.number_input("New stores (N)", 1, 30, key="ss_n", disabled=not choice.uses_n,
                                help=None if choice.uses_n else
                                "Set cover opens as many as full coverage needs."))
    radius_km = st.slider("Service radius (km)", 0.5, 10.0, step=0.5, key="ss_radius",
                          help="Coverage figures of every model; what the coverage models "
                               "must reach.")
    capacity_m = None
    if choice.uses_capacity:
        capacity_m = st.number_input("Capacity of a store (million CNY a year)", 1.0, 10_000.0,
                                     step=10.0, key="ss_capacity",
                                     help="Sales potential one store (own or new) serves at "
                                          "most.")
    use_budget = st.checkbox("Limit by budget", key="ss_use_budget")
    budget_m = st.number_input("Budget (million CNY)", 0.5, 500.0, step=0.5, key="ss_budget",
                               disabled=not use_budget,
                               help=f"Each new store costs "
                                    f"{siting.DEFAULT_OPENING_COST_CNY / 1e6:.1f} million CNY.")
    use_spacing = st.checkbox("Keep new stores apart", key="ss_use_spacing")
    spacing_km = st.number_input("Minimum spacing (km)", 0.1, 20.0, step=0.1, key="ss_spacing",
                                 disabled=not use_spacing,
                                 help="No two new stores closer than this.")
    st.markdown("**Where**")
    battlefields = common.siting_areas()  # a new session: those kept in the database
    if battlefields and battlefields.get("data") != common.data_key():
        battlefields = None  # chosen on other data
    battlefield_option = f"Battlefields: {battlefields['label']}" if battlefields else None
    region_names = (sorted(layers["region"].dropna().astype(str).unique())
                    if "region" in layers else [])
    where_options = [EVERYWHERE, *([battlefield_option] if battlefield_option else []),
                     *region_names]
    if battlefield_option and st.session_state.get(OFFERED_KEY) != battlefield_option:
        # Battlefields just chosen on their page: offered first.
        st.session_state[OFFERED_KEY] = battlefield_option
        st.session_state["ss_where"] = battlefield_option
    common.valid_choice("ss_where", where_options, EVERYWHERE)
    where = st.selectbox("Site only in", where_options, key="ss_where",
                         help="A region, or the battlefields picked on the Battlefields page.")
    if battlefields and where == battlefield_option and battlefields.get("saved_at"):
        st.caption(f"Battlefields chosen on {common.when_text(battlefields['saved_at'])}, kept "
                   "for the next session; Clear them on the Battlefields page.")
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
                               key="ss_use_candidates")
        if not use_list:
            candidate_table = None
    st.markdown("**Map**")
    common.valid_choice("ss_map_layer", ["score", *factor_choices], "score")
    map_layer = st.selectbox("Map layer", ["score", *factor_choices], key="ss_map_layer",
                             format_func=lambda c: "Site score" if c == "score"
                             else scoring.factor_label(c).capitalize(),
                             help="Colour the cells by the score or by any single layer.")
    map_scheme = st.selectbox("Classes", list(SCHEMES), format_func=lambda s: SCHEMES[s],
                              key="ss_map_scheme",
                              help="How the colour classes of the map layer are cut.")
    tiles = common.tiles()
common.keep_controls(CONTROLS_KEY, [*DEFAULTS, "ss_layers", *(f"ss_w_{c}" for c in weights),
                                    OFFERED_KEY])
try:  # kept in the database for a new browser session, when they change
    st.session_state[SAVED_CONTROLS_KEY] = keep_page_controls(
        store, st.session_state[CONTROLS_KEY], st.session_state.get(SAVED_CONTROLS_KEY))
    st.session_state[SAVED_CANDIDATES_KEY] = keep_candidate_list(
        store, st.session_state.get(CANDIDATES_KEY), upload.name if upload else "",
        st.session_state.get(SAVED_CANDIDATES_KEY))
except XingtuError as error:
    common.show_error(error, what="Keeping the controls for the next session")
parameters = {"weights": weights, "n_new": n_new, "radius_km": radius_km, "model": model,
              "budget": budget_m * 1e6 if use_budget else None,
              "capacity": capacity_m * 1e6 if capacity_m is not None else None,
              "min_spacing_km": float(spacing_km) if use_spacing else None, "where": where,
              "candidate_list": None if candidate_table is None
              else f"{len(candidate_table)} sites ({candidate_digest(candidate_table)})"}


@st.cache_data(show_spinner=False, max_entries=32)
def scores_for(key: str, weights: tuple, _layers: pd.DataFrame) -> pd.DataFrame:
    """Score and factor contributions per cell (cached per data and weights)."""
    table = scoring.score_cells(_layers, weights=dict(weights))
    return pd.concat([table.score.rename("score"), table.contributions], axis=1)


@st.cache_resource(show_spinner=False, max_entries=4)
def calibration_for(key: str, _layers: pd.DataFrame, _stores: pd.DataFrame,
                    _competitors: pd.DataFrame | None) -> Calibration:
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

failure = None
if st.button("Run site selection", type="primary", key="ss_run"):
    with st.status("Running the site selection…", expanded=True) as status:
        try:
            st.write("Building layers… done (" f"{len(layers):,} cells).")
            st.write("Reading the field survey and the team's decisions…")
            decisions = siting_decisions(
                layers, statuses=store.survey_statuses(), candidates=candidate_table,
                regions=[where] if where in region_names else None,
                within=battlefields["cells"] if battlefields and where == battlefield_option
                else None)
            st.write("Calibrating the demand model on the own stores' sales…")
            calibration = calibration_for(common.data_key(), layers, data.stores,
                                          getattr(data, "competitors", None))
            st.write(calibration.message)
            st.write(f"Building and solving the {choice.label} model…")
            with common.live_gap():
                run = choose_sites(
                    layers, data.stores, getattr(data, "competitors", None), weights=weights,
                    model=model, n_new=n_new, radius_km=radius_km, budget=parameters["budget"],
                    capacity=parameters["capacity"], min_spacing_km=parameters["min_spacing_km"],
                    calibration=calibration, decisions=decisions)
        except ValueError as error:
            status.update(label="The site selection did not finish", state="error",
                          expanded=False)
            failure = error
        else:
            st.write(run.report.summary())
            if run.decisions is not None:
                st.write(run.decisions.summary())
            status.update(label=f"Done: {len(run.sites)} new sites", state="complete",
                          expanded=False)
    if failure is None:
        fresh = shown_run(run, parameters, fingerprint)
        st.session_state[RUN_KEY] = fresh
        st.session_state.pop(FAILED_KEY, None)
        try:
            save_last_run(store, fresh)
        except ValueError as error:
            common.show_error(error, what="Keeping this run for the next session")
    else:
        st.session_state[FAILED_KEY] = {"error": failure, "parameters": parameters}

failed = st.session_state.get(FAILED_KEY)
if failed is not None and not setting_differences(failed["parameters"], parameters):
    # In plain view, above the result it did not replace.
    common.show_error(failed["error"], what="Site selection")
    if RUN_KEY in st.session_state:
        st.info("The last good result stays below; it was made with other settings.")

shown: ShownRun | None = st.session_state.get(RUN_KEY)
if shown is not None:
    stale = stale_reasons(shown, parameters, fingerprint)
    made = f"{shown.source}, {common.when_text(shown.created_at)}"
    data_known = bool(shown.fingerprint)
    if stale:
        st.warning(f"**This result is stale** ({made}): it no longer matches the page. "
                   + "; ".join(stale) + ". Run the site selection again to update it.",
                   icon="⚠️")
    else:
        st.caption(f"Result shown: {made}; it matches the settings"
                   + (" and data" if data_known else "") + " of the page.")
    if not data_known:
        st.info(f"Result shown ({made}): {data_status(shown.fingerprint, fingerprint)}.",
                icon="ℹ️")
    common.show_warnings(shown.summary.get("warnings", []))

# ---- map ------------------------------------------------------------------------------------
from xingtu import maps  # noqa: E402  (imported where the map is drawn)

fmap = maps.base_map(common.region_center(layers), zoom=9, tiles=tiles)
if map_layer == "score":
    maps.add_cells(fmap, scores[["score"]], "score", name="Site score", legend="Site score",
                   tooltip={"score": "Score"}, how={"score": "mean"}, scheme=cast(Scheme, map_scheme))
else:
    layer_label = scoring.factor_label(map_layer).capitalize()
    maps.add_cells(fmap, layers[[map_layer]].join(scores[["score"]]), map_layer,
                   name=layer_label, tooltip={map_layer: layer_label, "score": "Score"},
                   how={map_layer: "sum" if maps.unit_of(map_layer) == "count" else "mean",
                        "score": "mean"}, scheme=cast(Scheme, map_scheme))
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
if shown is not None and len(shown.sites):
    maps.add_points(fmap, shown.sites, name="Chosen sites", marker="chosen",
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
                store.set_survey_status(common.cell_text(cell), cast(SurveyStatus, cell_status))
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
if shown is None:
    st.info("Set the layers and weights, then **Run site selection**. The map shows the score "
            "of every cell; click a cell for its profile.")
    st.stop()

sites = shown.sites
summary = shown.summary


def figure(key: str) -> float:
    """One headline figure of the shown result (0 when it lacks it)."""
    value = summary.get(key)
    return float(value) if isinstance(value, int | float) else 0.0


c1, c2, c3, c4 = st.columns(4)
c1.metric("Coverage", f"{figure('coverage_after'):.1%}",
          f"{100 * (figure('coverage_after') - figure('coverage_before')):+.1f} points")
c2.metric("Expected sales of new sites", f"{figure('expected_sales') / 1e6:,.1f} M CNY")
c3.metric("Net gain", f"{figure('net_gain') / 1e6:,.1f} M CNY")
c4.metric("Taken from own stores", f"{figure('from_own') / max(figure('expected_sales'), 1e-9):.1%}")
shown_model = str(shown.parameters.get("model", ""))
if summary.get("worst_distance_km") is not None:
    st.metric("Worst distance to a store (p-center objective)",
              f"{figure('worst_distance_km'):,.2f} km")
if summary.get("uncoverable_cells"):
    st.warning(f"{int(figure('uncoverable_cells')):,} cells with sales potential have no "
               "candidate or own store within the service radius: no plan can cover them, so "
               "the set cover leaves them out. Widen the radius or the candidates to include "
               "them.")
for note in summary.get("notes", []):
    st.caption(note)
if summary.get("optimal") is False or (summary.get("status") not in (None, "optimal")):
    st.warning("The solver stopped before proving this choice optimal; a better one may exist.")

factor_columns = [c for c in sites.columns if c.startswith("score_") and c != "score_rank"]
table = sites.assign(cell=sites["cell"].map(common.cell_text))
st.subheader("Chosen sites and why")
st.dataframe(
    table[[c for c in ["site", "cell", "region", "survey_status", "score", "expected_sales",
                       "from_own", "net_gain", "cannibalisation_rate", "served_demand", "reasons",
                       *factor_columns] if c in table.columns]],
    hide_index=True, width="stretch",
    column_config={
        "survey_status": st.column_config.TextColumn("Survey"),
        "score": st.column_config.NumberColumn("Score", format="%.3f"),
        "expected_sales": st.column_config.NumberColumn("Expected sales (CNY)", format="%,.0f"),
        "from_own": st.column_config.NumberColumn("From own stores", format="%,.0f"),
        "net_gain": st.column_config.NumberColumn("Net gain", format="%,.0f"),
        "cannibalisation_rate": st.column_config.NumberColumn("Cannibalisation", format="percent"),
        "served_demand": st.column_config.NumberColumn("Serves (CNY, capacity)",
                                                       format="%,.0f"),
        "reasons": st.column_config.TextColumn("Reasons", width="large"),
        **{c: st.column_config.NumberColumn(scoring.factor_label(c.removeprefix("score_")),
                                            format="%+.3f") for c in factor_columns},
    })
from app_pages.downloads import site_downloads  # noqa: E402

site_downloads(shown_record(f"{shown_model or 'siting'}-{len(sites)}-sites", shown), key="ss_dl")

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
        store.set_survey_status(target, cast(SurveyStatus, new_status), note=note, user=user)
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
name = s1.text_input("Scenario name", value=f"{shown_model}-{len(sites)}-sites", key="ss_name")
if s2.button("Save scenario", key="ss_save"):
    try:
        scenario_id = save_scenario(store, shown_record(name, shown))
    except ValueError as error:
        common.show_error(error, what="Saving the scenario")
    else:
        st.success(f"Saved as scenario **{name}** (id {scenario_id}).")
