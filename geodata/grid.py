"""Points, polygons and lines to H3 cells, cells to geometry, resolution changes and smoothing.

Every function here is vectorised: the H3 work runs in h3ronpy (Rust, whole arrays at once) and
the grouping in numpy/pandas; no Python loop runs per point, per cell or per polygon. Cells are
``uint64`` H3 indexes everywhere; :func:`cells_to_str` / :func:`str_to_cells` convert at the edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import geopandas as gpd
import h3ronpy
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from h3ronpy import ContainmentMode
from h3ronpy import vector as h3vector
from scipy import sparse

from optimizer.errors import InputError
from optimizer.geometry import haversine_km

from ._errors import InputDataError, problem_at_rows

Aggregation = Literal["count", "sum", "distinct"]
Decay = Literal["none", "linear", "exponential"]



def _check_resolution(resolution: int, name: str = "resolution") -> int:
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer) \
            or not 0 <= int(resolution) <= 15:
        raise InputError(f"`{name}` must be an integer H3 resolution from 0 to 15, got "
                         f"{resolution!r}. Fix: use 8 (about 0.74 km2 per cell) for city work.")
    return int(resolution)


def _to_numpy_uint64(array: object) -> np.ndarray:
    return np.asarray(pa.array(array).to_numpy(zero_copy_only=False), dtype=np.uint64)


def _as_cells(cells: object) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(cells), dtype=np.uint64)


def points_to_cells(lat: np.ndarray, lng: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cell of each point (vectorised).

    Parameters
    ----------
    lat, lng
        Latitudes and longitudes in degrees (WGS84), same length.
    resolution
        H3 resolution, 0-15.

    Returns
    -------
    numpy.ndarray
        ``uint64`` cell of each point, in input order.

    Raises
    ------
    InputDataError
        When a coordinate is missing (NaN) or out of range; the rows are listed.

    Examples
    --------
    >>> points_to_cells(np.array([22.54]), np.array([114.06]), 8).dtype
    dtype('uint64')
    """
    resolution = _check_resolution(resolution)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    lng = np.ascontiguousarray(lng, dtype=np.float64)
    if lat.shape != lng.shape or lat.ndim != 1:
        raise InputError(f"`lat` and `lng` must be 1-D arrays of the same length, got shapes "
                         f"{lat.shape} and {lng.shape}.")
    if lat.size == 0:
        return np.empty(0, dtype=np.uint64)
    bad_lat = ~np.isfinite(lat) | (np.abs(lat) > 90)
    bad_lng = ~np.isfinite(lng) | (np.abs(lng) > 180)
    if bad_lat.any() or bad_lng.any():
        problems = []
        for name, bad, values, limit in (("lat", bad_lat, lat, 90), ("lng", bad_lng, lng, 180)):
            if bad.any():
                rows = np.flatnonzero(bad)
                problems.append(problem_at_rows(
                    "points", name, rows, values[rows].tolist(),
                    f"coordinate missing or outside -{limit}..{limit} degrees",
                    "drop or correct these rows; check that latitude and longitude are not swapped"))
        raise InputDataError(problems, "points")
    return _to_numpy_uint64(h3vector.coordinates_to_cells(lat, lng, resolution))


