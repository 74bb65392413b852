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
