"""Input schemas and the checks that collect every problem of one input into one error.

Each input kind (stores, competitors, pois, footfall, customers, population, warehouses, skus,
stock, sales, repair_shops, lanes) declares its columns in a :class:`Schema`. :func:`validate`
runs every check on a table, gathers all problems (missing or misspelt columns, missing values,
non-numbers, out-of-range and negative values, duplicate ids, missing/unknown CRS, invalid or
empty geometries, coordinates out of range or swapped) and raises a single
:class:`~geodata._errors.InputDataError` listing them all. Other parts of Xingtu register their own
kinds with :func:`register_schema` and validate through the same function.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import InputDataError, Problem, problem_at_rows, warn_input

ColumnType = Literal["id", "text", "number", "integer", "date"]
GeometryKind = Literal["point", "polygon", "line", "any"]

LAT_NAMES = ("lat", "latitude", "y", "纬度")
LNG_NAMES = ("lng", "lon", "long", "longitude", "x", "经度")


@dataclass(frozen=True)
class Column:
    """One column of an input kind.

    Attributes
    ----------
    name
        Column name as it must appear in the file.
    type
        ``"id"`` and ``"text"`` (any non-empty value), ``"number"``, ``"integer"`` or ``"date"``.
    required
        Whether the file must have this column.
    minimum, maximum
        Allowed range for numbers (inclusive).
    unique
        Whether values must not repeat (ids).
    outlier_factor
        Values above this many times the column's median (of positive values) are accepted with
        an :class:`~optimizer.errors.InputWarning` naming the rows (a slipped digit, or a real
        extreme the user should confirm).
    choices
        Allowed values for a text column.
    description
        What the column holds, shown in messages.
    """

    name: str
    type: ColumnType = "number"
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    unique: bool = False
    choices: tuple[str, ...] | None = None
    description: str = ""
    outlier_factor: float | None = None


@dataclass(frozen=True)
class Schema:
    """The columns and geometry one input kind must have.

    Attributes
    ----------
    kind
        Name of the kind (``"stores"``, ...), used by ``read_<kind>``.
    columns
        The declared columns.
    geometry
        Geometry the rows must carry, or ``None`` for a plain table. Point kinds also accept a
        CSV with latitude/longitude columns.
    unique_together
        Column groups whose combination must not repeat (e.g. ``("location_id", "sku")``).
    description
        One line on what the input is.
    """

    kind: str
    columns: tuple[Column, ...]
    geometry: GeometryKind | None = "point"
    unique_together: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    description: str = ""

    @property
    def required(self) -> list[str]:
        """Names of the required columns."""
        return [c.name for c in self.columns if c.required]


def _count(name: str, description: str, required: bool = True) -> Column:
    return Column(name, "number", required=required, minimum=0, description=description)


def _units(name: str, description: str, required: bool = True) -> Column:
    return Column(name, "integer", required=required, minimum=0, description=description)


_POINT_ID = "one row per {}; ids must be unique"
SCHEMAS: dict[str, Schema] = {}


def register_schema(schema: Schema) -> None:
    """Add (or replace) the schema of an input kind so :func:`validate` can check it.

    Examples
    --------
    >>> register_schema(Schema("depots", (Column("depot_id", "id", unique=True),)))
    >>> "depots" in SCHEMAS
    True
    """
    SCHEMAS[schema.kind] = schema


for _schema in (
    Schema("stores", (
        Column("store_id", "id", unique=True, description="store id"),
        Column("name", "text", required=False),
        Column("region", "text", required=False),
        Column("channel", "text", required=False,
               choices=("own_store", "small_store", "key_account")),
        Column("floor_area_m2", minimum=0, required=False),
        _count("annual_sales", "annual sales in CNY", required=False),
    ), description="own stores, " + _POINT_ID.format("store")),
    Schema("competitors", (
        Column("competitor_id", "id", unique=True),
        Column("brand", "text", required=False),
        Column("floor_area_m2", minimum=0, required=False),
    ), description="competitor stores"),
    Schema("pois", (
        Column("poi_id", "id", unique=True, required=False),
        Column("category", "text"),
    ), description="points of interest by category"),
    Schema("footfall", (Column("count", minimum=0, description="people counted at the point",
                               outlier_factor=1000.0),),
           description="footfall counts at points"),
    Schema("customers", (
        Column("customer_id", "id", unique=True, required=False),
        _count("devices", "devices bought", required=False),
        _count("ticket", "average ticket in CNY", required=False),
    ), description="own customers where they live"),
    Schema("population", (_count("population", "residents"),), geometry="any",
           description="census areas (polygons) or populated places (points) with residents"),
    Schema("warehouses", (
        Column("warehouse_id", "id", unique=True),
        Column("name", "text", required=False),
        Column("region", "text", required=False),
        _count("daily_throughput", "items per day"),
        Column("service_radius_km", minimum=0, description="service radius in km"),
    ), description="warehouses"),
    Schema("skus", (
        Column("sku", "id", unique=True),
        Column("name", "text", required=False),
        Column("category", "text"),
        _count("unit_cost", "unit cost in CNY"),
        Column("margin", minimum=0, maximum=1, required=False,
               description="gross margin as a fraction of the price"),
        Column("volume_l", minimum=0, required=False),
        Column("case_size", "integer", minimum=1, required=False),
    ), geometry=None, description="the SKU catalogue"),
    Schema("stock", (
        Column("location_id", "id"),
        Column("sku", "id"),
        _units("on_hand", "units on hand"),
        _units("in_transit", "units in transit", required=False),
    ), geometry=None, unique_together=(("location_id", "sku"),),
        description="stock per store or warehouse and SKU"),
    Schema("sales", (
        Column("date", "date"),
        Column("store_id", "id"),
        Column("sku", "id"),
        _units("units", "units sold"),
    ), geometry=None, unique_together=(("date", "store_id", "sku"),),
        description="sales per day (or week), store and SKU"),
    Schema("repair_shops", (
        Column("shop_id", "id", unique=True),
        Column("name", "text", required=False),
        Column("rating", minimum=1, maximum=5, description="credit rating from 1 to 5"),
    ), description="repair shops with their rating"),
    Schema("lanes", (
        Column("origin", "id"),
        Column("destination", "id"),
        _count("cost_per_unit", "transport cost per unit in CNY"),
        _count("distance_km", "road distance in km", required=False),
        _count("lead_time_days", "days from dispatch to arrival", required=False),
        _count("capacity", "units per week", required=False),
    ), geometry=None, unique_together=(("origin", "destination"),),
        description="transport lanes between locations"),
):
    register_schema(_schema)


def schema_of(kind: str) -> Schema:
    """Return the schema of an input kind; an unknown kind lists the known ones.

    Examples
    --------
    >>> schema_of("stores").required
    ['store_id']
    """
    if kind not in SCHEMAS:
        near = difflib.get_close_matches(kind, list(SCHEMAS), n=1)
        hint = f" Did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"unknown input kind {kind!r}.{hint} Known kinds: "
                         f"{', '.join(sorted(SCHEMAS))}.")
    return SCHEMAS[kind]


def _find_coordinate_column(columns: Sequence[str], names: Sequence[str]) -> str | None:
    lowered = {str(c).strip().lower(): c for c in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def _near(name: str, candidates: Sequence[str]) -> str | None:
    lowered = {str(c).lower(): str(c) for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def validate(frame: pd.DataFrame, kind: str, *, source: str = "input") -> pd.DataFrame:
    """Check a table against the schema of ``kind``; raise one error listing every problem.

    Point kinds given as a plain table with latitude/longitude columns (``lat``/``lng``,
    ``latitude``/``longitude``, ``lon``, ...) get point geometries (WGS84). A GeoDataFrame in
    another known CRS is reprojected to EPSG:4326; one with no CRS is refused.

    Parameters
    ----------
    frame
        The table as read.
    kind
        Input kind, a key of :data:`SCHEMAS`.
    source
        File or table name used in messages.

    Returns
    -------
    pandas.DataFrame
        The checked table: a GeoDataFrame in EPSG:4326 for kinds with geometry, with required
        numeric columns converted to numbers and ``date`` columns to datetimes.

    Raises
    ------
    InputDataError
        Listing every problem found, each with file, column, rows, value and the fix.

    Examples
    --------
    >>> import pandas as pd
    >>> ok = validate(pd.DataFrame({"count": [3], "lat": [22.5], "lng": [114.0]}), "footfall")
    >>> ok.crs.to_epsg()
    4326
    """
    schema = schema_of(kind)
    problems: list[Problem] = []
    frame = frame.copy()
    frame.columns = [str(c).strip() if isinstance(c, str) else c for c in frame.columns]

    if schema.geometry is not None:
        frame = _check_geometry(frame, schema, source, problems)
    problems += _check_columns(frame, schema, source)
    problems += _check_values(frame, schema, source)
    if problems:
        raise InputDataError(problems, source)
    _warn_extremes(frame, schema, source)
    return frame


def _warn_extremes(frame: pd.DataFrame, schema: Schema, source: str) -> None:
    for column in schema.columns:
        if column.outlier_factor is None or column.name not in frame.columns:
            continue
        values = frame[column.name].to_numpy(dtype=np.float64)
        positive = values[values > 0]
        if positive.size == 0:
            continue
        limit = column.outlier_factor * max(float(np.median(positive)), 1.0)
        rows = np.flatnonzero(values > limit)
        if rows.size:
            more = f" and {rows.size - 1} more rows" if rows.size > 1 else ""
            warn_input(f"{source}, column `{column.name}`, row {rows[0] + 1}{more}: "
                       f"{values[rows[0]]:,.0f} is more than {column.outlier_factor:g} times "
                       f"the column's median ({limit / column.outlier_factor:,.0f}); kept as it "
                       "is. Check it if it is not a real extreme.", stacklevel=2)


def _check_columns(frame: pd.DataFrame, schema: Schema, source: str) -> list[Problem]:
    problems = []
    present = [str(c) for c in frame.columns]
    declared = {c.name for c in schema.columns}
    spare = [c for c in present if c not in declared and c != "geometry"]
    for column in schema.columns:
        if not column.required or column.name in frame.columns:
            continue
        near = _near(column.name, spare)
        what = f" ({column.description})" if column.description else ""
        if near:
            fix = f"rename column `{near}` to `{column.name}` (it looks misspelt)"
        else:
            fix = f"add a `{column.name}` column{what}; the file has columns {present}"
        problems.append(Problem(source, f"required column `{column.name}` is missing", fix,
                                column=column.name))
    if len(frame) == 0:
        problems.append(Problem(source, f"the table has no rows ({schema.description})",
                                "check that the right file was chosen and that it has data"))
    return problems


def _check_values(frame: pd.DataFrame, schema: Schema, source: str) -> list[Problem]:
    problems: list[Problem] = []
    for column in schema.columns:
        if column.name not in frame.columns:
            continue
        raw = frame[column.name]
        if column.type in ("number", "integer"):
            values = pd.to_numeric(raw, errors="coerce")
            not_number = values.isna().to_numpy() & raw.notna().to_numpy()
            if not_number.any():
                rows = np.flatnonzero(not_number)
                problems.append(problem_at_rows(
                    source, column.name, rows, raw.to_numpy()[rows], "value is not a number",
                    "write plain numbers (no units or thousands separators)"))
            infinite = np.isinf(values.to_numpy(dtype=np.float64))
            if infinite.any():
                rows = np.flatnonzero(infinite)
                problems.append(problem_at_rows(
                    source, column.name, rows, raw.to_numpy()[rows], "value is infinite",
                    "write a finite number (an empty cell where the column is optional)"))
                values = values.where(~infinite)
            frame[column.name] = values
        elif column.type == "date":
            values = pd.to_datetime(raw, errors="coerce")
            bad = values.isna().to_numpy() & raw.notna().to_numpy()
            if bad.any():
                rows = np.flatnonzero(bad)
                problems.append(problem_at_rows(source, column.name, rows, raw.to_numpy()[rows],
                                                "value is not a date",
                                                "write dates as YYYY-MM-DD"))
            frame[column.name] = values
        else:
            values = raw
            blank = raw.astype("string").str.strip().eq("").fillna(False).to_numpy()
            if blank.any():
                rows = np.flatnonzero(blank)
                problems.append(problem_at_rows(source, column.name, rows, None,
                                                "value is blank", "fill in the value"))
        missing = raw.isna().to_numpy()
        if column.required and missing.any():
            rows = np.flatnonzero(missing)
            problems.append(problem_at_rows(
                source, column.name, rows, None, "value is missing",
                "fill in the value or drop the row"))
        if column.type in ("number", "integer"):
            numbers = values.to_numpy(dtype=np.float64)
            finite = np.isfinite(numbers)
            if column.minimum is not None:
                low = finite & (numbers < column.minimum)
                if low.any():
                    rows = np.flatnonzero(low)
                    word = "negative" if column.minimum == 0 else f"below {column.minimum:g}"
                    problems.append(problem_at_rows(
                        source, column.name, rows, numbers[rows], f"value is {word}",
                        f"`{column.name}` must be at least {column.minimum:g}"))
            if column.maximum is not None:
                high = finite & (numbers > column.maximum)
                if high.any():
                    rows = np.flatnonzero(high)
                    problems.append(problem_at_rows(
                        source, column.name, rows, numbers[rows],
                        f"value is above {column.maximum:g}",
                        f"`{column.name}` must be at most {column.maximum:g}"))
            if column.type == "integer":
                fractional = finite & (np.floor(numbers) != numbers)
                if fractional.any():
                    rows = np.flatnonzero(fractional)
                    problems.append(problem_at_rows(source, column.name, rows, numbers[rows],
                                                    "value is not a whole number",
                                                    "use whole numbers"))
        if column.choices is not None:
            outside = raw.notna().to_numpy() & ~raw.isin(column.choices).to_numpy()
            if outside.any():
                rows = np.flatnonzero(outside)
                problems.append(problem_at_rows(
                    source, column.name, rows, raw.to_numpy()[rows], "value is not allowed",
                    f"use one of {', '.join(column.choices)}"))
        if column.unique:
            duplicated = raw.duplicated(keep=False).to_numpy() & raw.notna().to_numpy()
            if duplicated.any():
                rows = np.flatnonzero(duplicated)
                problems.append(problem_at_rows(
                    source, column.name, rows, raw.to_numpy()[rows], "id appears more than once",
                    f"give every row its own `{column.name}` or remove the repeated rows"))
    for group in schema.unique_together:
        if all(c in frame.columns for c in group):
            duplicated = frame.duplicated(list(group), keep=False).to_numpy()
            if duplicated.any():
                rows = np.flatnonzero(duplicated)
                first = tuple(frame[list(group)].iloc[rows[0]].tolist())
                problems.append(problem_at_rows(
                    source, ", ".join(group), rows, [first],
                    "the same combination appears more than once",
                    "add the rows up into one, or remove the repeated rows"))
    return problems


def _check_geometry(frame: pd.DataFrame, schema: Schema, source: str,
                    problems: list[Problem]) -> pd.DataFrame:
    """Give the table WGS84 geometry (from lat/lng or by reprojecting) and check it."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        frame = _points_from_coordinates(frame, schema, source, problems)
        if frame is None:
            return pd.DataFrame()
        return frame
    if frame.crs is None:
        problems.append(Problem(
            source, "the geometry has no coordinate reference system (CRS)",
            "save the file with its CRS (e.g. EPSG:4326 for longitude/latitude, or the local "
            "projection it was drawn in) so it can be reprojected"))
        return frame
    crs_problem = _implausible_crs(frame, source)
    if crs_problem is not None:
        problems.append(crs_problem)
        return frame
    if not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    geometry = frame.geometry.to_numpy()
    missing = shapely.is_missing(geometry) | shapely.is_empty(geometry)
    if missing.any():
        rows = np.flatnonzero(missing)
        problems.append(problem_at_rows(source, "geometry", rows, None, "geometry is empty",
                                        "draw the feature or drop the row"))
    invalid = ~missing & ~shapely.is_valid(geometry)
    if invalid.any():
        rows = np.flatnonzero(invalid)
        reason = shapely.is_valid_reason(geometry[rows[0]])
        problems.append(problem_at_rows(
            source, "geometry", rows, [reason], "geometry is invalid",
            "repair it (e.g. `shapely.make_valid` or QGIS 'Fix geometries')"))
    present = ~missing
    types = shapely.get_type_id(geometry)
    wanted = {"point": (0, 4), "line": (1, 2, 5), "polygon": (3, 6), "any": tuple(range(8))}
    wrong = present & ~np.isin(types, wanted[schema.geometry or "any"])
    if wrong.any():
        rows = np.flatnonzero(wrong)
        problems.append(problem_at_rows(
            source, "geometry", rows, geometry[rows[0]].geom_type,
            f"geometry is not a {schema.geometry}",
            f"{schema.kind} need {schema.geometry} geometries"))
    if schema.geometry == "point" and present.any():
        points = present & (types == 0)
        x, y = np.zeros(len(geometry)), np.zeros(len(geometry))
        x[points], y[points] = shapely.get_x(geometry[points]), shapely.get_y(geometry[points])
        _check_ranges(y, x, source, "geometry", "geometry", problems)
    else:
        bounds = shapely.bounds(geometry)
        bad = present & ((np.abs(bounds[:, [1, 3]]) > 90).any(axis=1)
                         | (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1))
        if bad.any():
            rows = np.flatnonzero(bad)
            problems.append(problem_at_rows(
                source, "geometry", rows, None, "coordinates are outside the Earth",
                "check the CRS declared in the file"))
    return frame


