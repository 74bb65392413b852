"""Distances between client and candidate points taken from GeoDataFrames.

Projected CRS: straight-line (Euclidean) distance in the CRS unit (metres for the usual UTM /
Web-Mercator-free local grids). EPSG:4326 or any other geographic CRS: great-circle distance by the
haversine formula on a sphere of radius 6,371,008.8 m (the mean Earth radius), in metres. The
haversine error against the WGS84 ellipsoid is below 0.5 %, far under the size of an H3 cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from ..errors import InputError
from ..geometry import chord_to_km, haversine_km, km_to_chord, unit_vectors


def _points(frame: Any, argument: str) -> tuple[np.ndarray, bool]:
    """Coordinates of each row (x/lon, y/lat) and whether the CRS is geographic."""
    crs = getattr(frame, "crs", None)
    if crs is None:
        raise InputError(
            f"`{argument}` has no CRS; set one with `.set_crs('EPSG:4326')` for longitude/latitude "
            f"or `.set_crs(<projected EPSG>)` for metres."
        )
    geographic = bool(crs.is_geographic)
    geometry = frame.geometry
    if len(geometry) and not (geometry.geom_type == "Point").all():
        geometry = geometry.representative_point() if geographic else geometry.centroid
    if geometry.is_empty.any() or geometry.isna().any():
        bad = np.flatnonzero((geometry.is_empty | geometry.isna()).to_numpy())[:5].tolist()
        raise InputError(f"`{argument}` has empty geometries at rows {bad}; drop or fix them.")
    return np.column_stack([geometry.x.to_numpy(), geometry.y.to_numpy()]), geographic


def haversine_matrix(lon_lat_a: np.ndarray, lon_lat_b: np.ndarray) -> np.ndarray:
    """Great-circle distances in metres between every point of ``a`` and every point of ``b``.

    Parameters
    ----------
    lon_lat_a, lon_lat_b
        Arrays of shape (n, 2) and (m, 2) of longitude, latitude in degrees.

    Returns
    -------
    numpy.ndarray
        Shape (n, m), metres.

    Examples
    --------
    >>> d = haversine_matrix(np.array([[0.0, 0.0]]), np.array([[0.0, 1.0]]))
    >>> round(float(d[0, 0]))
    111195
    """
    return 1000.0 * haversine_km(lon_lat_a[:, 1][:, None], lon_lat_a[:, 0][:, None],
                                 lon_lat_b[:, 1][None, :], lon_lat_b[:, 0][None, :])


def distance_matrix_from_geodataframes(
    clients: Any,
    candidates: Any,
    *,
    max_distance: float | None = None,
) -> np.ndarray | sp.csr_array:
    """Client x candidate distance matrix from two GeoDataFrames in the same CRS.

    Parameters
    ----------
    clients, candidates
        GeoDataFrames of points (other geometries use their centroid / representative point).
    max_distance
        When given, only pairs within this distance are kept and a sparse matrix is returned
        (missing entries mean "out of reach"); distances in metres for EPSG:4326, else CRS units.

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_array
        Dense (n, m) matrix, or sparse within ``max_distance`` (explicit zeros are kept).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> a = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=3857)
    >>> b = gpd.GeoDataFrame(geometry=[Point(3, 4)], crs=3857)
    >>> float(distance_matrix_from_geodataframes(a, b)[0, 0])
    5.0
    """
    client_xy, client_geographic = _points(clients, "clients_gdf")
    candidate_xy, _ = _points(candidates, "candidates_gdf")
    if clients.crs != candidates.crs:
        raise InputError(
            f"`clients_gdf` is in {clients.crs.to_string()} but `candidates_gdf` is in "
            f"{candidates.crs.to_string()}; reproject one with `.to_crs(...)` so both match."
        )
    geographic = client_geographic
    if max_distance is None:
        if geographic:
            return haversine_matrix(client_xy, candidate_xy)
        difference = client_xy[:, None, :] - candidate_xy[None, :, :]
        return np.sqrt((difference**2).sum(axis=2))
    if geographic:
        # Chord length on the unit sphere for the arc max_distance, then back to arcs.
        chord = km_to_chord(max_distance / 1000.0)
        tree_a = cKDTree(unit_vectors(client_xy[:, 1], client_xy[:, 0]))
        tree_b = cKDTree(unit_vectors(candidate_xy[:, 1], candidate_xy[:, 0]))
        pairs = tree_a.sparse_distance_matrix(tree_b, chord * (1 + 1e-12), output_type="ndarray")
        arcs = 1000.0 * chord_to_km(pairs["v"])
        keep = arcs <= max_distance
        rows, cols, values = pairs["i"][keep], pairs["j"][keep], arcs[keep]
    else:
        tree_a, tree_b = cKDTree(client_xy), cKDTree(candidate_xy)
        pairs = tree_a.sparse_distance_matrix(tree_b, max_distance, output_type="ndarray")
        rows, cols, values = pairs["i"], pairs["j"], pairs["v"]
    # sparse_distance_matrix drops exact zeros (co-located points); add them back explicitly.
    zero_a, zero_b = _coincident_pairs(client_xy, candidate_xy)
    rows = np.concatenate([rows, zero_a])
    cols = np.concatenate([cols, zero_b])
    values = np.concatenate([values, np.zeros(len(zero_a))])
    matrix = sp.coo_array((values, (rows, cols)), shape=(len(client_xy), len(candidate_xy)))
    matrix = sp.csr_array(matrix)
    matrix.sum_duplicates()
    return matrix


def _coincident_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tree_a, tree_b = cKDTree(a), cKDTree(b)
    matches = tree_a.query_ball_tree(tree_b, r=0.0)
    counts = np.fromiter((len(m) for m in matches), dtype=np.int64, count=len(matches))
    rows = np.repeat(np.arange(len(a)), counts)
    cols = np.fromiter((j for m in matches for j in m), dtype=np.int64, count=int(counts.sum()))
    return rows, cols
