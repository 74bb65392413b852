"""``xingtu sites`` and ``xingtu repair-sites`` from the command line: outputs by extension,
reasons per site, printed solve report, and readable errors with exit code 2.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geodata.layers import load_layers, save_layers
from xingtu.cli import app

runner = CliRunner()


def test_sites_from_files_to_csv(small_inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out" / "sites.csv"
    result = runner.invoke(app, [
        "sites", "--layers", str(small_inputs["layers"]), "--stores", str(small_inputs["stores"]),
        "--competitors", str(small_inputs["competitors"]), "--n-new", "2", "--radius-km", "1.5",
        "--weight", "footfall=0.5", "--weight", "competitors_nearby=-0.2", "--smooth-k", "1",
        "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Solve: optimal, objective" in result.output and ", bound" in result.output
    assert ", gap 0.00%" in result.output
    table = pd.read_csv(out)
    assert len(table) == 2
    for column in ("cell_id", "lat", "lng", "score", "expected_sales", "from_own", "net_gain",
                   "reasons", "score_footfall", "score_competitors_nearby"):
        assert column in table.columns
    assert np.allclose(table["score_footfall"] + table["score_competitors_nearby"], table["score"])
    assert not list(out.parent.glob(".*.tmp"))


def test_sites_budget_opens_what_it_allows(small_inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "sites.xlsx"
    result = runner.invoke(app, [
        "sites", "--layers", str(small_inputs["layers"]), "--stores", str(small_inputs["stores"]),
        "--n-new", "0", "--budget", "2500000", "--opening-cost", "1000000", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_excel(out, sheet_name="Sites")
    assert len(table) == 2 and table["Opening cost (CNY)"].sum() <= 2_500_000


@pytest.mark.slow
def test_sites_geojson_and_geoparquet(small_inputs: dict[str, Path], tmp_path: Path) -> None:
    base = ["sites", "--layers", str(small_inputs["layers"]), "--stores",
            str(small_inputs["stores"]), "--n-new", "3", "--model", "p_median"]
    for name in ("sites.geojson", "sites.parquet"):
        out = tmp_path / name
        result = runner.invoke(app, [*base, "--out", str(out)])
        assert result.exit_code == 0, result.output
        frame = gpd.read_file(out) if name.endswith("json") else gpd.read_parquet(out)
        assert len(frame) == 3 and frame.crs.to_epsg() == 4326
        assert (frame.geometry.geom_type == "Point").all() and "reasons" in frame.columns


def test_repair_sites_from_files(small_inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "repair.geojson"
    result = runner.invoke(app, [
        "repair-sites", "--layers", str(small_inputs["layers"]), "--shops",
        str(small_inputs["shops"]), "--n-new", "2", "--radius-km", "1", "--min-rating", "3.5",
        "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Solve: optimal" in result.output and "3 poorly rated shops" in result.output
    assert len(gpd.read_file(out)) == 2


def test_repair_sites_demo_fewest(tmp_path: Path) -> None:
    out = tmp_path / "repair.csv"
    result = runner.invoke(app, ["repair-sites", "--demo", "--radius-km", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "(fewest, proven optimal)" in result.output
    table = pd.read_csv(out)
    assert len(table) > 0 and {"cell_id", "repairs_in_reach", "reasons"} <= set(table.columns)


@pytest.mark.parametrize(("args", "message"), [
    (["sites"], "No data: pass --demo"),
    (["sites", "--demo", "--out", "x.txt"], "unknown extension"),
    (["sites", "--demo", "--model", "nearest"], "'nearest' is not one of 'mclp', 'p_median'"),
    (["sites", "--demo", "--model", "pmedian"], "'pmedian' is not one of"),
    (["sites", "--demo", "--weight", "footfall"], "not LAYER=NUMBER"),
    (["sites", "--layers", "missing.parquet", "--stores", "missing.csv"], "missing.csv"),
    (["repair-sites", "--demo", "--objective", "fewest", "--n-new", "2"], "drop `n_new`"),
    (["repair-sites", "--demo", "--objective", "all"], "'all' is not one of 'coverage'"),
])
def test_bad_input_is_readable_with_exit_code_2(args: list[str], message: str,
                                                tmp_path: Path) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    # Typer draws usage errors in a box: compare the words only.
    assert " ".join(message.split()) in " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())
    assert "Traceback" not in result.output


def test_bad_layers_file_is_readable(small_inputs: dict[str, Path], tmp_path: Path) -> None:
    result = runner.invoke(app, ["sites", "--layers", str(tmp_path / "nope.parquet"), "--stores",
                                 str(small_inputs["stores"])])
    assert result.exit_code == 2 and "does not exist" in result.output


def _sites_run(small_inputs: dict[str, Path], tmp_path: Path, name: str, db_url: str,
               *extra: str, layers: Path | None = None) -> tuple[pd.DataFrame, str]:
    out = tmp_path / f"{name}_sites.csv"
    result = runner.invoke(app, [
        "sites", "--layers", str(layers or small_inputs["layers"]),
        "--stores", str(small_inputs["stores"]), "--n-new", "3", "--radius-km", "1.5",
        "--database", db_url, "--out", str(out), "--quiet", *extra])
    assert result.exit_code == 0, result.output
    return pd.read_csv(out), result.output


def test_sites_obey_the_survey_in_the_database(small_inputs: dict[str, Path],
                                               tmp_path: Path) -> None:
    from xingtu.database import Database

    url = f"sqlite:///{tmp_path / 'survey.sqlite'}"
    first, _ = _sites_run(small_inputs, tmp_path, "first", url)
    assert len(first) == 3 and set(first["survey_status"]) == {"not surveyed"}
    rejected, approved = first["cell_id"].iloc[0], first["cell_id"].iloc[1]
    with Database(url) as store:
        store.set_survey_status(rejected, "rejected", note="no frontage", user="li")
    second, output = _sites_run(small_inputs, tmp_path, "second", url)
    assert rejected not in set(second["cell_id"]) and len(second) == 3
    assert "rejected" in output.lower()
    # an approved site away from the best ones stays open in every later run
    with Database(url) as store:
        store.set_survey_status(approved, "surveyed")
    layers = load_layers(small_inputs["layers"])
    low = layers.loc[layers["own_store_count"].fillna(0).eq(0)].sort_values("footfall").index[0]
    low_cell = f"{int(low):x}"
    with Database(url) as store:
        store.set_survey_status(low_cell, "approved", user="wang")
    third, output = _sites_run(small_inputs, tmp_path, "third", url)
    assert low_cell in set(third["cell_id"]) and rejected not in set(third["cell_id"])
    assert third.set_index("cell_id").loc[low_cell, "survey_status"] == "approved"
    assert len(third) == 3


def test_sites_choose_only_from_a_candidate_file(small_inputs: dict[str, Path],
                                                 tmp_path: Path) -> None:
    layers = load_layers(small_inputs["layers"])
    free = layers.loc[layers["own_store_count"].fillna(0).eq(0)]
    offered = free.sample(6, random_state=1)
    offers = tmp_path / "offers.csv"
    pd.DataFrame({"site_id": [f"L{i}" for i in range(6)], "lat": offered["lat"].to_numpy(),
                  "lng": offered["lng"].to_numpy()}).to_csv(offers, index=False)
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    chosen, output = _sites_run(small_inputs, tmp_path, "offers", url, "--candidates", str(offers))
    assert len(chosen) == 3
    assert set(chosen["cell_id"]) <= {f"{int(c):x}" for c in offered.index}
    assert "candidate list" in output.lower()


def test_sites_restricted_to_regions(small_inputs: dict[str, Path], tmp_path: Path) -> None:
    layers = load_layers(small_inputs["layers"])
    layers["region"] = np.where(layers["lng"] < 113.975, "West", "East")
    path = tmp_path / "layers_regions.parquet"
    save_layers(layers, path)
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    east, _ = _sites_run(small_inputs, tmp_path, "east", url, "--regions", "East", layers=path)
    assert len(east) == 3 and set(east["region"]) == {"East"}
    west, _ = _sites_run(small_inputs, tmp_path, "west", url, "--region", "West", layers=path)
    assert len(west) == 3 and set(west["region"]) == {"West"}
    result = runner.invoke(app, [
        "sites", "--layers", str(path), "--stores", str(small_inputs["stores"]),
        "--database", url, "--region", "Atlantis", "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "Atlantis" in result.output


def test_sites_never_inside_an_exclusion_area(small_inputs: dict[str, Path],
                                              tmp_path: Path) -> None:
    import shapely

    url = f"sqlite:///{tmp_path / 'e.sqlite'}"
    first, _ = _sites_run(small_inputs, tmp_path, "before", url)
    boxes = [shapely.box(lng - 0.01, lat - 0.01, lng + 0.01, lat + 0.01)
             for lat, lng in zip(first["lat"], first["lng"], strict=True)]
    no_go = tmp_path / "no_go.geojson"
    gpd.GeoDataFrame({"name": ["no go"] * len(boxes)}, geometry=boxes,
                     crs="EPSG:4326").to_file(no_go)
    second, output = _sites_run(small_inputs, tmp_path, "after", url, "--exclude", str(no_go))
    assert len(second) == 3 and "exclusion areas" in output
    inside = gpd.GeoSeries(boxes, crs="EPSG:4326").union_all()
    assert not any(inside.contains(shapely.Point(lng, lat))
                   for lat, lng in zip(second["lat"], second["lng"], strict=True))


@pytest.mark.parametrize(("model", "extra"), [
    ("set_cover", ["--radius-km", "4"]), ("p_center", ["--n-new", "2"]),
    ("capacitated", ["--n-new", "2", "--capacity", "5000000000"])])
def test_sites_run_every_model_of_the_app(small_inputs: dict[str, Path], tmp_path: Path,
                                          model: str, extra: list[str]) -> None:
    out = tmp_path / f"{model}.csv"
    result = runner.invoke(app, [
        "sites", "--layers", str(small_inputs["layers"]), "--stores", str(small_inputs["stores"]),
        "--model", model, *extra, "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert len(table) >= 1
    if model == "set_cover":  # every cell within 4 km of a store, own or new
        layers = load_layers(small_inputs["layers"])
        stores = pd.read_csv(small_inputs["stores"])
        lat = np.r_[stores["lat"], table["lat"]]
        lng = np.r_[stores["lng"], table["lng"]]
        from optimizer.geometry import nearest_km

        distance, _ = nearest_km(layers["lat"].to_numpy(), layers["lng"].to_numpy(), lat, lng)
        assert (distance <= 4.0 + 1e-6).all()
    if model == "capacitated":
        assert (table["served_demand"] <= 5e9).all()


def test_the_capacitated_model_without_capacity_is_a_readable_error(
        small_inputs: dict[str, Path], tmp_path: Path) -> None:
    result = runner.invoke(app, [
        "sites", "--layers", str(small_inputs["layers"]), "--stores", str(small_inputs["stores"]),
        "--model", "capacitated", "--out", str(tmp_path / "s.csv")])
    assert result.exit_code == 2 and "capacity" in result.output
