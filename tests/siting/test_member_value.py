"""Member value: RFM scores and expected value against hand-computed values, the per-cell layer
preserves the total, and the layer enters battlefields and the site score.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from geodata.members import add_cell_columns, member_cells, member_value_layer, read_members
from optimizer.errors import InputError
from optimizer.member_value import customer_value, quintile_scores, rfm_table

AS_OF = "2025-12-31"


def _tiny() -> pd.DataFrame:
    rows = [("a", "2025-12-21", 100), ("a", "2025-12-01", 300), ("b", "2025-11-01", 50),
            ("c", "2025-06-01", 1000), ("c", "2025-07-01", 1000), ("c", "2025-08-01", 1000),
            ("d", "2024-12-31", 80), ("e", "2025-12-30", 400), ("e", "2025-12-30", 200)]
    return pd.DataFrame(rows, columns=["member_id", "date", "amount"])


def test_rfm_scores_match_hand_computed_values() -> None:
    table = rfm_table(_tiny(), as_of=AS_OF)
    assert table["recency_days"].to_dict() == {"a": 10, "b": 60, "c": 152, "d": 365, "e": 1}
    assert table["frequency"].to_dict() == {"a": 2, "b": 1, "c": 3, "d": 1, "e": 2}
    assert table["monetary"].to_dict() == {"a": 200, "b": 50, "c": 1000, "d": 80, "e": 300}
    assert table["tenure_days"].to_dict() == {"a": 31, "b": 61, "c": 214, "d": 366, "e": 2}
    # R: e best (1 day) ... d worst; F ties (b, d) and (a, e) take the higher rank; M by mean.
    assert table["rfm_cell"].to_dict() == {"a": "443", "b": "321", "c": "255", "d": "122",
                                           "e": "544"}
    assert table["rfm_score"].to_dict() == {"a": 11, "b": 6, "c": 12, "d": 5, "e": 13}


def test_orders_by_day_merge_same_day_rows() -> None:
    table = rfm_table(_tiny(), as_of=AS_OF, orders="days")
    assert table.loc["e", "frequency"] == 1 and table.loc["e", "monetary"] == 600
    assert table.loc["e", "total_amount"] == 600


def test_quintile_scores_spread_one_to_five() -> None:
    assert quintile_scores(np.arange(10.0)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quintile_scores(np.array([7.0])).tolist() == [5]


def test_expected_value_follows_the_documented_formula() -> None:
    own = customer_value(_tiny(), as_of=AS_OF, prior_days=0, horizon_days=365)
    rate = 2 / 31  # member a: 2 purchases in 31 days
    assert own.loc["a", "purchase_rate"] == pytest.approx(rate)
    assert own.loc["a", "p_active"] == pytest.approx(math.exp(-rate * 10))
    assert own.loc["a", "expected_value"] == pytest.approx(math.exp(-rate * 10) * rate * 365 * 200)
    shrunk = customer_value(_tiny(), as_of=AS_OF, prior_days=180, horizon_days=365)
    mean_rate = 9 / 674  # all purchases over all tenure days
    rate_b = (1 + 180 * mean_rate) / (61 + 180)
    assert shrunk.loc["b", "purchase_rate"] == pytest.approx(rate_b)
    assert shrunk.loc["b", "expected_value"] == pytest.approx(
        math.exp(-rate_b * 60) * rate_b * 365 * 50)


def test_value_rises_with_recency_frequency_and_spend() -> None:
    base = [("x", "2025-01-10", 500), ("x", "2025-12-10", 500)]
    variants = {"recent": [("y", "2025-01-10", 500), ("y", "2025-12-20", 500)],
                "frequent": [("y", "2025-01-10", 500), ("y", "2025-06-10", 500),
                             ("y", "2025-12-10", 500)],
                "spender": [("y", "2025-01-10", 900), ("y", "2025-12-10", 900)]}
    for name, rows in variants.items():
        value = customer_value(pd.DataFrame(base + rows, columns=["member_id", "date", "amount"]),
                               as_of=AS_OF)["expected_value"]
        assert value["y"] > value["x"], name


def test_a_frequent_buyer_gone_silent_is_worth_less() -> None:
    # Silent for 296 days: the more often a member used to buy, the surer it has left.
    rows = [("x", "2025-01-10", 500), ("x", "2025-03-10", 500), ("y", "2025-01-10", 500),
            ("y", "2025-02-10", 500), ("y", "2025-03-10", 500)]
    value = customer_value(pd.DataFrame(rows, columns=["member_id", "date", "amount"]),
                           as_of=AS_OF)
    assert (value["purchase_rate"] * value["recency_days"] > 1).all()
    assert value.loc["y", "expected_value"] < value.loc["x", "expected_value"]


def test_aggregation_per_cell_preserves_the_total() -> None:
    rng = np.random.default_rng(4)
    n = 500
    tx = pd.DataFrame({"member_id": [f"M{i % 180}" for i in range(n)],
                       "date": pd.Timestamp("2025-01-01") + pd.to_timedelta(
                           rng.integers(0, 360, n), unit="D"),
                       "amount": rng.gamma(2, 400, n).round(0),
                       "lat": 22.5 + rng.uniform(0, 0.1, n), "lng": 114.0 + rng.uniform(0, 0.1, n)})
    # Members in another order than the cells: the layer must match them by member id.
    value = customer_value(tx, as_of=AS_OF)["expected_value"].sample(frac=1.0, random_state=1)
    cells = member_cells(tx, 8)
    layer = member_value_layer(value, cells)
    assert layer["member_value"].sum() == pytest.approx(value.sum(), rel=1e-12)
    assert layer["members"].sum() == tx["member_id"].nunique() == len(value)
    assert np.allclose(layer["member_value_per_member"] * layer["members"],
                       layer["member_value"])
    by_hand = value.groupby(cells.reindex(value.index).to_numpy()).sum()
    assert np.allclose(layer["member_value"].to_numpy(), by_hand.sort_index().to_numpy())
    layers = pd.DataFrame({"lat": 0.0}, index=pd.Index(layer.index[:-3], name="cell"))
    with pytest.warns(UserWarning, match="3 cells of the new layer lie outside"):
        joined = add_cell_columns(layers, layer)
    assert joined["member_value"].sum() == pytest.approx(layer["member_value"].iloc[:-3].sum())


def test_bad_purchases_name_row_and_fix() -> None:
    tx = _tiny()
    tx.loc[3, "amount"] = -5
    with pytest.raises(InputError, match="row 4, column `amount`"):
        rfm_table(tx)
    with pytest.raises(InputError, match="after `as_of`"):
        rfm_table(_tiny(), as_of="2025-06-01")
    with pytest.raises(InputError, match="no column"):
        rfm_table(_tiny().drop(columns="amount"))


def test_demo_members_file_becomes_a_siting_input(demo_region, tmp_path) -> None:
    from geodata.demo import build_layers
    from geodata.demo_members import DEMO_END, generate_members, save_demo_members
    from optimizer.scoring import battlefield_ranking, score_cells

    first = generate_members(demo_region, n_members=2000)
    assert first.equals(generate_members(demo_region, n_members=2000))  # seeded
    path = save_demo_members(tmp_path / "members.csv", demo_region, n_members=2000)
    tx = read_members(path)
    assert len(tx) == len(first) and tx["date"].max() <= DEMO_END
    value = customer_value(tx, as_of=DEMO_END + pd.Timedelta(days=1))
    layers = add_cell_columns(build_layers(demo_region),
                              member_value_layer(value["expected_value"], member_cells(tx, 8)))
    assert layers["member_value"].sum() == pytest.approx(value["expected_value"].sum())
    ranking = battlefield_ranking(layers, weights={"member_value": 1.0},
                                  layer_aggregation={"member_value": "per_resident"})
    assert ranking.table["member_value"].notna().all()
    scores = score_cells(layers, weights={"footfall": 0.5, "member_value": 0.5})
    assert "member_value" in scores.contributions.columns
    # Members active at the end are worth more than members silent for over a year.
    recent = value["recency_days"] <= 90
    assert value.loc[recent, "expected_value"].mean() > \
        5 * value.loc[value["recency_days"] > 365, "expected_value"].mean()
