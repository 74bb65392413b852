"""The demand guide: next week's forecast per store and SKU with its backtest accuracy.

One row per store-SKU: the mean and the upper quantile of next week's demand, its variance,
the Syntetos-Boylan demand class and the method used, and how the method did in a rolling
one-week-ahead backtest on the last ``holdout_weeks`` weeks against the naive forecast (last
week's sales): mean absolute error of each, the MASE of each (scaled by the series' own mean
absolute one-week change before the held-out weeks) and whether the method beat naive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .forecast import backtest_errors, demand_history, forecast_demand


def demand_guide(sales: pd.DataFrame, *, before: pd.Timestamp | str | None = None,
                 stores: pd.DataFrame | None = None, service_level: float = 0.95,
                 history_weeks: int = 52, holdout_weeks: int = 8) -> pd.DataFrame:
    """Forecast and backtest accuracy per store and SKU (see the module docstring).

    Parameters
    ----------
    sales
        ``date``, ``store_id``, ``sku``, ``units``.
    before
        First day of the forecast week (the plan's ship day); sales from it on are ignored.
    stores
        Optional ``store_id`` with ``name``, ``region``, ``channel``, added beside the ids.
    service_level
        Quantile of ``upper``.
    history_weeks
        Weeks of history used (7-day periods ending on the last sales day).
    holdout_weeks
        Weeks held out in the backtest; fewer when the history is short (at least 3 weeks stay
        to fit on); no accuracy columns are filled (``NaN``) when under 4 weeks are given.

    Returns
    -------
    pandas.DataFrame
        ``store_id``, ``sku``, ``demand_class``, ``method``, ``mean``, ``variance``, ``upper``,
        ``mae``, ``mae_naive``, ``mase``, ``mase_naive``, ``beats_naive``, ``weeks``.

    Examples
    --------
    >>> days = pd.date_range("2025-10-06", "2026-01-04")
    >>> sales = pd.DataFrame({"date": days, "store_id": "S1", "sku": "A", "units": 2})
    >>> guide = demand_guide(sales)
    >>> guide[["demand_class", "mean", "mae"]].round(6).values.tolist()
    [['smooth', 14.0, 0.0]]
    """
    history = demand_history(sales, before=before, periods=history_weeks)
    matrix = history.history
    guide = pd.concat([history.keys.reset_index(drop=True),
                       forecast_demand(matrix, quantile=service_level)], axis=1)
    guide["store_id"] = guide["store_id"].astype(str)
    guide["sku"] = guide["sku"].astype(str)
    holdout = min(holdout_weeks, matrix.shape[1] - 3)
    nan = np.full(len(guide), np.nan)
    mae, mae_naive, mase, mase_naive = nan.copy(), nan.copy(), nan.copy(), nan.copy()
    if holdout >= 1:
        errors, naive, _, scale = backtest_errors(matrix, holdout_weeks=holdout)
        mae, mae_naive = np.abs(errors).mean(axis=1), np.abs(naive).mean(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            mase = np.where(scale > 0, mae / np.where(scale > 0, scale, 1), np.nan)
            mase_naive = np.where(scale > 0, mae_naive / np.where(scale > 0, scale, 1), np.nan)
    guide["mae"], guide["mae_naive"] = mae, mae_naive
    guide["mase"], guide["mase_naive"] = mase, mase_naive
    beats = (mae < mae_naive).astype(object)
    beats[np.isnan(mae)] = None
    guide["beats_naive"] = beats
    guide["weeks"] = matrix.shape[1]
    if stores is not None:
        extra = [c for c in ("name", "region", "channel") if c in stores.columns]
        info = pd.DataFrame(stores[["store_id", *extra]]).assign(
            store_id=stores["store_id"].astype(str))
        guide = guide.merge(info, on="store_id", how="left")
        guide = guide[["store_id", *extra, *[c for c in guide.columns
                                             if c not in {"store_id", *extra}]]]
    return guide
