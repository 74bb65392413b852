"""A corpus of bad inputs, built from the demo data at test time, run through the command line.

Each case is a valid set of input files with one thing broken the way a careful user could
break it. Either the command refuses it (exit 2, a message naming the file, the column and the
row counted from 1, no traceback, no plan file and no saved plan) or it accepts it with the
documented fallback and says so in a warning (exit 0). A second part feeds random corruptions of
a valid week to the library and checks that each ends in an input error or in a plan that keeps
every invariant of the weekly plan.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from optimizer.errors import InputError, InputWarning
from tests.allocation.test_allocation import assert_plan_invariants
from xingtu.cli import app, show_warning

runner = CliRunner()
WEEK = "2025-W10"
KINDS = ("stores", "warehouses", "skus", "sales", "stock")


@pytest.fixture(scope="module")
def region():
    from geodata.demo import generate_region

    return generate_region(n_stores=8, n_skus=12, n_warehouses=2, n_competitors=2, n_pois=20,
                           n_footfall=50, n_customers=30, days=60, seed=5)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """A point frame as the CSV a planner exports: `lat`/`lng` columns instead of geometry."""
    if "geometry" not in frame.columns:
        return pd.DataFrame(frame).copy()
    table = pd.DataFrame(frame.drop(columns="geometry"))
    table["lat"], table["lng"] = frame.geometry.y.to_numpy(), frame.geometry.x.to_numpy()
    return table


@pytest.fixture(scope="module")
def tables(region) -> dict[str, pd.DataFrame]:
    return {kind: _plain(getattr(region, kind)) for kind in (*KINDS, "lanes")}


@dataclass(frozen=True)
class Refused:
    """The command must exit 2 with these words in its message."""

    file: str
    column: str | None
    row: int | None
    words: str = ""


@dataclass(frozen=True)
class Warned:
    """The command must exit 0 and print a warning with these words."""

    words: str


@dataclass(frozen=True)
class Case:
    name: str
    files: Callable[[dict[str, pd.DataFrame], Path], dict[str, Path]]
    expect: Refused | Warned
    week: str = WEEK
    command: str = "allocate"


def _csv(tables: dict[str, pd.DataFrame], folder: Path, **changed: pd.DataFrame) -> dict[str, Path]:
    """Write every allocation input as CSV, with the changed tables in place of the valid ones."""
    files = {}
    for kind in KINDS:
        files[kind] = folder / f"{kind}.csv"
        changed.get(kind, tables[kind]).to_csv(files[kind], index=False)
    if "lanes" in changed:
        files["lanes"] = folder / "lanes.csv"
        changed["lanes"].to_csv(files["lanes"], index=False)
    return files


def _set(kind: str, column: str, row: int, value: object):
    """A case builder that sets one cell (``row`` counted from 1, as in the messages)."""
    def files(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
        frame = tables[kind].copy()
        frame[column] = frame[column].astype(object)
        frame.loc[frame.index[row - 1], column] = value
        return _csv(tables, folder, **{kind: frame})
    return files


def _edit(kind: str, change: Callable[[pd.DataFrame], pd.DataFrame]):
    def files(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
        return _csv(tables, folder, **{kind: change(tables[kind].copy())})
    return files


def _stores_gpkg(change: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]):
    def files(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
        stores = tables["stores"]
        frame = gpd.GeoDataFrame(stores.drop(columns=["lat", "lng"]),
                                 geometry=gpd.points_from_xy(stores["lng"], stores["lat"]),
                                 crs="EPSG:4326")
        written = _csv(tables, folder)
        written["stores"] = folder / "stores.gpkg"
        change(frame).to_file(written["stores"])
        return written
    return files


def _encoded(encoding: str):
    def files(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
        written = _csv(tables, folder)
        stores = tables["stores"].assign(name=[f"深圳门店 {i}" for i in range(len(tables["stores"]))])
        stores.to_csv(written["stores"], index=False, encoding=encoding)
        return written
    return files


def _undecodable(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
    written = _csv(tables, folder)
    text = written["stores"].read_bytes()
    written["stores"].write_bytes(text.replace(b"store", b"\xff\xfe\xff", 1))
    return written


def _workbook(sheet_suffix: str):
    def files(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
        written = _csv(tables, folder)
        book = folder / "skus.xlsx"
        with pd.ExcelWriter(book) as writer:
            pd.DataFrame().to_excel(writer, sheet_name="Cover", index=False)
            tables["skus"].to_excel(writer, sheet_name="Data", index=False)
        written["skus"] = Path(f"{book}{sheet_suffix}")
        return written
    return files


def _new_store_without_channel(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
    stores = tables["stores"]
    extra = stores.iloc[[0]].assign(store_id="S999", channel=np.nan)
    return _csv(tables, folder, stores=pd.concat([stores, extra], ignore_index=True))


def _lanes_without(columns: list[str]):
    def files(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
        return _csv(tables, folder, lanes=tables["lanes"].drop(columns=columns))
    return files


def _warehouse_named_like_store(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
    warehouses = tables["warehouses"].copy()
    warehouses.loc[warehouses.index[1], "warehouse_id"] = tables["stores"]["store_id"].iloc[0]
    return _csv(tables, folder, warehouses=warehouses)


def _hostile_ids(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
    """Store ids a spreadsheet would run as formulas, used the same way in every table."""
    first = tables["stores"]["store_id"].iloc[0]
    hostile = '=HYPERLINK("http://x","y")'
    renamed = {kind: tables[kind].replace({column: {first: hostile} for column in
                                           ("store_id", "location_id") if column in
                                           tables[kind]}) for kind in KINDS}
    return _csv(tables, folder, **renamed)


ALLOCATE_CASES = [
    Case("inf volume", _set("skus", "volume_l", 3, "inf"), Refused("skus.csv", "volume_l", 3,
                                                                    "infinite")),
    Case("inf stock", _set("stock", "on_hand", 5, "inf"), Refused("stock.csv", "on_hand", 5,
                                                                  "infinite")),
    Case("-inf unit cost", _set("skus", "unit_cost", 2, "-inf"),
         Refused("skus.csv", "unit_cost", 2, "infinite")),
    Case("missing stock", _set("stock", "on_hand", 4, np.nan),
         Refused("stock.csv", "on_hand", 4, "missing")),
    Case("negative sale", _set("sales", "units", 7, -3), Refused("sales.csv", "units", 7,
                                                                 "negative")),
    Case("text unit cost", _set("skus", "unit_cost", 1, "12 CNY"),
         Refused("skus.csv", "unit_cost", 1, "not a number")),
    Case("fractional stock", _set("stock", "on_hand", 2, 2.5),
         Refused("stock.csv", "on_hand", 2, "whole")),
    Case("margin above 1", _set("skus", "margin", 6, 1.7), Refused("skus.csv", "margin", 6,
                                                                   "above 1")),
    Case("inf latitude", _set("stores", "lat", 2, "inf"), Refused("stores.csv", "lat", 2, "")),
    Case("swapped coordinates", _edit("warehouses", lambda f: f.assign(
        lat=f["lng"], lng=f["lat"])), Refused("warehouses.csv", "lat", 1, "swapped")),
    Case("unknown sku in stock", _set("stock", "sku", 4, "NO-SUCH-SKU"),
         Refused("stock.csv", "sku", 4, "not a SKU")),
    Case("duplicate sku", _edit("skus", lambda f: pd.concat([f, f.iloc[[2]]],
                                                            ignore_index=True)),
         Refused("skus.csv", "sku", 13, "more than once")),
    Case("warehouse id equal to a store id", _warehouse_named_like_store,
         Refused("warehouses.csv", "warehouse_id", 2, "also a store")),
    Case("degrees labelled web Mercator", _stores_gpkg(
        lambda f: f.set_crs("EPSG:3857", allow_override=True)),
         Refused("stores.gpkg", "geometry", None, "EPSG:4326")),
    Case("metres labelled degrees", _stores_gpkg(lambda f: f.to_crs("EPSG:3857").set_crs(
        "EPSG:4326", allow_override=True)), Refused("stores.gpkg", "geometry", None,
                                                    "EPSG:3857")),
    Case("empty point", _stores_gpkg(lambda f: f.set_geometry(
        [shapely.Point() if i == 2 else g for i, g in enumerate(f.geometry)], crs=f.crs)),
         Refused("stores.gpkg", "geometry", 3, "empty")),
    Case("undecodable text", _undecodable, Refused("stores.csv", None, None, "GB18030")),
    Case("empty first sheet", _workbook(""), Refused("skus.xlsx", None, None, "'Data'")),
    Case("missing sheet", _workbook("#Prices"), Refused("skus.xlsx", None, None, "'Data'")),
    Case("week before every sale", lambda t, f: _csv(t, f),
         Refused("sales.csv", "date", None, "no history"), week="2024-W10"),
    Case("week without leading zero", lambda t, f: _csv(t, f),
         Refused("", None, None, "'2025-W09'"), week="2025-W9"),
    # Accepted with a documented fallback or a suspicious-but-allowed value, and a warning.
    Case("outlier sale 1e6", _set("sales", "units", 6, 1_000_000), Warned("capped at")),
    Case("outlier sale 1e9", _set("sales", "units", 9, 1_000_000_000), Warned("capped at")),
    Case("skus without optional columns", _edit("skus", lambda f: f.drop(
        columns=["margin", "volume_l", "case_size"])), Warned("margin = 0.2")),
    Case("stores without region and channel", _edit("stores", lambda f: f.drop(
        columns=["region", "channel"])), Warned("channel = 'own_store'")),
    Case("lanes without lead time and distance", _lanes_without(["lead_time_days",
                                                                 "distance_km"]),
         Warned("lead_time_days = 1.0")),
    Case("store without history or channel", _new_store_without_channel,
         Warned("'S999' have no sales history and no channel")),
    Case("no warehouse throughput", _edit("warehouses", lambda f: f.assign(daily_throughput=0)),
         Warned("every warehouse has 0")),
    Case("no warehouse radius", _edit("warehouses", lambda f: f.assign(service_radius_km=0)),
         Warned("reaches no store")),
    Case("week long after the history", lambda t, f: _csv(t, f), Warned("weeks before week"),
         week="2026-W30"),
    Case("GB18030 text", _encoded("gb18030"), Warned("")),
    Case("UTF-8 with BOM", _encoded("utf-8-sig"), Warned("")),
    Case("sheet chosen after the file name", _workbook("#Data"), Warned("")),
    Case("store id that is a formula", _hostile_ids, Warned("")),  # written as text: below
]


def _names_row(output: str, row: int) -> bool:
    """Whether a message lists ``row`` (``row 4:`` or ``rows 3, 13:``)."""
    return re.search(rf"\brows? (?:\d+, )*{row}\b", output) is not None


def _invoke(args: list[str]):
    with warnings.catch_warnings():
        warnings.simplefilter("always", InputWarning)
        warnings.showwarning = show_warning
        return runner.invoke(app, args)


def _check(result, expect: Refused | Warned, out: Path, database: str) -> None:
    from xingtu.database import Database

    output = result.output
    assert "Traceback" not in output
    assert result.exc_info is None or result.exc_info[0] is SystemExit, output
    if isinstance(expect, Refused):
        assert result.exit_code == 2, output
        assert expect.file in output and expect.words in output, output
        if expect.column is not None:
            assert f"column `{expect.column}`" in output, output
        if expect.row is not None:
            assert _names_row(output, expect.row), output
        assert not out.exists() and not list(out.parent.glob("*.tmp*")), output
        plans = Database(database).list_plans()
        assert len(plans) == 0
    else:
        assert result.exit_code == 0, output
        warned = [line for line in output.splitlines() if line.startswith("Warning: ")]
        assert len(warned) == len(set(warned)), output  # each warning printed once
        if expect.words:
            assert "Warning: " in output and expect.words in output, output
        else:
            assert "Warning: " not in output, output
        assert out.exists()


@pytest.mark.parametrize("case", ALLOCATE_CASES, ids=lambda c: c.name)
def test_allocate_refuses_or_warns(case: Case, tables, tmp_path: Path) -> None:
    files = case.files(tables, tmp_path)
    out = tmp_path / "out" / "plan.xlsx"
    database = f"sqlite:///{tmp_path / 'plans.db'}"
    args = ["allocate", "--week", case.week, "--out", str(out), "--database", database,
            "--time-limit", "5"]
    args += [arg for kind, path in files.items() for arg in (f"--{kind}", str(path))]
    _check(_invoke(args), case.expect, out, database)
    if isinstance(case.expect, Warned):
        _assert_no_formula(out)


def _assert_no_formula(workbook: Path) -> None:
    """No cell of the workbook is a formula: text such as ``=HYPERLINK(...)`` stays text."""
    from openpyxl import load_workbook

    book = load_workbook(workbook)
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert cells and not [cell.coordinate for cell in cells if cell.data_type == "f"]
    texts = {cell.value for cell in cells if isinstance(cell.value, str)}
    assert not any(t.startswith("=") for t in texts) or '=HYPERLINK("http://x","y")' in texts


def _footfall(count: object) -> Callable[[Path], list[str]]:
    def args(folder: Path) -> list[str]:
        frame = pd.DataFrame({"lat": [22.5, 22.6, 22.7], "lng": [114.0, 114.1, 114.2]})
        if count is not None:
            frame["count"] = count
        path = folder / "footfall.parquet"
        frame.to_parquet(path)
        return ["--footfall", str(path)]
    return args


def _truncated_pbf(folder: Path) -> list[str]:
    pyrosm = pytest.importorskip("pyrosm")
    source = Path(pyrosm.__file__).parent / "data" / "test.osm.pbf"
    path = folder / "extract.osm.pbf"
    path.write_bytes(source.read_bytes()[:20_000])
    return ["--pois", str(path)]


def _garbage_pbf(folder: Path) -> list[str]:
    path = folder / "garbage.osm.pbf"
    path.write_bytes(b"\x00\x00\x00\x0dnot a protocol buffer" * 20)
    return ["--pois", str(path)]


def _bow_tie(folder: Path) -> list[str]:
    path = folder / "population.geojson"
    bow = shapely.Polygon([(113.0, 22.0), (113.1, 22.1), (113.1, 22.0), (113.0, 22.1)])
    square = shapely.box(113.2, 22.2, 113.3, 22.3)
    gpd.GeoDataFrame({"population": [10, 20]}, geometry=[square, bow],
                     crs="EPSG:4326").to_file(path)
    return ["--population", str(path)]


LAYER_CASES = [
    ("negative footfall", _footfall([3, -2, 1]), Refused("footfall.parquet", "count", 2,
                                                         "negative")),
    ("NaN footfall", _footfall([3, np.nan, 1]), Refused("footfall.parquet", "count", 2,
                                                        "missing")),
    ("inf footfall", _footfall([3, 1, np.inf]), Refused("footfall.parquet", "count", 3,
                                                        "infinite")),
    ("text footfall", _footfall(["3", "many", "1"]), Refused("footfall.parquet", "count", 2,
                                                             "not a number")),
    ("no footfall count", _footfall(None), Refused("footfall.parquet", "count", None,
                                                   "missing")),
    ("remote footfall, local engine", lambda folder: ["--footfall", "s3://bucket/footfall/"],
     Refused("s3://bucket/footfall/", None, None, "--engine dask")),
    ("truncated pbf", _truncated_pbf, Refused("extract.osm.pbf", None, None, "truncated")),
    ("garbage pbf", _garbage_pbf, Refused("garbage.osm.pbf", None, None, "truncated")),
    ("bow-tie polygon", _bow_tie, Refused("population.geojson", "geometry", 2,
                                          "Self-intersection[")),
]


@pytest.mark.parametrize(("name", "make", "expect"), LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_layers_refuses(name: str, make, expect: Refused, tmp_path: Path) -> None:
    out = tmp_path / "out" / "layers.parquet"
    result = _invoke(["layers", *make(tmp_path), "--out", str(out)])
    output = result.output
    assert "Traceback" not in output
    assert result.exc_info is None or result.exc_info[0] is SystemExit, output
    assert result.exit_code == 2, output
    assert expect.file in output and expect.words in output, output
    if expect.column is not None:
        assert f"column `{expect.column}`" in output, output
    if expect.row is not None:
        assert _names_row(output, expect.row), output
    assert not out.exists()


# --- location runs: options that cannot work for the region, or do not tell sites apart --------

SPACING_REFUSED = r"`min_spacing_km` = 8 km: {asked} new sites cannot be placed 8 km apart"
LOCATION_CASES = [
    # Refused by the area the candidates span, before any pair of candidates is listed.
    ("spacing beyond the region", ["sites", "--n-new", "10", "--min-spacing-km", "8"],
     Refused("", None, None, "room for at most 9 sites that far apart, and the best choice found "
             "fits 2. Ask for at most 2 new sites, or lower the minimum spacing to 3.8 km, at "
             "which 10 new sites fit")),
    # Within the area bound: the solver proves it, the message still names the numbers.
    ("spacing the solver refutes", ["sites", "--n-new", "3", "--min-spacing-km", "8"],
     Refused("", None, None, "the solver proved it; the best choice found fits 2. Ask for at "
             "most 2 new sites, or lower the minimum spacing to 6.5 km, at which 3 new sites "
             "fit")),
    ("budget below the cheapest site", ["sites", "--n-new", "0", "--budget", "100"],
     Warned("`budget` = 100 CNY is below the cheapest new store (1.5 M CNY): no store can open")),
    ("budget below the sites asked for", ["sites", "--n-new", "3", "--budget", "100"],
     Refused("", None, None, "budget 100 cannot pay for 3 new sites")),
    ("radius covering the region", ["sites", "--n-new", "3", "--radius-km", "500"],
     Warned("`radius_km` = 500 km: one store reaches every cell with demand")),
    ("fewest shops, 10 m radius", ["repair-sites", "--objective", "fewest", "--radius-km", "0.01"],
     Warned("each new shop reaches only its own cell, so reaching every one of the 30 cells that "
            "need a shop takes 28 new shops")),
    ("fewest shops, radius covering the region",
     ["repair-sites", "--objective", "fewest", "--radius-km", "500"],
     Warned("`radius_km` = 500 km: one shop reaches every cell with demand")),
]


@pytest.mark.parametrize(("name", "args", "expect"), LOCATION_CASES,
                         ids=[c[0] for c in LOCATION_CASES])
def test_location_runs_refuse_or_warn(name: str, args: list[str], expect: Refused | Warned,
                                      small_inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out" / "sites.csv"
    given = (["--shops", str(small_inputs["shops"])] if args[0] == "repair-sites"
             else ["--stores", str(small_inputs["stores"])])
    result = _invoke([*args, "--layers", str(small_inputs["layers"]), *given, "--out", str(out)])
    database = f"sqlite:///{tmp_path / 'default.sqlite'}"  # the command-line tests' own
    _check(result, expect, out, database)
    if isinstance(expect, Refused):
        assert "\nError: " in result.output, result.output
        if "spacing" in name:
            asked = args[args.index("--n-new") + 1]
            assert re.search(SPACING_REFUSED.format(asked=asked), result.output), result.output


def test_a_spacing_that_would_list_too_many_pairs_is_refused_before_listing_them(
        small_inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from optimizer import siting_checks
    from optimizer.siting import reach_matrix_km

    monkeypatch.setattr(siting_checks, "MAX_SPACING_PAIRS", 1_000)
    listed: list[float] = []
    monkeypatch.setattr("optimizer.siting.reach_matrix_km",
                        lambda *a: listed.append(a[-1]) or reach_matrix_km(*a))
    out = tmp_path / "sites.csv"
    result = _invoke(["sites", "--layers", str(small_inputs["layers"]), "--stores",
                      str(small_inputs["stores"]), "--n-new", "2", "--min-spacing-km", "3",
                      "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert re.search(r"`min_spacing_km` = 3 km: 309 candidates make about [\d,]+ pairs of sites "
                     r"closer than that, each a condition of the model \(at most 1,000\)",
                     result.output), result.output
    assert 3.0 not in listed and not out.exists()  # refused before the pairs were listed


def test_an_unexpected_error_is_a_message_not_a_traceback(tables, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault no check foresaw (here a KeyError deep in the job) still ends in one readable
    line and exit 1; ``XINGTU_TRACEBACK=1`` lets it through for whoever debugs it.
    """
    from xingtu.jobs import weekly

    def broken(*args, **kwargs):
        raise KeyError("volume_l")

    monkeypatch.setattr(weekly, "plan_week", broken)
    files = _csv(tables, tmp_path)
    args = ["allocate", "--week", WEEK, "--out", str(tmp_path / "plan.xlsx"), "--database",
            f"sqlite:///{tmp_path / 'plans.db'}"]
    args += [arg for kind, path in files.items() for arg in (f"--{kind}", str(path))]
    result = _invoke(args)
    assert result.exit_code == 1, result.output
    assert "Error: the run stopped on an unexpected KeyError: 'volume_l'." in result.output
    assert "Traceback" not in result.output and result.exc_info[0] is SystemExit
    assert not (tmp_path / "plan.xlsx").exists()
    monkeypatch.setenv("XINGTU_TRACEBACK", "1")
    assert isinstance(_invoke(args).exception, KeyError)


