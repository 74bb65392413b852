"""Layers the team brings (:mod:`xingtu.jobs.team_layers`): gridded values equal a hand
aggregation, a weight moves the site score and the battlefield ranking the way its sign says, and
bad files get one error naming the file, column, rows and fix.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest

from geodata.layers import build_layers
from geodata.members import read_members
from optimizer.errors import InputError
from optimizer.member_value import customer_value
from optimizer.scoring import score_cells
from xingtu.jobs import battlefields, team_layers


@pytest.fixture(scope="module")
def region() -> pd.DataFrame:
    """A small layer table at resolution 8 (about 14 x 15 km)."""
    rng = np.random.default_rng(8)
    lat, lng = rng.uniform(22.50, 22.62, 2500), rng.uniform(113.90, 114.05, 2500)
    stores = pd.DataFrame({"store_id": ["S1", "S2"], "lat": [22.55, 22.58],
                           "lng": [113.95, 114.0]})
    return build_layers(
        footfall=pd.DataFrame({"lat": lat, "lng": lng, "count": rng.integers(1, 40, 2500)}),
        population=pd.DataFrame({"lat": lat[:900], "lng": lng[:900],
                                 "population": rng.integers(100, 3000, 900)}),
        customers=pd.DataFrame({"lat": lat[:300], "lng": lng[:300],
                                "devices": rng.integers(1, 3, 300),
                                "ticket": rng.uniform(800, 2500, 300)}),
        stores=stores, competitors=stores.rename(columns={"store_id": "competitor_id"}))


@pytest.fixture(scope="module")
def survey(region: pd.DataFrame) -> pd.DataFrame:
    """Brand awareness answers at 400 points inside the region, several per cell."""
    rng = np.random.default_rng(3)
    picked = region.sample(150, random_state=4)
    rows = rng.integers(0, len(picked), 400)
    return pd.DataFrame({"lat": picked["lat"].to_numpy()[rows] + rng.normal(0, 1e-4, 400),
                         "lng": picked["lng"].to_numpy()[rows] + rng.normal(0, 1e-4, 400),
                         "awareness": rng.uniform(0, 1, 400).round(3)})


def _hand_cells(lat: np.ndarray, lng: np.ndarray, resolution: int = 8) -> np.ndarray:
    """H3 cells computed here with the h3 package, not the library's gridding."""
    return np.array([int(h3.latlng_to_cell(a, b, resolution), 16)
                     for a, b in zip(lat, lng, strict=True)], dtype=np.uint64)


def _hand_percentile(values: pd.Series) -> pd.Series:
    """Share of the other known values strictly lower; unknown values are neutral (0.5)."""
    known = values.dropna().to_numpy()
    out = values.map(lambda v: np.nan if pd.isna(v) else float((known < v).sum()))
    return (out / max(len(known) - 1, 1)).fillna(0.5)


def test_a_user_layer_is_the_mean_per_cell(region: pd.DataFrame, survey: pd.DataFrame) -> None:
    layer = team_layers.user_layer(region, survey, name="brand_awareness", column="awareness")
    by_hand = survey.groupby(_hand_cells(survey["lat"], survey["lng"]))["awareness"].mean()
    got = layer.columns["brand_awareness"]
    assert got.notna().sum() == len(by_hand)
    assert np.allclose(got.loc[by_hand.index.to_numpy(dtype=np.uint64)], by_hand.to_numpy())
    joined = team_layers.with_team_layers(region, [layer])
    assert joined["brand_awareness"].isna().sum() == len(region) - len(by_hand)
    assert set(region.columns) < set(joined.columns)


@pytest.mark.parametrize("weight", [0.6, -0.6])
def test_the_weight_moves_the_site_score_its_way(region: pd.DataFrame, survey: pd.DataFrame,
                                                 weight: float) -> None:
    layers = team_layers.with_team_layers(region, [team_layers.user_layer(
        region, survey, name="brand_awareness", column="awareness")])
    before = score_cells(layers, weights={"footfall": 0.5}).score
    after = score_cells(layers, weights={"footfall": 0.5, "brand_awareness": weight}).score
    by_hand = survey.groupby(_hand_cells(survey["lat"], survey["lng"]))["awareness"].mean()
    by_hand = by_hand.reindex(layers.index.to_numpy(dtype=np.uint64))
    by_hand.index = layers.index
    expected = weight * _hand_percentile(by_hand)
    assert np.allclose(after - before, expected)
    best, worst = by_hand.idxmax(), by_hand.idxmin()
    moved = (after - before)
    assert np.sign(moved[best] - moved[worst]) == np.sign(weight)
    rank_before = before.rank(ascending=False)[best]
    rank_after = after.rank(ascending=False)[best]
    assert (rank_after < rank_before) if weight > 0 else (rank_after > rank_before)


