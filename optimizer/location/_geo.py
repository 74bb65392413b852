"""Distances between client and candidate points taken from GeoDataFrames, in metres.

The location models speak the CRS's unit, as spopt does, so ``from_geodataframe`` gives the same
numbers whatever the frames' CRS: a projected CRS gives straight-line (Euclidean) distances in
its unit (metres for UTM and the usual local grids); EPSG:4326 or any other geographic CRS (read
as EPSG:4326 by :func:`optimizer.geometry.frame_to_lat_lng`) gives great-circle distances on a
sphere of radius 6,371,008.8 m (the mean Earth radius), in metres. The haversine error against
the WGS84 ellipsoid is below 0.5 %, far under the size of an H3 cell. Everywhere else in the
optimizer distances are km (:mod:`optimizer.geometry`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import shapely

from ..errors import InputError
from ..geometry import (
    frame_to_lat_lng,
    frame_to_points,
    haversine_km,
    pairs_within_distance,
    pairs_within_km,
)


def _points(frame: Any, argument: str) -> tuple[np.ndarray, bool]:
    """Coordinates of each row (x/lon, y/lat) and whether the CRS is geographic."""
    crs = getattr(frame, "crs", None)
    if crs is None:
        raise InputError(
            f"`{argument}` has no CRS; set one with `.set_crs('EPSG:4326')` for longitude/latitude "
            f"or `.set_crs(<projected EPSG>)` for metres."
        )
    if crs.is_geographic:
        lat, lng = frame_to_lat_lng(frame.geometry, argument)
        return np.column_stack([lng, lat]), True
    points = frame_to_points(frame.geometry, argument)
    return np.column_stack([shapely.get_x(points), shapely.get_y(points)]), False


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
        GeoDataFrames of points (any other geometry counts as a point on its surface).
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
        rows, cols, km = pairs_within_km(client_xy[:, 1], client_xy[:, 0], candidate_xy[:, 1],
                                         candidate_xy[:, 0], max_distance / 1000.0)
        values = 1000.0 * km
        keep = values <= max_distance
        rows, cols, values = rows[keep], cols[keep], values[keep]
    else:
        rows, cols, values = pairs_within_distance(client_xy, candidate_xy, max_distance)
    # Explicit zeros (co-located points) stay stored entries: missing means out of reach.
    matrix = sp.csr_array((values, (rows, cols)), shape=(len(client_xy), len(candidate_xy)))
    matrix.sum_duplicates()
    return matrix
