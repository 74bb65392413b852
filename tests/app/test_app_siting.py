"""App pages (Streamlit AppTest): site selection, field survey, scenarios, infeasibility display."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from tests.app.conftest import app_page
from xingtu.database import Database

pytestmark = pytest.mark.slow
TIMEOUT = 180
_page = partial(app_page, timeout=TIMEOUT)


def test_site_selection_runs_explains_surveys_and_saves(db_url: str) -> None:
    at = _page("site_selection").run()
    assert not at.exception
    assert at.multiselect(key="ss_layers").value  # default layers chosen
    at.number_input(key="ss_n").set_value(4)
    at.button(key="ss_run").click().run()
    assert not at.exception and not at.error

    sites = at.dataframe[0].value
    assert len(sites) == 4
    assert sites["reasons"].str.len().gt(20).all()
    assert sites["cell"].str.fullmatch(r"[0-9a-f]{15}").all()
    assert (sites["expected_sales"] >= sites["from_own"]).all()
    assert [m.label for m in at.metric][:2] == ["Coverage", "Expected sales of new sites"]
    assert any(c.value.startswith("Solve: ") for c in at.caption)
    labels = {b.proto.label for b in at.get("download_button")}
    assert {"Download sites (GeoJSON)", "Download sites (GeoPackage)", "Download sites (Excel)",
            "Download the site report (HTML)"} <= labels

    first_site = sites["cell"].iloc[0]
    at.selectbox(key="ss_survey_cell").set_value(first_site)
    at.selectbox(key="ss_survey_status").set_value("approved")
    at.text_input(key="ss_survey_note").input("corner unit, good frontage")
    at.text_input(key="ss_survey_user").input("li")
    submit = [b for b in at.get("form_submit_button") if b.label == "Save survey status"][0]
    submit.click().run()
    assert not at.exception
    statuses = Database(db_url).survey_statuses()
    assert statuses.set_index("site_id").loc[first_site, "status"] == "approved"
    assert statuses.set_index("site_id").loc[first_site, "user"] == "li"
    survey_table = at.dataframe[1].value
    assert survey_table.set_index("cell").loc[first_site, "status"] == "approved"

    at.text_input(key="ss_name").input("four sites")
    at.button(key="ss_save").click().run()
    assert not at.exception
    params, saved_sites, summary = Database(db_url).load_scenario("four sites")
    assert params["n_new"] == 4 and len(saved_sites) == 4
    assert summary["coverage_after"] >= summary["coverage_before"]
    assert summary["expected_sales"] == pytest.approx(sites["expected_sales"].sum())


def test_an_impossible_budget_is_explained_not_a_traceback(db_url: str) -> None:
    at = _page("site_selection").run()
    at.checkbox(key="ss_use_budget").check().run()
    at.number_input(key="ss_budget").set_value(0.5)
    at.button(key="ss_run").click().run()
    assert not at.exception
    messages = " ".join(e.value for e in at.error)
    assert "no plan satisfies every condition" in messages and "budget" in messages
    assert any("raise the budget" in m.value for m in at.markdown)  # the reasons, one per line


def test_no_layer_chosen_asks_for_one(db_url: str) -> None:
    at = _page("site_selection").run()
    at.multiselect(key="ss_layers").set_value([]).run()
    assert not at.exception
    assert any("Choose at least one layer" in i.value for i in at.info)


def test_scenarios_are_listed_and_compared(db_url: str) -> None:
    store = Database(db_url)
    empty = _page("scenarios").run()
    assert any("No scenario saved yet" in i.value for i in empty.info)

    def sites(cells: list[int]) -> pd.DataFrame:
        return pd.DataFrame({"cell": pd.array(cells, dtype="uint64"), "lat": 22.5 + 0.01 * pd.Series(cells),
                             "lng": 114.0, "region": "Shenzhen", "expected_sales": 1e6})

    store.save_scenario("north", {"model": "mclp"}, sites([1, 2, 3]),
                        {"n_sites": 3, "coverage_after": 0.5, "expected_sales": 3e6})
    store.save_scenario("south", {"model": "pmedian"}, sites([2, 3, 4, 5]),
                        {"n_sites": 4, "coverage_after": 0.6, "expected_sales": 4e6})
    at = _page("scenarios").run()
    assert not at.exception
    listed = at.dataframe[0].value
    assert listed["name"].tolist() == ["south", "north"]
    comparison = at.dataframe[1].value.set_index("figure")
    assert comparison.loc["Sites in common", "south v1"] == "2"
    assert comparison.loc["New sites", "south v1"] == "4"
    assert comparison.loc["New sites", "north v1"] == "3"
    assert comparison.loc["Coverage after", "north v1"] == "50.0%"
    assert comparison.loc["Model", "south v1"] == "pmedian"  # an unknown model as saved
    assert comparison.loc["New sites", "differs"] == "differs"


def test_every_run_obeys_the_stored_survey(db_url: str) -> None:
    at = _page("site_selection").run()
    at.number_input(key="ss_n").set_value(4)
    at.button(key="ss_run").click().run()
    first = at.dataframe[0].value
    assert set(first["survey_status"]) == {"not surveyed"}
    rejected = first["cell"].iloc[0]

    at.selectbox(key="ss_survey_cell").set_value(rejected)
    at.selectbox(key="ss_survey_status").set_value("rejected")
    at.text_input(key="ss_survey_note").input("landlord refused")
    at.text_input(key="ss_survey_user").input("li")
    [b for b in at.get("form_submit_button") if b.label == "Save survey status"][0].click().run()
    assert not at.exception
    assert any(rejected in s.value and "rejected" in s.value for s in at.success)
    survey = at.dataframe[1].value.set_index("cell")
    assert survey.loc[rejected, "note"] == "landlord refused"
    assert survey.loc[rejected, "user"] == "li"
    assert survey["updated_at"].notna().any()

    # an approved cell the model would not pick (the worst free one) stays open
    from app_pages import common

    layers = common.layers()
    free = layers.index[layers["own_store_count"].fillna(0).eq(0)]
    approved = common.cell_text(int(layers.loc[free, "footfall"].idxmin()))
    Database(db_url).set_survey_status(approved, "approved", user="wang")
    at.button(key="ss_run").click().run()
    assert not at.exception and not at.error
    second = at.dataframe[0].value.set_index("cell")
    assert rejected not in second.index and len(second) == 4
    assert second.loc[approved, "survey_status"] == "approved"
    assert any("rejected site left out" in c.value for c in at.caption)


def test_a_region_restriction_holds(db_url: str) -> None:
    at = _page("site_selection").run()
    options = at.selectbox(key="ss_where").options
    region = [o for o in options if o != "Everywhere"][-1]
    at.selectbox(key="ss_where").set_value(region)
    at.number_input(key="ss_n").set_value(3)
    at.button(key="ss_run").click().run()
    assert not at.exception and not at.error
    sites = at.dataframe[0].value
    assert len(sites) == 3 and set(sites["region"]) == {region}


def test_battlefields_chosen_restrict_the_run(db_url: str) -> None:
    bf = _page("battlefields").run()
    bf.selectbox(key="bf_level").set_value("Prefecture (region)").run()
    areas = bf.dataframe[0].value
    pick = areas.index[-1]  # the worst-ranked prefecture: a real restriction
    bf.multiselect(key="bf_pick_region").set_value([pick])
    bf.button(key="bf_site").click().run()
    chosen = bf.session_state["siting_areas"]

    at = _page("site_selection")
    at.session_state["siting_areas"] = chosen
    at.run()
    assert at.selectbox(key="ss_where").value.startswith("Battlefields: ")
    at.number_input(key="ss_n").set_value(3)
    at.button(key="ss_run").click().run()
    assert not at.exception and not at.error
    sites = at.dataframe[0].value
    assert len(sites) == 3 and set(sites["region"]) == {areas.loc[pick, "region"]}


def test_what_if_figures_equal_the_library(db_url: str) -> None:
    from app_pages import common
    from optimizer.calibration import calibrate
    from optimizer.what_if import site_what_if

    layers = common.layers()
    region = common.demo_region()
    free = layers.index[layers["own_store_count"].fillna(0).eq(0)]
    spot = layers.loc[layers.loc[free, "footfall"].idxmax()]
    at = _page("site_selection").run()
    at.number_input(key="ss_wi_lat").set_value(float(spot["lat"]))
    at.number_input(key="ss_wi_lng").set_value(float(spot["lng"]))
    at.button(key="ss_wi_point").click().run()
    assert not at.exception and not at.error
    shown = {m.label: m.value for m in at.metric}
    competitors = getattr(region, "competitors", None)
    expected = site_what_if(layers, region.stores, competitors,
                            calibration=calibrate(layers, region.stores, competitors),
                            lat=float(spot["lat"]), lng=float(spot["lng"]))
    assert expected.expected_sales > 0
    assert shown["Expected sales"] == f"{expected.expected_sales:,.0f} CNY"
    assert shown["Taken from own stores"] == f"{expected.from_own:,.0f} CNY"
    assert shown["From competitors"] == f"{expected.from_competitors:,.0f} CNY"
    assert shown["Net gain"] == f"{expected.net_gain:,.0f} CNY"
    assert any(c.value.startswith("Site ") and "net gain" in c.value for c in at.caption)


def test_scenarios_download_rename_and_delete(db_url: str, tmp_path: Path) -> None:
    import geopandas as gpd

    from xingtu.jobs.siting import site_writer

    store = Database(db_url)
    sites = pd.DataFrame({"cell": pd.array([613633266242551807, 613633266282397695],
                                           dtype="uint64"),
                          "lat": [22.5, 22.6], "lng": [114.0, 114.1], "region": "Shenzhen",
                          "expected_sales": [1e6, 2e6]})
    store.save_scenario("north", {"model": "mclp"}, sites, {"n_sites": 2})
    at = _page("scenarios").run()
    assert not at.exception
    downloads = {b.proto.label: b for b in at.get("download_button")}
    assert {"Download sites (GeoJSON)", "Download sites (Excel)", "Download sites (GeoPackage)",
            "Download the site report (HTML)"} <= set(downloads)
    assert downloads["Download the site report (HTML)"].proto.url  # the page served it
    written = tmp_path / "sites.geojson"  # what the GeoJSON download holds
    site_writer(Database(db_url).load_scenario("north")[1], written)(written)
    assert gpd.read_file(written)["cell_id"].tolist() == ["884103458bfffff", "88410345b1fffff"]

    at.text_input(key="sc_new_name").input("north, revised").run()
    at.button(key="sc_rename").click().run()
    assert not at.exception
    assert Database(db_url).list_scenarios()["name"].tolist() == ["north, revised"]
    assert any("Renamed" in s.value for s in at.success)
    _, kept, _ = Database(db_url).load_scenario("north, revised")
    assert kept["expected_sales"].tolist() == [1e6, 2e6]

    at.checkbox(key="sc_confirm_delete").check().run()
    at.button(key="sc_delete").click().run()
    assert not at.exception
    assert Database(db_url).list_scenarios().empty
    assert any("No scenario saved yet" in i.value for i in at.info)


def test_an_uploaded_candidate_list_is_all_the_run_chooses_from(db_url: str) -> None:
    from app_pages import common
    from geodata.areas import check_candidate_sites

    layers = common.layers()
    free = layers.loc[layers["own_store_count"].fillna(0).eq(0)].sample(8, random_state=3)
    offers = check_candidate_sites(pd.DataFrame({"site_id": [f"L{i}" for i in range(8)],
                                                 "lat": free["lat"].to_numpy(),
                                                 "lng": free["lng"].to_numpy()}))
    at = _page("site_selection")
    at.session_state["ss_candidate_table"] = offers  # what the upload box stores
    at.run()
    assert at.checkbox(key="ss_use_candidates").value
    at.number_input(key="ss_n").set_value(3)
    at.button(key="ss_run").click().run()
    assert not at.exception and not at.error
    sites = at.dataframe[0].value
    assert len(sites) == 3
    assert set(sites["cell"]) <= {common.cell_text(int(c)) for c in free.index}
