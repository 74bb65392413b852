"""Battlefields: areas of sensible size, named, any layer as a weight, linked to siting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.calibration import Calibration
from optimizer.decisions import SitingDecisions
from optimizer.errors import InputError
from optimizer.scoring import battlefield_ranking, rank_battlefields
from optimizer.siting import run_site_selection

CAL = Calibration(alpha=1.0, beta=2.0, demand_weights={"population": 10.0}, used_defaults=True,
                  cutoff_km=10.0, message="test model")


def _layers(n: int = 120, seed: int = 2) -> pd.DataFrame:
    """Cells in six areas along a west-east line; area F is tiny."""
    rng = np.random.default_rng(seed)
    area = np.array(list("ABCDEF"))[np.minimum(np.arange(n) // (n // 6), 5)]
    lng = 113.9 + 0.05 * (np.arange(n) // (n // 6)) + rng.uniform(0, 0.04, n)
    population = rng.gamma(2, 400, n)
    population[area == "F"] = 10.0
    cells = pd.Index(np.arange(n, dtype=np.uint64) + np.uint64(617700169958293503), name="cell")
    return pd.DataFrame({
        "lat": 22.5 + rng.uniform(0, 0.05, n), "lng": lng, "area": area,
        "region": np.where(lng < 114.05, "West", "East"),
        "population": population, "customers": rng.poisson(population / 50) * 1.0,
        "avg_ticket": rng.uniform(900, 2000, n), "competitor_count": rng.poisson(0.3, n) * 1.0,
        "own_store_distance_km": rng.uniform(0, 8, n), "footfall": rng.gamma(1, 300, n),
        "fan_index": rng.uniform(0, 0.05, n), "competitors_nearby": rng.poisson(1, n) * 1.0,
        "brand_awareness": rng.uniform(0.1, 0.9, n), "own_store_count": np.zeros(n),
    }, index=cells)


def test_small_areas_are_merged_into_the_nearest_large_area() -> None:
    layers = _layers()
    totals = layers.groupby("area")["population"].sum()
    threshold = float(totals.drop("F").min()) - 1.0
    ranking = battlefield_ranking(layers, areas="area", min_residents=threshold)
    assert ranking.small_areas.index.tolist() == ["F"]
    assert ranking.small_areas.loc["F", "merged_into"] == "E"  # its neighbour on the line
    assert (ranking.table["population"] >= threshold).all()
    assert ranking.table["population"].sum() == pytest.approx(layers["population"].sum())
    assert ranking.table["cells"].sum() == len(layers)
    assert set(ranking.area_of_cell[layers["area"] == "F"]) == {"E"}
    assert "1 small areas merged" in ranking.summary()


def test_small_areas_can_be_dropped_and_are_reported() -> None:
    layers = _layers()
    threshold = float(layers.groupby("area")["population"].sum().drop("F").min()) - 1.0
    ranking = battlefield_ranking(layers, areas="area", min_residents=threshold,
                                  small_areas="drop")
    assert "F" not in ranking.table.index
    assert ranking.small_areas["merged_into"].isna().all()
    assert ranking.area_of_cell[layers["area"] == "F"].isna().all()
    assert ranking.table["population"].sum() == pytest.approx(
        layers.loc[layers["area"] != "F", "population"].sum())


def test_too_high_a_threshold_says_the_fix() -> None:
    with pytest.raises(InputError, match="lower `min_residents`"):
        battlefield_ranking(_layers(), areas="area", min_residents=1e12)


def test_areas_are_named_after_their_largest_place() -> None:
    layers = _layers()
    places = pd.DataFrame({"name": ["Apple Town", "Tiny", "Big Creek", "Eastport"],
                           "population": [5e4, 1e3, 9e4, 2e4],
                           "lat": [22.52, 22.52, 22.53, 22.52],
                           "lng": [113.92, 113.93, 113.92, 114.12]})
    ranking = battlefield_ranking(layers, areas="area", min_residents=0, places=places)
    names = ranking.table["name"]
    assert names["A"] == "West · Big Creek"  # the most populous place in area A
    assert names["E"] == "East · Eastport"
    assert names["C"].startswith("West · near ") or names["C"].startswith("East · near ")
    assert set(ranking.table["region"]) <= {"West", "East"}


def test_any_numeric_layer_is_a_weight() -> None:
    layers = _layers()
    ranking = battlefield_ranking(layers, areas="area", min_residents=0,
                                  weights={"brand_awareness": 1.0})
    w = layers["population"]
    expected = ((layers["brand_awareness"] * w).groupby(layers["area"]).sum()
                / w.groupby(layers["area"]).sum())
    assert np.allclose(ranking.table["brand_awareness"], expected.reindex(ranking.table.index))
    assert ranking.table.index.tolist() == expected.sort_values(ascending=False).index.tolist()
    summed = battlefield_ranking(layers, areas="area", min_residents=0,
                                 weights={"brand_awareness": 1.0},
                                 layer_aggregation={"brand_awareness": "sum"})
    assert np.allclose(summed.table["brand_awareness"],
                       layers.groupby("area")["brand_awareness"].sum()
                       .reindex(summed.table.index))
    with pytest.raises(InputError, match="neither a battlefield measure"):
        rank_battlefields(layers, areas="area", weights={"reputation": 1.0})
    with pytest.raises(InputError, match="'mean', 'sum' or 'per_resident'"):
        rank_battlefields(layers, areas="area", weights={"brand_awareness": 1.0},
                          layer_aggregation={"brand_awareness": "median"})


def test_a_run_restricted_to_a_battlefield_stays_inside() -> None:
    layers = _layers()
    stores = pd.DataFrame({"store_id": ["S1"], "lat": [22.52], "lng": [114.0],
                           "floor_area_m2": [200.0]})
    ranking = battlefield_ranking(layers, areas="area", min_residents=0,
                                  weights={"fan_index": 1.0, "brand_awareness": 1.0})
    # The user layer also enters the site score.
    weights = {"footfall": 0.4, "brand_awareness": 0.3, "competitors_nearby": -0.2}
    options = {"n_new": 4, "radius_km": 1.5, "calibration": CAL, "weights": weights}
    free = run_site_selection(layers, stores, None, **options)
    assert "score_brand_awareness" in free.sites.columns
    binding = 0
    for area in ranking.table.index[:3]:
        inside = set(ranking.cells(area))
        binding += not set(free.sites["cell"]) <= inside
        run = run_site_selection(layers, stores, None, **options,
                                 decisions=SitingDecisions(within=list(inside)))
        assert set(run.sites["cell"]) <= inside, area
        assert len(run.sites) == 4
    assert binding == 3  # the unconstrained run leaves every one of these areas
    both = ranking.cells(list(ranking.table.index[:2]))
    assert len(both) == ranking.table["cells"].iloc[:2].sum()
    assert set(ranking.top_cells(2)) == set(both)
    with pytest.raises(InputError, match="not ranked areas"):
        ranking.cells("Z")


def test_demo_districts_are_named_and_large_enough(demo_region) -> None:
    from geodata.areas import cells_to_districts
    from geodata.demo import build_layers

    layers = build_layers(demo_region)
    districts = cells_to_districts(layers, demo_region.places)
    ranking = battlefield_ranking(layers, areas=districts, places=demo_region.places)
    assert (ranking.table["population"] >= 20_000).all()
    assert ranking.table["name"].is_unique and len(ranking.table) >= 40
    assert ranking.table["name"].str.contains(" · ").mean() > 0.8  # "Guangzhou · Panyu"
    # Every district lies in one prefecture, the one its name starts with.
    assert all(name.startswith(region) for name, region in
               zip(ranking.table["name"], ranking.table["region"], strict=True))
    assert ranking.table["cells"].sum() == len(layers)