def _implausible_crs(frame: gpd.GeoDataFrame, source: str) -> Problem | None:
    """Refuse coordinates that cannot be in the CRS the file states, naming the likely CRS.

    Degrees labelled with a projected CRS (metres) would all lie within 180 m of the CRS's
    origin, in the ocean off Africa for web Mercator; metres labelled with a geographic CRS
    (degrees) go beyond 180 degrees. Either way the rows would be moved to a wrong place.
    """
    geometry = frame.geometry.to_numpy()
    present = ~(shapely.is_missing(geometry) | shapely.is_empty(geometry))
    if not present.any():
        return None
    bounds = shapely.bounds(geometry[present])
    finite = np.isfinite(bounds).all(axis=1)
    if not finite.any():
        return None
    x_low, y_low = bounds[finite, 0].min(), bounds[finite, 1].min()
    x_high, y_high = bounds[finite, 2].max(), bounds[finite, 3].max()
    within_degrees = x_low >= -180 and x_high <= 180 and y_low >= -90 and y_high <= 90
    stated = frame.crs.to_string()
    if frame.crs.is_projected and within_degrees and max(x_high - x_low, y_high - y_low) > 0:
        return Problem(
            source, f"the file says its coordinates are in {stated} (metres), but every "
            f"coordinate lies within x {x_low:g}..{x_high:g}, y {y_low:g}..{y_high:g}: these "
            "look like longitude/latitude degrees, i.e. EPSG:4326",
            "save the file with the CRS the coordinates were written in (EPSG:4326 for degrees; "
            "in geopandas `set_crs('EPSG:4326', allow_override=True)`)", column="geometry")
    if frame.crs.is_geographic and not within_degrees:
        likely = ("EPSG:3857 (web Mercator metres) or a local projection" if
                  max(abs(x_low), abs(x_high)) <= 20_037_509 and
                  max(abs(y_low), abs(y_high)) <= 20_048_967 else "a projected CRS in metres")
        return Problem(
            source, f"the file says its coordinates are in {stated} (degrees), but they reach "
            f"x {x_low:g}..{x_high:g}, y {y_low:g}..{y_high:g}, beyond 180 / 90 degrees: they look "
            f"like {likely}",
            "save the file with the CRS the coordinates were written in (in geopandas "
            "`set_crs('EPSG:3857', allow_override=True)` for web Mercator)", column="geometry")
    return None


