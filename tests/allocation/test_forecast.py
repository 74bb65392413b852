"""Demand classification, forecasts and the backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.allocation.forecast import (
    backtest,
    backtest_errors,
    classify_demand,
    demand_history,
    forecast_demand,
    rolling_forecasts,
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


def _daily_sales(days: pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    """Seeded daily Poisson sales of 30 store-SKUs (fast, slow and intermittent)."""
    rng = np.random.default_rng(seed)
    rates = np.r_[np.full(10, 3.0), np.full(10, 0.6), np.full(10, 0.1)]
    units = rng.poisson(rates[:, None], size=(len(rates), len(days)))
    series, day = np.nonzero(units)
    return pd.DataFrame({"date": days[day], "store_id": [f"S{i:02d}" for i in series],
                         "sku": "A", "units": units[series, day]})


def test_demand_history_periods_end_on_the_last_sales_day() -> None:
    days = pd.date_range("2026-01-01", "2026-01-28")  # Thursday .. Wednesday, 28 days
    sales = pd.DataFrame({"date": days, "store_id": "S1", "sku": "A",
                          "units": np.arange(1, 29)})
    history = demand_history(sales, before=pd.Timestamp("2026-01-26"))  # a Monday
    # Sales before Monday the 26th: 25 days, Jan 1..25: three full periods, the oldest
    # (Jan 1..4) dropped.
    assert str(history.last_day.date()) == "2026-01-25"
    assert history.history.tolist() == [[sum(range(5, 12)), sum(range(12, 19)),
                                          sum(range(19, 26))]]
    assert [str(d.date()) for d in history.period_end] == ["2026-01-11", "2026-01-18",
                                                          "2026-01-25"]
    assert not history.weekly_rows


def test_demand_history_keeps_iso_weeks_of_weekly_rows() -> None:
    sales = pd.DataFrame({"date": ["2026-01-05", "2026-01-12", "2026-01-19"], "store_id": "S1",
                          "sku": "A", "units": [4, 5, 6]})
    history = demand_history(sales)
    assert history.weekly_rows
    assert str(history.last_day.date()) == "2026-01-25"  # the Sunday of the last ISO week
    assert history.history.tolist() == [[4.0, 5.0, 6.0]]


def test_mid_week_cut_off_forecasts_the_full_week_within_the_backtest_error() -> None:
    """Sales through a Wednesday forecast next week as sales through the Sunday before do."""
    days = pd.date_range("2025-06-02", "2026-01-07")  # Monday .. Wednesday
    sales = _daily_sales(days)
    full_week = demand_history(sales, before=pd.Timestamp("2026-01-05"))  # through Sunday
    mid_week = demand_history(sales, before=pd.Timestamp("2026-01-08"))  # through Wednesday
    assert mid_week.history.shape == full_week.history.shape
    full = forecast_demand(full_week.history)["mean"].to_numpy()
    mid = forecast_demand(mid_week.history)["mean"].to_numpy()
    errors, _, _, _ = backtest_errors(full_week.history, holdout_weeks=8)
    mean_absolute_error = np.abs(errors).mean()
    assert np.abs(mid - full).mean() <= mean_absolute_error
    # The chain total (what the plan moves) agrees within the backtest's per-series error too.
    tolerance = mean_absolute_error * len(full) * 0.25
    assert abs(mid.sum() - full.sum()) <= tolerance
    # Calendar weeks count the 3 days of the cut-off week as a whole week, and fail the check.
    _, iso, _ = weekly_history(sales, week="2026-W03")
    assert iso[:, -1].sum() < 0.6 * iso[:, -2].sum()
    calendar = forecast_demand(iso)["mean"].to_numpy()
    assert full.sum() - calendar.sum() > tolerance


def test_backtest_cross_validation_equals_refitting_every_week() -> None:
    rng = np.random.default_rng(1)
    history = np.vstack([rng.poisson(5.0, (8, 30)), rng.poisson(0.3, (8, 30)),
                         (rng.random((8, 30)) < 0.2) * rng.poisson(6.0, (8, 30))]).astype(float)
    history[3, :26] = 0  # first sale inside the held-out weeks
    history[4] = 0
    holdout = 6
    rolling = rolling_forecasts(history, holdout_weeks=holdout)
    refit = np.column_stack([
        forecast_demand(history[:, :history.shape[1] - holdout + step])["mean"].to_numpy()
        for step in range(holdout)])
    np.testing.assert_allclose(rolling, refit, rtol=0, atol=1e-9)
    errors, naive, _, _ = backtest_errors(history, holdout_weeks=holdout)
    np.testing.assert_allclose(errors, refit - history[:, -holdout:], atol=1e-9)
    np.testing.assert_allclose(naive, history[:, -holdout - 1:-1] - history[:, -holdout:])
