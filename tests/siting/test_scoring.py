"""Site scores: normalisation, exact additivity of contributions, smoothing, explanations,
battlefield ranking and error messages.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from optimizer.errors import InputError
from optimizer.scoring import (
    DEFAULT_WEIGHTS,
    distance_decay_matrix,
    normalise_factors,
    rank_battlefields,
    score_cells,
    smooth_factors,
)


def _layers(n: int = 50, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cells = pd.Index(np.arange(n, dtype=np.uint64) + np.uint64(617700169958293503), name="cell")
    return pd.DataFrame({
        "lat": 22.5 + rng.uniform(0, 0.1, n),
        "lng": 114.0 + rng.uniform(0, 0.1, n),
        "region": rng.choice(["Futian", "Nanshan", "Luohu"], n),
        "population": rng.gamma(2, 1000, n),
        "footfall": rng.gamma(1, 500, n),
        "customers": rng.gamma(1.5, 20, n),
        "fan_index": rng.uniform(0, 0.05, n),
        "avg_ticket": rng.uniform(800, 2500, n),
        "poi_diversity": rng.uniform(0, 2, n),
        "competitors_nearby": rng.integers(0, 6, n).astype(float),
        "competitor_count": rng.integers(0, 2, n).astype(float),
        "own_store_distance_km": rng.uniform(0, 8, n),
    }, index=cells)


class TestNormalisation:
    def test_percentile_spans_zero_to_one_and_keeps_order(self) -> None:
        values = pd.DataFrame({"x": [5.0, 1.0, 3.0, 1e9]})
        out = normalise_factors(values, method="percentile")["x"]
        assert out.min() == 0.0 and out.max() == 1.0
        assert list(out.rank()) == list(values["x"].rank())

    def test_outlier_does_not_squash_the_rest_with_zscore(self) -> None:
        values = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 1e9]})
        out = normalise_factors(values, method="zscore", clip=3.0)["x"]
        assert out.iloc[-1] == 3.0
        # the ordinary values keep a spread of more than one unit (a plain z-score would not)
        assert out.iloc[4] - out.iloc[0] > 1.0

    def test_missing_values_get_the_neutral_value(self) -> None:
        values = pd.DataFrame({"x": [1.0, np.nan, 3.0]})
        assert normalise_factors(values)["x"].iloc[1] == 0.5
        assert normalise_factors(values, method="zscore")["x"].iloc[1] == 0.0

    def test_constant_column_is_neutral(self) -> None:
        values = pd.DataFrame({"x": [2.0, 2.0, 2.0]})
        assert normalise_factors(values)["x"].tolist() == [0.0, 0.0, 0.0]
        assert normalise_factors(values, method="zscore")["x"].tolist() == [0.0, 0.0, 0.0]

    def test_unknown_method_is_named(self) -> None:
        with pytest.raises(InputError, match="`method`.*'rank'"):
            normalise_factors(pd.DataFrame({"x": [1.0]}), method="rank")  # type: ignore[arg-type]


class TestScore:
    @pytest.mark.parametrize("normalisation", ["percentile", "zscore"])
    def test_contributions_add_up_exactly(self, normalisation: str) -> None:
        scores = score_cells(_layers(), normalisation=normalisation)  # type: ignore[arg-type]
        assert (scores.contributions.sum(axis=1) == scores.score).all()
        assert list(scores.contributions.columns) == list(DEFAULT_WEIGHTS)

    @settings(max_examples=40, deadline=None)
    @given(arrays(float, (12, 3), elements=st.floats(0, 1e6)),
           st.lists(st.floats(-5, 5), min_size=3, max_size=3))
    def test_additivity_holds_for_any_data_and_weights(self, values: np.ndarray,
                                                       weights: list[float]) -> None:
        frame = pd.DataFrame(values, columns=["a", "b", "c"])
        scores = score_cells(frame, weights=dict(zip("abc", weights, strict=True)))
        assert np.array_equal(scores.contributions.sum(axis=1).to_numpy(), scores.score.to_numpy())
        assert np.all(np.isfinite(scores.score))

    def test_more_footfall_scores_higher_and_competitors_lower(self) -> None:
        layers = _layers()
        base = score_cells(layers)
        busier = layers.copy()
        cell = layers.index[0]
        busier.loc[cell, "footfall"] = layers["footfall"].max() * 2
        assert score_cells(busier).score[cell] > base.score[cell]
        crowded = layers.copy()
        crowded.loc[cell, "competitors_nearby"] = 100.0
        assert score_cells(crowded).score[cell] < base.score[cell]

    def test_smoothing_matrix_equals_catchment_average(self) -> None:
        layers = _layers(6)
        ones = sp.csr_array(np.ones((6, 6)))
        scores = score_cells(layers, weights={"footfall": 1.0}, smoothing=ones)
        plain = normalise_factors(layers, ["footfall"])["footfall"]
        assert np.allclose(scores.score, plain.mean())

    def test_smoothing_function_is_applied(self) -> None:
        layers = _layers(8)
        scores = score_cells(layers, weights={"footfall": 2.0},
                             smoothing=lambda frame: frame * 0 + 0.25)
        assert np.allclose(scores.score, 0.5)

    def test_k_ring_smoothing_from_the_grid(self) -> None:
        from geodata.grid import disk_matrix, points_to_cells

        rng = np.random.default_rng(3)
        cells = np.unique(points_to_cells(rng.uniform(22.5, 22.52, 400),
                                          rng.uniform(114.0, 114.02, 400), 8))
        layers = pd.DataFrame({"footfall": rng.gamma(1, 100, len(cells))},
                              index=pd.Index(cells, name="cell"))
        matrix = disk_matrix(cells, cells, 1)
        scores = score_cells(layers, weights={"footfall": 1.0}, smoothing=matrix)
        plain = normalise_factors(layers)["footfall"].to_numpy()
        counts = np.asarray(matrix.sum(axis=1)).ravel()
        assert np.allclose(scores.score.to_numpy(), (matrix @ plain) / counts)
        # smoothing shrinks the spread of scores
        assert scores.score.std() < plain.std()

    def test_distance_decay_matrix_weights(self) -> None:
        lat = np.array([22.5, 22.5, 22.5])
        lng = np.array([114.0, 114.0 + 1 / 107.0, 114.5])  # ~1 km apart, and a far one
        matrix = distance_decay_matrix(lat, lng, radius_km=2.0, half_distance_km=1.0).toarray()
        assert matrix[0, 0] == 1.0 and matrix[0, 2] == 0.0
        assert matrix[0, 1] == pytest.approx(0.5, abs=0.02)
        smoothed = smooth_factors(pd.DataFrame({"x": [0.0, 1.0, 1.0]}), sp.csr_array(matrix))
        assert smoothed["x"].iloc[0] == pytest.approx(matrix[0, 1] / (1 + matrix[0, 1]))
        assert smoothed["x"].iloc[2] == 1.0

    def test_explain_names_top_factors_with_signs(self) -> None:
        layers = _layers()
        cell = layers.index[3]
        layers.loc[cell, ["footfall", "competitors_nearby"]] = [1e6, 50.0]
        scores = score_cells(layers)
        text = scores.explain(cell)
        assert "footfall +0.300" in text
        assert "Holding it back: competitors nearby -0.250" in text
        assert f"rank {int(scores.rank[cell])} of 50" in text

    def test_top_is_sorted_best_first(self) -> None:
        top = score_cells(_layers()).top(5)
        assert top["score"].is_monotonic_decreasing and len(top) == 5

    def test_missing_weight_column_is_named(self) -> None:
        with pytest.raises(InputError, match=r"no column \['brand_fit'\]"):
            score_cells(_layers(), weights={"brand_fit": 1.0})

    def test_wrong_smoothing_shape_is_explained(self) -> None:
        with pytest.raises(InputError, match=r"\(50, 50\) neighbour matrix"):
            score_cells(_layers(), smoothing=sp.eye_array(3))

    def test_unknown_cell_in_explain(self) -> None:
        with pytest.raises(InputError, match="not in the score table"):
            score_cells(_layers()).explain(123)


class TestBattlefields:
    def test_known_ranking_and_rates(self) -> None:
        layers = pd.DataFrame({
            "region": ["good", "good", "bad", "bad"],
            "population": [1000.0, 1000.0, 1000.0, 1000.0],
            "customers": [60.0, 40.0, 5.0, 5.0],
            "avg_ticket": [2000.0, 1000.0, 900.0, 900.0],
            "competitor_count": [0.0, 0.0, 2.0, 2.0],
            "own_store_distance_km": [10.0, 1.0, 1.0, 1.0],
        })
        table = rank_battlefields(layers, radius_km=3.0, min_residents=0)
        assert table.index.tolist() == ["good", "bad"]
        assert table.loc["good", "whitespace_rate"] == 0.5
        assert table.loc["bad", "whitespace_rate"] == 0.0
        assert table.loc["good", "fan_index"] == 0.05
        assert table.loc["good", "avg_ticket"] == pytest.approx((60 * 2000 + 40 * 1000) / 100)
        assert table.loc["bad", "competitor_pressure"] == 200.0
        assert table["rank"].tolist() == [1, 2]

    def test_whitespace_rate_is_a_share(self) -> None:
        table = rank_battlefields(_layers(200), radius_km=4.0)
        assert table["whitespace_rate"].between(0, 1).all()
        assert set(table.index) == {"Futian", "Nanshan", "Luohu"}

    def test_areas_as_series(self) -> None:
        layers = _layers(30)
        parents = pd.Series(np.where(layers["lat"] > 22.55, "north", "south"), index=layers.index)
        assert set(rank_battlefields(layers, areas=parents).index) == {"north", "south"}

    def test_missing_area_column(self) -> None:
        with pytest.raises(InputError, match="no column 'district'"):
            rank_battlefields(_layers(), areas="district")
