"""The repair-shop credit rating (维修门店征信评级): an explainable score from repair records.

Seven factors per shop, each an average over its repairs shrunk toward the chain's average for
shops with few repairs (:func:`optimizer.after_sales.shrinkage.shrink_means`):

==================  ====================================================================  ======
factor              per repair                                                            weight
==================  ====================================================================  ======
``turnaround``      ``log((days + 1) / (norm + 1))``, norm = chain median for the fault    0.15
``re_repair``       device received again within 30 days of its return (repairs whose      0.20
                    30 days run past the end of the records are left out)
``customer_rating`` the customer's 1-5 rating (rated repairs only)                         0.20
``cost``            ``log((cost + 1) / (norm + 1))``, norm = chain median for fault and     0.15
                    model (the fault alone below 20 repairs of the pair)
``warranty_share``  repair under warranty                                                  0.05
``flagged_claims``  claim flagged by :func:`~optimizer.after_sales.anomalies.find_anomalies` 0.20
``volume``          repairs a year since the shop's first record (not shrunk: it is the     0.05
                    evidence itself)
==================  ====================================================================  ======

Each factor becomes points against the chain (0 = the chain's average, clipped to [-2, 2]):
turnaround and cost ``-log2(shop / chain)`` (twice as slow or as dear: -1); re-repair
``-(shop - chain) / 5 pp``; customer rating ``(shop - chain) / 0.5 stars``; warranty share
``-max(shop - chain, 0) / 15 pp`` (only a share above the chain's costs points); flagged claims
``-max(shop - median shop, 0) / 2 pp`` (the median shop, not the chain's mean, which the
abusive shops themselves raise); volume ``log2(repairs a year since the shop's first record /
the shops' median)`` clipped to [-1, 1]. The score
is the weighted sum and the rating ``clip(4 + 2 x score, 1, 5)`` (to 2 decimals) on the 1-5 scale of the given
ratings, so a shop at the chain's average rates 4.0 and
:data:`optimizer.repair_shops.DEFAULT_MIN_RATING` (3.5) is a score of -0.25. Grades: A >= 4.5,
B >= 4.0, C >= 3.5, D >= 2.5, E below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from .anomalies import ClaimAnomalies
from .records import (
    check_records,
    cost_norm,
    records_span_years,
    repair_cost,
    turnaround_days,
    turnaround_norm,
    with_comebacks,
)
from .shrinkage import shrink_means

FACTORS = ("turnaround", "re_repair", "customer_rating", "cost", "warranty_share",
           "flagged_claims", "volume")
"""The rating's factors, in the order of the tables."""

DEFAULT_WEIGHTS: Mapping[str, float] = {
    "turnaround": 0.15, "re_repair": 0.20, "customer_rating": 0.20, "cost": 0.15,
    "warranty_share": 0.05, "flagged_claims": 0.20, "volume": 0.05}
"""Weight of each factor's points in the score (they sum to 1)."""

POINT_SCALES: Mapping[str, float] = {
    "turnaround": np.log(2.0), "re_repair": 0.05, "customer_rating": 0.5, "cost": np.log(2.0),
    "warranty_share": 0.15, "flagged_claims": 0.02, "volume": 1.0}
"""The difference from the chain worth one point (see the module docstring)."""

GRADES = (("A", 4.5), ("B", 4.0), ("C", 3.5), ("D", 2.5), ("E", -np.inf))
"""Grade and the lowest rating that earns it."""

BASE_RATING, RATING_PER_POINT = 4.0, 2.0
"""``rating = clip(BASE_RATING + RATING_PER_POINT x score, 1, 5)``."""

RE_REPAIR_DAYS = 30
"""A device back within this many days counts as a re-repair."""

MIN_ACTIVE_DAYS = 30
"""A shop's volume is its repairs a year since its first record, over at least this many days."""

SMALL_SHOP_REPAIRS = 30
"""Shops with fewer repairs get a note that their factors lean on the chain's averages."""


@dataclass(frozen=True)
class ShopRatings:
    """Ratings of every shop with repair records.

    Attributes
    ----------
    table
        One row per shop, best first: ``shop_id, repairs, rating`` (1-5), ``grade`` (A-E),
        ``score`` (weighted points), ``reasons`` (text), then per factor ``<factor>`` (the shrunk
        value), ``<factor>_raw`` (the shop's own average) and ``<factor>_points``.
    chain
        The chain's value of each factor (what a shop with no records of its own would get).
    prior_strength
        The shrinkage strength per factor, in repairs.
    weights
        The weights used.
    """

    table: pd.DataFrame
    chain: Mapping[str, float]
    prior_strength: Mapping[str, float]
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    @property
    def ratings(self) -> pd.Series:
        """The computed rating per ``shop_id``, the input of repair-shop siting."""
        return self.table.set_index("shop_id")["rating"]

    def explain(self, shop_id: str) -> str:
        """Return the rating of one shop with its reasons, in a sentence."""
        row = self.table.set_index("shop_id").loc[shop_id]
        return (f"{shop_id} rates {row['rating']:.1f} (grade {row['grade']}) on "
                f"{int(row['repairs'])} repairs: {row['reasons']}.")


