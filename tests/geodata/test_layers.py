"""The layer table: contract columns, conserved totals, shrinkage, distances, round trips."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from geodata import grid, layers
from geodata._errors import InputDataError


def _points(rng: np.random.Generator, n: int, **columns) -> gpd.GeoDataFrame:
    lat, lng = rng.uniform(22.45, 22.65, n), rng.uniform(113.9, 114.15, n)
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(lng, lat), crs=4326)


@pytest.fixture(scope="module")
def inputs() -> dict[str, gpd.GeoDataFrame]:
    rng = np.random.default_rng(11)
    return {
        "footfall": _points(rng, 5000, count=rng.integers(1, 100, 5000)),
        "pois": _points(rng, 800, category=rng.choice(["food", "mall", "transit"], 800)),
        "customers": _points(rng, 600, devices=rng.integers(1, 4, 600),
                             ticket=rng.uniform(500, 3000, 600)),
        "population": _points(rng, 2000, population=rng.uniform(10, 500, 2000)),
        "competitors": _points(rng, 30),
        "stores": _points(rng, 12),
    }


@pytest.fixture(scope="module")
def table(inputs) -> pd.DataFrame:
    return layers.build_layers(**inputs, resolution=8)


def test_columns_follow_the_contract(table: pd.DataFrame) -> None:
    assert table.index.name == "cell" and table.index.dtype == np.uint64
    assert table.index.is_monotonic_increasing and table.index.is_unique
    assert list(table.columns) == [
        "lat", "lng", "region", "population", "footfall", "customers", "devices_sold",
        "fan_index", "avg_ticket", "poi_total", "poi_food", "poi_mall", "poi_transit",
        "poi_diversity", "competitor_count", "competitors_nearby", "competitor_distance_km",
        "own_store_count", "own_store_distance_km"]
    assert (table["region"] == "all").all()
    assert not table.drop(columns="region").isna().any().any()


def test_totals_are_conserved(table: pd.DataFrame, inputs) -> None:
    assert table["footfall"].sum() == inputs["footfall"]["count"].sum()
    assert table["population"].sum() == pytest.approx(inputs["population"]["population"].sum())
    assert table["customers"].sum() == len(inputs["customers"])
    assert table["devices_sold"].sum() == inputs["customers"]["devices"].sum()
    assert table["poi_total"].sum() == len(inputs["pois"])
    assert (table[["poi_food", "poi_mall", "poi_transit"]].sum(axis=1) == table["poi_total"]).all()
    assert table["competitor_count"].sum() == 30 and table["own_store_count"].sum() == 12
    assert table["poi_diversity"].max() <= np.log(3) + 1e-12


def test_cell_centres_and_distances(table: pd.DataFrame, inputs) -> None:
    for cell, lat, lng in table[["lat", "lng"]].head(20).itertuples():
        assert h3.cell_to_latlng(h3.int_to_str(int(cell))) == pytest.approx((lat, lng))
    comp = inputs["competitors"]
    brute = grid.haversine_km(table["lat"].to_numpy()[:, None], table["lng"].to_numpy()[:, None],
                              comp.geometry.y.to_numpy()[None, :],
                              comp.geometry.x.to_numpy()[None, :]).min(axis=1)
    np.testing.assert_allclose(table["competitor_distance_km"], brute, rtol=1e-9, atol=1e-9)


def test_competitors_nearby_counts_the_k_ring(table: pd.DataFrame, inputs) -> None:
    comp = inputs["competitors"]
    comp_cells = [h3.latlng_to_cell(y, x, 8) for y, x in zip(comp.geometry.y, comp.geometry.x, strict=True)]
    sample = table.sample(200, random_state=1)
    for cell, nearby in sample["competitors_nearby"].items():
        here = h3.int_to_str(int(cell))
        expected = sum(h3.grid_distance(here, c) <= layers.DEFAULT_REACH_K for c in comp_cells)
        assert nearby == expected


def test_fan_index_shrinks_small_cells() -> None:
    customers = np.array([1.0, 200.0, 10.0, 0.0])
    residents = np.array([2.0, 10_000.0, 1_000.0, 5_000.0])
    region = np.array(["a"] * 4)
    fixed = layers.shrink_rate(customers, residents, region, prior_strength=500.0)
    mean = customers.sum() / residents.sum()
    np.testing.assert_allclose(fixed, (customers + mean * 500.0) / (residents + 500.0))
    estimated = layers.shrink_rate(customers, residents, region)
    raw = customers / residents
    assert raw.argmax() == 0 and estimated.argmax() != 0  # the tiny cell no longer tops the map
    assert estimated[1] > estimated[3]
    # each region shrinks toward its own mean
    two = layers.shrink_rate(np.array([10.0, 10.0, 50.0, 50.0]), np.full(4, 1000.0),
                             np.array(["a", "a", "b", "b"]), prior_strength=100.0)
    np.testing.assert_allclose(two, [0.01, 0.01, 0.05, 0.05])


def test_regions_from_polygons_and_points(inputs) -> None:
    west = shapely.box(113.8, 22.3, 114.02, 22.8)
    east = shapely.box(114.02, 22.3, 114.3, 22.8)
    polygons = gpd.GeoDataFrame({"region": ["West", "East"]}, geometry=[west, east], crs=4326)
    table = layers.build_layers(stores=inputs["stores"], population=inputs["population"],
                                regions=polygons)
    assert set(table["region"]) == {"West", "East"}
    assert (table.loc[table["lng"] < 114.0, "region"] == "West").all()
    points = gpd.GeoDataFrame({"region": ["West", "East"]},
                              geometry=gpd.points_from_xy([113.92, 114.12], [22.5, 22.5]), crs=4326)
    by_point = layers.build_layers(stores=inputs["stores"], population=inputs["population"],
                                   regions=points)
    assert (by_point["region"] == table["region"]).mean() > 0.97


def test_footfall_from_a_parquet_dataset_equals_the_frame(tmp_path: Path, inputs) -> None:
    ff = inputs["footfall"]
    frame = pd.DataFrame({"lat": ff.geometry.y, "lng": ff.geometry.x, "count": ff["count"]})
    folder = tmp_path / "footfall"
    folder.mkdir()
    frame.iloc[:2500].to_parquet(folder / "a.parquet", index=False)
    frame.iloc[2500:].to_parquet(folder / "b.parquet", index=False)
    from_path = layers.build_layers(footfall=folder, stores=inputs["stores"])
    from_frame = layers.build_layers(footfall=ff, stores=inputs["stores"])
    pd.testing.assert_frame_equal(from_path, from_frame)


def test_user_layers_from_points_and_polygons(inputs) -> None:
    rng = np.random.default_rng(5)
    rents = _points(rng, 300, rent=rng.uniform(50, 300, 300))
    districts = gpd.GeoDataFrame({"households": [1000.0, 3000.0]},
                                 geometry=[shapely.box(113.9, 22.45, 114.0, 22.55),
                                           shapely.box(114.0, 22.45, 114.15, 22.65)], crs=4326)
    table = layers.build_layers(
        stores=inputs["stores"],
        user_layers=[layers.UserLayer("rent", rents, "rent", "mean"),
                     layers.UserLayer("rent_points", rents, how="count"),
                     layers.UserLayer("households", districts.to_crs(3857), "households")])
    assert table["rent_points"].sum() == 300
    occupied = table["rent_points"] > 0
    assert table.loc[occupied, "rent"].between(50, 300).all()
    assert table["households"].sum() == pytest.approx(4000.0, rel=1e-3)
    with pytest.raises(InputDataError, match="column 'rnet' not found.*did you mean `rent`"):
        layers.build_layers(stores=inputs["stores"],
                            user_layers=[layers.UserLayer("x", rents, "rnet")])


def test_population_polygons_are_apportioned(inputs) -> None:
    census = gpd.GeoDataFrame({"population": [50_000.0, 20_000.0]},
                              geometry=[shapely.box(113.95, 22.5, 114.05, 22.6),
                                        shapely.box(114.05, 22.5, 114.06, 22.51)], crs=4326)
    table = layers.build_layers(population=census, resolution=8)
    assert table["population"].sum() == pytest.approx(70_000.0, rel=1e-3)
    assert len(table) > 100


def test_save_and_load_round_trip(table: pd.DataFrame, tmp_path: Path) -> None:
    path = layers.save_layers(table, tmp_path / "layers.parquet")
    back = layers.load_layers(path)
    pd.testing.assert_frame_equal(back, table)
    shapes = layers.load_layers(path, with_geometry=True)
    assert shapes.crs.to_epsg() == 4326 and (shapes.geom_type == "Polygon").all()


def test_resolution_is_a_parameter(inputs) -> None:
    coarse = layers.build_layers(**inputs, resolution=7)
    fine = layers.build_layers(**inputs, resolution=9)
    assert (grid.cells_resolution(coarse.index.to_numpy()) == 7).all()
    assert len(fine) > len(coarse)
    assert coarse["footfall"].sum() == fine["footfall"].sum()


def test_dask_engine_gives_the_same_table(inputs, tmp_path: Path) -> None:
    pytest.importorskip("geodata.distributed")
    distributed = pytest.importorskip("distributed")
    ff = inputs["footfall"]
    folder = tmp_path / "footfall"
    folder.mkdir()
    pd.DataFrame({"lat": ff.geometry.y, "lng": ff.geometry.x, "count": ff["count"]}).to_parquet(
        folder / "part-0.parquet", index=False)
    local = layers.build_layers(footfall=ff, stores=inputs["stores"])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        from_frame = layers.build_layers(footfall=ff, stores=inputs["stores"], engine="dask",
                                         scheduler=client)
        from_folder = layers.build_layers(footfall=folder, stores=inputs["stores"],
                                          engine="dask", scheduler=client)
    pd.testing.assert_frame_equal(from_frame, local)
    pd.testing.assert_frame_equal(from_folder, local)
