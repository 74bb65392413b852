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
import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from geodata import grid
from optimizer.errors import InputError
from optimizer.geometry import frame_to_lat_lng

ASSET_URL = os.environ.get("XINGTU_ASSET_URL", "/app/static/leaflet/")
"""Where the browser finds the vendored Leaflet files (Streamlit's static route by default)."""

STATIC_DIR = Path(__file__).resolve().parent / "static" / "leaflet"
"""The vendored Leaflet files, installed with the package (inlined into standalone HTML)."""

MAX_POLYGONS = 6_000
"""Above this many cells a layer is drawn at a coarser H3 resolution."""

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
                      height=height)
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


class FeatureLayer(folium.map.Layer):
    """A GeoJSON layer styled per feature, with HTML tooltips, drawn by plain Leaflet.

    Each feature may carry ``properties["s"]`` (style overrides, e.g. ``{"fillColor": "#fd8d3c"}``)
    and ``properties["tip"]`` (tooltip HTML). Points are drawn as circle markers.

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
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson({{ this.data }}, {
            style: function(f) { return Object.assign({}, {{ this.style }}, f.properties.s || {}); },
            pointToLayer: function(f, latlng) {
                return L.circleMarker(latlng, Object.assign({}, {{ this.style }}, f.properties.s || {}));
            },
            onEachFeature: function(f, layer) {
                if (f.properties.tip) { layer.bindTooltip(f.properties.tip, {sticky: true}); }
            }
        });
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        {% endmacro %}
    """)

    def __init__(self, data: str | Mapping[str, Any], *, name: str,
                 style: Mapping[str, Any] | None = None, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "FeatureLayer"
        self.data = data if isinstance(data, str) else json.dumps(data)
        self.style = json.dumps(dict(style or {}))
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


# --------------------------------------------------------------------------------------------
# Cell layers
# --------------------------------------------------------------------------------------------


COORDINATE_SCALE = 100_000
"""Cell outlines are sent as integers in 1e-5 degrees (about a metre)."""


class CellLayer(folium.map.Layer):
    """H3 cells drawn as polygons from a compact encoding, with a colour and tooltip per cell.

    A choropleth of thousands of hexagons as GeoJSON is megabytes of text that folium and
    ``streamlit-folium`` pass through Jinja several times. Here each outline is sent as integers
    (first vertex, then steps between vertices, in 1e-5 degrees), the colour as an index into the
    palette and the tooltip values as columns; the browser rebuilds the polygons (3-4x less text).

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
        Leaflet path options shared by all cells.
    show
        Whether the layer starts switched on.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function(d, style) {
            var group = L.featureGroup();
            function fmt(v) {
                if (v === null || !isFinite(v)) { return "–"; }
                var a = Math.abs(v);
                if (a >= 100) { return Math.round(v).toLocaleString("en-US"); }
                if (a >= 1) { return String(Math.round(v * 10) / 10); }
                return String(Number(v.toPrecision(3)));
            }
            function tip(i) {
                var html = "<b>" + d.cells[i] + "</b><table>";
                for (var k = 0; k < d.labels.length; k++) {
                    html += "<tr><th>" + d.labels[k] + "</th><td>" + fmt(d.values[k][i]) + "</td></tr>";
                }
                return html + "</table>";
            }
            for (var i = 0; i + 1 < d.offsets.length; i++) {
                var points = [], x = 0, y = 0;  // first vertex absolute, then steps
                for (var j = d.offsets[i]; j < d.offsets[i + 1]; j++) {
                    x += d.xy[2 * j]; y += d.xy[2 * j + 1];
                    points.push([y / d.scale, x / d.scale]);
                }
                var polygon = L.polygon(points, Object.assign({}, style,
                                                              {fillColor: d.palette[d.color[i]]}));
                polygon.bindTooltip(tip.bind(null, i), {sticky: true});
                group.addLayer(polygon);
            }
            return group;
        })({{ this.data }}, {{ this.style }});
        {% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
        {% endmacro %}
    """)

    def __init__(self, table: pd.DataFrame, fill: np.ndarray, *, tooltip: Mapping[str, str],
                 name: str, style: Mapping[str, Any] | None = None, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CellLayer"
        self.payload = encode_cells(table, fill, tooltip)
        self.data = json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False)
        self.style = json.dumps(dict(style or {}))
        self.n_features = len(table)


