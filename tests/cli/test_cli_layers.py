"""``xingtu layers`` and ``xingtu demo`` from the command line."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from geodata import io
from geodata._errors import InputDataError
from geodata.layers import load_layers
from xingtu.cli import app

runner = CliRunner()


def test_layers_demo_writes_geoparquet_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "layers.parquet"
    result = runner.invoke(app, ["layers", "--demo", "--resolution", "7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = load_layers(out)
    assert len(table) > 1000 and "fan_index" in table.columns
    assert f"{len(table):,} cells" in result.output
    assert "population" in result.output and "written to" in result.output
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves no temporary file


def test_layers_from_files(tmp_path: Path, demo_region) -> None:
    stores = tmp_path / "stores.gpkg"
    demo_region.stores.to_file(stores, driver="GPKG")
    footfall = tmp_path / "footfall.parquet"
    ff = demo_region.footfall.iloc[:5000]
    pd.DataFrame({"lat": ff.geometry.y, "lng": ff.geometry.x, "count": ff["count"]}).to_parquet(
        footfall, index=False)
    out = tmp_path / "out" / "layers.parquet"
    result = runner.invoke(app, ["layers", "--stores", str(stores), "--footfall", str(footfall),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = load_layers(out)
    assert table["own_store_count"].sum() == 100
    assert table["footfall"].sum() == ff["count"].sum()


def test_bad_inputs_print_every_problem_and_exit_2(tmp_path: Path) -> None:
    stores = tmp_path / "stores.csv"
    stores.write_text("store_id,lat,lng\ns1,22.5,114.0\ns1,114.0,22.5\n")
    pois = tmp_path / "pois.csv"
    pois.write_text("poi_id,categry,lat,lng\np1,food,22.5,114.0\n")
    result = runner.invoke(app, ["layers", "--stores", str(stores), "--pois", str(pois),
                                 "--out", str(tmp_path / "x.parquet")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "stores.csv, column `store_id`, rows 1, 2" in result.output
    assert "stores.csv, column `lat`, row 2" in result.output
    assert "rename column `categry` to `category`" in result.output
    assert not (tmp_path / "x.parquet").exists()


def test_user_layer_from_a_file(tmp_path: Path, demo_region) -> None:
    rents = tmp_path / "rents.csv"
    rents.write_text("lat,lng,rent\n22.54,114.06,120\n22.54,114.06,80\n22.60,114.10,50\n")
    out = tmp_path / "layers.parquet"
    result = runner.invoke(app, ["layers", "--layer", f"rent={rents},rent,mean", "--layer",
                                 f"listings={rents}", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = load_layers(out)
    assert sorted(table["rent"].tolist()) == [50.0, 100.0]
    assert table["listings"].sum() == 3
    bad = runner.invoke(app, ["layers", "--layer", f"rent={rents},rant,mean"])
    assert bad.exit_code == 2 and "did you mean `rent`" in bad.output
    assert "Traceback" not in bad.output


def test_nothing_to_do_and_bad_engine_exit_2() -> None:
    assert runner.invoke(app, ["layers"]).exit_code == 2
    assert runner.invoke(app, ["layers", "--demo", "--engine", "spark"]).exit_code == 2


def test_demo_command_writes_layers_and_describes_the_region(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo" / "layers.parquet").is_file()
    for words in ("own stores: 100", "competitor stores: 200", "SKUs: 120", "sales rows:",
                  "Shenzhen"):
        assert words in result.output
    out = tmp_path / "demo"
    sites = gpd.read_file(out / "sites.geojson")
    assert len(sites) == 5
    assert len(gpd.read_file(out / "repair_shops.geojson")) == 5
    plan = pd.read_excel(next(out.glob("plan-*.xlsx")), sheet_name=None)
    assert {"Plan", "KPIs", "Warehouses"} <= set(plan)
    assert "5 new sites (MCLP, proven optimal)" in result.output
    assert "Expected stockouts next week" in result.output


def test_layers_from_a_real_osm_extract(tmp_path: Path, helsinki_pbf: Path) -> None:
    out = tmp_path / "helsinki.parquet"
    result = runner.invoke(app, ["layers", "--pois", str(helsinki_pbf), "--competitors",
                                 str(helsinki_pbf), "--resolution", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = load_layers(out)
    pois = io.read_osm_pois(helsinki_pbf)
    assert table["poi_total"].sum() == len(pois)
    assert table["lat"].between(59.9, 60.4).all()


def test_osm_extract_refused_for_other_inputs(helsinki_pbf: Path) -> None:
    with pytest.raises(InputDataError, match="cannot give stores"):
        io.read_input(helsinki_pbf, "stores")
