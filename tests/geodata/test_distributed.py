"""Scale-out on Dask: the partitioned layer build equals the single-machine one, and errors name
the partition or file.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import dask.dataframe as dd
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from pandas.testing import assert_frame_equal

from geodata import distributed as geo_distributed
from geodata import grid
from geodata._errors import InputDataError
from geodata.distributed import points_to_cell_table_dask
from optimizer.errors import InputError

N_POINTS = 240_000
N_FILES = 6
VALUES = {"count": "count", "visits": "sum", "spend": "sum", "device_id": "distinct"}


@pytest.fixture(scope="module")
def cluster():
    """One two-worker cluster for the module: threads in this process, reachable over TCP."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
                      dashboard_address=":0") as local_cluster:
        yield local_cluster


@pytest.fixture(scope="module")
def client(cluster):
    with Client(cluster) as dask_client:
        yield dask_client


def _points(n: int, seed: int) -> pd.DataFrame:
    """Footfall-like points around two city centres, with repeat visitors across the whole set."""
    rng = np.random.default_rng(seed)
    centre = rng.integers(0, 2, n)
    lat = np.where(centre == 0, 22.54, 23.13) + rng.normal(0, 0.03, n)
    lng = np.where(centre == 0, 114.06, 113.26) + rng.normal(0, 0.03, n)
    device_id = rng.integers(0, 3_000, n).astype("float64")
    device_id[rng.random(n) < 0.05] = np.nan  # unknown device: not counted as distinct
    return pd.DataFrame({
        "lat": lat, "lng": lng,
        "visits": rng.integers(1, 6, n),
        "spend": rng.gamma(2.0, 150.0, n),
        "device_id": device_id,
    })


def _write_parts(frame: pd.DataFrame, folder: Path, n_files: int) -> Path:
    folder.mkdir(parents=True)
    for number, part in enumerate(np.array_split(np.arange(len(frame)), n_files)):
        frame.iloc[part].to_parquet(folder / f"part-{number:03d}.parquet", index=False)
    return folder


