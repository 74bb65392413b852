"""The shop rating: factors against values worked out by hand, shrinkage on small shops, grades."""

from __future__ import annotations

from math import log

import numpy as np
import pandas as pd
import pytest

from optimizer.after_sales import rate_shops
from optimizer.after_sales.rating import (
    BASE_RATING,
    DEFAULT_WEIGHTS,
    POINT_SCALES,
    RATING_PER_POINT,
    grade_of,
)
from optimizer.after_sales.shrinkage import PRIOR_MIN_REPAIRS, shrink_means
from optimizer.errors import InputError


def _by_shop(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("shop_id")


def test_raw_factors_match_hand_computation(tiny_records: pd.DataFrame) -> None:
    table = _by_shop(rate_shops(tiny_records, prior_strength=0.0).table)
    # turnaround: SCREEN days 2, 1, 1 -> norm 1; BATTERY days 4, 3 -> norm 3.5
    assert table.loc["A", "turnaround_raw"] == pytest.approx(
        (log(3 / 2) + log(2 / 2) + log(5 / 4.5)) / 3)
    assert table.loc["B", "turnaround_raw"] == pytest.approx((log(2 / 2) + log(4 / 4.5)) / 2)
    # re-repair: s1 came back 17 days after its first return; B's June repair is not followed
    # for 30 days within the records, so it is left out
    assert table.loc["A", "re_repair_raw"] == pytest.approx(1 / 3)
    assert table.loc["B", "re_repair_raw"] == pytest.approx(0.0)
    # customer ratings: A (5 + 3) / 2, B (4 + 2) / 2
    assert table.loc["A", "customer_rating_raw"] == pytest.approx(4.0)
    assert table.loc["B", "customer_rating_raw"] == pytest.approx(3.0)
    # cost: SCREEN costs 150, 150, 300 -> norm 150; BATTERY 80, 120 -> norm 100
    assert table.loc["A", "cost_raw"] == pytest.approx((0 + 0 + log(81 / 101)) / 3)
    assert table.loc["B", "cost_raw"] == pytest.approx((log(301 / 151) + log(121 / 101)) / 2)
    assert table.loc["A", "warranty_share_raw"] == pytest.approx(2 / 3)
    assert table.loc["B", "warranty_share_raw"] == pytest.approx(0.0)
    assert table.loc["A", "repairs"] == 3 and table.loc["B", "repairs"] == 2
    # without shrinkage the factor is the shop's own average
    for factor in ("turnaround", "re_repair", "customer_rating", "cost", "warranty_share"):
        assert table[factor].to_numpy() == pytest.approx(table[f"{factor}_raw"].to_numpy())


def test_shrunk_factors_and_rating_by_hand(tiny_records: pd.DataFrame) -> None:
    ratings = rate_shops(tiny_records, prior_strength=10.0)
    table = _by_shop(ratings.table)
    # re-repair: chain mean over the 4 followed repairs is 1/4; A has 1 of 3
    assert ratings.chain["re_repair"] == pytest.approx(0.25)
    assert table.loc["A", "re_repair"] == pytest.approx((1 + 10 * 0.25) / (3 + 10))
    assert table.loc["B", "re_repair"] == pytest.approx((0 + 10 * 0.25) / (1 + 10))
    # customer rating: chain mean (5 + 3 + 4 + 2) / 4 = 3.5
    assert table.loc["B", "customer_rating"] == pytest.approx((6 + 10 * 3.5) / (2 + 10))
    re_points = -(table.loc["A", "re_repair"] - 0.25) / POINT_SCALES["re_repair"]
    assert table.loc["A", "re_repair_points"] == pytest.approx(re_points)
    stars = (table.loc["B", "customer_rating"] - 3.5) / POINT_SCALES["customer_rating"]
    assert table.loc["B", "customer_rating_points"] == pytest.approx(stars)
    # warranty share only costs points above the chain's (0.4): B at 0 gets none
    assert table.loc["B", "warranty_share_points"] == 0.0
    assert table.loc["A", "warranty_share_points"] == pytest.approx(
        -((2 + 10 * 0.4) / 13 - 0.4) / POINT_SCALES["warranty_share"])
    # the rating is the documented combination of the points (flagged claims left out)
    weights = {k: v for k, v in DEFAULT_WEIGHTS.items() if k != "flagged_claims"}
    total = sum(weights.values())
    for shop in ("A", "B"):
        score = sum(w / total * table.loc[shop, f"{f}_points"] for f, w in weights.items())
        assert table.loc[shop, "score"] == pytest.approx(score)
        assert table.loc[shop, "rating"] == pytest.approx(
            np.clip(BASE_RATING + RATING_PER_POINT * score, 1, 5), abs=0.005)


def _chain_with_small_shop(records) -> pd.DataFrame:
    """Ten shops of 100 repairs with about 5 % comebacks, and one shop of 2 repairs that both
    came back.
    """
    rng = np.random.default_rng(3)
    rows = []
    day0 = pd.Timestamp("2025-01-01")
    for shop in range(10):
        for i in range(100):
            serial = f"S{shop}-{i}"
            start = day0 + pd.Timedelta(days=int(rng.integers(0, 200)))
            rows.append((f"R{shop}", serial, "M", start, start + pd.Timedelta(days=2), "SCREEN",
                         300.0, 100.0, False, float(rng.integers(3, 6))))
            if rng.random() < 0.05:
                back = start + pd.Timedelta(days=10)
                rows.append((f"R{shop}", serial, "M", back, back + pd.Timedelta(days=2),
                             "SCREEN", 300.0, 100.0, True, 3.0))
    for i in range(2):
        start = day0 + pd.Timedelta(days=30 * i)
        rows.append(("SMALL", f"X{i}", "M", start, start + pd.Timedelta(days=2), "SCREEN",
                     300.0, 100.0, False, 1.0))
        rows.append(("BIG", f"X{i}", "M", start + pd.Timedelta(days=10),
                     start + pd.Timedelta(days=12), "SCREEN", 300.0, 100.0, True, 4.0))
    rows.append(("BIG", "Z", "M", day0 + pd.Timedelta(days=300), day0 + pd.Timedelta(days=302),
                 "SCREEN", 300.0, 100.0, False, 4.0))
    return records(rows)


def test_two_repair_shop_lands_near_the_chain_mean(make_records) -> None:
    frame = _chain_with_small_shop(make_records)
    ratings = rate_shops(frame)
    table = _by_shop(ratings.table)
    small = table.loc["SMALL"]
    assert small["repairs"] == 2 and small["re_repair_raw"] == 1.0
    chain = ratings.chain["re_repair"]
    # the prior is worth at least PRIOR_MIN_REPAIRS: at most 2/12 of the deviation remains
    assert ratings.prior_strength["re_repair"] >= PRIOR_MIN_REPAIRS
    assert abs(small["re_repair"] - chain) <= 2 / (2 + PRIOR_MIN_REPAIRS) * (1 - chain) + 1e-12
    assert abs(small["customer_rating"] - ratings.chain["customer_rating"]) <= \
        2 / 12 * abs(1.0 - ratings.chain["customer_rating"]) + 1e-12
    assert "only 2 repairs" in small["reasons"]
    # the same two comebacks, unshrunk, would rate the shop far lower
    raw = _by_shop(rate_shops(frame, prior_strength=0.0).table).loc["SMALL"]
    assert raw["rating"] < small["rating"] - 0.5
    assert small["rating"] >= 3.5  # not condemned on two repairs


def test_reasons_quote_the_factor_against_the_chain(make_records) -> None:
    frame = _chain_with_small_shop(make_records)
    # one shop with many comebacks: its reasons lead with the re-repair rate
    extra = []
    for i in range(60):
        start = pd.Timestamp("2025-03-01") + pd.Timedelta(days=i)
        extra.append(("BAD", f"B{i}", "M", start, start + pd.Timedelta(days=2), "SCREEN",
                      300.0, 100.0, False, 4.0))
        if i % 3 == 0:
            extra.append(("BAD", f"B{i}", "M", start + pd.Timedelta(days=9),
                          start + pd.Timedelta(days=11), "SCREEN", 300.0, 100.0, True, 4.0))
    ratings = rate_shops(pd.concat([frame, make_records(extra)], ignore_index=True))
    bad = _by_shop(ratings.table).loc["BAD"]
    assert bad["reasons"].startswith("re-repair rate ")
    assert "for the chain" in bad["reasons"] and bad["grade"] in ("D", "E")
    assert "BAD rates" in ratings.explain("BAD")


def test_grades_and_weights(make_records) -> None:
    assert grade_of(np.array([5.0, 4.5, 4.49, 4.0, 3.5, 3.49, 2.5, 2.49])).tolist() == \
        ["A", "A", "B", "B", "C", "D", "D", "E"]
    assert sum(DEFAULT_WEIGHTS.values()) == pytest.approx(1.0)
    with pytest.raises(InputError, match="unknown factors"):
        rate_shops(_chain_with_small_shop(make_records), weights={"speed": 1.0})


def test_shrink_means_by_hand() -> None:
    out = shrink_means(np.array([1.0, 0.0, 0.0, np.nan]), np.array(["a", "b", "b", "b"]),
                       prior_strength=2.0)
    mu = 1 / 3
    assert out.table.loc["a", "shrunk"] == pytest.approx((1 + 2 * mu) / 3)
    assert out.table.loc["b", "shrunk"] == pytest.approx((0 + 2 * mu) / 4)
    assert out.table.loc["b", "n"] == 2  # the NaN is left out
