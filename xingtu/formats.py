"""The files of a siting run or a saved scenario, as bytes: GeoJSON, GeoPackage and Excel.

Pure builders: a site table (one row per chosen site, as :class:`optimizer.siting.SiteSelectionRun`
gives it or as a saved scenario holds it), the run's parameters and its summary figures in, the
file's bytes out. :mod:`xingtu.jobs.site_files` calls them for the command line and the app; the
one-page HTML report is :mod:`xingtu.site_report`'s.

- **GeoJSON**: the sites as points (EPSG:4326) with their figures and reasons.
- **GeoPackage** (written by pyogrio): layer ``sites`` (points, EPSG:4326, the same columns) and
  layer ``run``, a table without geometry holding the run's parameters and headline figures
  (``section``, ``name``, ``label``, ``value`` as text, ``number`` when it is a number).
- **Excel**: sheet ``Sites`` with readable headings, numbers as numbers with a number format per
  column, and sheet ``Run`` with one row per parameter or figure, each value a number with its
  own format or a text; frozen header, filter and column widths as in
  :func:`xingtu.export.render_workbook`.

Saved scenarios may hold fewer columns than a fresh run: only the columns present are written.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.scoring import factor_label

from .export import SheetFormats, render_workbook, workbook_bytes

SITE_COLUMNS = ("site", "cell_id", "region", "survey_status", "score", "score_rank",
                "expected_sales", "from_competitors", "from_own", "from_unserved", "net_gain",
                "cannibalisation_rate", "new_demand_covered", "opening_cost", "reasons", "lat",
                "lng")
"""Columns of an exported site table, in order (then the ``score_<factor>`` breakdown)."""

SITE_HEADINGS: Mapping[str, str] = {
    "site": "Site", "cell_id": "Cell", "region": "Region", "survey_status": "Survey status",
    "score": "Score", "score_rank": "Score rank",
    "expected_sales": "Expected sales (CNY a year)",
    "from_competitors": "Taken from competitors (CNY a year)",
    "from_own": "Taken from own stores (CNY a year)",
    "from_unserved": "From unserved demand (CNY a year)",
    "net_gain": "Net gain (CNY a year)", "cannibalisation_rate": "Cannibalisation",
    "new_demand_covered": "New demand covered (CNY a year)",
    "opening_cost": "Opening cost (CNY)", "reasons": "Why this site", "lat": "Latitude",
    "lng": "Longitude"}
"""Readable Excel headings of the site columns."""

CNY = "#,##0"
SCORE = "0.000"
PERCENT = "0.0%"
DEGREES = "0.00000"
DECIMAL = "#,##0.0"
COUNT = "#,##0"

SITE_FORMATS: Mapping[str, str] = {
    "score": SCORE, "score_rank": COUNT, "expected_sales": CNY, "from_competitors": CNY,
    "from_own": CNY, "from_unserved": CNY, "net_gain": CNY, "cannibalisation_rate": PERCENT,
    "new_demand_covered": CNY, "opening_cost": CNY, "lat": DEGREES, "lng": DEGREES}
"""Excel number format of each numeric site column (``score_<factor>`` columns: :data:`SCORE`)."""

RUN_LABELS: Mapping[str, str] = {
    "model": "Location model", "n_new": "New sites asked for",
    "radius_km": "Service radius (km)", "budget": "Budget (CNY)",
    "max_candidates": "Most candidate cells offered", "candidates": "Candidate cells offered",
    "min_spacing_km": "Least spacing between new sites (km)",
    "normalisation": "How factors are put on one scale",
    "new_store_area_m2": "Floor area of a new store (m²)", "where": "Site only in",
    "candidate_list": "Sites on the team's candidate list",
    "n_sites": "New sites chosen", "coverage_before": "Coverage today",
    "coverage_after": "Coverage with the new sites",
    "expected_sales": "Expected sales of the new sites (CNY a year)",
    "net_gain": "Net gain (CNY a year)", "from_own": "Taken from own stores (CNY a year)",
    "opening_cost": "Opening cost (CNY)", "status": "Solver status", "gap": "Optimality gap"}
"""Plain words for the run's parameters and figures."""

RUN_FORMATS: Mapping[str, str] = {
    "radius_km": DECIMAL, "min_spacing_km": DECIMAL, "budget": CNY, "expected_sales": CNY,
    "net_gain": CNY, "from_own": CNY, "opening_cost": CNY, "coverage_before": PERCENT,
    "coverage_after": PERCENT, "gap": "0.00%", "new_store_area_m2": DECIMAL}
"""Excel number format of a run row by its name (weights ``0.00``, other numbers ``#,##0``)."""


