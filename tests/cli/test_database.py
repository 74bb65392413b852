"""Saved state: round trips, persistence across restarts, concurrent writers, migrations, errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from pandas.testing import assert_frame_equal
from shapely.geometry import Point

from optimizer.results import SolveReport
from xingtu import database as store_module
from xingtu.database import SCHEMA_VERSION, Database, DatabaseError


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'xingtu.sqlite'}"


def _mixed_frame() -> pd.DataFrame:
    """Return a table with every dtype the app saves, plus a named index."""
    frame = pd.DataFrame({
        "cell": np.array([0x881F1D4A8BFFFFF, 0x881F1D4A8DFFFFF, 0x881F1D4A89FFFFF], dtype="uint64"),
        "units": np.array([3, -1, 0], dtype="int32"),
        "score": [0.25, np.nan, 1e-12],
        "name": ["门店 A", "B", "C"],
        "channel": pd.Categorical(["own_store", "key_account", "own_store"]),
        "approved": [True, False, True],
        "when": pd.to_datetime(["2026-11-23", "2026-11-24", "2026-11-30"]).tz_localize("UTC"),
        "maybe": pd.array([1, None, 3], dtype="Int64"),
        "label": pd.array(["x", None, "z"], dtype="string"),
    })
    frame.index = pd.Index([10, 20, 30], name="line")
    return frame


def test_plan_round_trip_keeps_dtypes_index_and_dicts(db_url: str) -> None:
    store = Database(db_url)
    lines = _mixed_frame()
    report = SolveReport("feasible", 10.0, 9.5, 0.05, 1.25, "highs", "time limit")
    kpis = {"stockouts_before": np.int64(12), "stockouts_after": 3, "transfer_rate": np.float64(0.1),
            "by_region": {"north": [1, 2]}}
    plan_id = store.save_plan("2026-W48", "fp-1", lines, kpis, report)
    loaded_lines, loaded_kpis, loaded_report, fingerprint = store.load_plan("2026-W48")
    assert_frame_equal(loaded_lines, lines, check_exact=True)
    assert loaded_kpis == {"stockouts_before": 12, "stockouts_after": 3, "transfer_rate": 0.1,
                           "by_region": {"north": [1, 2]}}
    assert SolveReport(**loaded_report) == report
    assert fingerprint == "fp-1"
    assert_frame_equal(store.load_plan(plan_id)[0], lines)


def test_latest_plan_of_a_week_wins_and_older_stays_reachable(db_url: str) -> None:
    store = Database(db_url)
    first = store.save_plan("2026-W48", "a", pd.DataFrame({"u": [1]}), {"v": 1}, {})
    store.save_plan("2026-W49", "b", pd.DataFrame({"u": [2]}), {"v": 2}, {})
    third = store.save_plan("2026-W48", "c", pd.DataFrame({"u": [3]}), {"v": 3}, {})
    assert store.load_plan("2026-W48")[3] == "c"
    assert store.load_plan(first)[1] == {"v": 1}
    plans = store.list_plans()
    assert plans["id"].tolist()[0] == third
    assert sorted(plans["week"]) == ["2026-W48", "2026-W48", "2026-W49"]


def test_scenario_versions_and_geodataframe_round_trip(db_url: str) -> None:
    store = Database(db_url)
    sites = gpd.GeoDataFrame(
        {"site_id": ["s1", "s2"], "expected_sales": [1.5e6, 2.0e6]},
        geometry=[Point(113.26, 23.13), Point(114.06, 22.54)], crs="EPSG:4326",
    )
    params = {"n_sites": 2, "radius_km": 3.0, "weights": {"footfall": 0.5, "fan_index": 0.5}}
    first_id = store.save_scenario("north", params, sites, {"coverage": 0.8})
    second_id = store.save_scenario("north", {**params, "n_sites": 1}, sites.iloc[:1], {"coverage": 0.5})
    loaded_params, loaded_sites, summary = store.load_scenario("north")
    assert loaded_params["n_sites"] == 1 and summary == {"coverage": 0.5}
    assert isinstance(loaded_sites, gpd.GeoDataFrame)
    assert loaded_sites.crs == sites.crs
    old_params, old_sites, _ = store.load_scenario("north", version=1)
    assert old_params == params
    assert_frame_equal(pd.DataFrame(old_sites), pd.DataFrame(sites))
    assert store.load_scenario(first_id)[0] == params
    listed = store.list_scenarios()
    assert listed[["id", "version"]].values.tolist() == [[second_id, 2], [first_id, 1]]


def test_survey_status_keeps_history_and_latest(db_url: str) -> None:
    store = Database(db_url)
    store.set_survey_status("881f1d4a8bfffff", "candidate")
    store.set_survey_status("881f1d4a8bfffff", "surveyed", note="busy corner", user="li")
    store.set_survey_status("s-7", "rejected", note="rent too high", user="wang")
    latest = store.survey_statuses()
    assert latest[["site_id", "status", "note", "user"]].values.tolist() == [
        ["881f1d4a8bfffff", "surveyed", "busy corner", "li"],
        ["s-7", "rejected", "rent too high", "wang"],
    ]
    assert store.survey_statuses(history=True)["status"].tolist() == ["candidate", "surveyed", "rejected"]


def test_unknown_survey_status_is_refused_with_the_choices(db_url: str) -> None:
    with pytest.raises(DatabaseError, match="use one of candidate, surveyed, approved, rejected"):
        Database(db_url).set_survey_status("s1", "maybe")  # type: ignore[arg-type]


def test_everything_survives_a_restart(db_url: str) -> None:
    first = Database(db_url)
    first.save_plan("2026-W48", "fp", _mixed_frame(), {"k": 1}, {"status": "optimal"})
    first.save_scenario("south", {"n": 2}, pd.DataFrame({"cell": [1, 2]}), {"cost": 3})
    first.set_survey_status("s1", "approved")
    first.close()
    second = Database(db_url)
    assert_frame_equal(second.load_plan("2026-W48")[0], _mixed_frame())
    assert second.load_scenario("south")[2] == {"cost": 3}
    assert second.survey_statuses()["status"].tolist() == ["approved"]
    assert second.schema_version() == SCHEMA_VERSION


def test_url_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "from_env" / "state.sqlite"
    monkeypatch.setenv("XINGTU_DATABASE_URL", f"sqlite:///{path}")
    store = Database()
    store.set_survey_status("s1", "candidate")
    assert path.exists()
    assert store.url.endswith("state.sqlite")


def test_default_url_is_a_file_in_the_user_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XINGTU_DATABASE_URL", raising=False)
    url = store_module.default_database_url()
    assert url.startswith("sqlite:///") and url.endswith("xingtu.sqlite")
    assert "xingtu" in Path(url.removeprefix("sqlite:///")).parent.name.lower()


def test_missing_items_name_what_exists(db_url: str) -> None:
    store = Database(db_url)
    store.save_plan("2026-W48", "fp", pd.DataFrame({"u": [1]}), {}, {})
    with pytest.raises(DatabaseError, match=r"'2026-W01'.*Saved weeks: 2026-W48"):
        store.load_plan("2026-W01")
    with pytest.raises(DatabaseError, match="none yet"):
        store.load_scenario("nowhere")


def test_unsavable_inputs_are_refused_clearly(db_url: str) -> None:
    store = Database(db_url)
    with pytest.raises(DatabaseError, match="`lines` must be a pandas DataFrame"):
        store.save_plan("2026-W48", "fp", [1, 2], {}, {})  # type: ignore[arg-type]
    with pytest.raises(DatabaseError, match="`kpis` cannot be saved as JSON"):
        store.save_plan("2026-W48", "fp", pd.DataFrame({"u": [1]}), {"x": object()}, {})
    with pytest.raises(DatabaseError, match="`name` must be a non-empty text"):
        store.save_scenario("  ", {}, pd.DataFrame(), {})
    assert store.list_plans().empty  # nothing half-saved


@pytest.mark.parametrize("url, fragment", [
    ("not a url", "is not a database URL"),
    ("nosuchdb://user@host/db", "driver 'nosuchdb' is not available"),
])
def test_bad_url_raises_store_error(url: str, fragment: str) -> None:
    with pytest.raises(DatabaseError, match=fragment):
        Database(url)


def test_unreachable_database_raises_store_error(tmp_path: Path) -> None:
    folder = tmp_path / "a_folder"
    folder.mkdir()
    with pytest.raises(DatabaseError, match="Cannot open the database"):
        Database(f"sqlite:///{folder}")  # a folder, not a database file


def test_migration_upgrades_an_older_database(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    store_module._upgrade(engine, target=1)  # a database made by the first release
    with engine.begin() as conn:
        for name in ("north", "north", "south"):
            conn.execute(sa.text(
                "INSERT INTO scenarios (name, created_at, params, sites, summary) "
                "VALUES (:name, '2026-01-01', '{\"n\": 1}', :sites, '{}')"
            ), {"name": name, "sites": store_module.frame_to_bytes(pd.DataFrame({"cell": [5]}))})
        conn.execute(sa.text("INSERT INTO survey_status (site_id, status, note, created_at) "
                             "VALUES ('s1', 'surveyed', '', '2026-01-01')"))
        assert conn.execute(sa.text("SELECT version FROM schema_version")).scalar() == 1
    engine.dispose()

    store = Database(db_url)
    assert store.schema_version() == SCHEMA_VERSION == 5
    listed = store.list_scenarios().sort_values("id")
    assert listed[["name", "version"]].values.tolist() == [["north", 1], ["north", 2], ["south", 1]]
    assert store.save_scenario("north", {}, pd.DataFrame({"cell": [1]}), {}) > 0
    assert store.list_scenarios().iloc[0]["version"] == 3
    assert store.survey_statuses()["user"].tolist() == [""]
    assert store.load_last_run("site_selection") is None  # the table of migration 3 is there
    assert store.load_page_state("site_selection") is None  # and that of migration 4
    assert store.load_uploads() == [] and store.load_siting_areas("site_selection") is None


def test_a_page_keeps_its_controls_and_candidate_list_apart(db_url: str) -> None:
    store = Database(db_url)
    candidates = pd.DataFrame({"lat": [22.5, 22.6], "lng": [114.0, 114.1],
                               "name": pd.array(["a", None], dtype="string")})
    store.save_page_controls("site_selection", {"ss_n": 3, "ss_layers": ["footfall"]})
    store.save_page_candidates("site_selection", candidates, "shops.csv")
    store.save_page_controls("site_selection", {"ss_n": 4, "ss_layers": ["footfall"]})
    store.save_page_controls("other_page", {"x": 1.5})

    again = Database(db_url)  # a restart
    controls, kept, source = again.load_page_state("site_selection")
    assert controls == {"ss_n": 4, "ss_layers": ["footfall"]}  # the newest, candidates kept
    pd.testing.assert_frame_equal(kept, candidates)
    assert source == "shops.csv"
    assert again.load_page_state("other_page") == ({"x": 1.5}, None, "")
    again.save_page_candidates("site_selection", None)
    assert again.load_page_state("site_selection") == ({"ss_n": 4, "ss_layers": ["footfall"]},
                                                       None, "")
    with pytest.raises(DatabaseError, match="controls"):
        again.save_page_controls("site_selection", {"bad": object()})


def test_a_page_keeps_one_last_run_which_round_trips(db_url: str) -> None:
    store = Database(db_url)
    sites = pd.DataFrame({"cell": pd.array([7, 9], dtype="uint64"), "score": [0.5, 0.25]})
    store.save_last_run("site_selection", "old", {"n_new": 2}, sites.iloc[:1], {"n_sites": 1})
    store.save_last_run("site_selection", "new", {"n_new": 3, "weights": {"footfall": 0.4}},
                        sites, {"n_sites": 2})
    store.save_last_run("other", "x", {}, sites.iloc[:0], {})
    reopened = Database(db_url)  # as a new browser session would
    params, loaded, summary, fingerprint, created = reopened.load_last_run("site_selection")
    assert params == {"n_new": 3, "weights": {"footfall": 0.4}} and fingerprint == "new"
    pd.testing.assert_frame_equal(loaded, sites)
    assert summary == {"n_sites": 2} and created.startswith("20")
    assert len(reopened.load_last_run("other")[1]) == 0


def test_a_newer_schema_is_refused(db_url: str) -> None:
    Database(db_url).close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE schema_version SET version = {SCHEMA_VERSION + 1}"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="newer than this Xingtu understands"):
        Database(db_url)


def test_sqlite_runs_in_wal_mode(db_url: str) -> None:
    store = Database(db_url)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_concurrent_threads_lose_nothing(db_url: str) -> None:
    store = Database(db_url)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(15):
                store.save_scenario("shared", {"worker": worker, "i": i}, pd.DataFrame({"i": [i]}), {})
                store.set_survey_status(f"w{worker}-{i}", "surveyed")
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    versions = store.list_scenarios()["version"]
    assert sorted(versions) == list(range(1, 61))  # every save numbered once, none lost
    assert len(store.survey_statuses()) == 60


WRITER = textwrap.dedent("""
    import sys
    import pandas as pd
    from xingtu.database import Database

    url, worker = sys.argv[1], sys.argv[2]
    store = Database(url)
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    for i in range(25):
        store.save_plan("2026-W48", f"{worker}-{i}", pd.DataFrame({"i": [i]}), {"worker": worker}, {})
        store.save_scenario("shared", {"worker": worker, "i": i}, pd.DataFrame({"i": [i]}), {})
        store.set_survey_status(f"{worker}-{i}", "approved", user=worker)
""")


def test_two_processes_writing_at_once_lose_nothing(db_url: str) -> None:
    Database(db_url).close()  # create the schema once; both writers then open the same file
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, db_url, name], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("alpha", "beta")]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready"
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        _, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr
    store = Database(db_url)
    fingerprints = store.list_plans()["fingerprint"]
    assert sorted(fingerprints) == sorted(f"{w}-{i}" for w in ("alpha", "beta") for i in range(25))
    assert sorted(store.list_scenarios()["version"]) == list(range(1, 51))
    assert len(store.survey_statuses()) == 50


def test_two_processes_opening_a_new_database_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    code = "import sys; from xingtu.database import Database; print(Database(sys.argv[1]).schema_version())"
    runs = [subprocess.Popen([sys.executable, "-c", code, url], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for run in runs:
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        assert int(out) == SCHEMA_VERSION


def test_one_version_number_per_scenario_name_is_enforced(db_url: str) -> None:
    store = Database(db_url)
    store.save_scenario("north", {}, pd.DataFrame({"cell": [1]}), {})
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO scenarios (name, version, created_at, params, sites, summary) "
            "VALUES ('north', 1, '2026-01-01', '{}', x'00', '{}')"))
    assert store.list_scenarios()["version"].tolist() == [1]