def _points_from_coordinates(frame: pd.DataFrame, schema: Schema, source: str,
                             problems: list[Problem]) -> gpd.GeoDataFrame | None:
    columns = [str(c) for c in frame.columns]
    lat_name = _find_coordinate_column(columns, LAT_NAMES)
    lng_name = _find_coordinate_column(columns, LNG_NAMES)
    if schema.geometry not in ("point", "any") or lat_name is None or lng_name is None:
        near = [n for n in (_near("lat", columns), _near("lng", columns)) if n]
        hint = f"; columns {near} look like coordinates, rename them to `lat` and `lng`" if near \
            else ""
        kind = "point" if schema.geometry in ("point", "any") else str(schema.geometry)
        fix = (f"give the table `lat` and `lng` columns (WGS84 degrees){hint}"
               if kind == "point" else f"use a GeoPackage, GeoJSON or GeoParquet with {kind} "
               "geometries")
        problems.append(Problem(source, f"no {kind} locations found", fix,
                                column="lat" if kind == "point" else "geometry"))
        return None
    lat = pd.to_numeric(frame[lat_name], errors="coerce").to_numpy(dtype=np.float64)
    lng = pd.to_numeric(frame[lng_name], errors="coerce").to_numpy(dtype=np.float64)
    for name, values in ((lat_name, lat), (lng_name, lng)):
        missing = ~np.isfinite(values)
        if missing.any():
            rows = np.flatnonzero(missing)
            shown = frame[name].to_numpy()[rows]
            shown = shown if pd.notna(shown[0]) else None
            problems.append(problem_at_rows(source, name, rows, shown,
                                            "coordinate is missing or not a number",
                                            "fill in decimal degrees or drop the row"))
    _check_ranges(lat, lng, source, lat_name, lng_name, problems)
    frame = frame.rename(columns={lat_name: "lat", lng_name: "lng"})
    frame["lat"], frame["lng"] = lat, lng
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lng, lat), crs="EPSG:4326")


