"""Safety stock: textbook values, closed forms against brute force, and simulated service."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from optimizer.allocation.safety_stock import (
    choose_distribution,
    demand_quantile,
    expected_shortage,
    fill_rate,
    inverse_standard_normal_loss,
    lead_time_demand_sigma,
    newsvendor_quantity,
    order_up_to_level,
    safety_factor,
    safety_stock,
    simulate_service_level,
    standard_normal_loss,
    turnover_days,
)
from optimizer.errors import InputError


def test_standard_normal_loss_textbook_value_and_stockpyl() -> None:
    from stockpyl.loss_functions import standard_normal_loss as stockpyl_loss

    assert float(standard_normal_loss(0.3)) == pytest.approx(0.266761, abs=1e-6)
    for z in (-2.0, -0.5, 0.0, 0.7, 2.5):
        assert float(standard_normal_loss(z)) == pytest.approx(stockpyl_loss(z)[0], rel=1e-9)


def test_newsvendor_textbook_value_and_stockpyl() -> None:
    from stockpyl.newsvendor import newsvendor_normal

    quantity = float(newsvendor_quantity(50, 8, holding_cost=0.18, shortage_cost=0.7))
    assert quantity == pytest.approx(56.6040, abs=1e-4)
    assert quantity == pytest.approx(newsvendor_normal(0.18, 0.7, 50, 8)[0], rel=1e-9)


def test_inverse_loss_round_trips() -> None:
    z = np.linspace(-3, 3.5, 50)
    assert np.allclose(inverse_standard_normal_loss(standard_normal_loss(z)), z, atol=1e-8)
    with pytest.raises(InputError, match="`loss` must be positive"):
        inverse_standard_normal_loss(0.0)


def test_lead_time_sigma_formula() -> None:
    # sqrt(L sigma_D^2 + mu_D^2 sigma_L^2) with L=9, sigma_D=4, mu_D=20, sigma_L=1.5
    assert float(lead_time_demand_sigma(4.0, 9.0, 20.0, 1.5)) == pytest.approx(
        np.sqrt(9 * 16 + 400 * 2.25))


def test_order_up_to_is_protection_mean_plus_safety_stock() -> None:
    mean, sd = np.array([10.0, 3.0]), np.array([4.0, 2.0])
    ss = safety_stock(mean, sd, lead_time_days=2, review_days=7, service_level=0.9)
    assert np.allclose(ss, stats.norm.ppf(0.9) * np.sqrt(9) * sd)
    assert np.allclose(order_up_to_level(mean, sd, lead_time_days=2, review_days=7,
                                         service_level=0.9), 9 * mean + ss)


@pytest.mark.parametrize("distribution", ["poisson", "negative_binomial"])
def test_discrete_expected_shortage_matches_brute_force(distribution: str) -> None:
    mean, variance = 3.0, 3.0 if distribution == "poisson" else 7.5
    units = np.arange(0, 200)
    if distribution == "poisson":
        pmf = stats.poisson.pmf(units, mean)
    else:
        p = mean / variance
        pmf = stats.nbinom.pmf(units, mean * p / (1 - p), p)
    for stock in (0, 1, 2, 5, 9):
        brute = float((np.maximum(units - stock, 0) * pmf).sum())
        assert float(expected_shortage(stock, mean, variance, distribution=distribution)) == \
            pytest.approx(brute, abs=1e-9)


def test_normal_expected_shortage_and_fill_rate() -> None:
    # E[(D - s)^+] = sigma G((s - mu) / sigma)
    assert float(expected_shortage(60, 50.0, 64.0, distribution="normal")) == pytest.approx(
        8 * float(standard_normal_loss(1.25)))
    assert float(fill_rate(60, 50.0, 64.0, distribution="normal")) == pytest.approx(
        1 - 8 * float(standard_normal_loss(1.25)) / 50)


def test_auto_distribution_choice() -> None:
    assert choose_distribution([100.0, 1.0, 1.0], [150.0, 1.0, 4.0]).tolist() == [
        "normal", "poisson", "negative_binomial"]
    assert float(demand_quantile(0.95, 2.0, 2.0, distribution="poisson")) == \
        stats.poisson.ppf(0.95, 2.0)


def test_simulated_cycle_service_meets_target() -> None:
    target = np.array([0.90, 0.95, 0.98])
    mean = np.array([40.0, 80.0, 25.0])
    sd = np.array([10.0, 15.0, 9.0])
    lead = 2  # periods
    level = order_up_to_level(mean, sd, lead_time_days=lead, review_days=1,
                              service_level=target)
    cycle, _ = simulate_service_level(level, mean, sd**2, lead_time_periods=lead,
                                      periods=40_000, seed=3)
    assert np.all(np.abs(cycle - target) < 0.01), cycle


def test_simulated_fill_rate_meets_target() -> None:
    target = np.array([0.95, 0.99])
    mean, sd = np.array([50.0, 30.0]), np.array([20.0, 12.0])
    # zero lead time, review period of one: G(z) = (1 - beta) mu / sigma
    z = safety_factor(target, kind="fill_rate", sigma=sd, demand_per_review=mean)
    _, fill = simulate_service_level(mean + z * sd, mean, sd**2, periods=40_000, seed=5)
    assert np.all(np.abs(fill - target) < 0.01), fill


def test_simulated_poisson_slow_mover_service() -> None:
    mean = np.array([0.8, 2.5])
    level = demand_quantile(0.95, mean, mean, distribution="poisson")
    cycle, _ = simulate_service_level(level, mean, mean, periods=40_000, seed=1,
                                      distribution="poisson")
    expected = stats.poisson.cdf(level, mean)
    assert np.all(np.abs(cycle - expected) < 0.01)
    assert np.all(cycle >= 0.94)


def test_turnover_days_and_bad_service_level() -> None:
    assert turnover_days([70, 0], [10, 0]).tolist() == [7.0, np.inf]
    with pytest.raises(InputError, match="service_level"):
        safety_factor(1.2)


def test_project_stock_is_the_expected_stock_left_after_the_days_between() -> None:
    from scipy import stats as sp_stats

    from optimizer.allocation.safety_stock import project_stock

    stock = np.array([0, 3, 10, 40, 200])
    weekly = np.array([7.0, 7.0, 7.0, 70.0, 140.0])
    got = project_stock(stock, weekly, weekly, days=4)
    mean = weekly * 4 / 7
    expected = []
    for s, m in zip(stock, mean, strict=True):
        if m < 20:  # Poisson: sum over the demand's distribution
            d = np.arange(0, 400)
            expected.append(round(float((np.maximum(s - d, 0) * sp_stats.poisson.pmf(d, m)).sum())))
        else:
            d = np.linspace(m - 12 * np.sqrt(m), m + 12 * np.sqrt(m), 20001)
            density = sp_stats.norm.pdf(d, m, np.sqrt(m))
            expected.append(round(float(np.trapezoid(np.maximum(s - d, 0) * density, d))))
    assert got.tolist() == expected
    assert project_stock(stock, weekly, weekly, days=0).tolist() == stock.tolist()
