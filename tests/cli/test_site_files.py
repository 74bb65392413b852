"""The files of a siting run: GeoPackage, Excel and the one-page HTML report read back, and the
``xingtu sites --out .gpkg --report .html`` round trip.
"""

from __future__ import annotations

import io
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
from typer.testing import CliRunner

from geodata.layers import load_layers
from xingtu.cli import app
from xingtu.jobs import site_files, siting

runner = CliRunner()


@pytest.fixture
def small_run(small_inputs: dict[str, Path]) -> tuple[siting.ScenarioRecord,
                                                      site_files.ReportMap]:
    """A 3-site run on the small region of the CLI tests, as a record, with its report map."""
    paths = small_inputs
    layers = load_layers(paths["layers"])
    stores, competitors = pd.read_csv(paths["stores"]), pd.read_csv(paths["competitors"])
    run = siting.choose_sites(layers, stores, competitors, n_new=3, radius_km=1.5)
    record = siting.scenario_record("north <test> & co", run)
    return record, site_files.report_map(layers, stores, competitors)


def _hex(cells: pd.Series) -> list[str]:
    """H3 ids as hexadecimal text, computed here without the library's conversion."""
    return [format(int(c), "x") for c in cells]


def test_geopackage_holds_the_sites_and_the_run(small_run, tmp_path: Path) -> None:
    record, _ = small_run
    path = tmp_path / "sites.gpkg"
    path.write_bytes(site_files.site_file_bytes(record, "gpkg"))
    assert sorted(pyogrio.list_layers(path)[:, 0]) == ["run", "sites"]
    sites = gpd.read_file(path, layer="sites")
    assert sites.crs.to_epsg() == 4326 and len(sites) == len(record.sites) == 3
    assert sites["cell_id"].tolist() == _hex(record.sites["cell"])
    for column in ("expected_sales", "from_own", "net_gain", "score"):
        assert np.allclose(sites[column], record.sites[column].astype(float), rtol=1e-12)
    assert np.allclose(sites.geometry.x, record.sites["lng"]) and np.allclose(
        sites.geometry.y, record.sites["lat"])
    assert sites["reasons"].tolist() == record.sites["reasons"].tolist()
    run = pyogrio.read_dataframe(path, layer="run").set_index("name")
    assert run.loc["n_new", "number"] == 3 and run.loc["radius_km", "value"] == "1.5"
    assert run.loc["model", "value"] == "mclp"
    assert run.loc["coverage_after", "number"] == pytest.approx(record.summary["coverage_after"])
    assert run.loc["weights.footfall", "number"] == record.parameters["weights"]["footfall"]


def test_workbook_keeps_numbers_as_numbers_with_formats(small_run) -> None:
    record, _ = small_run
    book = openpyxl.load_workbook(io.BytesIO(site_files.site_file_bytes(record, "xlsx")))
    assert book.sheetnames == ["Sites", "Run"]
    sheet = book["Sites"]
    header = [c.value for c in sheet[1]]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    column = header.index("Expected sales (CNY a year)") + 1
    cells = [sheet.cell(row=r, column=column) for r in range(2, 5)]
    assert all(isinstance(c.value, float) for c in cells)
    assert [c.number_format for c in cells] == ["#,##0"] * 3
    assert [c.value for c in cells] == pytest.approx(record.sites["expected_sales"].tolist())
    rate = sheet.cell(row=2, column=header.index("Cannibalisation") + 1)
    assert isinstance(rate.value, float) and rate.number_format == "0.0%"
    cell_ids = [sheet.cell(row=r, column=header.index("Cell") + 1).value for r in range(2, 5)]
    assert cell_ids == _hex(record.sites["cell"])
    run = {row[3].value: row[2] for row in book["Run"].iter_rows(min_row=2)}
    assert run["coverage_after"].value == pytest.approx(record.summary["coverage_after"])
    assert run["coverage_after"].number_format == "0.0%"
    assert run["radius_km"].value == 1.5 and run["radius_km"].number_format == "#,##0.0"
    assert run["model"].value == "mclp" and run["budget"].value == "none"


class _Page(HTMLParser):
    """Collects the map's site markers, the table's rows and every attribute value."""

    def __init__(self) -> None:
        super().__init__()
        self.markers: list[dict[str, str | None]] = []
        self.rows: list[list[str]] = []
        self.attributes: list[str] = []
        self.tags: set[str] = set()
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [f"{k}={v}" for k, v in attrs]
        found = dict(attrs)
        if tag == "circle" and found.get("class") == "site":
            self.markers.append(found)
        if tag == "tr" and found.get("class") == "site-row":
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is not None and data.strip():
            self._row.append(data.strip())