@dataclass(frozen=True)
class RunRow:
    """One parameter or figure of a run, as the files and the report show it.

    Attributes
    ----------
    section
        ``"parameter"`` (what was asked) or ``"result"`` (what the run found).
    name
        The code name (``radius_km``, ``weights.footfall``).
    label
        Plain words (``Service radius (km)``, ``Weight of footfall``).
    value
        A number, or a text.
    """

    section: str
    name: str
    label: str
    value: float | str

    @property
    def number_format(self) -> str | None:
        """The Excel number format of a number (``None`` for a text)."""
        if isinstance(self.value, str):
            return None
        if self.name.startswith("weights."):
            return "0.00"
        return RUN_FORMATS.get(self.name.split(".")[0], COUNT)

    @property
    def text(self) -> str:
        """The value as a person reads it: thousands separators, percentages, units in the label.

        Examples
        --------
        >>> RunRow("result", "coverage_after", "Coverage", 0.4213).text
        '42.1%'
        >>> RunRow("parameter", "budget", "Budget (CNY)", 6000000.0).text
        '6,000,000'
        """
        if isinstance(self.value, str):
            return self.value
        pattern = self.number_format
        if pattern == PERCENT:
            return f"{self.value:.1%}"
        if pattern == "0.00%":
            return f"{self.value:.2%}"
        if pattern == "0.00":
            return f"{self.value:+.2f}"
        if pattern == DECIMAL:
            return f"{self.value:,.1f}"
        if float(self.value).is_integer() or pattern == CNY:
            return f"{self.value:,.0f}"
        return f"{self.value:,.2f}"


def run_rows(parameters: Mapping[str, Any], summary: Mapping[str, Any]) -> list[RunRow]:
    """Return the run's parameters and headline figures as plain rows.

    Nested options (the weights, the team's decisions) become one row each (``weights.footfall``);
    lists are joined; a missing option reads ``none``.

    Examples
    --------
    >>> rows = run_rows({"radius_km": 3.0, "weights": {"footfall": 0.3}}, {"n_sites": 2})
    >>> [(r.label, r.text) for r in rows]
    [('Service radius (km)', '3.0'), ('Weight of footfall', '+0.30'), ('New sites chosen', '2')]
    """
    rows: list[RunRow] = []
    for section, mapping in (("parameter", parameters), ("result", summary)):
        for name, value in _flatten(mapping):
            rows.append(RunRow(section, name, _label(name), _plain_value(value)))
    return rows


def run_table(parameters: Mapping[str, Any], summary: Mapping[str, Any]) -> pd.DataFrame:
    """Return the run's rows as a table: ``section, name, label, value`` (text) and ``number``.

    Examples
    --------
    >>> run_table({"model": "mclp"}, {"n_sites": 3})[["name", "value", "number"]].values.tolist()
    [['model', 'mclp', nan], ['n_sites', '3', 3.0]]
    """
    rows = run_rows(parameters, summary)
    return pd.DataFrame({
        "section": [r.section for r in rows], "name": [r.name for r in rows],
        "label": [r.label for r in rows], "value": [r.text for r in rows],
        "number": [np.nan if isinstance(r.value, str) else float(r.value) for r in rows]})


def site_table(sites: pd.DataFrame) -> pd.DataFrame:
    """Return the exported columns of a site table: the H3 cell as hex text, numbers as floats.

    Examples
    --------
    >>> t = pd.DataFrame({"cell": pd.array([613633266242551807], dtype="uint64"),
    ...                   "lat": [22.5], "lng": [114.0], "expected_sales": [1e6]})
    >>> site_table(t).columns.tolist(), site_table(t)["cell_id"].tolist()
    (['cell_id', 'expected_sales', 'lat', 'lng'], ['884103458bfffff'])
    """
    from geodata.grid import cells_to_str

    frame = pd.DataFrame(sites).drop(columns="geometry", errors="ignore").copy()
    if "cell" in frame.columns:
        frame["cell_id"] = (cells_to_str(frame["cell"].to_numpy(dtype="uint64"))
                            if len(frame) else pd.Series(dtype=str))
    factors = [c for c in frame.columns if str(c).startswith("score_") and c != "score_rank"]
    columns = [c for c in SITE_COLUMNS if c in frame.columns] + factors
    table = frame[columns].reset_index(drop=True)
    for column in columns:
        if column in SITE_FORMATS or column in factors:
            table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
        else:
            table[column] = table[column].astype(object).where(table[column].notna(), None)
    return table


def site_geoframe(sites: pd.DataFrame) -> Any:
    """Return :func:`site_table` as a point GeoDataFrame in EPSG:4326."""
    import geopandas as gpd

    table = site_table(sites)
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table["lng"], table["lat"]),
                            crs="EPSG:4326")


