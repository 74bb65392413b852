"""Layer building on Dask: grid point data larger than memory into an H3 cell table.

National footfall, customer or device-sale points come as partitioned Parquet or GeoParquet datasets
(one folder of files). :func:`points_to_cell_table_dask` reads them partition by partition on a Dask
cluster, maps every partition through :func:`geodata.grid.points_to_cells`, aggregates it to a small
per-cell table and combines those tables in a tree (``SPLIT_EVERY`` at a time). No worker ever holds
more than one partition of raw points. The result is the same table, with the same index, columns and
dtypes, as :func:`geodata.grid.points_to_cell_table` returns for the whole input on one machine.

Counts and sums add up across partitions. Distinct counts do not (a customer seen in two partitions
must count once), so each partition keeps its distinct ``(cell, value)`` pairs, the tree takes the union
of those pairs, and the count is made once at the root.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import numpy as np
import pandas as pd

from optimizer.errors import InputError

from ._errors import InputDataError, Problem, problem_at_rows

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client

Aggregation = Literal["count", "sum", "distinct"]
"""How a column is aggregated per cell: ``count`` rows, ``sum`` a column, ``distinct`` values."""

LOCAL_WORKERS = 2
"""Workers of the local cluster started when no scheduler address is given."""

LOCAL_MEMORY_LIMIT = "4GiB"
"""Memory limit of each local worker; Dask spills to disk at 60% and pauses the worker at 80%."""

SPLIT_EVERY = 8
"""Partial cell tables combined per step of the tree reduction."""

CONNECT_TIMEOUT = "20s"
"""How long to wait for a remote scheduler before giving up."""

_ROWS = "__rows__"


def _data_error(source: str, message: str, fix: str, column: str | None = None) -> InputDataError:
    return InputDataError([Problem(source=source, message=message, fix=fix, column=column)], source)


@contextmanager
def dask_client(
    scheduler: str | Client | None = None,
    *,
    n_workers: int = LOCAL_WORKERS,
    memory_limit: str | int = LOCAL_MEMORY_LIMIT,
    processes: bool = True,
) -> Iterator[Client]:
    """Open a Dask client: a local cluster, a remote scheduler, or an existing client.

    Parameters
    ----------
    scheduler
        ``None`` starts a :class:`distributed.LocalCluster` (one thread per worker) and closes it on
        exit; a string is a scheduler address such as ``"tcp://10.0.0.5:8786"``; a
        :class:`distributed.Client` is used as is and left open.
    n_workers, memory_limit, processes
        Settings of the local cluster (ignored for an address or a client).

    Yields
    ------
    distributed.Client
        A connected client.

    Examples
    --------
    >>> with dask_client(None, n_workers=1, processes=False) as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler is None:
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=processes,
                memory_limit=memory_limit,
                dashboard_address=":0",
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise InputError(
            f"`scheduler` must be a Dask scheduler address such as 'tcp://10.0.0.5:8786' or None "
            f"for a local cluster, got {scheduler!r}."
        )
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as error:
        raise InputError(
            f"Could not reach the Dask scheduler at `scheduler`={scheduler!r} within "
            f"{CONNECT_TIMEOUT} ({error}). Check the address (the scheduler prints it as "
            f"'Scheduler at: tcp://...') and that this machine can reach its port, or leave "
            f"`scheduler` empty to run on a local cluster."
        ) from error
    with client:
        yield client


