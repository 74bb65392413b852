"""A run's files and its database row commit together or not at all; workbooks hold no formula;
exit codes and ``--version``.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from xingtu import database as database_module
from xingtu.cli import app
from xingtu.database import Database, DatabaseError
from xingtu.export import check_week_label, csv_bytes, week_file_name, write_table, write_workbook
from xingtu.jobs import outputs, weekly
from xingtu.jobs.outputs import OutputExistsError, claim_outputs, commit_outputs, lock_path

runner = CliRunner()


def _record(lines: pd.DataFrame | None = None) -> weekly.PlanRecord:
    lines = pd.DataFrame({"from": ["W1"], "to": ["S1"], "sku": ["A"], "quantity": [3]}) \
        if lines is None else lines
    kpis = {"units_transferred_between_stores": 0.0, "units_replenished_from_warehouses": 3.0,
            "trucks": 1.0, "expected_stockout_units_before": 5.0,
            "expected_stockout_units_after": 2.0, "expected_stockout_reduction": 0.6,
            "warehouses": [{"warehouse_id": "W1", "throughput_used": 0.1}]}
    report = {"status": "optimal", "objective": 10.0, "bound": 10.0, "gap": 0.0,
              "solve_seconds": 0.1, "solver": "test", "message": ""}
    return weekly.PlanRecord(week="2026-W02", fingerprint="f" * 64, lines=lines, kpis=kpis,
                             report=report)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---- the transaction -----------------------------------------------------------------------


def test_files_and_row_commit_together(tmp_path: Path) -> None:
    store = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    out = tmp_path / "plan-2026-W02.csv"
    record = _record()
    with claim_outputs(weekly.plan_paths(out), force=False) as claim:
        plan_id = commit_outputs(claim, weekly.plan_writers(record, out),
                                 save_row=lambda: weekly.save_record(store, record),
                                 delete_row=store.delete_plan)
    sheet_files = [f"plan-2026-W02-{name}.csv" for name in weekly.SHEETS[1:]]
    assert "plan-2026-W02-kpis.csv" in sheet_files and len(sheet_files) == 10
    assert _files(tmp_path) == sorted(["db.sqlite", "db.sqlite-shm", "db.sqlite-wal",
                                       *sheet_files, "plan-2026-W02.csv"])
    assert store.list_plans()["id"].tolist() == [plan_id]


def test_a_failing_rename_leaves_no_row_and_no_file(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    store = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    out = tmp_path / "out" / "plan.csv"
    record = _record()
    real_replace = os.replace
    moved: list[str] = []

    def second_rename_fails(source: str | Path, target: str | Path) -> None:
        if moved:
            raise OSError("disk full")
        moved.append(str(target))
        real_replace(source, target)

    monkeypatch.setattr(outputs.os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="disk full"), \
            claim_outputs(weekly.plan_paths(out), force=False) as claim:
        commit_outputs(claim, weekly.plan_writers(record, out),
                       save_row=lambda: weekly.save_record(store, record),
                       delete_row=store.delete_plan)
    assert moved  # the first file had been moved into place, and was taken back
    assert _files(out.parent) == []  # no plan file, no temporary file, no lock
    assert store.list_plans().empty


def test_a_failing_rename_puts_back_the_file_it_replaced(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "plan.csv"
    out.write_text("last week\n")
    calls: list[str] = []
    real_replace = os.replace

    def fail_on_the_new_file(source: str | Path, target: str | Path) -> None:
        calls.append(str(target))
        if Path(target) == out and ".old-" not in str(source):
            raise OSError("rename refused")
        real_replace(source, target)

    monkeypatch.setattr(outputs.os, "replace", fail_on_the_new_file)
    with pytest.raises(OSError), claim_outputs([out], force=True) as claim:
        commit_outputs(claim, {out: lambda tmp: tmp.write_text("new\n")})
    assert out.read_text() == "last week\n"
    assert _files(tmp_path) == ["plan.csv"]


def test_an_exception_mid_write_removes_the_temporary_files(tmp_path: Path) -> None:
    saved: list[int] = []

    def half_written(tmp: Path) -> None:
        tmp.write_text("half a pla")
        raise KeyboardInterrupt  # Ctrl-C while writing

    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    with pytest.raises(KeyboardInterrupt), claim_outputs([first, second], force=False) as claim:
        commit_outputs(claim, {first: lambda tmp: tmp.write_text("ok\n"), second: half_written},
                       save_row=lambda: saved.append(1) or 1)
    assert _files(tmp_path) == [] and saved == []  # no file, no row


def test_an_existing_output_is_refused_without_force(tmp_path: Path) -> None:
    out = tmp_path / "a.csv"
    out.write_text("keep\n")
    with pytest.raises(OutputExistsError, match="--force"), claim_outputs([out], force=False):
        pass
    assert out.read_text() == "keep\n" and _files(tmp_path) == ["a.csv"]


HOLD_A_CLAIM = """
import sys
from pathlib import Path
from xingtu.jobs.outputs import claim_outputs
with claim_outputs([Path(sys.argv[1])], force=False):
    print("claimed", flush=True)
    sys.stdin.read()  # hold the claim until the test closes our input
