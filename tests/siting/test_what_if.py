"""What-if on one site: catchment, accounting identity, isolated sites, existing stores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.calibration import Calibration
from optimizer.errors import InputError
from optimizer.huff import StorePoints, store_sales
from optimizer.what_if import site_what_if, store_what_if

CAL = Calibration(alpha=1.0, beta=2.0, demand_weights={"population": 10.0}, used_defaults=True,
                  cutoff_km=8.0, message="test model")


def _region(n: int = 150, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    cells = pd.Index(np.arange(n, dtype=np.uint64) + np.uint64(617700169958293503), name="cell")
    layers = pd.DataFrame({"lat": 22.5 + rng.uniform(0, 0.2, n),
                           "lng": 114.0 + rng.uniform(0, 0.2, n),
                           "population": rng.gamma(2, 1000, n)}, index=cells)
    stores = pd.DataFrame({"store_id": ["S1", "S2", "S3"],
                           "lat": [22.55, 22.60, 22.65], "lng": [114.05, 114.10, 114.15],
                           "floor_area_m2": [200.0, 300.0, 150.0]})
    competitors = pd.DataFrame({"competitor_id": ["C1", "C2"], "lat": [22.58, 22.62],
                                "lng": [114.12, 114.04], "floor_area_m2": [250.0, 400.0]})
    return layers, stores, competitors


def test_capture_equals_the_sum_of_the_catchment() -> None:
    layers, stores, competitors = _region()
    wi = site_what_if(layers, stores, competitors, lat=22.57, lng=114.08, calibration=CAL)
    assert wi.expected_sales > 0
    assert wi.catchment["captured"].sum() == pytest.approx(wi.expected_sales, rel=1e-12)
    assert np.allclose(wi.catchment["captured"],
                       wi.catchment["demand"] * wi.catchment["probability"])
    assert wi.catchment["probability"].between(0, 1).all()
    assert wi.catchment_demand == pytest.approx(wi.catchment["demand"].sum())


def test_cannibalisation_competitors_and_new_demand_add_up() -> None:
    layers, stores, competitors = _region()
    # A far corner leaves some cells unserved, so every term of the identity is non-zero.
    wi = site_what_if(layers, stores, competitors, cell=layers.index[7], calibration=CAL,
                      floor_area_m2=250.0)
    assert min(wi.from_own, wi.from_competitors, wi.from_unserved) > 0
    parts = wi.own_stores["lost"].sum() + wi.competitors["lost"].sum() + wi.from_unserved
    assert wi.expected_sales == pytest.approx(parts, rel=1e-10)
    assert abs(wi.accounting_gap) < 1e-6 * wi.expected_sales
    assert wi.own_stores["lost"].sum() == pytest.approx(wi.from_own, rel=1e-10)
    assert wi.competitors["lost"].sum() == pytest.approx(wi.from_competitors, rel=1e-10)
    assert set(wi.own_stores.index) <= {"S1", "S2", "S3"}
    assert set(wi.competitors.index) <= {"C1", "C2"}
    assert (wi.own_stores["share_lost"] == wi.own_stores["lost"] / wi.own_stores["sales_before"]
            ).all()
    assert wi.net_gain == pytest.approx(wi.expected_sales - wi.from_own)


def test_hand_computed_cannibalisation() -> None:
    # One cell of demand 100; own store A and the new site at the same distance and size:
    # A sold 100 and keeps 50, so the site takes 50 from A, half of A's sales.
    layers = pd.DataFrame({"lat": [22.5], "lng": [114.0], "population": [10.0]},
                          index=pd.Index([617700169958293503], dtype=np.uint64, name="cell"))
    stores = pd.DataFrame({"store_id": ["A"], "lat": [22.51], "lng": [114.0],
                           "floor_area_m2": [100.0]})
    wi = site_what_if(layers, stores, None, lat=22.49, lng=114.0, floor_area_m2=100.0,
                      calibration=CAL)
    assert wi.expected_sales == pytest.approx(50.0)
    assert wi.own_stores.loc["A", "lost"] == pytest.approx(50.0)
    assert wi.own_stores.loc["A", "share_lost"] == pytest.approx(0.5)
    assert wi.from_unserved == 0 and len(wi.competitors) == 0


def test_a_point_far_from_everything_captures_only_its_local_demand() -> None:
    layers, stores, competitors = _region()
    rng = np.random.default_rng(1)
    far = pd.DataFrame({"lat": 24.0 + rng.uniform(0, 0.05, 6), "lng": 116.0 +
                        rng.uniform(0, 0.05, 6), "population": rng.gamma(2, 1000, 6)},
                       index=pd.Index(np.arange(6, dtype=np.uint64) + np.uint64(6177002e11),
                                      name="cell"))
    layers = pd.concat([layers, far])
    wi = site_what_if(layers, stores, competitors, lat=24.02, lng=116.02, calibration=CAL)
    local = CAL.demand(far).sum()  # all six cells are within the 8 km cutoff of the point
    assert wi.expected_sales == pytest.approx(local)
    assert wi.from_unserved == pytest.approx(local)
    assert wi.from_own == 0 and wi.from_competitors == 0
    assert len(wi.own_stores) == 0 and len(wi.competitors) == 0
    assert set(wi.catchment.index) == set(far.index)
    assert np.allclose(wi.catchment["probability"], 1.0)


def test_existing_store_catchment_matches_its_huff_sales() -> None:
    layers, stores, competitors = _region()
    wi = store_what_if(layers, stores, competitors, store_id="S2", calibration=CAL)
    everyone = StorePoints.concat(StorePoints.from_frame(stores, id_column="store_id"),
                                  StorePoints.from_frame(competitors))
    sales = store_sales(CAL.demand(layers).to_numpy(), layers["lat"].to_numpy(),
                        layers["lng"].to_numpy(), everyone, alpha=1.0, beta=2.0, cutoff_km=8.0)
    assert wi.expected_sales == pytest.approx(sales[1], rel=1e-10)
    assert wi.catchment["captured"].sum() == pytest.approx(sales[1], rel=1e-10)
    assert "S2" not in wi.own_stores.index and wi.site == "S2"
    assert abs(wi.accounting_gap) < 1e-6 * wi.expected_sales
    assert "expected sales" in wi.summary()


def test_sales_before_match_the_network_with_a_short_cutoff() -> None:
    # With a 3 km cutoff the what-if works on the cells and stores near the site only; the
    # figures must still equal those of the whole network.
    layers, stores, competitors = _region(n=400)
    short = Calibration(alpha=1.0, beta=2.0, demand_weights={"population": 10.0},
                        used_defaults=True, cutoff_km=3.0, message="test model")
    everyone = StorePoints.concat(StorePoints.from_frame(stores, id_column="store_id"),
                                  StorePoints.from_frame(competitors, id_column="competitor_id"))
    sales = pd.Series(store_sales(short.demand(layers).to_numpy(), layers["lat"].to_numpy(),
                                  layers["lng"].to_numpy(), everyone, cutoff_km=3.0),
                      index=everyone.ids)
    grid = [(lat, lng) for lat in np.linspace(22.5, 22.7, 5) for lng in np.linspace(114, 114.2, 5)]
    for lat, lng in grid:
        wi = site_what_if(layers, stores, competitors, lat=lat, lng=lng, calibration=short)
        for table in (wi.own_stores, wi.competitors):
            assert np.allclose(table["sales_before"], sales[table.index])
        assert abs(wi.accounting_gap) < 1e-6 * max(wi.expected_sales, 1.0)
    for store in stores["store_id"]:
        wi = store_what_if(layers, stores, competitors, store_id=store, calibration=short)
        assert wi.expected_sales == pytest.approx(sales[store], rel=1e-10)


def test_min_probability_trims_the_map_not_the_totals() -> None:
    layers, stores, competitors = _region()
    full = site_what_if(layers, stores, competitors, lat=22.57, lng=114.08, calibration=CAL)
    trimmed = site_what_if(layers, stores, competitors, lat=22.57, lng=114.08, calibration=CAL,
                           min_probability=0.2)
    assert len(trimmed.catchment) < len(full.catchment)
    assert (trimmed.catchment["probability"] >= 0.2).all()
    assert trimmed.expected_sales == full.expected_sales


def test_bad_sites_say_the_fix() -> None:
    layers, stores, competitors = _region()
    with pytest.raises(InputError, match="not a cell of the layer table"):
        site_what_if(layers, stores, competitors, cell="8f2830828052d25", calibration=CAL)
    with pytest.raises(InputError, match="Give the site"):
        site_what_if(layers, stores, competitors, calibration=CAL)
    with pytest.raises(InputError, match="not a position"):
        site_what_if(layers, stores, competitors, lat=114.0, lng=222.5, calibration=CAL)
    with pytest.raises(InputError, match="not one of the own stores"):
        store_what_if(layers, stores, competitors, store_id="S9", calibration=CAL)
