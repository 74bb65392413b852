"""Claim anomalies: the planted abuses rank at the top, clean records stay under the documented
false-alarm rates, and each claim signal on a hand-made case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.after_sales import find_anomalies
from optimizer.after_sales.anomalies import (
    CLAIM_FALSE_ALARM_RATE,
    FLAG_THRESHOLD,
    SHOP_FALSE_ALARM_RATE,
    binomial_z,
    robust_z,
)


def test_planted_abusive_shops_rank_at_the_top(demo_repairs) -> None:
    found = find_anomalies(demo_repairs.repairs)
    top = found.shops.head(3)
    assert set(top["shop_id"]) == set(demo_repairs.planted_shops.values())
    assert top["flagged"].all()
    reasons = found.shops.set_index("shop_id")["reason"]
    assert "costs" in reasons[demo_repairs.planted_shops["high_cost"]]
    assert "warranty claims on devices it repaired" in \
        reasons[demo_repairs.planted_shops["repeat_warranty"]]


def test_planted_claims_rank_at_the_top(demo_repairs) -> None:
    found = find_anomalies(demo_repairs.repairs)
    planted = {i for ids in demo_repairs.planted_claims.values() for i in ids}
    claims = found.claims.assign(planted=found.claims["repair_id"].isin(planted))
    assert claims.head(50)["planted"].all()  # the 50 strongest flags are all planted
    assert claims.head(100)["planted"].mean() >= 0.95
    assert claims.head(250)["planted"].mean() >= 0.9
    # every out-of-warranty claim is found; the repeat and cost abuse mostly
    found_ids = set(claims["repair_id"])
    assert set(demo_repairs.planted_claims["out_of_warranty"]) <= found_ids
    for abuse in ("high_cost", "repeat_warranty"):
        ids = demo_repairs.planted_claims[abuse]
        assert len(found_ids & set(ids)) / len(ids) >= 0.5, abuse
    assert (claims["score"] >= FLAG_THRESHOLD).all()
    assert claims["score"].is_monotonic_decreasing
    assert claims["reason"].str.len().gt(20).all()


def test_false_alarms_on_clean_records_stay_under_the_documented_rates(demo_region) -> None:
    from geodata.demo_repairs import generate_repairs

    claims = shops = flagged_claims = flagged_shops = 0
    for seed in (1, 2, 3):
        clean = generate_repairs(demo_region, seed=seed, abuses=False)
        assert clean.planted_shops == {}
        found = find_anomalies(clean.repairs)
        claims += len(clean.repairs)
        flagged_claims += len(found.claims)
        shops += len(found.shops)
        flagged_shops += int(found.shops["flagged"].sum())
    assert flagged_claims / claims <= CLAIM_FALSE_ALARM_RATE
    assert flagged_shops / shops <= SHOP_FALSE_ALARM_RATE


def test_claim_signals_by_hand(make_records) -> None:
    rows = []
    # a background of 60 ordinary screen repairs at 150 CNY (+- a little) at shop A
    rng = np.random.default_rng(0)
    for i in range(60):
        day = pd.Timestamp("2025-01-01") + pd.Timedelta(days=i)
        cost = float(np.round(100 * rng.lognormal(0, 0.1)))
        rows.append(("A", f"n{i}", "M", day, day + pd.Timedelta(days=1), "SCREEN", cost, 50.0,
                     False, None, "2026-01-01"))
    # 1. a cost five times the norm
    rows.append(("A", "dear", "M", "2025-03-10", "2025-03-11", "SCREEN", 700.0, 50.0, False,
                 None, "2026-01-01"))
    # 2. a warranty claim 60 days after the warranty ended
    rows.append(("A", "late", "M", "2025-03-02", "2025-03-03", "SCREEN", 100.0, 50.0, True,
                 None, "2025-01-01"))
    # 3. a redo within the repair guarantee after the warranty ended: legitimate
    rows.append(("A", "redo", "M", "2024-12-20", "2024-12-21", "SCREEN", 100.0, 50.0, False,
                 None, "2024-12-31"))
    rows.append(("A", "redo", "M", "2025-01-15", "2025-01-16", "SCREEN", 30.0, 50.0, True,
                 None, "2024-12-31"))
    # 4. the same device's third and fourth warranty claims at one shop within a year
    for month in (1, 3, 5, 7):
        rows.append(("A", "again", "M", f"2025-0{month}-05", f"2025-0{month}-06", "SCREEN",
                     100.0, 50.0, True, None, "2026-01-01"))
    frame = make_records(rows)
    found = find_anomalies(frame)
    scores = found.claim_scores
    by_serial = frame["serial"].to_numpy()
    signal = found.claims.set_index("row")["signal"]
    assert signal[int(np.flatnonzero(by_serial == "dear")[0]) + 1] == "cost"
    late = int(np.flatnonzero(by_serial == "late")[0])
    assert scores.loc[late, "out_of_warranty"] == pytest.approx(FLAG_THRESHOLD + np.log2(3.0))
    assert "60 days after the warranty ended on 2025-01-01" in \
        found.claims.set_index("row").loc[late + 1, "reason"]
    assert not scores.loc[by_serial == "redo", "flagged"].any()
    again = scores.loc[by_serial == "again", "earlier_warranty_claims"].tolist()
    assert again == [0, 1, 2, 3]
    assert scores.loc[by_serial == "again", "flagged"].tolist() == [False, False, True, True]
    assert set(found.claims["serial"]) == {"dear", "late", "again"}


def test_robust_scores() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    # median 3, MAD 1: z = (x - 3) / 1.4826
    assert robust_z(values) == pytest.approx((values - 3) / 1.4826)
    grouped = robust_z(np.array([1.0, 2.0, 3.0, 10.0, 20.0, 30.0]),
                       np.array(["a"] * 3 + ["b"] * 3))
    assert grouped == pytest.approx([-1 / 1.4826, 0, 1 / 1.4826, -1 / 1.4826, 0, 1 / 1.4826])
    from scipy import stats

    assert binomial_z(np.array([5]), np.array([100]), 0.01)[0] == pytest.approx(
        stats.norm.isf(stats.binom.sf(4, 100, 0.01)))