def points_to_cell_table_dask(
    source: str | os.PathLike[str] | dd.DataFrame,
    resolution: int,
    values: Mapping[str, Aggregation] | None = None,
    *,
    scheduler: str | Client | None = None,
    lat: str = "lat",
    lng: str = "lng",
    weight: str | None = None,
) -> pd.DataFrame:
    """Aggregate a large point dataset to one row per H3 cell on a Dask cluster.

    The output is exactly what :func:`geodata.grid.points_to_cell_table` returns for the same points
    (same index, columns and dtypes; float sums may differ in the last bits because they are added in
    another order).

    Parameters
    ----------
    source
        A Parquet file or a folder of Parquet files (a partitioned dataset; local, or a URL such
        as ``s3://bucket/footfall/`` that every worker can read) holding either ``lat`` /
        ``lng`` columns in WGS84 degrees or a GeoParquet point geometry in EPSG:4326; or a
        :class:`dask.dataframe.DataFrame` (or a ``dask_geopandas.GeoDataFrame`` of points).
    resolution
        H3 resolution, 0 to 15.
    values
        Output column -> aggregation: ``"count"`` counts the points, ``"sum"`` sums the column of
        that name, ``"distinct"`` counts its distinct values (missing values not counted).
        ``None`` gives a single ``count`` column.
    scheduler
        Dask scheduler address (``"tcp://host:8786"``); ``None`` starts a local cluster of
        :data:`LOCAL_WORKERS` processes with :data:`LOCAL_MEMORY_LIMIT` each for this call.
        An open :class:`distributed.Client` is also accepted.
    lat, lng
        Names of the coordinate columns (ignored for GeoParquet / GeoDataFrame input).
    weight
        Optional column of weights: ``"count"`` then sums the weights and ``"sum"`` is weighted,
        as in :func:`geodata.grid.points_to_cell_table`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell`` (``uint64``, ascending), one column per key of ``values``.

    Raises
    ------
    geodata._errors.InputDataError
        When the dataset is missing or unreadable, a column is absent, a geometry is not a point,
        the CRS is not WGS84 or a coordinate is missing or out of range (the partition is named).
    optimizer.errors.InputError
        When ``resolution``, ``values`` or ``scheduler`` is invalid or the scheduler is unreachable.

    Examples
    --------
    >>> table = points_to_cell_table_dask(  # doctest: +SKIP
    ...     "footfall_parquet/", 8, {"count": "count", "visits": "sum", "device_id": "distinct"},
    ...     scheduler="tcp://10.0.0.5:8786")
    >>> list(table.columns)  # doctest: +SKIP
    ['count', 'visits', 'device_id']
    """
    from . import grid

    plan = _plan_from_values(values)
    _check_resolution(resolution)
    extra = [] if weight is None else [weight]
    points = _points_frame(source, lat=lat, lng=lng, value_columns=[*plan.value_columns, *extra])
    where = "the Dask DataFrame" if _is_dask_frame(source) else str(source)

    with dask_client(scheduler) as client:
        root = _tree_reduction(points, plan, resolution, lat=lat, lng=lng, weight=weight,
                               where=where)
        combined: _Partial = client.compute(root).result()
        sample = client.compute(points.partitions[0].head(256, compute=False)).result()

    table = _finish(combined, plan)
    if len(sample) == 0:
        return table
    # The single-machine function on a few rows fixes dtypes and column order, so both paths agree.
    template = grid.points_to_cell_table(sample, resolution, dict(plan.values), lat=lat, lng=lng,
                                         weight=weight)
    return _like(table, template)


def _is_dask_frame(source: object) -> bool:
    import dask.dataframe as dd

    return isinstance(source, dd.DataFrame)


# --------------------------------------------------------------------------------------------------
# What to compute


@dataclass(frozen=True)
class _Plan:
    """The aggregations split into additive ones (counts, sums) and distinct counts."""

    values: tuple[tuple[str, Aggregation], ...]

    @property
    def sum_columns(self) -> list[str]:
        return [name for name, how in self.values if how == "sum"]

    @property
    def distinct_columns(self) -> list[str]:
        return [name for name, how in self.values if how == "distinct"]

    @property
    def value_columns(self) -> list[str]:
        return [name for name, how in self.values if how != "count"]


def _plan_from_values(values: Mapping[str, Aggregation] | None) -> _Plan:
    if values is None:
        return _Plan((("count", "count"),))
    if not isinstance(values, Mapping) or not values:
        raise InputError(
            f"`values` must map output columns to 'count', 'sum' or 'distinct' "
            f"(e.g. {{'count': 'count', 'visits': 'sum'}}) or be None, got {values!r}."
        )
    bad = {name: how for name, how in values.items() if how not in ("count", "sum", "distinct")}
    if bad:
        raise InputError(
            f"`values` has unknown aggregations {bad}; use 'count', 'sum' or 'distinct'."
        )
    if _ROWS in values:
        raise InputError(f"`values` may not use the reserved column name {_ROWS!r}.")
    return _Plan(tuple(values.items()))


def _check_resolution(resolution: int) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer) or not (
        0 <= resolution <= 15
    ):
        raise InputError(
            f"`resolution` must be an H3 resolution from 0 to 15, got {resolution!r}; "
            f"8 (about 0.74 km2 per cell) is the default."
        )


# --------------------------------------------------------------------------------------------------
# Reading the points


