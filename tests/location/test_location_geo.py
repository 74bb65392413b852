"""from_geodataframe: CRS checks, haversine vs projected distances, delegation to the models."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point

from optimizer.errors import InputError
from optimizer.location import MCLP, PMedian, SetCover, haversine_matrix
from optimizer.location._geo import distance_matrix_from_geodataframes


def frames(crs="EPSG:4326", seed=3, n_clients=40, n_sites=8):
    rng = np.random.default_rng(seed)
    lon0, lat0 = 113.3, 23.1  # Guangzhou
    client_xy = np.column_stack([lon0 + rng.uniform(0, 0.2, n_clients),
                                 lat0 + rng.uniform(0, 0.2, n_clients)])
    site_xy = np.column_stack([lon0 + rng.uniform(0, 0.2, n_sites),
                               lat0 + rng.uniform(0, 0.2, n_sites)])
    clients = gpd.GeoDataFrame(
        {"demand": rng.integers(1, 100, n_clients).astype(float)},
        geometry=[Point(x, y) for x, y in client_xy], crs="EPSG:4326",
    )
    sites = gpd.GeoDataFrame(geometry=[Point(x, y) for x, y in site_xy], crs="EPSG:4326")
    return clients.to_crs(crs), sites.to_crs(crs)


def test_haversine_textbook_value():
    # One degree of latitude on the 6,371.0088 km sphere: 111.195 km.
    d = haversine_matrix(np.array([[0.0, 0.0]]), np.array([[0.0, 1.0], [180.0, 0.0]]))
    assert d[0, 0] == pytest.approx(111_195.08, rel=1e-6)
    assert d[0, 1] == pytest.approx(np.pi * 6_371_008.8, rel=1e-9)


def test_geographic_and_projected_distances_agree():
    clients, sites = frames()
    geographic = distance_matrix_from_geodataframes(clients, sites)
    projected = distance_matrix_from_geodataframes(clients.to_crs(32649), sites.to_crs(32649))
    # UTM zone 49N scale error near its centre meridian is below 0.1 %; sphere vs ellipsoid < 0.5 %.
    assert np.allclose(geographic, projected, rtol=6e-3)


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:32649"])
def test_sparse_within_radius_matches_dense(crs):
    clients, sites = frames(crs)
    dense = distance_matrix_from_geodataframes(clients, sites)
    sparse = distance_matrix_from_geodataframes(clients, sites, max_distance=8_000)
    within = dense <= 8_000
    assert sparse.nnz == within.sum()
    assert np.allclose(sparse.toarray()[within], dense[within])


def test_coincident_points_keep_distance_zero():
    clients, sites = frames("EPSG:32649")
    clients = clients.copy()
    clients.loc[0, "geometry"] = sites.geometry.iloc[2]
    sparse = distance_matrix_from_geodataframes(clients, sites, max_distance=5_000)
    assert sparse[[0], [2]].size == 1 and sparse[[0], [2]][0] == 0.0
    assert 2 in sparse.indices[sparse.indptr[0] : sparse.indptr[1]]


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:32649"])
def test_models_from_geodataframe_equal_cost_matrix(crs):
    clients, sites = frames(crs)
    cost = distance_matrix_from_geodataframes(clients, sites)
    weights = clients["demand"].to_numpy()
    for model, options in (
        (PMedian, dict(p=3)),
        (MCLP, dict(p=2, radius=6_000)),
        (SetCover, dict(radius=12_000)),
    ):
        from_frames = model.from_geodataframe(clients, sites, "demand", **options).solve()
        from_matrix = model.from_cost_matrix(cost, weights, **options).solve()
        assert from_frames.objective == pytest.approx(from_matrix.objective, rel=1e-9)


def test_spacing_computed_from_frames():
    clients, sites = frames("EPSG:32649", n_sites=12)
    result = PMedian.from_geodataframe(clients, sites, "demand", p=4, min_spacing=4_000).solve()
    xy = np.column_stack([sites.geometry.x, sites.geometry.y])[result.sites]
    gaps = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    assert gaps[np.triu_indices(len(xy), 1)].min() >= 4_000


def test_crs_errors_name_the_fix():
    clients, sites = frames()
    with pytest.raises(InputError, match="to_crs"):
        PMedian.from_geodataframe(clients, sites.to_crs(32649), "demand", p=2)
    with pytest.raises(InputError, match="set_crs"):
        PMedian.from_geodataframe(clients.set_crs(None, allow_override=True), sites, "demand", p=2)
    with pytest.raises(InputError, match="not a column"):
        PMedian.from_geodataframe(clients, sites, "footfall", p=2)
