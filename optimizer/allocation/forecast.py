"""Next week's demand per store and SKU: a mean, a variance and an upper quantile.

Most store-SKU series are intermittent (many weeks without a sale), so series are first
classified by the Syntetos-Boylan scheme on the average inter-demand interval (ADI) and the
squared coefficient of variation of the non-zero sizes (CV2), with cut-offs 1.32 and 0.49:

=================  ============  ===========
class              ADI           CV2
=================  ============  ===========
``smooth``         < 1.32        < 0.49
``erratic``        < 1.32        >= 0.49
``intermittent``   >= 1.32       < 0.49
``lumpy``          >= 1.32       >= 0.49
=================  ============  ===========

``method="auto"`` then forecasts smooth and erratic series with simple exponential smoothing,
intermittent ones with the Syntetos-Boylan approximation (SBA) and lumpy ones with TSB
(Teunter-Syntetos-Babai, which also follows obsolescence). The models come from statsforecast
(numba-compiled; the first call in a fresh environment compiles them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..errors import InputError
from .safety_stock import demand_quantile

DemandClass = Literal["smooth", "erratic", "intermittent", "lumpy", "no_demand"]
Method = Literal["auto", "ses", "sba", "tsb", "imapa", "naive"]

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
_AUTO_METHOD = {"smooth": "ses", "erratic": "ses", "intermittent": "sba", "lumpy": "tsb",
                "no_demand": "naive"}


def classify_demand(history: np.ndarray) -> pd.DataFrame:
    """Syntetos-Boylan class of each series (rows of ``history``, one column per period).

    Returns
    -------
    pandas.DataFrame
        One row per series: ``adi``, ``cv2`` and ``demand_class`` (``no_demand`` for series
        without any sale).

    Examples
    --------
    >>> classify_demand(np.array([[3, 4, 3, 4], [0, 0, 5, 0], [0, 0, 0, 0]]))["demand_class"].tolist()
    ['smooth', 'intermittent', 'no_demand']
    """
    history = _as_matrix(history)
    nonzero = history > 0
    count = nonzero.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        adi = np.where(count > 0, history.shape[1] / np.maximum(count, 1), np.inf)
        size_sum = np.where(nonzero, history, 0).sum(axis=1)
        size_mean = size_sum / np.maximum(count, 1)
        size_sq = np.where(nonzero, (history - size_mean[:, None]) ** 2, 0).sum(axis=1)
        size_var = size_sq / np.maximum(count, 1)
        cv2 = np.where(size_mean > 0, size_var / np.maximum(size_mean, 1e-12) ** 2, 0.0)
    frequent = adi < ADI_CUTOFF
    variable = cv2 >= CV2_CUTOFF
    demand_class = np.select(
        [count == 0, frequent & ~variable, frequent & variable, ~frequent & ~variable],
        ["no_demand", "smooth", "erratic", "intermittent"], default="lumpy")
    return pd.DataFrame({"adi": adi, "cv2": cv2, "demand_class": demand_class})


def weekly_history(sales: pd.DataFrame, *, week: str | None = None,
                   weeks: int | None = None) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Sum daily (or weekly) sales into ISO weeks, one row per store-SKU, zeros filled.

    Parameters
    ----------
    sales
        Columns ``date``, ``store_id``, ``sku``, ``units``.
    week
        ISO week to forecast (``"2026-W48"``): only weeks before it are kept.
    weeks
        Keep at most this many most recent weeks.

    Returns
    -------
    (keys, history, week_labels)
        ``keys`` has ``store_id`` and ``sku``; ``history[i, t]`` is the units of series ``i`` in
        week ``week_labels[t]``.

    Examples
    --------
    >>> sales = pd.DataFrame({"date": ["2026-01-05", "2026-01-13"], "store_id": "S1",
    ...                       "sku": "A", "units": [2, 3]})
    >>> weekly_history(sales)[1].tolist()
    [[2.0, 3.0]]
    """
    missing = {"date", "store_id", "sku", "units"} - set(sales.columns)
    if missing:
        raise InputError(f"`sales` lacks column(s) {sorted(missing)}; it needs date, store_id, "
                         "sku and units.")
    dates = pd.to_datetime(sales["date"])
    monday = (dates - pd.to_timedelta(dates.dt.weekday, unit="D")).dt.normalize()
    if week is not None:
        monday_cutoff = week_start(week)
        keep = monday < monday_cutoff
        dates, monday, sales = dates[keep], monday[keep], sales.loc[keep]
    if len(sales) == 0:
        raise InputError("`sales` has no rows before the forecast week; give at least one week "
                         "of history.")
    first, last = monday.min(), monday.max()
    all_weeks = pd.date_range(first, last, freq="7D")
    if weeks is not None:
        all_weeks = all_weeks[-weeks:]
    keys = sales[["store_id", "sku"]].drop_duplicates().sort_values(["store_id", "sku"])
    keys = keys.reset_index(drop=True)
    series = pd.MultiIndex.from_frame(keys).get_indexer(
        pd.MultiIndex.from_frame(sales[["store_id", "sku"]]))
    column = all_weeks.get_indexer(monday)
    inside = column >= 0
    history = np.zeros((len(keys), len(all_weeks)))
    np.add.at(history, (series[inside], column[inside]),
              sales["units"].to_numpy(dtype=float)[inside])
    labels = [f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for d in all_weeks]
    return keys, history, labels


