"""Safety stock, reorder points and expected shortage, vectorised over store-SKU arrays.

Every function takes numpy arrays (or scalars) and broadcasts, so one call covers a million
store-SKU pairs. Demand is described by its mean and variance per period; three demand
distributions are supported:

* ``"normal"``: fast movers (closed forms through the standard normal loss function);
* ``"poisson"``: slow movers whose variance is close to their mean;
* ``"negative_binomial"``: slow movers with over-dispersion (variance above the mean);
* ``"auto"``: picks one of the three per element (see :func:`choose_distribution`).

Notation: ``mu_D``, ``sigma_D`` daily demand mean and standard deviation, ``L`` lead time and
``R`` review period in days, ``sigma_L`` lead-time standard deviation. Demand over the protection
interval ``L + R`` has standard deviation
``sigma = sqrt((L + R) * sigma_D**2 + mu_D**2 * sigma_L**2)``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import stats

from ..errors import InputError

Distribution = Literal["normal", "poisson", "negative_binomial", "auto"]
ServiceKind = Literal["cycle", "fill_rate"]

SLOW_MOVER_MEAN = 20.0
"""Mean demand per period below which ``"auto"`` uses a discrete distribution."""

_DISPERSION_TOLERANCE = 1.05


def standard_normal_loss(z: np.ndarray | float) -> np.ndarray:
    """Return the standard normal loss function ``G(z) = E[(Z - z)^+] = phi(z) - z (1 - Phi(z))``.

    Examples
    --------
    >>> round(float(standard_normal_loss(0.3)), 6)
    0.266761
    """
    z = np.asarray(z, dtype=float)
    return stats.norm.pdf(z) - z * stats.norm.sf(z)


def inverse_standard_normal_loss(loss: np.ndarray | float) -> np.ndarray:
    """Return the ``z`` with ``G(z) = loss`` (Newton's method, vectorised; ``G`` is decreasing).

    Examples
    --------
    >>> round(float(inverse_standard_normal_loss(0.266761)), 4)
    0.3
    """
    target = np.asarray(loss, dtype=float)
    if np.any(target <= 0):
        raise InputError("`loss` must be positive; a loss of 0 needs infinite safety stock.")
    # Start from the asymptotes: G(z) ~ -z for z << 0, and a log guess for small losses.
    z = np.where(target > 0.4, -target + 0.4, np.sqrt(np.maximum(-2 * np.log(target * 2.5), 0)))
    for _ in range(60):
        step = (standard_normal_loss(z) - target) / (-stats.norm.sf(z))
        z = z - np.clip(step, -2.0, 2.0)
        if np.all(np.abs(step) < 1e-12):
            break
    return z


def lead_time_demand_sigma(sd_daily: np.ndarray | float, days: np.ndarray | float,
                           mean_daily: np.ndarray | float = 0.0,
                           sd_lead_time: np.ndarray | float = 0.0) -> np.ndarray:
    """Return the standard deviation of demand over ``days`` of lead time.

    ``sqrt(days sigma_D^2 + mu_D^2 sigma_L^2)``.

    Examples
    --------
    >>> float(lead_time_demand_sigma(2.0, 4.0, mean_daily=10.0, sd_lead_time=0.3))
    5.0
    """
    sd_daily, days = np.asarray(sd_daily, float), np.asarray(days, float)
    mean_daily, sd_lead_time = np.asarray(mean_daily, float), np.asarray(sd_lead_time, float)
    return np.sqrt(days * sd_daily**2 + mean_daily**2 * sd_lead_time**2)


def safety_factor(service_level: np.ndarray | float, *, kind: ServiceKind = "cycle",
                  sigma: np.ndarray | float = 1.0,
                  demand_per_review: np.ndarray | float = 1.0) -> np.ndarray:
    """Safety factor ``z`` for a cycle service level or a fill rate (normal demand).

    Cycle service level ``alpha``: ``z = Phi^-1(alpha)``. Fill rate ``beta`` with periodic
    review: ``G(z) = (1 - beta) Q / sigma``, ``Q`` the mean demand per review period.

    Examples
    --------
    >>> round(float(safety_factor(0.95)), 4)
    1.6449
    >>> round(float(safety_factor(0.98, kind="fill_rate", sigma=10, demand_per_review=50)), 4)
    0.9023
    """
    level = np.asarray(service_level, dtype=float)
    if np.any((level <= 0) | (level >= 1)):
        raise InputError(f"`service_level` must lie strictly between 0 and 1, got {level!r}.")
    if kind == "cycle":
        return stats.norm.ppf(level)
    if kind == "fill_rate":
        sigma = np.asarray(sigma, dtype=float)
        loss = (1 - level) * np.asarray(demand_per_review, float) / np.maximum(sigma, 1e-12)
        return inverse_standard_normal_loss(loss)
    raise InputError(f"`kind` must be 'cycle' or 'fill_rate', got {kind!r}.")


def safety_stock(mean_daily: np.ndarray | float, sd_daily: np.ndarray | float, *,
                 lead_time_days: np.ndarray | float, review_days: np.ndarray | float = 7.0,
                 service_level: np.ndarray | float = 0.95, kind: ServiceKind = "cycle",
                 sd_lead_time_days: np.ndarray | float = 0.0) -> np.ndarray:
    """Safety stock for periodic review (order-up-to) under normal demand: ``z sigma_{L+R}``.

    Examples
    --------
    >>> round(float(safety_stock(10.0, 3.0, lead_time_days=2, review_days=7)), 2)
    14.8
    """
    mean_daily = np.asarray(mean_daily, dtype=float)
    days = np.asarray(lead_time_days, float) + np.asarray(review_days, float)
    sigma = lead_time_demand_sigma(sd_daily, days, mean_daily, sd_lead_time_days)
    z = safety_factor(service_level, kind=kind, sigma=sigma,
                      demand_per_review=mean_daily * np.asarray(review_days, float))
    return np.maximum(z * sigma, 0.0)


def reorder_point(mean_daily: np.ndarray | float, sd_daily: np.ndarray | float, *,
                  lead_time_days: np.ndarray | float, service_level: np.ndarray | float = 0.95,
                  sd_lead_time_days: np.ndarray | float = 0.0) -> np.ndarray:
    """Reorder point of a continuous-review policy: ``mu_D L + z sigma_L``.

    Examples
    --------
    >>> round(float(reorder_point(10.0, 3.0, lead_time_days=4, service_level=0.95)), 2)
    49.87
    """
    mean_daily = np.asarray(mean_daily, dtype=float)
    lead = np.asarray(lead_time_days, dtype=float)
    sigma = lead_time_demand_sigma(sd_daily, lead, mean_daily, sd_lead_time_days)
    return mean_daily * lead + safety_factor(service_level) * sigma


def order_up_to_level(mean_daily: np.ndarray | float, sd_daily: np.ndarray | float, *,
                      lead_time_days: np.ndarray | float, review_days: np.ndarray | float = 7.0,
                      service_level: np.ndarray | float = 0.95, kind: ServiceKind = "cycle",
                      sd_lead_time_days: np.ndarray | float = 0.0) -> np.ndarray:
    """Order-up-to level of a periodic-review policy: ``mu_D (L + R) + safety stock``.

    Examples
    --------
    >>> round(float(order_up_to_level(10.0, 3.0, lead_time_days=2, review_days=7)), 2)
    104.8
    """
    days = np.asarray(lead_time_days, float) + np.asarray(review_days, float)
    ss = safety_stock(mean_daily, sd_daily, lead_time_days=lead_time_days,
                      review_days=review_days, service_level=service_level, kind=kind,
                      sd_lead_time_days=sd_lead_time_days)
    return np.asarray(mean_daily, float) * days + ss


def newsvendor_quantity(mean: np.ndarray | float, sd: np.ndarray | float, *,
                        holding_cost: np.ndarray | float,
                        shortage_cost: np.ndarray | float) -> np.ndarray:
    """Newsvendor order quantity under normal demand: ``mu + sigma Phi^-1(p / (p + h))``.

    Examples
    --------
    >>> round(float(newsvendor_quantity(50, 8, holding_cost=0.18, shortage_cost=0.7)), 4)
    56.604
    """
    ratio = np.asarray(shortage_cost, float) / (np.asarray(shortage_cost, float)
                                                + np.asarray(holding_cost, float))
    return np.asarray(mean, float) + np.asarray(sd, float) * stats.norm.ppf(ratio)


def choose_distribution(mean: np.ndarray | float, variance: np.ndarray | float,
                        ) -> np.ndarray:
    """Per element: ``"normal"`` for fast movers, else Poisson or negative binomial.

    Slow movers (mean below :data:`SLOW_MOVER_MEAN` per period) use the negative binomial when
    the variance exceeds the mean by more than 5 %, the Poisson otherwise.

    Examples
    --------
    >>> choose_distribution([50.0, 2.0, 2.0], [60.0, 2.0, 9.0]).tolist()
    ['normal', 'poisson', 'negative_binomial']
    """
    mean, variance = np.broadcast_arrays(np.asarray(mean, float), np.asarray(variance, float))
    return np.asarray(_DISTRIBUTION_NAMES)[_distribution_codes(mean, variance)]


_DISTRIBUTION_NAMES = ("normal", "poisson", "negative_binomial")
"""Names of the integer codes used inside this module (0, 1, 2): comparing small integers is
far cheaper than comparing arrays of strings on millions of positions."""
_NORMAL, _POISSON, _NEGBIN = range(3)


def _distribution_codes(mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    slow = mean < SLOW_MOVER_MEAN
    overdispersed = variance > _DISPERSION_TOLERANCE * mean
    return np.where(~slow, _NORMAL, np.where(overdispersed, _NEGBIN, _POISSON)).astype(np.int8)


def expected_shortage(stock: np.ndarray | float, mean: np.ndarray | float,
                      variance: np.ndarray | float, *,
                      distribution: Distribution = "auto") -> np.ndarray:
    """Return the expected units short ``E[(D - stock)^+]`` over one period, closed form.

    Normal: ``sigma G((s - mu) / sigma)``. Poisson: ``mu P(D >= s) - s P(D > s)``. Negative
    binomial: ``mu P(D' >= s) - s P(D > s)`` with ``D' ~ NB(r + 1, p)``. Discrete forms floor
    ``stock`` to whole units.

    Examples
    --------
    >>> round(float(expected_shortage(2, 2.0, 2.0, distribution="poisson")), 4)
    0.5413
    """
    stock, mean, variance = np.broadcast_arrays(np.asarray(stock, float), np.asarray(mean, float),
                                                np.asarray(variance, float))
    kinds = _resolve(distribution, mean, variance)
    result = np.zeros(stock.shape, dtype=float)
    normal = kinds == _NORMAL
    if normal.any():
        sd = np.sqrt(np.maximum(variance[normal], 1e-12))
        result[normal] = sd * standard_normal_loss((stock[normal] - mean[normal]) / sd)
    poisson = kinds == _POISSON
    if poisson.any():
        s, mu = np.floor(np.maximum(stock[poisson], 0)), mean[poisson]
        result[poisson] = mu * stats.poisson.sf(s - 1, mu) - s * stats.poisson.sf(s, mu)
    negbin = kinds == _NEGBIN
    if negbin.any():
        s, mu, var = np.floor(np.maximum(stock[negbin], 0)), mean[negbin], variance[negbin]
        r, p = _negbin_parameters(mu, var)
        result[negbin] = mu * stats.nbinom.sf(s - 1, r + 1, p) - s * stats.nbinom.sf(s, r, p)
    negative_stock = stock < 0
    result[negative_stock & ~normal] += -stock[negative_stock & ~normal]
    return np.maximum(result, 0.0)


def demand_quantile(level: float, mean: np.ndarray | float, variance: np.ndarray | float, *,
                    distribution: Distribution = "auto") -> np.ndarray:
    """Quantile of one period's demand (whole units for the discrete distributions).

    Examples
    --------
    >>> float(demand_quantile(0.95, 2.0, 2.0, distribution="poisson"))
    5.0
    """
    mean, variance = np.broadcast_arrays(np.asarray(mean, float), np.asarray(variance, float))
    kinds = _resolve(distribution, mean, variance)
    result = np.zeros(mean.shape, dtype=float)
    normal = kinds == _NORMAL
    result[normal] = stats.norm.ppf(level, mean[normal], np.sqrt(np.maximum(variance[normal], 0)))
    poisson = kinds == _POISSON
    result[poisson] = stats.poisson.ppf(level, mean[poisson])
    negbin = kinds == _NEGBIN
    if negbin.any():
        r, p = _negbin_parameters(mean[negbin], variance[negbin])
        result[negbin] = stats.nbinom.ppf(level, r, p)
    return np.nan_to_num(result, nan=0.0)


def fill_rate(stock: np.ndarray | float, mean: np.ndarray | float, variance: np.ndarray | float,
              *, distribution: Distribution = "auto") -> np.ndarray:
    """Return the expected share of demand served from ``stock``: ``1 - E[(D - s)^+] / mu``.

    Examples
    --------
    >>> round(float(fill_rate(60, 50.0, 64.0, distribution="normal")), 4)
    0.9919
    """
    mean = np.asarray(mean, float)
    short = expected_shortage(stock, mean, variance, distribution=distribution)
    return np.where(mean > 0, 1 - short / np.maximum(mean, 1e-12), 1.0)


def turnover_days(stock: np.ndarray | float, mean_daily: np.ndarray | float) -> np.ndarray:
    """Days the stock lasts at the mean daily demand (``inf`` where nothing sells).

    Examples
    --------
    >>> turnover_days([70, 5], [10, 0]).tolist()
    [7.0, inf]
    """
    stock, mean_daily = np.asarray(stock, float), np.asarray(mean_daily, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mean_daily > 0, stock / np.where(mean_daily > 0, mean_daily, 1), np.inf)


def project_stock(stock: np.ndarray | float, mean: np.ndarray | float,
                  variance: np.ndarray | float, *, days: float, period_days: float = 7.0,
                  distribution: Distribution = "auto") -> np.ndarray:
    """Return the expected stock left after ``days`` of sales, in whole units (lost sales).

    Demand over ``days`` has mean ``mean * days / period_days`` and variance scaled alike; the
    stock left is ``E[(s - D)^+] = s - E[D] + E[(D - s)^+]``, rounded to the nearest unit.

    Examples
    --------
    >>> project_stock([10, 1, 0], [7.0, 7.0, 7.0], [7.0, 7.0, 7.0], days=4,
    ...               distribution="poisson").tolist()
    [6, 0, 0]
    """
    stock = np.asarray(stock, dtype=float)
    if days <= 0:
        return np.round(stock).astype(np.int64)
    scale = days / period_days
    mean = np.asarray(mean, float) * scale
    variance = np.maximum(np.asarray(variance, float) * scale, 1e-9)
    left = stock - mean + expected_shortage(stock, mean, variance, distribution=distribution)
    left = np.where(mean > 0, left, stock)
    return np.clip(np.round(left), 0, None).astype(np.int64)


def simulate_service_level(order_up_to: np.ndarray, mean: np.ndarray, variance: np.ndarray, *,
                           lead_time_periods: int = 0, periods: int = 2_000, seed: int = 0,
                           distribution: Distribution = "normal",
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Simulate a periodic-review base-stock policy; return achieved cycle service and fill rate.

    Each period the order restores the inventory position to ``order_up_to``; orders arrive
    ``lead_time_periods`` later; unmet demand is backordered. Vectorised over items (the loop
    runs over periods only) and seeded.

    Returns
    -------
    (cycle_service, fill_rate)
        Per item: share of periods ending without a backorder, and share of demand served
        from stock on hand.

    Examples
    --------
    >>> csl, fr = simulate_service_level(np.array([60.0]), np.array([50.0]), np.array([64.0]))
    >>> bool(abs(csl[0] - 0.894) < 0.03)
    True
    """
    order_up_to, mean, variance = np.broadcast_arrays(
        np.asarray(order_up_to, float), np.asarray(mean, float), np.asarray(variance, float))
    rng = np.random.default_rng(seed)
    kinds = _resolve(distribution, mean, variance)
    demand = np.empty((periods + lead_time_periods, mean.size))
    normal = kinds == _NORMAL
    demand[:, normal] = rng.normal(mean[normal], np.sqrt(variance[normal]),
                                   size=(demand.shape[0], int(normal.sum())))
    poisson = kinds == _POISSON
    demand[:, poisson] = rng.poisson(mean[poisson], size=(demand.shape[0], int(poisson.sum())))
    negbin = kinds == _NEGBIN
    if negbin.any():
        r, p = _negbin_parameters(mean[negbin], variance[negbin])
        demand[:, negbin] = rng.negative_binomial(r, p, size=(demand.shape[0], int(negbin.sum())))
    demand = np.maximum(demand, 0.0)
    # Base stock: net inventory at the end of period t is S minus demand of periods t-L..t.
    window = np.cumsum(demand, axis=0)
    lead = lead_time_periods
    covered = window[lead:] - np.vstack([np.zeros((1, mean.size)), window[:-lead - 1]]) \
        if lead else demand
    net_end = order_up_to - covered
    net_start = net_end + demand[lead:]
    served = np.clip(np.minimum(demand[lead:], net_start), 0.0, None)
    cycle_service = (net_end >= 0).mean(axis=0)
    total = demand[lead:].sum(axis=0)
    fill = np.where(total > 0, served.sum(axis=0) / np.maximum(total, 1e-12), 1.0)
    return cycle_service, fill


def _resolve(distribution: Distribution, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Integer distribution code per element (see :data:`_DISTRIBUTION_NAMES`)."""
    if distribution == "auto":
        return _distribution_codes(mean, variance)
    if distribution not in _DISTRIBUTION_NAMES:
        raise InputError(f"`distribution` must be normal, poisson, negative_binomial or auto, "
                         f"got {distribution!r}.")
    kinds = np.full(mean.shape, _DISTRIBUTION_NAMES.index(distribution), dtype=np.int8)
    if distribution == "negative_binomial":
        kinds[variance <= mean * (1 + 1e-9)] = _POISSON
    return kinds


def _negbin_parameters(mean: np.ndarray, variance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(r, p)`` of scipy's negative binomial with the given mean and variance > mean."""
    variance = np.maximum(variance, mean * (1 + 1e-6) + 1e-9)
    p = mean / variance
    r = mean * p / (1 - p)
    return r, p
