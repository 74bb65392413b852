"""The plan workbook as a planner opens it: typed cells, formats, frozen headers, filters, and
sheets that hold the library's tables (checked against figures computed here from the lines).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from optimizer.allocation import PlanSettings
from optimizer.allocation.planner_tables import planner_tables
from xingtu.database import Database
from xingtu.jobs import weekly

HOSTILE_NAME = '=HYPERLINK("http://x","y")'


@pytest.fixture(scope="module")
def region():
    from geodata.demo import generate_region

    made = generate_region(n_stores=20, n_skus=12, n_warehouses=2, n_competitors=5,
                           n_pois=100, n_footfall=500, n_customers=300, days=120, seed=5)
    made.stores.loc[0, "name"] = HOSTILE_NAME  # a store name a spreadsheet would run
    return made


@pytest.fixture(scope="module")
def two_plans(region, tmp_path_factory: pytest.TempPathFactory):
    """The same week planned twice into one database: the second is compared with the first."""
    folder = tmp_path_factory.mktemp("workbook")
    tables = {kind: getattr(region, kind, None) for kind in weekly.INPUT_KINDS}
    week = weekly.next_week(region.sales)
    database = Database(f"sqlite:///{folder / 'plans.sqlite'}")
    first, _, _ = weekly.plan_and_commit(tables, week=week, out=folder / "first.xlsx",
                                         database=database,
                                         settings=PlanSettings(service_level=0.8))
    second, _, _ = weekly.plan_and_commit(tables, week=week, out=folder / "second.xlsx",
                                          database=database)
    return first, second, folder / "second.xlsx"


def _read(path: Path) -> dict[str, pd.DataFrame]:
    return pd.read_excel(path, sheet_name=None)


def test_every_sheet_is_laid_out_for_people(two_plans) -> None:
    _, _, path = two_plans
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [weekly.SHEET_TITLES[name] for name in weekly.SHEETS]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        last = openpyxl.utils.get_column_letter(sheet.max_column)
        assert sheet.auto_filter.ref == f"A1:{last}{sheet.max_row}", sheet.title
        widths = [sheet.column_dimensions[openpyxl.utils.get_column_letter(c)].width
                  for c in range(1, sheet.max_column + 1)]
        assert all(w and w >= 4 for w in widths), sheet.title
        cells = [cell for row in sheet.iter_rows() for cell in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"], sheet.title
    plan = book["Plan"]
    header = [cell.value for cell in plan[1]]
    assert header[:7] == ["From", "From name", "To", "To name", "To region", "SKU", "SKU name"]


def test_numbers_are_numbers_with_formats(two_plans) -> None:
    _, second, path = two_plans
    book = openpyxl.load_workbook(path)
    expected = {("Plan", "Quantity"): "#,##0", ("Plan", "Cost"): "#,##0.00",
                ("Warehouses", "Cross region transfer rate"): "0.0%",
                ("Warehouses", "Turnover days"): "#,##0.0",
                ("Stores", "Units in"): "#,##0", ("Stockout risk", "Lost margin"): "#,##0.00",
                ("Supplier orders", "Order units"): "#,##0"}
    for (title, column), pattern in expected.items():
        sheet = book[title]
        position = [cell.value for cell in sheet[1]].index(column) + 1
        cells = [sheet.cell(row=r, column=position) for r in range(2, sheet.max_row + 1)]
        assert cells, (title, column)
        assert all(c.data_type == "n" for c in cells if c.value is not None), (title, column)
        assert {c.number_format for c in cells} == {pattern}, (title, column)

    kpis = book["KPIs"]
    rows = {kpis.cell(row=r, column=1).value: kpis.cell(row=r, column=3)
            for r in range(2, kpis.max_row + 1)}
    for key, pattern in (("transport_cost", "#,##0.00"), ("cross_region_transfer_rate", "0.0%"),
                         ("trucks", "#,##0"), ("expected_stockout_units_after", "#,##0"),
                         ("store_turnover_days_after", "#,##0.0")):
        cell = rows[key]
        assert cell.data_type == "n" and isinstance(cell.value, int | float), key
        assert cell.value == pytest.approx(second.record.kpis[key]), key
        assert cell.number_format == pattern, key
    assert rows["solve_status"].value == second.record.report["status"]
    assert rows["compared_with"].value == second.record.week


def test_sheets_hold_the_library_tables(two_plans, region) -> None:
    first, second, path = two_plans
    sheets = _read(path)
    library = planner_tables(second.plan, stores=region.stores, warehouses=region.warehouses,
                             skus=region.skus, sales=region.sales)
    lines = second.record.lines
    assert len(sheets["Plan"]) == len(library["lines"]) >= len(lines)
    assert sheets["Plan"]["Quantity"].sum() == lines["quantity"].sum()

    # The store card's units in and out, against the lines summed here.
    stores = sheets["Stores"].set_index("Store ID")
    units_in = lines.groupby("to")["quantity"].sum()
    units_out = lines.groupby("from")["quantity"].sum()
    for store_id, row in stores.iterrows():
        assert row["Units in"] == pytest.approx(units_in.get(store_id, 0.0))
        assert row["Units out"] == pytest.approx(units_out.get(store_id, 0.0))
    names = region.stores.set_index("store_id")["name"]
    assert (stores["Name"] == names.loc[stores.index]).all()  # the hostile name, as text
    assert HOSTILE_NAME in set(stores["Name"])

    # Warehouses: one row each, replenishment = what the lines send from it.
    warehouses = sheets["Warehouses"].set_index("Warehouse ID")
    assert sorted(warehouses.index) == sorted(region.warehouses["warehouse_id"])
    for warehouse_id, row in warehouses.iterrows():
        assert row["Replenishment units"] == pytest.approx(units_out.get(warehouse_id, 0.0))

    # Slow movers: every store-SKU of the cover table, most weeks of cover first.
    slow = sheets["Slow movers"]
    assert len(slow) == len(library["cover"])
    cover = slow["Weeks of cover"].dropna().to_numpy()
    assert (np.diff(cover) <= 1e-9).all()
    for title, name in (("Stockout risk", "stockout_risk"), ("Supplier orders", "supplier_orders"),
                        ("Returns", "returns"), ("Demand guide", "demand_guide"),
                        ("Fast and slow movers", "movers")):
        assert len(sheets[title]) == len(library[name]), title
    orders = sheets["Supplier orders"]
    assert (orders["Order units"] == orders["Cases"] * orders["Case size"]).all()
    pd.testing.assert_series_equal(
        orders["Order units"], library["supplier_orders"]["order_units"].astype("int64"),
        check_names=False)


def test_changes_against_the_previous_plan(two_plans) -> None:
    first, second, path = two_plans
    changes = _read(path)["Changes vs previous"].set_index("Location ID")
    before, now = first.record.lines, second.record.lines
    places = set(before["from"]) | set(before["to"]) | set(now["from"]) | set(now["to"])
    assert set(changes.index) == places
    for place, row in changes.iterrows():
        expected_in_before = before.loc[before["to"] == place, "quantity"].sum()
        expected_in_now = now.loc[now["to"] == place, "quantity"].sum()
        expected_out_now = now.loc[now["from"] == place, "quantity"].sum()
        assert row["Units in before"] == expected_in_before
        assert row["Units in now"] == expected_in_now
        assert row["Units in change"] == expected_in_now - expected_in_before
        assert row["Units out now"] == expected_out_now
    assert changes["Kind"].isin(["store", "warehouse"]).all()
    assert not first.record.lines.equals(second.record.lines)  # the service levels differ


def test_a_first_plan_has_an_empty_comparison(two_plans) -> None:
    first, _, _ = two_plans
    sheets = weekly.plan_sheets(first.record)
    assert len(sheets["changes"]) == 0
    assert list(sheets["changes"].columns) == list(weekly.CHANGE_COLUMNS)
    kpis = sheets["kpis"].set_index("kpi")
    assert kpis.loc["compared_with", "text"] == "no earlier plan saved"


@pytest.mark.parametrize("label", ["2026-02-30", "2026-12-3", "../2026-12-03", "2026-12-03/x",
                                   "2026-W60", ""])
def test_plan_file_names_take_only_a_real_week_or_day(label: str) -> None:
    from optimizer.errors import InputError

    with pytest.raises(InputError, match="YYYY-"):
        weekly.plan_file_name(label)


def test_plan_file_names_of_a_week_and_a_day() -> None:
    assert weekly.plan_file_name("2026-12-03") == "plan-2026-12-03.xlsx"
    assert weekly.plan_file_name("2026-W02", ".csv") == "plan-2026-W02.csv"
