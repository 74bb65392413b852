"""``xingtu allocate --edits``: locked lines ship exactly, dropped lines not, the edits priced."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.cli.test_cli_allocate import _args
from tests.cli.test_cli_allocate import input_files as input_files
from xingtu.cli import app
from xingtu.database import Database
from xingtu.jobs import weekly

runner = CliRunner()
WEEK = "2026-W02"


def _line_units(lines: pd.DataFrame, line: tuple[str, str, str]) -> int:
    chosen = ((lines["From"] == line[0]) & (lines["To"] == line[1]) & (lines["SKU"] == line[2]))
    return int(lines.loc[chosen, "Quantity"].sum())


@pytest.fixture(scope="module")
def free_run(tmp_path_factory, input_files) -> tuple[Path, weekly.PlanRecord]:
    folder = tmp_path_factory.mktemp("free")
    database = f"sqlite:///{folder / 'plans.db'}"
    result = runner.invoke(app, ["allocate", "--week", WEEK, "--out", str(folder / "free.xlsx"),
                                 "--database", database, "--quiet", *_args(input_files)])
    assert result.exit_code == 0, result.output
    return folder, weekly.load_record(Database(database), WEEK)


def test_allocate_with_edits_keeps_them_and_prices_them(tmp_path: Path, input_files,
                                                        free_run) -> None:
    _, free = free_run
    lines = free.lines.sort_values(["quantity", "from", "to", "sku"], ascending=False)
    dropped = tuple(lines.iloc[0][["from", "to", "sku"]])
    second = lines.iloc[1]
    unit = (int(second["quantity"]) // int(second["cases"])
            if second["cases"] and not second["loose_units"] else 1)
    locked_units = max(int(second["quantity"]) // unit // 2, 1) * unit
    locked = tuple(second[["from", "to", "sku"]])
    edits = tmp_path / "edits.csv"
    pd.DataFrame({"from_id": [dropped[0], locked[0]], "to_id": [dropped[1], locked[1]],
                  "sku": [dropped[2], locked[2]], "action": ["drop", "lock"],
                  "quantity": [None, locked_units]}).to_csv(edits, index=False)
    out = tmp_path / "edited.xlsx"
    database = f"sqlite:///{tmp_path / 'plans.db'}"
    result = runner.invoke(app, ["allocate", "--week", WEEK, "--out", str(out), "--edits",
                                 str(edits), "--database", database, *_args(input_files)])
    assert result.exit_code == 0, result.output
    assert "1 locked and 1 dropped lines" in result.output
    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets)[-1] == "Locked and dropped lines" and len(sheets) == 12
    assert _line_units(sheets["Plan"], dropped) == 0
    assert _line_units(sheets["Plan"], locked) == locked_units
    sheet = sheets["Locked and dropped lines"]
    assert sheet["Planned quantity"].tolist() == [locked_units, 0]  # locked lines first
    assert sheet["Free plan quantity"].tolist() == [
        int(free.lines.loc[(free.lines[["from", "to", "sku"]] == list(line)).all(axis=1),
                           "quantity"].sum()) for line in (locked, dropped)]
    record = weekly.load_record(Database(database), WEEK)
    k = record.kpis
    # The free plan solved inside the run is the plan the free run made (same week, settings).
    assert k["free_plan_cost"] == pytest.approx(free.report["objective"])
    assert k["edits_cost"] == pytest.approx(record.report["objective"] - free.report["objective"])
    # An edited plan is a plan of the free week: it never costs less than the free bound.
    assert record.report["objective"] >= free.report["bound"] - 1e-6
    assert record.fingerprint != free.fingerprint
    kpi = dict(zip(sheets["KPIs"]["KPI"], sheets["KPIs"]["Value"], strict=True))
    assert float(kpi["edits_cost"]) == pytest.approx(k["edits_cost"])


@pytest.mark.parametrize(("rows", "words"), [
    ({"from_id": ["NOPE"], "to_id": ["X"], "sku": ["Y"], "action": ["drop"]},
     "column `from_id`, row 1: not a known store or warehouse"),
    ({"from_id": ["A"], "to_id": ["B"], "sku": ["C"], "action": ["lock"], "quantity": [-3]},
     "column `quantity`, row 1: a locked line needs a whole number of units"),
    ({"from_id": ["A"], "to_id": ["B"], "sku": ["C"], "action": ["keep"]},
     "column `action`, row 1: not lock or drop"),
])
def test_bad_edits_rows_get_an_error_naming_file_and_row(tmp_path: Path, input_files,
                                                         rows, words) -> None:
    edits = tmp_path / "edits.csv"
    pd.DataFrame(rows).to_csv(edits, index=False)
    result = runner.invoke(app, ["allocate", "--week", WEEK, "--out", str(tmp_path / "p.xlsx"),
                                 "--edits", str(edits), "--database",
                                 f"sqlite:///{tmp_path / 'p.db'}", *_args(input_files)])
    assert result.exit_code == 2, result.output
    assert "edits.csv" in result.output and words in result.output
    assert "Traceback" not in result.output and not (tmp_path / "p.xlsx").exists()


def test_a_locked_quantity_above_the_senders_surplus_is_refused(tmp_path: Path, input_files,
                                                                free_run) -> None:
    _, free = free_run
    line = free.lines.iloc[0]
    edits = tmp_path / "edits.csv"
    pd.DataFrame({"from_id": [line["from"]], "to_id": [line["to"]], "sku": [line["sku"]],
                  "action": ["lock"], "quantity": [10**7]}).to_csv(edits, index=False)
    result = runner.invoke(app, ["allocate", "--week", WEEK, "--out", str(tmp_path / "p.xlsx"),
                                 "--edits", str(edits), "--database",
                                 f"sqlite:///{tmp_path / 'p.db'}", *_args(input_files)])
    assert result.exit_code == 2, result.output
    assert "above its reserve" in result.output and "row 1" in result.output
