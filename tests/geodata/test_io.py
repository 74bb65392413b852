"""Reading inputs: format round trips, readable errors, and the real Helsinki OSM extract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geodata import io
from geodata._errors import InputDataError


@pytest.fixture
def stores(demo_region):
    return demo_region.stores.iloc[:25].copy()


@pytest.mark.parametrize("suffix", [".parquet", ".gpkg", ".geojson", ".csv"])
def test_stores_round_trip_through_every_format(stores, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"stores{suffix}"
    if suffix == ".parquet":
        stores.to_parquet(path)
    elif suffix == ".csv":
        pd.DataFrame(stores.drop(columns="geometry")).assign(
            lat=stores.geometry.y, lng=stores.geometry.x).to_csv(path, index=False)
    else:
        stores.to_file(path, driver={".gpkg": "GPKG", ".geojson": "GeoJSON"}[suffix])
    back = io.read_stores(path)
    assert back.crs.to_epsg() == 4326
    assert back["store_id"].tolist() == stores["store_id"].tolist()
    assert back["channel"].tolist() == stores["channel"].tolist()
    np.testing.assert_allclose(back["annual_sales"], stores["annual_sales"])
    np.testing.assert_allclose(back.geometry.x, stores.geometry.x, atol=1e-7)
    np.testing.assert_allclose(back.geometry.y, stores.geometry.y, atol=1e-7)


def test_plain_and_partitioned_parquet(tmp_path: Path, random_points: pd.DataFrame) -> None:
    folder = tmp_path / "footfall"
    folder.mkdir()
    for i, start in enumerate(range(0, len(random_points), 7_000)):
        random_points.iloc[start:start + 7_000].to_parquet(folder / f"part-{i}.parquet",
                                                           index=False)
    frame = io.read_footfall(folder)
    assert len(frame) == len(random_points)
    assert frame["count"].sum() == random_points["count"].sum()


def test_read_errors_are_readable(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="nowhere.csv: file not found"):
        io.read_stores(tmp_path / "nowhere.csv")
    odd = tmp_path / "stores.txt"
    odd.write_text("x")
    with pytest.raises(InputDataError, match=r"unknown file type '.txt'.*\.gpkg"):
        io.read_stores(odd)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(InputDataError, match="could not be read"):
        io.read_table(broken)


def test_bad_csv_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "competitors.csv"
    path.write_text("competitor_id,brand,lat,lng,floor_area_m2\n"
                    "c1,A,22.5,114.0,100\n"
                    "c1,B,114.2,22.6,-3\n"
                    "c3,C,,114.1,80\n")
    with pytest.raises(InputDataError) as info:
        io.read_competitors(path)
    rendered = str(info.value)
    assert rendered.startswith("competitors.csv: 4 problems found")
    assert "column `lat`, row 3: coordinate is missing" in rendered
    assert "column `lat`, row 2" in rendered and "swapped" in rendered
    assert "column `competitor_id`, rows 1, 2: id appears more than once" in rendered
    assert "column `floor_area_m2`, row 2: value is negative" in rendered


def test_helsinki_pois_by_category(helsinki_pbf: Path) -> None:
    pois = io.read_osm_pois(helsinki_pbf)
    counts = pois["category"].value_counts()
    assert set(counts.index) <= set(io.POI_CATEGORIES)
    assert {"food", "retail", "office", "transit"} <= set(counts.index)
    assert counts["food"] > 100 and counts["retail"] > 100
    assert (pois.geom_type == "Point").all() and pois["poi_id"].is_unique
    minx, miny, maxx, maxy = pois.total_bounds
    assert 24.8 < minx and maxx < 25.1 and 60.1 < miny and maxy < 60.3
    restaurants = pois[pois["osm_tag"] == "restaurant"]
    assert (restaurants["category"] == "food").all() and len(restaurants) > 50


def test_helsinki_competitor_shops(helsinki_pbf: Path) -> None:
    shops = io.read_osm_competitors(helsinki_pbf)
    assert len(shops) >= 5
    assert set(shops["shop"]) <= set(io.ELECTRONICS_SHOPS)
    assert shops["competitor_id"].is_unique and shops["brand"].notna().all()
    phones = io.read_osm_competitors(helsinki_pbf, shop_types=["mobile_phone"])
    assert 0 < len(phones) < len(shops)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_of_chinese_exports(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "stores.csv"
    path.write_bytes("store_id,name,lat,lng\nS1,深圳福田店,22.54,114.05\n".encode(encoding))
    stores = io.read_stores(path)
    assert stores["name"].tolist() == ["深圳福田店"] and list(stores.columns)[0] == "store_id"


def test_undecodable_csv_names_the_encodings(tmp_path: Path) -> None:
    path = tmp_path / "stores.csv"
    path.write_bytes(b"store_id,lat,lng\n\xff\xfe\xff,22.5,114.0\n")
    with pytest.raises(InputDataError, match="neither UTF-8 nor GBK/GB18030"):
        io.read_stores(path)


def test_workbook_sheet_by_option_or_after_the_file_name(tmp_path: Path) -> None:
    book = tmp_path / "skus.xlsx"
    skus = pd.DataFrame({"sku": ["A"], "category": ["phone"], "unit_cost": [100.0]})
    with pd.ExcelWriter(book) as writer:
        pd.DataFrame().to_excel(writer, sheet_name="Cover", index=False)
        skus.to_excel(writer, sheet_name="Data", index=False)
    with pytest.raises(InputDataError, match=r"first sheet 'Cover'.*'Cover', 'Data'"):
        io.read_skus(book)
    assert io.read_skus(book, layer="Data")["sku"].tolist() == ["A"]
    assert io.read_skus(f"{book}#Data")["sku"].tolist() == ["A"]
    with pytest.raises(InputDataError, match="no sheet 'Prices'"):
        io.read_skus(f"{book}#Prices")


def test_remote_paths_and_damaged_extracts_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="remote address"):
        io.read_stores("s3://bucket/stores.parquet")
    with pytest.raises(InputDataError, match="--engine dask"):
        io.read_footfall_points("s3://bucket/footfall/")
    garbage = tmp_path / "x.osm.pbf"
    garbage.write_bytes(b"\x00\x00\x00\x0dnot a protocol buffer" * 20)
    with pytest.raises(InputDataError, match="could not be decoded"):
        io.read_osm_pois(garbage)


def test_footfall_parquet_is_checked_like_csv(tmp_path: Path) -> None:
    path = tmp_path / "ff.parquet"
    pd.DataFrame({"lat": [22.5, 22.6], "lng": [114.0, 114.1], "count": [3.0, -1.0]}).to_parquet(path)
    with pytest.raises(InputDataError, match=r"ff.parquet, column `count`, row 2: value is negative"):
        io.read_footfall_points(path)
