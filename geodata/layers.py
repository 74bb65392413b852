r"""The layer table: one row per H3 cell with everything scoring needs.

Columns (see ``docs/architecture.md``): ``lat``, ``lng``, ``region``, ``population``,
``footfall``, ``customers``, ``devices_sold``, ``fan_index``, ``avg_ticket``, ``poi_total``,
``poi_<category>``, ``poi_diversity``, ``competitor_count``, ``competitors_nearby``,
``competitor_distance_km``, ``own_store_count``, ``own_store_distance_km``, then any user layer.

Fan index shrinkage (gamma-Poisson empirical Bayes)
----------------------------------------------------
A cell with 1 customer and 2 residents has a raw rate of 0.5 customers per resident, far above
any real district, only because it is tiny. We model the customers of cell ``c`` in region ``r``
as ``customers_c ~ Poisson(population_c * rate_c)`` with ``rate_c ~ Gamma(a_r, b_r)`` (shape
``a_r``, rate ``b_r``). The prior mean is the regional rate ``m_r = sum(customers) /
sum(population)`` over the region and ``b_r`` is its strength in residents. The posterior mean is

.. math:: \text{fan\_index}_c = \frac{\text{customers}_c + m_r b_r}{\text{population}_c + b_r}

so cells with many residents keep their own rate and small cells are pulled to ``m_r``. ``b_r``
is estimated per region by the method of moments: the between-cell variance of the rates
``v_r = max(Var_w(customers/population) - m_r * mean(1/population), tiny)`` (population-weighted,
over populated cells) gives ``b_r = m_r / v_r``, clipped to ``[10, 1e6]`` residents; or it is set
with ``fan_prior_residents``. The average ticket is shrunk the same way toward the regional
average ticket with a prior worth ``ticket_prior_customers`` customers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimizer.errors import InputError
from optimizer.geometry import frame_to_lat_lng, nearest_km

from . import grid

Engine = Literal["local", "dask"]
FootfallInput: TypeAlias = pd.DataFrame | str | os.PathLike[str]

BASE_COLUMNS = ("lat", "lng", "region", "population", "footfall", "customers", "devices_sold",
                "fan_index", "avg_ticket", "poi_total")
"""Leading columns of every layer table; ``poi_<category>`` and the rest follow."""

DEFAULT_REACH_K = 3
"""Catchment in grid steps for ``competitors_nearby`` (k=3 at resolution 8 is about 2.6 km)."""


@dataclass(frozen=True)
class UserLayer:
    """A layer the user adds from a file or table.

    Attributes
    ----------
    name
        Output column name.
    data
        Points, polygons or lines (GeoDataFrame in any known CRS) or a path that
        :func:`geodata.io.read_table` can read.
    column
        Numeric column to aggregate (not needed for ``"count"``).
    how
        ``"sum"`` (polygons/lines: apportioned by area/length, total conserved), ``"count"``
        (number of features; polygons/lines apportioned) or ``"mean"`` (area/length-weighted for
        polygons and lines).
    """

    name: str
    data: gpd.GeoDataFrame | str | os.PathLike[str]
    column: str | None = None
    how: Literal["sum", "count", "mean"] = "sum"


def _lat_lng_or_none(frame: pd.DataFrame | None, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of an optional input (:func:`optimizer.geometry.frame_to_lat_lng`)."""
    if frame is None or len(frame) == 0:
        return np.empty(0), np.empty(0)
    return frame_to_lat_lng(frame, name)


def _cell_sums(frame: pd.DataFrame | None, name: str, resolution: int,
               values: Mapping[str, tuple[grid.Aggregation, str | None]]) -> pd.DataFrame:
    lat, lng = _lat_lng_or_none(frame, name)
    cells = grid.points_to_cells(lat, lng, resolution)
    spec = {name: (how, None if column is None or frame is None else frame[column].to_numpy())
            for name, (how, column) in values.items()}
    return grid.aggregate_cells(cells, spec)


