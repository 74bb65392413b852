"""Great-circle geometry, vectorised: distances, neighbour searches and coordinates from a frame.

This is the one place Xingtu measures the Earth. Two conventions hold everywhere:

* **Units.** Distances are kilometres, and every function or argument that carries one says so
  with ``_km``. The one exception is the location models' ``from_geodataframe``
  (:mod:`optimizer.location`), which speaks the CRS's unit, metres, as spopt does.
* **Coordinates.** Points are WGS84 latitude / longitude in degrees (EPSG:4326).
  :func:`frame_to_lat_lng` reads them from any table with one policy, stated there.

Neighbour searches run a k-d tree on 3-D unit vectors, where a great-circle distance becomes a
straight chord that orders exactly like it (:func:`km_to_chord`, :func:`chord_to_km`):
:func:`pairs_within_km` finds every pair within a radius and :func:`nearest_km` the nearest
targets of each point. :func:`pairs_within_distance` is the same search in a plane (projected
coordinates).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from .errors import InputError

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), km."""

WGS84 = "EPSG:4326"
"""The CRS of every latitude / longitude in Xingtu."""

_COINCIDENT = 1e-12
"""Points closer than this (in the search's own unit) are looked up again as coincident."""


def haversine_km(lat1: np.ndarray | float, lng1: np.ndarray | float, lat2: np.ndarray | float,
                 lng2: np.ndarray | float) -> np.ndarray:
    """Return the great-circle distance in km, broadcasting like numpy.

    Examples
    --------
    >>> round(float(haversine_km(0.0, 0.0, 0.0, 1.0)), 3)  # one degree on the equator
    111.195
    >>> haversine_km(np.array([[0.0], [1.0]]), 0.0, 0.0, np.array([0.0, 1.0])).shape
    (2, 2)
    """
    phi1, phi2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    dlmb = np.radians(np.asarray(lng2, float) - np.asarray(lng1, float))
    a = np.sin((phi2 - phi1) / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def unit_vectors(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """Return points on the unit sphere, shape (n, 3), for k-d tree neighbour searches.

    Examples
    --------
    >>> unit_vectors(np.array([0.0]), np.array([90.0])).round(6).tolist()
    [[0.0, 1.0, 0.0]]
    """
    phi = np.radians(np.asarray(lat, float))
    lmb = np.radians(np.asarray(lng, float))
    return np.column_stack([np.cos(phi) * np.cos(lmb), np.cos(phi) * np.sin(lmb), np.sin(phi)])


def km_to_chord(km: np.ndarray | float) -> np.ndarray | float:
    """Return the chord between unit vectors that are ``km`` apart on the Earth's surface.

    Examples
    --------
    >>> round(float(chord_to_km(km_to_chord(5.0))), 9)
    5.0
    """
    angle = np.minimum(np.asarray(km, float) / EARTH_RADIUS_KM, np.pi)
    chord = 2.0 * np.sin(angle / 2.0)
    return float(chord) if np.ndim(chord) == 0 else chord


def chord_to_km(chord: np.ndarray | float) -> np.ndarray:
    """Return the great-circle distance in km for a chord between unit vectors.

    Examples
    --------
    >>> round(float(chord_to_km(2.0)), 1)  # antipodes
    20015.1
    """
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord, float) / 2.0, 0.0, 1.0))


# --- neighbour searches ------------------------------------------------------------------------


