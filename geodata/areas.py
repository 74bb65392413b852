"""Areas the expansion team draws or brings, as H3 cells.

Exclusion areas, chosen battlefields, the team's own candidate sites, and named districts:

- :func:`polygons_to_cell_ids`: the cells of polygons (an exclusion area, a drawn battlefield);
- :func:`read_exclusion_areas` / :func:`read_candidate_sites`: the two input files
  (``docs/data.md``), checked with one error listing every problem;
- :func:`candidate_sites_to_cells`: the H3 cell of each candidate site;
- :func:`cells_to_districts`: a district name for every cell (the nearest GeoNames place of the
  same prefecture), so battlefields can be ranked on named areas.

The results feed :class:`optimizer.decisions.SitingDecisions` (``excluded``, ``within``,
``candidates``) and :func:`optimizer.scoring.rank_battlefields` (``areas``).
"""

from __future__ import annotations

import os
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from h3ronpy import ContainmentMode
from h3ronpy import vector as h3vector

from optimizer.geometry import nearest_km

from . import grid
from ._errors import InputDataError, Problem, problem_at_rows
from ._validate import Column, Schema, register_schema, validate

Containment = Literal["centre", "overlap"]
"""``centre``: cells whose centre lies inside a polygon (a cell belongs to one side of a border).
``overlap``: every cell that touches a polygon (an exclusion that must leave no gap)."""

CANDIDATE_SITES = Schema("candidate_sites", (
    Column("site_id", "id", unique=True, required=False, description="your id of the site"),
    Column("name", "text", required=False),
    Column("note", "text", required=False),
), description="your own candidate sites (shops on offer), one row per site")

EXCLUSION_AREAS = Schema("exclusion_areas", (
    Column("name", "text", required=False, description="why the area is excluded"),
), geometry="polygon", description="areas where no new store may open")

for _schema in (CANDIDATE_SITES, EXCLUSION_AREAS):
    register_schema(_schema)


def polygons_to_cell_ids(polygons: gpd.GeoSeries | gpd.GeoDataFrame | np.ndarray,
                         resolution: int, *, cells: np.ndarray | pd.Index | None = None,
                         containment: Containment = "centre") -> np.ndarray:
    """Return the H3 cells of polygons (exclusion areas, drawn battlefields).

    Parameters
    ----------
    polygons
        Polygons in EPSG:4326 (a GeoSeries/GeoDataFrame in another CRS is reprojected).
    resolution
        H3 resolution of the layer table.
    cells
        If given (e.g. ``layers.index``), only these cells are returned.
    containment
        See :data:`Containment`.

    Returns
    -------
    numpy.ndarray
        Sorted unique ``uint64`` cells.

    Examples
    --------
    >>> square = shapely.box(114.0, 22.5, 114.05, 22.55)
    >>> len(polygons_to_cell_ids(np.array([square]), 8)) > 20
    True
    """
    resolution = grid._check_resolution(resolution)
    if isinstance(polygons, gpd.GeoDataFrame):
        polygons = polygons.geometry
    if isinstance(polygons, gpd.GeoSeries):
        if polygons.crs is not None and not polygons.crs.equals("EPSG:4326"):
            polygons = polygons.to_crs("EPSG:4326")
        polygons = polygons.to_numpy()
    geometry = np.asarray(polygons, dtype=object)
    if containment not in ("centre", "overlap"):
        raise ValueError(f"`containment` is {containment!r}; use 'centre' or 'overlap'.")
    keep = ~(shapely.is_missing(geometry) | shapely.is_empty(geometry))
    geometry = geometry[keep]
    if geometry.size == 0:
        return np.zeros(0, dtype=np.uint64)
    kinds = shapely.get_type_id(geometry)
    if not np.isin(kinds, (3, 6)).all():
        position = int(np.flatnonzero(~np.isin(kinds, (3, 6)))[0])
        raise ValueError(f"polygon {position + 1} is a {geometry[position].geom_type}, not a "
                         "polygon; draw areas as polygons.")
    mode = (ContainmentMode.ContainsCentroid if containment == "centre"
            else ContainmentMode.IntersectsBoundary)
    wkb = pa.array(shapely.to_wkb(geometry), type=pa.binary())
    lists = pa.array(h3vector.wkb_to_cells(wkb, resolution, containment_mode=mode))
    found = np.unique(grid._to_numpy_uint64(lists.flatten()))
    if cells is not None:
        found = found[np.isin(found, np.asarray(cells, dtype=np.uint64))]
    return found