@pytest.fixture(scope="module")
def footfall(tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    frame = _points(N_POINTS, seed=7)
    return frame, _write_parts(frame, tmp_path_factory.mktemp("footfall") / "parquet", N_FILES)


@pytest.fixture(scope="module")
def footfall_geoparquet(tmp_path_factory, footfall) -> tuple[gpd.GeoDataFrame, Path]:
    frame, _ = footfall
    points = gpd.GeoDataFrame(
        frame.drop(columns=["lat", "lng"]),
        geometry=gpd.points_from_xy(frame["lng"], frame["lat"]), crs="EPSG:4326")
    folder = tmp_path_factory.mktemp("footfall") / "geoparquet"
    folder.mkdir()
    for number, part in enumerate(np.array_split(np.arange(len(points)), N_FILES)):
        points.iloc[part].to_parquet(folder / f"part-{number:03d}.parquet", index=False)
    return points, folder


# --- the layer build on Dask equals the single-machine build --------------------------------------


@pytest.mark.parametrize("resolution", [6, 8, 10])
def test_partitioned_parquet_equals_single_machine(footfall, cluster, resolution):
    frame, folder = footfall
    expected = grid.points_to_cell_table(frame, resolution, VALUES)
    result = points_to_cell_table_dask(folder, resolution, VALUES,
                                       scheduler=cluster.scheduler_address)
    assert_frame_equal(result, expected)
    assert result.index.is_monotonic_increasing and result.index.dtype == np.uint64
    assert int(result["count"].sum()) == N_POINTS


def test_default_values_give_one_count_column(footfall, client):
    frame, folder = footfall
    result = points_to_cell_table_dask(folder, 8, scheduler=client)
    assert_frame_equal(result, grid.points_to_cell_table(frame, 8))
    assert list(result.columns) == ["count"]


def test_distinct_counts_the_union_not_the_sum_of_partitions(footfall, client):
    frame, folder = footfall
    result = points_to_cell_table_dask(folder, 6, {"device_id": "distinct"}, scheduler=client)
    # The same devices show up in every file: adding per-file distinct counts would overcount.
    per_file = sum(
        grid.points_to_cell_table(pd.read_parquet(path), 6, {"device_id": "distinct"})["device_id"]
        .reindex(result.index, fill_value=0)
        for path in sorted(folder.glob("*.parquet"))
    )
    assert (per_file > result["device_id"]).any()
    assert (result["device_id"] <= 3_000).all()
    expected = frame.assign(cell=grid.points_to_cells(frame["lat"], frame["lng"], 6))
    expected = expected.groupby("cell")["device_id"].nunique()
    assert result["device_id"].to_numpy().tolist() == expected.to_numpy().tolist()


def test_geoparquet_points_equal_single_machine(footfall, footfall_geoparquet, client):
    frame, _ = footfall
    _, folder = footfall_geoparquet
    result = points_to_cell_table_dask(folder, 8, VALUES, scheduler=client)
    assert_frame_equal(result, grid.points_to_cell_table(frame, 8, VALUES))


def test_dask_dataframe_input_with_weights(footfall, client):
    frame, _ = footfall
    points = dd.from_pandas(frame.rename(columns={"lat": "y", "lng": "x"}), npartitions=5)
    values = {"count": "count", "visits": "sum"}
    result = points_to_cell_table_dask(points, 7, values, scheduler=client, lat="y", lng="x",
                                       weight="spend")
    expected = grid.points_to_cell_table(frame, 7, values, weight="spend")
    assert_frame_equal(result, expected)


def test_url_source_is_read_like_a_folder(footfall, client):
    frame, folder = footfall
    result = points_to_cell_table_dask(folder.resolve().as_uri(), 8, VALUES, scheduler=client)
    assert_frame_equal(result, grid.points_to_cell_table(frame, 8, VALUES))


def test_empty_partitions_are_harmless(footfall, client, tmp_path):
    frame, _ = footfall
    folder = _write_parts(frame.iloc[:1_000], tmp_path / "parts", 3)
    frame.iloc[:0].to_parquet(folder / "part-999.parquet", index=False)
    result = points_to_cell_table_dask(folder, 8, VALUES, scheduler=client)
    assert_frame_equal(result, grid.points_to_cell_table(frame.iloc[:1_000], 8, VALUES))


# --- errors: what is wrong, where, and how to fix it ----------------------------------------------


def test_missing_column_is_named(footfall, client):
    _, folder = footfall
    with pytest.raises(InputDataError, match=r"column `footfall`.*column missing"):
        points_to_cell_table_dask(folder, 8, {"footfall": "sum"}, scheduler=client)


def test_missing_dataset_is_named(tmp_path, client):
    with pytest.raises(InputDataError, match=r"nowhere.*does not exist"):
        points_to_cell_table_dask(tmp_path / "nowhere", 8, scheduler=client)


def test_bad_coordinate_names_the_partition(footfall, client, tmp_path):
    frame, _ = footfall
    broken = frame.iloc[:3_000].copy()
    broken.loc[2_500, "lat"] = 122.5  # latitude and longitude swapped in one row of the last file
    folder = _write_parts(broken, tmp_path / "parts", 3)
    # Rows count from 1 as in a spreadsheet, within the part (one part per file here).
    with pytest.raises(InputDataError, match=r"part 3 of 3.*column `lat`, row 501.*122\.5"):
        points_to_cell_table_dask(folder, 8, scheduler=client)


def test_projected_geoparquet_is_refused(footfall_geoparquet, client, tmp_path):
    points, _ = footfall_geoparquet
    path = tmp_path / "projected.parquet"
    points.iloc[:100].to_crs(3857).to_parquet(path)
    with pytest.raises(InputDataError, match=r"not WGS84.*to_crs\(4326\)"):
        points_to_cell_table_dask(path, 8, scheduler=client)


def test_polygons_are_refused(client, tmp_path):
    cells = grid.points_to_cells(np.array([22.54]), np.array([114.06]), 8)
    polygons = gpd.GeoDataFrame({"n": [1]}, geometry=grid.cells_to_polygons(cells), crs=4326)
    polygons.to_parquet(tmp_path / "cells.parquet")
    with pytest.raises(InputDataError, match=r"not a point.*polygons_to_cells"):
        points_to_cell_table_dask(tmp_path / "cells.parquet", 8, scheduler=client)


@pytest.mark.parametrize(("values", "resolution", "message"), [
    ({"visits": "mean"}, 8, r"unknown aggregations \{'visits': 'mean'\}"),
    ({}, 8, r"`values` must map"),
    (None, 16, r"`resolution` must be an H3 resolution from 0 to 15, got 16"),
])
def test_bad_arguments_are_named(footfall, client, values, resolution, message):
    _, folder = footfall
    with pytest.raises(InputError, match=message):
        points_to_cell_table_dask(folder, resolution, values, scheduler=client)


def test_unreachable_scheduler_says_what_to_check(footfall, monkeypatch):
    _, folder = footfall
    monkeypatch.setattr(geo_distributed, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(InputError, match=r"Could not reach the Dask scheduler.*127\.0\.0\.1:9"):
        points_to_cell_table_dask(folder, 8, scheduler="tcp://127.0.0.1:9")


@pytest.mark.slow
def test_no_scheduler_starts_a_local_process_cluster(footfall, monkeypatch):
    # Worker processes are spawned and re-run ``__main__``'s file; an app test run earlier in
    # the same pytest process (Streamlit's AppTest) may have left a page script there.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    frame, folder = footfall
    result = points_to_cell_table_dask(folder, 8, {"visits": "sum"}, scheduler=None)
    assert_frame_equal(result, grid.points_to_cell_table(frame, 8, {"visits": "sum"}))
