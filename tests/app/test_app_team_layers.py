"""The team's layers in the app (Streamlit AppTest): uploaded on the Upload page, then weighted on
Battlefields and offered in the Site selection sidebar.
"""

from __future__ import annotations

from functools import partial

import h3
import numpy as np
import pandas as pd
import pytest

from tests.app.conftest import app_page

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("db_url")]
TIMEOUT = 180
_page = partial(app_page, timeout=TIMEOUT)


def _survey() -> pd.DataFrame:
    """One brand-awareness answer at the centre of 300 cells of the demo layer table."""
    from app_pages import common

    layers = common.layers()
    picked = layers.sample(300, random_state=7)
    values = np.random.default_rng(7).uniform(0, 1, 300).round(3)
    return pd.DataFrame({"lat": picked["lat"].to_numpy(), "lng": picked["lng"].to_numpy(),
                         "awareness": values})


def test_uploaded_layer_and_members_are_weighted_on_the_pages() -> None:
    survey = _survey()
    at = _page("upload").run()
    assert not at.exception
    at.radio(key="upload_team_kind").set_value("layer").run()
    at.file_uploader(key="upload_team_file").upload(
        "survey.csv", survey.to_csv(index=False).encode(), "text/csv")
    at.run()
    assert not at.exception and not at.error
    assert at.selectbox(key="upload_team_column::survey.csv").value == "awareness"
    at.text_input(key="upload_team_name::survey.csv").input("brand_awareness")
    at.button(key="upload_team_add").click().run()
    assert not at.exception and not at.error
    assert any("Added **brand_awareness**" in s.value for s in at.success)
    layer = at.session_state["team_layers"]["brand_awareness"]
    cells = [int(h3.latlng_to_cell(a, b, 8), 16) for a, b in zip(survey["lat"], survey["lng"],
                                                                  strict=True)]
    got = layer.columns["brand_awareness"]
    assert np.allclose(got.loc[np.array(cells, dtype=np.uint64)], survey["awareness"])
    assert got.notna().sum() == len(set(cells))

    at.radio(key="upload_team_kind").set_value("members").run()
    rows = "member_id,date,amount,lat,lng\n" + "".join(
        f"M{i % 7},2025-0{1 + i % 9}-1{i % 10},{300 + 40 * i},{survey['lat'][i]},"
        f"{survey['lng'][i]}\n" for i in range(30))
    at.file_uploader(key="upload_team_file").upload("members.csv", rows.encode(), "text/csv")
    at.run()
    at.button(key="upload_members_add").click().run()
    assert not at.exception and not at.error
    team = at.session_state["team_layers"]
    assert set(team) == {"brand_awareness", "member_value"}
    assert team["member_value"].columns["members"].sum() == 7

    bad = "lat,lng,awareness\n22.5,114.0,high\n"
    at.radio(key="upload_team_kind").set_value("layer").run()
    at.file_uploader(key="upload_team_file").upload("bad.csv", bad.encode(), "text/csv")
    at.run()
    assert at.selectbox(key="upload_team_column::bad.csv").options == ["awareness"]
    at.button(key="upload_team_add").click().run()
    assert not at.exception
    assert "bad.csv" in at.error[0].value
    problems = [d.value for d in at.dataframe if "message" in d.value.columns][0]
    assert "not a number" in " ".join(problems["message"])
    assert set(at.session_state["team_layers"]) == {"brand_awareness", "member_value"}

    battle = _page("battlefields")
    battle.session_state["team_layers"] = team
    battle.run()
    assert not battle.exception
    battle.selectbox(key="bf_level").set_value("Prefecture (region)").run()
    battle.slider(key="bf_w_team_brand_awareness").set_value(2.0).run()
    assert not battle.exception and not battle.error
    table = battle.dataframe[0].value
    assert "brand_awareness" in table.columns
    up = table.sort_values("brand_awareness")
    assert up["rank"].iloc[-1] < up["rank"].iloc[0]  # the most aware region ranks higher
    battle.slider(key="bf_w_team_brand_awareness").set_value(-2.0).run()
    down = battle.dataframe[0].value.sort_values("brand_awareness")
    assert down["rank"].iloc[-1] > down["rank"].iloc[0]

    siting = _page("site_selection")
    siting.session_state["team_layers"] = team
    siting.run()
    assert not siting.exception
    options = siting.multiselect(key="ss_layers").options
    assert {"brand awareness", "member value"} <= set(options)