def _group_codes(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique cells and, for each input, the position of its cell among them."""
    codes, uniques = pd.factorize(cells, sort=False)
    uniques = np.asarray(uniques, dtype=np.uint64)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return uniques[order], rank[codes]


def aggregate_cells(cells: np.ndarray, values: Mapping[str, tuple[Aggregation, np.ndarray | None]],
                    *, weights: np.ndarray | None = None) -> pd.DataFrame:
    """Aggregate per-point values by cell: counts, sums, weighted sums, distinct counts.

    Parameters
    ----------
    cells
        ``uint64`` cell of each point.
    values
        Output column name to ``(how, array)``: ``"count"`` (array ignored, may be ``None``),
        ``"sum"`` or ``"distinct"`` (number of distinct values of the array in the cell).
    weights
        Optional weight per point: ``"count"`` becomes the sum of weights and ``"sum"`` the
        weighted sum ``sum(w * x)``. Distinct counts ignore weights.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell`` (uint64, ascending), one column per entry of ``values``.

    Examples
    --------
    >>> c = np.array([5, 3, 5], dtype=np.uint64)
    >>> t = aggregate_cells(c, {"n": ("count", None), "s": ("sum", np.array([1.0, 2.0, 3.0]))})
    >>> t.index.tolist(), t["n"].tolist(), t["s"].tolist()
    ([3, 5], [1, 2], [2.0, 4.0])
    """
    cells = _as_cells(cells)
    unique, codes = _group_codes(cells)
    columns: dict[str, np.ndarray] = {}
    for name, (how, array) in values.items():
        if how == "count":
            if weights is None:
                columns[name] = np.bincount(codes, minlength=unique.size).astype(np.int64)
            else:
                columns[name] = np.bincount(codes, weights=np.asarray(weights, dtype=np.float64),
                                            minlength=unique.size)
        elif how == "sum":
            x = np.asarray(array, dtype=np.float64)
            if weights is not None:
                x = x * np.asarray(weights, dtype=np.float64)
            columns[name] = np.bincount(codes, weights=x, minlength=unique.size)
        elif how == "distinct":
            value_codes, _ = pd.factorize(pd.Series(array), use_na_sentinel=True)
            keep = value_codes >= 0
            base = int(value_codes.max(initial=0)) + 1
            pairs = pd.unique(codes[keep].astype(np.int64) * base + value_codes[keep])
            per_cell = pairs // base
            columns[name] = np.bincount(per_cell, minlength=unique.size).astype(np.int64)
        else:
            raise InputError(f"aggregation for `{name}` must be 'count', 'sum' or 'distinct', "
                             f"got {how!r}.")
    index = pd.Index(unique, dtype=np.uint64, name="cell")
    return pd.DataFrame(columns, index=index)


def points_to_cell_table(points: pd.DataFrame, resolution: int,
                         values: Mapping[str, Aggregation] | None = None, *,
                         lat: str = "lat", lng: str = "lng",
                         weight: str | None = None) -> pd.DataFrame:
    """Grid a table of points: one row per occupied cell with counts, sums or distinct counts.

    Parameters
    ----------
    points
        Table with latitude/longitude columns (a GeoDataFrame of points also works: when the
        ``lat``/``lng`` columns are missing, the point geometry's y/x are used).
    resolution
        H3 resolution, 0-15.
    values
        Output column to aggregation. ``"count"`` counts rows (the key is only a name);
        ``"sum"`` sums the column named by the key; ``"distinct"`` counts distinct values of that
        column. ``None`` gives a single ``count`` column.
    lat, lng
        Names of the coordinate columns.
    weight
        Optional column of weights: ``"count"`` then sums weights and ``"sum"`` is weighted.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell`` (uint64, sorted ascending), one column per key of ``values``.

    Examples
    --------
    >>> pts = pd.DataFrame({"lat": [22.54, 22.54], "lng": [114.06, 114.06], "count": [3, 4]})
    >>> points_to_cell_table(pts, 8, {"count": "sum"})["count"].tolist()
    [7.0]
    """
    values = {"count": "count"} if values is None else dict(values)
    missing = [c for c in [lat, lng] if c not in points.columns]
    if missing and isinstance(points, gpd.GeoDataFrame) and len(points):
        lat_values, lng_values = points.geometry.y.to_numpy(), points.geometry.x.to_numpy()
    elif missing:
        if not len(points):
            lat_values = lng_values = np.empty(0)
        else:
            raise InputError(f"`points` has no column(s) {missing}; pass `lat=`/`lng=` with the "
                             f"names of the coordinate columns (columns: {list(points.columns)}).")
    else:
        lat_values, lng_values = points[lat].to_numpy(), points[lng].to_numpy()
    needed = [k for k, how in values.items() if how != "count"]
    absent = [k for k in needed if k not in points.columns]
    if absent:
        raise InputError(f"`values` names column(s) {absent} that `points` does not have; "
                         f"columns are {list(points.columns)}.")
    cells = points_to_cells(lat_values, lng_values, resolution)
    spec = {k: (how, None if how == "count" else points[k].to_numpy()) for k, how in values.items()}
    w = None if weight is None else points[weight].to_numpy()
    return aggregate_cells(cells, spec, weights=w)


# --- cells <-> coordinates, strings, geometry -------------------------------------------------


def cells_to_latlng(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre of each cell as ``(lat, lng)`` arrays in degrees.

    Examples
    --------
    >>> lat, lng = cells_to_latlng(points_to_cells(np.array([22.54]), np.array([114.06]), 8))
    >>> bool(abs(lat[0] - 22.54) < 0.01)
    True
    """
    cells = _as_cells(cells)
    if cells.size == 0:
        return np.empty(0), np.empty(0)
    batch = pa.record_batch(h3vector.cells_to_coordinates(cells))
    return (batch.column("lat").to_numpy(zero_copy_only=False),
            batch.column("lng").to_numpy(zero_copy_only=False))


def cells_to_str(cells: np.ndarray) -> np.ndarray:
    """Hexadecimal strings (``"881f1d4a8bfffff"``) of ``uint64`` cells.

    Examples
    --------
    >>> cells_to_str(np.array([613635009263173631], dtype=np.uint64))[0]
    '88411ca2cdfffff'
    """
    cells = _as_cells(cells)
    if cells.size == 0:
        return np.empty(0, dtype=object)
    return np.asarray(pa.array(h3ronpy.cells_to_string(cells)).to_pylist(), dtype=object)


def str_to_cells(strings: object) -> np.ndarray:
    """``uint64`` cells from hexadecimal strings (inverse of :func:`cells_to_str`).

    Examples
    --------
    >>> int(str_to_cells(["88411ca2cdfffff"])[0])
    613635009263173631
    """
    array = pa.array(np.asarray(strings, dtype=object), type=pa.string())
    if len(array) == 0:
        return np.empty(0, dtype=np.uint64)
    try:
        return _to_numpy_uint64(h3ronpy.cells_parse(array))
    except ValueError as exc:
        raise InputError(f"could not read H3 cell ids: {exc}. Fix: cell ids are 15 hexadecimal "
                         "characters such as '881f1d4a8bfffff'.") from exc


def cells_to_polygons(cells: np.ndarray) -> np.ndarray:
    """Hexagon (or pentagon) of each cell as shapely polygons (lng/lat, EPSG:4326).

    Examples
    --------
    >>> len(cells_to_polygons(np.array([613635009263173631], dtype=np.uint64))[0].exterior.coords)
    7
    """
    cells = _as_cells(cells)
    if cells.size == 0:
        return np.empty(0, dtype=object)
    wkb = pa.array(h3vector.cells_to_wkb_polygons(cells)).to_numpy(zero_copy_only=False)
    return shapely.from_wkb(wkb)


def cells_to_geodataframe(cells: np.ndarray, data: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """GeoDataFrame of cell polygons, indexed by ``cell``, with the columns of ``data``.

    Parameters
    ----------
    cells
        ``uint64`` cells; ignored when ``data`` is given (its index is used instead).
    data
        Optional table indexed by cell.

    Examples
    --------
    >>> g = cells_to_geodataframe(np.array([613635009263173631], dtype=np.uint64))
    >>> g.geometry.iloc[0].geom_type
    'Polygon'
    """
    if data is not None:
        cells = data.index.to_numpy()
        frame = data.copy()
    else:
        cells = _as_cells(cells)
        frame = pd.DataFrame(index=pd.Index(cells, dtype=np.uint64, name="cell"))
    frame.index = pd.Index(_as_cells(cells), dtype=np.uint64, name="cell")
    return gpd.GeoDataFrame(frame, geometry=cells_to_polygons(cells), crs="EPSG:4326")


def _checked_cells(operation: object, cells: np.ndarray, *args: object) -> np.ndarray:
    """Run an h3ronpy function over cells, turning its error on an invalid index into ours."""
    try:
        return _to_numpy_uint64(operation(cells, *args))  # type: ignore[operator]
    except ValueError as exc:
        raise InputError(f"`cells` holds a value that is not an H3 cell index ({exc}). Fix: "
                         "cells are uint64 H3 indexes, as made by points_to_cells or "
                         "str_to_cells.") from exc


def cells_resolution(cells: np.ndarray) -> np.ndarray:
    """Return the H3 resolution of each cell.

    Examples
    --------
    >>> int(cells_resolution(np.array([613635009263173631], dtype=np.uint64))[0])
    8
    """
    cells = _as_cells(cells)
    if cells.size == 0:
        return np.empty(0, dtype=np.int64)
    return _checked_cells(h3ronpy.cells_resolution, cells).astype(np.int64)


# --- resolution changes ------------------------------------------------------------------------


def cells_to_parent(cells: np.ndarray, resolution: int) -> np.ndarray:
    """Return the parent of each cell at a coarser ``resolution`` (vectorised, in h3ronpy).

    Examples
    --------
    >>> c = points_to_cells(np.array([22.54]), np.array([114.06]), 9)
    >>> int(cells_resolution(cells_to_parent(c, 7))[0])
    7
    """
    resolution = _check_resolution(resolution)
    cells = _as_cells(cells)
    if cells.size and cells_resolution(cells).min() < resolution:
        raise InputError(f"`resolution` {resolution} is finer than some cells "
                         f"(resolution {int(cells_resolution(cells).min())}); use "
                         "cells_to_children to go finer.")
    if cells.size == 0:
        return cells
    return _checked_cells(h3ronpy.change_resolution, cells, resolution)


def cells_to_children(cells: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Children of each cell at a finer ``resolution``.

    Returns
    -------
    (children, parent_position)
        The children (``uint64``) and, for each child, the position of its parent in ``cells``.

    Examples
    --------
    >>> kids, pos = cells_to_children(np.array([613635009263173631], dtype=np.uint64), 9)
    >>> len(kids), set(pos.tolist())
    (7, {0})
    """
    resolution = _check_resolution(resolution)
    cells = _as_cells(cells)
    if cells.size == 0:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    lists = pa.array(h3ronpy.change_resolution_list(cells, resolution))
    offsets = lists.offsets.to_numpy()
    children = _to_numpy_uint64(lists.flatten())
    return children, np.repeat(np.arange(cells.size), np.diff(offsets))


def change_resolution(table: pd.DataFrame, resolution: int, *,
                      how: Mapping[str, Literal["sum", "mean"]] | None = None) -> pd.DataFrame:
    """Move a cell table to another resolution, conserving sums.

    Going coarser, child rows are summed (or averaged) into their parent. Going finer, each
    cell's sums are split equally among its children (means are copied), so totals are kept.

    Parameters
    ----------
    table
        Numeric table indexed by ``cell`` (all cells of one resolution).
    resolution
        Target resolution.
    how
        Per column ``"sum"`` (default) or ``"mean"``.

    Examples
    --------
    >>> t = points_to_cell_table(pd.DataFrame({"lat": [22.5, 22.6], "lng": [114.0, 114.1]}), 8)
    >>> int(change_resolution(t, 6)["count"].sum())
    2
    """
    resolution = _check_resolution(resolution)
    how = dict(how or {})
    cells = _as_cells(table.index.to_numpy())
    if cells.size == 0:
        return table.copy()
    resolutions = np.unique(cells_resolution(cells))
    if resolutions.size > 1:
        raise InputError(f"`table` mixes cell resolutions {resolutions.tolist()}; move each "
                         "resolution separately.")
    current = int(resolutions[0])
    means = [c for c in table.columns if how.get(c, "sum") == "mean"]
    if resolution <= current:
        parents = cells_to_parent(cells, resolution)
        unique, codes = _group_codes(parents)
        out = {}
        counts = np.bincount(codes, minlength=unique.size)
        for column in table.columns:
            total = np.bincount(codes, weights=table[column].to_numpy(dtype=np.float64),
                                minlength=unique.size)
            out[column] = total / counts if column in means else total
        return pd.DataFrame(out, index=pd.Index(unique, dtype=np.uint64, name="cell"))
    children, parent_position = cells_to_children(cells, resolution)
    n_children = np.bincount(parent_position, minlength=cells.size)
    out = {}
    for column in table.columns:
        values = table[column].to_numpy(dtype=np.float64)[parent_position]
        out[column] = values if column in means else values / n_children[parent_position]
    result = pd.DataFrame(out, index=pd.Index(children, dtype=np.uint64, name="cell"))
    return result.sort_index()


# --- polygons and lines to cells -------------------------------------------------------------


def _explode_cells(geometries: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Cells touching each geometry: ``(geometry_position, cell)`` pairs."""
    wkb = pa.array(shapely.to_wkb(geometries), type=pa.binary())
    lists = pa.array(h3vector.wkb_to_cells(wkb, resolution,
                                           containment_mode=ContainmentMode.IntersectsBoundary))
    offsets = lists.offsets.to_numpy()
    cells = _to_numpy_uint64(lists.flatten())
    position = np.repeat(np.arange(len(geometries)), np.diff(offsets))
    return position, cells


def _apportion(geometries: np.ndarray, values: np.ndarray, resolution: int,
               measure: Literal["area", "length"]) -> pd.Series:
    geometries = np.asarray(geometries, dtype=object)
    values = np.asarray(values, dtype=np.float64)
    if geometries.size == 0:
        return pd.Series([], index=pd.Index([], dtype=np.uint64, name="cell"), dtype=np.float64)
    position, cells = _explode_cells(geometries, resolution)
    hexagons = cells_to_polygons(cells)
    pieces = shapely.intersection(geometries[position], hexagons)
    if measure == "area":
        # Degrees squared scaled by cos(latitude): exact ratios within one small geometry.
        share = shapely.area(pieces) * np.cos(np.radians(shapely.get_y(shapely.centroid(hexagons))))
    else:
        share = shapely.length(pieces) * np.cos(np.radians(shapely.get_y(shapely.centroid(hexagons))))
    share = np.nan_to_num(share)
    per_geometry = np.bincount(position, weights=share, minlength=geometries.size)
    # A geometry whose pieces all measure zero (degenerate, or a point-like polygon) goes whole
    # to the cell of its representative point.
    lost = np.flatnonzero(per_geometry <= 0)
    fraction = np.divide(share, per_geometry[position], out=np.zeros_like(share),
                         where=per_geometry[position] > 0)
    cell_list = [cells]
    amount_list = [values[position] * fraction]
    if lost.size:
        points = shapely.point_on_surface(geometries[lost])
        cell_list.append(points_to_cells(shapely.get_y(points), shapely.get_x(points), resolution))
        amount_list.append(values[lost])
    table = aggregate_cells(np.concatenate(cell_list),
                            {"value": ("sum", np.concatenate(amount_list))})
    return table["value"]


def polygons_to_cells(polygons: gpd.GeoSeries | np.ndarray, values: np.ndarray,
                      resolution: int) -> pd.Series:
    """Apportion a quantity of each polygon (e.g. population) to cells by overlapping area.

    Each polygon's value is split among the cells it overlaps in proportion to the overlap
    area, so the total is conserved exactly. A polygon smaller than a cell goes to the cells it
    touches (all of it to one cell when it lies inside it).

    Parameters
    ----------
    polygons
        Polygons in EPSG:4326 (lng/lat).
    values
        Quantity carried by each polygon.
    resolution
        H3 resolution.

    Returns
    -------
    pandas.Series
        Apportioned quantity indexed by ``cell`` (uint64, sorted).

    Examples
    --------
    >>> square = shapely.box(114.0, 22.5, 114.05, 22.55)
    >>> round(float(polygons_to_cells(np.array([square]), np.array([1000.0]), 8).sum()), 6)
    1000.0
    """
    resolution = _check_resolution(resolution)
    geometries = np.asarray(getattr(polygons, "values", polygons), dtype=object)
    return _apportion(geometries, values, resolution, "area").rename("value")


def lines_to_cells(lines: gpd.GeoSeries | np.ndarray, values: np.ndarray | None,
                   resolution: int) -> pd.Series:
    """Apportion a quantity of each line (e.g. traffic on a road) to cells by length.

    With ``values=None`` the result is the line length in km per cell.

    Examples
    --------
    >>> road = shapely.LineString([(114.0, 22.5), (114.05, 22.5)])
    >>> km = lines_to_cells(np.array([road]), None, 8)
    >>> bool(5.0 < km.sum() < 5.3)
    True
    """
    resolution = _check_resolution(resolution)
    geometries = np.asarray(getattr(lines, "values", lines), dtype=object)
    if values is None:
        values = line_length_km(geometries)
    return _apportion(geometries, np.asarray(values, dtype=np.float64), resolution,
                      "length").rename("value")


def line_length_km(lines: np.ndarray) -> np.ndarray:
    """Great-circle length in km of each line in EPSG:4326 (vectorised over all segments).

    Examples
    --------
    >>> round(float(line_length_km(np.array([shapely.LineString([(0, 0), (1, 0)])]))[0]), 1)
    111.2
    """
    lines = np.asarray(lines, dtype=object)
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    if coords.shape[0] < 2:
        return np.zeros(lines.size)
    same = owner[1:] == owner[:-1]
    step = haversine_km(coords[:-1, 1], coords[:-1, 0], coords[1:, 1], coords[1:, 0])
    return np.bincount(owner[1:][same], weights=step[same], minlength=lines.size)


# --- distances, neighbourhoods and smoothing -----------------------------------------------


def grid_disk_pairs(cells: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every cell within ``k`` steps of each cell: ``(origin_position, neighbour, steps)``.

    Examples
    --------
    >>> origin, neighbour, steps = grid_disk_pairs(np.array([613635009263173631], dtype=np.uint64), 1)
    >>> len(neighbour), sorted(set(steps.tolist()))
    (7, [0, 1])
    """
    if k < 0:
        raise InputError(f"`k` must be 0 or more grid steps, got {k}.")
    cells = _as_cells(cells)
    if cells.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, np.empty(0, dtype=np.uint64), empty
    batch = pa.record_batch(h3ronpy.grid_disk_distances(cells, k))
    cell_lists, k_lists = batch.column("cell"), batch.column("k")
    offsets = cell_lists.offsets.to_numpy()
    origin = np.repeat(np.arange(cells.size), np.diff(offsets))
    neighbours = _to_numpy_uint64(cell_lists.flatten())
    steps = k_lists.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
    return origin, neighbours, steps


def _decay_weights(steps: np.ndarray, k: int, decay: Decay, scale: float) -> np.ndarray:
    if decay == "none":
        return np.ones(steps.size)
    if decay == "linear":
        return 1.0 - steps / (k + 1.0)
    if decay == "exponential":
        return np.exp(-steps / scale)
    raise InputError(f"`decay` must be 'none', 'linear' or 'exponential', got {decay!r}.")


def disk_matrix(target_cells: np.ndarray, source_cells: np.ndarray, k: int, *,
                decay: Decay = "none", scale: float = 1.0) -> sparse.csr_matrix:
    """Sparse weights ``W[i, j]`` of source cell ``j`` seen from target cell ``i`` within ``k``.

    ``W @ source_values`` gives, for each target cell, the (decay-weighted) sum of the values
    of the source cells within ``k`` grid steps. Source cells need not be among the targets.

    Parameters
    ----------
    target_cells, source_cells
        ``uint64`` cells, each without duplicates.
    k
        Reach in grid steps (at resolution 8, one step is about 0.9 km).
    decay
        ``"none"`` (every cell in reach weighs 1), ``"linear"`` (``1 - d/(k+1)``) or
        ``"exponential"`` (``exp(-d/scale)``), with ``d`` the grid distance in steps.
    scale
        Decay length in grid steps for ``"exponential"``.

    Examples
    --------
    >>> c = np.array([613635009263173631], dtype=np.uint64)
    >>> disk_matrix(c, c, 2).toarray().tolist()
    [[1.0]]
    """
    target = _as_cells(target_cells)
    source = _as_cells(source_cells)
    origin, neighbour, steps = grid_disk_pairs(source, k)
    order = np.argsort(target, kind="stable")
    sorted_target = target[order]
    slot = np.searchsorted(sorted_target, neighbour)
    slot = np.minimum(slot, max(sorted_target.size - 1, 0))
    hit = sorted_target.size > 0
    found = (sorted_target[slot] == neighbour) if hit else np.zeros(neighbour.size, bool)
    rows = order[slot[found]] if hit else np.empty(0, dtype=np.int64)
    weights = _decay_weights(steps[found], k, decay, scale)
    return sparse.csr_matrix((weights, (rows, origin[found])), shape=(target.size, source.size))


def smooth(values: pd.Series, k: int, *, decay: Decay = "linear", scale: float = 1.0,
           normalize: bool = True) -> pd.Series:
    """k-ring smoothing of a cell series, cells absent from the series counting as zero.

    Parameters
    ----------
    values
        Numbers indexed by ``cell``.
    k
        Reach in grid steps.
    decay
        Weight by grid distance, see :func:`disk_matrix`.
    normalize
        ``True``: weighted mean over the full disk (absent cells as zero), a smoothed density.
        ``False``: weighted sum (e.g. competitors within reach).

    Examples
    --------
    >>> c = pd.Series([7.0], index=pd.Index(np.array([613635009263173631], dtype=np.uint64), name="cell"))
    >>> float(smooth(c, 1, decay="none").iloc[0])
    1.0
    """
    cells = _as_cells(values.index.to_numpy())
    matrix = disk_matrix(cells, cells, k, decay=decay, scale=scale)
    result = matrix @ values.to_numpy(dtype=np.float64)
    if normalize:
        steps = np.concatenate([[0], np.repeat(np.arange(1, k + 1), 6 * np.arange(1, k + 1))])
        result = result / _decay_weights(steps, k, decay, scale).sum()
    return pd.Series(result, index=values.index, name=values.name)