def geojson_bytes(sites: pd.DataFrame) -> bytes:
    """Return the sites as GeoJSON (points, EPSG:4326, figures and reasons), UTF-8 bytes.

    Examples
    --------
    >>> t = pd.DataFrame({"cell": pd.array([613633266242551807], dtype="uint64"),
    ...                   "lat": [22.5], "lng": [114.0]})
    >>> geojson_bytes(t)[:30]
    b'{"type": "FeatureCollection", '
    """
    return site_geoframe(sites).to_json(drop_id=True, ensure_ascii=False).encode("utf-8")


def write_geopackage(sites: pd.DataFrame, parameters: Mapping[str, Any],
                     summary: Mapping[str, Any], path: Path) -> None:
    """Write the GeoPackage of a run at exactly ``path``: layers ``sites`` and ``run``.

    Built under a ``.gpkg`` name in a scratch folder (GDAL insists on the extension) and copied
    to ``path``, which may be the output transaction's temporary name.
    """
    import shutil

    import pyogrio

    with _scratch("sites.gpkg") as built:
        site_geoframe(sites).to_file(built, driver="GPKG", layer="sites", engine="pyogrio")
        pyogrio.write_dataframe(run_table(parameters, summary), built, layer="run",
                                driver="GPKG", append=False)
        shutil.copyfile(built, path)


def geopackage_bytes(sites: pd.DataFrame, parameters: Mapping[str, Any],
                     summary: Mapping[str, Any]) -> bytes:
    """Return the GeoPackage :func:`write_geopackage` writes, as bytes (for a download)."""
    with _scratch("sites.gpkg") as path:
        write_geopackage(sites, parameters, summary, path)
        return path.read_bytes()


def workbook_sheets(sites: pd.DataFrame, parameters: Mapping[str, Any],
                    summary: Mapping[str, Any],
                    ) -> tuple[dict[str, pd.DataFrame], dict[str, SheetFormats]]:
    """Return the run workbook's sheets (``Sites``, ``Run``) and their number formats.

    Examples
    --------
    >>> t = pd.DataFrame({"cell": pd.array([613633266242551807], dtype="uint64"),
    ...                   "lat": [22.5], "lng": [114.0], "net_gain": [1.5e6]})
    >>> sheets, formats = workbook_sheets(t, {"radius_km": 3.0}, {})
    >>> list(sheets["Sites"].columns), formats["Sites"]["Net gain (CNY a year)"]
    (['Cell', 'Net gain (CNY a year)', 'Latitude', 'Longitude'], '#,##0')
    """
    table = site_table(sites)
    factors = [c for c in table.columns if c.startswith("score_") and c != "score_rank"]
    headings = {c: SITE_HEADINGS.get(c, f"Score: {factor_label(c.removeprefix('score_'))}")
                for c in table.columns}
    site_formats: dict[str, str | list[str | None]] = {
        headings[c]: SITE_FORMATS.get(c, SCORE) for c in table.columns
        if c in SITE_FORMATS or c in factors}
    rows = run_rows(parameters, summary)
    run = pd.DataFrame({"Section": [r.section for r in rows],
                        "Parameter or figure": [r.label for r in rows],
                        "Value": pd.Series([r.value for r in rows], dtype=object),
                        "Name": [r.name for r in rows]})
    return ({"Sites": table.rename(columns=headings), "Run": run},
            {"Sites": site_formats, "Run": {"Value": [r.number_format for r in rows]}})


def render_site_workbook(sites: pd.DataFrame, parameters: Mapping[str, Any],
                         summary: Mapping[str, Any], path: Path) -> None:
    """Write the run workbook at exactly ``path`` (see :func:`workbook_sheets`)."""
    sheets, formats = workbook_sheets(sites, parameters, summary)
    render_workbook(sheets, path, formats=formats)


def site_workbook_bytes(sites: pd.DataFrame, parameters: Mapping[str, Any],
                        summary: Mapping[str, Any]) -> bytes:
    """Return the run workbook as bytes (for a download)."""
    sheets, formats = workbook_sheets(sites, parameters, summary)
    return workbook_bytes(sheets, formats=formats)


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{name}.")
        else:
            yield name, value


def _label(name: str) -> str:
    head, _, rest = name.partition(".")
    if head == "weights" and rest:
        return f"Weight of {factor_label(rest)}"
    if head == "decisions" and rest:
        return "Team's decisions: " + rest.replace("_", " ")
    if name in RUN_LABELS:
        return RUN_LABELS[name]
    text = name.replace("_", " ").replace(".", ": ")
    return text[:1].upper() + text[1:]


def _plain_value(value: Any) -> float | str:
    if value is None:
        return "none"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return number if np.isfinite(number) else "none"
    if isinstance(value, list | tuple | set | np.ndarray):
        items = list(value)
        return ", ".join(map(str, items)) if items else "none"
    return str(value)


@contextmanager
def _scratch(name: str) -> Iterator[Path]:
    """Yield a temporary file path inside a folder removed afterwards."""
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder) / name