def test_console_prints_warnings_as_one_line(tables, tmp_path: Path) -> None:
    """The console script (not only the test runner) shows a warning as one readable line."""
    files = _edit("skus", lambda f: f.drop(columns=["margin"]))(tables, tmp_path)
    args = [sys.executable, "-c", "from xingtu.cli import main; main()", "allocate",
            "--week", WEEK, "--out", str(tmp_path / "plan.xlsx"), "--database",
            f"sqlite:///{tmp_path / 'plans.db'}", "--time-limit", "5"]
    args += [arg for kind, path in files.items() for arg in (f"--{kind}", str(path))]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "margin" in line]
    assert lines == ["Warning: skus.csv: no `margin` column; assumed margin = 0.2 for every row "
                     "(the documented defaults, docs/data.md). Add the column to plan with real "
                     "values."]
    assert "InputWarning" not in done.stderr and "warnings.warn" not in done.stderr


# --- random corruptions of a valid week, through the library ---------------------------------

NUMERIC = {"skus": ["unit_cost", "margin", "volume_l", "case_size"],
           "stock": ["on_hand", "in_transit"], "sales": ["units"],
           "warehouses": ["daily_throughput", "service_radius_km"]}
BAD_VALUES = [np.nan, np.inf, -np.inf, -1, -1e9, 1e12, 0, 0.5, "abc", ""]


