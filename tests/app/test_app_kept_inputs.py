"""Uploads, team layers and chosen battlefields survive a browser reload (Streamlit AppTest).

Each "reload" is a new AppTest session on the same database: what the first session brought
must be in use again, said on the page, and gone for good after Clear.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import app_page

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("db_url")]
TIMEOUT = 300
_page = partial(app_page, timeout=TIMEOUT)


def _notes(at: AppTest) -> list[str]:
    return [i.value for i in at.info if i.value.startswith(("Using the", "Battlefields chosen"))]


def _stale(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "stale" in w.value]


def _stores_csv() -> bytes:
    """Half of the demo's own stores, as a user would export them (lat/lng columns)."""
    from app_pages import common

    stores = common.demo_region().stores
    table = pd.DataFrame(stores).drop(columns="geometry").assign(lat=stores.geometry.y,
                                                                 lng=stores.geometry.x)
    return table.iloc[: len(table) // 2].to_csv(index=False).encode()


def _upload_stores() -> AppTest:
    at = _page("upload").run()
    at.selectbox(key="upload_kind").set_value("stores").run()
    at.file_uploader(key="upload_file").upload("my_stores.csv", _stores_csv(), "text/csv")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "rows of stores checked and in use" in at.success[0].value
    return at


def test_uploaded_stores_come_back_after_a_reload_until_cleared() -> None:
    first = _upload_stores()
    uploaded = first.session_state["uploads"]["stores"]
    rows = len(uploaded)

    again = _page("upload").run()  # a browser reload: a new session on the same database
    assert not again.exception and not again.error
    pd.testing.assert_frame_equal(again.session_state["uploads"]["stores"], uploaded)
    (note,) = _notes(again)
    assert note.startswith("Using the stores uploaded on ")
    assert f"(my_stores.csv, {rows:,} rows) — Clear to return to the demo data" in note
    assert " UTC " in note  # the date, as people read it

    siting = _page("site_selection").run()  # every page of the new session uses them
    assert not siting.exception
    pd.testing.assert_frame_equal(siting.session_state["uploads"]["stores"], uploaded)
    assert _notes(siting) == [note]

    again.button(key="upload_clear_upload_stores").click().run()
    assert not again.exception
    assert again.session_state["uploads"] == {} and not _notes(again)
    assert "Only the demo region is in use." in [m.value for m in again.markdown]

    third = _page("upload").run()  # cleared from the database too
    assert third.session_state["uploads"] == {} and not _notes(third)


def test_a_result_on_restored_uploads_stays_current_and_clear_makes_it_stale() -> None:
    first = _upload_stores()
    run = _page("site_selection")  # the same session on Site selection: the fresh upload
    run.session_state["uploads"] = dict(first.session_state["uploads"])
    run.run()
    run.number_input(key="ss_n").set_value(3)
    run.button(key="ss_run").click().run()
    assert not run.exception and not run.error, [e.value for e in run.error]
    assert not _stale(run)
    shown = run.dataframe[0].value

    again = _page("site_selection").run()  # reload: the data restored is the same, so is the result
    assert not again.exception
    pd.testing.assert_frame_equal(again.dataframe[0].value, shown)
    assert not _stale(again)
    again.button(key="ss_clear_upload_stores").click().run()  # back to the demo's stores
    assert not again.exception
    stale = _stale(again)
    assert len(stale) == 1 and "the data changed" in stale[0]
    assert not _notes(again)


def _survey_csv() -> bytes:
    """One brand-awareness answer at the centre of 300 cells of the demo layer table."""
    from app_pages import common

    picked = common.base_layers().sample(300, random_state=7)
    values = np.random.default_rng(7).uniform(0, 1, 300).round(3)
    return pd.DataFrame({"lat": picked["lat"].to_numpy(), "lng": picked["lng"].to_numpy(),
                         "awareness": values}).to_csv(index=False).encode()


def test_a_team_layer_comes_back_after_a_reload_and_is_weighted_until_cleared() -> None:
    first = _page("upload").run()
    first.radio(key="upload_team_kind").set_value("layer").run()
    first.file_uploader(key="upload_team_file").upload("survey.csv", _survey_csv(), "text/csv")
    first.run()
    first.text_input(key="upload_team_name::survey.csv").input("brand_awareness")
    first.button(key="upload_team_add").click().run()
    assert not first.exception and not first.error
    layer = first.session_state["team_layers"]["brand_awareness"]

    battle = _page("battlefields").run()  # a new session on the same database
    assert not battle.exception and not battle.error
    restored = battle.session_state["team_layers"]["brand_awareness"]
    pd.testing.assert_frame_equal(restored.columns, layer.columns)
    assert (restored.source, restored.rows) == ("survey.csv", 300)
    (note,) = _notes(battle)
    assert note.startswith("Using the team layer **brand_awareness** uploaded on ")
    assert "(survey.csv, 300 rows)" in note
    battle.selectbox(key="bf_level").set_value("Prefecture (region)").run()
    battle.slider(key="bf_w_team_brand_awareness").set_value(2.0).run()
    assert not battle.exception and "brand_awareness" in battle.dataframe[0].value.columns

    battle.button(key="bf_clear_team_brand_awareness").click().run()
    assert not battle.exception
    assert battle.session_state["team_layers"] == {} and not _notes(battle)
    assert "bf_w_team_brand_awareness" not in [s.key for s in battle.slider]
    siting = _page("site_selection").run()  # cleared from the database too
    assert "brand_awareness" not in siting.multiselect(key="ss_layers").options


def test_chosen_battlefields_come_back_in_site_selection_after_a_reload() -> None:
    bf = _page("battlefields").run()
    bf.selectbox(key="bf_level").set_value("Prefecture (region)").run()
    pick = bf.dataframe[0].value.index[-1]
    bf.multiselect(key="bf_pick_region").set_value([pick])
    bf.button(key="bf_site").click().run()
    assert not bf.exception
    chosen = bf.session_state["siting_areas"]

    siting = _page("site_selection").run()  # a new session on the same database
    assert not siting.exception and not siting.error
    assert siting.session_state["siting_areas"]["cells"] == chosen["cells"]
    option = f"Battlefields: {chosen['label']}"
    assert siting.selectbox(key="ss_where").value == option  # offered first, as when chosen
    assert any(c.value.startswith("Battlefields chosen on ") for c in siting.caption)
    siting.selectbox(key="ss_where").set_value("Everywhere").run()
    later = _page("site_selection").run()  # the user's choice since then wins
    assert later.selectbox(key="ss_where").value == "Everywhere"
    assert option in later.selectbox(key="ss_where").options

    again = _page("battlefields").run()
    (note,) = _notes(again)
    assert note.startswith("Battlefields chosen on ") and chosen["label"] in note
    again.button(key="bf_clear_areas").click().run()
    assert not again.exception and again.session_state["siting_areas"] is None
    assert not _notes(again)
    cleared = _page("site_selection").run()
    assert option not in cleared.selectbox(key="ss_where").options


def test_clear_with_the_file_still_in_the_uploader_does_not_bring_it_back() -> None:
    at = _upload_stores()
    at.button(key="upload_clear_upload_stores").click().run()
    assert not at.exception and at.session_state["uploads"] == {}
    at.run()  # the file is still in the uploader: not read again
    assert at.session_state["uploads"] == {} and not _notes(at)
    assert any("my_stores.csv** was cleared" in i.value for i in at.info)
    assert _page("upload").run().session_state["uploads"] == {}
    again = _upload_stores()  # a file uploaded anew is read
    assert len(again.session_state["uploads"]["stores"]) > 0