def test_report_is_one_offline_page_with_every_site(small_run) -> None:
    record, context = small_run
    text = site_files.site_file_bytes(record, "html", context=context).decode("utf-8")
    assert "http://" not in text and "https://" not in text
    page = _Page()
    page.feed(text)
    assert not page.tags & {"script", "link", "img", "iframe", "object"}
    assert not [a for a in page.attributes if a.startswith(("src=", "href="))]
    assert len(page.markers) == len(record.sites) == 3
    assert [m["data-site"] for m in page.markers] == [str(s) for s in record.sites["site"]]
    assert len(page.rows) == 3
    for row, (_, site) in zip(page.rows, record.sites.iterrows(), strict=True):
        assert f"{site['expected_sales']:,.0f} CNY" in row
        assert f"{site['net_gain']:,.0f} CNY" in row
        assert site["reasons"] in row
    stores = text.count('class="store"')
    assert stores == len(context.stores) == 8 and text.count('class="competitor"') == 5
    assert "Service radius (km)" in text and "north &lt;test&gt; &amp; co" in text
    assert text.count('class="outline"') == len(context.outline) >= 1


def test_report_markers_sit_where_the_sites_are(small_run) -> None:
    """The map keeps north up and east right: marker order follows latitude and longitude."""
    record, context = small_run
    page = _Page()
    page.feed(site_files.report_text(record, context=context))
    x = np.array([float(m["cx"] or 0) for m in page.markers])
    y = np.array([float(m["cy"] or 0) for m in page.markers])
    assert (np.argsort(x) == np.argsort(record.sites["lng"].to_numpy())).all()
    assert (np.argsort(-y) == np.argsort(record.sites["lat"].to_numpy())).all()


def test_cli_writes_the_geopackage_and_the_report(small_inputs: dict[str, Path],
                                                  tmp_path: Path) -> None:
    out, report = tmp_path / "out" / "sites.gpkg", tmp_path / "out" / "report.html"
    base = ["sites", "--layers", str(small_inputs["layers"]), "--stores",
            str(small_inputs["stores"]), "--competitors", str(small_inputs["competitors"]),
            "--n-new", "2", "--radius-km", "1.5"]
    result = runner.invoke(app, [*base, "--out", str(out), "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert f"Site report written to {report}" in result.output
    sites = gpd.read_file(out, layer="sites")
    assert len(sites) == 2 and sites.crs.to_epsg() == 4326
    page = _Page()
    page.feed(report.read_text(encoding="utf-8"))
    assert [m["data-site"] for m in page.markers] == [str(s) for s in sites["site"]]
    for row, gain in zip(page.rows, sites["net_gain"], strict=True):
        assert f"{gain:,.0f} CNY" in row
    assert not list(out.parent.glob(".*.tmp")) and not list(out.parent.glob(".*.lock"))

    again = runner.invoke(app, [*base, "--out", str(tmp_path / "b.gpkg"), "--report",
                                str(report)])
    assert again.exit_code == 2 and "already exists" in again.output
    assert not (tmp_path / "b.gpkg").exists()  # nothing written when one output is refused
    wrong = runner.invoke(app, [*base, "--report", str(tmp_path / "report.pdf")])
    assert wrong.exit_code == 2 and "must end in .html" in wrong.output


def test_outline_is_the_bundled_prefectures_or_the_hull_of_the_cells() -> None:
    import shapely

    from geodata.layers import build_layers

    inside = build_layers(footfall=pd.DataFrame({"lat": [22.54, 22.60], "lng": [114.05, 114.10],
                                                 "count": [1, 2]}))
    rings = site_files.region_outline(inside)
    assert rings and any(shapely.contains_xy(shapely.Polygon(r), 114.05, 22.54) for r in rings)
    rng = np.random.default_rng(0)
    far = build_layers(footfall=pd.DataFrame({"lat": rng.uniform(39.8, 40.0, 50),
                                              "lng": rng.uniform(116.2, 116.5, 50),
                                              "count": 1}))
    hull = site_files.region_outline(far)
    assert len(hull) == 1
    polygon = shapely.Polygon(hull[0])
    assert shapely.contains_xy(polygon.buffer(1e-9), far["lng"], far["lat"]).all()
