"""The kernel's geometry: neighbour searches against brute force, and the one CRS policy."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from optimizer.errors import InputError
from optimizer.geometry import (
    frame_to_lat_lng,
    frame_to_points,
    haversine_km,
    nearest_km,
    pairs_within_distance,
    pairs_within_km,
)


def _scatter(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(22.4, 22.8, n), rng.uniform(113.8, 114.3, n)


def _full(lat, lng, lat_b, lng_b) -> np.ndarray:
    return haversine_km(np.asarray(lat)[:, None], np.asarray(lng)[:, None],
                        np.asarray(lat_b)[None, :], np.asarray(lng_b)[None, :])


def test_nearest_matches_brute_force(random_points: pd.DataFrame) -> None:
    a = random_points.iloc[:300]
    b = random_points.iloc[300:400]
    distance, position = nearest_km(a["lat"], a["lng"], b["lat"], b["lng"])
    full = _full(a["lat"], a["lng"], b["lat"], b["lng"])
    np.testing.assert_allclose(distance, full.min(axis=1), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(position, full.argmin(axis=1))
    assert h3.great_circle_distance((22.5, 114.0), (22.6, 114.1), "km") == pytest.approx(
        haversine_km(22.5, 114.0, 22.6, 114.1), rel=1e-3)


def test_k_nearest_are_the_k_smallest_distances_in_order() -> None:
    lat, lng = _scatter(120, 1)
    target_lat, target_lng = _scatter(40, 2)
    distance, position = nearest_km(lat, lng, target_lat, target_lng, k=5)
    full = _full(lat, lng, target_lat, target_lng)
    assert distance.shape == position.shape == (120, 5)
    np.testing.assert_allclose(distance, np.sort(full, axis=1)[:, :5], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(np.take_along_axis(full, position, axis=1), distance, atol=1e-9)


def test_fewer_targets_than_asked_are_marked_missing() -> None:
    distance, position = nearest_km(np.array([0.0]), np.array([0.0]), np.array([0.0]),
                                    np.array([1.0]), k=3)
    assert position.tolist() == [[0, -1, -1]]
    assert np.isinf(distance[0, 1:]).all() and distance[0, 0] == pytest.approx(111.195, rel=1e-4)
    empty_distance, empty_position = nearest_km(np.array([0.0]), np.array([0.0]), [], [])
    assert empty_position.tolist() == [-1] and np.isinf(empty_distance).all()


def test_pairs_within_match_brute_force_with_one_radius_per_point() -> None:
    lat, lng = _scatter(150, 3)
    lat_b, lng_b = _scatter(60, 4)
    lat_b[0], lng_b[0] = lat[0], lng[0]  # a coincident pair, distance 0
    radius = np.random.default_rng(5).uniform(0.0, 6.0, 150)
    radius[1] = np.nan  # reaches nothing
    a, b, km = pairs_within_km(lat, lng, lat_b, lng_b, radius)
    full = _full(lat, lng, lat_b, lng_b)
    expected = set(zip(*np.nonzero(full <= radius[:, None]), strict=True))
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == expected
    assert (0, 0) in expected and not (a == 1).any()
    np.testing.assert_array_equal(km, full[a, b])
    order = np.lexsort((b, a))
    np.testing.assert_array_equal(order, np.arange(len(a)))  # sorted by a, then b


def test_zero_radius_finds_only_coincident_points_and_negative_is_refused() -> None:
    lat, lng = np.array([22.5, 22.6]), np.array([114.0, 114.0])
    a, b, km = pairs_within_km(lat, lng, lat, lng, 0.0)
    assert a.tolist() == [0, 1] and b.tolist() == [0, 1] and km.tolist() == [0.0, 0.0]
    with pytest.raises(InputError, match="`radius_km` is -1.0"):
        pairs_within_km(lat, lng, lat, lng, -1.0)
    with pytest.raises(InputError, match="one per point"):
        pairs_within_km(lat, lng, lat, lng, np.array([1.0, 2.0, 3.0]))


def test_planar_pairs_match_brute_force() -> None:
    rng = np.random.default_rng(6)
    points_a, points_b = rng.uniform(0, 10_000, (200, 2)), rng.uniform(0, 10_000, (50, 2))
    points_b[3] = points_a[7]
    a, b, distance = pairs_within_distance(points_a, points_b, 1_500.0)
    full = np.linalg.norm(points_a[:, None] - points_b[None], axis=2)
    expected = set(zip(*np.nonzero(full <= 1_500.0), strict=True))
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == expected and (7, 3) in expected
    np.testing.assert_allclose(distance, full[a, b], rtol=1e-12)


def _stores(crs: str | int | None = 4326) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame({"name": ["a", "b"]},
                             geometry=gpd.points_from_xy([114.0, 113.5], [22.5, 23.1]), crs=4326)
    return frame if crs == 4326 else frame.to_crs(crs) if crs else frame.set_crs(None,
                                                                                   allow_override=True)


@pytest.mark.parametrize("crs", [4326, 32649, 3857, "EPSG:4490"])
def test_any_crs_is_reprojected_to_wgs84(crs) -> None:
    lat, lng = frame_to_lat_lng(_stores(crs), "stores")
    np.testing.assert_allclose(lat, [22.5, 23.1], atol=1e-6)
    np.testing.assert_allclose(lng, [114.0, 113.5], atol=1e-6)


def test_frame_without_crs_is_taken_as_degrees() -> None:
    lat, lng = frame_to_lat_lng(_stores(None), "stores")
    assert lat.tolist() == [22.5, 23.1] and lng.tolist() == [114.0, 113.5]
    plain = pd.DataFrame({"lat": [22.5], "lng": [114.0]})
    assert [v.tolist() for v in frame_to_lat_lng(plain, "stores")] == [[22.5], [114.0]]


def test_lat_lng_columns_win_over_geometry() -> None:
    # The layer table keeps its cell centres in `lat`/`lng` next to the cell outlines.
    cells = gpd.GeoDataFrame({"lat": [22.5], "lng": [114.0]},
                             geometry=[shapely.box(114.0, 22.5, 114.2, 22.9)], crs=4326)
    assert [v.tolist() for v in frame_to_lat_lng(cells, "layers")] == [[22.5], [114.0]]


def test_areas_give_a_point_on_their_surface() -> None:
    ring = shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 8, 8))  # centroid outside
    point = frame_to_points(gpd.GeoSeries([ring]), "areas")[0]
    assert shapely.contains(ring, point) or shapely.touches(ring, point)
    lat, lng = frame_to_lat_lng(gpd.GeoDataFrame(geometry=[ring], crs=4326), "areas")
    assert ring.covers(shapely.Point(lng[0], lat[0]))


def test_missing_coordinates_name_the_rows_counting_from_one() -> None:
    frame = _stores()
    frame.loc[1, "geometry"] = None
    with pytest.raises(InputError, match=r"`stores` has no geometry in row\(s\) \[2\]"):
        frame_to_lat_lng(frame, "stores")
    with pytest.raises(InputError, match=r"`stores` has no coordinates in row\(s\) \[1\]"):
        frame_to_lat_lng(pd.DataFrame({"lat": [np.nan, 1.0], "lng": [1.0, 1.0]}), "stores")
    with pytest.raises(InputError, match="needs `lat` and `lng` columns or point geometry"):
        frame_to_lat_lng(pd.DataFrame({"x": [1.0]}), "stores")