@st.composite
def corruptions(draw):
    kind = draw(st.sampled_from(sorted(NUMERIC)))
    action = draw(st.sampled_from(["cell", "cell", "cell", "drop", "duplicate"]))
    column = draw(st.sampled_from(NUMERIC[kind]))
    value = draw(st.sampled_from(BAD_VALUES))
    row = draw(st.integers(min_value=0, max_value=10_000))
    return kind, action, column, value, row


def _corrupt(tables: dict[str, pd.DataFrame], kind: str, action: str, column: str,
             value: object, row: int) -> dict[str, pd.DataFrame]:
    frame = tables[kind].copy()
    row %= len(frame)
    if action == "cell":
        frame[column] = frame[column].astype(object)
        frame.loc[frame.index[row], column] = value
    elif action == "drop":
        frame = frame.drop(index=frame.index[row]).reset_index(drop=True)
    else:
        frame = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)
    return {**tables, kind: frame}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corruptions())
@pytest.mark.filterwarnings("ignore::optimizer.errors.InputWarning")
def test_random_corruptions_give_an_input_error_or_a_valid_plan(region, corruption) -> None:
    from optimizer.allocation.plan import PlanSettings, plan_week

    base = {kind: getattr(region, kind) for kind in KINDS}
    tables = _corrupt(base, *corruption)
    try:
        plan = plan_week(**tables, week=WEEK, settings=PlanSettings(time_limit=5.0))
    except InputError as error:
        text = str(error)
        assert "row" in text or "column" in text or "week" in text, text
        return
    assert_plan_invariants(plan.problem, plan.result)
    assert np.isfinite(plan.report.objective)
    assert (plan.lines["quantity"] > 0).all()


