"""Input checks: every problem of an input reported together, naming file, column, row and fix."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geodata._errors import InputDataError, Problem
from geodata._validate import SCHEMAS, Column, Schema, register_schema, schema_of, validate


def _good_frame(schema: Schema, n: int = 3) -> pd.DataFrame:
    """Return a small table satisfying ``schema`` (built from the schema itself)."""
    columns: dict[str, object] = {}
    for column in schema.columns:
        if column.type == "date":
            columns[column.name] = pd.date_range("2025-01-01", periods=n).astype(str)
        elif column.choices:
            columns[column.name] = [column.choices[0]] * n
        elif column.type in ("id", "text"):
            columns[column.name] = [f"{column.name}-{i}" for i in range(n)]
        else:
            low = column.minimum if column.minimum is not None else 0.0
            high = column.maximum if column.maximum is not None else low + 10
            columns[column.name] = np.linspace(low, high, n).round(0 if column.type == "integer"
                                                                    else 3)
    if schema.geometry == "polygon":
        boxes = [shapely.box(114.0 + i / 10, 22.5, 114.05 + i / 10, 22.55) for i in range(n)]
        return gpd.GeoDataFrame(columns, geometry=boxes, crs="EPSG:4326")
    if schema.geometry is not None:
        columns["lat"] = np.linspace(22.5, 22.6, n)
        columns["lng"] = np.linspace(114.0, 114.1, n)
    return pd.DataFrame(columns)


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_every_kind_accepts_a_good_table(kind: str) -> None:
    frame = validate(_good_frame(SCHEMAS[kind]), kind, source=f"{kind}.csv")
    assert len(frame) == 3
    if SCHEMAS[kind].geometry == "point":
        assert frame.crs.to_epsg() == 4326
        assert frame.geometry.y.tolist() == pytest.approx([22.5, 22.55, 22.6])


def test_all_problems_of_one_file_in_one_error() -> None:
    frame = pd.DataFrame({
        "stor_id": ["a", "b", "c", "d"],                    # misspelt required column
        "latitude": [22.5, np.nan, 114.1, 22.6],           # missing, swapped
        "longitude": [114.0, 114.0, 22.4, 500.0],          # out of range
        "channel": ["own_store", "mall", "small_store", "key_account"],
        "annual_sales": [1e6, -5.0, 2e6, "lots"],          # negative, not a number
    })
    with pytest.raises(InputDataError) as info:
        validate(frame, "stores", source="stores.csv")
    error = info.value
    found = {(p.column, p.rows, p.message.split(":")[0]) for p in error.problems}
    assert ("store_id", (), "required column `store_id` is missing") in found
    assert any(p.column == "latitude" and p.rows == (2,) and "missing" in p.message
               for p in error.problems)
    assert any(p.column == "latitude" and p.rows == (3,) and "swapped" in p.message
               for p in error.problems)
    assert any(p.column == "longitude" and p.rows == (4,) for p in error.problems)
    assert any(p.column == "channel" and p.rows == (2,) and p.value == "mall"
               for p in error.problems)
    assert any(p.column == "annual_sales" and p.rows == (2,) and "negative" in p.message
               for p in error.problems)
    assert any(p.column == "annual_sales" and p.rows == (4,) and "not a number" in p.message
               for p in error.problems)
    assert all(p.source == "stores.csv" and p.fix for p in error.problems)
    text = str(error)
    assert text.splitlines()[0] == f"stores.csv: {len(error.problems)} problems found"
    assert "rename column `stor_id` to `store_id`" in text
    assert len(text.splitlines()) == len(error.problems) + 1


def test_duplicate_ids_and_combinations() -> None:
    stores = _good_frame(SCHEMAS["stores"]).assign(store_id=["s1", "s2", "s1"])
    with pytest.raises(InputDataError, match=r"column `store_id`, rows 1, 3: id appears more"):
        validate(stores, "stores", source="s.csv")
    stock = pd.DataFrame({"location_id": ["S1", "S1", "S2"], "sku": ["A", "A", "A"],
                          "on_hand": [1, 2, 3]})
    with pytest.raises(InputDataError, match="rows 1, 2: the same combination"):
        validate(stock, "stock", source="stock.csv")


def test_missing_values_and_many_rows_are_summarised() -> None:
    footfall = pd.DataFrame({"lat": np.full(12, 22.5), "lng": np.full(12, 114.0),
                             "count": [np.nan] * 8 + [1.0] * 4})
    with pytest.raises(InputDataError) as info:
        validate(footfall, "footfall", source="f.csv")
    (problem,) = info.value.problems
    assert problem.n_rows == 8 and problem.rows == (1, 2, 3, 4, 5)
    assert "rows 1, 2, 3, 4, 5 and 3 more" in problem.render()


def test_crs_missing_is_refused_and_known_crs_is_reprojected() -> None:
    points = gpd.GeoDataFrame({"count": [1, 2]},
                              geometry=gpd.points_from_xy([114.0, 114.1], [22.5, 22.6]))
    with pytest.raises(InputDataError, match="no coordinate reference system"):
        validate(points, "footfall", source="f.gpkg")
    projected = points.set_crs(4326).to_crs(3857)
    checked = validate(projected, "footfall", source="f.gpkg")
    assert checked.crs.to_epsg() == 4326
    np.testing.assert_allclose(checked.geometry.x, [114.0, 114.1])


def test_invalid_empty_and_wrong_geometries() -> None:
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    areas = gpd.GeoDataFrame({"population": [10, 20, 30]},
                             geometry=[shapely.box(114, 22.5, 114.1, 22.6), bowtie,
                                       shapely.Polygon()], crs=4326)
    with pytest.raises(InputDataError) as info:
        validate(areas, "population", source="census.gpkg")
    messages = {p.rows: p.message for p in info.value.problems}
    assert messages[(2,)] == "geometry is invalid" and messages[(3,)] == "geometry is empty"
    lines = gpd.GeoDataFrame({"count": [1]}, geometry=[shapely.LineString([(114, 22), (114.1, 22)])],
                             crs=4326)
    with pytest.raises(InputDataError, match="geometry is not a point"):
        validate(lines, "footfall", source="f.geojson")


def test_tables_without_locations_and_empty_tables() -> None:
    with pytest.raises(InputDataError, match="rename them to `lat` and `lng`"):
        validate(pd.DataFrame({"count": [1], "lati": [22.5], "lngg": [114.0]}), "footfall")
    with pytest.raises(InputDataError, match="the table has no rows"):
        validate(pd.DataFrame({"sku": [], "category": [], "unit_cost": []}), "skus")


def test_unknown_kind_suggests_the_near_one_and_custom_schemas_work() -> None:
    with pytest.raises(ValueError, match="Did you mean 'stores'"):
        schema_of("stors")
    register_schema(Schema("test_depots", (Column("depot_id", "id", unique=True),
                                           Column("doors", "integer", minimum=1)), geometry=None))
    try:
        with pytest.raises(InputDataError, match="not a whole number"):
            validate(pd.DataFrame({"depot_id": ["d"], "doors": [1.5]}), "test_depots")
    finally:
        SCHEMAS.pop("test_depots")


def test_error_renders_for_a_web_page_and_as_records() -> None:
    error = InputDataError([Problem("a.csv", "value is negative", "use 0 or more", "units",
                                    (4,), -2, 1)], "a.csv")
    assert error.to_markdown().startswith("**a.csv**: 1 problem found")
    assert error.to_records() == [{"file": "a.csv", "column": "units", "row": 4, "rows": 1,
                                   "value": -2, "message": "value is negative",
                                   "fix": "use 0 or more"}]
    assert isinstance(error, ValueError)


def test_one_input_error_type_for_files_and_tables() -> None:
    from optimizer.errors import InputError

    assert InputDataError is InputError
    with pytest.raises(InputError):
        validate(pd.DataFrame({"count": [1], "lat": [95.0], "lng": [10.0]}), "footfall")


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_numbers_and_coordinates_are_refused_with_row(value: float) -> None:
    frame = pd.DataFrame({"count": [1.0, value, 2.0], "lat": [22.5, 22.6, value],
                          "lng": [114.0, 114.1, 114.2]})
    with pytest.raises(InputDataError) as caught:
        validate(frame, "footfall", source="ff.csv")
    rendered = [p.render() for p in caught.value.problems]
    assert any(r.startswith("ff.csv, column `count`, row 2: value is infinite") for r in rendered)
    assert any(r.startswith("ff.csv, column `lat`, row 3:") for r in rendered)


def test_invalid_geometry_names_the_full_reason() -> None:
    bow = shapely.Polygon([(113.0, 22.0), (113.1, 22.1), (113.1, 22.0), (113.0, 22.1)])
    frame = gpd.GeoDataFrame({"population": [1]}, geometry=[bow], crs="EPSG:4326")
    with pytest.raises(InputDataError) as caught:
        validate(frame, "population")
    assert caught.value.problems[0].value == "Self-intersection[113.05 22.05]"


def test_empty_point_is_named_not_a_geos_error() -> None:
    frame = gpd.GeoDataFrame({"store_id": ["S1", "S2"]},
                             geometry=[shapely.Point(114.0, 22.5), shapely.Point()],
                             crs="EPSG:4326")
    with pytest.raises(InputDataError) as caught:
        validate(frame, "stores", source="stores.gpkg")
    assert caught.value.problems[0].render().startswith(
        "stores.gpkg, column `geometry`, row 2: geometry is empty")


def test_coordinates_that_do_not_fit_the_stated_crs_name_the_likely_one() -> None:
    degrees = gpd.GeoDataFrame({"store_id": ["S1", "S2"]},
                               geometry=[shapely.Point(113.9, 22.5), shapely.Point(114.1, 22.6)],
                               crs="EPSG:4326")
    with pytest.raises(InputDataError, match="EPSG:4326"):
        validate(degrees.set_crs("EPSG:3857", allow_override=True), "stores")
    with pytest.raises(InputDataError, match="EPSG:3857"):
        validate(degrees.to_crs("EPSG:3857").set_crs("EPSG:4326", allow_override=True), "stores")
    utm = validate(degrees.to_crs("EPSG:32649"), "stores")  # a real projection is reprojected
    assert np.allclose(utm.geometry.x, [113.9, 114.1])


def test_extreme_footfall_counts_are_kept_with_a_warning() -> None:
    from optimizer.errors import InputWarning

    frame = pd.DataFrame({"count": [30.0, 25.0, 2_000_000.0, 40.0], "lat": 22.5, "lng": 114.0})
    with pytest.warns(InputWarning, match=r"ff.csv, column `count`, row 3: 2,000,000 is more than"):
        checked = validate(frame, "footfall", source="ff.csv")
    assert checked["count"].tolist() == [30.0, 25.0, 2_000_000.0, 40.0]