def read_exclusion_areas(path: str | os.PathLike[str], *, layer: str | None = None
                         ) -> gpd.GeoDataFrame:
    """Read and check an exclusion-area file (polygons: GeoPackage, GeoJSON or GeoParquet).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "no_go.geojson"
    >>> gpd.GeoDataFrame({"name": ["airport"]}, geometry=[shapely.box(113.8, 22.6, 113.9, 22.7)],
    ...                  crs=4326).to_file(p)
    >>> read_exclusion_areas(p)["name"].tolist()
    ['airport']
    """
    from .io import read_input

    return read_input(path, "exclusion_areas", layer=layer)


def read_candidate_sites(path: str | os.PathLike[str], *, layer: str | None = None
                         ) -> pd.DataFrame:
    r"""Read and check a candidate-site file: points (``lat``/``lng`` or geometry) or ``cell`` ids.

    Returns
    -------
    pandas.DataFrame
        The checked table: a GeoDataFrame of points, or a table with a ``cell`` column (H3 cells
        as hexadecimal strings) when the file gives cells instead of coordinates.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "offers.csv"
    >>> _ = p.write_text("site_id,lat,lng\nA1,22.54,114.06\n")
    >>> len(read_candidate_sites(p))
    1
    """
    from .io import read_table

    source = os.path.basename(os.fspath(path))
    table = read_table(path, layer=layer)
    return check_candidate_sites(table, source=source)


def check_candidate_sites(table: pd.DataFrame, *, source: str = "candidate sites"
                          ) -> pd.DataFrame:
    """Check a candidate-site table (points or a ``cell`` column); raise one error listing all.

    Examples
    --------
    >>> check_candidate_sites(pd.DataFrame({"cell": ["88411ca2cdfffff"]}))["cell"].tolist()
    ['88411ca2cdfffff']
    """
    columns = {str(c).strip().lower(): c for c in table.columns}
    has_points = isinstance(table, gpd.GeoDataFrame) or (
        any(n in columns for n in ("lat", "latitude", "y")) and
        any(n in columns for n in ("lng", "lon", "long", "longitude", "x")))
    if has_points or "cell" not in columns:
        return validate(table, "candidate_sites", source=source)
    frame = table.rename(columns={columns["cell"]: "cell"}).copy()
    text = frame["cell"].astype(str).str.strip().str.lower()
    valid = text.str.fullmatch(r"[0-9a-f]{15,16}").to_numpy()
    problems: list[Problem] = []
    if not valid.all():
        rows = np.flatnonzero(~valid)
        problems.append(problem_at_rows(source, "cell", rows, frame["cell"].to_numpy()[rows],
                                        "not an H3 cell id",
                                        "give 15 hexadecimal characters such as "
                                        "'881f1d4a8bfffff', or give `lat` and `lng` instead"))
    if len(frame) == 0:
        problems.append(Problem(source, "the table has no rows",
                                "check that the right file was chosen"))
    if problems:
        raise InputDataError(problems, source)
    frame["cell"] = text.to_numpy()
    return frame