def footfall_table(footfall: FootfallInput, resolution: int, *, engine: Engine = "local",
                   scheduler: str | Any | None = None) -> pd.Series:
    """Footfall counts summed per cell, from a table or a (partitioned) Parquet dataset.

    Parameters
    ----------
    footfall
        (Geo)DataFrame with ``count`` and ``lat``/``lng`` (or point geometry), or a path to a
        Parquet file or folder with ``lat``, ``lng``, ``count`` columns.
    resolution
        H3 resolution.
    engine
        ``"local"`` (pandas/numpy in this process) or ``"dask"`` (:mod:`geodata.distributed`).
    scheduler
        Dask scheduler address, or an open ``distributed.Client`` (``None``: a local cluster
        started by the dask engine for this call).

    Returns
    -------
    pandas.Series
        ``footfall`` indexed by ``cell`` (sorted).

    Examples
    --------
    >>> ff = pd.DataFrame({"lat": [22.54, 22.54], "lng": [114.06, 114.06], "count": [2, 3]})
    >>> footfall_table(ff, 8).tolist()
    [5.0]
    """
    values: dict[str, grid.Aggregation] = {"count": "sum"}
    source: Any = footfall
    if isinstance(footfall, pd.DataFrame) and not {"lat", "lng"} <= set(footfall.columns):
        lat, lng = frame_to_lat_lng(footfall, "footfall")
        source = pd.DataFrame({"lat": lat, "lng": lng,
                               "count": footfall["count"].to_numpy(dtype=np.float64)})
    if engine == "dask":
        from .distributed import points_to_cell_table_dask

        if isinstance(source, pd.DataFrame):
            import dask.dataframe as dd

            frame = pd.DataFrame(source[["lat", "lng", "count"]]).reset_index(drop=True)
            source = dd.from_pandas(frame, npartitions=1 + len(frame) // 2_000_000)
        table = points_to_cell_table_dask(source, resolution, values, scheduler=scheduler)
    elif engine == "local":
        if not isinstance(source, pd.DataFrame):
            from .io import read_footfall_points

            source = read_footfall_points(source)
        table = grid.points_to_cell_table(source, resolution, values)
    else:
        raise InputError(f"`engine` must be 'local' or 'dask', got {engine!r}.")
    return table["count"].astype(np.float64).rename("footfall")


def shrink_rate(events: np.ndarray, exposure: np.ndarray, group: np.ndarray, *,
                prior_strength: float | None = None) -> np.ndarray:
    """Gamma-Poisson empirical-Bayes rate ``(events + m_g b_g) / (exposure + b_g)`` per row.

    Parameters
    ----------
    events
        Counts (e.g. customers) per row.
    exposure
        Exposure (e.g. residents) per row.
    group
        Group label per row (e.g. region); each group has its own prior mean ``m_g``.
    prior_strength
        Prior weight ``b_g`` in units of exposure; ``None`` estimates it per group by the
        method of moments (see the module docstring).

    Examples
    --------
    >>> r = shrink_rate(np.array([1.0, 500.0]), np.array([2.0, 10_000.0]), np.array(["a", "a"]),
    ...                 prior_strength=1000.0)
    >>> bool(r[0] < 0.06)
    True
    """
    events = np.asarray(events, dtype=np.float64)
    exposure = np.asarray(exposure, dtype=np.float64)
    codes, _ = pd.factorize(pd.Series(group))
    n_groups = int(codes.max(initial=-1)) + 1
    total_events = np.bincount(codes, weights=events, minlength=n_groups)
    total_exposure = np.bincount(codes, weights=exposure, minlength=n_groups)
    mean = np.divide(total_events, total_exposure, out=np.zeros(n_groups),
                     where=total_exposure > 0)
    if prior_strength is None:
        populated = exposure > 0
        rate = np.divide(events, exposure, out=np.zeros_like(events), where=populated)
        w = np.where(populated, exposure, 0.0)
        w_sum = np.bincount(codes, weights=w, minlength=n_groups)
        deviation = (rate - mean[codes]) ** 2
        between = np.divide(np.bincount(codes, weights=w * deviation, minlength=n_groups),
                            w_sum, out=np.zeros(n_groups), where=w_sum > 0)
        n_populated = np.bincount(codes, weights=populated.astype(float), minlength=n_groups)
        inverse = np.divide(np.bincount(codes, weights=np.where(populated, 1 / np.where(
            populated, exposure, 1.0), 0.0), minlength=n_groups), n_populated,
            out=np.zeros(n_groups), where=n_populated > 0)
        variance = np.maximum(between - mean * inverse, 1e-12)
        strength = np.clip(np.divide(mean, variance, out=np.full(n_groups, 10.0),
                                     where=variance > 0), 10.0, 1e6)
    else:
        strength = np.full(n_groups, float(prior_strength))
    b = strength[codes]
    return (events + mean[codes] * b) / (exposure + b)


def _poi_columns(pois: pd.DataFrame | None, resolution: int) -> pd.DataFrame:
    lat, lng = _lat_lng_or_none(pois, "pois")
    cells = grid.points_to_cells(lat, lng, resolution)
    if cells.size == 0:
        return pd.DataFrame({"poi_total": [], "poi_diversity": []},
                            index=pd.Index([], dtype=np.uint64, name="cell"))
    assert pois is not None  # cells.size > 0
    category = pd.Categorical(pois["category"].astype(str))
    unique, codes = grid._group_codes(cells)
    n_categories = len(category.categories)
    counts = np.bincount(codes * n_categories + category.codes,
                         minlength=unique.size * n_categories).reshape(unique.size, n_categories)
    total = counts.sum(axis=1)
    share = counts / total[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(counts > 0, share * np.log(share), 0.0), axis=1)
    columns = {f"poi_{name}": counts[:, i].astype(np.int64)
               for i, name in enumerate(category.categories)}
    frame = pd.DataFrame({"poi_total": total.astype(np.int64), **columns},
                         index=pd.Index(unique, dtype=np.uint64, name="cell"))
    frame["poi_diversity"] = entropy
    return frame


def _place_columns(cells: np.ndarray, places: pd.DataFrame | None, resolution: int,
                   reach_k: int, prefix: str) -> pd.DataFrame:
    """``<prefix>_count``, ``<prefix>s_nearby`` and ``<prefix>_distance_km`` for the cells."""
    lat, lng = _lat_lng_or_none(places, prefix + "s")
    place_cells = grid.points_to_cells(lat, lng, resolution)
    per_cell = grid.aggregate_cells(place_cells, {"n": ("count", None)})["n"]
    count = per_cell.reindex(cells, fill_value=0).to_numpy()
    matrix = grid.disk_matrix(cells, per_cell.index.to_numpy(), reach_k)
    nearby = matrix @ per_cell.to_numpy(dtype=np.float64)
    centre_lat, centre_lng = grid.cells_to_latlng(cells)
    distance, _ = nearest_km(centre_lat, centre_lng, lat, lng)
    return pd.DataFrame({f"{prefix}_count": count.astype(np.int64),
                         f"{prefix}s_nearby": nearby.astype(np.int64),
                         f"{prefix}_distance_km": distance},
                        index=pd.Index(cells, dtype=np.uint64, name="cell"))


def _population(population: pd.DataFrame | None, resolution: int) -> pd.Series:
    empty = pd.Series([], index=pd.Index([], dtype=np.uint64, name="cell"), dtype=np.float64)
    if population is None or len(population) == 0:
        return empty
    values = population["population"].to_numpy(dtype=np.float64)
    if isinstance(population, gpd.GeoDataFrame):
        geometry = population.to_crs("EPSG:4326").geometry.to_numpy() \
            if population.crs is not None and not population.crs.equals("EPSG:4326") \
            else population.geometry.to_numpy()
        areal = shapely.get_type_id(geometry) != 0
        parts = []
        if areal.any():
            parts.append(grid.polygons_to_cells(geometry[areal], values[areal], resolution))
        if (~areal).any():
            point_cells = grid.points_to_cells(shapely.get_y(geometry[~areal]),
                                               shapely.get_x(geometry[~areal]), resolution)
            parts.append(grid.aggregate_cells(point_cells,
                                              {"value": ("sum", values[~areal])})["value"])
        combined = pd.concat(parts)
        return combined.groupby(level=0).sum()
    cells = grid.points_to_cells(*_lat_lng_or_none(population, "population"), resolution)
    return grid.aggregate_cells(cells, {"value": ("sum", values)})["value"]


def _regions(cells: np.ndarray, regions: gpd.GeoDataFrame | None) -> np.ndarray:
    if regions is None or len(regions) == 0:
        return np.full(cells.size, "all", dtype=object)
    lat, lng = grid.cells_to_latlng(cells)
    geometry = regions.to_crs("EPSG:4326").geometry.to_numpy() if regions.crs is not None \
        else regions.geometry.to_numpy()
    names = regions["region"].astype(str).to_numpy()
    if (shapely.get_type_id(geometry) == 0).all():
        _, nearest = nearest_km(lat, lng, shapely.get_y(geometry), shapely.get_x(geometry))
        return names[nearest]
    centres = shapely.points(lng, lat)
    tree = shapely.STRtree(geometry)
    point_position, region_position = tree.query(centres, predicate="within")
    result = np.full(cells.size, "other", dtype=object)
    result[point_position[::-1]] = names[region_position[::-1]]
    return result


def _user_layer(layer: UserLayer, resolution: int) -> pd.Series:
    import difflib

    from ._errors import InputDataError, Problem, problem_at_rows

    data = layer.data
    source = f"layer `{layer.name}`"
    if not isinstance(data, pd.DataFrame):
        from .io import read_table

        source = f"{Path(data).name} (layer `{layer.name}`)"
        data = read_table(data)
    problems = []
    if layer.how != "count" and (layer.column is None or layer.column not in data.columns):
        columns = [str(c) for c in data.columns if c != "geometry"]
        near = difflib.get_close_matches(str(layer.column), columns, n=1)
        fix = f"did you mean `{near[0]}`?" if near else f"name one of the columns {columns}"
        problems.append(Problem(source, f"column {layer.column!r} not found for a "
                                        f"'{layer.how}' layer", fix, column=layer.column))
    elif layer.how != "count":
        missing = pd.to_numeric(data[layer.column], errors="coerce").isna().to_numpy()
        if missing.any():
            problems.append(problem_at_rows(source, layer.column, np.flatnonzero(missing), None,
                                            "value is missing or not a number",
                                            "fill in a number or drop the row"))
    if isinstance(data, gpd.GeoDataFrame) and data.crs is None:
        problems.append(Problem(source, "the geometry has no coordinate reference system (CRS)",
                                "save the file with its CRS so it can be reprojected"))
    if not isinstance(data, gpd.GeoDataFrame) and not {"lat", "lng"} <= set(data.columns):
        problems.append(Problem(source, "no locations found",
                                "give the table `lat` and `lng` columns or geometries"))
    if problems:
        raise InputDataError(problems, source)
    if not isinstance(data, gpd.GeoDataFrame):
        lat, lng = data["lat"].to_numpy(float), data["lng"].to_numpy(float)
        geometry = shapely.points(lng, lat)
    else:
        geometry = data.to_crs("EPSG:4326").geometry.to_numpy()
    values = (np.ones(len(data)) if layer.how == "count"
              else pd.to_numeric(data[layer.column]).to_numpy(dtype=np.float64))
    points = shapely.get_type_id(geometry) == 0
    if points.all():
        cells = grid.points_to_cells(shapely.get_y(geometry), shapely.get_x(geometry), resolution)
        how: grid.Aggregation = "count" if layer.how == "count" else "sum"
        table = grid.aggregate_cells(cells, {"value": (how, values), "n": ("count", None)})
        result = table["value"] / table["n"] if layer.how == "mean" else table["value"]
        return result.astype(np.float64).rename(layer.name)
    lines = np.isin(shapely.get_type_id(geometry), (1, 2, 5))
    apportion = grid.lines_to_cells if lines.all() else grid.polygons_to_cells
    if layer.how == "mean":
        size = (grid.line_length_km(geometry) if lines.all()
                else shapely.area(geometry) + 1e-18)
        total = apportion(geometry, values * size, resolution)
        weight = apportion(geometry, size, resolution)
        return (total / weight).rename(layer.name)
    return apportion(geometry, values, resolution).rename(layer.name)


def build_layers(source: object | None = None, /, *, footfall: FootfallInput | None = None,
                 pois: pd.DataFrame | None = None,
                 customers: pd.DataFrame | None = None, population: pd.DataFrame | None = None,
                 competitors: pd.DataFrame | None = None, stores: pd.DataFrame | None = None,
                 regions: gpd.GeoDataFrame | None = None, cells: np.ndarray | None = None,
                 resolution: int = 8, reach_k: int = DEFAULT_REACH_K,
                 fan_prior_residents: float | None = None, ticket_prior_customers: float = 5.0,
                 user_layers: Sequence[UserLayer] = (), engine: Engine = "local",
                 scheduler: str | Any | None = None) -> pd.DataFrame:
    """Build the layer table: one row per H3 cell of the region.

    Parameters
    ----------
    source
        Optional object with the inputs as attributes (e.g. a
        :class:`~geodata.demo.DemoRegion`): its ``footfall``, ``pois``, ``customers``,
        ``population``, ``competitors``, ``stores`` and ``places`` (as ``regions``) are used for
        every input not passed explicitly.
    footfall
        Footfall points with ``count`` ((Geo)DataFrame, or a path to a Parquet file or folder
        with ``lat``, ``lng``, ``count``).
    pois
        POIs with ``category``.
    customers
        Own customers where they live, optional ``devices`` and ``ticket`` columns.
    population
        Residents: census polygons (apportioned by area) or points, column ``population``.
    competitors, stores
        Competitor and own stores (points).
    regions
        Region names (column ``region``): polygons (a cell takes the region its centre is in)
        or points (a cell takes the nearest). ``None``: every cell is in region ``"all"``.
    cells
        Extra cells to include; the table holds these plus every cell with any data.
    resolution
        H3 resolution (8 is about 0.74 km2 per cell).
    reach_k
        Catchment in grid steps for ``competitors_nearby`` / ``own_stores_nearby``.
    fan_prior_residents
        Prior strength of the fan-index shrinkage in residents; ``None`` estimates it.
    ticket_prior_customers
        Prior strength of the average-ticket shrinkage in customers.
    user_layers
        Extra columns from the user's files.
    engine, scheduler
        How footfall is gridded: ``"local"`` or ``"dask"`` (see :func:`footfall_table`).
        Everything else is the same for both engines, so both give identical tables.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``cell`` (uint64, ascending), columns as listed in the module docstring.

    Examples
    --------
    >>> import pandas as pd
    >>> ff = pd.DataFrame({"lat": [22.54, 22.55], "lng": [114.06, 114.07], "count": [10, 5]})
    >>> table = build_layers(footfall=ff)
    >>> float(table["footfall"].sum())
    15.0
    """
    resolution = grid._check_resolution(resolution)
    if source is not None:
        footfall = getattr(source, "footfall", None) if footfall is None else footfall
        pois = getattr(source, "pois", None) if pois is None else pois
        customers = getattr(source, "customers", None) if customers is None else customers
        population = getattr(source, "population", None) if population is None else population
        competitors = getattr(source, "competitors", None) if competitors is None else competitors
        stores = getattr(source, "stores", None) if stores is None else stores
        regions = getattr(source, "places", None) if regions is None else regions
    parts: dict[str, pd.Series | pd.DataFrame] = {}
    if footfall is not None:
        parts["footfall"] = footfall_table(footfall, resolution, engine=engine,
                                           scheduler=scheduler)
    parts["population"] = _population(population, resolution).rename("population")
    customer_values: dict[str, tuple[grid.Aggregation, str | None]] = {"customers": ("count", None)}
    if customers is not None and "devices" in customers.columns:
        customer_values["devices_sold"] = ("sum", "devices")
    if customers is not None and "ticket" in customers.columns:
        customer_values["ticket_total"] = ("sum", "ticket")
    parts["customers"] = _cell_sums(customers, "customers", resolution, customer_values)
    parts["pois"] = _poi_columns(pois, resolution)
    for name, frame in (("competitors", competitors), ("stores", stores)):
        lat, lng = _lat_lng_or_none(frame, name)
        parts[name] = pd.Series(0, index=pd.Index(grid.points_to_cells(lat, lng, resolution),
                                                  dtype=np.uint64))
    extra = [_user_layer(layer, resolution) for layer in user_layers]

    all_cells = [np.asarray(p.index.to_numpy(), dtype=np.uint64) for p in parts.values()]
    all_cells += [np.asarray(s.index.to_numpy(), dtype=np.uint64) for s in extra]
    if cells is not None:
        all_cells.append(np.asarray(cells, dtype=np.uint64))
    region_cells = np.unique(np.concatenate(all_cells)) if all_cells else np.empty(0, np.uint64)
    index = pd.Index(region_cells, dtype=np.uint64, name="cell")

    lat, lng = grid.cells_to_latlng(region_cells)
    table = pd.DataFrame({"lat": lat, "lng": lng, "region": _regions(region_cells, regions)},
                         index=index)
    table["population"] = parts["population"].reindex(index, fill_value=0.0).astype(float)
    table["footfall"] = (parts["footfall"].reindex(index, fill_value=0.0)
                         if "footfall" in parts else 0.0)
    customer_table = parts["customers"].reindex(index, fill_value=0)
    table["customers"] = customer_table["customers"].astype(np.int64)
    table["devices_sold"] = (customer_table["devices_sold"].astype(float)
                             if "devices_sold" in customer_table else table["customers"] * 1.0)
    table["fan_index"] = shrink_rate(table["customers"].to_numpy(float),
                                     table["population"].to_numpy(), table["region"].to_numpy(),
                                     prior_strength=fan_prior_residents)
    if "ticket_total" in customer_table:
        table["avg_ticket"] = shrink_rate(customer_table["ticket_total"].to_numpy(float),
                                          table["customers"].to_numpy(float),
                                          table["region"].to_numpy(),
                                          prior_strength=ticket_prior_customers)
    else:
        table["avg_ticket"] = np.nan
    poi = parts["pois"].reindex(index, fill_value=0)
    poi_categories = sorted(c for c in poi.columns if c not in ("poi_total", "poi_diversity"))
    table["poi_total"] = poi["poi_total"].astype(np.int64)
    for column in poi_categories:
        table[column] = poi[column].astype(np.int64)
    table["poi_diversity"] = poi["poi_diversity"].astype(float)
    competitor = _place_columns(region_cells, competitors, resolution, reach_k, "competitor")
    own = _place_columns(region_cells, stores, resolution, reach_k, "own_store")
    table = table.join(competitor).join(own.drop(columns="own_stores_nearby"))
    for series in extra:
        table[series.name] = series.reindex(index, fill_value=0.0).to_numpy()
    return table


def layers_to_geodataframe(table: pd.DataFrame) -> gpd.GeoDataFrame:
    """Return the layer table with cell hexagons as geometry (EPSG:4326) and a ``cell`` column.

    Examples
    --------
    >>> t = build_layers(footfall=pd.DataFrame({"lat": [22.5], "lng": [114.0], "count": [1]}))
    >>> layers_to_geodataframe(t).geom_type.tolist()
    ['Polygon']
    """
    frame = grid.cells_to_geodataframe(table.index.to_numpy(), table)
    return frame.reset_index()


def save_layers(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the layer table as GeoParquet (cell hexagons as geometry).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> t = build_layers(footfall=pd.DataFrame({"lat": [22.5], "lng": [114.0], "count": [1]}))
    >>> p = save_layers(t, pathlib.Path(tempfile.mkdtemp()) / "layers.parquet")
    >>> load_layers(p).equals(t)
    True
    """
    path = Path(path)
    layers_to_geodataframe(table).to_parquet(path, index=False)
    return path


def load_layers(path: str | os.PathLike[str], *, with_geometry: bool = False) -> pd.DataFrame:
    """Read a layer table written by :func:`save_layers` (indexed by ``cell`` again).

    With ``with_geometry=True`` the cell hexagons come back as a GeoDataFrame. See
    :func:`save_layers` for an example.
    """
    frame = gpd.read_parquet(path)
    frame["cell"] = frame["cell"].astype(np.uint64)
    frame = frame.set_index("cell")
    if with_geometry:
        return frame
    return pd.DataFrame(frame.drop(columns=frame.geometry.name))
