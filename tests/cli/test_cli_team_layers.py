"""The team's layers from the command line: ``xingtu layers --layer --members``, ``xingtu sites
--layer --weight`` and ``xingtu battlefields``, read back and compared with a hand aggregation.
"""

from __future__ import annotations

from pathlib import Path

import h3
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from geodata.layers import load_layers
from geodata.members import read_members
from optimizer.member_value import customer_value
from xingtu.cli import app

runner = CliRunner()


@pytest.fixture
def team_files(small_inputs: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """A brand-awareness survey and a members' file on the cells of the small region."""
    layers = load_layers(small_inputs["layers"])
    rng = np.random.default_rng(2)
    picked = layers.sample(60, random_state=2)
    survey = pd.DataFrame({"lat": picked["lat"].to_numpy(), "lng": picked["lng"].to_numpy(),
                           "awareness": rng.uniform(0, 1, 60).round(3)})
    homes = layers.sample(20, random_state=5)
    n = 80
    member = rng.integers(0, 20, n)
    members = pd.DataFrame({
        "member_id": [f"M{m}" for m in member],
        "date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 360, n), "D"),
        "amount": rng.uniform(100, 4000, n).round(),
        "lat": homes["lat"].to_numpy()[member], "lng": homes["lng"].to_numpy()[member]})
    paths = {"survey": tmp_path / "survey.csv", "members": tmp_path / "members.csv"}
    survey.to_csv(paths["survey"], index=False)
    members.to_csv(paths["members"], index=False)
    return paths


def _cell(lat: float, lng: float, resolution: int = 8) -> int:
    return int(h3.latlng_to_cell(lat, lng, resolution), 16)


def test_sites_and_battlefields_weight_the_team_layers(small_inputs: dict[str, Path],
                                                       team_files: dict[str, Path],
                                                       tmp_path: Path) -> None:
    layer_option = f"brand_awareness={team_files['survey']},awareness,mean"
    sites = tmp_path / "sites.csv"
    result = runner.invoke(app, [
        "sites", "--layers", str(small_inputs["layers"]), "--stores", str(small_inputs["stores"]),
        "--n-new", "2", "--radius-km", "1.5", "--layer", layer_option, "--weight", "footfall=0.5",
        "--weight", "brand_awareness=0.5", "--out", str(sites)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(sites)
    assert np.allclose(table["score_footfall"] + table["score_brand_awareness"], table["score"])
    survey = pd.read_csv(team_files["survey"])
    awareness = survey.groupby([_cell(a, b) for a, b in zip(survey["lat"], survey["lng"],
                                                             strict=True)])["awareness"].mean()
    cells = load_layers(small_inputs["layers"]).index
    known = awareness.reindex(cells.to_numpy(dtype=np.uint64)).dropna().to_numpy()
    for cell_id, part in zip(table["cell_id"], table["score_brand_awareness"], strict=True):
        value = awareness.get(int(cell_id, 16))
        share = 0.5 if value is None else float((known < value).sum()) / (len(known) - 1)
        assert part == pytest.approx(0.5 * share)

    ranking = tmp_path / "battlefields.csv"
    result = runner.invoke(app, [
        "battlefields", "--layers", str(small_inputs["layers"]), "--areas", "h3:7",
        "--min-residents", "0", "--layer", layer_option, "--members",
        str(team_files["members"]), "--weight", "brand_awareness=1",
        "--weight", "member_value=0.5", "--out", str(ranking)])
    assert result.exit_code == 0, result.output
    assert "brand_awareness from survey.csv: 60 rows" in result.output
    areas = pd.read_csv(ranking).set_index("area")
    assert {"brand_awareness", "member_value"} <= set(areas.columns)
    assert areas["rank"].tolist() == list(range(1, len(areas) + 1))
    layers = load_layers(small_inputs["layers"])
    values = customer_value(read_members(team_files["members"]))["expected_value"]
    members = pd.read_csv(team_files["members"]).sort_values("date", kind="stable")
    home = members.drop_duplicates("member_id", keep="last").set_index("member_id")
    parent = {m: h3.cell_to_parent(h3.latlng_to_cell(r.lat, r.lng, 8), 7)
              for m, r in home.iterrows()}
    value_by_area = values.groupby(pd.Series(parent)).sum()
    residents = layers["population"].groupby(
        [h3.cell_to_parent(format(int(c), "x"), 7) for c in layers.index]).sum()
    expected = 1e3 * value_by_area.reindex(areas.index).fillna(0) / residents.reindex(areas.index)
    assert np.allclose(areas["member_value"], expected.to_numpy(), equal_nan=True)


def test_layers_command_adds_members_and_checks_files(small_inputs: dict[str, Path],
                                                      team_files: dict[str, Path],
                                                      tmp_path: Path) -> None:
    stores = small_inputs["stores"]
    out = tmp_path / "team_layers.parquet"
    result = runner.invoke(app, ["layers", "--stores", str(stores), "--layer",
                                 f"brand_awareness={team_files['survey']},awareness,mean",
                                 "--members", str(team_files["members"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = load_layers(out)
    values = customer_value(read_members(team_files["members"]))["expected_value"]
    members = pd.read_csv(team_files["members"]).sort_values("date", kind="stable")
    home = members.drop_duplicates("member_id", keep="last").set_index("member_id")
    cell = pd.Series({m: _cell(r.lat, r.lng) for m, r in home.iterrows()})
    by_cell = values.groupby(cell).sum()
    kept = by_cell[by_cell.index.isin(table.index)]
    assert len(kept) >= 1
    assert np.allclose(table.loc[kept.index.to_numpy(dtype=np.uint64), "member_value"], kept)
    assert table["member_value"].sum() == pytest.approx(kept.sum())
    assert table["members"].sum() == cell.isin(table.index).sum()
    assert "brand_awareness" in table.columns

    bad = tmp_path / "bad.csv"
    bad.write_text("lat,lng,awareness\n22.55,113.95,high\n")
    result = runner.invoke(app, ["layers", "--stores", str(stores), "--layer",
                                 f"brand_awareness={bad},awareness,mean", "--out",
                                 str(tmp_path / "x.parquet")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "bad.csv (layer `brand_awareness`), column `awareness`, row 1" in result.output
    assert not (tmp_path / "x.parquet").exists()
    no_place = tmp_path / "members_no_place.csv"
    no_place.write_text("member_id,date,amount\nM1,2025-01-05,899\n")
    result = runner.invoke(app, ["sites", "--layers", str(small_inputs["layers"]), "--stores",
                                 str(stores), "--members", str(no_place), "--out",
                                 str(tmp_path / "s.csv")])
    assert result.exit_code == 2 and "members_no_place.csv" in result.output
