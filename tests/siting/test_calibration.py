"""Calibration of demand weights and Huff exponents: recovery of known parameters, honest
held-out skill, defaults without sales, and the demo stores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.calibration import (
    DEFAULT_DEMAND_WEIGHTS,
    MIN_STORES,
    calibrate,
    mape_score,
    r2_score,
)
from optimizer.errors import InputError
from optimizer.huff import StorePoints, store_sales

TRUE_WEIGHTS = {"population": 50.0, "customers": 2000.0, "footfall": 0.0}


def _synthetic(alpha: float, beta: float, *, noise: float = 0.0, n_stores: int = 40,
               seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = 900
    layers = pd.DataFrame({
        "lat": 22.5 + rng.uniform(0, 0.3, n), "lng": 114.0 + rng.uniform(0, 0.3, n),
        "population": rng.gamma(2, 1000, n), "customers": rng.gamma(1.5, 30, n),
        "footfall": rng.gamma(1, 500, n)})
    stores = pd.DataFrame({
        "store_id": [f"S{i:02d}" for i in range(n_stores)],
        "lat": 22.5 + rng.uniform(0, 0.3, n_stores), "lng": 114.0 + rng.uniform(0, 0.3, n_stores),
        "floor_area_m2": rng.uniform(80, 600, n_stores)})
    competitors = pd.DataFrame({
        "lat": 22.5 + rng.uniform(0, 0.3, 15), "lng": 114.0 + rng.uniform(0, 0.3, 15),
        "floor_area_m2": rng.uniform(80, 600, 15)})
    demand = sum(w * layers[f] for f, w in TRUE_WEIGHTS.items()).to_numpy()
    network = StorePoints.concat(StorePoints.from_frame(stores), StorePoints.from_frame(competitors))
    sales = store_sales(demand, layers["lat"].to_numpy(), layers["lng"].to_numpy(), network,
                        alpha=alpha, beta=beta, cutoff_km=10.0)[:n_stores]
    stores["annual_sales"] = sales * np.exp(rng.normal(0, noise, n_stores))
    return layers, stores, competitors


@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 2.0), (0.7, 1.4)])
def test_recovers_known_parameters(alpha: float, beta: float) -> None:
    layers, stores, competitors = _synthetic(alpha, beta)
    cal = calibrate(layers, stores, competitors, factors=list(TRUE_WEIGHTS), ridge=1e-9)
    assert not cal.used_defaults
    assert cal.alpha == pytest.approx(alpha, abs=0.03)
    assert cal.beta == pytest.approx(beta, abs=0.03)
    assert cal.demand_weights["population"] == pytest.approx(50.0, rel=0.05)
    assert cal.demand_weights["customers"] == pytest.approx(2000.0, rel=0.05)
    assert cal.demand_weights["footfall"] < 0.5
    assert cal.r2 > 0.99 and cal.mape < 0.02


def test_held_out_skill_with_noise_is_reported_honestly() -> None:
    layers, stores, competitors = _synthetic(1.0, 2.0, noise=0.15)
    cal = calibrate(layers, stores, competitors, factors=list(TRUE_WEIGHTS), folds=5)
    table = cal.predictions
    assert len(table) == 40 and set(table["fold"]) == set(range(5))
    assert cal.r2 == pytest.approx(r2_score(table["actual"], table["predicted_cv"]))
    assert cal.mape == pytest.approx(mape_score(table["actual"], table["predicted_cv"]))
    # real skill, but noise keeps held-out error near the noise level, and no better than in-sample
    assert 0.5 < cal.r2 <= cal.in_sample_r2
    assert 0.05 < cal.mape < 0.3
    assert "held-out R2" in cal.message


def test_shuffled_sales_have_no_held_out_skill() -> None:
    layers, stores, competitors = _synthetic(1.0, 2.0)
    stores["annual_sales"] = np.random.default_rng(3).permutation(stores["annual_sales"].to_numpy())
    cal = calibrate(layers, stores, competitors, factors=list(TRUE_WEIGHTS))
    assert cal.r2 < 0.3


def test_defaults_when_no_sales() -> None:
    layers, stores, competitors = _synthetic(1.0, 2.0, n_stores=MIN_STORES)
    no_column = calibrate(layers, stores.drop(columns="annual_sales"), competitors)
    assert no_column.used_defaults and no_column.alpha == 1.0 and no_column.beta == 2.0
    assert dict(no_column.demand_weights) == dict(DEFAULT_DEMAND_WEIGHTS)
    assert no_column.r2 is None and "no 'annual_sales' column" in no_column.message
    stores.loc[0, "annual_sales"] = np.nan
    too_few = calibrate(layers, stores, competitors)
    assert too_few.used_defaults and f"only {MIN_STORES - 1} stores" in too_few.message


def test_demand_is_the_weighted_sum() -> None:
    layers, stores, competitors = _synthetic(1.0, 2.0)
    cal = calibrate(layers, stores, competitors, factors=["population", "customers"])
    expected = (cal.demand_weights["population"] * layers["population"]
                + cal.demand_weights["customers"] * layers["customers"])
    assert np.allclose(cal.demand(layers), expected)
    with pytest.raises(InputError, match="no column"):
        cal.demand(layers.drop(columns="customers"))


def test_bad_factor_is_named() -> None:
    layers, stores, competitors = _synthetic(1.0, 2.0)
    with pytest.raises(InputError, match="none of the demand factors"):
        calibrate(layers, stores, competitors, factors=["brand_awareness"])


def test_demo_stores_show_held_out_skill(demo_region) -> None:
    from geodata.layers import build_layers

    layers = build_layers(demo_region)
    cal = calibrate(layers, demo_region.stores, demo_region.competitors)
    assert not cal.used_defaults and cal.folds == 5
    # the demo sales follow a Huff model with alpha 1, beta 2 plus 15 % noise
    assert cal.r2 > 0.7, cal.message
    assert cal.mape < 0.25, cal.message
    assert cal.alpha == pytest.approx(1.0, abs=0.3) and cal.beta == pytest.approx(2.0, abs=0.4)
    assert len(cal.predictions) == len(demo_region.stores)