"""


def test_two_runs_cannot_claim_one_out(tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    first = subprocess.Popen([sys.executable, "-c", HOLD_A_CLAIM, str(out)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().strip() == "claimed"
        with pytest.raises(OutputExistsError, match="Another run is writing"), \
                claim_outputs([out], force=True):  # --force does not take a running claim
            pass
    finally:
        first.stdin.close()
        first.wait(60)
        first.stdout.close()
    assert first.returncode == 0
    assert not lock_path(out).exists()
    with claim_outputs([out], force=False):  # free again once the first run ended
        pass


def test_the_lock_of_a_killed_run_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    lock_path(out).write_text(f"{int(dead.stdout)} {socket.gethostname()}\n")
    leftover = tmp_path / ".plan.xlsx.new-abc.tmp"
    leftover.write_bytes(b"")  # the 0-byte temporary file a killed write leaves
    with claim_outputs([out], force=False) as claim:
        commit_outputs(claim, {out: lambda tmp: tmp.write_text("x")})
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".plan", "plan"))
                  ) == ["plan.xlsx"]


# ---- the command line: database first, then files ------------------------------------------


def test_a_database_that_cannot_be_opened_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    folder_as_file = tmp_path / "a-folder"
    folder_as_file.mkdir()
    result = runner.invoke(app, ["allocate", "--demo", "--week", "2026-W02", "--out", str(out),
                                 "--database", f"sqlite:///{folder_as_file}", "--quiet"])
    assert result.exit_code == 1, result.output
    assert "Cannot open the database" in result.output and "Traceback" not in result.output
    assert _files(tmp_path) == ["a-folder"]


def test_a_locked_database_is_found_before_the_solve(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "db.sqlite"
    Database(f"sqlite:///{path}").close()
    monkeypatch.setattr(database_module, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = Database(f"sqlite:///{path}")
    except DatabaseError:
        store = None  # opening already saw the lock: as good
    try:
        if store is not None:
            with pytest.raises(DatabaseError, match="Cannot write to the database"):
                store.check_writable()
        out = tmp_path / "plan.xlsx"
        result = runner.invoke(app, ["allocate", "--demo", "--week", "2026-W02", "--out",
                                     str(out), "--database", f"sqlite:///{path}", "--quiet"])
        assert result.exit_code == 1, result.output
        assert "database" in result.output and not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".plan")]
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_demo_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "sites.geojson").write_text("{}")
    result = runner.invoke(app, ["demo", "--out", str(out), "--quiet"])
    assert result.exit_code == 2, result.output
    assert "--force" in result.output and (out / "sites.geojson").read_text() == "{}"
    assert _files(out) == ["sites.geojson"]  # nothing else written, no lock left


# ---- workbook safety ------------------------------------------------------------------------

HOSTILE = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tS1", "S1"]


def test_no_text_becomes_a_formula_in_a_workbook(tmp_path: Path) -> None:
    lines = pd.DataFrame({"from": HOSTILE, "to": HOSTILE[::-1], "sku": "A",
                          "quantity": [3, -2, 0, 1, 5, 7], "cost": [-1.5, 2.0, 0.0, 1.0, 3.0, 4.0]})
    path = write_workbook(_record(lines).sheets(), tmp_path / "plan.xlsx")
    book = openpyxl.load_workbook(path)
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    plan = book["plan"]
    assert [plan.cell(row=r, column=1).value for r in range(2, 8)] == HOSTILE  # text as it was
    assert [plan.cell(row=r, column=4).value for r in range(2, 8)] == [3, -2, 0, 1, 5, 7]
    assert {plan.cell(row=r, column=4).data_type for r in range(2, 8)} == {"n"}  # numbers


def test_csv_text_that_could_run_gets_a_quote(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": HOSTILE + ["-3", "+1.5"], "n": [-1, 2, 3, 4, 5, 6, 7, 8]})
    back = pd.read_csv(write_table(frame, tmp_path / "a.csv"), dtype={"id": str},
                       keep_default_na=False)
    assert back["id"].tolist()[:5] == ["'" + text for text in HOSTILE[:5]]
    assert back["id"].tolist()[5:] == ["S1", "-3", "+1.5"]  # plain text and numbers unchanged
    assert back["n"].tolist() == frame["n"].tolist()
    assert csv_bytes(frame) == (tmp_path / "a.csv").read_bytes()


@pytest.mark.parametrize("week", ["../2026-W02", "2026-W1", "2026-W60", "2026/W02", "", None,
                                  "2026-W02/../../x"])
def test_file_names_come_only_from_week_labels(week: object) -> None:
    with pytest.raises(ValueError, match="YYYY-Www"):
        week_file_name("plan", week, ".xlsx")  # type: ignore[arg-type]


def test_a_week_label_makes_the_plan_file_name() -> None:
    assert check_week_label("2026-W53") == "2026-W53"
    assert weekly.plan_file_name("2026-W02", ".csv") == "plan-2026-W02.csv"


# ---- exit codes and version -----------------------------------------------------------------


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"xingtu {version('xingtu')}"


@pytest.mark.parametrize(("args", "code"), [
    (["allocate", "--week", "2026-W02", "--out", "plan.txt", "--demo"], 2),  # bad option value
    (["allocate", "--week", "2026-W1", "--demo"], 2),                        # bad week label
    (["allocate", "--demo"], 2),                                             # missing option
    (["sites", "--demo", "--model", "pmedian"], 2),                          # not a choice
    (["layers", "--demo", "--engine", "spark"], 2),
    (["no-such-command"], 2),
])
def test_usage_and_input_errors_exit_2(args: list[str], code: int, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert _files(tmp_path) in ([], ["out"])
    if (tmp_path / "out").exists():
        assert _files(tmp_path / "out") == []


def test_a_solver_failure_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from optimizer.errors import SolverError
    from xingtu.commands import _console

    assert _console.exit_code(SolverError("stopped")) == 1
    assert _console.exit_code(DatabaseError("gone")) == 1
    assert _console.exit_code(OSError("disk")) == 1

    def failing(*args: object, **kwargs: object) -> None:
        raise SolverError("The solver stopped without a plan.")

    monkeypatch.setattr(weekly, "plan_week", failing)
    out = tmp_path / "plan.xlsx"
    result = runner.invoke(app, ["allocate", "--demo", "--week", "2026-W02", "--out", str(out),
                                 "--quiet"])
    assert result.exit_code == 1 and "solver stopped" in result.output
    assert not out.exists() and not lock_path(out).exists()


def test_progress_is_drawn_and_quiet_silences_it(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from optimizer.solvers import SolveProgress
    from xingtu.commands._console import JobProgress

    buffer = io.StringIO()
    progress = JobProgress(console=Console(file=buffer, force_terminal=True, width=100))
    with progress.running():
        progress.stage("Solving the transfer model")
        progress.solver(SolveProgress(2.0, 105.0, 100.0, 0.0476))
        assert "gap so far 4.76% after 2.0 s" in str(progress._status.renderable.text)
    plain = io.StringIO()
    JobProgress(console=Console(file=plain, force_terminal=False)).stage("Reading the inputs")
    assert re.search(r"\[ +\d+\.\d s\] Reading the inputs", plain.getvalue())
    quiet = io.StringIO()
    silent = JobProgress(quiet=True, console=Console(file=quiet))
    with silent.running():
        silent.stage("Reading the inputs")
        silent.solver(SolveProgress(2.0, 105.0, 100.0, 0.0476))
    assert quiet.getvalue() == ""

    loud = runner.invoke(app, ["layers", "--demo", "--resolution", "5", "--out",
                               str(tmp_path / "a.parquet")])
    hushed = runner.invoke(app, ["layers", "--demo", "--resolution", "5", "--out",
                                 str(tmp_path / "b.parquet"), "--quiet"])
    assert loud.exit_code == hushed.exit_code == 0
    assert "building the layers" in loud.output and "building the layers" not in hushed.output
