"""The one-page site report: a self-contained HTML file an expansion team can mail or print.

:func:`site_report_html` is a pure builder: the chosen sites, the run's parameters and figures,
the own stores, the competitors and the region's outline in, one HTML document out. It works with
no network: the CSS is inline, the map is a static SVG drawn from the coordinates (outline, own
stores, competitors, chosen sites numbered as in the table, and a legend), and the document holds
no external reference at all (no ``http://`` or ``https://``, no fonts, scripts or images to
fetch). Numbers carry their units and thousands separators; each site's reasons are the plain
sentences of the run. :mod:`xingtu.jobs.site_files` calls it for ``xingtu sites --report`` and
the app's download buttons.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from .formats import run_rows

MAP_WIDTH = 720
"""Width of the SVG map in pixels (its height follows the region's shape)."""

MAP_MARGIN = 18
SITE_COLOUR = "#d7301f"
STORE_COLOUR = "#2166ac"
COMPETITOR_COLOUR = "#636363"
OUTLINE_COLOUR = "#3d3d3d"

Ring = np.ndarray
"""One outline ring: an ``(n, 2)`` array of (longitude, latitude) in degrees."""

STYLE = """
body{font-family:-apple-system,"Segoe UI","Noto Sans",Arial,sans-serif;color:#222;margin:24px;
max-width:1000px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 8px}
.meta{color:#555;font-size:13px;margin-bottom:12px}
.headline{display:flex;gap:14px;flex-wrap:wrap;margin:10px 0}
.figure{border:1px solid #ccc;border-radius:4px;padding:6px 10px;min-width:130px}
.figure b{display:block;font-size:17px}.figure span{font-size:12px;color:#555}
table{border-collapse:collapse;width:100%;font-size:12.5px}
th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;white-space:nowrap}
svg{border:1px solid #bbb;background:#fbfbf8}
.params{width:auto}.params td{border:none;padding:2px 16px 2px 0}
@media print{body{margin:8mm}}
"""


def site_report_html(sites: pd.DataFrame, *, parameters: Mapping[str, Any],
                     summary: Mapping[str, Any], title: str = "New store sites",
                     stores: pd.DataFrame | None = None,
                     competitors: pd.DataFrame | None = None,
                     outline: Sequence[Ring] = (), made: datetime | None = None) -> str:
    """Return the one-page report of a siting run as a self-contained HTML document.

    Parameters
    ----------
    sites
        The chosen sites (``lat``, ``lng`` and what the run gives: ``site``, ``region``,
        ``expected_sales``, ``from_own``, ``net_gain``, ``cannibalisation_rate``, ``reasons``,
        ...; a saved scenario's fewer columns are fine).
    parameters, summary
        The run's options and headline figures (as a saved scenario holds them).
    title
        The report's title (the scenario's name).
    stores, competitors
        Own stores and competitor stores (``lat``/``lng`` or point geometry), drawn on the map.
    outline
        Rings of the region's outline (longitude, latitude), drawn on the map.
    made
        When the report was made (now, UTC, by default).

    Returns
    -------
    str
        The HTML document; every chosen site is one ``<circle class="site">`` of the map and one
        row of the table.

    Examples
    --------
    >>> t = pd.DataFrame({"site": ["N1"], "lat": [22.5], "lng": [114.0],
    ...                   "expected_sales": [1234567.0], "reasons": ["high footfall"]})
    >>> page = site_report_html(t, parameters={"radius_km": 3.0}, summary={"n_sites": 1})
    >>> "1,234,567 CNY" in page, "http" in page, page.count('class="site"')
    (True, False, 1)
    """
    made = made or datetime.now(UTC)
    sites = pd.DataFrame(sites).reset_index(drop=True)
    labels = _site_labels(sites)
    rows = run_rows(parameters, summary)
    results = {r.name: r for r in rows if r.section == "result"}
    headline = "".join(
        f'<div class="figure"><b>{_e(results[name].text)}</b><span>{_e(caption)}</span></div>'
        for name, caption in (("n_sites", "new sites"), ("coverage_before", "coverage today"),
                              ("coverage_after", "coverage with the new sites"),
                              ("expected_sales", "expected sales, CNY a year"),
                              ("net_gain", "net gain, CNY a year"))
        if name in results)
    parameter_rows = "".join(f"<tr><td>{_e(r.label)}</td><td>{_e(r.text)}</td></tr>"
                             for r in rows if r.section == "parameter")
    status = results.get("status")
    solve = f" Solver status: {_e(status.text)}." if status is not None else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<div class="meta">Site report made {_e(made.strftime("%Y-%m-%d %H:%M"))} UTC.'
        f"{solve}</div>"
        f'<div class="headline">{headline}</div>'
        "<h2>Map</h2>"
        f"{_svg_map(sites, labels, stores, competitors, outline)}"
        "<h2>Chosen sites and why</h2>"
        f"{_site_rows(sites, labels)}"
        "<h2>Parameters of the run</h2>"
        f'<table class="params">{parameter_rows or "<tr><td>none recorded</td></tr>"}</table>'
        "</body></html>\n")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _site_labels(sites: pd.DataFrame) -> list[str]:
    if "site" in sites.columns:
        return [str(s) if pd.notna(s) else f"#{i + 1}" for i, s in enumerate(sites["site"])]
    return [f"#{i + 1}" for i in range(len(sites))]


