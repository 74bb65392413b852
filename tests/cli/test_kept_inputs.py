"""Uploads, team layers and chosen battlefields kept in the database: round trips, clear, upgrade."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from pandas.testing import assert_frame_equal
from shapely.geometry import Point

from xingtu import database as store_module
from xingtu.database import SCHEMA_VERSION, Database
from xingtu.jobs import kept_inputs
from xingtu.jobs.team_layers import TeamLayer

CELLS = np.array([0x881F1D4A8BFFFFF, 0x881F1D4A8DFFFFF, 0x881F1D4A89FFFFF], dtype=np.uint64)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'xingtu.sqlite'}"


def _stores() -> gpd.GeoDataFrame:
    """Own stores as the Upload page reads them: text ids, numbers, points in EPSG:4326."""
    return gpd.GeoDataFrame(
        {"store_id": ["S1", "S2"], "name": ["门店 A", "B"], "lat": [22.54, 23.13],
         "lng": [114.06, 113.26], "floor_area_m2": pd.array([200, None], dtype="Int64")},
        geometry=[Point(114.06, 22.54), Point(113.26, 23.13)], crs="EPSG:4326")


def _awareness() -> TeamLayer:
    columns = pd.DataFrame({"brand_awareness": [0.25, np.nan, 0.75]},
                           index=pd.Index(CELLS, name="cell"))
    return TeamLayer(name="brand_awareness", source="survey.csv", columns=columns,
                     aggregation={"brand_awareness": "mean"}, rows=300)


def _members() -> TeamLayer:
    columns = pd.DataFrame({"members": [2.0, 0.0, 1.0], "member_value": [900.0, 0.0, 120.5],
                            "member_value_per_member": [450.0, np.nan, 120.5]},
                           index=pd.Index(CELLS, name="cell"))
    return TeamLayer(name="member_value", source="members.csv", columns=columns,
                     aggregation={"members": "per_resident", "member_value": "per_resident",
                                  "member_value_per_member": "mean"}, rows=30)


def test_uploads_layers_and_battlefields_come_back_after_a_restart(db_url: str) -> None:
    store = Database(db_url)
    stores = _stores()
    kept = kept_inputs.keep_upload(store, "stores", stores, "my_stores.csv")
    footfall = pd.DataFrame({"lat": [22.5], "lng": [114.0], "count": [12]})
    kept_inputs.keep_upload(store, "footfall", footfall, "footfall.csv")
    kept_inputs.save_team_layer(store, _awareness())
    kept_inputs.save_team_layer(store, _members())
    chosen = kept_inputs.save_siting_areas(store, "Foshan, Dongguan", ["d1", "d2"],
                                           [int(c) for c in CELLS], "demo|stores:2:abc")
    store.close()

    again = Database(db_url)  # a new browser session, or a restart of the app
    uploads = kept_inputs.load_uploads(again)
    assert list(uploads) == ["footfall", "stores"]
    restored = uploads["stores"]
    assert isinstance(restored.table, gpd.GeoDataFrame) and restored.table.crs == stores.crs
    assert_frame_equal(restored.table, stores)
    assert (restored.source, restored.rows, restored.saved_at) == ("my_stores.csv", 2,
                                                                   kept.saved_at)
    assert restored.digest == kept.digest
    assert_frame_equal(uploads["footfall"].table, footfall)

    team = kept_inputs.load_team_layers(again)
    assert list(team) == ["brand_awareness", "member_value"]  # the order they were added in
    for name, layer in (("brand_awareness", _awareness()), ("member_value", _members())):
        back = team[name].layer
        assert (back.name, back.source, back.rows) == (layer.name, layer.source, layer.rows)
        assert dict(back.aggregation) == dict(layer.aggregation)
        assert_frame_equal(back.columns, layer.columns)
        assert back.columns.index.dtype == np.uint64
        assert back.summary() == layer.summary()
    assert kept_inputs.load_siting_areas(again) == chosen
    assert chosen.as_session()["cells"] == [int(c) for c in CELLS]


def test_an_unchanged_upload_is_not_written_again_and_a_new_one_replaces_it(db_url: str) -> None:
    store = Database(db_url)
    first = kept_inputs.keep_upload(store, "stores", _stores(), "my_stores.csv")
    assert kept_inputs.keep_upload(store, "stores", _stores(), "my_stores.csv", first) is first
    fewer = _stores().iloc[:1]
    second = kept_inputs.keep_upload(store, "stores", fewer, "my_stores.csv", first)
    assert second.digest != first.digest and second.saved_at > first.saved_at
    renamed = kept_inputs.keep_upload(store, "stores", fewer, "other.csv", second)
    assert renamed is not second
    (only,) = kept_inputs.load_uploads(store).values()
    assert (only.source, only.rows) == ("other.csv", 1)
    kept_inputs.save_team_layer(store, _awareness())
    changed = TeamLayer("brand_awareness", "survey2.csv", _awareness().columns * 2,
                        {"brand_awareness": "mean"}, 10)
    kept_inputs.save_team_layer(store, changed)
    (layer,) = kept_inputs.load_team_layers(store).values()
    assert layer.layer.source == "survey2.csv"
    assert_frame_equal(layer.layer.columns, changed.columns)


def test_clear_forgets_what_it_is_asked_to(db_url: str) -> None:
    store = Database(db_url)
    kept_inputs.keep_upload(store, "stores", _stores(), "my_stores.csv")
    kept_inputs.keep_upload(store, "pois", pd.DataFrame({"lat": [22.5], "lng": [114.0]}), "p.csv")
    kept_inputs.save_team_layer(store, _awareness())
    kept_inputs.save_team_layer(store, _members())
    kept_inputs.save_siting_areas(store, "Foshan", ["d1"], [int(CELLS[0])], "demo|")

    kept_inputs.clear_uploads(store, ["stores"])
    assert list(kept_inputs.load_uploads(store)) == ["pois"]
    kept_inputs.clear_uploads(store)
    assert kept_inputs.load_uploads(store) == {}
    kept_inputs.clear_team_layers(store, ["member_value"])
    assert list(kept_inputs.load_team_layers(store)) == ["brand_awareness"]
    kept_inputs.clear_team_layers(store)
    assert kept_inputs.load_team_layers(store) == {}
    assert kept_inputs.load_siting_areas(store, page="other_page") is None
    kept_inputs.clear_siting_areas(store)
    assert kept_inputs.load_siting_areas(store) is None
    assert kept_inputs.load_uploads(Database(db_url)) == {}  # gone after a restart too


def test_a_database_of_the_previous_schema_is_upgraded_in_place(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    store_module._upgrade(engine, target=4)  # a database made before uploads were kept
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO page_states (page, updated_at, controls, candidates, candidates_source) "
            "VALUES ('site_selection', '2026-12-01', '{\"ss_n\": 3}', NULL, '')"))
        conn.execute(sa.text(
            "INSERT INTO scenarios (name, version, created_at, params, sites, summary) "
            "VALUES ('north', 1, '2026-12-01', '{}', :sites, '{}')"),
            {"sites": store_module.frame_to_bytes(pd.DataFrame({"cell": [5]}))})
        assert conn.execute(sa.text("SELECT version FROM schema_version")).scalar() == 4
        assert not sa.inspect(conn).has_table("uploaded_tables")
    engine.dispose()

    store = Database(db_url)
    assert store.schema_version() == SCHEMA_VERSION == 5
    assert store.load_page_state("site_selection") == ({"ss_n": 3}, None, "")  # kept as it was
    assert store.list_scenarios()["name"].tolist() == ["north"]
    assert kept_inputs.load_uploads(store) == {} and kept_inputs.load_team_layers(store) == {}
    assert kept_inputs.load_siting_areas(store) is None
    kept_inputs.keep_upload(store, "stores", _stores(), "my_stores.csv")
    kept_inputs.save_team_layer(store, _awareness())
    assert list(kept_inputs.load_uploads(Database(db_url))) == ["stores"]
    assert list(kept_inputs.load_team_layers(Database(db_url))) == ["brand_awareness"]