def test_the_weight_moves_the_battlefield_ranking_its_way(region: pd.DataFrame,
                                                          survey: pd.DataFrame) -> None:
    team = [team_layers.user_layer(region, survey, name="brand_awareness", column="awareness")]
    layers = team_layers.with_team_layers(region, team)
    parents = np.array([int(h3.cell_to_parent(format(int(c), "x"), 6), 16)
                        for c in layers.index], dtype=np.uint64)
    known = layers["brand_awareness"].notna()
    frame = pd.DataFrame({"area": [format(int(p), "x") for p in parents],
                          "value": layers["brand_awareness"], "residents": layers["population"]})
    frame = frame[known.to_numpy()]
    residents = frame.groupby("area")["residents"].sum()
    weighted = (frame["value"] * frame["residents"]).groupby(frame["area"]).sum() / residents
    # an area whose answered cells have no residents takes the plain mean of its cells
    weighted = weighted.where(residents > 0, frame.groupby("area")["value"].mean())
    rankings = {w: battlefields.rank_areas(layers, areas="h3:6", team=team, min_residents=0,
                                           weights={"brand_awareness": w}) for w in (-2.0, 0.0, 2.0)}
    table = rankings[0.0].table
    common = weighted.index.intersection(table.index)
    assert len(common) >= 4
    assert np.allclose(table.loc[common, "brand_awareness"], weighted.loc[common])
    values = table["brand_awareness"]
    for weight in (-2.0, 2.0):
        moved = (rankings[weight].table["attractiveness"] - table["attractiveness"]).reindex(
            table.index)
        assert np.allclose(moved, weight * _hand_percentile(values))
        top, bottom = values.idxmax(), values.idxmin()
        rank = rankings[weight].table["rank"]
        assert (rank[top] < rank[bottom]) if weight > 0 else (rank[top] > rank[bottom])


def test_members_file_gives_the_value_per_cell(region: pd.DataFrame, tmp_path: Path) -> None:
    inside = region.sample(3, random_state=1)
    lat, lng = inside["lat"].to_numpy(), inside["lng"].to_numpy()
    rows = [("M1", "2025-01-05", 899, lat[0], lng[0]), ("M1", "2025-06-01", 1299, lat[1], lng[1]),
            ("M2", "2025-03-01", 450, lat[1], lng[1]), ("M2", "2025-09-09", 3000, lat[1], lng[1]),
            ("M3", "2025-11-30", 199, lat[2], lng[2]), ("M4", "2024-12-24", 5000, lat[2], lng[2]),
            ("M5", "2025-07-07", 60, 40.0, 116.4)]  # M5 lives outside the region
    path = tmp_path / "members.csv"
    pd.DataFrame(rows, columns=["member_id", "date", "amount", "lat", "lng"]).to_csv(path,
                                                                                   index=False)
    with pytest.warns(UserWarning, match="outside the layer table"):
        layer = team_layers.member_layer(region, path)
    values = customer_value(read_members(path))["expected_value"]
    latest = {"M1": 1, "M2": 1, "M3": 2, "M4": 2}  # each member's latest row's place
    table = layer.columns
    for position in (1, 2):
        cell = _hand_cells(lat[position:position + 1], lng[position:position + 1])[0]
        living = [m for m, p in latest.items() if p == position]
        assert table.loc[cell, "members"] == len(living)
        assert table.loc[cell, "member_value"] == pytest.approx(values[living].sum())
        assert table.loc[cell, "member_value_per_member"] == pytest.approx(
            values[living].mean())
    first = _hand_cells(lat[:1], lng[:1])[0]
    assert table.loc[first, "members"] == 0  # M1 moved away from there
    assert table["member_value"].sum() == pytest.approx(values.drop("M5").sum())
    assert table["member_value_per_member"].notna().sum() == 2
    assert team_layers.area_aggregation([layer])["member_value"] == "per_resident"


def test_bad_team_files_name_the_file_column_rows_and_fix(region: pd.DataFrame,
                                                          tmp_path: Path) -> None:
    path = tmp_path / "survey.csv"
    path.write_text("lat,lng,awareness\n22.55,113.95,0.4\n22.56,113.96,high\n22.57,113.97,\n")
    with pytest.raises(InputError) as missing:
        team_layers.user_layer(region, path, name="brand_awareness", column="awarness")
    assert "survey.csv" in str(missing.value) and "did you mean `awareness`" in str(missing.value)
    with pytest.raises(InputError) as words:
        team_layers.user_layer(region, path, name="brand_awareness", column="awareness")
    text = str(words.value)
    assert "column `awareness`, row 2: value is not a number (value 'high')" in text
    assert "column `awareness`, row 3: value is missing" in text

    places = tmp_path / "places.csv"
    places.write_text("city,awareness\nShenzhen,0.4\n")
    with pytest.raises(InputError, match="no point locations found.*`lat` and `lng`"):
        team_layers.user_layer(region, places, name="brand_awareness", column="awareness")

    wrong = tmp_path / "malls.gpkg"
    gpd.GeoDataFrame({"fit": [0.7, 0.2]}, geometry=gpd.points_from_xy([113.95, 114.0],
                                                                      [22.55, 22.6]),
                     crs="EPSG:3857").to_file(wrong, driver="GPKG")
    with pytest.raises(InputError, match="malls.gpkg.*EPSG:3857.*look like longitude/latitude"):
        team_layers.user_layer(region, wrong, name="brand_fit", column="fit")

    for name, message in (("Brand Awareness", "lower-case letters"),
                          ("footfall", "already a column")):
        with pytest.raises(InputError, match=message):
            team_layers.user_layer(region, path, name=name, column="awareness")

    members = tmp_path / "members.csv"
    members.write_text("member_id,date,amount\nM1,2025-01-05,899\n")
    with pytest.raises(InputError, match="members.csv.*(lat|locations)"):
        team_layers.member_layer(region, members)
