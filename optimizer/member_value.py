r"""Member value from purchase histories: RFM scores and the expected value of each member.

Input: one row per purchase (``member_id``, ``date``, ``amount`` in CNY), e.g. from
:func:`geodata.members.read_members`. Per member, at the reference date ``as_of``:

- **recency** :math:`r` = days since the last purchase;
- **frequency** :math:`f` = number of purchases (distinct orders; rows of one day count once when
  ``orders="days"``);
- **monetary** :math:`m` = average amount per purchase (CNY);
- **tenure** :math:`T` = days since the first purchase, plus one.

**RFM scores** (1 to 5, 5 best): each of :math:`-r`, :math:`f` and :math:`m` is ranked across
members (ties take the highest rank, ``rank(method="max")``) and scored
:math:`\lceil 5 \cdot \text{rank} / n \rceil`; so with 5 members the best gets 5 and the worst 1.
``rfm_score`` is their sum (3 to 15) and ``rfm_cell`` the three digits, e.g. ``"545"``.

**Expected value** over the next ``horizon_days`` (a simple model without fitted BG/NBD
parameters): a member buys at rate :math:`\lambda` while active and stops for good at some point.

.. math::

    \lambda = \frac{f + a}{T + b}, \qquad
    p_{\text{active}} = e^{-\lambda r}, \qquad
    \text{expected\_value} = p_{\text{active}} \cdot \lambda H \cdot m

- :math:`\lambda` is the purchase rate per day, shrunk towards the rate of all members
  (:math:`a = b \cdot \bar\lambda`, :math:`\bar\lambda = \sum f / \sum T`, prior worth
  :math:`b` = ``prior_days`` days), so a member seen once is not judged on one gap;
- :math:`p_{\text{active}}` (retention) is the probability that a member still buying at rate
  :math:`\lambda` would have made no purchase in the :math:`r` days since the last one (Poisson
  process): long silences relative to the member's own rhythm mean the member has likely left;
- :math:`\lambda H` is the expected number of purchases in the horizon :math:`H` while active, and
  :math:`m` the average amount of each.

So expected value = frequency (as a rate) x monetary x retention probability from recency. It is
a ranking-grade estimate, not a fitted lifetime model: it has no parameters to estimate and
always gives an answer. It rises with recency and with spend; it rises with frequency while the
silence since the last purchase is shorter than the member's usual gap (:math:`\lambda r < 1`)
and falls beyond it: a frequent buyer gone silent has most likely left (BG/NBD behaves alike).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from .errors import InputError

OrderCount = Literal["rows", "days"]
"""``rows``: every purchase row is an order. ``days``: purchases of one member on one day count
as one order (their amounts add up)."""

DEFAULT_HORIZON_DAYS = 365
"""Horizon of the expected value: one year."""

DEFAULT_PRIOR_DAYS = 180.0
"""Strength of the shrinkage of each member's purchase rate, in days of history."""


def rfm_table(transactions: pd.DataFrame, *, as_of: pd.Timestamp | str | None = None,
              orders: OrderCount = "rows", member: str = "member_id", date: str = "date",
              amount: str = "amount") -> pd.DataFrame:
    """Return recency, frequency, monetary value and RFM scores per member.

    Parameters
    ----------
    transactions
        One row per purchase.
    as_of
        Reference date; the day after the last purchase in the table when ``None``.
    orders
        See :data:`OrderCount`.
    member, date, amount
        Column names.

    Returns
    -------
    pandas.DataFrame
        Indexed by member: ``first_purchase, last_purchase, recency_days, frequency, monetary,
        total_amount, tenure_days, r_score, f_score, m_score, rfm_score, rfm_cell``.

    Examples
    --------
    >>> t = pd.DataFrame({"member_id": ["a", "a", "b"], "amount": [100.0, 300.0, 50.0],
    ...                   "date": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-02-01"])})
    >>> rfm_table(t, as_of="2025-03-11")[["recency_days", "frequency", "monetary"]].values.tolist()
    [[10.0, 2.0, 200.0], [38.0, 1.0, 50.0]]
    """
    frame = _purchases(transactions, member, date, amount, orders)
    reference = (frame["date"].max() + pd.Timedelta(days=1) if as_of is None
                 else pd.Timestamp(as_of))
    if (frame["date"] > reference).any():
        late = int(np.flatnonzero((frame["date"] > reference).to_numpy())[0])
        raise InputError(f"purchase {late + 1} is dated {frame['date'].iloc[late]:%Y-%m-%d}, after "
                         f"`as_of` {reference:%Y-%m-%d}; move `as_of` to the end of the history.")
    grouped = frame.groupby("member", sort=True)
    table = pd.DataFrame({
        "first_purchase": grouped["date"].min(),
        "last_purchase": grouped["date"].max(),
        "frequency": grouped["amount"].size().astype(float),
        "total_amount": grouped["amount"].sum(),
    })
    table.index.name = member
    table["monetary"] = table["total_amount"] / table["frequency"]
    table["recency_days"] = (reference - table["last_purchase"]).dt.days.astype(float)
    table["tenure_days"] = (reference - table["first_purchase"]).dt.days.astype(float) + 1.0
    table["r_score"] = quintile_scores(-table["recency_days"].to_numpy())
    table["f_score"] = quintile_scores(table["frequency"].to_numpy())
    table["m_score"] = quintile_scores(table["monetary"].to_numpy())
    table["rfm_score"] = table["r_score"] + table["f_score"] + table["m_score"]
    table["rfm_cell"] = (table["r_score"].astype(str) + table["f_score"].astype(str)
                         + table["m_score"].astype(str))
    columns = ["first_purchase", "last_purchase", "recency_days", "frequency", "monetary",
               "total_amount", "tenure_days", "r_score", "f_score", "m_score", "rfm_score",
               "rfm_cell"]
    return table[columns]


