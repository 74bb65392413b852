"""Failure rates per model and age fitted on records; expected repairs per cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.after_sales import expected_repairs_by_cell, fit_failure_rates
from optimizer.after_sales.expected_repairs import band_exposure_years, expected_repairs

EDGES = (0.0, 1.0, 2.0, np.inf)


def test_band_exposure_by_hand() -> None:
    sold = np.array(["2023-07-01", "2025-01-01", "2026-01-01"], dtype="datetime64[D]")
    years = band_exposure_years(sold, np.datetime64("2025-01-01"), np.datetime64("2026-01-01"),
                                EDGES)
    days = years * 365.25
    # sold 2023-07-01, 550 days before 2025: aged 2 after 730.5 days, i.e. 180.5 days into 2025
    assert days[0] == pytest.approx([0, 730.5 - 550, 365 - (730.5 - 550)])
    assert days[1] == pytest.approx([365, 0, 0], abs=0.5)
    assert days[2].sum() == 0  # sold after the period
    assert years.sum(axis=1)[:2] == pytest.approx([365 / 365.25] * 2)


def _simulated(rates: dict[tuple[str, int], float], n_per_model: int, seed: int
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Devices sold over three years before 2025 and a year of Poisson repairs at known rates."""
    rng = np.random.default_rng(seed)
    models = sorted({m for m, _ in rates})
    model = np.repeat(models, n_per_model)
    sold = (np.datetime64("2022-01-01")
            + rng.integers(0, 3 * 365, size=model.size).astype("timedelta64[D]"))
    devices = pd.DataFrame({"serial": [f"D{i}" for i in range(model.size)], "model": model,
                            "sold": pd.to_datetime(sold)})
    start, end = np.datetime64("2025-01-01"), np.datetime64("2026-01-01")
    exposure = band_exposure_years(sold, start, end, EDGES)
    rows = []
    for b in range(3):
        rate = np.array([rates.get((m, b), 0.0) for m in model])
        count = rng.poisson(rate * exposure[:, b])
        device = np.repeat(np.arange(model.size), count)
        band_start = sold[device] + (EDGES[b] * 365.25).__floor__()
        low = np.maximum(band_start.astype("datetime64[D]").astype(np.int64),
                         start.astype(np.int64))
        high = low + np.floor(exposure[device, b] * 365.25).astype(np.int64)
        day = low + (rng.random(device.size) * (high - low)).astype(np.int64)
        rows.append(pd.DataFrame({"serial": devices["serial"].to_numpy()[device],
                                  "received": pd.to_datetime(day.astype("datetime64[D]"))}))
    repairs = pd.concat(rows, ignore_index=True)
    return repairs, devices


def test_fit_recovers_known_rates_on_big_models() -> None:
    truth = {("M1", 0): 0.05, ("M1", 1): 0.10, ("M1", 2): 0.20,
             ("M2", 0): 0.02, ("M2", 1): 0.04, ("M2", 2): 0.08}
    repairs, devices = _simulated(truth, 40_000, seed=1)
    rates = fit_failure_rates(repairs, devices, start=pd.Timestamp("2025-01-01"),
                              end=pd.Timestamp("2026-01-01"), edges=EDGES, prior_strength=1.0)
    table = rates.table.set_index(["model", "band_index"])
    for key, rate in truth.items():
        assert table.loc[key, "rate"] == pytest.approx(rate, rel=0.15), key
    # the raw rate is repairs / device-years exactly
    row = table.loc[("M1", 1)]
    assert row["raw_rate"] == pytest.approx(row["repairs"] / row["device_years"])
    assert rates.unmatched == 0


def test_small_model_is_shrunk_toward_the_band_rate() -> None:
    truth = {("BIG", 0): 0.05, ("BIG", 1): 0.10, ("BIG", 2): 0.20,
             ("TINY", 0): 0.05, ("TINY", 1): 0.10, ("TINY", 2): 0.20}
    repairs, devices = _simulated(truth, 5_000, seed=2)
    tiny = devices.index[devices["model"] == "TINY"][:5]
    devices = pd.concat([devices[devices["model"] == "BIG"], devices.loc[tiny]])
    repairs = repairs[repairs["serial"].isin(devices["serial"])]
    # give the five TINY devices five repairs in 2025: a raw rate far above the band
    extra = pd.DataFrame({"serial": np.repeat(devices.loc[tiny, "serial"].to_numpy(), 1),
                          "received": pd.Timestamp("2025-06-01")})
    repairs = pd.concat([repairs, extra], ignore_index=True)
    rates = fit_failure_rates(repairs, devices, start=pd.Timestamp("2025-01-01"),
                              end=pd.Timestamp("2026-01-01"), edges=EDGES,
                              prior_strength=200.0)
    table = rates.table.set_index(["model", "band_index"])
    for b in range(3):
        row = table.loc[("TINY", b)]
        band = rates.band_rates.iloc[b]
        expected = (row["repairs"] + 200.0 * band) / (row["device_years"] + 200.0)
        assert row["rate"] == pytest.approx(expected)
        if row["device_years"] > 0:
            assert abs(row["rate"] - band) < abs(row["raw_rate"] - band)


def test_expected_repairs_per_device_and_cell() -> None:
    truth = {("M1", 0): 0.05, ("M1", 1): 0.10, ("M1", 2): 0.20}
    repairs, devices = _simulated(truth, 2_000, seed=3)
    rates = fit_failure_rates(repairs, devices, edges=EDGES, prior_strength=0.0,
                              start=pd.Timestamp("2025-01-01"), end=pd.Timestamp("2026-01-01"))
    new = pd.DataFrame({"serial": ["x", "y", "z"], "model": ["M1", "M1", "UNKNOWN"],
                        "sold": pd.to_datetime(["2025-07-02", "2020-01-01", "2020-01-01"]),
                        "cell": np.array([7, 7, 9], dtype=np.uint64)})
    start = pd.Timestamp("2026-01-01")
    per_device = expected_repairs(new, rates, start=start)
    band = rates.table.set_index(["model", "band_index"])["rate"]
    exposure = band_exposure_years(new["sold"].to_numpy("datetime64[D]"),
                                   start.to_datetime64(), np.datetime64("2027-01-01"), EDGES)
    assert per_device.iloc[0] == pytest.approx(exposure[0] @ band.loc["M1"].to_numpy())
    assert per_device.iloc[1] == pytest.approx(band.loc[("M1", 2)] * 365 / 365.25)
    # an unknown model gets the chain's rate of its band
    assert per_device.iloc[2] == pytest.approx(rates.band_rates.iloc[2] * 365 / 365.25)
    by_cell = expected_repairs_by_cell(new, rates, start=start)
    assert by_cell.loc[7] == pytest.approx(per_device.iloc[:2].sum())
    assert by_cell.sum() == pytest.approx(per_device.sum())


def test_demo_expected_repairs_follow_the_devices(demo_repairs) -> None:
    rates = fit_failure_rates(demo_repairs.repairs, demo_repairs.devices)
    bands = rates.band_rates.to_numpy()
    # the demo's bathtub: the first three months and old devices fail most
    assert bands[0] > bands[1] and bands[4] > bands[2] > bands[1]
    by_cell = expected_repairs_by_cell(demo_repairs.devices, rates)
    devices_per_cell = demo_repairs.devices.groupby("cell").size()
    assert set(by_cell.index) == set(devices_per_cell.index)
    assert 0.05 < by_cell.sum() / len(demo_repairs.devices) < 0.2