@dataclass(frozen=True)
class DemandHistory:
    """Sales summed into 7-day periods that end on the last day the sales cover.

    Attributes
    ----------
    keys
        ``store_id`` and ``sku`` of each series (row of ``history``).
    history
        ``history[i, t]``: units of series ``i`` in period ``t`` (oldest first, zeros filled).
    period_end
        Last day of each period; the last one is :attr:`last_day`.
    last_day
        Last day the sales cover (the last sales date; for weekly sales, the Sunday of the last
        ISO week).
    weekly_rows
        Whether the sales came as one row per ISO week rather than per day.
    """

    keys: pd.DataFrame
    history: np.ndarray
    period_end: pd.DatetimeIndex
    last_day: pd.Timestamp
    weekly_rows: bool


def demand_history(sales: pd.DataFrame, *, before: pd.Timestamp | str | None = None,
                   periods: int | None = None) -> DemandHistory:
    """Sum sales into complete 7-day periods ending on the last day the sales cover.

    The periods are aligned to the cut-off, not to calendar weeks, so a history that stops on a
    Wednesday has no short last week: its last period runs Thursday to Wednesday. The oldest
    period is dropped when it would hold fewer than 7 days. Weekly sales (every row on the same
    weekday, one row per ISO week) keep their ISO weeks, which are complete.

    Parameters
    ----------
    sales
        Columns ``date``, ``store_id``, ``sku``, ``units`` (daily or weekly rows).
    before
        Only sales dated before this day are used (the first ship day of the plan).
    periods
        Keep at most this many most recent periods.

    Returns
    -------
    DemandHistory

    Examples
    --------
    >>> days = pd.date_range("2026-01-01", "2026-01-21")  # Thursday to Wednesday, 21 days
    >>> sales = pd.DataFrame({"date": days, "store_id": "S1", "sku": "A", "units": 1})
    >>> h = demand_history(sales)
    >>> h.history.tolist(), str(h.last_day.date())
    ([[7.0, 7.0, 7.0]], '2026-01-21')
    """
    missing = {"date", "store_id", "sku", "units"} - set(sales.columns)
    if missing:
        raise InputError(f"`sales` lacks column(s) {sorted(missing)}; it needs date, store_id, "
                         "sku and units.")
    dates = pd.to_datetime(sales["date"]).dt.normalize()
    if before is not None:
        keep = (dates < pd.Timestamp(before)).to_numpy()
        dates, sales = dates[keep], sales.loc[keep]
    if len(sales) == 0:
        raise InputError("`sales` has no rows before the forecast week; give at least one week "
                         "of history.")
    unique_days = pd.DatetimeIndex(dates.unique())
    weekly_rows = bool(len(unique_days) > 1 and unique_days.weekday.nunique() == 1)
    if weekly_rows:
        # A weekly row stands for its ISO week: place it on that week's Sunday.
        dates = dates + pd.to_timedelta(6 - dates.dt.weekday, unit="D")
        first_day = dates.min() - pd.Timedelta(days=6)
    else:
        first_day = dates.min()
    last_day = dates.max()
    n_periods = max(int(((last_day - first_day).days + 1) // 7), 1)
    if periods is not None:
        n_periods = min(n_periods, periods)
    back = ((last_day - dates).dt.days // 7).to_numpy()
    column = n_periods - 1 - back
    inside = column >= 0
    keys = sales[["store_id", "sku"]].drop_duplicates().sort_values(["store_id", "sku"])
    keys = keys.reset_index(drop=True)
    series = pd.MultiIndex.from_frame(keys).get_indexer(
        pd.MultiIndex.from_frame(sales[["store_id", "sku"]]))
    history = np.zeros((len(keys), n_periods))
    np.add.at(history, (series[inside], column[inside]),
              sales["units"].to_numpy(dtype=float)[inside])
    period_end = pd.DatetimeIndex(last_day - pd.to_timedelta(
        7 * np.arange(n_periods - 1, -1, -1), unit="D"))
    return DemandHistory(keys=keys, history=history, period_end=period_end, last_day=last_day,
                         weekly_rows=weekly_rows)


def week_start(week: str) -> pd.Timestamp:
    """Monday of an ISO week written ``"YYYY-Www"``.

    Examples
    --------
    >>> str(week_start("2026-W48").date())
    '2026-11-23'
    """
    try:
        year, number = week.split("-W")
        monday = pd.Timestamp.fromisocalendar(int(year), int(number), 1)
    except (ValueError, AttributeError) as exc:
        raise InputError(f"`week` must look like '2026-W48', got {week!r}.") from exc
    canonical = f"{monday.isocalendar()[0]:04d}-W{monday.isocalendar()[1]:02d}"
    if week != canonical:
        # One week, one label: files and saved plans are named by it.
        raise InputError(f"`week` must be written {canonical!r} (four-digit year, two-digit "
                         f"week), got {week!r}.")
    return monday


def forecast_demand(history: np.ndarray, *, method: Method = "auto", quantile: float = 0.95,
                    variance_weeks: int = 26) -> pd.DataFrame:
    """Forecast next week's demand for every series (row) of a weekly ``history`` matrix.

    The mean comes from the method (per class with ``"auto"``); the variance is the sample
    variance of the last ``variance_weeks`` weeks, at least the mean (Poisson-like floor) so
    slow movers keep some spread; ``upper`` is the ``quantile`` of demand under the
    distribution :func:`optimizer.allocation.safety_stock.choose_distribution` picks.

    Returns
    -------
    pandas.DataFrame
        ``demand_class``, ``method``, ``mean``, ``variance``, ``upper`` per series.

    Examples
    --------
    >>> out = forecast_demand(np.array([[5.0, 6, 5, 6, 5, 6, 5, 6]]), method="ses")
    >>> bool(5.0 <= out["mean"].iloc[0] <= 6.0)
    True
    """
    history = _as_matrix(history)
    classes = classify_demand(history)["demand_class"].to_numpy()
    methods = (np.vectorize(_AUTO_METHOD.get)(classes) if method == "auto"
               else np.full(len(history), method))
    means = _method_forecasts(history, sorted(set(methods.tolist())))
    mean = np.zeros(len(history))
    for name, values in means.items():
        chosen = methods == name
        mean[chosen] = values[chosen]
    mean = np.maximum(mean, 0.0)
    recent = history[:, -variance_weeks:]
    variance = recent.var(axis=1, ddof=1) if recent.shape[1] > 1 else np.zeros(len(history))
    variance = np.maximum(variance, mean)
    upper = demand_quantile(quantile, mean, variance)
    return pd.DataFrame({"demand_class": classes, "method": methods, "mean": mean,
                         "variance": variance, "upper": upper})


def backtest(history: np.ndarray, *, holdout_weeks: int = 8, method: Method = "auto",
             ) -> pd.DataFrame:
    """Run a rolling one-week-ahead backtest on the last ``holdout_weeks`` weeks, per demand class.

    For each held-out week the model sees only the weeks before it (statsforecast's
    ``cross_validation``, refitting at every window; see :func:`rolling_forecasts`). Accuracy is
    the MASE (mean absolute error scaled by the in-sample one-step naive error, pooled over the
    class) and the bias (sum of errors over sum of actuals), for the method and for the naive
    forecast (last week's sales) in the same run.

    Returns
    -------
    pandas.DataFrame
        One row per class plus ``all``: ``series``, ``mase``, ``mase_naive``, ``bias``,
        ``bias_naive``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> table = backtest(rng.poisson(3.0, (20, 30)).astype(float), holdout_weeks=4)
    >>> bool(table.set_index("demand_class").loc["all", "mase"] < table.set_index("demand_class").loc["all", "mase_naive"])
    True
    """
    history = _as_matrix(history)
    errors, naive_errors, classes, scale = backtest_errors(history, holdout_weeks=holdout_weeks,
                                                           method=method)
    fit_end = history.shape[1] - holdout_weeks
    rows = []
    for name in [*sorted(set(classes.tolist())), "all"]:
        chosen = np.ones(len(classes), bool) if name == "all" else classes == name
        actual_sum = history[chosen, fit_end:].sum()
        denominator = max(scale[chosen].mean(), 1e-12)
        rows.append({
            "demand_class": name, "series": int(chosen.sum()),
            "mase": np.abs(errors[chosen]).mean() / denominator,
            "mase_naive": np.abs(naive_errors[chosen]).mean() / denominator,
            "bias": errors[chosen].sum() / max(actual_sum, 1e-12),
            "bias_naive": naive_errors[chosen].sum() / max(actual_sum, 1e-12)})
    return pd.DataFrame(rows)


def backtest_errors(history: np.ndarray, *, holdout_weeks: int = 8, method: Method = "auto",
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-series errors of the rolling one-week-ahead backtest and of the naive forecast.

    Returns
    -------
    (errors, naive_errors, demand_class, scale)
        ``errors[i, t]``: forecast minus actual of series ``i`` in held-out week ``t``;
        ``naive_errors`` the same for last week's sales; ``demand_class`` of each series on the
        fitting weeks; ``scale`` its in-sample mean absolute one-step change (the MASE
        denominator).

    Examples
    --------
    >>> errors, naive, classes, scale = backtest_errors(np.tile([2.0, 4.0], (1, 6)),
    ...                                                 holdout_weeks=2, method="naive")
    >>> errors.tolist(), scale.tolist()
    ([[2.0, -2.0]], [2.0])
    """
    history = _as_matrix(history)
    if holdout_weeks < 1 or history.shape[1] - holdout_weeks < 3:
        raise InputError(f"`holdout_weeks`={holdout_weeks} leaves fewer than 3 weeks to fit on "
                         f"({history.shape[1]} weeks given); use fewer held-out weeks.")
    fit_end = history.shape[1] - holdout_weeks
    classes = classify_demand(history[:, :fit_end])["demand_class"].to_numpy()
    scale = np.abs(np.diff(history[:, :fit_end], axis=1)).mean(axis=1)
    actual = history[:, fit_end:]
    predicted = rolling_forecasts(history, holdout_weeks=holdout_weeks, method=method)
    naive = history[:, fit_end - 1:-1]
    return predicted - actual, naive - actual, classes, scale


def rolling_forecasts(history: np.ndarray, *, holdout_weeks: int, method: Method = "auto",
                      ) -> np.ndarray:
    """One-week-ahead means for each of the last ``holdout_weeks`` weeks, refit at every week.

    Equal to calling :func:`forecast_demand` on the weeks before each held-out week (the
    method chosen per series from the class of those weeks), in one statsforecast
    ``cross_validation`` run per model instead of one fit per week.

    Returns
    -------
    numpy.ndarray
        ``(series, holdout_weeks)``.

    Examples
    --------
    >>> rolling_forecasts(np.array([[1.0, 2, 3, 4, 5]]), holdout_weeks=2, method="naive").tolist()
    [[3.0, 4.0]]
    """
    history = _as_matrix(history)
    n_series, n_weeks = history.shape
    fit_end = n_weeks - holdout_weeks
    methods = np.empty((n_series, holdout_weeks), dtype=object)
    for step in range(holdout_weeks):
        seen = history[:, :fit_end + step]
        if method == "auto":
            classes = classify_demand(seen)["demand_class"].to_numpy()
            methods[:, step] = np.vectorize(_AUTO_METHOD.get)(classes)
        else:
            methods[:, step] = method
    predicted = history[:, fit_end - 1:-1].copy()  # naive: the week before each held-out week
    models = sorted(set(methods.ravel().tolist()) - {"naive"})
    if models:
        for name, values in _cross_validated(history, holdout_weeks, models).items():
            chosen = methods == name
            predicted[chosen] = values[chosen]
    return np.maximum(predicted, 0.0)


def _cross_validated(history: np.ndarray, holdout_weeks: int, models: list[str],
                     ) -> dict[str, np.ndarray]:
    """Each model's refit one-step forecasts of the last ``holdout_weeks`` weeks.

    A series without any sale before a window gets 0 there, as :func:`forecast_demand` gives.
    """
    from statsforecast import StatsForecast

    factories = _model_factories()
    unknown = set(models) - set(factories)
    if unknown:
        raise InputError(f"`method` must be one of auto, ses, sba, tsb, imapa, naive; got "
                         f"{sorted(unknown)}.")
    n_series, n_weeks = history.shape
    fit_end = n_weeks - holdout_weeks
    result = {name: np.zeros((n_series, holdout_weeks)) for name in models}
    # Series that sell before the first window (others start later: refit them window by window).
    early = history[:, :fit_end].sum(axis=1) > 0
    if early.any():
        ids = np.flatnonzero(early)
        long = pd.DataFrame({"unique_id": np.repeat(ids, n_weeks),
                             "ds": np.tile(np.arange(n_weeks), len(ids)),
                             "y": history[ids].ravel()})
        engine = StatsForecast(models=[factories[m]() for m in models], freq=1, n_jobs=1)
        table = engine.cross_validation(df=long, h=1, n_windows=holdout_weeks, step_size=1)
        row = table["unique_id"].to_numpy(dtype=int)
        column = table["ds"].to_numpy(dtype=int) - fit_end
        for name in models:
            result[name][row, column] = np.nan_to_num(table[name].to_numpy(dtype=float))
    for step in range(holdout_weeks):
        late = ~early & (history[:, :fit_end + step].sum(axis=1) > 0)
        if late.any():
            values = _method_forecasts(history[late, :fit_end + step], models)
            for name in models:
                result[name][late, step] = values[name]
    return result


def _model_factories() -> dict[str, Callable[[], Any]]:
    from statsforecast.models import (
        IMAPA,
        TSB,
        CrostonSBA,
        SimpleExponentialSmoothingOptimized,
    )

    return {"ses": lambda: SimpleExponentialSmoothingOptimized(alias="ses"),
            "sba": lambda: CrostonSBA(alias="sba"),
            "tsb": lambda: TSB(alpha_d=0.1, alpha_p=0.1, alias="tsb"),
            "imapa": lambda: IMAPA(alias="imapa")}


def _method_forecasts(history: np.ndarray, methods: list[str]) -> dict[str, np.ndarray]:
    """One-step forecasts of every series by each named method."""
    result: dict[str, np.ndarray] = {}
    if "naive" in methods:
        result["naive"] = history[:, -1].copy()
    models = [m for m in methods if m != "naive"]
    if not models:
        return result
    from statsforecast import StatsForecast

    factories = _model_factories()
    unknown = set(models) - set(factories)
    if unknown:
        raise InputError(f"`method` must be one of auto, ses, sba, tsb, imapa, naive; got "
                         f"{sorted(unknown)}.")
    n_series, n_weeks = history.shape
    has_demand = history.sum(axis=1) > 0
    long = pd.DataFrame({
        "unique_id": np.repeat(np.arange(n_series), n_weeks)[np.repeat(has_demand, n_weeks)],
        "ds": np.tile(np.arange(n_weeks), int(has_demand.sum())),
        "y": history[has_demand].ravel()})
    for name in models:
        result[name] = np.zeros(n_series)
    if long.empty:
        return result
    engine = StatsForecast(models=[factories[m]() for m in models], freq=1, n_jobs=1)
    predicted = engine.forecast(df=long, h=1)
    ids = predicted["unique_id"].to_numpy(dtype=int)
    for name in models:
        result[name][ids] = np.nan_to_num(predicted[name].to_numpy(dtype=float))
    return result


def _as_matrix(history: np.ndarray) -> np.ndarray:
    history = np.asarray(history, dtype=float)
    if history.ndim != 2:
        raise InputError(f"`history` must be a 2-D array (series x weeks), got shape "
                         f"{history.shape}.")
    if np.any(history < 0) or not np.all(np.isfinite(history)):
        raise InputError("`history` holds negative or missing sales; clean the sales file "
                         "(units must be >= 0).")
    return history