def encode_cells(table: pd.DataFrame, fill: np.ndarray, tooltip: Mapping[str, str],
                 ) -> dict[str, Any]:
    """Return the compact form :class:`CellLayer` sends: outlines, colour indexes, tooltips.

    Returns
    -------
    dict
        ``cells`` (string ids), ``xy`` (per vertex: the first absolute, then steps, lng/lat in
        ``1 / scale`` degrees), ``offsets`` (vertex range of each cell), ``palette``, ``color``
        (index per cell), ``labels`` and ``values`` (one list per tooltip column), ``scale``.

    Examples
    --------
    >>> cells = grid.points_to_cells(np.array([22.54]), np.array([114.06]), 8)
    >>> data = encode_cells(pd.DataFrame({"x": [1.5]}, index=cells), np.array(["#f00"]), {"x": "X"})
    >>> data["offsets"], data["palette"], data["values"]
    ([0, 7], ['#f00'], [[1.5]])
    """
    cells = table.index.to_numpy(dtype=np.uint64)
    outlines = grid.cells_to_polygons(cells)
    xy, owner = shapely.get_coordinates(outlines, return_index=True)
    scaled = np.round(xy * COORDINATE_SCALE).astype(np.int64)
    steps = np.diff(scaled, axis=0, prepend=scaled[:1])
    first = np.r_[True, owner[1:] != owner[:-1]]
    steps[first] = scaled[first]
    offsets = np.r_[np.flatnonzero(first), len(owner)]
    palette, color = np.unique(np.asarray(fill, dtype=object).astype(str), return_inverse=True)
    values = [[None if not np.isfinite(v) else float(v) for v in table[column].to_numpy(float)]
              for column in tooltip]
    return {"cells": grid.cells_to_str(cells).tolist(), "xy": steps.ravel().tolist(),
            "offsets": offsets.tolist(), "palette": palette.tolist(), "color": color.tolist(),
            "labels": [html.escape(label) for label in tooltip.values()], "values": values,
            "scale": COORDINATE_SCALE}


