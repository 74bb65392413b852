"""Areas as cells: exclusion polygons, candidate-site files, districts, user layers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geodata import grid
from geodata._errors import InputDataError
from geodata.areas import (
    candidate_sites_to_cells,
    cells_to_districts,
    polygons_to_cell_ids,
    read_candidate_sites,
    read_exclusion_areas,
)
from geodata.layers import UserLayer, build_layers
from geodata.user_layers import add_user_layer

SQUARE = shapely.box(114.00, 22.50, 114.05, 22.55)


def test_centre_cells_lie_inside_and_overlap_cells_cover() -> None:
    inside = polygons_to_cell_ids(np.array([SQUARE]), 8)
    lat, lng = grid.cells_to_latlng(inside)
    assert shapely.contains_xy(SQUARE, lng, lat).all()
    covering = polygons_to_cell_ids(np.array([SQUARE]), 8, containment="overlap")
    assert set(inside) < set(covering)
    hexagons = shapely.union_all(grid.cells_to_polygons(covering))
    assert hexagons.buffer(1e-9).contains(SQUARE)
    # About the square's area in resolution-8 cells (0.737 km2 each).
    km2 = 5.14 * 5.55
    assert 0.8 * km2 / 0.737 < len(inside) < 1.2 * km2 / 0.737


def test_cells_restriction_and_projected_polygons() -> None:
    inside = polygons_to_cell_ids(np.array([SQUARE]), 8)
    some = inside[::3]
    assert polygons_to_cell_ids(np.array([SQUARE]), 8, cells=some).tolist() == sorted(some)
    projected = gpd.GeoSeries([SQUARE], crs=4326).to_crs(32649)
    assert polygons_to_cell_ids(projected, 8).tolist() == inside.tolist()
    with pytest.raises(ValueError, match="not a polygon"):
        polygons_to_cell_ids(np.array([shapely.Point(114.0, 22.5)]), 8)


def test_exclusion_file_round_trip(tmp_path) -> None:
    path = tmp_path / "no_go.gpkg"
    gpd.GeoDataFrame({"name": ["airport"]}, geometry=[SQUARE], crs=4326).to_file(path)
    areas = read_exclusion_areas(path)
    assert polygons_to_cell_ids(areas, 8).tolist() == polygons_to_cell_ids(
        np.array([SQUARE]), 8).tolist()
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame({"name": ["x"]}, geometry=[shapely.Point(114, 22.5)], crs=4326).to_file(points)
    with pytest.raises(InputDataError, match="not a polygon"):
        read_exclusion_areas(points)


def test_candidate_files_by_points_and_by_cells(tmp_path) -> None:
    by_points = tmp_path / "offers.csv"
    by_points.write_text("site_id,name,latitude,longitude\nA1,Mall unit,22.54,114.06\n"
                         "A2,Street shop,22.60,114.10\n")
    sites = read_candidate_sites(by_points)
    cells = candidate_sites_to_cells(sites, 8)
    assert cells.tolist() == grid.points_to_cells(np.array([22.54, 22.60]),
                                                  np.array([114.06, 114.10]), 8).tolist()
    by_cells = tmp_path / "cells.csv"
    fine = grid.cells_to_str(grid.points_to_cells(np.array([22.54]), np.array([114.06]), 10))[0]
    by_cells.write_text(f"cell\n{grid.cells_to_str(cells)[1]}\n{fine}\n")
    from_cells = candidate_sites_to_cells(read_candidate_sites(by_cells), 8)
    assert from_cells.tolist() == [cells[1], cells[0]]  # the finer cell moves to its parent
    bad = tmp_path / "bad.csv"
    bad.write_text("cell\n881f1d4a8bfffff\nnot-a-cell\n")
    with pytest.raises(InputDataError, match="row 2"):
        read_candidate_sites(bad)


def test_districts_are_the_nearest_place_of_the_same_region() -> None:
    rng = np.random.default_rng(0)
    layers = pd.DataFrame({"lat": 22.5 + rng.uniform(0, 0.3, 300),
                           "lng": 113.8 + rng.uniform(0, 0.6, 300)})
    layers["region"] = np.where(layers["lng"] < 114.1, "West", "East")
    places = pd.DataFrame({"name": ["W1", "W2", "E1", "East"], "region": ["West", "West",
                                                                         "East", "East"],
                           "lat": [22.6, 22.7, 22.6, 22.75], "lng": [113.9, 114.05, 114.3,
                                                                     114.2]})
    district = cells_to_districts(layers, places)
    for row, label in zip(layers.itertuples(), district, strict=True):
        own = places[places["region"] == row.region]
        d = (own["lat"] - row.lat) ** 2 + ((own["lng"] - row.lng) * np.cos(np.radians(22.6))) ** 2
        nearest = own["name"].iloc[int(np.argmin(d.to_numpy()))]
        expected = row.region if nearest == row.region else f"{row.region} · {nearest}"
        assert label == expected
    assert "East" in set(district)  # a place named like its region is the region alone


def test_user_layer_added_to_an_existing_table() -> None:
    footfall = pd.DataFrame({"lat": [22.54, 22.60], "lng": [114.06, 114.10], "count": [5, 7]})
    table = build_layers(footfall=footfall)
    survey = pd.DataFrame({"lat": [22.54, 22.54], "lng": [114.06, 114.06],
                           "awareness": [0.2, 0.6]})
    added = add_user_layer(table, UserLayer("brand_awareness", survey, "awareness", "mean"))
    assert added["brand_awareness"].iloc[0] == pytest.approx(0.4)
    assert np.isnan(added["brand_awareness"].iloc[1])  # no survey there: unknown, not 0
    counted = add_user_layer(table, UserLayer("answers", survey, how="count"))
    assert counted["answers"].tolist() == [2.0, 0.0]
