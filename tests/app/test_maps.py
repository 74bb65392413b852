"""Map builders: nothing loaded from outside the project, cell layers, coarsening, legends, arrows."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import branca.colormap
import numpy as np
import pandas as pd
import pytest

from geodata import grid
from xingtu import maps

ROOT = Path(__file__).resolve().parents[2]
URL_IN_PAGE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def _cells(n_side: int = 30, resolution: int = 8) -> np.ndarray:
    lat, lng = np.meshgrid(np.linspace(22.45, 22.75, n_side), np.linspace(113.85, 114.25, n_side))
    return np.unique(grid.points_to_cells(lat.ravel(), lng.ravel(), resolution))


def _score_table(resolution: int = 8) -> pd.DataFrame:
    cells = _cells(resolution=resolution)
    rng = np.random.default_rng(7)
    return pd.DataFrame({"score": rng.random(cells.size), "people": rng.integers(0, 500, cells.size)},
                        index=pd.Index(cells, name="cell"))


def test_a_full_map_fetches_nothing_from_outside() -> None:
    table = _score_table()
    fmap = maps.base_map((22.6, 114.05), tiles="none")
    maps.add_cells(fmap, table, "score", name="Score", tooltip={"score": "Score"})
    maps.add_points(fmap, pd.DataFrame({"lat": [22.6], "lng": [114.0], "name": ["A"]}),
                    name="Stores", title="name")
    moves = pd.DataFrame({"from_lat": [22.5], "from_lng": [114.0], "to_lat": [22.7],
                          "to_lng": [114.2], "quantity": [5]})
    maps.add_transfers(fmap, moves)
    maps.finish(fmap, fit_to=table.assign(lat=22.6, lng=114.0))
    assert maps.external_urls(fmap) == []
    page = fmap.get_root().render()
    loaded = URL_IN_PAGE.findall(page)
    assert loaded, "the page should load the local Leaflet"
    assert all(url.startswith("/app/static/leaflet/") for url in loaded), loaded
    assert "https://" not in page.replace("https://leafletjs.com", "")


def test_folium_defaults_would_fetch_from_cdns_and_are_detected() -> None:
    import folium

    plain = folium.Map(tiles=None)
    assert any("cdn.jsdelivr.net" in url for url in maps.external_urls(plain))
    with_colormap = maps.base_map((22.6, 114.0))
    branca.colormap.LinearColormap(["white", "red"]).add_to(with_colormap)
    assert "https://d3js.org/d3.v4.min.js" in maps.external_urls(with_colormap)


def test_online_tiles_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    online = maps.base_map((22.6, 114.0), tiles="openstreetmap")
    assert maps.external_urls(online) == [maps.TILE_LAYERS["openstreetmap"][0]]
    monkeypatch.setenv("XINGTU_MAP_TILES", "openstreetmap")
    assert maps.tiles_setting() == "openstreetmap"
    monkeypatch.setenv("XINGTU_MAP_TILES", "satellite")
    with pytest.raises(ValueError, match="`XINGTU_MAP_TILES`='satellite'"):
        maps.tiles_setting()
    with pytest.raises(ValueError, match="`tiles`='google'"):
        maps.base_map((0, 0), tiles="google")  # type: ignore[arg-type]


def test_vendored_leaflet_is_the_packaged_release_and_streamlit_serves_it() -> None:
    import xstatic.pkg.leaflet as xleaflet

    packaged = Path(xleaflet.BASE_DIR)
    for name in ("leaflet.js", "leaflet.css"):
        assert (maps.STATIC_DIR / name).read_bytes() == (packaged / name).read_bytes()
    assert "BSD 2-Clause" in (maps.STATIC_DIR / "LICENSE").read_text()
    css_images = set(re.findall(r"url\(images/([^)]+)\)", (maps.STATIC_DIR / "leaflet.css").read_text()))
    assert css_images and all((maps.STATIC_DIR / "images" / name).exists() for name in css_images)
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableStaticServing"] is True
    # Streamlit serves the folder `static` next to app.py: it must be the package's own copy.
    from streamlit import file_util

    served = Path(file_util.get_app_static_dir(str(ROOT / "app.py")))
    assert (served / "leaflet").resolve() == maps.STATIC_DIR.resolve()
    assert config["browser"]["gatherUsageStats"] is False


def test_standalone_html_inlines_leaflet() -> None:
    fmap = maps.base_map((22.6, 114.0))
    page = maps.standalone_html(fmap)
    assert "/app/static" not in page
    assert all(url.startswith("data:") for url in URL_IN_PAGE.findall(page))
    assert maps.external_urls(fmap) == []  # the map itself is unchanged


def test_cell_layer_has_one_hexagon_per_cell_with_colour_and_tooltip() -> None:
    table = _score_table()
    fmap = maps.base_map((22.6, 114.05))
    layer = maps.add_cells(fmap, table, "score", name="Score", tooltip={"score": "Site score"})
    payload = json.loads(layer.data)
    assert layer.n_features == len(table) == len(payload["cells"]) == len(payload["offsets"]) - 1
    assert payload["cells"] == grid.cells_to_str(table.index.to_numpy()).tolist()
    assert payload["labels"] == ["Site score"]
    assert np.allclose(payload["values"][0], table["score"])
    colours = [payload["palette"][i] for i in payload["color"]]
    assert set(colours) == set(maps.PALETTE)
    best, worst = int(table["score"].argmax()), int(table["score"].argmin())
    assert colours[best] == maps.PALETTE[-1] and colours[worst] == maps.PALETTE[0]
    page = fmap.get_root().render()
    assert "xingtu-legend" in page and "L.polygon" in page


def test_cell_outlines_survive_the_compact_encoding() -> None:
    from shapely import get_coordinates

    table = _score_table()
    payload = maps.encode_cells(table, np.full(len(table), "#000"), {})
    outlines = maps.decode_cell_outlines(payload)
    exact = grid.cells_to_polygons(table.index.to_numpy())
    for outline, polygon in zip(outlines, exact, strict=True):
        assert np.abs(outline - get_coordinates(polygon)).max() <= 0.5e-5 + 1e-12
    geojson_size = len(maps.cells_geojson(table, fill=np.full(len(table), "#000"),
                                          tooltip={"score": "Score"}))
    compact_size = len(maps.CellLayer(table, np.full(len(table), "#000"),
                                      tooltip={"score": "Score"}, name="x").data)
    assert compact_size < geojson_size / 2


def test_cells_geojson_for_use_outside_the_app() -> None:
    table = _score_table()
    collection = json.loads(maps.cells_geojson(table, fill=np.full(len(table), "#abc"),
                                               tooltip={"score": "Site score"}))
    feature = collection["features"][0]
    assert len(collection["features"]) == len(table)
    assert len(feature["geometry"]["coordinates"][0]) == 7  # closed hexagon
    assert "Site score" in feature["properties"]["tip"]
    assert feature["properties"]["s"] == {"fillColor": "#abc"}


def test_colours_follow_the_values() -> None:
    values = np.array([5.0, 1.0, np.nan, 3.0, 9.0, 7.0])
    fill, edges, labels = maps.color_bins(values, colors=["#a", "#b", "#c"])
    assert fill[2] == "#cccccc"
    order = np.argsort(values[[0, 1, 3, 4, 5]])
    ranks = [["#a", "#b", "#c"].index(c) for c in fill[[0, 1, 3, 4, 5]][order]]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == 2
    assert len(labels) == len(edges) - 1 == 3
    constant, _, constant_labels = maps.color_bins(np.full(4, 2.0))
    assert len(set(constant)) == 1 and len(constant_labels) == 1


def test_large_grids_are_drawn_coarser_conserving_sums_and_means() -> None:
    table = _score_table(resolution=9)
    table["share"] = 0.25
    shown = maps.cells_for_display(table, max_polygons=len(table) // 5,
                                   how={"score": "mean", "share": "mean"})
    assert len(shown) <= len(table) // 5
    assert int(grid.cells_resolution(shown.index.to_numpy()[:1])[0]) < 9
    assert shown["people"].sum() == pytest.approx(table["people"].sum())
    assert np.allclose(shown["share"], 0.25)
    assert table["score"].min() <= shown["score"].min() <= shown["score"].max() <= table["score"].max()
    assert maps.cells_for_display(table, max_polygons=len(table)) is table
    fmap = maps.base_map((22.6, 114.05))
    assert maps.add_cells(fmap, table, "score", name="S", max_polygons=200).n_features <= 200


def test_transfer_arrows_point_at_the_destination_and_widen_with_quantity() -> None:
    moves = pd.DataFrame({"from_lat": [22.5, 22.5], "from_lng": [114.0, 114.0],
                          "to_lat": [22.7, 22.6], "to_lng": [114.2, 113.9], "quantity": [10, 40]})
    layer = maps.add_transfers(maps.base_map((22.6, 114.0)), moves)
    features = json.loads(layer.data)["features"]
    for feature, (_, move) in zip(features, moves.iterrows(), strict=True):
        path = feature["geometry"]["coordinates"]
        assert path[0] == [move.from_lng, move.from_lat]
        assert path[1] == path[3] == [move.to_lng, move.to_lat]  # both head strokes meet the tip
    assert features[1]["properties"]["s"]["weight"] > features[0]["properties"]["s"]["weight"]
    with pytest.raises(ValueError, match="lacks column"):
        maps.add_transfers(maps.base_map((0, 0)), moves.drop(columns="to_lat"))


def test_points_from_geometry_or_columns_and_clear_error() -> None:
    import geopandas as gpd
    from shapely.geometry import Point

    points = gpd.GeoDataFrame({"name": ["<b>x</b>"]}, geometry=[Point(114.0, 22.5)], crs=4326)
    layer = maps.add_points(maps.base_map((22.5, 114.0)), points, name="P", title="name")
    feature = json.loads(layer.data)["features"][0]
    assert feature["geometry"]["coordinates"] == [114.0, 22.5]
    assert "&lt;b&gt;x&lt;/b&gt;" in feature["properties"]["tip"]  # escaped, not injected
    with pytest.raises(ValueError, match="needs `lat` and `lng`"):
        maps.add_points(maps.base_map((0, 0)), pd.DataFrame({"x": [1]}), name="bad")
