r"""Empirical-Bayes shrinkage of per-shop averages toward the chain's average.

A shop with 2 repairs and one comeback has a raw re-repair rate of 50 %, far above any real shop,
only because it is small. Each shop's average of a per-repair value ``x`` (a 0/1 comeback, a
customer rating, a log cost ratio) is pulled toward the chain's average ``mu`` with a prior worth
``k`` repairs:

.. math:: \hat{x}_s = \frac{n_s \bar{x}_s + k \mu}{n_s + k}

the normal-normal (or, for 0/1 values, beta-binomial) posterior mean, the same shape as the fan
index of :mod:`geodata.layers`. ``k = s^2 / \tau^2`` is estimated by the method of moments:
``s^2`` is the pooled within-shop variance and ``\tau^2 = max(Var_w(\bar{x}_s) - s^2
\overline{1/n_s}, tiny)`` the variance between shops beyond sampling noise; ``k`` is clipped to
``[PRIOR_MIN_REPAIRS, PRIOR_MAX_REPAIRS]``, so a shop with 2 repairs keeps at most 2/12 of its
own deviation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PRIOR_MIN_REPAIRS = 10.0
"""Smallest prior strength, in repairs: no shop average is trusted on fewer than this."""

PRIOR_MAX_REPAIRS = 1000.0
"""Largest prior strength (shops that really are alike are still told apart on 1,000 repairs)."""


@dataclass(frozen=True)
class ShrunkMeans:
    """Per-group raw and shrunk averages of one per-repair value.

    Attributes
    ----------
    table
        One row per group (index: the group labels): ``n`` (values), ``raw`` (plain mean, NaN
        without values) and ``shrunk`` (the posterior mean; ``chain_mean`` without values).
    chain_mean
        The average ``mu`` over every value (each repair counts once).
    prior_strength
        ``k``, in values (repairs).
    """

    table: pd.DataFrame
    chain_mean: float
    prior_strength: float


def shrink_means(values: np.ndarray, groups: np.ndarray, *, labels: pd.Index | None = None,
                 prior_strength: float | None = None) -> ShrunkMeans:
    """Shrink each group's mean of ``values`` toward the overall mean (empirical Bayes).

    Parameters
    ----------
    values
        One value per observation; NaN values are left out (e.g. repairs without a rating).
    groups
        The group (shop) of each observation.
    labels
        Groups to report, also those without values (default: the groups seen).
    prior_strength
        ``k`` in observations; ``None`` estimates it (see the module docstring).

    Returns
    -------
    ShrunkMeans

    Examples
    --------
    >>> out = shrink_means(np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0]),
    ...                    np.array(["a", "a", "b", "b", "b", "b"]), prior_strength=10)
    >>> round(out.chain_mean, 3), round(float(out.table.loc["a", "shrunk"]), 3)
    (0.333, 0.444)
    """
    values = np.asarray(values, dtype=np.float64)
    groups = np.asarray(groups, dtype=object)
    present = np.isfinite(values)
    labels = pd.Index(pd.unique(groups)) if labels is None else pd.Index(labels)
    frame = pd.DataFrame({"group": groups[present], "x": values[present]})
    stats = frame.groupby("group")["x"].agg(["count", "mean", "var"]).reindex(labels)
    n = stats["count"].fillna(0).to_numpy(np.float64)
    raw = stats["mean"].to_numpy(np.float64)
    mu = float(values[present].mean()) if present.any() else float("nan")
    if prior_strength is None:
        k = _moment_strength(n, raw, stats["var"].to_numpy(np.float64), mu)
    else:
        k = float(prior_strength)
    own = np.where(n > 0, np.nan_to_num(raw), 0.0)
    shrunk = (n * own + k * mu) / (n + k)
    table = pd.DataFrame({"n": n.astype(np.int64), "raw": raw, "shrunk": shrunk}, index=labels)
    return ShrunkMeans(table=table, chain_mean=mu, prior_strength=k)


def _moment_strength(n: np.ndarray, raw: np.ndarray, var: np.ndarray, mu: float) -> float:
    seen = n > 0
    if seen.sum() < 2 or not np.isfinite(mu):
        return PRIOR_MIN_REPAIRS
    dof = np.clip(n[seen] - 1, 0, None)
    within = float(np.nansum(np.nan_to_num(var[seen]) * dof) / max(dof.sum(), 1.0))
    weights = n[seen] / n[seen].sum()
    between = float((weights * (raw[seen] - mu) ** 2).sum())
    tau2 = max(between - within * float(np.mean(1.0 / n[seen])), 1e-12)
    return float(np.clip(within / tau2 if within > 0 else PRIOR_MIN_REPAIRS,
                         PRIOR_MIN_REPAIRS, PRIOR_MAX_REPAIRS))
