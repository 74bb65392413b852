"""Demand classification, forecasts and the backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.allocation.forecast import (
    backtest,
    classify_demand,
    forecast_demand,
    week_start,
    weekly_history,
)
from optimizer.errors import InputError


def test_syntetos_boylan_classes() -> None:
    history = np.array([
        [5, 6, 5, 6, 5, 6, 5, 6],     # ADI 1, CV2 ~0.008 -> smooth
        [1, 9, 1, 9, 1, 9, 1, 9],     # ADI 1, CV2 0.64 -> erratic
        [0, 4, 0, 0, 4, 0, 0, 4],     # ADI 8/3, CV2 0 -> intermittent
        [0, 1, 0, 0, 9, 0, 0, 1],     # ADI 8/3, CV2 large -> lumpy
        [0, 0, 0, 0, 0, 0, 0, 0],
    ], dtype=float)
    table = classify_demand(history)
    assert table["demand_class"].tolist() == ["smooth", "erratic", "intermittent", "lumpy",
                                              "no_demand"]
    assert table["adi"].iloc[2] == pytest.approx(8 / 3)
    assert table["cv2"].iloc[1] == pytest.approx(16 / 25)


def test_forecast_means_and_quantiles() -> None:
    history = np.array([[4.0] * 20, [0, 0, 3, 0, 0, 3, 0, 0, 3, 0] * 2, [0.0] * 20])
    out = forecast_demand(history)
    assert out["method"].tolist() == ["ses", "sba", "naive"]
    assert out["mean"].iloc[0] == pytest.approx(4.0, abs=1e-6)
    assert 0.5 < out["mean"].iloc[1] < 1.5  # about 3 units every 3 weeks
    assert out["mean"].iloc[2] == 0
    assert np.all(out["upper"] >= out["mean"])
    assert np.all(out["variance"] >= out["mean"])


def test_weekly_history_sums_iso_weeks_and_cuts_at_the_week() -> None:
    sales = pd.DataFrame({"date": ["2026-11-09", "2026-11-15", "2026-11-16", "2026-11-23"],
                          "store_id": ["S1", "S1", "S1", "S2"], "sku": "A", "units": [1, 2, 4, 9]})
    keys, history, labels = weekly_history(sales, week="2026-W48")
    assert keys.to_dict("list") == {"store_id": ["S1"], "sku": ["A"]}
    assert labels == ["2026-W46", "2026-W47"]
    assert history.tolist() == [[3.0, 4.0]]


def test_backtest_beats_naive_on_noisy_stationary_demand() -> None:
    rng = np.random.default_rng(0)
    history = rng.poisson(np.r_[np.full(20, 6.0), np.full(20, 0.4)][:, None],
                          size=(40, 40)).astype(float)
    table = backtest(history, holdout_weeks=6).set_index("demand_class")
    assert {"all", "smooth"} <= set(table.index)
    # The naive forecast's error has twice the variance of a level estimate on iid demand.
    assert table.loc["all", "mase"] < table.loc["all", "mase_naive"]
    assert abs(table.loc["smooth", "bias"]) < 0.1


def test_errors_name_the_input() -> None:
    with pytest.raises(InputError, match="2026-W48"):
        week_start("48/2026")
    with pytest.raises(InputError, match="negative"):
        classify_demand(np.array([[1.0, -1.0]]))
    with pytest.raises(InputError, match="holdout_weeks"):
        backtest(np.ones((2, 5)), holdout_weeks=4)
