"""Scale-out on Dask: the partitioned layer build equals the single-machine one, errors name the
partition or file, and decomposed plans run in parallel equal the same parts solved one by one."""

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
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from geodata import distributed as geo_distributed
from geodata import grid
from geodata._errors import InputDataError
from geodata.distributed import points_to_cell_table_dask
from optimizer.errors import InputError
from optimizer.location import PMedian
from optimizer.location.distributed import combine_reports, region_parts, run_parts, sites_by_region
from optimizer.results import SolveReport, relative_gap

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


# --- plans in parts: run_parts and the combined report --------------------------------------------


def _square(x: int) -> int:
    return x * x


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("region 3 has no candidate site")
    return x


def test_run_parts_keeps_the_order_of_parts(client):
    parts = list(range(20))
    assert run_parts(parts, _square, client=client) == [x * x for x in parts]
    assert run_parts(parts, _square, client=None) == [x * x for x in parts]


@pytest.mark.parametrize("use_cluster", [True, False])
def test_run_parts_names_the_failing_part(client, use_cluster):
    with pytest.raises(ValueError, match="region 3 has no candidate site") as raised:
        run_parts([1, 2, 3, 4], _fail_on_three, client=client if use_cluster else None)
    assert any("part 3 of 4" in note for note in raised.value.__notes__)


def test_combined_report_adds_objectives_and_bounds_and_recomputes_the_gap():
    parts = [SolveReport("optimal", 100.0, 100.0, 0.0, 1.0, "highs"),
             SolveReport("feasible", 50.0, 40.0, 0.2, 3.0, "highs"),
             SolveReport("optimal", 10.0, 9.99, 0.001, 0.5, "cbc")]
    combined = combine_reports(parts)
    assert combined.status == "feasible"  # one part is not proven: the whole is not proven
    assert combined.objective == pytest.approx(160.0)
    assert combined.bound == pytest.approx(149.99)
    assert combined.gap == pytest.approx((160.0 - 149.99) / 160.0)
    # The whole plan's gap lies between the best and the worst part gap, never below the best.
    assert min(p.gap for p in parts) <= combined.gap <= max(p.gap for p in parts)
    assert combined.solve_seconds == pytest.approx(4.5)
    assert combined.solver == "cbc,highs"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(1.0, 1e6), st.floats(0.0, 0.5)), min_size=1, max_size=12))
def test_combined_gap_is_a_demand_weighted_mean_of_part_gaps(parts):
    """For minimisation with positive objectives the whole gap lies within the part gaps."""
    reports = [SolveReport("feasible", objective, objective * (1 - gap),
                           relative_gap(objective, objective * (1 - gap)), 1.0, "highs")
               for objective, gap in parts]
    combined = combine_reports(reports)
    gaps = [r.gap for r in reports]
    assert min(gaps) - 1e-9 <= combined.gap <= max(gaps) + 1e-9
    total = sum(objective for objective, _ in parts)
    assert combined.gap == pytest.approx(sum(o * g for o, g in parts) / total, abs=1e-9)


def test_combined_report_has_no_objective_when_a_part_has_no_solution():
    parts = [SolveReport("optimal", 1.0, 1.0, 0.0, 0.1, "highs"),
             SolveReport("not_solved", None, 0.5, None, 5.0, "highs", "time limit")]
    combined = combine_reports(parts)
    assert (combined.status, combined.objective, combined.gap) == ("not_solved", None, None)
    assert not combined.has_solution


def _regional_problem(seed: int = 3):
    """Three separated regions of demand points and candidate sites (Euclidean km)."""
    rng = np.random.default_rng(seed)
    centres = {"north": (0.0, 0.0), "east": (40.0, 5.0), "south": (10.0, -40.0)}
    clients, candidates, client_region, candidate_region = [], [], [], []
    for region, (x, y) in centres.items():
        clients.append(rng.normal((x, y), 6.0, size=(30, 2)))
        candidates.append(rng.normal((x, y), 6.0, size=(9, 2)))
        client_region += [region] * 30
        candidate_region += [region] * 9
    clients, candidates = np.vstack(clients), np.vstack(candidates)
    cost = np.linalg.norm(clients[:, None, :] - candidates[None, :, :], axis=2)
    weights = rng.integers(1, 20, len(clients)).astype(float)
    return cost, weights, np.array(client_region), np.array(candidate_region)