def quintile_scores(values: np.ndarray) -> np.ndarray:
    """Score values 1 to 5 by rank: ``ceil(5 * rank / n)``, ties taking the highest rank.

    Examples
    --------
    >>> quintile_scores(np.array([1.0, 1.0, 2.0, 3.0, 5.0])).tolist()
    [2, 2, 3, 4, 5]
    """
    values = np.asarray(values, float)
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    rank = pd.Series(values).rank(method="max").to_numpy()
    return np.clip(np.ceil(5.0 * rank / len(values)), 1, 5).astype(np.int64)


def customer_value(transactions: pd.DataFrame, *, as_of: pd.Timestamp | str | None = None,
                   horizon_days: float = DEFAULT_HORIZON_DAYS,
                   prior_days: float = DEFAULT_PRIOR_DAYS, orders: OrderCount = "rows",
                   member: str = "member_id", date: str = "date",
                   amount: str = "amount") -> pd.DataFrame:
    """Return the RFM table with each member's purchase rate, retention and expected value.

    Parameters
    ----------
    transactions, as_of, orders, member, date, amount
        See :func:`rfm_table`.
    horizon_days
        Horizon of the expected value (days).
    prior_days
        Strength of the purchase-rate shrinkage (days of history); 0 uses each member's own rate.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`rfm_table` plus ``purchase_rate`` (purchases per day),
        ``p_active`` and ``expected_value`` (CNY over the horizon), as in the module docstring.

    Examples
    --------
    >>> t = pd.DataFrame({"member_id": ["a", "a", "b"], "amount": [100.0, 300.0, 50.0],
    ...                   "date": pd.to_datetime(["2025-01-01", "2025-03-01", "2025-02-01"])})
    >>> v = customer_value(t, as_of="2025-03-11", prior_days=0)
    >>> round(float(v.loc["a", "purchase_rate"]), 6)  # 2 purchases in 70 days
    0.028571
    """
    if not (np.isfinite(horizon_days) and horizon_days > 0):
        raise InputError(f"`horizon_days` is {horizon_days!r}; give a positive number of days.")
    if not (np.isfinite(prior_days) and prior_days >= 0):
        raise InputError(f"`prior_days` is {prior_days!r}; give a number of days >= 0.")
    table = rfm_table(transactions, as_of=as_of, orders=orders, member=member, date=date,
                      amount=amount)
    mean_rate = table["frequency"].sum() / table["tenure_days"].sum()
    rate = ((table["frequency"] + prior_days * mean_rate) / (table["tenure_days"] + prior_days))
    table["purchase_rate"] = rate
    table["p_active"] = np.exp(-rate * table["recency_days"])
    table["expected_value"] = table["p_active"] * rate * horizon_days * table["monetary"]
    return table


def _purchases(transactions: pd.DataFrame, member: str, date: str, amount: str,
               orders: OrderCount) -> pd.DataFrame:
    missing = [c for c in (member, date, amount) if c not in transactions.columns]
    if missing:
        raise InputError(f"`transactions` has no column {missing}; give one row per purchase "
                         f"with `{member}`, `{date}` and `{amount}` (CNY).")
    if orders not in ("rows", "days"):
        raise InputError(f"`orders` is {orders!r}; use 'rows' or 'days'.")
    if len(transactions) == 0:
        raise InputError("`transactions` has no rows; give at least one purchase.")
    dates = pd.to_datetime(transactions[date], errors="coerce")
    amounts = pd.to_numeric(transactions[amount], errors="coerce")
    for name, bad in ((date, dates.isna()), (amount, amounts.isna() | (amounts < 0))):
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"`transactions` row {row + 1}, column `{name}`: "
                             f"{transactions[name].iloc[row]!r} is not a valid "
                             f"{'date' if name == date else 'amount >= 0'} ({int(bad.sum())} "
                             "rows in all); fix or drop those rows.")
    frame = pd.DataFrame({"member": transactions[member].to_numpy(),
                          "date": dates.dt.normalize().to_numpy(),
                          "amount": amounts.to_numpy(float)})
    if orders == "days":
        frame = frame.groupby(["member", "date"], as_index=False, sort=False)["amount"].sum()
    return frame