def candidate_sites_to_cells(sites: pd.DataFrame, resolution: int) -> np.ndarray:
    """Return the H3 cell of each candidate site (points, or a ``cell`` column), in order.

    Parameters
    ----------
    sites
        A table from :func:`read_candidate_sites` (or points with ``lat``/``lng``).
    resolution
        H3 resolution of the layer table; cells of another resolution are moved to it (a finer
        cell to its parent; a coarser cell is refused).

    Returns
    -------
    numpy.ndarray
        ``uint64`` cells, one per row (two sites may share a cell).

    Examples
    --------
    >>> t = pd.DataFrame({"lat": [22.54], "lng": [114.06]})
    >>> int(grid.cells_resolution(candidate_sites_to_cells(t, 8))[0])
    8
    """
    resolution = grid._check_resolution(resolution)
    if "cell" in sites.columns and not isinstance(sites, gpd.GeoDataFrame) \
            and "lat" not in sites.columns:
        cells = grid.str_to_cells(sites["cell"].astype(str).to_numpy()).copy()
        levels = grid.cells_resolution(cells)
        if (levels < resolution).any():
            row = int(np.flatnonzero(levels < resolution)[0])
            raise ValueError(f"candidate row {row + 1}: cell {sites['cell'].iloc[row]} has "
                             f"resolution {int(levels[row])}, coarser than the layers' "
                             f"{resolution}; give a point or a cell of resolution {resolution}.")
        finer = levels > resolution
        if finer.any():
            cells[finer] = grid.cells_to_parent(cells[finer], resolution)
        return cells
    if isinstance(sites, gpd.GeoDataFrame):
        points = sites.to_crs("EPSG:4326").geometry.to_numpy() if sites.crs is not None \
            else sites.geometry.to_numpy()
        lat, lng = shapely.get_y(points), shapely.get_x(points)
    else:
        lat, lng = sites["lat"].to_numpy(float), sites["lng"].to_numpy(float)
    return grid.points_to_cells(lat, lng, resolution)


def cells_to_districts(layers: pd.DataFrame, places: pd.DataFrame, *,
                       region_column: str = "region") -> pd.Series:
    """Name every cell after its district: the nearest place of the same region (prefecture).

    The demo's places are the GeoNames populated places (:func:`geodata.demo.load_places`); each
    cell goes to the nearest place in its own prefecture, so districts never cross a prefecture
    border. Cells of a region with no place take the nearest place anywhere.

    Parameters
    ----------
    layers
        The layer table (``lat``, ``lng`` and ``region_column``).
    places
        Places with ``name``, ``region`` and point geometry or ``lat``/``lng``.
    region_column
        The layer column of the prefecture.

    Returns
    -------
    pandas.Series
        ``"<region> · <place>"`` per cell (index: the layer index), e.g. ``"Guangzhou · Panyu"``;
        the label of a place named like its region is the region alone.

    Examples
    --------
    >>> t = pd.DataFrame({"lat": [22.5, 23.1], "lng": [114.0, 113.3], "region": ["A", "B"]})
    >>> p = pd.DataFrame({"name": ["x", "B"], "region": ["A", "B"], "lat": [22.4, 23.0],
    ...                   "lng": [114.0, 113.3]})
    >>> cells_to_districts(t, p).tolist()
    ['A · x', 'B']
    """
    if isinstance(places, gpd.GeoDataFrame) and "lat" not in places.columns:
        points = places.to_crs("EPSG:4326").geometry.to_numpy()
        place_lat, place_lng = shapely.get_y(points), shapely.get_x(points)
    else:
        place_lat, place_lng = places["lat"].to_numpy(float), places["lng"].to_numpy(float)
    missing = [c for c in ("name", "region") if c not in places.columns]
    if missing:
        raise ValueError(f"`places` has no column {missing}; give each place a `name` and the "
                         "`region` (prefecture) it is in.")
    names = places["name"].astype(str).to_numpy()
    place_region = places["region"].astype(str).to_numpy()
    lat, lng = layers["lat"].to_numpy(float), layers["lng"].to_numpy(float)
    cell_region = (layers[region_column].astype(str).to_numpy() if region_column in layers
                   else np.full(len(layers), "", dtype=object))
    nearest = nearest_km(lat, lng, place_lat, place_lng)[1]
    for region in np.unique(cell_region):
        own = np.flatnonzero(place_region == region)
        if own.size == 0:
            continue
        rows = np.flatnonzero(cell_region == region)
        nearest[rows] = own[nearest_km(lat[rows], lng[rows], place_lat[own],
                                                     place_lng[own])[1]]
    region_of = np.where(cell_region == "", place_region[nearest], cell_region)
    place = names[nearest]
    label = np.where(place == region_of, region_of,
                     np.char.add(np.char.add(region_of.astype(str), " · "), place.astype(str)))
    return pd.Series(label, index=layers.index, name="district", dtype=object)
