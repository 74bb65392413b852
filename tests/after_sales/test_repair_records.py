"""Repair records as an input: bad records refused with file, column and row; comebacks derived."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geodata._errors import InputDataError
from geodata.repairs import read_devices, read_repairs, validate_repairs
from optimizer.after_sales.records import came_back_within

GOOD = {"shop_id": ["R1", "R1", "R2"], "serial": ["A", "A", "B"], "model": ["M", "M", "M"],
        "received": ["2025-01-02", "2025-01-20", "2025-02-01"],
        "returned": ["2025-01-05", "2025-01-22", "2025-02-03"],
        "fault_code": ["SCREEN", "SCREEN", "BATTERY"], "parts_cost": [100, 0, 80],
        "labour_cost": [50, 30, 20], "warranty": ["yes", "warranty", "paid"],
        "warranty_end": ["2025-06-01", "2025-06-01", "2024-01-01"],
        "customer_rating": [5, None, 2]}
SHOPS = pd.DataFrame({"shop_id": ["R1", "R2"]})


def _write(tmp_path: Path, **changes: list) -> Path:
    frame = pd.DataFrame({**GOOD, **changes})
    path = tmp_path / "repairs.csv"
    frame.to_csv(path, index=False)
    return path


def test_good_file_reads_with_derived_comebacks(tmp_path: Path) -> None:
    table = read_repairs(_write(tmp_path), shops=SHOPS)
    assert table["warranty"].tolist() == [True, True, False]
    assert table["back_within_30"].tolist() == [True, False, False]
    assert table["received"].dtype.kind == "M"


@pytest.mark.parametrize(("changes", "column", "row", "words"), [
    ({"shop_id": ["R1", "R9", "R2"]}, "shop_id", 2, "not in the repair-shop table"),
    ({"returned": ["2025-01-05", "2025-01-19", "2025-02-03"]}, "returned", 2,
     "returned before it was received"),
    ({"parts_cost": [100, 0, -80]}, "parts_cost", 3, "negative"),
    ({"labour_cost": [50, float("nan"), 20]}, "labour_cost", 2, "missing"),
    ({"labour_cost": [50, float("inf"), 20]}, "labour_cost", 2, "infinite"),
    ({"received": ["2025-01-02", "2025-13-45", "2025-02-01"]}, "received", 2, "not a date"),
    ({"warranty": ["yes", "maybe", "no"]}, "warranty", 2, "not a yes/no flag"),
    ({"customer_rating": [5, 7, 2]}, "customer_rating", 2, "above 5"),
    ({"returned": ["2025-01-05", "2027-01-22", "2025-02-03"]}, "returned", 2,
     "more than 365 days"),
])
def test_bad_records_are_refused_with_file_column_row(tmp_path: Path, changes: dict,
                                                      column: str, row: int, words: str) -> None:
    with pytest.raises(InputDataError) as caught:
        read_repairs(_write(tmp_path, **changes), shops=SHOPS)
    problems = [p for p in caught.value.problems if p.column == column]
    assert problems, str(caught.value)
    problem = problems[0]
    assert problem.source == "repairs.csv" and problem.row == row and words in problem.message
    assert problem.fix  # every problem says what to do
    assert f"column `{column}`, row {row}" in str(caught.value)


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    path = _write(tmp_path, shop_id=["R1", "R9", "R2"], parts_cost=[100, 0, -80],
                  returned=["2024-12-31", "2025-01-22", "2025-02-03"])
    with pytest.raises(InputDataError) as caught:
        read_repairs(path, shops=SHOPS)
    assert {p.column for p in caught.value.problems} == {"shop_id", "parts_cost", "returned"}


def test_missing_column_names_the_fix(tmp_path: Path) -> None:
    frame = pd.DataFrame(GOOD).rename(columns={"fault_code": "falt_code"})
    with pytest.raises(InputDataError, match="rename column `falt_code` to `fault_code`"):
        validate_repairs(frame, shops=SHOPS, source="repairs.csv")


def test_given_comeback_column_is_checked(tmp_path: Path) -> None:
    path = _write(tmp_path, back_within_30=[False, False, False])
    with pytest.warns(UserWarning, match=r"column `back_within_30`, row 1: disagrees"):
        table = read_repairs(path, shops=SHOPS)
    assert table["back_within_30"].tolist() == [True, False, False]  # the derived value


def test_came_back_within_by_hand() -> None:
    frame = pd.DataFrame({"serial": ["x", "y", "x", "x"],
                          "received": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-03-01",
                                                      "2025-02-01"]),
                          "returned": pd.to_datetime(["2025-01-02", "2025-01-02", "2025-03-02",
                                                      "2025-02-02"])})
    # x: back on 02-01 (30 days after 01-02), then 03-01 (27 days after 02-02)
    assert came_back_within(frame, 30).tolist() == [True, False, False, True]
    assert came_back_within(frame, 29).tolist() == [False, False, False, True]
    assert came_back_within(frame, 90).tolist() == [True, False, False, True]


def test_devices_reader(tmp_path: Path) -> None:
    path = tmp_path / "devices.csv"
    pd.DataFrame({"serial": ["A", "A"], "model": ["M", "M"], "sold": ["2024-01-01", "x"],
                  "lat": [22.5, 22.6], "lng": [114.0, 114.1]}).to_csv(path, index=False)
    with pytest.raises(InputDataError) as caught:
        read_devices(path)
    columns = {(p.column, p.row) for p in caught.value.problems}
    assert ("sold", 2) in columns and ("serial", 1) in columns


def test_demo_records_pass_their_own_checks(demo_repairs, demo_region) -> None:
    checked = validate_repairs(demo_repairs.repairs, shops=demo_region.repair_shops)
    assert len(checked) == len(demo_repairs.repairs)
    assert np.isfinite(checked[["parts_cost", "labour_cost"]].to_numpy()).all()
