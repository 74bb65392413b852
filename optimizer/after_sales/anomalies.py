"""Claim anomalies (售后反欺诈): robust signals of warranty abuse, per claim and per shop.

Every signal is put on one scale, a robust z-score, and flagged at :data:`FLAG_THRESHOLD`
(3.5, the usual cut-off for median/MAD "modified z-scores"):

Per claim
    ``cost``: ``(log cost - median) / (1.4826 MAD)`` of the log cost (parts + labour) within the
    claim's fault and model (the fault alone when the pair has fewer than 20 repairs).
    ``out_of_warranty``: a warranty claim received after ``warranty_end`` and not within
    :data:`REPAIR_GUARANTEE_DAYS` of an earlier repair of the same device (a redo is free);
    scored ``3.5 + log2(1 + days outside / 30)``, so every such claim is flagged and the
    furthest outside rank first.
    ``repeat_warranty``: a warranty claim on a device that already had
    :data:`REPEAT_LIMIT` or more warranty repairs at the same shop in the previous 365 days;
    scored ``3.5 + (earlier claims - REPEAT_LIMIT)``.

Per shop (shops with at least :data:`MIN_SHOP_REPAIRS` repairs, against their peers)
    ``warranty_share`` and ``cost_profile`` (the shop's median log cost ratio to the norm):
    median/MAD z-scores over the shops; ``repeat_share`` (warranty claims on a device the same
    shop repaired in the 90 days before) and ``flagged_claims`` (claims flagged above): the
    binomial tail of the shop's count at the peers' median rate, as a normal quantile, so a
    small shop with one unlucky claim is not flagged.

The claims and the shops are each ranked by their largest signal, with the reason in words.
On clean simulated records (the demo generator without planted abuse, 5 seeds) 0.16-0.40 % of
claims and 1 shop in 200 are flagged (see ``docs/data.md``); a test keeps that under
:data:`CLAIM_FALSE_ALARM_RATE` and :data:`SHOP_FALSE_ALARM_RATE`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .records import check_records, cost_groups, cost_norm, repair_cost
from .shrinkage import shrink_means

FLAG_THRESHOLD = 3.5
"""Robust z-score at and above which a claim or a shop is flagged."""

MAD_SCALE = 1.4826
"""MAD to standard deviation for normal data."""

REPAIR_GUARANTEE_DAYS = 90
"""A repair is guaranteed this long: redoing it is a legitimate warranty claim."""

REPEAT_LIMIT = 2
"""Earlier warranty repairs of the same device at the same shop within a year before a further
claim is flagged (one genuine redo is common, a third claim is not)."""

MIN_SHOP_REPAIRS = 20
"""Shops with fewer repairs are not compared with their peers (their claims still are)."""

CLAIM_FALSE_ALARM_RATE = 0.01
"""Documented ceiling on the share of claims flagged on clean records."""

SHOP_FALSE_ALARM_RATE = 0.05
"""Documented ceiling on the share of clean shops flagged."""

_MAD_FLOOR = {"cost": 0.05, "warranty_share": 0.02, "cost_profile": 0.03}


@dataclass(frozen=True)
class ClaimAnomalies:
    """Flagged claims and shops, each ranked by the strength of their signal.

    Attributes
    ----------
    claims
        One row per flagged claim, strongest first: ``rank, row`` (the record's row, 1 = the
        first data row), ``shop_id, serial, received, signal`` (the strongest), ``score`` (robust
        z), ``reason``; also ``repair_id`` when the records have one.
    shops
        One row per shop, strongest signal first: ``rank, shop_id, repairs, score, signal,
        flagged, reason`` and one ``z_<signal>`` column per shop signal.
    claim_scores
        Every record's score per claim signal (columns ``cost``, ``out_of_warranty``,
        ``repeat_warranty``; 0 where the signal does not apply) and ``flagged``, in record order.
    threshold
        The flag threshold used.
    """

    claims: pd.DataFrame
    shops: pd.DataFrame
    claim_scores: pd.DataFrame
    threshold: float

    @property
    def flagged_shops(self) -> pd.DataFrame:
        """The flagged shops, strongest first."""
        return self.shops[self.shops["flagged"]].reset_index(drop=True)

    def summary(self) -> str:
        """Return one sentence on what was flagged."""
        n = len(self.claim_scores)
        shops = self.flagged_shops["shop_id"].tolist()
        return (f"{len(self.claims):,} of {n:,} claims flagged "
                f"({100 * len(self.claims) / max(n, 1):.1f}%, threshold {self.threshold:g}); "
                f"{len(shops)} shops flagged" + (f": {', '.join(map(str, shops))}." if shops
                                                 else "."))


def robust_z(values: np.ndarray, groups: np.ndarray | None = None, *,
             mad_floor: float = 0.0) -> np.ndarray:
    """Return ``(x - median) / (1.4826 MAD)`` of each value, within its group if given.

    Examples
    --------
    >>> robust_z(np.array([1.0, 2.0, 3.0, 4.0, 100.0])).round(2).tolist()
    [-1.35, -0.67, 0.0, 0.67, 65.43]
    """
    series = pd.Series(np.asarray(values, dtype=np.float64))
    keys = np.zeros(len(series)) if groups is None else np.asarray(groups)
    median = series.groupby(keys).transform("median")
    mad = (series - median).abs().groupby(keys).transform("median")
    scale = np.maximum(MAD_SCALE * mad.to_numpy(), max(mad_floor, 1e-12))
    return ((series - median).to_numpy() / scale)


def binomial_z(count: np.ndarray, n: np.ndarray, rate: float) -> np.ndarray:
    """Return the normal quantile of ``P(X >= count)`` for ``X ~ Binomial(n, rate)``.

    Examples
    --------
    >>> binomial_z(np.array([2, 30]), np.array([100, 300]), 0.01).round(1).tolist()
    [0.6, 9.2]
    """
    count = np.asarray(count, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    rate = float(np.clip(rate, 1e-6, 1 - 1e-6))
    tail = stats.binom.sf(count - 1, n, rate)
    return np.clip(stats.norm.isf(np.clip(tail, 1e-300, 1.0)), -8.0, 40.0)


def find_anomalies(repairs: pd.DataFrame, *, threshold: float = FLAG_THRESHOLD
                   ) -> ClaimAnomalies:
    """Flag suspicious claims and shops in repair records, ranked, with reasons.

    Parameters
    ----------
    repairs
        Checked repair records (see :mod:`optimizer.after_sales.records`); ``warranty_end`` is
        optional (without it the out-of-warranty signal is not computed).
    threshold
        Robust z-score at which a claim or shop is flagged.

    Returns
    -------
    ClaimAnomalies

    Examples
    --------
    >>> found = find_anomalies(repairs)  # doctest: +SKIP
    >>> found.claims[["shop_id", "signal", "reason"]].head()  # doctest: +SKIP
    """
    check_records(repairs)
    records = repairs.reset_index(drop=True)
    scores = _claim_scores(records)
    scores["flagged"] = scores[["cost", "out_of_warranty", "repeat_warranty"]].max(axis=1) \
        >= threshold
    claims = _claim_table(records, scores)
    shops = _shop_table(records, scores, threshold)
    return ClaimAnomalies(claims=claims, shops=shops, claim_scores=scores, threshold=threshold)


def _claim_scores(records: pd.DataFrame) -> pd.DataFrame:
    cost = repair_cost(records)
    log_cost = np.log1p(cost)
    cost_z = robust_z(log_cost, cost_groups(records), mad_floor=_MAD_FLOOR["cost"])
    warranty = records["warranty"].astype(bool).to_numpy()
    received = pd.to_datetime(records["received"]).to_numpy("datetime64[D]").astype(np.int64)
    returned = pd.to_datetime(records["returned"]).to_numpy("datetime64[D]").astype(np.int64)
    serial = pd.factorize(records["serial"].astype(str))[0]
    shop = pd.factorize(records["shop_id"].astype(str))[0]

    # days since the same device's previous return (any shop), for the repair guarantee
    order = np.lexsort((np.arange(len(records)), received, serial))
    since_previous = np.full(len(records), np.inf)
    same = serial[order][1:] == serial[order][:-1]
    gap = (received[order][1:] - returned[order][:-1]).astype(np.float64)
    since_previous[order[1:]] = np.where(same, gap, np.inf)

    outside = np.zeros(len(records))
    if "warranty_end" in records.columns:
        end = pd.to_datetime(records["warranty_end"])
        known = end.notna().to_numpy()
        end_day = end.to_numpy("datetime64[D]").astype(np.int64)
        days_out = np.where(known, received - end_day, 0).astype(np.float64)
        bad = warranty & known & (days_out > 0) & ~(since_previous <= REPAIR_GUARANTEE_DAYS)
        outside = np.where(bad, FLAG_THRESHOLD + np.log2(1.0 + np.maximum(days_out, 0) / 30.0), 0.0)

    earlier = _earlier_warranty_claims(serial, shop, received, warranty, window=365)
    repeat = np.where(warranty & (earlier >= REPEAT_LIMIT),
                      FLAG_THRESHOLD + (earlier - REPEAT_LIMIT), 0.0)
    recent = _earlier_warranty_claims(serial, shop, received, warranty, window=90)
    return pd.DataFrame({"cost": cost_z, "out_of_warranty": outside, "repeat_warranty": repeat,
                         "earlier_warranty_claims": earlier, "repeat_90": warranty & (recent > 0),
                         "cost_ratio": np.log1p(cost) - np.log1p(cost_norm(records).to_numpy()),
                         "days_out_of_warranty": np.where(
                             outside > 0, (2.0 ** (outside - FLAG_THRESHOLD) - 1.0) * 30, 0)})


def _earlier_warranty_claims(serial: np.ndarray, shop: np.ndarray, received: np.ndarray,
                             warranty: np.ndarray, *, window: int) -> np.ndarray:
    """Warranty claims of the same device at the same shop in the ``window`` days before."""
    key = serial.astype(np.int64) * (int(shop.max(initial=0)) + 1) + shop
    order = np.lexsort((np.arange(key.size), received, key))
    composite = key[order].astype(np.float64) * 1e6 + received[order]
    claim = warranty[order].astype(np.int64)
    before_position = np.cumsum(claim) - claim  # claims at earlier positions of the sorted array
    first = np.searchsorted(composite, composite - window, side="left")
    before = before_position - before_position[first]
    result = np.zeros(key.size, dtype=np.int64)
    result[order] = before
    return result


def _reason_claim(row: pd.Series, scores: pd.Series, record: pd.Series) -> str:
    signal = row["signal"]
    if signal == "cost":
        ratio = float(np.expm1(np.log1p(_cost(record)) - scores["cost_ratio"]))
        return (f"cost {_cost(record):,.0f} CNY against a norm of {ratio:,.0f} for "
                f"{record['fault_code']} on {record['model']} (robust z {row['score']:.1f})")
    if signal == "out_of_warranty":
        return (f"warranty claim {scores['days_out_of_warranty']:,.0f} days after the warranty "
                f"ended on {pd.Timestamp(record['warranty_end']):%Y-%m-%d}")
    return (f"warranty repair number {int(scores['earlier_warranty_claims']) + 1} of device "
            f"{record['serial']} at the same shop within a year")


def _cost(record: pd.Series) -> float:
    return float(record["parts_cost"]) + float(record["labour_cost"])


def _claim_table(records: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    signals = scores[["cost", "out_of_warranty", "repeat_warranty"]]
    flagged = np.flatnonzero(scores["flagged"].to_numpy())
    strongest = signals.to_numpy()[flagged].argmax(axis=1)
    table = pd.DataFrame({
        "row": flagged + 1,
        "shop_id": records["shop_id"].to_numpy()[flagged],
        "serial": records["serial"].to_numpy()[flagged],
        "received": pd.to_datetime(records["received"]).to_numpy()[flagged],
        "signal": np.array(signals.columns)[strongest],
        "score": signals.to_numpy()[flagged].max(axis=1) if len(flagged) else np.zeros(0),
    })
    if "repair_id" in records.columns:
        table.insert(1, "repair_id", records["repair_id"].to_numpy()[flagged])
    table["reason"] = [_reason_claim(r, scores.iloc[p], records.iloc[p])
                       for (_, r), p in zip(table.iterrows(), flagged, strict=True)]
    table = table.sort_values(["score", "row"], ascending=[False, True], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def _shop_table(records: pd.DataFrame, scores: pd.DataFrame, threshold: float) -> pd.DataFrame:
    shop = records["shop_id"].astype(str).to_numpy()
    labels = pd.Index(sorted(pd.unique(shop)), name="shop_id")
    warranty = records["warranty"].astype(bool).to_numpy()
    n = pd.Series(shop).value_counts().reindex(labels).fillna(0).to_numpy(np.int64)
    share = shrink_means(warranty.astype(float), shop, labels=labels)
    profile = pd.Series(scores["cost_ratio"].to_numpy()).groupby(shop).median().reindex(labels)
    n_warranty = pd.Series(warranty.astype(int)).groupby(shop).sum().reindex(labels).fillna(0)
    repeats = pd.Series(scores["repeat_90"].to_numpy().astype(int)).groupby(shop).sum() \
        .reindex(labels).fillna(0)
    flagged = pd.Series(scores["flagged"].to_numpy().astype(int)).groupby(shop).sum() \
        .reindex(labels).fillna(0)
    peers = n >= MIN_SHOP_REPAIRS
    z = pd.DataFrame(0.0, index=labels, columns=["warranty_share", "cost_profile",
                                                 "repeat_share", "flagged_claims"])
    if peers.sum() >= 3:
        def peer_z(values: np.ndarray, name: str) -> np.ndarray:
            out = np.zeros(len(labels))
            out[peers] = robust_z(values[peers], mad_floor=_MAD_FLOOR[name])
            return out

        z["warranty_share"] = peer_z(share.table["shrunk"].to_numpy(), "warranty_share")
        z["cost_profile"] = peer_z(profile.to_numpy(np.float64), "cost_profile")
        repeat_rate = float(np.median(repeats.to_numpy()[peers]
                                      / np.maximum(n_warranty.to_numpy()[peers], 1)))
        flag_rate = float(np.median(flagged.to_numpy()[peers] / n[peers]))
        z.loc[peers, "repeat_share"] = binomial_z(repeats.to_numpy()[peers],
                                                  n_warranty.to_numpy()[peers],
                                                  max(repeat_rate, 0.005))
        z.loc[peers, "flagged_claims"] = binomial_z(flagged.to_numpy()[peers], n[peers],
                                                    max(flag_rate, 0.002))
    chain_share = share.chain_mean
    chain_profile = float(np.median(profile.to_numpy()[peers])) if peers.any() else 0.0

    def reason(label: str, i: int) -> str:
        parts = []
        row = z.loc[label]
        if row["warranty_share"] >= threshold:
            parts.append(f"warranty share {100 * share.table['shrunk'].iloc[i]:.0f} % against "
                         f"{100 * chain_share:.0f} % for the chain")
        if row["cost_profile"] >= threshold:
            parts.append(f"costs {np.exp(profile.iloc[i] - chain_profile):.1f}x the norm for the "
                         "same faults and models")
        if row["repeat_share"] >= threshold:
            parts.append(f"{int(repeats.iloc[i])} warranty claims on devices it repaired in the "
                         f"90 days before ({100 * repeats.iloc[i] / max(n_warranty.iloc[i], 1):.0f}"
                         " % of its warranty claims)")
        if row["flagged_claims"] >= threshold:
            parts.append(f"{int(flagged.iloc[i])} flagged claims of {n[i]} "
                         f"({100 * flagged.iloc[i] / max(n[i], 1):.1f} %)")
        if not parts:
            return (f"fewer than {MIN_SHOP_REPAIRS} repairs: not compared with its peers"
                     if not peers[i]
                    else "in line with its peers")
        return "; ".join(parts)

    best = z.to_numpy().argmax(axis=1)
    table = pd.DataFrame({
        "shop_id": labels.to_numpy(), "repairs": n,
        "score": z.to_numpy().max(axis=1), "signal": np.array(z.columns)[best],
        "flagged": z.to_numpy().max(axis=1) >= threshold,
        "flagged_claims": flagged.to_numpy(np.int64),
        **{f"z_{c}": z[c].to_numpy() for c in z.columns}})
    table["reason"] = [reason(label, i) for i, label in enumerate(labels)]
    table = table.sort_values(["score", "shop_id"], ascending=[False, True], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)