def grade_of(rating: np.ndarray) -> np.ndarray:
    """Return the grade (A-E) of each rating.

    Examples
    --------
    >>> grade_of(np.array([4.6, 4.0, 3.6, 3.0, 1.0])).tolist()
    ['A', 'B', 'C', 'D', 'E']
    """
    rating = np.asarray(rating, dtype=np.float64)
    letters = np.array([g for g, _ in GRADES])
    floors = np.array([f for _, f in GRADES])
    return letters[np.argmax(rating[:, None] >= floors[None, :], axis=1)]


def rate_shops(repairs: pd.DataFrame, *, anomalies: ClaimAnomalies | None = None,
               weights: Mapping[str, float] | None = None,
               prior_strength: float | None = None) -> ShopRatings:
    """Rate each repair shop from its repair records, with the reasons.

    Parameters
    ----------
    repairs
        Checked repair records (:mod:`optimizer.after_sales.records`).
    anomalies
        Flags from :func:`~optimizer.after_sales.anomalies.find_anomalies` on the same records;
        without them the ``flagged_claims`` factor is left out and the other weights rescaled.
    weights
        Factor weights (default :data:`DEFAULT_WEIGHTS`); missing factors weigh 0.
    prior_strength
        Shrinkage strength in repairs for every factor; ``None`` estimates one per factor.

    Returns
    -------
    ShopRatings

    Examples
    --------
    >>> ratings = rate_shops(repairs)  # doctest: +SKIP
    >>> ratings.explain("R001")  # doctest: +SKIP
    'R001 rates 2.9 (grade D) on 412 repairs: re-repair rate 14 % against 5 % for the chain ...'
    """
    check_records(repairs)
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = sorted(set(weights) - set(FACTORS))
    if unknown:
        raise InputError(f"`weights` has unknown factors {unknown}; use {', '.join(FACTORS)}.")
    if any(not np.isfinite(w) or w < 0 for w in weights.values()):
        raise InputError(f"`weights` must be finite and >= 0, got {weights}.")
    if anomalies is None:
        weights.pop("flagged_claims", None)
    elif len(anomalies.claim_scores) != len(repairs):
        raise InputError("`anomalies` were found on other records (different length); run "
                         "`find_anomalies` on the same `repairs`.")
    total = sum(weights.values())
    if total <= 0:
        raise InputError("`weights` sum to 0; give at least one factor a positive weight.")
    weights = {k: v / total for k, v in weights.items()}

    records = with_comebacks(repairs.reset_index(drop=True))
    shop = records["shop_id"].astype(str).to_numpy()
    labels = pd.Index(sorted(pd.unique(shop)), name="shop_id")
    per_repair = _per_repair_values(records, anomalies)
    columns: dict[str, np.ndarray] = {}
    chain: dict[str, float] = {}
    strength: dict[str, float] = {}
    for name, values in per_repair.items():
        shrunk = shrink_means(values, shop, labels=labels, prior_strength=prior_strength)
        columns[name] = shrunk.table["shrunk"].to_numpy()
        columns[f"{name}_raw"] = shrunk.table["raw"].to_numpy()
        chain[name] = shrunk.chain_mean
        strength[name] = shrunk.prior_strength
    n = pd.Series(shop).value_counts().reindex(labels).fillna(0).to_numpy(np.int64)
    received = pd.to_datetime(records["received"])
    first = received.groupby(shop).min().reindex(labels)
    active_days = np.maximum((received.max() - first).dt.days.to_numpy(np.float64) + 1,
                             MIN_ACTIVE_DAYS)
    per_year = n / np.minimum(active_days / 365.25, records_span_years(records))
    if "flagged_claims" in chain:  # abusive shops must not move the reference: the median shop
        chain["flagged_claims"] = float(np.median(columns["flagged_claims"]))
    columns["volume"] = columns["volume_raw"] = per_year
    chain["volume"] = float(np.median(per_year))

    points = _points(columns, chain)
    score = sum(weights.get(f, 0.0) * points[f] for f in points)
    rating = np.round(np.clip(BASE_RATING + RATING_PER_POINT * score, 1.0, 5.0), 2)
    table = pd.DataFrame({"shop_id": labels.to_numpy(), "repairs": n,
                          "rating": rating, "grade": grade_of(rating),
                          "score": score})
    for name in points:
        table[name] = columns[name]
        table[f"{name}_raw"] = columns[f"{name}_raw"]
        table[f"{name}_points"] = points[name]
    table["reasons"] = [_reasons(table.iloc[i], chain, weights, points, i)
                        for i in range(len(table))]
    table = table.sort_values(["rating", "shop_id"], ascending=[False, True], kind="stable")
    return ShopRatings(table=table.reset_index(drop=True), chain=chain,
                       prior_strength=strength, weights=weights)