def _pairs_in_tree(a: np.ndarray, b: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions of every pair of ``a`` and ``b`` within ``radius`` (plus a little), sorted."""
    empty = np.zeros(0, dtype=np.int64)
    if len(a) == 0 or len(b) == 0:
        return empty, empty
    tree_a, tree_b = cKDTree(a), cKDTree(b)
    pairs = tree_a.sparse_distance_matrix(tree_b, radius * (1 + 1e-9), output_type="ndarray")
    # A sparse distance matrix leaves out pairs at distance 0: look coincident points up again.
    coincident = tree_b.query_ball_point(a, r=_COINCIDENT)
    counts = np.fromiter((len(c) for c in coincident), dtype=np.int64, count=len(coincident))
    extra_rows = np.repeat(np.arange(len(a), dtype=np.int64), counts)
    extra_cols = np.fromiter((j for c in coincident for j in c), dtype=np.int64,
                             count=int(counts.sum()))
    rows = np.concatenate([pairs["i"].astype(np.int64), extra_rows])
    cols = np.concatenate([pairs["j"].astype(np.int64), extra_cols])
    key = np.unique(rows * len(b) + cols)
    return key // len(b), key % len(b)


def pairs_within_distance(points_a: np.ndarray, points_b: np.ndarray, radius: float,
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find every pair of points within ``radius`` in a plane (straight-line distance).

    For projected coordinates (metres of a UTM zone, say); on latitude / longitude use
    :func:`pairs_within_km`.

    Parameters
    ----------
    points_a, points_b
        Arrays of shape (n, d) and (m, d) in one unit.
    radius
        Largest distance kept, in the same unit (0 keeps coincident points only).

    Returns
    -------
    a_index, b_index, distance
        Three aligned arrays, sorted by ``a_index`` then ``b_index``; coincident points included
        at distance 0.

    Examples
    --------
    >>> a, b, d = pairs_within_distance(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0], [9.0, 9.0]]), 5.0)
    >>> a.tolist(), b.tolist(), d.tolist()
    ([0], [0], [5.0])
    """
    points_a = np.asarray(points_a, float)
    points_b = np.asarray(points_b, float)
    if not radius >= 0:
        raise InputError(f"`radius` is {radius!r}; use a distance of 0 or more.")
    rows, cols = _pairs_in_tree(points_a, points_b, float(radius))
    distance = np.sqrt(((points_a[rows] - points_b[cols]) ** 2).sum(axis=1))
    keep = distance <= radius
    return rows[keep], cols[keep], distance[keep]


def pairs_within_km(lat_a: np.ndarray, lng_a: np.ndarray, lat_b: np.ndarray, lng_b: np.ndarray,
                    radius_km: float | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find every pair of points within a great-circle radius, with a k-d tree.

    Parameters
    ----------
    lat_a, lng_a, lat_b, lng_b
        The two point sets, degrees (WGS84).
    radius_km
        One radius for every point of ``a``, or one per point of ``a``: a radius of 0 finds only
        points at the same position, a NaN radius finds nothing.

    Returns
    -------
    a_index, b_index, distance_km
        Three aligned arrays, sorted by ``a_index`` then ``b_index``; coincident points included
        at distance 0. Each distance is :func:`haversine_km` of its pair.

    Examples
    --------
    >>> a, b, km = pairs_within_km(np.array([22.0]), np.array([114.0]),
    ...                            np.array([22.0, 23.0]), np.array([114.0, 114.0]), 5.0)
    >>> a.tolist(), b.tolist(), km.tolist()
    ([0], [0], [0.0])
    """
    lat_a, lng_a = np.asarray(lat_a, float), np.asarray(lng_a, float)
    lat_b, lng_b = np.asarray(lat_b, float), np.asarray(lng_b, float)
    radius = np.asarray(radius_km, float)
    if radius.ndim and radius.shape != lat_a.shape:
        raise InputError(f"`radius_km` has {radius.size} values for {lat_a.size} points; give "
                         "one radius, or one per point.")
    if (radius < 0).any():
        negative = float(radius[radius < 0].ravel()[0])
        raise InputError(f"`radius_km` is {negative!r}; use a distance in km of 0 or more.")
    largest = float(np.nanmax(radius, initial=0.0)) if radius.size else 0.0
    rows, cols = _pairs_in_tree(unit_vectors(lat_a, lng_a), unit_vectors(lat_b, lng_b),
                                float(km_to_chord(largest)))
    distance = haversine_km(lat_a[rows], lng_a[rows], lat_b[cols], lng_b[cols])
    keep = distance <= (radius if radius.ndim == 0 else radius[rows])
    return rows[keep], cols[keep], distance[keep]


def nearest_km(lat: np.ndarray, lng: np.ndarray, target_lat: np.ndarray, target_lng: np.ndarray,
               *, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Find the ``k`` nearest targets of each point and their great-circle distances in km.

    Parameters
    ----------
    lat, lng
        The points, degrees (WGS84).
    target_lat, target_lng
        The targets, degrees.
    k
        How many nearest targets, nearest first.

    Returns
    -------
    distance_km, position
        Shape (n,) for ``k=1``, else (n, k). Where there are fewer than ``k`` targets the
        missing ones have distance ``inf`` and position ``-1``.

    Examples
    --------
    >>> km, position = nearest_km(np.array([0.0]), np.array([0.0]), np.array([0.0, 5.0]),
    ...                           np.array([1.0, 5.0]))
    >>> round(float(km[0]), 2), int(position[0])
    (111.2, 0)
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError(f"`k` is {k!r}; ask for 1 or more nearest targets.")
    lat = np.asarray(lat, float)
    shape = (lat.size,) if k == 1 else (lat.size, int(k))
    if len(target_lat) == 0:
        return np.full(shape, np.inf), np.full(shape, -1, dtype=np.int64)
    tree = cKDTree(unit_vectors(np.asarray(target_lat, float), np.asarray(target_lng, float)))
    chord, position = tree.query(unit_vectors(lat, np.asarray(lng, float)), k=int(k))
    found = np.isfinite(chord)
    distance = np.where(found, chord_to_km(np.where(found, chord, 0.0)), np.inf)
    return distance.reshape(shape), np.where(found, position, -1).astype(np.int64).reshape(shape)


# --- coordinates from a frame ------------------------------------------------------------------


def frame_to_points(frame: Any, name: str) -> np.ndarray:
    """Return one shapely point per row of a frame's geometry, in the frame's own CRS.

    Points stay as they are; any other geometry (a mall outline, a district) is replaced by a
    point on its surface. :func:`frame_to_lat_lng` builds on this; use it directly only where the
    projected coordinates themselves are wanted.

    Parameters
    ----------
    frame
        A GeoDataFrame, a GeoSeries, or a table with a ``geometry`` column.
    name
        The argument's name, for error messages.

    Raises
    ------
    InputError
        When the frame has no geometry or some rows have none (the message lists the rows,
        row 1 being the first row of the table).

    Examples
    --------
    >>> frame = pd.DataFrame({"geometry": [shapely.box(0, 0, 2, 2)]})
    >>> shapely.get_coordinates(frame_to_points(frame, "areas")).tolist()
    [[1.0, 1.0]]
    """
    geometry = _geometry_column(frame)
    if geometry is None:
        columns = ", ".join(map(str, getattr(frame, "columns", []))) or "none"
        raise InputError(f"`{name}` needs `lat` and `lng` columns or point geometry; it has "
                         f"columns {columns}. Add `lat`/`lng` in degrees or a geometry column.")
    points = np.asarray(geometry, dtype=object)
    missing = shapely.is_missing(points) | shapely.is_empty(points)
    if missing.any():
        rows = (np.flatnonzero(missing)[:5] + 1).tolist()
        raise InputError(f"`{name}` has no geometry in row(s) {rows} ({int(missing.sum())} rows "
                         "in all; row 1 is the first row); give every row a point or drop it.")
    not_point = shapely.get_type_id(points) != 0
    if not_point.any():
        points = points.copy()
        points[not_point] = shapely.point_on_surface(points[not_point])
    return points


def frame_to_lat_lng(frame: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the latitude and longitude of each row of a frame, in degrees (WGS84).

    The one policy for coordinates in Xingtu:

    1. ``lat`` and ``lng`` columns, when the frame has both, are degrees (WGS84) and win over
       any geometry (the layer table keeps its cell centres there).
    2. Otherwise the geometry is read: a GeoDataFrame in another CRS is reprojected to
       EPSG:4326, a geometry without CRS is taken as degrees, and a non-point geometry gives a
       point on its surface.
    3. Missing or non-finite coordinates are refused, naming the rows (row 1 = first row).

    Parameters
    ----------
    frame
        A (Geo)DataFrame.
    name
        The argument's name, for error messages.

    Raises
    ------
    InputError
        When the frame has neither ``lat``/``lng`` nor geometry, or a row has no coordinates.

    Examples
    --------
    >>> lat, lng = frame_to_lat_lng(pd.DataFrame({"lat": [22.5], "lng": [114.0]}), "stores")
    >>> lat.tolist(), lng.tolist()
    ([22.5], [114.0])
    >>> import geopandas as gpd
    >>> utm = gpd.GeoDataFrame(geometry=gpd.points_from_xy([114.0], [22.5]), crs=4326).to_crs(32649)
    >>> [round(float(v[0]), 6) for v in frame_to_lat_lng(utm, "stores")]
    [22.5, 114.0]
    """
    columns = getattr(frame, "columns", ())
    if "lat" in columns and "lng" in columns:
        lat, lng = frame["lat"].to_numpy(float), frame["lng"].to_numpy(float)
    else:
        geometry = _geometry_column(frame)
        crs = getattr(geometry, "crs", None)
        if crs is not None and not crs.equals(WGS84, ignore_axis_order=True):
            geometry = geometry.to_crs(WGS84)
        points = frame_to_points(frame if geometry is None else geometry, name)
        lat, lng = shapely.get_y(points).astype(float), shapely.get_x(points).astype(float)
    bad = ~(np.isfinite(lat) & np.isfinite(lng))
    if bad.any():
        rows = (np.flatnonzero(bad)[:5] + 1).tolist()
        raise InputError(f"`{name}` has no coordinates in row(s) {rows} ({int(bad.sum())} rows "
                         "in all; row 1 is the first row); fill `lat`/`lng` in degrees or drop "
                         "the rows.")
    return lat, lng


def _geometry_column(frame: Any) -> Any:
    """Return the frame's geometry (a GeoSeries when it has one), or ``None``."""
    if isinstance(frame, pd.Series):  # a GeoSeries, or a column of geometries
        return frame
    try:  # a GeoDataFrame's active geometry, or a plain table's `geometry` column
        return frame.geometry
    except AttributeError:
        return None
