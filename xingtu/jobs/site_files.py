"""The files of a siting run or a saved scenario: GeoJSON, GeoPackage, Excel and the site report.

One place for ``xingtu sites --out/--report`` and the app's download buttons (Site selection for
the run on screen, Scenarios for the chosen scenario): a :class:`~xingtu.jobs.siting.ScenarioRecord`
(the run's sites, parameters and figures, fresh or loaded) and a :class:`ReportMap` (own stores,
competitors and the region's outline, drawn on the report's map) in; the bytes of the file, or
the writer the output transaction commits, out. The builders are :mod:`xingtu.formats` and
:mod:`xingtu.site_report`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from optimizer.errors import InputError

from .. import formats
from ..site_report import Ring, site_report_html
from .outputs import Writer
from .siting import ScenarioRecord

SiteFile = Literal["geojson", "gpkg", "xlsx", "html"]
"""The files of a run: GeoJSON, GeoPackage, the Excel workbook and the HTML site report."""

SITE_FILES: dict[SiteFile, tuple[str, str]] = {
    "geojson": (".geojson", "application/geo+json"),
    "gpkg": (".gpkg", "application/geopackage+sqlite3"),
    "xlsx": (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "html": (".html", "text/html")}
"""Extension and MIME type of each file."""


@dataclass(frozen=True)
class ReportMap:
    """What the site report's map draws besides the chosen sites.

    Attributes
    ----------
    stores, competitors
        Own stores and competitor stores (``lat``/``lng`` or points).
    outline
        Rings (longitude, latitude) of the region's outline.
    """

    stores: pd.DataFrame | None = None
    competitors: pd.DataFrame | None = None
    outline: tuple[Ring, ...] = ()


def region_outline(layers: pd.DataFrame) -> tuple[Ring, ...]:
    """Return the outline of the region of a layer table, as rings of (longitude, latitude).

    The bundled prefecture outlines (``geodata/data/prd_prefectures.geojson``) that hold cells of
    the table when most of its cells lie inside them (the demo region); else the convex hull of
    the cells' centres.
    """
    import shapely

    lat = layers["lat"].to_numpy(float)
    lng = layers["lng"].to_numpy(float)
    if not lat.size:
        return ()
    points = shapely.points(lng, lat)
    bundled = _bundled_outlines()
    inside = np.zeros(lat.size, dtype=bool)
    rings: list[Ring] = []
    for polygon in bundled:
        hit = shapely.contains_xy(polygon, lng, lat)
        if hit.any():
            inside |= hit
            parts = getattr(polygon, "geoms", [polygon])
            rings += [np.asarray(part.exterior.coords)[:, :2] for part in parts]
    if inside.mean() >= 0.5:
        return tuple(rings)
    hull = shapely.convex_hull(shapely.multipoints(points))
    if hull.geom_type != "Polygon":
        return ()
    return (np.asarray(hull.exterior.coords)[:, :2],)


def report_map(layers: pd.DataFrame | None, stores: pd.DataFrame | None,
               competitors: pd.DataFrame | None) -> ReportMap:
    """Return the report map of a run on ``layers`` with these stores and competitors."""
    outline = region_outline(layers) if layers is not None and len(layers) else ()
    return ReportMap(stores=stores, competitors=competitors, outline=outline)


def site_file_bytes(record: ScenarioRecord, kind: SiteFile, *, context: ReportMap | None = None,
                    made: datetime | None = None) -> bytes:
    """Return one file of a run or scenario as bytes (for a download button).

    Parameters
    ----------
    record
        The run (:func:`xingtu.jobs.siting.scenario_record`) or a loaded scenario
        (:func:`scenario_from_saved`).
    kind
        See :data:`SiteFile`.
    context
        The report map (only the ``html`` report uses it).
    made
        The report's date (now by default).
    """
    if kind == "geojson":
        return formats.geojson_bytes(record.sites)
    if kind == "gpkg":
        return formats.geopackage_bytes(record.sites, record.parameters, record.summary)
    if kind == "xlsx":
        return formats.site_workbook_bytes(record.sites, record.parameters, record.summary)
    if kind == "html":
        return report_text(record, context=context, made=made).encode("utf-8")
    raise InputError(f"`kind` is {kind!r}; use one of {', '.join(SITE_FILES)}.")


def report_text(record: ScenarioRecord, *, context: ReportMap | None = None,
                made: datetime | None = None) -> str:
    """Return the one-page HTML site report of a run or scenario."""
    context = context or ReportMap()
    return site_report_html(record.sites, parameters=record.parameters, summary=record.summary,
                            title=f"New store sites: {record.name}", stores=context.stores,
                            competitors=context.competitors, outline=context.outline, made=made)


def site_file_writer(record: ScenarioRecord, kind: SiteFile, *,
                     context: ReportMap | None = None) -> Writer:
    """Return how to write one file of a run at a (temporary) path, for the output transaction."""
    if kind == "gpkg":
        return lambda tmp: formats.write_geopackage(record.sites, record.parameters,
                                                    record.summary, tmp)
    if kind == "xlsx":
        return lambda tmp: formats.render_site_workbook(record.sites, record.parameters,
                                                        record.summary, tmp)

    def write(tmp: Path) -> None:
        tmp.write_bytes(site_file_bytes(record, kind, context=context))

    return write


def run_file_writers(record: ScenarioRecord, out: Path, *, report: Path | None = None,
                     context: ReportMap | None = None) -> dict[Path, Writer]:
    """Return the writers of a run's ``--out`` file and, with ``report``, its site report.

    A ``.gpkg`` gets the ``sites`` and ``run`` layers and an ``.xlsx`` the ``Sites`` and ``Run``
    sheets (:mod:`xingtu.formats`); ``.geojson``, ``.parquet`` and ``.csv`` the site table
    (:func:`xingtu.jobs.siting.site_writer`).
    """
    from .siting import site_writer

    suffix = out.suffix.lower()
    writers = {out: site_file_writer(record, "gpkg" if suffix == ".gpkg" else "xlsx")
               if suffix in (".gpkg", ".xlsx") else site_writer(record.sites, out)}
    if report is not None:
        writers[report] = site_file_writer(record, "html", context=context)
    return writers


def check_report_path(path: Path) -> None:
    """Raise when the report's file name does not end in ``.html``."""
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"`--report` {path.name!r} must end in .html (the site report is one "
                         "HTML page); e.g. --report out/report.html.")


def scenario_from_saved(name: str, parameters: dict, sites: pd.DataFrame,
                        summary: dict) -> ScenarioRecord:
    """Return a loaded scenario (:meth:`xingtu.database.Database.load_scenario`) as a record."""
    return ScenarioRecord(name=name, parameters=parameters, sites=sites, summary=summary)


def download_name(name: str, kind: SiteFile) -> str:
    """Return a safe file name for a download of scenario ``name``.

    Examples
    --------
    >>> download_name("mclp / 5 sites", "html")
    'mclp-5-sites-report.html'
    """
    stem = re.sub(r"[^0-9A-Za-z_.-]+", "-", name).strip("-.") or "sites"
    return f"{stem}{'-report' if kind == 'html' else ''}{SITE_FILES[kind][0]}"


def _bundled_outlines() -> list:
    """Return the bundled prefecture outlines as shapely geometries."""
    import json
    from importlib import resources

    import shapely.geometry

    text = resources.files("geodata.data").joinpath("prd_prefectures.geojson").read_text()
    return [shapely.geometry.shape(feature["geometry"])
            for feature in json.loads(text).get("features", [])]
