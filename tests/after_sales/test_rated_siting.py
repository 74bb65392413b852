"""Repair-shop siting with ratings computed from records and expected repairs per cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.after_sales import assess_repair_shops, rate_shops
from optimizer.errors import InputError
from optimizer.repair_shops import run_repair_siting, shops_with_ratings


def _layers(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    cells = pd.Index(np.arange(n, dtype=np.uint64) + np.uint64(617700169958293503), name="cell")
    return pd.DataFrame({"lat": 22.5 + rng.uniform(0, 0.2, n), "lng": 114.0 + rng.uniform(0, 0.2, n),
                         "devices_sold": rng.poisson(40, n).astype(float)}, index=cells)


def _records(make_records, shops: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """100 repairs per shop: ``(share of comebacks, customer rating)`` per shop."""
    rng = np.random.default_rng(1)
    rows = []
    for shop, (comebacks, stars) in shops.items():
        for i in range(100):
            day = pd.Timestamp("2025-01-01") + pd.Timedelta(days=int(rng.integers(0, 250)))
            rows.append((shop, f"{shop}-{i}", "M", day, day + pd.Timedelta(days=2), "SCREEN",
                         300.0, 100.0, False, stars))
            if rng.random() < comebacks:
                back = day + pd.Timedelta(days=12)
                rows.append((shop, f"{shop}-{i}", "M", back, back + pd.Timedelta(days=2),
                             "SCREEN", 100.0, 100.0, True, 1.0))
    return make_records(rows)


def test_shop_rated_poorly_from_its_records_stops_covering(make_records) -> None:
    layers = _layers()
    shops = pd.DataFrame({"shop_id": ["BAD", "NORECORDS"], "rating": [4.5, 4.2],
                          "lat": layers["lat"].iloc[[0, 30]].to_numpy(),
                          "lng": layers["lng"].iloc[[0, 30]].to_numpy()})
    repairs = _records(make_records, {"BAD": (0.30, 2.0), "G1": (0.03, 4.5),
                                      "G2": (0.04, 4.4), "G3": (0.05, 4.3)})
    ratings = rate_shops(repairs).ratings
    assert ratings["BAD"] < 3.5 <= ratings["G1"]
    given = run_repair_siting(layers, shops.iloc[[0]], radius_km=3.0, n_new=0)
    rated = run_repair_siting(layers, shops.iloc[[0]], radius_km=3.0, n_new=0, ratings=ratings)
    assert given.coverage_before > 0 and rated.coverage_before == 0.0
    assert rated.coverage_if_poor_counted == pytest.approx(given.coverage_before)
    assert rated.poor_shops["shop_id"].tolist() == ["BAD"]
    assert rated.poor_shops["rating_source"].tolist() == ["records"]
    assert "Ratings computed from repair records" in rated.summary()
    # a shop without records keeps its given rating (the fallback)
    both = run_repair_siting(layers, shops, radius_km=3.0, n_new=1, ratings=ratings)
    assert both.good_shops["shop_id"].tolist() == ["NORECORDS"]
    assert both.good_shops["rating_source"].tolist() == ["given"]
    assert both.good_shops["rating"].tolist() == [4.2]


def test_expected_repairs_replace_the_flat_demand() -> None:
    layers = _layers()
    shops = pd.DataFrame({"shop_id": ["S"], "rating": [4.0], "lat": [layers["lat"].iloc[0]],
                          "lng": [layers["lng"].iloc[0]]})
    expected = pd.Series(0.0, index=layers.index)
    far = int(np.argmax((layers["lat"] - layers["lat"].iloc[0]) ** 2
                        + (layers["lng"] - layers["lng"].iloc[0]) ** 2))
    expected.iloc[far] = 50.0  # all repairs in one far cell
    run = run_repair_siting(layers, shops, radius_km=2.0, n_new=1,
                            expected_repairs=expected.iloc[layers.index.argsort()])
    assert run.total_repairs == pytest.approx(50.0)
    assert run.coverage_after == pytest.approx(1.0) and run.coverage_before == 0.0
    assert run.new_shops["repairs_in_reach"].iloc[0] == pytest.approx(50.0)
    with pytest.raises(InputError, match="`expected_repairs` has missing"):
        run_repair_siting(layers, shops, n_new=1, expected_repairs=expected * -1)


def test_shops_with_ratings_needs_a_rating_somewhere() -> None:
    shops = pd.DataFrame({"shop_id": ["A", "B"]})
    table = shops_with_ratings(shops, pd.Series({"A": 3.0}))
    assert table["rating_source"].tolist() == ["records", "given"]
    with pytest.raises(InputError, match=r"shops, column `rating`, row 2: no numeric rating"):
        run_repair_siting(_layers(), shops.assign(lat=22.5, lng=114.0), n_new=1,
                          ratings=pd.Series({"A": 3.0}))


def test_demo_siting_uses_computed_ratings(demo_region, demo_repairs) -> None:
    from geodata.layers import build_layers

    layers = build_layers(demo_region)
    result = assess_repair_shops(demo_repairs.repairs, devices=demo_repairs.devices)
    run = run_repair_siting(layers, demo_region.repair_shops, radius_km=5.0, n_new=5,
                            ratings=result.ratings.ratings,
                            expected_repairs=result.expected_repairs)
    assert run.status == "optimal"
    poor = set(run.poor_shops["shop_id"])
    # the planted abusers had good given ratings; their records rate them below the threshold
    assert set(demo_repairs.planted_shops.values()) <= poor
    given = demo_region.repair_shops.set_index("shop_id")["rating"]
    assert (given[list(demo_repairs.planted_shops.values())] >= 3.5).all()
    assert run.total_repairs == pytest.approx(float(result.expected_repairs.sum()))
