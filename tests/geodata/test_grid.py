"""Gridding invariants: points, polygons and lines to H3 cells, resolution changes, smoothing."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geodata import grid
from geodata._errors import InputDataError

RESOLUTIONS = range(0, 16)
latitudes = arrays(np.float64, st.integers(1, 200), elements=st.floats(-89.9, 89.9))


def _h3_cells(lat: np.ndarray, lng: np.ndarray, resolution: int) -> np.ndarray:
    return np.array([h3.str_to_int(h3.latlng_to_cell(a, b, resolution)) for a, b in zip(lat, lng, strict=True)],
                    dtype=np.uint64)


@settings(max_examples=25, deadline=None)
@given(lat=latitudes, seed=st.integers(0, 2**32 - 1))
def test_points_to_cells_agrees_with_h3_at_every_resolution(lat: np.ndarray, seed: int) -> None:
    lng = np.random.default_rng(seed).uniform(-179.9, 179.9, lat.size)
    for resolution in RESOLUTIONS:
        cells = grid.points_to_cells(lat, lng, resolution)
        assert cells.dtype == np.uint64
        np.testing.assert_array_equal(cells, _h3_cells(lat, lng, resolution))


@settings(max_examples=20, deadline=None)
@given(n=st.integers(0, 500), seed=st.integers(0, 2**32 - 1))
def test_cell_table_conserves_counts_and_sums(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = pd.DataFrame({"lat": rng.uniform(22.4, 22.8, n), "lng": rng.uniform(113.8, 114.3, n),
                           "w": rng.uniform(0, 10, n), "id": rng.integers(0, 20, n)})
    for resolution in (5, 8, 11):
        table = grid.points_to_cell_table(points, resolution,
                                          {"n": "count", "w": "sum", "id": "distinct"})
        assert table.index.dtype == np.uint64 and table.index.name == "cell"
        assert table.index.is_monotonic_increasing and table.index.is_unique
        assert int(table["n"].sum()) == n
        assert table["w"].sum() == pytest.approx(points["w"].sum())
        assert (table["id"] <= table["n"]).all() and (table["id"] >= 1).all()


def test_every_point_lies_in_its_cell_polygon(random_points: pd.DataFrame) -> None:
    sample = random_points.iloc[:2000]
    for resolution in (6, 8, 10):
        cells = grid.points_to_cells(sample["lat"], sample["lng"], resolution)
        polygons = grid.cells_to_polygons(cells)
        inside = shapely.covers(shapely.buffer(polygons, 1e-9),
                                shapely.points(sample["lng"], sample["lat"]))
        assert inside.all()


def test_cell_table_matches_pandas_groupby(random_points: pd.DataFrame) -> None:
    table = grid.points_to_cell_table(random_points, 8,
                                      {"n": "count", "count": "sum", "device": "distinct"})
    cells = grid.points_to_cells(random_points["lat"], random_points["lng"], 8)
    expected = random_points.assign(cell=cells).groupby("cell").agg(
        n=("lat", "size"), count=("count", "sum"), device=("device", "nunique"))
    np.testing.assert_array_equal(table.index.to_numpy(), expected.index.to_numpy())
    np.testing.assert_array_equal(table["n"], expected["n"])
    np.testing.assert_allclose(table["count"], expected["count"])
    np.testing.assert_array_equal(table["device"], expected["device"])


def test_default_values_give_a_count_column_and_weights_apply(random_points) -> None:
    table = grid.points_to_cell_table(random_points, 7)
    assert list(table.columns) == ["count"]
    assert int(table["count"].sum()) == len(random_points)
    frame = random_points.assign(one=1.0)
    weighted = grid.points_to_cell_table(frame, 7, {"n": "count", "one": "sum"}, weight="count")
    assert weighted["n"].sum() == pytest.approx(random_points["count"].sum())
    np.testing.assert_allclose(weighted["n"], weighted["one"])


def test_empty_points_give_an_empty_table() -> None:
    table = grid.points_to_cell_table(pd.DataFrame({"lat": [], "lng": [], "v": []}), 8,
                                      {"v": "sum", "n": "count"})
    assert len(table) == 0 and table.index.dtype == np.uint64
    assert list(table.columns) == ["v", "n"]


def test_bad_coordinates_are_reported_with_rows() -> None:
    with pytest.raises(InputDataError) as info:
        grid.points_to_cells(np.array([22.5, np.nan, 95.0]), np.array([114.0, 114.0, 200.0]), 8)
    text = str(info.value)
    assert "column `lat`, rows 2, 3" in text and "column `lng`, row 3" in text
    with pytest.raises(ValueError, match="resolution"):
        grid.points_to_cells(np.array([0.0]), np.array([0.0]), 16)


def test_cell_strings_round_trip_and_match_h3(random_points: pd.DataFrame) -> None:
    cells = grid.points_to_cells(random_points["lat"][:500], random_points["lng"][:500], 9)
    strings = grid.cells_to_str(cells)
    assert list(strings[:5]) == [h3.int_to_str(int(c)) for c in cells[:5]]
    np.testing.assert_array_equal(grid.str_to_cells(strings), cells)
    with pytest.raises(ValueError, match="hexadecimal"):
        grid.str_to_cells(["not-a-cell"])


def test_parents_match_h3_for_every_resolution(random_points: pd.DataFrame) -> None:
    cells = grid.points_to_cells(random_points["lat"][:300], random_points["lng"][:300], 15)
    for resolution in RESOLUTIONS:
        expected = [h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), resolution))
                    for c in cells]
        np.testing.assert_array_equal(grid.cells_to_parent(cells, resolution), expected)
        assert (grid.cells_resolution(grid.cells_to_parent(cells, resolution)) == resolution).all()
    with pytest.raises(ValueError, match="finer"):
        grid.cells_to_parent(grid.cells_to_parent(cells, 5), 6)


def test_resolution_changes_conserve_sums_and_round_trip(random_points: pd.DataFrame) -> None:
    table = grid.points_to_cell_table(random_points, 8, {"n": "count", "count": "sum"})
    for coarser in range(0, 8):
        up = grid.change_resolution(table, coarser)
        assert up["count"].sum() == pytest.approx(table["count"].sum())
        assert (grid.cells_resolution(up.index.to_numpy()) == coarser).all()
    down = grid.change_resolution(table, 10)
    assert len(down) == 49 * len(table)
    assert down["n"].sum() == pytest.approx(table["n"].sum())
    back = grid.change_resolution(down, 8)
    np.testing.assert_array_equal(back.index.to_numpy(), table.index.to_numpy())
    np.testing.assert_allclose(back["count"], table["count"])
    means = grid.change_resolution(table, 10, how={"count": "mean"})
    assert means["count"].max() == table["count"].max()


def test_children_of_a_pentagon_are_six() -> None:
    pentagon = np.array([h3.str_to_int(h3.get_pentagons(5)[0])], dtype=np.uint64)
    hexagon = grid.points_to_cells(np.array([22.5]), np.array([114.0]), 5)
    kids, position = grid.cells_to_children(np.concatenate([pentagon, hexagon]), 6)
    assert np.bincount(position).tolist() == [6, 7]


def test_polygon_apportioning_conserves_the_total() -> None:
    rng = np.random.default_rng(3)
    centres = rng.uniform([113.8, 22.4], [114.3, 22.8], size=(50, 2))
    sizes = rng.uniform(0.0005, 0.08, size=50)
    boxes = shapely.box(centres[:, 0], centres[:, 1], centres[:, 0] + sizes, centres[:, 1] + sizes)
    population = rng.uniform(100, 1e5, size=50)
    for resolution in (6, 8, 9):
        per_cell = grid.polygons_to_cells(boxes, population, resolution)
        assert per_cell.sum() == pytest.approx(population.sum(), rel=1e-3)
        assert per_cell.index.is_monotonic_increasing and (per_cell >= 0).all()


def test_polygon_smaller_than_a_cell_goes_whole_to_its_cell() -> None:
    tiny = shapely.box(114.0500, 22.5400, 114.0501, 22.5401)
    per_cell = grid.polygons_to_cells(np.array([tiny]), np.array([1234.0]), 7)
    expected = grid.points_to_cells(np.array([22.54005]), np.array([114.05005]), 7)
    assert per_cell.to_dict() == {int(expected[0]): pytest.approx(1234.0)}


def test_apportioning_follows_area() -> None:
    cell = grid.points_to_cells(np.array([22.54]), np.array([114.06]), 8)
    neighbour = np.array([h3.str_to_int(h3.grid_ring(h3.int_to_str(int(cell[0])), 1)[0])],
                         dtype=np.uint64)
    both = shapely.union(grid.cells_to_polygons(cell)[0], grid.cells_to_polygons(neighbour)[0])
    per_cell = grid.polygons_to_cells(np.array([both]), np.array([700.0]), 8)
    assert per_cell.sum() == pytest.approx(700.0)
    assert per_cell.loc[cell[0]] == pytest.approx(350.0, rel=0.01)
    assert per_cell.loc[neighbour[0]] == pytest.approx(350.0, rel=0.01)


def test_lines_apportioned_by_length() -> None:
    road = shapely.LineString([(114.0, 22.5), (114.1, 22.55), (114.2, 22.5)])
    km = grid.lines_to_cells(np.array([road]), None, 8)
    assert km.sum() == pytest.approx(grid.line_length_km(np.array([road]))[0], rel=1e-9)
    traffic = grid.lines_to_cells(np.array([road]), np.array([5000.0]), 8)
    assert traffic.sum() == pytest.approx(5000.0)
    np.testing.assert_allclose(traffic / traffic.sum(), km / km.sum(), rtol=0.02)


def test_cells_to_geodataframe_has_hexagons_around_centres(random_points) -> None:
    table = grid.points_to_cell_table(random_points.iloc[:500], 8)
    frame = grid.cells_to_geodataframe(table.index.to_numpy(), table)
    lat, lng = grid.cells_to_latlng(frame.index.to_numpy())
    assert frame.crs.to_epsg() == 4326 and (frame["count"] == table["count"]).all()
    assert shapely.contains(frame.geometry.to_numpy(), shapely.points(lng, lat)).all()
    area = frame.to_crs(3857).area.to_numpy() * np.cos(np.radians(lat)) ** 2 / 1e6
    assert np.median(area) == pytest.approx(h3.average_hexagon_area(8, "km^2"), rel=0.1)


def test_grid_disk_pairs_match_h3() -> None:
    cells = grid.points_to_cells(np.array([22.5, 22.7]), np.array([114.0, 114.2]), 8)
    origin, neighbour, steps = grid.grid_disk_pairs(cells, 2)
    for i, cell in enumerate(cells):
        expected = {h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(int(cell)), 2)}
        assert set(neighbour[origin == i].tolist()) == expected
        distances = [h3.grid_distance(h3.int_to_str(int(cell)), h3.int_to_str(int(n)))
                     for n in neighbour[origin == i]]
        assert distances == steps[origin == i].tolist()


def test_disk_sums_and_smoothing() -> None:
    centre = grid.points_to_cells(np.array([22.54]), np.array([114.06]), 8)
    series = pd.Series([7.0], index=pd.Index(centre, name="cell"))
    ring = h3.grid_disk(h3.int_to_str(int(centre[0])), 1)
    targets = np.array([h3.str_to_int(c) for c in ring], dtype=np.uint64)
    spread = grid.disk_matrix(targets, centre, 1) @ series.to_numpy()
    assert spread.tolist() == [7.0] * 7
    linear = grid.disk_matrix(targets, centre, 1, decay="linear") @ series.to_numpy()
    assert sorted(set(np.round(linear, 9).tolist())) == [3.5, 7.0]
    assert grid.smooth(series, 1, decay="none").iloc[0] == pytest.approx(1.0)
    assert grid.smooth(series, 2, decay="none", normalize=False).iloc[0] == 7.0