def test_sites_by_region_on_dask_equals_each_region_solved_alone(client):
    cost, weights, client_region, candidate_region = _regional_problem()
    sites_per_region = {"north": 2, "east": 3, "south": 2}
    plan = sites_by_region(cost, weights, client_region=client_region,
                           candidate_region=candidate_region, sites_per_region=sites_per_region,
                           client=client)
    objective = 0.0
    for region, p in sites_per_region.items():
        rows, cols = np.flatnonzero(client_region == region), np.flatnonzero(candidate_region == region)
        alone = PMedian.from_cost_matrix(cost[np.ix_(rows, cols)], weights[rows], p=p).solve()
        objective += alone.objective
        chosen = plan.sites[candidate_region[plan.sites] == region]
        # Same optimal value per region; the sites too, unless the region has tied optima.
        assert len(chosen) == p
        by_region = next(r for r in plan.regions if r.region == region)
        assert by_region.result.objective == pytest.approx(alone.objective)
        assert by_region.sites.tolist() == np.sort(cols[alone.sites]).tolist()
    assert plan.report.objective == pytest.approx(objective)
    # Every client goes to an open site of its own region, and the objective is its distance.
    assert np.isin(plan.assigned_site, plan.sites).all()
    assert (candidate_region[plan.assigned_site] == client_region).all()
    recomputed = (weights * cost[np.arange(len(weights)), plan.assigned_site]).sum()
    assert plan.report.objective == pytest.approx(recomputed)


def test_regional_report_is_honest_about_its_bound(client):
    cost, weights, client_region, candidate_region = _regional_problem()
    # A poor split (one site in the biggest region) is still solved to optimality per region ...
    plan = sites_by_region(cost, weights, client_region=client_region,
                           candidate_region=candidate_region,
                           sites_per_region={"north": 4, "east": 1, "south": 2}, client=client)
    report = plan.report
    assert report.status == "optimal"
    assert report.bound <= report.objective + 1e-6
    assert report.gap == pytest.approx(relative_gap(report.objective, report.bound))
    assert report.bound == pytest.approx(sum(r.result.bound for r in plan.regions))
    # ... but its bound is only a bound for this split: the national model with the same number
    # of sites can do better, and the report says the bound does not cover it.
    national = PMedian.from_cost_matrix(cost, weights, p=7).solve()
    assert national.objective <= report.objective + 1e-6
    assert "not for one national model" in report.message


def test_mclp_by_region_maximises_covered_demand(client):
    cost, weights, client_region, candidate_region = _regional_problem()
    plan = sites_by_region(cost, weights, client_region=client_region,
                           candidate_region=candidate_region,
                           sites_per_region={"north": 1, "east": 1, "south": 1},
                           model="mclp", radius=5.0, client=client)
    covered = (cost[:, plan.sites] <= 5.0).any(axis=1)
    assert plan.report.objective == pytest.approx(weights[covered].sum())
    assert plan.report.bound >= plan.report.objective - 1e-6


def test_region_without_candidates_is_refused():
    cost, weights, client_region, candidate_region = _regional_problem()
    candidate_region = np.where(candidate_region == "east", "north", candidate_region)
    with pytest.raises(InputError, match="region 'east' has 30 demand points but no candidate"):
        region_parts(cost, weights, client_region=client_region,
                     candidate_region=candidate_region,
                     sites_per_region={"north": 2, "east": 1, "south": 1})
    with pytest.raises(InputError, match=r"no number of sites for the region\(s\) \['south'\]"):
        region_parts(cost, weights, client_region=client_region,
                     candidate_region=candidate_region, sites_per_region={"north": 2, "east": 1})