def _lat_lng(frame: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    if frame is None or not len(frame):
        return np.empty(0), np.empty(0)
    if {"lat", "lng"} <= set(frame.columns):
        return (pd.to_numeric(frame["lat"], errors="coerce").to_numpy(float),
                pd.to_numeric(frame["lng"], errors="coerce").to_numpy(float))
    geometry = getattr(frame, "geometry", None)
    if geometry is None:
        return np.empty(0), np.empty(0)
    return geometry.y.to_numpy(float), geometry.x.to_numpy(float)


class _Projection:
    """Equirectangular projection of the drawn extent onto the SVG (north up, true shape)."""

    def __init__(self, lat: np.ndarray, lng: np.ndarray) -> None:
        finite = np.isfinite(lat) & np.isfinite(lng)
        lat, lng = lat[finite], lng[finite]
        if not lat.size:
            lat, lng = np.array([0.0]), np.array([0.0])
        self.lng0, self.lat1 = float(lng.min()), float(lat.max())
        self.shrink = float(np.cos(np.radians(np.clip(lat.mean(), -85, 85))))
        span_x = max((float(lng.max()) - self.lng0) * self.shrink, 1e-6)
        span_y = max(self.lat1 - float(lat.min()), 1e-6)
        self.scale = (MAP_WIDTH - 2 * MAP_MARGIN) / max(span_x, span_y * 0.75)
        self.height = int(round(min(span_y * self.scale, MAP_WIDTH * 1.2) + 2 * MAP_MARGIN))
        self.height = max(self.height, 160)

    def xy(self, lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = MAP_MARGIN + (np.asarray(lng, float) - self.lng0) * self.shrink * self.scale
        y = MAP_MARGIN + (self.lat1 - np.asarray(lat, float)) * self.scale
        return x, y


def _svg_map(sites: pd.DataFrame, labels: Sequence[str], stores: pd.DataFrame | None,
             competitors: pd.DataFrame | None, outline: Sequence[Ring]) -> str:
    site_lat, site_lng = _lat_lng(sites)
    store_lat, store_lng = _lat_lng(stores)
    rival_lat, rival_lng = _lat_lng(competitors)
    rings = [np.asarray(r, float) for r in outline if len(r) >= 3]
    all_lat = np.concatenate([site_lat, store_lat, rival_lat, *[r[:, 1] for r in rings]])
    all_lng = np.concatenate([site_lng, store_lng, rival_lng, *[r[:, 0] for r in rings]])
    view = _Projection(all_lat, all_lng)
    parts = []
    for ring in rings:
        x, y = view.xy(ring[:, 1], ring[:, 0])
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(x, y, strict=True))
        parts.append(f'<polygon class="outline" points="{points}" fill="#efefe6" '
                     f'stroke="{OUTLINE_COLOUR}" stroke-width="0.8"/>')
    x, y = view.xy(rival_lat, rival_lng)
    parts += [f'<path class="competitor" d="M{a:.1f},{b - 3.5:.1f}l3.2,6h-6.4z" '
              f'fill="{COMPETITOR_COLOUR}" opacity="0.75"/>'
              for a, b in zip(x, y, strict=True) if np.isfinite(a + b)]
    x, y = view.xy(store_lat, store_lng)
    parts += [f'<rect class="store" x="{a - 3:.1f}" y="{b - 3:.1f}" width="6" height="6" '
              f'fill="{STORE_COLOUR}" stroke="#fff" stroke-width="0.6"/>'
              for a, b in zip(x, y, strict=True) if np.isfinite(a + b)]
    x, y = view.xy(site_lat, site_lng)
    for number, (a, b, label) in enumerate(zip(x, y, labels, strict=True), start=1):
        if not np.isfinite(a + b):
            continue
        parts.append(f'<g><circle class="site" data-site="{_e(label)}" cx="{a:.1f}" '
                     f'cy="{b:.1f}" r="8" fill="{SITE_COLOUR}" stroke="#fff" stroke-width="1.5">'
                     f"<title>{_e(label)}</title></circle>"
                     f'<text x="{a:.1f}" y="{b + 3.5:.1f}" font-size="10" font-weight="bold" '
                     f'text-anchor="middle" fill="#fff">{number}</text></g>')
    parts.append(_legend(view.height, n_sites=len(sites),
                         n_stores=store_lat.size, n_competitors=rival_lat.size))
    return (f'<svg role="img" aria-label="Map of the chosen sites" width="{MAP_WIDTH}" '
            f'height="{view.height}" viewBox="0 0 {MAP_WIDTH} {view.height}">'
            + "".join(parts) + "</svg>")


def _legend(height: int, *, n_sites: int, n_stores: int, n_competitors: int) -> str:
    entries = [
        f'<circle cx="12" cy="0" r="6" fill="{SITE_COLOUR}"/>',
        f'<rect x="9" y="-3" width="6" height="6" fill="{STORE_COLOUR}"/>',
        f'<path d="M12,-3.5l3.2,6h-6.4z" fill="{COMPETITOR_COLOUR}"/>',
        f'<rect x="5" y="-5" width="14" height="10" fill="#efefe6" stroke="{OUTLINE_COLOUR}" '
        'stroke-width="0.8"/>']
    texts = [f"Chosen sites ({n_sites:,}, numbered as in the table)",
             f"Our stores ({n_stores:,})", f"Competitors ({n_competitors:,})", "Region"]
    rows = "".join(f'<g transform="translate(8,{16 + 17 * i})">{symbol}'
                   f'<text x="26" y="4" font-size="11">{_e(text)}</text></g>'
                   for i, (symbol, text) in enumerate(zip(entries, texts, strict=True)))
    return (f'<g class="legend" transform="translate(8,{height - 92})">'
            '<rect width="250" height="82" fill="#fff" opacity="0.9" stroke="#999"/>'
            f"{rows}</g>")


def _site_rows(sites: pd.DataFrame, labels: Sequence[str]) -> str:
    columns = [("region", "Region", None), ("survey_status", "Survey", None),
               ("score", "Score", "{:.3f}"),
               ("expected_sales", "Expected sales", "{:,.0f} CNY"),
               ("from_own", "Taken from own stores", "{:,.0f} CNY"),
               ("net_gain", "Net gain", "{:,.0f} CNY"),
               ("cannibalisation_rate", "Cannibalisation", "{:.0%}"),
               ("opening_cost", "Opening cost", "{:,.0f} CNY"),
               ("reasons", "Why this site", None)]
    shown = [c for c in columns if c[0] in sites.columns and sites[c[0]].notna().any()]
    head = "<tr><th>#</th><th>Site</th>" + "".join(f"<th>{_e(t)}</th>" for _, t, _ in shown)
    body = []
    for number, (label, (_, row)) in enumerate(zip(labels, sites.iterrows(), strict=True),
                                               start=1):
        cells = []
        for column, _, pattern in shown:
            value = row[column]
            if pattern is None:
                cells.append(f"<td>{_e('' if pd.isna(value) else value)}</td>")
            else:
                number_value = pd.to_numeric(value, errors="coerce")
                text = "–" if pd.isna(number_value) else pattern.format(float(number_value))
                cells.append(f'<td class="num">{_e(text)}</td>')
        body.append(f'<tr class="site-row"><td>{number}</td><td>{_e(label)}</td>'
                    + "".join(cells) + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(shown) + 2}">No new site was chosen.</td></tr>')
    return f"<table>{head}</tr>{''.join(body)}</table>"