def _points_frame(
    source: str | os.PathLike[str] | dd.DataFrame,
    *,
    lat: str,
    lng: str,
    value_columns: list[str],
) -> dd.DataFrame:
    """Return a Dask frame of ``lat``, ``lng`` and the values, one partition per file part."""
    import dask.dataframe as dd
    import dask_geopandas

    if isinstance(source, dask_geopandas.GeoDataFrame):
        return _geometry_to_latlng(source, source.geometry.name, "the GeoDataFrame", lat, lng,
                                   value_columns)
    if isinstance(source, dd.DataFrame):
        _require_columns(list(source.columns), [lat, lng, *value_columns], "the Dask DataFrame",
                         has_geometry=False)
        return source[_unique([lat, lng, *value_columns])]
    if not isinstance(source, str | os.PathLike):
        raise InputError(
            f"`source` must be a path to a (Geo)Parquet file or folder or a Dask DataFrame, got "
            f"{type(source).__name__}."
        )

    # Local paths are checked here; URLs (s3://, gs://, abfs://, hdfs://) go to pyarrow / fsspec.
    is_url = isinstance(source, str) and "://" in source
    local = cast("str | os.PathLike[str]", source)
    path: Path | str = str(local) if is_url else Path(local)
    where = str(path)
    if not is_url and not Path(path).exists():
        raise _data_error(where, "the dataset does not exist",
                          "give a Parquet file or a folder of Parquet files (written with "
                          "`dask.dataframe.to_parquet` or `geopandas.GeoDataFrame.to_parquet`)")
    schema = _parquet_schema(path)
    geo = _geo_metadata(schema)
    if geo is not None:
        geometry = geo.get("primary_column", "geometry")
        _require_columns(list(schema.names), [geometry, *value_columns], where, has_geometry=True)
        frame = dask_geopandas.read_parquet(path, columns=_unique([geometry, *value_columns]))
        return _geometry_to_latlng(frame, geometry, where, lat, lng, value_columns)
    _require_columns(list(schema.names), [lat, lng, *value_columns], where, has_geometry=False)
    return dd.read_parquet(path, columns=_unique([lat, lng, *value_columns]))


def _parquet_schema(path: Path | str):
    import pyarrow.dataset as ds

    try:
        return ds.dataset(path, format="parquet").schema
    except (OSError, ValueError) as error:
        raise _data_error(str(path), f"not a readable Parquet dataset ({error})",
                          "give a Parquet file or a folder holding only Parquet files") from error


def _geo_metadata(schema) -> dict | None:
    metadata = schema.metadata or {}
    raw = metadata.get(b"geo")
    return None if raw is None else json.loads(raw)


def _require_columns(available: list[str], needed: list[str], where: str, *,
                     has_geometry: bool) -> None:
    missing = [name for name in _unique(needed) if name not in available]
    if missing:
        fix = (f"use a dataset with these columns (it has {sorted(map(str, available))})"
               + ("" if has_geometry else "; name the coordinate columns with `lat=` / `lng=`, "
                  "or store a GeoParquet point geometry"))
        problems = [Problem(source=where, message="column missing", fix=fix, column=name)
                    for name in missing]
        raise InputDataError(problems, where)


def _geometry_to_latlng(frame, geometry: str, where: str, lat: str, lng: str,
                        value_columns: list[str]) -> dd.DataFrame:
    """Replace a point geometry column by ``lat`` / ``lng`` columns, checking CRS and type."""
    crs = frame.crs
    if crs is not None and not crs.equals("EPSG:4326", ignore_axis_order=True):
        raise _data_error(where, f"the geometry is in {crs.to_string()}, not WGS84 longitude/latitude",
                          "reproject it with `to_crs(4326)` before gridding", column=geometry)
    _require_columns(list(frame.columns), [geometry, *value_columns], where, has_geometry=True)
    meta = pd.DataFrame({lat: pd.Series(dtype="float64"), lng: pd.Series(dtype="float64")})
    for name in value_columns:
        if name not in (lat, lng):
            meta[name] = frame._meta[name]
    return frame.map_partitions(_partition_latlng, geometry, where, lat, lng, list(meta.columns),
                                meta=meta)


def _partition_latlng(part, geometry: str, where: str, lat: str, lng: str,
                      columns: list[str]) -> pd.DataFrame:
    import shapely

    geoms = np.asarray(part[geometry].values, dtype=object)
    not_points = np.flatnonzero(shapely.get_type_id(geoms) != 0)
    if not_points.size:
        kinds = shapely.get_type_id(geoms[not_points])
        raise InputDataError([problem_at_rows(
            where, geometry, not_points, kinds, "geometry is not a point (shapely type id shown)",
            "grid polygons with `geodata.grid.polygons_to_cells`, or take their centroids")], where)
    out = pd.DataFrame({lat: shapely.get_y(geoms), lng: shapely.get_x(geoms)}, index=part.index)
    for name in columns[2:]:
        out[name] = part[name].to_numpy()
    return out[columns]


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


# --------------------------------------------------------------------------------------------------
# Map, aggregate per partition, combine in a tree