def _check_ranges(lat: np.ndarray, lng: np.ndarray, source: str, lat_name: str, lng_name: str,
                  problems: list[Problem]) -> None:
    finite = np.isfinite(lat) & np.isfinite(lng)
    lat_out = finite & (np.abs(lat) > 90)
    lng_out = finite & (np.abs(lng) > 180)
    swapped = lat_out & (np.abs(lng) <= 90) & ~lng_out
    if swapped.any():
        rows = np.flatnonzero(swapped)
        problems.append(problem_at_rows(
            source, lat_name, rows, lat[rows],
            "latitude is beyond 90 degrees while the longitude would be a valid latitude: "
            "latitude and longitude look swapped",
            f"swap the `{lat_name}` and `{lng_name}` values (latitude is north-south, at most 90)"))
    rest = lat_out & ~swapped
    if rest.any():
        rows = np.flatnonzero(rest)
        problems.append(problem_at_rows(source, lat_name, rows, lat[rows],
                                        "latitude is outside -90..90 degrees",
                                        "use decimal degrees in WGS84 (EPSG:4326)"))
    if lng_out.any():
        rows = np.flatnonzero(lng_out)
        problems.append(problem_at_rows(source, lng_name, rows, lng[rows],
                                        "longitude is outside -180..180 degrees",
                                        "use decimal degrees in WGS84 (EPSG:4326)"))
