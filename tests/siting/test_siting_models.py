"""Every siting model through the job layer on a small region: each plan has its model's
property, recomputed here (full coverage, the worst distance, capacities), and the settings
a page compares to mark a result stale.
"""

from __future__ import annotations

from itertools import combinations
from typing import get_args

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from optimizer.errors import InputError
from optimizer.siting import SitingModel
from tests.siting.test_siting import CAL, _region
from xingtu.jobs.siting import (
    NO_FINGERPRINT_NOTE,
    SITING_MODELS,
    ShownRun,
    choose_sites,
    data_status,
    setting_differences,
    stale_reasons,
)


def _km(lat: np.ndarray, lng: np.ndarray, to_lat: np.ndarray, to_lng: np.ndarray) -> np.ndarray:
    """Great-circle distances (km), every point to every target, written out here."""
    p1, p2 = np.radians(lat)[:, None], np.radians(to_lat)[None, :]
    dlat, dlng = p2 - p1, np.radians(to_lng[None, :] - lng[:, None])
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlng / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(a))


def _open_points(stores: pd.DataFrame, sites: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return (np.r_[stores["lat"].to_numpy(), sites["lat"].to_numpy()],
            np.r_[stores["lng"].to_numpy(), sites["lng"].to_numpy()])


def test_every_model_of_the_library_is_offered_with_a_line_on_it() -> None:
    assert list(SITING_MODELS) == list(get_args(SitingModel))
    assert all(len(choice.summary) > 30 for choice in SITING_MODELS.values())
    assert [m for m, c in SITING_MODELS.items() if not c.uses_n] == ["set_cover"]
    assert [m for m, c in SITING_MODELS.items() if c.uses_capacity] == ["capacitated"]


def test_set_cover_brings_every_demand_cell_within_the_radius() -> None:
    layers, stores, competitors = _region()
    run = choose_sites(layers, stores, competitors, model="set_cover", n_new=None,
                       radius_km=2.0, calibration=CAL)
    assert run.status == "optimal" and run.parameters["uncoverable_cells"] == 0
    demand = CAL.demand(layers).to_numpy()
    lat, lng = _open_points(stores, run.sites)
    distance = _km(layers["lat"].to_numpy(), layers["lng"].to_numpy(), lat, lng)
    assert (distance[demand > 0].min(axis=1) <= 2.0 + 1e-9).all()
    assert run.coverage_after == pytest.approx(1.0)
    # No new site is redundant: without any one of them some cell is left uncovered.
    for dropped in range(len(run.sites)):
        keep = np.r_[np.arange(len(stores)), len(stores) + np.delete(
            np.arange(len(run.sites)), dropped)]
        assert (distance[demand > 0][:, keep].min(axis=1) > 2.0).any()


def test_set_cover_needs_no_n_and_a_smaller_radius_needs_more_sites() -> None:
    layers, stores, competitors = _region()
    wide = choose_sites(layers, stores, competitors, model="set_cover", n_new=3,
                        radius_km=3.0, calibration=CAL)
    narrow = choose_sites(layers, stores, competitors, model="set_cover", n_new=3,
                          radius_km=1.5, calibration=CAL)
    assert len(narrow.sites) > len(wide.sites)  # N=3 is not what decides


def test_p_center_worst_distance_is_the_recomputed_one_and_the_best_pair() -> None:
    layers, stores, competitors = _region()
    free = layers.index[layers["own_store_count"].to_numpy() == 0]
    offered = list(free[::6][:8])
    run = choose_sites(layers, stores, competitors, model="p_center", n_new=2,
                       candidate_cells=offered, calibration=CAL)
    assert run.status == "optimal" and len(run.sites) <= 2
    cell_lat, cell_lng = layers["lat"].to_numpy(), layers["lng"].to_numpy()
    lat, lng = _open_points(stores, run.sites)
    worst = _km(cell_lat, cell_lng, lat, lng).min(axis=1).max()
    assert run.parameters["worst_distance_km"] == pytest.approx(worst, rel=1e-6)
    assert run.report.objective == pytest.approx(worst, rel=1e-6)
    # Enumeration: no pair of the offered candidates does better.
    best = min(
        _km(cell_lat, cell_lng, np.r_[stores["lat"], layers.loc[list(pair), "lat"]],
            np.r_[stores["lng"], layers.loc[list(pair), "lng"]]).min(axis=1).max()
        for pair in combinations(offered, 2))
    assert worst == pytest.approx(best, rel=1e-6)


def test_p_center_spreads_its_candidates_over_the_region() -> None:
    layers, stores, competitors = _region(n=200, seed=3)
    run = choose_sites(layers, stores, competitors, model="p_center", n_new=3,
                       max_candidates=12, calibration=CAL)
    before = _km(layers["lat"].to_numpy(), layers["lng"].to_numpy(), stores["lat"].to_numpy(),
                 stores["lng"].to_numpy()).min(axis=1).max()
    assert 1 <= len(run.sites) <= 3
    assert run.parameters["worst_distance_km"] < before


def test_capacitated_keeps_every_store_within_its_capacity() -> None:
    layers, stores, competitors = _region()
    demand = CAL.demand(layers).to_numpy()
    capacity = demand.sum() / 5
    run = choose_sites(layers, stores, competitors, model="capacitated", n_new=2,
                       capacity=capacity, max_candidates=10, calibration=CAL)
    assert run.status == "optimal" and len(run.sites) == 2
    flows = sp.csr_array(run.location.details["flows"])
    load = flows.T @ demand  # the demand each site serves, from the split itself
    n_own = len(stores)
    assert (load <= capacity * (1 + 1e-6)).all()
    opened = np.setdiff1d(run.location.sites, np.arange(n_own))
    assert np.sort(run.sites["served_demand"].to_numpy()) == pytest.approx(np.sort(load[opened]))
    assert (run.sites["served_demand"] <= capacity * (1 + 1e-6)).all()
    # Every cell's demand is split in full (the rest is the "unserved" column).
    assert flows.sum(axis=1) == pytest.approx(np.ones(len(layers)))


def test_a_capacity_that_does_not_bind_gives_the_p_median_plan() -> None:
    layers, stores, competitors = _region()
    demand = CAL.demand(layers).to_numpy()
    free = choose_sites(layers, stores, competitors, model="p_median", n_new=2,
                        max_candidates=10, calibration=CAL)
    loose = choose_sites(layers, stores, competitors, model="capacitated", n_new=2,
                         capacity=2 * demand.sum(), max_candidates=10, calibration=CAL)
    assert loose.report.objective == pytest.approx(free.report.objective, rel=1e-6)
    tight = choose_sites(layers, stores, competitors, model="capacitated", n_new=2,
                         capacity=demand.sum() / 8, max_candidates=10, calibration=CAL)
    assert tight.report.objective > free.report.objective


def test_the_capacitated_model_asks_for_its_capacity() -> None:
    layers, stores, competitors = _region()
    with pytest.raises(InputError, match="capacity"):
        choose_sites(layers, stores, competitors, model="capacitated", n_new=2, calibration=CAL)


@pytest.mark.parametrize("model", list(SITING_MODELS))
def test_every_model_obeys_spacing_and_budget(model: str) -> None:
    layers, stores, competitors = _region()
    demand = CAL.demand(layers).to_numpy()
    extra = {"capacity": demand.sum()} if model == "capacitated" else {}
    radius = 8.0 if model == "set_cover" else 3.0  # three sites can cover it all
    run = choose_sites(layers, stores, competitors, model=model, n_new=3, radius_km=radius,
                       budget=4.5e6, min_spacing_km=1.0, max_candidates=20, calibration=CAL,
                       **extra)
    assert run.model == model and 1 <= len(run.sites) <= 3
    assert run.sites["opening_cost"].sum() <= 4.5e6
    lat, lng = run.sites["lat"].to_numpy(), run.sites["lng"].to_numpy()
    apart = _km(lat, lng, lat, lng)[np.triu_indices(len(lat), 1)]
    assert (apart >= 1.0 - 1e-9).all()


def _shown(parameters: dict, fingerprint: str = "f") -> ShownRun:
    return ShownRun(parameters=parameters, sites=pd.DataFrame(), summary={},
                    fingerprint=fingerprint)


def test_a_result_is_stale_when_settings_or_data_differ_and_says_what() -> None:
    made = {"model": "mclp", "n_new": 5, "radius_km": 3.0, "weights": {"footfall": 0.4},
            "budget": None, "where": "Everywhere", "candidate_list": None}
    assert stale_reasons(_shown(made), dict(made), "f") == []
    changed = {**made, "n_new": 6, "weights": {"footfall": 0.45}}
    reasons = stale_reasons(_shown(made), changed, "f")
    assert reasons == ["new stores (N): 5 in the result, 6 now",
                       "layers and weights: footfall 0.40 in the result, footfall 0.45 now"]
    assert "the data changed" in stale_reasons(_shown(made), made, "other")[0]
    # Saved before fingerprints were kept: the data cannot be told, so not called stale for
    # it (the page shows the note of data_status instead); its settings are still compared.
    assert stale_reasons(_shown(made, fingerprint=""), made, "f") == []
    assert stale_reasons(_shown(made, fingerprint=""), changed, "f") == reasons
    assert data_status("", "f") == NO_FINGERPRINT_NOTE
    assert data_status("f", "f") != data_status("f", "g") != NO_FINGERPRINT_NOTE
    # N means nothing to set cover; the capacity only to the capacitated model.
    assert setting_differences({**made, "model": "set_cover"},
                               {**made, "model": "set_cover", "n_new": 9}) == []
    assert setting_differences({**made, "capacity": 1e7}, {**made, "capacity": 2e7}) == []
    assert setting_differences({**made, "model": "capacitated", "capacity": 1e7},
                               {**made, "model": "capacitated", "capacity": 2e7}) == [
        "capacity (CNY): 10,000,000 in the result, 20,000,000 now"]
