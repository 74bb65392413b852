"""Repair-shop siting: poorly rated shops do not cover, coverage invariants, known optima by
enumeration, errors, and the demo region.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from optimizer.errors import InputError
from optimizer.repair_shops import repair_demand, run_repair_siting
from optimizer.siting import coverage_share, covered_mask


def _layers(n: int = 80, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cells = pd.Index(np.arange(n, dtype=np.uint64) + np.uint64(617700169958293503), name="cell")
    return pd.DataFrame({"lat": 22.5 + rng.uniform(0, 0.2, n),
                         "lng": 114.0 + rng.uniform(0, 0.2, n),
                         "region": "Shenzhen",
                         "devices_sold": rng.poisson(40, n).astype(float)}, index=cells)


def _shops(layers: pd.DataFrame, rows: list[int], ratings: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"shop_id": [f"R{i}" for i in range(len(rows))],
                         "name": [f"Repair point {i}" for i in range(len(rows))],
                         "rating": ratings,
                         "lat": layers["lat"].to_numpy()[rows],
                         "lng": layers["lng"].to_numpy()[rows]})


def test_low_rated_shop_does_not_cover() -> None:
    layers = _layers()
    poor = _shops(layers, [5], [2.0])
    run = run_repair_siting(layers, poor, radius_km=3.0, min_rating=3.5, n_new=0)
    assert run.coverage_before == 0.0 and run.coverage_after == 0.0
    assert run.coverage_if_poor_counted > 0.0
    assert run.poor_shops["shop_id"].tolist() == ["R0"] and run.good_shops.empty
    good = _shops(layers, [5], [4.0])
    counted = run_repair_siting(layers, good, radius_km=3.0, min_rating=3.5, n_new=0)
    assert counted.coverage_before == pytest.approx(run.coverage_if_poor_counted)
    # the threshold is inclusive: a shop rated exactly min_rating covers
    assert run_repair_siting(layers, poor, radius_km=3.0, min_rating=2.0,
                             n_new=0).coverage_before > 0


def test_coverage_objective_matches_enumeration() -> None:
    layers = _layers(40)
    shops = _shops(layers, [0, 1], [4.5, 1.5])
    run = run_repair_siting(layers, shops, radius_km=3.0, min_rating=3.5, n_new=2,
                            candidate_spacing_km=0.0)
    demand = repair_demand(layers).to_numpy()
    lat, lng = layers["lat"].to_numpy(), layers["lng"].to_numpy()
    best = max(coverage_share(demand, lat, lng, np.r_[lat[0], lat[list(pair)]],
                              np.r_[lng[0], lng[list(pair)]], 3.0)
               for pair in combinations(range(40), 2))
    assert run.status == "optimal"
    assert run.coverage_after == pytest.approx(best)
    assert len(run.new_shops) == 2


def test_fewest_covers_every_required_cell_with_the_fewest_shops() -> None:
    layers = _layers(16, seed=2)
    shops = _shops(layers, [3], [4.0])
    run = run_repair_siting(layers, shops, radius_km=7.0, min_rating=3.5, objective="fewest",
                            min_cell_repairs=0.0, candidate_spacing_km=0.0)
    assert run.status == "optimal" and run.coverage_after == pytest.approx(1.0)
    lat, lng = layers["lat"].to_numpy(), layers["lng"].to_numpy()
    demand = repair_demand(layers).to_numpy()
    k = len(run.new_shops)
    assert 1 <= k <= 5  # keeps the enumeration below small
    # no smaller set of new shops covers everything (checked by enumeration)
    smaller = [c for c in combinations(range(16), k - 1)
               if coverage_share(demand, lat, lng, np.r_[lat[3], lat[list(c)]],
                                 np.r_[lng[3], lng[list(c)]], 7.0) == 1.0]
    assert smaller == []


def test_fewest_with_threshold_leaves_only_small_cells_uncovered() -> None:
    layers = _layers(120, seed=3)
    layers["devices_sold"] = np.where(np.arange(120) % 3 == 0, 2.0, 60.0)
    run = run_repair_siting(layers, _shops(layers, [], []), radius_km=2.0, objective="fewest",
                            min_cell_repairs=1.0)
    lat, lng = layers["lat"].to_numpy(), layers["lng"].to_numpy()
    covered = covered_mask(lat, lng, run.new_shops["lat"].to_numpy(),
                           run.new_shops["lng"].to_numpy(), 2.0)
    big = layers["devices_sold"].to_numpy() * 0.08 >= 1.0
    assert covered[big].all()
    assert "at least 1 repairs" in run.summary()


@pytest.mark.parametrize("n_new", [0, 1, 3, 6])
def test_coverage_invariants(n_new: int) -> None:
    layers = _layers()
    shops = _shops(layers, [0, 10, 20], [4.2, 3.0, 1.0])
    run = run_repair_siting(layers, shops, radius_km=2.5, min_rating=3.5, n_new=n_new)
    assert 0 <= run.coverage_before <= run.coverage_if_poor_counted <= 1
    assert run.coverage_before <= run.coverage_after <= 1
    assert len(run.new_shops) == n_new and len(run.good_shops) == 1
    assert run.total_repairs == pytest.approx(layers["devices_sold"].sum() * 0.08)
    assert (run.new_shops["new_repairs_covered"] <= run.new_shops["repairs_in_reach"] + 1e-9).all()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"objective": "coverage"}, "`n_new` is needed"),
    ({"objective": "fewest", "n_new": 2}, "drop `n_new`"),
    ({"objective": "nearest", "n_new": 1}, "`objective` is 'nearest'"),
    ({"n_new": 1, "radius_km": 0.0}, "`radius_km` is 0.0"),
    ({"n_new": 1, "repair_rate": 2.0}, "`repair_rate` is 2.0"),
])
def test_errors_are_readable(kwargs: dict, message: str) -> None:
    layers = _layers()
    with pytest.raises(InputError, match=message):
        run_repair_siting(layers, _shops(layers, [0], [4.0]), **kwargs)


def test_missing_rating_is_named() -> None:
    layers = _layers()
    with pytest.raises(InputError, match="no `rating` column"):
        run_repair_siting(layers, _shops(layers, [0], [4.0]).drop(columns="rating"), n_new=1)
    shops = _shops(layers, [0, 1], [4.0, 3.0])
    shops["rating"] = shops["rating"].astype(object)
    shops.loc[1, "rating"] = "n/a"
    with pytest.raises(InputError, match=r"shops, column `rating`, row 2: no numeric rating"):
        run_repair_siting(layers, shops, n_new=1)


def test_demo_region_both_objectives(demo_region) -> None:
    from geodata.layers import build_layers

    region = demo_region
    layers = build_layers(region)
    cover = run_repair_siting(layers, region.repair_shops, radius_km=5.0, min_rating=3.5, n_new=5)
    assert cover.status == "optimal" and len(cover.new_shops) == 5
    assert cover.coverage_after > cover.coverage_before
    assert len(cover.poor_shops) > 0 and cover.coverage_if_poor_counted > cover.coverage_before
    fewest = run_repair_siting(layers, region.repair_shops, radius_km=5.0, min_rating=3.5,
                               objective="fewest")
    assert fewest.status == "optimal" and fewest.coverage_after > cover.coverage_after
