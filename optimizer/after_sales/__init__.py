"""After-sales: repair-shop ratings, claim anomalies and expected repairs from repair records.

:func:`assess_repair_shops` runs the three in order (anomalies first, since flagged claims are a
factor of the rating); the parts are :func:`find_anomalies`, :func:`rate_shops`,
:func:`fit_failure_rates` and :func:`expected_repairs_by_cell`. Pure computation: checked frames
in (``geodata.repairs`` reads and checks the files), frozen results out.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .anomalies import FLAG_THRESHOLD, ClaimAnomalies, find_anomalies
from .expected_repairs import (
    FailureRates,
    expected_repairs,
    expected_repairs_by_cell,
    fit_failure_rates,
)
from .rating import DEFAULT_WEIGHTS, FACTORS, ShopRatings, grade_of, rate_shops

__all__ = ["DEFAULT_WEIGHTS", "FACTORS", "FLAG_THRESHOLD", "AfterSalesAssessment",
           "ClaimAnomalies", "FailureRates", "ShopRatings", "assess_repair_shops",
           "expected_repairs", "expected_repairs_by_cell", "find_anomalies",
           "fit_failure_rates", "grade_of", "rate_shops"]


@dataclass(frozen=True)
class AfterSalesAssessment:
    """Ratings, flags and (with the devices sold) failure rates and expected repairs per cell.

    Attributes
    ----------
    ratings
        :class:`ShopRatings` of every shop with records.
    anomalies
        :class:`ClaimAnomalies`: flagged claims and shops.
    failure_rates
        :class:`FailureRates`, or ``None`` without devices.
    expected_repairs
        Expected repairs over the next year per cell, or ``None`` without devices with cells.
    """

    ratings: ShopRatings
    anomalies: ClaimAnomalies
    failure_rates: FailureRates | None = None
    expected_repairs: pd.Series | None = None

    def summary(self) -> str:
        """Return a few lines for the after-sales team."""
        table = self.ratings.table
        grades = table["grade"].value_counts().reindex(list("ABCDE")).fillna(0).astype(int)
        lines = [f"{len(table)} shops rated from {int(table['repairs'].sum()):,} repairs: "
                 + ", ".join(f"{g} {n}" for g, n in grades.items()) + ".",
                 self.anomalies.summary()]
        if self.expected_repairs is not None:
            lines.append(f"Expected repairs next year from the devices sold, by model and age: "
                         f"{self.expected_repairs.sum():,.0f}.")
        return "\n".join(lines)


def assess_repair_shops(repairs: pd.DataFrame, *, devices: pd.DataFrame | None = None,
                        threshold: float = FLAG_THRESHOLD) -> AfterSalesAssessment:
    """Flag anomalies, rate the shops and, given the devices sold, expect repairs per cell.

    Parameters
    ----------
    repairs
        Checked repair records (``geodata.repairs.read_repairs``).
    devices
        Devices sold (``serial``, ``model``, ``sold``, and ``cell`` for the per-cell demand).
    threshold
        Flag threshold of the anomalies (robust z).

    Returns
    -------
    AfterSalesAssessment

    Examples
    --------
    >>> from geodata.demo_repairs import load_demo_repairs
    >>> demo = load_demo_repairs()
    >>> result = assess_repair_shops(demo.repairs, devices=demo.devices)
    >>> sorted(result.anomalies.flagged_shops["shop_id"][:3]) == sorted(demo.planted_shops.values())
    True
    """
    anomalies = find_anomalies(repairs, threshold=threshold)
    ratings = rate_shops(repairs, anomalies=anomalies)
    rates = demand = None
    if devices is not None:
        rates = fit_failure_rates(repairs, devices)
        if "cell" in devices.columns:
            demand = expected_repairs_by_cell(devices, rates)
    return AfterSalesAssessment(ratings=ratings, anomalies=anomalies, failure_rates=rates,
                                expected_repairs=demand)
