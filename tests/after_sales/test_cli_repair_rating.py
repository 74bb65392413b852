"""``xingtu repair-shops rate`` and ``repair-sites`` with repair records, from the command line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from xingtu.cli import app

runner = CliRunner()


def test_rate_demo_writes_ratings_and_flags(tmp_path: Path, demo_repairs) -> None:
    out = tmp_path / "ratings.xlsx"
    result = runner.invoke(app, ["repair-shops", "rate", "--demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "40 shops rated from" in result.output and "Top flagged claims" in result.output
    sheets = pd.read_excel(out, sheet_name=None)
    assert set(sheets) == {"ratings", "flagged_claims", "shop_signals", "failure_rates"}
    assert {"shop_id", "rating", "grade", "reasons"} <= set(sheets["ratings"].columns)
    top = set(sheets["shop_signals"]["shop_id"].head(3))
    assert top == set(demo_repairs.planted_shops.values())


def test_rate_from_files_as_csv(tmp_path: Path, demo_repairs, demo_region) -> None:
    repairs = tmp_path / "repairs.csv"
    demo_repairs.repairs.head(3000).to_csv(repairs, index=False)
    shops = tmp_path / "shops.csv"
    frame = demo_region.repair_shops
    pd.DataFrame({"shop_id": frame["shop_id"], "rating": frame["rating"],
                  "lat": frame.geometry.y, "lng": frame.geometry.x}).to_csv(shops, index=False)
    out = tmp_path / "rated.csv"
    result = runner.invoke(app, ["repair-shops", "rate", "--repairs", str(repairs), "--shops",
                                 str(shops), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == demo_repairs.repairs.head(3000)["shop_id"].nunique()
    assert (tmp_path / "rated-flagged-claims.csv").exists()
    assert (tmp_path / "rated-shop-signals.csv").exists()


def test_bad_records_exit_2_naming_file_column_row(tmp_path: Path, demo_region) -> None:
    repairs = tmp_path / "repairs.csv"
    pd.DataFrame({"shop_id": ["R001", "NOPE"], "serial": ["a", "b"], "model": ["M", "M"],
                  "received": ["2025-01-02", "2025-01-03"],
                  "returned": ["2025-01-01", "2025-01-04"], "fault_code": ["SCREEN"] * 2,
                  "parts_cost": [-5, 10], "labour_cost": [1, 1], "warranty": [True, False]}
                 ).to_csv(repairs, index=False)
    result = runner.invoke(app, ["repair-shops", "rate", "--demo", "--repairs", str(repairs),
                                 "--out", str(tmp_path / "r.xlsx")])
    assert result.exit_code == 2
    assert "repairs.csv, column `returned`, row 1: returned before it was received" in \
        result.output
    assert "repairs.csv, column `shop_id`, row 2: shop is not in the repair-shop table" in \
        result.output
    assert "column `parts_cost`, row 1: value is negative" in result.output
    assert "Traceback" not in result.output
    assert runner.invoke(app, ["repair-shops", "rate"]).exit_code == 2


def test_repair_sites_demo_uses_the_records(tmp_path: Path) -> None:
    out = tmp_path / "repair.csv"
    args = ["repair-sites", "--demo", "--n-new", "3", "--out", str(out)]
    rated = runner.invoke(app, args)
    assert rated.exit_code == 0, rated.output
    assert "Ratings computed from repair records" in rated.output
    given = runner.invoke(app, [*args, "--given-ratings", "--force"])
    assert given.exit_code == 0, given.output
    assert "Ratings computed" not in given.output
    assert "Expected repairs 5,399 a year" in given.output


def test_repair_sites_from_files_with_records(tmp_path: Path, demo_region, demo_repairs) -> None:
    from geodata.layers import build_layers, save_layers
    from optimizer.after_sales import assess_repair_shops

    table = build_layers(demo_region)
    layers = tmp_path / "layers.parquet"
    save_layers(table, layers)
    flat = f"Expected repairs {table['devices_sold'].sum() * 0.08:,.0f} a year"
    expected = assess_repair_shops(demo_repairs.repairs, devices=demo_repairs.devices)
    by_model_and_age = f"Expected repairs {expected.expected_repairs.sum():,.0f} a year"
    shops = tmp_path / "shops.csv"
    frame = demo_region.repair_shops
    pd.DataFrame({"shop_id": frame["shop_id"], "rating": frame["rating"],
                  "lat": frame.geometry.y, "lng": frame.geometry.x}).to_csv(shops, index=False)
    repairs = tmp_path / "repairs.csv"
    demo_repairs.repairs.to_csv(repairs, index=False)
    devices = tmp_path / "devices.csv"
    demo_repairs.devices.drop(columns="cell").to_csv(devices, index=False)
    base = ["repair-sites", "--layers", str(layers), "--shops", str(shops), "--n-new", "2",
            "--out", str(tmp_path / "r.csv"), "--force"]
    given = runner.invoke(app, base)
    assert given.exit_code == 0, given.output
    assert "Ratings computed" not in given.output  # no records given: the given ratings
    rated = runner.invoke(app, [*base, "--repairs", str(repairs)])
    assert rated.exit_code == 0, rated.output
    assert "demand from devices sold x repair rate" in rated.output
    assert flat in rated.output
    full = runner.invoke(app, [*base, "--repairs", str(repairs), "--devices", str(devices)])
    assert full.exit_code == 0, full.output
    assert by_model_and_age in full.output and by_model_and_age != flat
    assert "demand from the devices sold by model and age" in full.output
