"""Cross-table checks of the weekly allocation inputs (pure checks on frames).

File-level checks (columns, types, ranges) belong to ``geodata``'s validation when reading
files; these checks look across tables: every stock and sales row names a known store or
warehouse and a known SKU, no (location, SKU) appears twice, stock is not negative, and stores
without any sales history are reported (they get a documented fallback, see
:func:`optimizer.allocation.plan.plan_week`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError


def check_inventory_tables(*, stores: pd.DataFrame, warehouses: pd.DataFrame,
                           skus: pd.DataFrame, stock: pd.DataFrame, sales: pd.DataFrame,
                           sources: dict[str, str] | None = None) -> list[str]:
    """Check the allocation tables against each other; raise one error listing every problem.

    Parameters
    ----------
    stores, warehouses, skus, stock, sales
        The tables (columns as in ``docs/architecture.md``).
    sources
        Table name to file name, so messages can name the file (defaults to the table name).

    Returns
    -------
    list of str
        Ids of stores without any sales history (not an error: they get a fallback forecast).

    Raises
    ------
    InputError
        Listing each problem with file, column, row (0-based data row) and the fix.

    Examples
    --------
    >>> stores = pd.DataFrame({"store_id": ["S1"]}); warehouses = pd.DataFrame({"warehouse_id": ["W1"]})
    >>> skus = pd.DataFrame({"sku": ["A"]})
    >>> stock = pd.DataFrame({"location_id": ["S1"], "sku": ["A"], "on_hand": [3], "in_transit": [0]})
    >>> sales = pd.DataFrame({"date": ["2026-01-05"], "store_id": ["S1"], "sku": ["A"], "units": [1]})
    >>> check_inventory_tables(stores=stores, warehouses=warehouses, skus=skus, stock=stock, sales=sales)
    []
    """
    sources = {name: (sources or {}).get(name, name)
               for name in ("stores", "warehouses", "skus", "stock", "sales")}
    problems: list[str] = []
    store_ids = pd.Index(stores["store_id"].astype(str))
    location_ids = store_ids.append(pd.Index(warehouses["warehouse_id"].astype(str)))
    sku_ids = pd.Index(skus["sku"].astype(str))
    for table, column in (("stores", "store_id"), ("warehouses", "warehouse_id"), ("skus", "sku")):
        frame = {"stores": stores, "warehouses": warehouses, "skus": skus}[table]
        _duplicates(problems, frame, [column], sources[table])
    _unknown(problems, stock, "location_id", location_ids, sources["stock"],
             "a store or warehouse")
    _unknown(problems, stock, "sku", sku_ids, sources["stock"], "a SKU")
    _unknown(problems, sales, "store_id", store_ids, sources["sales"], "a store")
    _unknown(problems, sales, "sku", sku_ids, sources["sales"], "a SKU")
    _duplicates(problems, stock, ["location_id", "sku"], sources["stock"])
    _duplicates(problems, sales, ["date", "store_id", "sku"], sources["sales"])
    for column in ("on_hand", "in_transit"):
        if column in stock:
            values = stock[column].to_numpy(dtype=float)
            _rows(problems, sources["stock"], column, np.flatnonzero(values < 0), values,
                  "is negative; stock cannot be below 0, correct the count (use 0 if unknown)")
    if "units" in sales:
        values = sales["units"].to_numpy(dtype=float)
        _rows(problems, sources["sales"], "units", np.flatnonzero(values < 0), values,
              "is negative; record returns separately, sales must be >= 0")
    if problems:
        raise InputError(f"{len(problems)} problem(s) in the allocation inputs:\n- "
                         + "\n- ".join(problems))
    with_history = set(sales["store_id"].astype(str))
    return [s for s in store_ids if s not in with_history]


def _unknown(problems: list[str], frame: pd.DataFrame, column: str, known: pd.Index,
             source: str, what: str) -> None:
    values = frame[column].astype(str)
    bad = np.flatnonzero(~values.isin(known).to_numpy())
    _rows(problems, source, column, bad, values.to_numpy(),
          f"is not {what} of the master data; add it there or drop the row")


def _duplicates(problems: list[str], frame: pd.DataFrame, columns: list[str],
                source: str) -> None:
    bad = np.flatnonzero(frame.duplicated(subset=columns, keep="first").to_numpy())
    if bad.size:
        values = frame[columns].astype(str).agg("/".join, axis=1).to_numpy()
        _rows(problems, source, "+".join(columns), bad, values,
              "appears more than once; keep one row (sum the quantities if both are real)")


def _rows(problems: list[str], source: str, column: str, rows: np.ndarray,
          values: np.ndarray, text: str) -> None:
    if rows.size == 0:
        return
    shown = ", ".join(f"row {int(r)} ({_plain(values[r])!r})" for r in rows[:5])
    more = f" and {rows.size - 5} more rows" if rows.size > 5 else ""
    problems.append(f"`{source}`, column `{column}`: {shown}{more} {text}.")


def _plain(value: object) -> object:
    """Numpy scalars as plain Python values (so messages read ``-4``, not ``np.int64(-4)``)."""
    value = value.item() if isinstance(value, np.generic) else value
    return int(value) if isinstance(value, float) and value.is_integer() else value
