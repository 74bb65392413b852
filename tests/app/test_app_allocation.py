"""Allocation page (Streamlit AppTest): plan the week, KPIs, saved plan, reload, downloads."""

from __future__ import annotations

import io
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from tests.app.conftest import app_page
from xingtu.database import Database

pytestmark = pytest.mark.slow
_page = partial(app_page, timeout=240)


def test_weekly_plan_is_made_saved_and_reloaded(db_url: str, demo_region) -> None:
    at = _page("allocation").run()
    assert not at.exception
    week = at.text_input(key="al_week").value
    last_sale = pd.Timestamp(demo_region.sales["date"].max())
    assert pd.Timestamp.fromisocalendar(int(week[:4]), int(week[6:]), 1) > last_sale

    at.slider(key="al_time_limit").set_value(5)
    at.button(key="al_run").click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    before = float(metrics["Expected stockouts before"].split()[0].replace(",", ""))
    after = float(metrics["Expected stockouts after"].split()[0].replace(",", ""))
    assert after <= before
    assert any(c.value.startswith("Solve: ") for c in at.caption)

    saved = Database(db_url)
    assert saved.list_plans()["week"].tolist() == [week]
    lines, kpis, report, fingerprint = saved.load_plan(week)
    keys = ["from", "to", "sku"]
    shown_sums = at.dataframe[0].value.groupby(keys)["quantity"].sum()  # lines split by ship day
    assert len(lines) > 0
    pd.testing.assert_series_equal(shown_sums, lines.groupby(keys)["quantity"].sum(),
                                   check_dtype=False)
    assert kpis["expected_stockout_units_after"] == pytest.approx(after, abs=0.5)
    assert report["status"] in ("optimal", "feasible") and len(fingerprint) == 64

    # The cards and lists render with one row per warehouse, store, store-SKU, risk line.
    from xingtu.jobs import weekly

    record = weekly.load_record(saved, week)
    tables = record.tables
    frames = [frame.value for frame in at.dataframe]
    assert len(frames) == 7  # lines, warehouse card, store card, slow, movers, risk, editor
    assert len(frames[1]) == len(demo_region.warehouses) == len(tables["warehouses"])
    assert len(frames[2]) == len(demo_region.stores) == len(tables["stores"])
    assert len(frames[3]) == len(tables["cover"]) > 0
    assert len(frames[4]) == len(tables["movers"]) > 0
    assert len(frames[5]) == len(tables["stockout_risk"])
    assert (frames[2]["expected_stockout_after"].diff().dropna() <= 1e-9).all()  # riskiest first
    assert any("nothing to compare" in i.value for i in at.info)
    editor = frames[6]  # the plan-line editor: every line, nothing ticked yet
    assert {"lock", "drop"} <= set(editor.columns) and not editor[["lock", "drop"]].any().any()
    pd.testing.assert_series_equal(editor.groupby(keys)["quantity"].sum(),
                                   lines.groupby(keys)["quantity"].sum(), check_dtype=False)


    downloads = at.get("download_button")
    assert [d.proto.label for d in downloads] == ["Download Excel", "Download CSV"]

    # A line ticked both to lock and to drop is refused with the row named, nothing solved.
    ticked = editor.copy()
    ticked.loc[0, ["lock", "drop"]] = True
    at.session_state["al_edit_table"] = (fingerprint, ticked)
    at.button(key="al_resolve").click().run()
    assert not at.exception
    assert any("Re-solving with the edits" in e.value for e in at.error)
    problems = [d.value for d in at.dataframe if "fix" in d.value.columns][0]
    assert problems["message"].str.contains("ticked both to lock and to drop").all()
    assert problems["rows"].astype(str).str.contains("1").all()
    assert saved.list_plans()["week"].tolist() == [week]

    fresh = _page("allocation").run()
    fresh.slider(key="al_time_limit").set_value(5)
    fresh.button(key="al_load").click().run()
    assert not fresh.exception and not fresh.error
    assert not fresh.warning  # same inputs and settings: the saved plan is current
    shown = fresh.dataframe[0].value.reset_index(drop=True)
    pd.testing.assert_series_equal(shown.groupby(keys)["quantity"].sum(),
                                   lines.groupby(keys)["quantity"].sum(), check_dtype=False)
    assert {"from_name", "to_name", "to_region", "ship_day"} <= set(shown.columns)

    # A second plan of the week is compared with the first, by warehouse and store.
    fresh.button(key="al_run").click().run()
    assert not fresh.exception and not fresh.error
    changes = fresh.dataframe[6].value
    assert set(changes.columns) >= {"location_id", "units_in_before", "units_in_now"}
    latest = weekly.load_record(Database(db_url), week).lines
    moved = set(lines["from"]) | set(lines["to"]) | set(latest["from"]) | set(latest["to"])
    assert set(changes["location_id"]) == moved
    units_in = changes.set_index("location_id")
    for name, frame in (("units_in_before", lines), ("units_in_now", latest)):
        expected = frame.groupby("to")["quantity"].sum()
        got = units_in[name].loc[expected.index]
        assert (got.to_numpy() == expected.to_numpy()).all(), name

    fresh.slider(key="al_service").set_value(0.9).run()
    assert any("other inputs or settings" in w.value for w in fresh.warning)


