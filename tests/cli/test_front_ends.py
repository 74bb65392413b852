"""The same week through ``xingtu allocate`` and through the app's Allocation page gives the same
plan record: fingerprint, sheets, file name, saved lines, KPIs and warehouse figures.
"""

from __future__ import annotations

import atexit
import io
import re
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from xingtu.cli import app
from xingtu.database import Database
from xingtu.jobs import weekly

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the app's pages import app_pages.common, as under `streamlit run`

from streamlit.testing.v1 import AppTest  # noqa: E402
from streamlit.testing.v1 import app_test as _app_test  # noqa: E402

atexit.register(_app_test.TMP_DIR.cleanup)
pytestmark = pytest.mark.slow

KINDS = ("stores", "warehouses", "skus", "sales", "stock", "lanes")


@pytest.fixture(scope="module")
def week_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small region as files: point tables as GeoPackage, the rest as CSV."""
    from geodata.demo import generate_region

    region = generate_region(n_stores=20, n_skus=12, n_warehouses=2, n_competitors=5,
                             n_pois=100, n_footfall=500, n_customers=300, days=120, seed=5)
    folder = tmp_path_factory.mktemp("week")
    files = {}
    for kind in KINDS:
        table = getattr(region, kind)
        if "geometry" in table.columns:
            files[kind] = folder / f"{kind}.gpkg"
            table.to_file(files[kind], driver="GPKG")
        else:
            files[kind] = folder / f"{kind}.csv"
            table.to_csv(files[kind], index=False)
    return files


def test_cli_and_app_make_the_same_record(week_files: dict[str, Path], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from geodata.io import read_inputs

    tables = read_inputs(week_files)  # what both front ends read from these files
    week = weekly.next_week(tables["sales"])

    # The CLI, with its default settings and file name.
    cli_url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.chdir(out)
    args = [arg for kind, path in week_files.items() for arg in (f"--{kind}", str(path))]
    result = CliRunner().invoke(app, ["allocate", "--week", week, "--database", cli_url,
                                      "--quiet", *args])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (out / "out").iterdir())
    assert written == [f"plan-{week}.xlsx"]
    cli_record = weekly.load_record(Database(cli_url), week)

    # The app, on the same tables (as its upload page leaves them), with its default settings.
    app_url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    monkeypatch.setenv("XINGTU_DATABASE_URL", app_url)
    at = AppTest.from_file(str(ROOT / "app_pages" / "allocation.py"), default_timeout=240)
    at.session_state["uploads"] = dict(tables)
    at.run()
    assert not at.exception
    assert at.text_input(key="al_week").value == week
    at.button(key="al_run").click().run()
    assert not at.exception and not at.error
    app_record = weekly.load_record(Database(app_url), week)

    assert app_record.fingerprint == cli_record.fingerprint
    timing = "solve_solve_seconds"  # how long the solve took is the one figure that differs
    seconds = r"\d+(\.\d+)? s\b"  # and the seconds its message quotes

    def untimed(kpis: dict) -> dict:
        """The KPIs without the solve time, and the solve message without its seconds."""
        kept = {k: v for k, v in kpis.items() if k != timing}
        kept["solve_message"] = re.sub(seconds, "_ s", kept["solve_message"])
        return kept

    assert untimed(app_record.kpis) == untimed(cli_record.kpis)  # warehouses included
    assert len(cli_record.warehouses) == 2
    pd.testing.assert_frame_equal(app_record.lines, cli_record.lines)
    assert app_record.report.keys() == cli_record.report.keys()
    for key in ("status", "objective", "bound", "gap", "solver"):
        assert app_record.report[key] == cli_record.report[key], key

    # The same sheets and file name: the app's download is the CLI's workbook.
    download = [d for d in at.get("download_button") if d.proto.label == "Download Excel"][0]
    assert download.proto.url  # the page served it
    assert app_record.file_name() == f"plan-{week}.xlsx"
    cli_sheets = pd.read_excel(out / "out" / f"plan-{week}.xlsx", sheet_name=None)
    titles = [weekly.SHEET_TITLES[name] for name in weekly.SHEETS]
    app_sheets = pd.read_excel(io.BytesIO(_xlsx(app_record)), sheet_name=None)
    assert list(cli_sheets) == list(app_sheets) == titles
    assert titles[:4] == ["Plan", "KPIs", "Warehouses", "Stores"] and len(titles) == 11
    for name in titles:
        app_sheet, cli_sheet = app_sheets[name], cli_sheets[name]
        if name == "KPIs":
            app_sheet, cli_sheet = (s[s["KPI"] != timing].reset_index(drop=True)
                                    for s in (app_sheet, cli_sheet))
            for sheet in (app_sheet, cli_sheet):
                message = sheet["KPI"] == "solve_message"
                sheet.loc[message, "Value"] = sheet.loc[message, "Value"].str.replace(
                    seconds, "_ s", regex=True)
        pd.testing.assert_frame_equal(app_sheet, cli_sheet)
    assert len(cli_sheets["Warehouses"]) == 2 and len(cli_sheets["Stores"]) == 20

    # A plan saved by the CLI loads in the app as current (same fingerprint, no warning).
    monkeypatch.setenv("XINGTU_DATABASE_URL", cli_url)
    loaded = AppTest.from_file(str(ROOT / "app_pages" / "allocation.py"), default_timeout=240)
    loaded.session_state["uploads"] = dict(tables)
    loaded.run()
    loaded.button(key="al_load").click().run()
    assert not loaded.exception and not loaded.error
    assert not loaded.warning
    assert len(loaded.dataframe[1].value) == 2  # the warehouse tab of a CLI plan is filled


def _xlsx(record: weekly.PlanRecord) -> bytes:
    data = weekly.plan_workbook_bytes(record)
    assert openpyxl.load_workbook(io.BytesIO(data)).sheetnames == [
        weekly.SHEET_TITLES[name] for name in weekly.SHEETS]
    return data


def test_cli_edits_and_the_app_editor_make_the_same_record(
        week_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Locking and dropping lines by ``--edits`` or in the page's editor gives one plan."""
    from geodata.io import read_inputs

    tables = read_inputs(week_files)
    week = weekly.next_week(tables["sales"])
    args = [arg for kind, path in week_files.items() for arg in (f"--{kind}", str(path))]
    cli_url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    runner = CliRunner()
    free_out = tmp_path / "free.xlsx"
    result = runner.invoke(app, ["allocate", "--week", week, "--database", cli_url, "--quiet",
                                 "--out", str(free_out), *args])
    assert result.exit_code == 0, result.output
    free = weekly.load_record(Database(cli_url), week)
    ordered = free.lines.sort_values(["quantity", "from", "to", "sku"], ascending=False)
    dropped, kept = ordered.iloc[0], ordered.iloc[1]
    unit = int(kept["quantity"]) // int(kept["cases"]) if kept["cases"] and not kept[
        "loose_units"] else 1
    locked_units = max(int(kept["quantity"]) // unit // 2, 1) * unit
    edits_file = tmp_path / "edits.csv"
    pd.DataFrame({"from_id": [dropped["from"], kept["from"]], "to_id": [dropped["to"], kept["to"]],
                  "sku": [dropped["sku"], kept["sku"]], "action": ["drop", "lock"],
                  "quantity": [None, locked_units]}).to_csv(edits_file, index=False)
    edited_out = tmp_path / "edited.xlsx"
    result = runner.invoke(app, ["allocate", "--week", week, "--database", cli_url, "--quiet",
                                 "--out", str(edited_out), "--edits", str(edits_file), *args])
    assert result.exit_code == 0, result.output
    cli_record = weekly.load_record(Database(cli_url), week)
    assert cli_record.has_edits

    # The app: plan the week, tick the same lines in the plan-line editor, re-solve.
    app_url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    monkeypatch.setenv("XINGTU_DATABASE_URL", app_url)
    at = AppTest.from_file(str(ROOT / "app_pages" / "allocation.py"), default_timeout=400)
    at.session_state["uploads"] = dict(tables)
    at.run()
    at.button(key="al_run").click().run()
    assert not at.exception and not at.error
    app_free = weekly.load_record(Database(app_url), week)
    table = weekly.editor_lines(app_free)
    line = ["from", "to", "sku"]
    is_dropped = (table[line] == dropped[line].tolist()).all(axis=1)
    is_locked = (table[line] == kept[line].tolist()).all(axis=1)
    assert is_dropped.sum() == 1 and is_locked.sum() == 1
    table.loc[is_dropped, "drop"] = True
    table.loc[is_locked, ["lock", "quantity"]] = [True, locked_units]
    at.session_state["al_edit_table"] = (app_free.fingerprint, table)  # the planner's ticks
    at.button(key="al_resolve").click().run()
    assert not at.exception and not at.error
    app_record = weekly.load_record(Database(app_url), week)
    assert app_record.has_edits

    assert app_record.fingerprint == cli_record.fingerprint != free.fingerprint
    seconds = r"\d+(\.\d+)? s\b"

    def untimed(kpis: dict) -> dict:
        kept_kpis = {k: v for k, v in kpis.items() if k != "solve_solve_seconds"}
        kept_kpis["solve_message"] = re.sub(seconds, "_ s", kept_kpis["solve_message"])
        return kept_kpis

    app_kpis, cli_kpis = untimed(app_record.kpis), untimed(cli_record.kpis)
    for name in set(app_kpis["planner_tables"]) | set(cli_kpis["planner_tables"]):
        assert app_kpis["planner_tables"].get(name) == cli_kpis["planner_tables"].get(name), name
    assert app_kpis == cli_kpis
    pd.testing.assert_frame_equal(app_record.lines, cli_record.lines)
    assert app_record.kpis["edits_cost"] == pytest.approx(
        app_record.report["objective"] - app_free.report["objective"])
    # The page shows the edited plan, and its download is the CLI's workbook, edits sheet too.
    assert "Locked and dropped lines" in [h.value for h in at.subheader]
    assert any(c.value.startswith("Expected cost with the edits") for c in at.caption)
    shown = [d for d in at.dataframe if "outcome" in d.value.columns][0].value
    assert shown["planned_quantity"].tolist() == [locked_units, 0]
    previous = weekly.previous_record(Database(app_url), week,
                                      before_id=int(Database(app_url).list_plans()["id"].max()))
    app_sheets = pd.read_excel(io.BytesIO(weekly.plan_workbook_bytes(app_record, previous)),
                               sheet_name=None)
    cli_sheets = pd.read_excel(edited_out, sheet_name=None)
    assert list(app_sheets) == list(cli_sheets)
    assert list(cli_sheets)[-1] == "Locked and dropped lines"
    for name in cli_sheets:
        if name != "KPIs":
            pd.testing.assert_frame_equal(app_sheets[name], cli_sheets[name])
    edits_sheet = cli_sheets["Locked and dropped lines"]
    assert edits_sheet["Planned quantity"].tolist() == [locked_units, 0]
