"""Atomic exports: a failed write leaves the previous file untouched and no temporary file behind."""

from __future__ import annotations

import os
import stat

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from xingtu.export import atomic_write, write_table, write_workbook


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet"])
def test_write_table_round_trips(tmp_path, suffix):
    frame = pd.DataFrame({"sku": ["A", "B"], "quantity": [3, 4]})
    path = write_table(frame, tmp_path / f"plan{suffix}")
    back = {".csv": pd.read_csv, ".xlsx": pd.read_excel, ".parquet": pd.read_parquet}[suffix](path)
    pd.testing.assert_frame_equal(back, frame)


def test_geojson_round_trip(tmp_path):
    frame = gpd.GeoDataFrame({"site": [1]}, geometry=[Point(114.0, 22.5)], crs="EPSG:4326")
    back = gpd.read_file(write_table(frame, tmp_path / "sites.geojson"))
    assert back.geometry.iloc[0].equals(frame.geometry.iloc[0])


def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "plan.csv"
    target.write_text("last week\n")

    def broken(tmp):
        tmp.write_text("half a pla")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "last week\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.csv"]


def test_written_file_has_the_usual_permissions(tmp_path):
    path = write_table(pd.DataFrame({"a": [1]}), tmp_path / "a.csv")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_workbook_keeps_sheet_order(tmp_path):
    sheets = {"plan": pd.DataFrame({"a": [1]}), "kpis": pd.DataFrame({"b": [2]})}
    path = write_workbook(sheets, tmp_path / "week.xlsx")
    assert list(pd.read_excel(path, sheet_name=None)) == ["plan", "kpis"]


def test_unknown_extension_names_the_fix(tmp_path):
    with pytest.raises(ValueError, match="unknown file type '.txt'; use one of"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "a.txt")