def test_daily_re_plans_are_made_with_the_stock_in_transit_and_reload_current(
        db_url: str, demo_region) -> None:
    from optimizer.allocation import PlanSettings
    from xingtu.jobs import weekly

    at = _page("allocation").run()
    at.radio(key="al_horizon").set_value("day").run()
    first_day = at.text_input(key="al_day").value
    assert first_day == weekly.next_day(demo_region.sales)
    assert pd.Timestamp(first_day) == pd.Timestamp(demo_region.sales["date"].max()) \
        + pd.Timedelta(days=1)
    at.slider(key="al_time_limit").set_value(5)
    at.button(key="al_run").click().run()
    assert not at.exception and not at.error
    saved = Database(db_url)
    first = weekly.load_record(saved, first_day)
    assert len(first.lines) > 0 and (first.lines["ship_day"].astype(str) == first_day).all()
    assert any("a day's plan is made again" in c.value for c in at.caption)  # no line editor

    # The next day: the first day's lines still on the road count as stock in transit.
    second_day = (pd.Timestamp(first_day) + pd.Timedelta(days=1)).date().isoformat()
    at.text_input(key="al_day").set_value(second_day)
    at.button(key="al_run").click().run()
    assert not at.exception and not at.error
    in_transit = weekly.in_transit_lines(saved, second_day)
    assert in_transit is not None and len(in_transit) > 0
    assert sorted(saved.list_plans()["week"]) == [first_day, second_day]
    second = weekly.load_record(saved, second_day)
    settings = PlanSettings(time_limit=5.0)
    tables = {kind: getattr(demo_region, kind, None) for kind in weekly.INPUT_KINDS}
    assert second.fingerprint == weekly.day_fingerprint(tables, second_day, settings, in_transit)
    assert second.fingerprint != weekly.day_fingerprint(tables, second_day, settings, None)

    fresh = _page("allocation").run()
    fresh.radio(key="al_horizon").set_value("day").run()
    fresh.text_input(key="al_day").set_value(second_day)
    fresh.slider(key="al_time_limit").set_value(5)
    fresh.button(key="al_load").click().run()
    assert not fresh.exception and not fresh.error
    assert not fresh.warning  # same inputs, settings and stock in transit: current
    shown = fresh.dataframe[0].value
    assert shown["quantity"].sum() == second.lines["quantity"].sum()


def test_the_download_is_the_cli_workbook(tmp_path: Path) -> None:
    from xingtu.export import atomic_write
    from xingtu.jobs.weekly import (
        SHEET_TITLES,
        SHEETS,
        PlanRecord,
        plan_workbook_bytes,
        plan_writers,
    )

    lines = pd.DataFrame({"from": ["=S1"], "to": ["S2"], "sku": ["A"], "quantity": [3]})
    record = PlanRecord(week="2026-W02", fingerprint="f", lines=lines,
                        kpis={"trucks": 1.0, "warehouses": [{"warehouse_id": "W1"}]},
                        report={"status": "optimal"})
    data = plan_workbook_bytes(record)
    path = tmp_path / record.file_name()
    for target, write in plan_writers(record, path).items():
        atomic_write(target, write)
    assert path.read_bytes()[:2] == b"PK"
    first = pd.read_excel(io.BytesIO(data), sheet_name=None)
    second = pd.read_excel(path, sheet_name=None)
    titles = [SHEET_TITLES[name] for name in SHEETS]
    assert list(first) == list(second) == titles
    for name in titles:
        pd.testing.assert_frame_equal(first[name], second[name])
    assert first["Plan"][["From", "To", "SKU", "Quantity"]].values.tolist() == [
        ["=S1", "S2", "A", 3]]
