"""Store siting runs: known optima by enumeration, coverage and sales accounting, budget,
score breakdown, errors, and the demo region.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from optimizer.calibration import Calibration
from optimizer.errors import InputError
from optimizer.huff import StorePoints, store_sales
from optimizer.siting import (
    coverage_share,
    covered_mask,
    reach_matrix_km,
    run_site_selection,
    thin_candidates,
)

CAL = Calibration(alpha=1.0, beta=2.0, demand_weights={"population": 10.0}, used_defaults=True,
                  cutoff_km=10.0, message="test model")


def _region(n: int = 60, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    cells = pd.Index(np.arange(n, dtype=np.uint64) + np.uint64(617700169958293503), name="cell")
    layers = pd.DataFrame({
        "lat": 22.5 + rng.uniform(0, 0.12, n), "lng": 114.0 + rng.uniform(0, 0.12, n),
        "region": rng.choice(["Futian", "Nanshan"], n),
        "population": rng.gamma(2, 1000, n), "footfall": rng.gamma(1, 500, n),
        "customers": rng.gamma(1.5, 20, n), "fan_index": rng.uniform(0, 0.05, n),
        "avg_ticket": rng.uniform(800, 2500, n), "poi_diversity": rng.uniform(0, 2, n),
        "competitors_nearby": rng.integers(0, 5, n).astype(float),
        "own_store_count": np.zeros(n)}, index=cells)
    own_rows = [0, 1]
    layers.iloc[own_rows, layers.columns.get_loc("own_store_count")] = 1.0
    stores = pd.DataFrame({"store_id": ["S1", "S2"], "lat": layers["lat"].iloc[own_rows].to_numpy(),
                           "lng": layers["lng"].iloc[own_rows].to_numpy(),
                           "floor_area_m2": [200.0, 300.0]})
    competitors = pd.DataFrame({"lat": 22.5 + rng.uniform(0, 0.12, 4),
                                "lng": 114.0 + rng.uniform(0, 0.12, 4),
                                "floor_area_m2": rng.uniform(100, 400, 4)})
    return layers, stores, competitors


def test_mclp_run_matches_enumeration() -> None:
    layers, stores, competitors = _region()
    run = run_site_selection(layers, stores, competitors, n_new=2, radius_km=2.0,
                             max_candidates=8, calibration=CAL)
    assert run.status == "optimal"
    demand = CAL.demand(layers).to_numpy()
    lat, lng = layers["lat"].to_numpy(), layers["lng"].to_numpy()
    free = np.flatnonzero(layers["own_store_count"].to_numpy() == 0)
    pool = free[np.argsort(-run.scores.score.to_numpy()[free], kind="stable")][:8]
    best = max(
        coverage_share(demand, lat, lng, np.r_[stores["lat"], lat[list(pair)]],
                       np.r_[stores["lng"], lng[list(pair)]], 2.0)
        for pair in combinations(pool, 2))
    assert run.coverage_after == pytest.approx(best)
    assert set(run.sites["cell"]) <= set(layers.index[pool])
    assert run.report.objective == pytest.approx(best * demand.sum())


def test_sites_table_accounting_and_reasons() -> None:
    layers, stores, competitors = _region()
    run = run_site_selection(layers, stores, competitors, n_new=3, radius_km=2.0, calibration=CAL)
    sites = run.sites
    assert len(sites) == 3 and sites["site"].tolist() == [1, 2, 3]
    assert not set(sites["cell"]) & set(layers.index[layers["own_store_count"] > 0])
    parts = sites["from_own"] + sites["from_competitors"] + sites["from_unserved"]
    assert np.allclose(sites["expected_sales"], parts)
    assert np.allclose(sites["net_gain"], sites["expected_sales"] - sites["from_own"])
    assert sites["net_gain"].is_monotonic_decreasing
    breakdown = sites[[c for c in sites.columns if c.startswith("score_") and c != "score_rank"]]
    assert np.allclose(breakdown.sum(axis=1), sites["score"])
    assert all("cannibalisation" in text and "Expected sales" in text for text in sites["reasons"])
    assert 0 <= run.coverage_before <= run.coverage_after <= 1
    # the new-demand figure is the demand in reach that no own store reached before
    demand = CAL.demand(layers).to_numpy()
    lat, lng = layers["lat"].to_numpy(), layers["lng"].to_numpy()
    before = covered_mask(lat, lng, stores["lat"].to_numpy(), stores["lng"].to_numpy(), 2.0)
    first = sites.iloc[0]
    near = covered_mask(lat, lng, np.array([first["lat"]]), np.array([first["lng"]]), 2.0)
    assert first["new_demand_covered"] == pytest.approx(demand[near & ~before].sum())
    assert "new sites (MCLP" in run.summary()


def test_budget_limits_the_number_of_sites() -> None:
    layers, stores, competitors = _region()
    run = run_site_selection(layers, stores, competitors, n_new=None, budget=2.5e6,
                             opening_cost=1e6, radius_km=2.0, calibration=CAL)
    assert len(run.sites) <= 2 and run.sites["opening_cost"].sum() <= 2.5e6
    more = run_site_selection(layers, stores, competitors, n_new=None, budget=4.5e6,
                              opening_cost=1e6, radius_km=2.0, calibration=CAL)
    assert more.coverage_after >= run.coverage_after


def test_min_spacing_is_respected() -> None:
    layers, stores, competitors = _region()
    run = run_site_selection(layers, stores, competitors, n_new=3, radius_km=2.0,
                             min_spacing_km=3.0, calibration=CAL)
    lat, lng = run.sites["lat"].to_numpy(), run.sites["lng"].to_numpy()
    close = reach_matrix_km(lat, lng, lat, lng, 3.0 - 1e-9)
    assert close.nnz == len(lat)  # only each site with itself


def test_pmedian_runs_and_reports() -> None:
    layers, stores, competitors = _region()
    run = run_site_selection(layers, stores, competitors, model="p_median", n_new=2,
                             radius_km=2.0, calibration=CAL)
    assert run.status == "optimal" and len(run.sites) == 2
    assert run.report.bound == pytest.approx(run.report.objective)


def test_market_share_matches_enumeration_of_huff_sales() -> None:
    layers, stores, competitors = _region()
    run = run_site_selection(layers, stores, competitors, model="market_share", n_new=2,
                             max_candidates=7, calibration=CAL)
    assert run.status == "optimal"
    demand = CAL.demand(layers).to_numpy()
    lat, lng = layers["lat"].to_numpy(), layers["lng"].to_numpy()
    free = np.flatnonzero(layers["own_store_count"].to_numpy() == 0)
    pool = free[np.argsort(-run.scores.score.to_numpy()[free], kind="stable")][:7]
    own = StorePoints.from_frame(stores)
    comp = StorePoints.from_frame(competitors)
    area = float(np.median(own.attractiveness))

    def ours(pair: tuple[int, ...]) -> float:
        new = StorePoints.from_arrays(lat[list(pair)], lng[list(pair)], area)
        sales = store_sales(demand, lat, lng, StorePoints.concat(own, new, comp), cutoff_km=10.0)
        return float(sales[:len(own) + 2].sum())

    best = max(combinations(pool, 2), key=ours)
    chosen = tuple(layers.index.get_indexer(run.sites["cell"]))
    assert ours(chosen) == pytest.approx(ours(best), rel=1e-6)


def test_more_sites_never_cover_less() -> None:
    layers, stores, competitors = _region()
    coverage = [run_site_selection(layers, stores, competitors, n_new=k, radius_km=2.0,
                                   calibration=CAL).coverage_after for k in (0, 1, 2, 4)]
    assert coverage == sorted(coverage)


def test_every_free_cell_is_a_candidate_by_default() -> None:
    layers, stores, competitors = _region(n=200, seed=3)  # more free cells than the old cap 150
    run = run_site_selection(layers, stores, competitors, n_new=3, radius_km=1.5,
                             calibration=CAL)
    n_free = int((layers["own_store_count"] == 0).sum())
    assert run.parameters["candidates"] == n_free
    capped = run_site_selection(layers, stores, competitors, n_new=3, radius_km=1.5,
                                max_candidates=5, calibration=CAL)
    assert capped.parameters["candidates"] == 5
    # More candidates cannot cover less (both proven optimal).
    assert run.status == capped.status == "optimal"
    assert run.coverage_after >= capped.coverage_after - 1e-12


def test_candidate_cells_restrict_the_sites() -> None:
    layers, stores, competitors = _region(n=80, seed=5)
    offered = list(layers.index[10:30])
    run = run_site_selection(layers, stores, competitors, n_new=2, radius_km=2.0,
                             candidate_cells=offered, calibration=CAL)
    assert run.parameters["candidates"] == 20
    assert set(run.sites["cell"]) <= set(offered)
    with pytest.raises(InputError, match="`candidate_cells` names 1 cell"):
        run_site_selection(layers, stores, competitors, n_new=2, calibration=CAL,
                           candidate_cells=[*offered, 12345])


def test_thin_candidates_keeps_one_per_square_and_the_heaviest() -> None:
    rng = np.random.default_rng(4)
    lat, lng = 22.5 + rng.uniform(0, 0.2, 500), 114.0 + rng.uniform(0, 0.2, 500)
    weight = rng.uniform(0, 1, 500)
    kept = thin_candidates(lat, lng, weight, 3.0)
    assert 4 <= len(kept) < 100
    # every point has a kept candidate within spacing * sqrt(2)
    assert covered_mask(lat, lng, lat[kept], lng[kept], 3.0 * 2**0.5).all()
    assert weight.argmax() in kept


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"model": "huff"}, "`model` is 'huff'"),
    ({"n_new": None}, "Give `n_new`"),
    ({"radius_km": -1.0}, "`radius_km` is -1.0"),
    ({"n_new": 2.5}, "whole number"),
    ({"opening_cost": "rent", "budget": 1.0}, "column 'rent'"),
])
def test_errors_are_readable(kwargs: dict, message: str) -> None:
    layers, stores, competitors = _region()
    with pytest.raises(InputError, match=message):
        run_site_selection(layers, stores, competitors, calibration=CAL, **kwargs)


@pytest.mark.slow
def test_demo_region_run(demo_region) -> None:
    from geodata.layers import build_layers

    region = demo_region
    layers = build_layers(region)
    run = run_site_selection(layers, region.stores, region.competitors, n_new=3, radius_km=3.0)
    assert run.status == "optimal"
    assert len(run.sites) == 3 and (run.sites["net_gain"] > 0).all()
    assert run.coverage_after > run.coverage_before
    assert not run.calibration.used_defaults and run.calibration.r2 > 0.5


def _haversine_km(lat1, lng1, lat2, lng2):
    p1, p2 = np.radians(lat1)[:, None], np.radians(lat2)[None, :]
    dl = np.radians(lng2)[None, :] - np.radians(lng1)[:, None]
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(a))


def test_pmedian_with_remote_candidates_is_feasible_and_matches_enumeration() -> None:
    # Two remote clusters 50 km east and west: one new site cannot reach both within the
    # 10 km cut-off, so requiring a store within reach of every cell was infeasible.
    layers, stores, competitors = _region(40, seed=3)
    east, _, _ = _region(8, seed=4)
    west, _, _ = _region(8, seed=5)
    east["lng"] += 0.5
    west["lng"] -= 0.5
    east.index = east.index + np.uint64(1000)
    west.index = west.index + np.uint64(2000)
    for part in (east, west):
        part["own_store_count"] = 0.0
    region = pd.concat([layers, east, west])
    run = run_site_selection(region, stores, competitors, model="p_median", n_new=1,
                             calibration=CAL, max_candidates=len(region))
    assert run.status == "optimal" and len(run.sites) == 1
    demand = CAL.demand(region).to_numpy()
    lat, lng = region["lat"].to_numpy(), region["lng"].to_numpy()
    to_own = _haversine_km(lat, lng, stores["lat"].to_numpy(), stores["lng"].to_numpy())
    to_cell = _haversine_km(lat, lng, lat, lng)
    free = np.flatnonzero(region["own_store_count"].to_numpy() == 0)

    def cost(site: int) -> float:
        nearest = np.minimum(to_own.min(axis=1), to_cell[:, site])
        return float((demand * np.minimum(nearest, CAL.cutoff_km)).sum())

    values = {int(site): cost(site) for site in free}
    best = min(values.values())
    assert run.report.objective == pytest.approx(best, rel=1e-6)
    chosen = int(np.flatnonzero(region.index == run.sites["cell"].iloc[0])[0])
    assert values[chosen] == pytest.approx(best, rel=1e-6)
    unserved = run.location.details["unserved_demand"]
    assert unserved == pytest.approx(float(demand[np.minimum(to_own.min(axis=1),
                                                             to_cell[:, chosen]) > 10.0].sum()))