def decode_cell_outlines(payload: Mapping[str, Any]) -> list[np.ndarray]:
    """Outlines (lng/lat arrays) back from :func:`encode_cells`, as the browser rebuilds them."""
    steps = np.asarray(payload["xy"], dtype=np.int64).reshape(-1, 2)
    offsets = payload["offsets"]
    return [np.cumsum(steps[a:b], axis=0) / payload["scale"]
            for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


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
               ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Colour of each value by quantile class, and the legend labels.

    Parameters
    ----------
    values
        Numbers to colour; missing values get grey.
    colors
        Colours from low to high.

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
    finite = array[np.isfinite(array)]
    palette = np.asarray(list(colors), dtype=object)
    fill = np.full(array.shape, "#cccccc", dtype=object)
    if finite.size == 0:
        return fill, np.array([]), []
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, len(palette) + 1)))
    if edges.size == 1:
        edges = np.array([edges[0], edges[0]])
    n_classes = edges.size - 1
    used = palette[np.round(np.linspace(0, len(palette) - 1, n_classes)).astype(int)]
    ok = np.isfinite(array)
    klass = np.clip(np.searchsorted(edges, array[ok], side="right") - 1, 0, n_classes - 1)
    fill[ok] = used[klass]
    labels = [f"{_edge(lo)} – {_edge(hi)}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
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
              ) -> CellLayer:
    """Draw a cell table as a choropleth of ``value`` with tooltips and a legend.

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
    fill, _, labels = color_bins(shown[value], colors=colors)
    shown_tooltip = {k: v for k, v in tooltip.items() if k in shown}
    layer = CellLayer(shown, fill, tooltip=shown_tooltip, name=name, show=show,
                      style={"color": "#ffffff", "weight": 0.5, "fillOpacity": opacity})
    layer.add_to(fmap)
    if legend != "" and labels:
        used = list(dict.fromkeys(fill[fill != "#cccccc"]))
        ordered = [c for c in colors if c in used]
        Legend(legend or name, labels[: len(ordered)], ordered).add_to(fmap)
    return layer


# --------------------------------------------------------------------------------------------
# Points and transfers
# --------------------------------------------------------------------------------------------


def add_points(fmap: folium.Map, points: pd.DataFrame, *, name: str, color: str = "#1f78b4",
               radius: float = 5.0, tooltip: Mapping[str, str] | None = None,
               title: str | None = None, show: bool = True) -> FeatureLayer:
    """Draw points (a GeoDataFrame of points, or a table with ``lat``/``lng``) as circle markers.

    Parameters
    ----------
    fmap
        The map to draw on.
    points
        The points.
    name
        Layer name.
    color
        Marker colour.
    radius
        Marker radius in pixels.
    tooltip
        Columns to show (column -> label).
    title
        Column whose value heads each tooltip.
    show
        Whether the layer starts switched on.

    Examples
    --------
    >>> m = base_map((22.5, 114.0))
    >>> add_points(m, pd.DataFrame({"lat": [22.5], "lng": [114.0]}), name="Stores").n_features
    1
    """
    lat, lng = frame_to_lat_lng(points, name)
    geometry = shapely.points(np.round(lng, 6), np.round(lat, 6))
    titles = points[title].astype(str) if title and title in points else None
    properties = pd.DataFrame({"tip": tooltip_html(points, tooltip or {}, title=titles)})
    style = {"radius": radius, "color": "#ffffff", "weight": 1, "fillColor": color,
             "fillOpacity": 0.9}
    layer = FeatureLayer(_feature_collection(geometry, properties), name=name, style=style,
                         show=show)
    layer.add_to(fmap)
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
    return layer


def add_radius_circles(fmap: folium.Map, points: pd.DataFrame, radius_km: float | pd.Series, *,
                       name: str, color: str = "#33a02c", show: bool = True) -> folium.FeatureGroup:
    """Draw a circle of ``radius_km`` around each point (service areas)."""
    lat, lng = frame_to_lat_lng(points, name)
    radius = np.broadcast_to(np.asarray(radius_km, dtype=float), lat.shape)
    group = folium.FeatureGroup(name=name, show=show)
    for y, x, r in zip(lat, lng, radius, strict=True):  # a few dozen shops at most
        folium.Circle((float(y), float(x)), radius=float(r) * 1000.0, color=color, weight=1,
                      fill=True, fill_opacity=0.08).add_to(group)
    group.add_to(fmap)
    return group


def finish(fmap: folium.Map, *, fit_to: pd.DataFrame | None = None) -> folium.Map:
    """Add the layer switcher and, optionally, zoom to the points of ``fit_to``."""
    folium.LayerControl(collapsed=True).add_to(fmap)
    if fit_to is not None and len(fit_to):
        lat, lng = frame_to_lat_lng(fit_to, "fit_to")
        fmap.fit_bounds([[float(np.nanmin(lat)), float(np.nanmin(lng))],
                         [float(np.nanmax(lat)), float(np.nanmax(lng))]])
    return fmap


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def tooltip_html(table: pd.DataFrame, columns: Mapping[str, str], *,
                 title: pd.Series | np.ndarray | None = None) -> pd.Series:
    """One small HTML table per row with the given columns (column -> label), vectorised.

    Examples
    --------
    >>> tooltip_html(pd.DataFrame({"sales": [1234.6]}), {"sales": "Sales"}).iloc[0]
    '<table><tr><th>Sales</th><td>1,235</td></tr></table>'
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
        rows = rows + f"<tr><th>{html.escape(label)}</th><td>" + _format(table[column]) + "</td></tr>"
    return (parts + rows + "</table>").astype(object)


def _format(values: pd.Series) -> pd.Series:
    values = values.reset_index(drop=True)
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


def _edge(value: float) -> str:
    """Return a class edge for a legend: three significant digits, thousands separated."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _feature_collection(geometries: np.ndarray, properties: pd.DataFrame) -> str:
    """GeoJSON text from geometries and a properties table (JSON-serialisable columns)."""
    geometry_json = shapely.to_geojson(np.asarray(geometries, dtype=object))
    property_json = [json.dumps(record, ensure_ascii=False)
                     for record in properties.to_dict(orient="records")]
    features = [f'{{"type":"Feature","geometry":{g},"properties":{p}}}'
                for g, p in zip(geometry_json, property_json, strict=True)]
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"
