"""Site selection and Scenarios as a workbench (Streamlit AppTest): every model, controls and
result kept across page switches and new sessions, stale results, failed runs, scenarios
reopened and compared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import ROOT
from xingtu.database import Database
from xingtu.jobs.siting import (
    NO_FINGERPRINT_NOTE,
    SETTING_LABELS,
    SITING_MODELS,
)

pytestmark = pytest.mark.slow
TIMEOUT = 300
SITE_PAGE, SCENARIO_PAGE = "app_pages/site_selection.py", "app_pages/scenarios.py"


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()


def _site_page() -> AppTest:
    return AppTest.from_file(str(ROOT / SITE_PAGE), default_timeout=TIMEOUT)


def _sites(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value


def _controls(at: AppTest) -> dict:
    return {"model": at.selectbox(key="ss_model").value, "n": at.number_input(key="ss_n").value,
            "radius": at.slider(key="ss_radius").value,
            "layers": list(at.multiselect(key="ss_layers").value),
            "footfall": at.slider(key="ss_w_footfall").value,
            "budget": at.checkbox(key="ss_use_budget").value}


def _stale(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "stale" in w.value]


# Settings that keep each model quick on the demo region.
MODEL_SETTINGS = {"set_cover": {"ss_radius": 10.0}, "p_center": {"ss_n": 2},
                  "capacitated": {"ss_n": 3, "ss_capacity": 150.0}}


@pytest.mark.parametrize("model", list(SITING_MODELS))
def test_each_model_is_picked_and_gives_a_result(db_url: str, model: str) -> None:
    at = _site_page().run()
    at.selectbox(key="ss_model").set_value(model).run()
    assert SITING_MODELS[model].summary in [c.value for c in at.caption]  # under the picker
    assert at.number_input(key="ss_n").disabled == (model == "set_cover")
    assert bool(at.number_input(key="ss_capacity")) if model == "capacitated" else True
    for key, value in MODEL_SETTINGS.get(model, {"ss_n": 3}).items():
        widget = at.slider(key=key) if key == "ss_radius" else at.number_input(key=key)
        widget.set_value(value)
    at.button(key="ss_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    sites = _sites(at)
    assert len(sites) >= 1 and sites["cell"].str.fullmatch(r"[0-9a-f]{15}").all()
    if model in ("mclp", "p_median", "market_share", "capacitated", "p_center"):
        assert len(sites) <= MODEL_SETTINGS.get(model, {"ss_n": 3})["ss_n"]
    if model == "p_center":
        worst = [m for m in at.metric if m.label.startswith("Worst distance")]
        assert worst and worst[0].value.endswith(" km")
    if model == "capacitated":
        assert (sites["served_demand"] <= 150e6 * (1 + 1e-6)).all()
    assert not _stale(at)
    assert Database(db_url).load_last_run("site_selection")[0]["model"] == model


def test_controls_and_result_survive_a_page_switch_and_n_makes_it_stale(db_url: str) -> None:
    at = _app()
    at.switch_page(SITE_PAGE).run()
    at.selectbox(key="ss_model").set_value("p_median").run()
    at.number_input(key="ss_n").set_value(4)
    at.slider(key="ss_radius").set_value(4.5)
    at.slider(key="ss_w_footfall").set_value(0.55)
    at.button(key="ss_run").click().run()
    assert not at.exception and not at.error
    before, controls = _sites(at), _controls(at)
    assert len(before) == 4 and not _stale(at)

    at.switch_page(SCENARIO_PAGE).run()
    assert not at.exception and at.title[0].value == "Scenarios"
    at.switch_page(SITE_PAGE).run()
    assert not at.exception
    assert _controls(at) == controls
    pd.testing.assert_frame_equal(_sites(at), before)
    assert not _stale(at)

    at.number_input(key="ss_n").set_value(5).run()  # not run yet: the result is stale at once
    stale = _stale(at)
    assert len(stale) == 1 and "new stores (N): 4 in the result, 5 now" in stale[0]
    pd.testing.assert_frame_equal(_sites(at), before)  # still shown, marked
    at.number_input(key="ss_n").set_value(4).run()
    assert not _stale(at)


def test_a_new_session_shows_the_last_run_with_its_controls(db_url: str) -> None:
    first = _site_page().run()
    first.number_input(key="ss_n").set_value(3)
    first.slider(key="ss_radius").set_value(2.5)
    first.button(key="ss_run").click().run()
    assert not first.exception and not first.error
    shown = _sites(first)

    again = _site_page().run()  # a browser reload: a new session on the same database
    assert not again.exception
    pd.testing.assert_frame_equal(_sites(again), shown)
    assert again.number_input(key="ss_n").value == 3
    assert again.slider(key="ss_radius").value == 2.5
    assert any(c.value.startswith("Result shown: last run") for c in again.caption)
    assert not _stale(again)


def _candidate_list() -> pd.DataFrame:
    """The 15 largest towns of the demo region as a checked candidate list (as uploaded)."""
    from geodata.areas import check_candidate_sites

    places = pd.read_csv(ROOT / "geodata" / "data" / "prd_places.csv").nlargest(15, "population")
    return check_candidate_sites(places[["lat", "lng"]].reset_index(drop=True),
                                 source="shops.csv")


def test_a_reload_restores_every_control_and_the_candidate_list(db_url: str) -> None:
    first = _site_page().run()
    first.session_state["ss_candidate_table"] = _candidate_list()  # as the uploader leaves it
    first.selectbox(key="ss_model").set_value("p_median").run()
    first.number_input(key="ss_n").set_value(4)
    first.slider(key="ss_radius").set_value(4.5)
    first.slider(key="ss_w_footfall").set_value(0.55)
    first.checkbox(key="ss_use_budget").check()
    first.checkbox(key="ss_use_spacing").check().run()
    first.number_input(key="ss_budget").set_value(40.0)
    first.number_input(key="ss_spacing").set_value(1.5)
    first.selectbox(key="ss_map_layer").set_value("footfall")
    first.button(key="ss_run").click().run()
    assert not first.exception and not first.error, [e.value for e in first.error]
    shown = _sites(first)
    first.number_input(key="ss_n").set_value(3).run()  # changed after the run, not run
    controls = {**_controls(first), "spacing": first.number_input(key="ss_spacing").value,
                "budget_m": first.number_input(key="ss_budget").value,
                "map": first.selectbox(key="ss_map_layer").value}
    stale = _stale(first)
    assert len(stale) == 1 and "new stores (N): 4 in the result, 3 now" in stale[0]

    again = _site_page().run()  # a browser reload: a new session on the same database
    assert not again.exception and not again.error
    assert {**_controls(again), "spacing": again.number_input(key="ss_spacing").value,
            "budget_m": again.number_input(key="ss_budget").value,
            "map": again.selectbox(key="ss_map_layer").value} == controls
    assert controls["model"] == "p_median" and controls["n"] == 3 and controls["map"] == "footfall"
    pd.testing.assert_frame_equal(again.session_state["ss_candidate_table"], _candidate_list())
    assert again.checkbox(key="ss_use_candidates").label == "Choose only from my 15 candidates"
    pd.testing.assert_frame_equal(_sites(again), shown)
    # The same result and controls: the same reasons (the candidate list is the result's).
    assert [w.split("matches the page. ")[1] for w in _stale(again)] == [
        w.split("matches the page. ")[1] for w in stale]
    again.number_input(key="ss_n").set_value(4).run()
    assert not _stale(again)  # the candidate list restored is the one of the result

    third = _site_page().run()  # the last change is kept too
    assert third.number_input(key="ss_n").value == 4 and not _stale(third)


def test_other_data_makes_the_result_stale(db_url: str) -> None:
    at = _site_page().run()
    at.number_input(key="ss_n").set_value(3)
    at.button(key="ss_run").click().run()
    from app_pages import common

    stores = common.demo_region().stores
    at.session_state["uploads"] = {"stores": stores.iloc[: len(stores) // 2]}  # an upload
    at.run()
    assert not at.exception
    stale = _stale(at)
    assert len(stale) == 1 and "the data changed" in stale[0]


def test_a_failed_run_keeps_the_last_good_result_and_says_why(db_url: str) -> None:
    at = _site_page().run()
    at.number_input(key="ss_n").set_value(3)
    at.button(key="ss_run").click().run()
    good = _sites(at)
    at.checkbox(key="ss_use_budget").check().run()
    at.number_input(key="ss_budget").set_value(0.5)
    at.button(key="ss_run").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("no plan satisfies every condition" in e and "budget" in e for e in errors)
    for block in at.expander:  # the reason is in plain view, not folded away
        assert not [e for e in block.error]
    assert any("last good result stays" in i.value for i in at.info)
    pd.testing.assert_frame_equal(_sites(at), good)
    assert any("budget (CNY): – in the result, 500,000 now" in w for w in _stale(at))
    assert Database(db_url).load_last_run("site_selection")[0]["budget"] is None


def _scenario_sites(cells: list[int]) -> pd.DataFrame:
    n = len(cells)
    return pd.DataFrame({
        "site": [f"N{i + 1}" for i in range(n)], "cell": pd.array(cells, dtype="uint64"),
        "lat": 22.5 + 0.01 * np.arange(n), "lng": 114.0 + 0.01 * np.arange(n),
        "region": "Shenzhen", "survey_status": "not surveyed", "score": 0.5,
        "expected_sales": 1e6, "from_own": 1e5, "net_gain": 9e5, "cannibalisation_rate": 0.1,
        "reasons": "high footfall"})


def test_a_scenario_reopens_in_site_selection(db_url: str) -> None:
    at = _app()
    at.switch_page(SITE_PAGE).run()
    at.selectbox(key="ss_model").set_value("market_share").run()
    at.number_input(key="ss_n").set_value(3)
    at.slider(key="ss_radius").set_value(4.0)
    at.checkbox(key="ss_use_spacing").check()
    at.button(key="ss_run").click().run()
    assert not at.exception and not at.error
    saved_sites, saved_controls = _sites(at), _controls(at)
    at.text_input(key="ss_name").input("three by huff")
    at.button(key="ss_save").click().run()
    assert not at.exception

    at.selectbox(key="ss_model").set_value("mclp").run()  # the controls move on
    at.number_input(key="ss_n").set_value(6)
    at.slider(key="ss_radius").set_value(2.0)
    at.checkbox(key="ss_use_spacing").uncheck().run()
    assert _stale(at)

    at.switch_page(SCENARIO_PAGE).run()
    at.selectbox(key="sc_a").set_value(Database(db_url).list_scenarios()["id"].iloc[0])
    at.button(key="sc_open").click().run()
    assert not at.exception
    assert at.title[0].value == "Site selection"
    assert _controls(at) == saved_controls
    assert at.checkbox(key="ss_use_spacing").value is True
    pd.testing.assert_frame_equal(_sites(at), saved_sites)
    assert not _stale(at)
    assert any("scenario three by huff" in c.value for c in at.caption)


def test_three_scenarios_compared_with_every_setting_and_what_differs(db_url: str) -> None:
    store = Database(db_url)
    base = {"model": "mclp", "n_new": 3, "radius_km": 3.0, "weights": {"footfall": 0.4},
            "budget": None, "capacity": None, "min_spacing_km": None, "where": "Everywhere",
            "candidate_list": None}
    store.save_scenario("alpha", base, _scenario_sites([1, 2, 3]),
                        {"n_sites": 3, "coverage_after": 0.5})
    store.save_scenario("beta", {**base, "radius_km": 5.0, "budget": 6e6},
                        _scenario_sites([2, 3, 4]), {"n_sites": 3, "coverage_after": 0.6})
    store.save_scenario("gamma", {**base, "model": "p_center", "min_spacing_km": 2.0},
                        _scenario_sites([3, 5]), {"n_sites": 2, "coverage_after": 0.6,
                                                  "worst_distance_km": 7.25})
    at = AppTest.from_file(str(ROOT / SCENARIO_PAGE), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert len(at.multiselect(key="sc_compare").value) == 3
    listed = at.dataframe[0].value
    assert not listed["created_at"].str.contains(r"\dT\d").any()  # dates for people
    table = at.dataframe[1].value.set_index("figure")
    assert list(table.columns) == ["gamma v1", "beta v1", "alpha v1", "differs"]
    for label in SETTING_LABELS.values():
        assert label[0].upper() + label[1:] in table.index
    assert table.loc["Model"].tolist()[:3] == [SITING_MODELS["p_center"].label,
                                              SITING_MODELS["mclp"].label,
                                              SITING_MODELS["mclp"].label]
    assert table.loc["Service radius (km)"].tolist() == ["3", "5", "3", "differs"]
    assert table.loc["Budget (CNY)"].tolist() == ["–", "6,000,000", "–", "differs"]
    assert table.loc["Minimum spacing (km)", "gamma v1"] == "2"
    assert table.loc["New stores (N)", "differs"] == ""
    assert table.loc["Sites in common"].tolist()[:3] == ["1", "1", "1"]  # cell 3 only
    assert table.loc["Sites in no other"].tolist()[:3] == ["1", "1", "1"]  # 5, 4 and 1
    assert table.loc["Worst distance (km)", "gamma v1"] == "7.25"
    people = r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC"  # e.g. 2 Dec 2026, 18:05 UTC
    assert table.loc["Saved"].iloc[:3].str.fullmatch(people).all()
    assert any("One marker per scenario" in c.value for c in at.caption)


def test_a_scenario_saved_before_fingerprints_compares_and_reopens_with_a_note(
        db_url: str) -> None:
    at = _app()
    at.switch_page(SITE_PAGE).run()
    at.number_input(key="ss_n").set_value(3)
    at.button(key="ss_run").click().run()
    at.text_input(key="ss_name").input("new")
    at.button(key="ss_save").click().run()
    assert not at.exception and not at.error
    store = Database(db_url)
    params, sites, summary = store.load_scenario("new")
    assert summary["data_fingerprint"]
    # As the first releases saved it: five settings, no data fingerprint, no notes.
    old_params = {key: params[key] for key in ("weights", "n_new", "radius_km", "model",
                                               "budget")}
    old_summary = {key: summary[key] for key in ("n_sites", "coverage_before", "coverage_after",
                                                 "expected_sales", "net_gain", "from_own",
                                                 "opening_cost", "status", "gap")}
    old_id = store.save_scenario("old", old_params, sites, old_summary)

    at.switch_page(SCENARIO_PAGE).run()
    assert not at.exception and not at.error
    table = at.dataframe[1].value.set_index("figure")
    assert list(table.columns) == ["old v1", "new v1", "differs"]
    assert table.loc["Made on"].tolist() == [NO_FINGERPRINT_NOTE, "the data in use now",
                                             "differs"]
    for setting in ("Site only in", "Minimum spacing (km)", "Candidate list", "Model"):
        assert table.loc[setting, "differs"] == "", setting  # the same run, saved twice

    at.selectbox(key="sc_a").set_value(old_id)
    at.button(key="sc_open").click().run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Site selection"
    assert _sites(at)["site"].tolist() == sites["site"].tolist()
    assert not _stale(at)  # its settings are those of the page; its data cannot be told
    notes = [i.value for i in at.info if NO_FINGERPRINT_NOTE in i.value]
    assert len(notes) == 1 and "scenario old" in notes[0]
    assert not any("matches the settings and data" in c.value for c in at.caption)

    at.switch_page(SITE_PAGE).run()  # the page the button switched to, for AppTest's reruns
    assert not _stale(at)
    at.number_input(key="ss_n").set_value(4).run()  # other settings: stale, the note stays
    assert len(_stale(at)) == 1 and [i for i in at.info if NO_FINGERPRINT_NOTE in i.value]