# --- memory bounded by design ----------------------------------------------------------------


def test_size_estimate_counts_the_networks_arcs(region) -> None:
    """The estimate made before the build counts exactly the unit arcs the build makes, and at
    least every lane arc (the build prunes lanes that cannot pay).
    """
    from optimizer.allocation.model import (
        ARC_KEEP,
        ARC_LANE,
        ARC_OVERFLOW,
        ARC_SEGMENT,
        build_network,
    )
    from optimizer.allocation.plan import week_problem
    from optimizer.allocation.sizing import estimate_model_size

    problem, _ = week_problem(**{kind: getattr(region, kind) for kind in KINDS}, week=WEEK)
    size = estimate_model_size(problem)
    kinds = np.bincount(build_network(problem).arc_kind, minlength=4)
    assert size.segment_arcs == kinds[ARC_SEGMENT]
    assert kinds[ARC_LANE] <= size.lane_arcs
    assert kinds[ARC_KEEP] + kinds[ARC_OVERFLOW] <= size.position_arcs


def test_huge_regular_demand_is_refused_before_any_large_array(region) -> None:
    """A store whose every sale is 10 million units (no outlier against its own history) would
    need billions of arcs: refused with the store and the fix, in small memory.
    """
    import tracemalloc

    from optimizer.allocation.plan import plan_week

    tables = {kind: getattr(region, kind) for kind in KINDS}
    sales = tables["sales"].copy()
    store = sales["store_id"].iloc[0]
    sales.loc[sales["store_id"] == store, "units"] = 10_000_000
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match=rf"GiB.*store {store!r}.*Fix: check the sales"):
            plan_week(**{**tables, "sales": sales}, week=WEEK)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 300 * 2**20