@dataclass
class _Partial:
    """Cell aggregates of some partitions: additive sums plus distinct ``(cell, value)`` pairs."""

    additive: pd.DataFrame
    distinct: dict[str, pd.DataFrame] = field(default_factory=dict)


def _tree_reduction(points: dd.DataFrame, plan: _Plan, resolution: int, *, lat: str, lng: str,
                    weight: str | None, where: str):
    """Return a Dask delayed object computing the combined :class:`_Partial` of every partition."""
    from dask import delayed

    chunk = delayed(_aggregate_partition, pure=True)
    combine = delayed(_combine_partials, pure=True)
    parts = points.to_delayed()
    level = [chunk(part, plan, resolution, lat, lng, weight,
                   f"{where} (part {number} of {len(parts)}, rows counted within the part)")
             for number, part in enumerate(parts, start=1)]
    while len(level) > 1:
        level = [combine(level[i:i + SPLIT_EVERY]) for i in range(0, len(level), SPLIT_EVERY)]
    return level[0]


def _aggregate_partition(part: pd.DataFrame, plan: _Plan, resolution: int, lat: str, lng: str,
                         weight: str | None, where: str) -> _Partial:
    """Grid one partition and reduce it to per-cell sums and distinct pairs."""
    from . import grid

    try:
        cells = grid.points_to_cells(part[lat].to_numpy(), part[lng].to_numpy(), resolution)
    except InputDataError as error:
        # Row numbers count from the start of the partition: say which partition it is.
        problems = [replace(problem, source=where) for problem in error.problems]
        raise InputDataError(problems, where) from None
    cells = np.asarray(cells, dtype=np.uint64)
    weights = None if weight is None else part[weight].to_numpy(dtype=np.float64)
    columns = {_ROWS: np.ones(len(part), dtype=np.int64) if weights is None else weights}
    for name in plan.sum_columns:
        # Same arithmetic as the single-machine path: float64 values, times the weight if any.
        column = part[name].to_numpy(dtype=np.float64)
        columns[name] = column if weights is None else column * weights
    additive = _sum_by_cell(cells, columns)
    distinct = {
        name: pd.DataFrame({"cell": cells, "value": part[name].to_numpy()}).drop_duplicates()
        for name in plan.distinct_columns
    }
    return _Partial(additive, distinct)


def _sum_by_cell(cells: np.ndarray, columns: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Per-cell sums of each column (cells in order of first appearance); factorize + bincount."""
    codes, unique = pd.factorize(cells, sort=False)
    sums = {}
    for name, column in columns.items():
        total = np.bincount(codes, weights=column, minlength=len(unique))
        sums[name] = total.astype(np.int64) if column.dtype.kind == "i" else total
    return pd.DataFrame(sums, index=pd.Index(np.asarray(unique, dtype=np.uint64), name="cell"))


def _combine_partials(partials: list[_Partial]) -> _Partial:
    """Add the sums and take the union of the distinct pairs of several partials."""
    stacked = pd.concat([p.additive for p in partials])
    additive = _sum_by_cell(stacked.index.to_numpy(dtype=np.uint64),
                            {name: stacked[name].to_numpy() for name in stacked.columns})
    distinct = {
        name: pd.concat([p.distinct[name] for p in partials], ignore_index=True).drop_duplicates()
        for name in partials[0].distinct
    }
    return _Partial(additive, distinct)


def _finish(combined: _Partial, plan: _Plan) -> pd.DataFrame:
    """Return the cell table from the root partial: counts, sums, distinct counts per cell."""
    additive = combined.additive.sort_index()
    cells = pd.Index(additive.index.to_numpy(dtype=np.uint64), dtype=np.uint64, name="cell")
    columns: dict[str, np.ndarray] = {}
    for name, how in plan.values:
        if how == "count":
            columns[name] = additive[_ROWS].to_numpy()
        elif how == "sum":
            columns[name] = additive[name].to_numpy()
        else:
            # Missing values are not counted, as in the single-machine path.
            per_cell = combined.distinct[name].groupby("cell", sort=False)["value"].count()
            columns[name] = per_cell.reindex(cells, fill_value=0).to_numpy(dtype=np.int64)
    return pd.DataFrame(columns, index=cells)


def _like(table: pd.DataFrame, template: pd.DataFrame) -> pd.DataFrame:
    """Give ``table`` the column order, dtypes and index type of the single-machine result."""
    table = table[list(template.columns)].astype(template.dtypes.to_dict())
    table.index = pd.Index(table.index.to_numpy().astype(template.index.dtype),
                           name=template.index.name)
    return table
