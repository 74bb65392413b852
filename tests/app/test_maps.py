"""Map builders: nothing loaded from outside the project, cell layers, coarsening, legends, arrows."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import branca.colormap
import folium
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
    assert [payload["prefix"] + c for c in payload["cells"]] == grid.cells_to_str(
        table.index.to_numpy()).tolist()
    assert payload["labels"] == ["Site score"]
    assert np.allclose(payload["values"][0], table["score"], rtol=1e-3)  # 4 significant digits
    colours = [payload["palette"][i] for i in payload["color"]]
    assert set(colours) == set(maps.PALETTE)
    best, worst = int(table["score"].argmax()), int(table["score"].argmin())
    assert colours[best] == maps.PALETTE[-1] and colours[worst] == maps.PALETTE[0]
    page = fmap.get_root().render()
    assert "xingtu-legend" in page and "xingtu-cells" in page


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


# ---- readable maps: classification, legends, markers, units, view, offline reference ----------


def test_quantile_breaks_match_independently_computed_quantiles() -> None:
    rng = np.random.default_rng(3)
    values = rng.lognormal(size=1001)
    edges = maps.classify(values, "quantiles", k=4)
    ordered = np.sort(values)
    # 1001 values: the quartiles are exactly the 0th, 250th, 500th, 750th and 1000th of them
    assert edges.tolist() == [ordered[0], ordered[250], ordered[500], ordered[750], ordered[1000]]
    counts = np.bincount(maps.class_of(values, edges), minlength=4)
    assert counts.tolist() == [251, 250, 250, 250]  # the first class holds the minimum too


def test_equal_interval_breaks_have_one_width() -> None:
    values = np.array([2.0, 3.0, 5.0, 11.0, np.nan])
    edges = maps.classify(values, "equal_interval", k=3)
    assert edges.tolist() == [2.0, 5.0, 8.0, 11.0]
    assert maps.class_of(values, edges).tolist() == [0, 0, 0, 2, -1]


def _brute_force_jenks(values: np.ndarray, k: int) -> float:
    from itertools import combinations

    ordered = np.sort(values)
    best = np.inf
    for cuts in combinations(range(1, len(ordered)), k - 1):
        parts = np.split(ordered, cuts)
        best = min(best, sum(float(((p - p.mean()) ** 2).sum()) for p in parts))
    return best


def test_natural_breaks_reach_the_least_squared_deviation_of_every_split() -> None:
    rng = np.random.default_rng(11)
    for _ in range(5):
        values = np.round(rng.gamma(2.0, size=12) * 10, 1)
        edges = maps.classify(values, "natural_breaks", k=3)
        klass = maps.class_of(values, edges)
        found = sum(float(((values[klass == c] - values[klass == c].mean()) ** 2).sum())
                    for c in np.unique(klass))
        assert found == pytest.approx(_brute_force_jenks(values, 3))
    with pytest.raises(ValueError, match="`scheme`='kmeans'"):
        maps.classify(values, "kmeans")  # type: ignore[arg-type]


def test_every_layer_drawn_has_a_legend_or_a_key_entry() -> None:
    table = _score_table()
    fmap = maps.base_map((22.6, 114.05))
    maps.add_cells(fmap, table, "score", name="Site score")
    maps.add_cells(fmap, table.head(20), "people", name="Gaps", legend="", colors=["#636363"])
    points = pd.DataFrame({"lat": [22.6, 22.62], "lng": [114.0, 114.02]})
    for kind in ("own_store", "competitor", "chosen", "rejected"):
        maps.add_points(fmap, points, name=f"Layer {kind}", marker=kind)
    maps.add_points(fmap, points, name="Plain circles", color="#123456")
    maps.add_radius_circles(fmap, points, 2.0, name="Reach", color=maps.REACH_COLOR)
    moves = pd.DataFrame({"from_lat": [22.5], "from_lng": [114.0], "to_lat": [22.7],
                          "to_lng": [114.2], "quantity": [5]})
    maps.add_transfers(fmap, moves, name="Moves")
    maps.finish(fmap)
    legends = [c for c in fmap._children.values() if isinstance(c, maps.Legend)]
    keys = [c for c in fmap._children.values() if isinstance(c, maps.MapKey)]
    assert [legend.html.startswith("<b>Site score</b>") for legend in legends] == [True]
    assert len(keys) == 1
    layer_names = {c.layer_name for c in fmap._children.values()
                   if isinstance(c, folium.map.Layer) and c.control}
    assert layer_names == {"Site score", *keys[0].labels} - {"Moves (wider: more units)"} | {"Moves"}
    page = fmap.get_root().render()
    assert "Map key" in page and page.count("xingtu-legend") >= 2


def test_marker_styles_are_distinct_and_off_the_score_palette() -> None:
    site_kinds = ["own_store", "competitor", "candidate", "user_candidate", "chosen", "approved",
                  "surveyed", "rejected", "new_shop"]
    looks = {kind: maps.MARKERS[kind] for kind in site_kinds}
    # each kind on one map differs by shape or colour from every other (chosen and new shop are
    # the same idea, a new site, on two different pages)
    pairs = {(look.shape, look.fill, look.stroke) for kind, look in looks.items() if kind != "new_shop"}
    assert len(pairs) == len(site_kinds) - 1
    palette = {c.lower() for c in maps.PALETTE}
    for kind, look in looks.items():
        assert look.fill.lower() not in palette, kind
        assert look.stroke.lower() not in palette, kind
    assert maps.REACH_COLOR.lower() not in palette
    svgs = {maps.marker_svg(look) for look in looks.values()}
    assert len(svgs) == len(site_kinds) - 1  # chosen and new shop share one symbol
    with pytest.raises(ValueError, match="`marker`='flag'"):
        maps.add_points(maps.base_map((0, 0)), pd.DataFrame({"lat": [0], "lng": [0]}), name="x",
                        marker="flag")


def test_tooltips_and_legends_carry_units() -> None:
    rows = pd.DataFrame({"lat": [22.6], "lng": [114.0], "expected_sales": [16307.700000000004],
                         "cannibalisation_rate": [0.95], "fan_index": [0.00075]})
    tip = maps.tooltip_html(rows, {"expected_sales": "Expected sales",
                                   "cannibalisation_rate": "Cannibalisation",
                                   "fan_index": "Fan index"}).iloc[0]
    assert "16,308 CNY" in tip and "95.0 %" in tip and "0.75 ‰" in tip
    table = _score_table()
    table["fan_index"] = np.linspace(0.0001, 0.002, len(table))
    fmap = maps.base_map((22.6, 114.05))
    layer = maps.add_cells(fmap, table, "fan_index", name="Fan index",
                           tooltip={"fan_index": "Fan index", "people": "People"})
    assert layer.payload["units"] == ["permille", "number"]
    legend = next(c for c in fmap._children.values() if isinstance(c, maps.Legend))
    assert "‰" in legend.html and "0.1 ‰" in legend.html


def test_view_is_fitted_to_contain_every_cell() -> None:
    table = _score_table()
    fmap = maps.base_map((0.0, 0.0), zoom=12)  # a wrong start view, corrected by finish
    maps.add_cells(fmap, table, "score", name="Score")
    maps.finish(fmap)
    fitted = [c for c in fmap._children.values() if isinstance(c, folium.map.FitBounds)]
    assert len(fitted) == 1
    (south, west), (north, east) = fitted[0].bounds
    from shapely import get_coordinates

    xy = get_coordinates(grid.cells_to_polygons(table.index.to_numpy()))
    assert south <= xy[:, 1].min() and north >= xy[:, 1].max()
    assert west <= xy[:, 0].min() and east >= xy[:, 0].max()
    assert north - south < 1.0 and east - west < 1.0  # fitted, not the whole world


def test_outlines_and_place_names_are_bundled_and_drawn_near_the_data() -> None:
    table = _score_table()  # Shenzhen
    fmap = maps.base_map((22.6, 114.05))
    maps.add_cells(fmap, table, "score", name="Score")
    maps.finish(fmap)
    reference = [c for c in fmap._children.values() if isinstance(c, maps.ReferenceLayer)]
    assert len(reference) == 1
    names = {label["n"] for label in json.loads(reference[0].labels)}
    assert {"Shenzhen", "Dongguan"} <= names
    outlines = maps.bundled_outlines()
    assert len(outlines["features"]) == 8
    import shapely

    shenzhen = next(f for f in outlines["features"] if f["properties"]["name"] == "Shenzhen")
    polygon = shapely.from_geojson(json.dumps(shenzhen["geometry"]))
    seat = maps.bundled_places().set_index("name").loc["Shenzhen"]
    assert polygon.contains(shapely.Point(seat["lng"], seat["lat"]))
    assert 1_500 < polygon.area * 111.0 * 102.6 < 2_500  # about 2,000 km2
    assert maps.external_urls(fmap) == []
    page = fmap.get_root().render()
    assert "https://" not in page.replace("https://leafletjs.com", "").replace(
        "http://www.w3.org/2000/svg", "")


def test_a_single_layer_can_be_mapped_with_each_scheme() -> None:
    table = _score_table()
    table["footfall"] = np.random.default_rng(2).pareto(1.5, len(table)) * 1000
    drawn = {}
    for scheme in maps.SCHEMES:
        fmap = maps.base_map((22.6, 114.05))
        layer = maps.add_cells(fmap, table, "footfall", name="Footfall", scheme=scheme)
        drawn[scheme] = [layer.payload["palette"][i] for i in layer.payload["color"]]
        legend = next(c for c in fmap._children.values() if isinstance(c, maps.Legend))
        assert legend.html.count("<div>") == len(maps.PALETTE)
    # on skewed values, equal intervals put nearly everything in the first class, quantiles do not
    first = maps.PALETTE[0]
    assert drawn["equal_interval"].count(first) > 0.8 * len(table)
    assert drawn["quantiles"].count(first) < 0.2 * len(table)