def test_model_size_limit_is_honoured(region) -> None:
    from optimizer.allocation.plan import week_problem
    from optimizer.allocation.sizing import check_model_size, estimate_model_size

    problem, _ = week_problem(**{kind: getattr(region, kind) for kind in KINDS}, week=WEEK)
    size = estimate_model_size(problem)
    assert check_model_size(problem, max_bytes=size.bytes) == size
    with pytest.raises(InputError, match="more than the"):
        check_model_size(problem, max_bytes=size.bytes - 1)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corruptions())
def test_random_corruptions_of_files_never_give_a_traceback(tables, tmp_path_factory,
                                                            corruption) -> None:
    """The same corruptions written to CSV files and run through ``xingtu allocate``: exit 2 with
    a message naming a file, or exit 0 with a plan file of whole, positive quantities.
    """
    kind, action, column, value, row = corruption
    folder = tmp_path_factory.mktemp("corrupt")
    files = _csv(tables, folder, **{kind: _corrupt(tables, *corruption)[kind]})
    out = folder / "plan.csv"
    args = ["allocate", "--week", WEEK, "--out", str(out), "--database",
            f"sqlite:///{folder / 'plans.db'}", "--time-limit", "5"]
    args += [arg for name, path in files.items() for arg in (f"--{name}", str(path))]
    result = _invoke(args)
    assert "Traceback" not in result.output
    assert result.exc_info is None or result.exc_info[0] is SystemExit, result.output
    if result.exit_code == 2:
        # The broken file, or (a dropped row) the file whose rows now name a missing id.
        assert re.search(r"\w+\.csv, column `[^`]+`", result.output), result.output
        assert not out.exists()
    else:
        assert result.exit_code == 0, result.output
        lines = pd.read_csv(out)
        assert (lines["quantity"] > 0).all()
        assert (lines["quantity"] == lines["quantity"].round()).all()


def test_layers_accepts_an_extreme_footfall_count_with_a_warning(tmp_path: Path) -> None:
    out = tmp_path / "layers.parquet"
    result = _invoke(["layers", *_footfall([30, 20, 5_000_000])(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Warning: footfall.parquet, column `count`, row 3: 5,000,000 is more than" \
        in result.output
    assert out.exists()
