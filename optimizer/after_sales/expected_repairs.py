r"""Expected repairs from the devices sold, their model and age (failure rates fitted on records).

A device of model ``m`` and age ``a`` comes in for repair at a rate ``lambda(m, band(a))`` a year.
The rate is fitted on the repair records against the devices sold: repairs of model ``m``
received while the device was in age band ``b``, divided by the device-years the sold devices
of that model spent in that band during the records' period. Each model's rate is shrunk toward
the chain's rate for the band (all models) by the gamma-Poisson posterior mean

.. math:: \hat\lambda_{mb} = \frac{r_{mb} + k_b \lambda_b}{E_{mb} + k_b}

with the prior strength ``k_b`` (device-years) estimated per band by the method of moments, as
the fan index is (clipped to ``[PRIOR_MIN_DEVICE_YEARS, 1e6]``). A model without records gets
the band's rate. Expected repairs over the next year sum each device's rate over the age bands it
passes through in that year; grouped by cell they replace ``devices_sold x repair_rate`` in
repair-shop siting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError

AGE_BANDS_YEARS: tuple[float, ...] = (0.0, 0.25, 1.0, 2.0, 3.0, np.inf)
"""Edges of the age bands in years: the first three months, the rest of the first year, then
years 2, 3 and older."""

PRIOR_MIN_DEVICE_YEARS = 50.0
"""Smallest prior strength of the failure-rate shrinkage, in device-years."""

_DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class FailureRates:
    """Repairs a year per device, by model and age band.

    Attributes
    ----------
    table
        One row per model and band: ``model, band`` (``"0-3 m"``, ``"3-12 m"``, ``"1-2 y"``,
        ``"2-3 y"``, ``"3 y+"`` by default), ``band_index``, ``band_start,
        band_end`` (years), ``repairs``, ``device_years``, ``raw_rate``, ``rate`` (shrunk).
    band_rates
        The chain's rate per band (all models).
    window
        First and last day of the records the rates were fitted on.
    unmatched
        Repairs whose serial is not among the devices (left out of the fit).
    """

    table: pd.DataFrame
    band_rates: pd.Series
    window: tuple[pd.Timestamp, pd.Timestamp]
    unmatched: int

    def rate_of(self, model: str, age_years: float) -> float:
        """Return the fitted rate of a model at an age (the band's rate for an unknown model)."""
        band = int(np.searchsorted(np.asarray(AGE_BANDS_YEARS), age_years, side="right") - 1)
        rows = self.table[(self.table["model"] == model) & (self.table["band_index"] == band)]
        return float(rows["rate"].iloc[0]) if len(rows) else float(self.band_rates.iloc[band])


def _band_labels(edges: Sequence[float]) -> list[str]:
    def text(x: float) -> str:
        return "0" if x == 0 else f"{x * 12:g} m" if x < 1 else f"{x:g} y"

    labels = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if not np.isfinite(b):
            labels.append(f"{text(a)}+")
        elif a >= 1 or (a == 0 and b >= 1):
            labels.append(f"{a:g}-{b:g} y")
        elif b <= 1 and a < 1:
            labels.append(f"{a * 12:g}-{b * 12:g} m")
        else:
            labels.append(f"{text(a)}-{text(b)}")
    return labels


def band_exposure_years(sold: np.ndarray, start: np.datetime64, end: np.datetime64,
                        edges: Sequence[float] = AGE_BANDS_YEARS) -> np.ndarray:
    """Return the years each device spends in each age band between ``start`` and ``end``.

    Parameters
    ----------
    sold
        Sale day of each device (``datetime64``).
    start, end
        The period (``end`` exclusive).
    edges
        Band edges in years.

    Returns
    -------
    numpy.ndarray
        ``(devices, bands)`` years.

    Examples
    --------
    >>> band_exposure_years(np.array(["2024-01-01"], dtype="datetime64[D]"),
    ...                     np.datetime64("2024-01-01"), np.datetime64("2025-01-01"),
    ...                     (0.0, 0.5, np.inf)).round(2).tolist()
    [[0.5, 0.5]]
    """
    sold_day = np.asarray(sold, dtype="datetime64[D]").astype(np.float64)
    begin = float(np.asarray(start, dtype="datetime64[D]").astype(np.int64))
    finish = float(np.asarray(end, dtype="datetime64[D]").astype(np.int64))
    edges_days = np.asarray(edges, dtype=np.float64) * _DAYS_PER_YEAR
    low = sold_day[:, None] + edges_days[None, :-1]
    high = sold_day[:, None] + edges_days[None, 1:]
    overlap = np.minimum(high, finish) - np.maximum(low, begin)
    return np.clip(overlap, 0.0, None) / _DAYS_PER_YEAR


def fit_failure_rates(repairs: pd.DataFrame, devices: pd.DataFrame, *,
                      start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
                      edges: Sequence[float] = AGE_BANDS_YEARS,
                      prior_strength: float | None = None) -> FailureRates:
    """Fit repairs a year per device by model and age band, shrunk toward the band's rate.

    Parameters
    ----------
    repairs
        Repair records (``serial``, ``received``; ``model`` is taken from the devices).
    devices
        Devices sold: ``serial``, ``model``, ``sold`` (date).
    start, end
        The period the records cover (default: the first receipt to the day after the last).
    edges
        Age band edges in years (default :data:`AGE_BANDS_YEARS`).
    prior_strength
        Prior strength in device-years for every band; ``None`` estimates it.

    Returns
    -------
    FailureRates

    Examples
    --------
    >>> rates = fit_failure_rates(repairs, devices)  # doctest: +SKIP
    >>> rates.table.head()  # doctest: +SKIP
    """
    for name, frame, needed in (("repairs", repairs, ("serial", "received")),
                                ("devices", devices, ("serial", "model", "sold"))):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise InputError(f"`{name}` has no {', '.join(f'`{c}`' for c in missing)} column.")
    if len(devices) == 0:
        raise InputError("`devices` has no rows; give the devices sold to fit failure rates.")
    received = pd.to_datetime(repairs["received"])
    start = pd.Timestamp(received.min() if start is None else start).normalize()
    end = (pd.Timestamp(received.max()) + pd.Timedelta(days=1) if end is None
           else pd.Timestamp(end)).normalize()
    if not end > start:
        raise InputError(f"the records' period {start:%Y-%m-%d} to {end:%Y-%m-%d} is empty.")
    edges = tuple(float(e) for e in edges)
    n_bands = len(edges) - 1
    sold = pd.to_datetime(devices["sold"]).to_numpy("datetime64[D]")
    model_codes, models = pd.factorize(devices["model"].astype(str))
    exposure = band_exposure_years(sold, start.to_datetime64(), end.to_datetime64(), edges)
    device_years = np.zeros((len(models), n_bands))
    np.add.at(device_years, model_codes, exposure)

    position = pd.Series(np.arange(len(devices)), index=devices["serial"].astype(str))
    position = position[~position.index.duplicated()]
    matched = repairs["serial"].astype(str).map(position)
    in_window = ((received >= start) & (received < end)).to_numpy()
    ok = matched.notna().to_numpy() & in_window
    device = matched.to_numpy()[ok].astype(np.int64)
    age = (received.to_numpy("datetime64[D]")[ok] - sold[device]).astype(np.float64) \
        / _DAYS_PER_YEAR
    band = np.clip(np.searchsorted(np.asarray(edges), age, side="right") - 1, 0, n_bands - 1)
    counts = np.zeros((len(models), n_bands))
    np.add.at(counts, (model_codes[device], band), 1.0)

    band_total = counts.sum(axis=0)
    band_years = device_years.sum(axis=0)
    band_rate = np.divide(band_total, band_years, out=np.zeros(n_bands), where=band_years > 0)
    strength = (np.full(n_bands, float(prior_strength)) if prior_strength is not None
                else _moment_strength(counts, device_years, band_rate))
    shrunk = (counts + strength[None, :] * band_rate[None, :]) / (device_years + strength[None, :])
    labels = _band_labels(edges)
    table = pd.DataFrame({
        "model": np.repeat(np.asarray(models, dtype=object), n_bands),
        "band": np.tile(labels, len(models)),
        "band_index": np.tile(np.arange(n_bands), len(models)),
        "band_start": np.tile(edges[:-1], len(models)),
        "band_end": np.tile(edges[1:], len(models)),
        "repairs": counts.ravel().astype(np.int64),
        "device_years": device_years.ravel(),
        "raw_rate": np.divide(counts, device_years, out=np.full_like(counts, np.nan),
                              where=device_years > 0).ravel(),
        "rate": shrunk.ravel(),
    })
    return FailureRates(table=table, band_rates=pd.Series(band_rate, index=labels, name="rate"),
                        window=(start, end), unmatched=int((~ok).sum()))


def _moment_strength(counts: np.ndarray, exposure: np.ndarray, mean: np.ndarray) -> np.ndarray:
    strength = np.full(mean.size, PRIOR_MIN_DEVICE_YEARS)
    for b in range(mean.size):
        seen = exposure[:, b] > 0
        if seen.sum() < 2 or mean[b] <= 0:
            continue
        e = exposure[seen, b]
        rate = counts[seen, b] / e
        w = e / e.sum()
        between = float((w * (rate - mean[b]) ** 2).sum())
        variance = max(between - mean[b] * float(np.mean(1.0 / e)), 1e-12)
        strength[b] = float(np.clip(mean[b] / variance, PRIOR_MIN_DEVICE_YEARS, 1e6))
    return strength


def expected_repairs(devices: pd.DataFrame, rates: FailureRates, *,
                     start: pd.Timestamp | None = None, years: float = 1.0) -> pd.Series:
    """Return each device's expected repairs over the ``years`` from ``start``.

    Parameters
    ----------
    devices
        ``serial``, ``model``, ``sold``.
    rates
        From :func:`fit_failure_rates`; a model it does not know gets the band's chain rate.
    start
        First day of the period (default: the end of the records' period).
    years
        Length of the period.

    Returns
    -------
    pandas.Series
        Expected repairs per device (same index as ``devices``).
    """
    start = rates.window[1] if start is None else pd.Timestamp(start).normalize()
    if not (np.isfinite(years) and years > 0):
        raise InputError(f"`years` is {years!r}; give a positive length such as 1.")
    edges = tuple(rates.table.drop_duplicates("band_index").sort_values("band_index")
                  ["band_start"].tolist()) + (float(rates.table["band_end"].max()),)
    n_bands = len(edges) - 1
    end = start + pd.Timedelta(days=round(years * _DAYS_PER_YEAR))
    sold = pd.to_datetime(devices["sold"]).to_numpy("datetime64[D]")
    exposure = band_exposure_years(sold, start.to_datetime64(), end.to_datetime64(), edges)
    lookup = rates.table.pivot(index="model", columns="band_index", values="rate")
    lookup = lookup.reindex(columns=range(n_bands))
    rate = lookup.reindex(devices["model"].astype(str).to_numpy()).to_numpy(np.float64)
    rate = np.where(np.isnan(rate), rates.band_rates.to_numpy()[None, :], rate)
    return pd.Series((exposure * rate).sum(axis=1), index=devices.index, name="expected_repairs")


def expected_repairs_by_cell(devices: pd.DataFrame, rates: FailureRates, *,
                             start: pd.Timestamp | None = None, years: float = 1.0
                             ) -> pd.Series:
    """Return expected repairs per cell: each device's expected repairs summed by its ``cell``.

    ``devices`` needs a ``cell`` column (``geodata.repairs.devices_with_cells`` adds it).

    Examples
    --------
    >>> demand = expected_repairs_by_cell(devices, rates)  # doctest: +SKIP
    """
    if "cell" not in devices.columns:
        raise InputError("`devices` has no `cell` column; add each device's H3 cell with "
                         "`geodata.repairs.devices_with_cells`.")
    per_device = expected_repairs(devices, rates, start=start, years=years)
    by_cell = per_device.groupby(devices["cell"].to_numpy()).sum()
    by_cell.index.name = "cell"
    return by_cell.rename("repairs")