def _per_repair_values(records: pd.DataFrame, anomalies: ClaimAnomalies | None
                       ) -> dict[str, np.ndarray]:
    days = turnaround_days(records)
    received = pd.to_datetime(records["received"])
    returned = pd.to_datetime(records["returned"])
    followed = (returned + pd.Timedelta(days=RE_REPAIR_DAYS) <= received.max()).to_numpy()
    back = records[f"back_within_{RE_REPAIR_DAYS}"].to_numpy(bool)
    rating = (pd.to_numeric(records["customer_rating"], errors="coerce").to_numpy(np.float64)
              if "customer_rating" in records.columns else np.full(len(records), np.nan))
    values = {
        "turnaround": np.log((days + 1) / (turnaround_norm(records).to_numpy() + 1)),
        "re_repair": np.where(followed, back.astype(float), np.nan),
        "customer_rating": rating,
        "cost": np.log1p(repair_cost(records)) - np.log1p(cost_norm(records).to_numpy()),
        "warranty_share": records["warranty"].astype(bool).to_numpy().astype(float),
    }
    if anomalies is not None:
        values["flagged_claims"] = anomalies.claim_scores["flagged"].to_numpy(bool).astype(float)
    return values


def _points(columns: Mapping[str, np.ndarray], chain: Mapping[str, float]
            ) -> dict[str, np.ndarray]:
    def clip(x: np.ndarray, bound: float = 2.0) -> np.ndarray:
        return np.clip(np.nan_to_num(x), -bound, bound)

    points: dict[str, np.ndarray] = {}
    for name in ("turnaround", "cost"):
        if name in columns:
            points[name] = clip(-(columns[name] - chain[name]) / POINT_SCALES[name])
    points["re_repair"] = clip(-(columns["re_repair"] - chain["re_repair"])
                               / POINT_SCALES["re_repair"])
    if np.isfinite(chain["customer_rating"]):
        points["customer_rating"] = clip((columns["customer_rating"] - chain["customer_rating"])
                                         / POINT_SCALES["customer_rating"])
    else:
        points["customer_rating"] = np.zeros(len(columns["volume"]))
    points["warranty_share"] = clip(-np.maximum(columns["warranty_share"]
                                                - chain["warranty_share"], 0.0)
                                    / POINT_SCALES["warranty_share"])
    if "flagged_claims" in columns:
        points["flagged_claims"] = clip(-np.maximum(columns["flagged_claims"]
                                                    - chain["flagged_claims"], 0.0)
                                        / POINT_SCALES["flagged_claims"])
    points["volume"] = clip(np.log2(np.maximum(columns["volume"], 1e-9)
                                    / max(chain["volume"], 1e-9)), 1.0)
    return {name: points[name] for name in FACTORS if name in points}


def _describe(name: str, value: float, chain: float) -> str:
    if name == "turnaround":
        return (f"turnaround {np.exp(value - chain):.2g}x the chain's for the same faults")
    if name == "re_repair":
        return f"re-repair rate {100 * value:.0f} % against {100 * chain:.0f} % for the chain"
    if name == "customer_rating":
        return f"customer rating {value:.2f} against {chain:.2f} for the chain"
    if name == "cost":
        return (f"cost per repair {np.exp(value - chain):.2g}x the chain's for the same fault "
                "and model")
    if name == "warranty_share":
        return f"warranty share {100 * value:.0f} % against {100 * chain:.0f} % for the chain"
    if name == "flagged_claims":
        return (f"flagged claims {100 * value:.1f} % against {100 * chain:.1f} % for the median "
                "shop")
    return f"{value:,.0f} repairs a year against a median of {chain:,.0f}"


def _reasons(row: pd.Series, chain: Mapping[str, float], weights: Mapping[str, float],
             points: Mapping[str, np.ndarray], i: int) -> str:
    contributions = {f: weights.get(f, 0.0) * points[f][i] for f in points}
    ranked = sorted(contributions, key=lambda f: -abs(contributions[f]))
    shown = [f for f in ranked if abs(contributions[f]) >= 0.02][:3]
    parts = [f"{_describe(f, float(row[f]), chain[f])} ({contributions[f]:+.2f})" for f in shown]
    text = "; ".join(parts) if parts else "close to the chain's average on every factor"
    if row["repairs"] < SMALL_SHOP_REPAIRS:
        text = (f"only {int(row['repairs'])} repairs, so its factors lean on the chain's "
                f"averages; {text}")
    return text
