"""``xingtu allocate`` from the command line: files written atomically, plan saved, no overwrite."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from xingtu.cli import app
from xingtu.database import Database

runner = CliRunner()


@pytest.fixture(scope="module")
def input_files(tmp_path_factory) -> dict[str, Path]:
    from geodata.demo import generate_region

    region = generate_region(n_stores=20, n_skus=12, n_warehouses=2, n_competitors=5,
                             n_pois=100, n_footfall=500, n_customers=300, days=120, seed=5)
    folder = tmp_path_factory.mktemp("inputs")
    files = {}
    for kind in ("stores", "warehouses"):
        frame = getattr(region, kind)
        table = pd.DataFrame(frame.drop(columns="geometry"))
        table["lat"], table["lng"] = frame.geometry.y, frame.geometry.x
        files[kind] = folder / f"{kind}.csv"
        table.to_csv(files[kind], index=False)
    for kind in ("skus", "sales", "stock"):
        files[kind] = folder / f"{kind}.csv"
        getattr(region, kind).to_csv(files[kind], index=False)
    return files


def _args(files: dict[str, Path]) -> list[str]:
    return [arg for kind, path in files.items() for arg in (f"--{kind}", str(path))]


def test_allocate_from_files_writes_workbook_and_saves_plan(tmp_path: Path, input_files) -> None:
    out = tmp_path / "plan.xlsx"
    database = f"sqlite:///{tmp_path / 'plans.db'}"
    result = runner.invoke(app, ["allocate", "--week", "2026-W02", "--out", str(out),
                                 "--database", database, *_args(input_files)])
    assert result.exit_code == 0, result.output
    assert "Expected stockouts next week" in result.output
    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets) == ["Plan", "KPIs", "Warehouses", "Stores", "Demand guide",
                            "Slow movers", "Fast and slow movers", "Stockout risk",
                            "Supplier orders", "Returns", "Changes vs previous"]
    kpis = dict(zip(sheets["KPIs"]["KPI"], sheets["KPIs"]["Value"], strict=True))
    assert float(kpis["expected_stockout_units_after"]) <= float(
        kpis["expected_stockout_units_before"])
    lines, saved_kpis, report, fingerprint = Database(database).load_plan("2026-W02")
    assert lines["quantity"].sum() == sheets["Plan"]["Quantity"].sum()  # split by ship day
    assert report["status"] in ("optimal", "feasible") and len(fingerprint) == 64
    assert saved_kpis["expected_stockout_units_after"] == pytest.approx(
        float(kpis["expected_stockout_units_after"]))
    assert not list(tmp_path.glob(".*.tmp"))

    # Same inputs, csv output: the same fingerprint; the existing workbook is never overwritten.
    before = out.read_bytes()
    refused = runner.invoke(app, ["allocate", "--week", "2026-W02", "--out", str(out),
                                  "--database", database, *_args(input_files)])
    assert refused.exit_code == 2 and "--force" in refused.output
    assert out.read_bytes() == before
    csv = tmp_path / "plan.csv"
    again = runner.invoke(app, ["allocate", "--week", "2026-W02", "--out", str(csv),
                                "--database", database, *_args(input_files)])
    assert again.exit_code == 0, again.output
    assert (tmp_path / "plan-kpis.csv").exists() and (tmp_path / "plan-warehouses.csv").exists()
    # The second plan of the week is compared with the first: same inputs, no change.
    changes = pd.read_csv(tmp_path / "plan-changes.csv")
    assert len(changes) > 0
    assert (changes["units_in_change"] == 0).all() and (changes["units_out_change"] == 0).all()
    plans = Database(database).list_plans()
    assert len(plans) == 2 and plans["fingerprint"].nunique() == 1


def test_bad_inputs_exit_2_with_file_column_row(tmp_path: Path, input_files) -> None:
    stock = pd.read_csv(input_files["stock"])
    stock.loc[3, "sku"] = "NO-SUCH-SKU"
    bad = tmp_path / "stock.csv"
    stock.to_csv(bad, index=False)
    files = {**input_files, "stock": bad}
    out = tmp_path / "plan.xlsx"
    result = runner.invoke(app, ["allocate", "--week", "2026-W02", "--out", str(out),
                                 "--database", f"sqlite:///{tmp_path / 'p.db'}", *_args(files)])
    assert result.exit_code == 2
    # stock.loc[3] is the fourth data row: row 4 (row 1 = the first row under the header).
    assert "stock.csv, column `sku`, row 4: the id is not a SKU" in result.output
    assert "'NO-SUCH-SKU'" in result.output
    assert not out.exists()


def test_missing_inputs_and_bad_week_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["allocate", "--week", "2026-W02",
                               "--out", str(tmp_path / "p.xlsx")]).exit_code == 2
    result = runner.invoke(app, ["allocate", "--week", "48", "--demo",
                                 "--out", str(tmp_path / "p.xlsx")])
    assert result.exit_code == 2 and "YYYY-Www" in result.output and "Traceback" not in result.output


def test_two_workers_plan_in_a_second_process_under_the_same_fingerprint(
        tmp_path: Path, input_files) -> None:
    from optimizer.allocation.worker import fork_available

    database = f"sqlite:///{tmp_path / 'plans.db'}"
    for workers, name in (("1", "one.parquet"), ("2", "two.parquet")):
        result = runner.invoke(app, ["allocate", "--week", "2026-W02", "--out",
                                     str(tmp_path / name), "--database", database,
                                     "--workers", workers, *_args(input_files)])
        assert result.exit_code == 0, result.output
    plans = Database(database).list_plans()
    # How many processes solve the week is not part of its inputs.
    assert len(plans) == 2 and plans["fingerprint"].nunique() == 1
    kpis = pd.read_parquet(tmp_path / "two-kpis.parquet")
    message = dict(zip(kpis["kpi"], kpis["text"], strict=True))["solve_message"]  # text KPIs
    assert ("second process" in message) == fork_available()
    assert runner.invoke(app, ["allocate", "--week", "2026-W02", "--workers", "0",
                               "--demo", "--out", str(tmp_path / "p.xlsx")]).exit_code == 2


def test_day_plan_from_the_cli_meets_the_invariants_and_is_saved(tmp_path: Path,
                                                                   input_files) -> None:
    from optimizer.allocation import plan_day
    from tests.allocation.test_allocation import assert_plan_invariants
    from xingtu.jobs import weekly

    database = f"sqlite:///{tmp_path / 'plans.db'}"
    sales = pd.read_csv(input_files["sales"])
    day = str((pd.Timestamp(sales["date"].max()) + pd.Timedelta(days=1)).date())
    out = tmp_path / "out"
    week = weekly.next_week(sales)
    first = runner.invoke(app, ["allocate", "--week", week, "--out", str(out / "week.xlsx"),
                                "--database", database, *_args(input_files)])
    assert first.exit_code == 0, first.output
    result = runner.invoke(app, ["allocate", "--day", day, "--out",
                                 str(out / weekly.plan_file_name(day)), "--database", database,
                                 *_args(input_files)])
    assert result.exit_code == 0, result.output
    assert (out / f"plan-{day}.xlsx").exists()
    plans = Database(database).list_plans()
    assert plans["week"].tolist() == [day, week]  # stored beside the weekly plan
    record = weekly.load_record(Database(database), day)
    assert record.week == day and len(record.fingerprint) == 64
    sheets = pd.read_excel(out / f"plan-{day}.xlsx", sheet_name=None)
    assert sheets["Plan"]["Quantity"].sum() == record.lines["quantity"].sum()
    assert sheets["Plan"]["Ship day"].eq(day).all() if len(record.lines) else True

    # The same day through the library: the CLI's plan meets the plan invariants.
    from geodata.io import read_inputs

    tables = read_inputs(input_files)
    plan = plan_day(**{k: tables[k] for k in weekly.REQUIRED_KINDS}, day=day,
                    in_transit=weekly.in_transit_lines(Database(database), day))
    assert_plan_invariants(plan.problem, plan.result)
    assert plan.lines["quantity"].sum() == record.lines["quantity"].sum()

    bad = runner.invoke(app, ["allocate", "--day", "2026-02-30", "--demo",
                              "--out", str(tmp_path / "p.xlsx")])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
    both = runner.invoke(app, ["allocate", "--day", day, "--week", week, "--demo"])
    assert both.exit_code == 2 and "not both" in both.output
