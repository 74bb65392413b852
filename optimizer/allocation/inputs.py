"""Checks of the weekly allocation inputs, across tables (pure checks on frames).

File-level checks (columns, types, ranges) run in ``geodata``'s validation when files are read;
the checks here run on every path into :func:`optimizer.allocation.plan.plan_week` (files, the
app's uploads, frames a program passes), so a library caller gets the same protection:

* numbers: every numeric column the plan reads is a finite number, not negative, and a whole
  number where units are whole (stock, sales, case size); one :class:`InputError` lists every
  problem with file, column and row (row 1 = the first data row);
* ids: every stock and sales row names a known store or warehouse and a known SKU; no
  (location, SKU) or (date, store, SKU) repeats; no id is both a store and a warehouse;
* documented defaults (:data:`OPTIONAL_DEFAULTS`) fill the optional columns, with an
  :class:`~optimizer.errors.InputWarning`;
* suspicious but allowed inputs warn: a sale far above the store's usual (capped, see
  :data:`OUTLIER_FACTOR`), a store with no history and no channel (no demand), no warehouse able
  to ship (throughput or radius 0 everywhere), a week long after the last sale.

The model's size is checked separately, before it is built: :mod:`.sizing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..errors import InputError, Problem, problem_at_rows, warn_input
from ..geometry import haversine_km

TABLES = ("stores", "warehouses", "skus", "stock", "sales", "lanes")

OPTIONAL_DEFAULTS: dict[str, dict[str, object]] = {
    "stores": {"region": "all", "channel": "own_store"},
    "skus": {"margin": 0.2, "volume_l": 1.0, "case_size": 1},
    "stock": {"in_transit": 0},
    "lanes": {"lead_time_days": 1.0},
}
"""Value each optional column takes when the table lacks it (documented in docs/data.md).

Two more defaults are derived from the other tables: a warehouse without ``region`` takes the
region of its nearest store, and a lane without ``distance_km`` is 1.3 x the great-circle
distance between its ends (:class:`optimizer.allocation.lanes.LaneCosts` ``circuity``)."""

OUTLIER_FACTOR = 50.0
"""A sales row above this many times its store's usual row (95th percentile) is an outlier."""

OUTLIER_MIN_ROWS = 20
"""A store with fewer sales rows is compared with the chain's usual row instead of its own."""

STALE_HISTORY_WEEKS = 52
"""A week planned this many weeks or more after the last sale gets a warning."""

class NumberRule(NamedTuple):
    """What one numeric column of an allocation table must hold."""

    column: str
    required: bool
    whole: bool
    minimum: float
    maximum: float


NUMBER_RULES: dict[str, tuple[NumberRule, ...]] = {
    "warehouses": (NumberRule("daily_throughput", True, False, 0, 1e8),
                   NumberRule("service_radius_km", True, False, 0, 5_000)),
    "skus": (NumberRule("unit_cost", True, False, 0, 1e7), NumberRule("margin", False, False, 0, 1e7),
             NumberRule("volume_l", False, False, 0, 10_000),
             NumberRule("case_size", False, True, 1, 10_000)),
    "stock": (NumberRule("on_hand", True, True, 0, 1e9), NumberRule("in_transit", False, True, 0, 1e9)),
    "sales": (NumberRule("units", True, True, 0, 1e9),),
    "lanes": (NumberRule("cost_per_unit", True, False, 0, 1e5),
              NumberRule("lead_time_days", False, False, 0, 365),
              NumberRule("distance_km", False, False, 0, 20_000),
              NumberRule("capacity", False, False, 0, 1e9)),
}
"""Range of every numeric column the plan reads (inclusive); values outside are refused as
implausible (a wrong unit or a typing error), so no input value can overflow the solver's
integer costs or size an array."""


@dataclass(frozen=True)
class InventoryTables:
    """The allocation inputs after the checks: optional columns filled, outliers capped."""

    stores: pd.DataFrame
    warehouses: pd.DataFrame
    skus: pd.DataFrame
    stock: pd.DataFrame
    sales: pd.DataFrame
    lanes: pd.DataFrame | None
    without_history: list[str]


def prepare_inventory_tables(*, stores: pd.DataFrame, warehouses: pd.DataFrame,
                             skus: pd.DataFrame, stock: pd.DataFrame, sales: pd.DataFrame,
                             lanes: pd.DataFrame | None = None, week: str | None = None,
                             sources: dict[str, str] | None = None) -> InventoryTables:
    """Check the allocation tables, fill documented defaults and cap outliers, with warnings.

    Running it again on its own output changes nothing and warns of nothing new (apart from the
    warnings about the week and the warehouses, which describe the inputs, not a change).

    Parameters
    ----------
    stores, warehouses, skus, stock, sales, lanes
        The tables (columns as in ``docs/data.md``); ``lanes`` is optional.
    week
        The ISO week planned (``"2026-W48"``), to compare with the sales history.
    sources
        Table name to file name, so messages can name the file (defaults to the table name).

    Returns
    -------
    InventoryTables

    Raises
    ------
    InputError
        Listing each problem with file, column, row (row 1 = the first data row) and the fix.

    Examples
    --------
    >>> stores = pd.DataFrame({"store_id": ["S1"], "region": "r", "channel": "own_store"})
    >>> warehouses = pd.DataFrame({"warehouse_id": ["W1"], "region": "r", "lat": 22.5,
    ...                            "lng": 114.0, "daily_throughput": 100,
    ...                            "service_radius_km": 50})
    >>> skus = pd.DataFrame({"sku": ["A"], "unit_cost": 10.0, "margin": 0.2, "volume_l": 1.0,
    ...                      "case_size": 1})
    >>> stock = pd.DataFrame({"location_id": ["S1"], "sku": ["A"], "on_hand": [3],
    ...                       "in_transit": [0]})
    >>> sales = pd.DataFrame({"date": ["2026-01-05"], "store_id": ["S1"], "sku": ["A"],
    ...                       "units": [1]})
    >>> prepare_inventory_tables(stores=stores, warehouses=warehouses, skus=skus, stock=stock,
    ...                          sales=sales).without_history
    []
    """
    names = {name: (sources or {}).get(name, name) for name in TABLES}
    frames = {"stores": stores, "warehouses": warehouses, "skus": skus, "stock": stock,
              "sales": sales, "lanes": lanes}
    problems: list[Problem] = []
    for table, columns in NUMBER_RULES.items():
        frame = frames[table]
        if frame is not None:
            problems += _number_problems(frame, columns, names[table])
    problems += _date_problems(sales, names["sales"])
    if problems:
        raise InputError(problems, "the allocation inputs")
    without_history = check_inventory_tables(stores=stores, warehouses=warehouses, skus=skus,
                                             stock=stock, sales=sales, sources=names)
    stores = _with_defaults(stores, "stores", names["stores"])
    warehouses = _warehouses_with_region(warehouses, stores, names["warehouses"])
    skus = _with_defaults(skus, "skus", names["skus"])
    stock = _with_defaults(stock, "stock", names["stock"])
    if lanes is not None:
        lanes = _lanes_with_defaults(lanes, stores, warehouses, names["lanes"])
    warehouses = _numeric(warehouses, "warehouses")
    sales = _capped_outliers(_numeric(sales, "sales"), names["sales"])
    _warn_no_demand(stores, without_history, names["stores"])
    _warn_no_warehouse_capacity(warehouses, names["warehouses"])
    if week is not None:
        _warn_stale_history(sales, week, names["sales"])
    return InventoryTables(stores=stores, warehouses=warehouses, skus=skus, stock=stock,
                           sales=sales, lanes=lanes, without_history=without_history)


def check_inventory_tables(*, stores: pd.DataFrame, warehouses: pd.DataFrame,
                           skus: pd.DataFrame, stock: pd.DataFrame, sales: pd.DataFrame,
                           sources: dict[str, str] | None = None) -> list[str]:
    """Check the allocation tables against each other; raise one error listing every problem.

    Parameters
    ----------
    stores, warehouses, skus, stock, sales
        The tables (columns as in ``docs/data.md``).
    sources
        Table name to file name, so messages can name the file (defaults to the table name).

    Returns
    -------
    list of str
        Ids of stores without any sales history (not an error: they get a fallback forecast).

    Raises
    ------
    InputError
        Listing each problem with file, column, row (row 1 = the first data row) and the fix.

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
    problems: list[Problem] = []
    store_ids = pd.Index(stores["store_id"].astype(str))
    warehouse_ids = pd.Index(warehouses["warehouse_id"].astype(str))
    location_ids = store_ids.append(warehouse_ids)
    sku_ids = pd.Index(skus["sku"].astype(str))
    for table, column in (("stores", "store_id"), ("warehouses", "warehouse_id"), ("skus", "sku")):
        frame = {"stores": stores, "warehouses": warehouses, "skus": skus}[table]
        _duplicates(problems, frame, [column], sources[table])
    both = np.flatnonzero(warehouse_ids.isin(store_ids))
    if both.size:
        problems.append(problem_at_rows(
            sources["warehouses"], "warehouse_id", both, warehouse_ids[both].to_numpy(),
            f"the id is also a store's id in {sources['stores']}, so stock and lanes cannot "
            "tell them apart", "give every store and warehouse its own id"))
    _unknown(problems, stock, "location_id", location_ids, sources["stock"],
             "a store or warehouse")
    _unknown(problems, stock, "sku", sku_ids, sources["stock"], "a SKU")
    _unknown(problems, sales, "store_id", store_ids, sources["sales"], "a store")
    _unknown(problems, sales, "sku", sku_ids, sources["sales"], "a SKU")
    _duplicates(problems, stock, ["location_id", "sku"], sources["stock"])
    _duplicates(problems, sales, ["date", "store_id", "sku"], sources["sales"])
    for column in ("on_hand", "in_transit"):
        if column in stock:
            values = pd.to_numeric(stock[column], errors="coerce").to_numpy(dtype=float)
            _rows(problems, sources["stock"], column, np.flatnonzero(values < 0), values,
                  "stock is negative", "stock cannot be below 0; correct the count (use 0 if "
                  "unknown)")
    if "units" in sales:
        values = pd.to_numeric(sales["units"], errors="coerce").to_numpy(dtype=float)
        _rows(problems, sources["sales"], "units", np.flatnonzero(values < 0), values,
              "sales are negative", "record returns separately; sales must be >= 0")
    if problems:
        raise InputError(problems, "the allocation inputs")
    with_history = set(sales["store_id"].astype(str))
    return [s for s in store_ids if s not in with_history]


def _number_problems(frame: pd.DataFrame, rules: tuple[NumberRule, ...],
                     source: str) -> list[Problem]:
    problems: list[Problem] = []
    for column, required, whole, minimum, maximum in rules:
        if column not in frame.columns:
            if required:
                problems.append(Problem(source, f"required column `{column}` is missing",
                                        f"add a `{column}` column (see docs/data.md)",
                                        column=column))
            continue
        raw = frame[column]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        text = np.isnan(values) & raw.notna().to_numpy()
        _rows(problems, source, column, np.flatnonzero(text), raw.to_numpy(),
              "value is not a number", "write plain numbers (no units or thousands separators)")
        if required:
            _rows(problems, source, column, np.flatnonzero(raw.isna().to_numpy()), None,
                  "value is missing", "fill in the value or drop the row")
        _rows(problems, source, column, np.flatnonzero(np.isinf(values)), values,
              "value is infinite", "write a finite number")
        finite = np.isfinite(values)
        word = "negative" if minimum == 0 else f"below {minimum:g}"
        _rows(problems, source, column, np.flatnonzero(finite & (values < minimum)), values,
              f"value is {word}", f"`{column}` must be at least {minimum:g}")
        _rows(problems, source, column, np.flatnonzero(finite & (values > maximum)), values,
              f"value is above {maximum:g}, more than any real {column}",
              "check the unit and the digits (see docs/data.md for each column's range)")
        if whole:
            _rows(problems, source, column,
                  np.flatnonzero(finite & (np.floor(values) != values)), values,
                  "value is not a whole number", "units are whole: round to a whole number")
    return problems


def _numeric(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return the checked numeric columns as numbers (text cells read as objects become NaN)."""
    columns = {rule.column: pd.to_numeric(frame[rule.column], errors="coerce")
               for rule in NUMBER_RULES.get(table, ()) if rule.column in frame.columns}
    return frame.assign(**columns) if columns else frame


def _date_problems(sales: pd.DataFrame, source: str) -> list[Problem]:
    if "date" not in sales.columns:
        return [Problem(source, "required column `date` is missing", "add a `date` column "
                        "(YYYY-MM-DD)", column="date")]
    dates = pd.to_datetime(sales["date"], errors="coerce")
    problems: list[Problem] = []
    _rows(problems, source, "date", np.flatnonzero(dates.isna().to_numpy()),
          sales["date"].to_numpy(), "value is not a date", "write dates as YYYY-MM-DD")
    return problems


def with_documented_defaults(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return ``frame`` with its missing optional columns and empty cells set to the defaults.

    The defaults are :data:`OPTIONAL_DEFAULTS`.

    Silent: :func:`prepare_inventory_tables` warns about the same columns when the plan reads
    them; this is for reports made from a plan's raw input tables afterwards.

    Examples
    --------
    >>> with_documented_defaults(pd.DataFrame({"sku": ["A"]}), "skus").columns.tolist()
    ['sku', 'margin', 'volume_l', 'case_size']
    """
    defaults = OPTIONAL_DEFAULTS.get(table, {})
    filled = {c: v if c not in frame else frame[c].where(frame[c].notna(), v)
              for c, v in defaults.items()}
    return frame.assign(**filled) if filled else frame


def _with_defaults(frame: pd.DataFrame, table: str, source: str) -> pd.DataFrame:
    frame = _numeric(frame, table)
    defaults = OPTIONAL_DEFAULTS[table]
    missing = {c: v for c, v in defaults.items() if c not in frame.columns}
    if missing:
        _warn(f"{source}: no {_listing(missing)} column; assumed "
              + ", ".join(f"{c} = {v!r}" for c, v in missing.items())
              + " for every row (the documented defaults, docs/data.md). Add the column to plan "
              "with real values.")
        frame = frame.assign(**missing)
    for column, value in defaults.items():
        if column in missing or column in ("channel",):
            continue  # a store without a channel is reported by _warn_no_demand
        blank = frame[column].isna().to_numpy()
        if blank.any():
            rows = np.flatnonzero(blank)
            more = f" and {rows.size - 1} more rows" if rows.size > 1 else ""
            _warn(f"{source}, column `{column}`, row {rows[0] + 1}{more}: the cell is empty; "
                  f"assumed {value!r} (the documented default, docs/data.md).")
            frame = frame.assign(**{column: frame[column].where(~blank, value)})
    return frame


def _warehouses_with_region(warehouses: pd.DataFrame, stores: pd.DataFrame,
                            source: str) -> pd.DataFrame:
    if "region" in warehouses.columns:
        return warehouses
    w_lat, w_lng = _coordinates(warehouses)
    s_lat, s_lng = _coordinates(stores)
    nearest = np.argmin(haversine_km(w_lat[:, None], w_lng[:, None], s_lat[None, :],
                                     s_lng[None, :]), axis=1)
    _warn(f"{source}: no `region` column; each warehouse takes the region of its nearest store "
          "(docs/data.md). Add the column if warehouses serve other regions.")
    return warehouses.assign(region=stores["region"].astype(str).to_numpy()[nearest])


def _lanes_with_defaults(lanes: pd.DataFrame, stores: pd.DataFrame, warehouses: pd.DataFrame,
                         source: str) -> pd.DataFrame:
    lanes = _with_defaults(lanes, "lanes", source)
    if "distance_km" in lanes.columns:
        return lanes
    s_lat, s_lng = _coordinates(stores)
    w_lat, w_lng = _coordinates(warehouses)
    lat, lng = np.concatenate([s_lat, w_lat]), np.concatenate([s_lng, w_lng])
    index = pd.Index(np.concatenate([stores["store_id"].astype(str),
                                     warehouses["warehouse_id"].astype(str)]))
    origin = index.get_indexer(lanes["origin"].astype(str))
    destination = index.get_indexer(lanes["destination"].astype(str))
    unknown = np.flatnonzero((origin < 0) | (destination < 0))
    if unknown.size:
        problems: list[Problem] = []
        column = "origin" if origin[unknown[0]] < 0 else "destination"
        _rows(problems, source, column, unknown, lanes[column].astype(str).to_numpy(),
              "the id is not a store or warehouse of the master data",
              "add it there or drop the lane")
        raise InputError(problems, "the allocation inputs")
    _warn(f"{source}: no `distance_km` column; each lane's distance is 1.3 x the great-circle "
          "distance between its ends (docs/data.md). Add the column to use road distances.")
    return lanes.assign(distance_km=1.3 * haversine_km(lat[origin], lng[origin],
                                                       lat[destination], lng[destination]))


def _capped_outliers(sales: pd.DataFrame, source: str) -> pd.DataFrame:
    """Cap each sales row above ``OUTLIER_FACTOR`` x its store's usual row, with a warning."""
    if sales.empty:
        return sales
    units = pd.to_numeric(sales["units"], errors="coerce").to_numpy(dtype=np.float64)
    store = sales["store_id"].astype(str)
    rows_per_store = store.map(store.value_counts()).to_numpy()
    chain_usual = max(float(np.nanquantile(units, 0.95)), 1.0)
    store_usual = pd.Series(units).groupby(store.to_numpy()).quantile(0.95)
    usual = np.where(rows_per_store >= OUTLIER_MIN_ROWS,
                     store.map(store_usual).to_numpy(dtype=np.float64), chain_usual)
    cap = np.floor(OUTLIER_FACTOR * np.maximum(usual, 1.0))
    outlier = units > cap
    if not outlier.any():
        return sales
    rows = np.flatnonzero(outlier)
    first = rows[0]
    more = f" and {rows.size - 1} more rows" if rows.size > 1 else ""
    _warn(f"{source}, column `units`, row {first + 1}{more}: {units[first]:,.0f} units is more "
          f"than {OUTLIER_FACTOR:g} times store {store.iloc[first]!r}'s usual sales row "
          f"({usual[first]:,.0f}); capped at {cap[first]:,.0f} for the forecast. Correct the "
          "row if it is a typing error; record bulk orders outside the shelf sales.")
    return sales.assign(units=np.where(outlier, cap, units))


def _warn_no_demand(stores: pd.DataFrame, without_history: list[str], source: str) -> None:
    if not without_history:
        return
    channel = stores.assign(store_id=stores["store_id"].astype(str)).set_index("store_id")[
        "channel"]
    blind = [s for s in without_history if pd.isna(channel.get(s))]
    if blind:
        shown = ", ".join(map(repr, blind[:5])) + (f" and {len(blind) - 5} more"
                                                    if len(blind) > 5 else "")
        _warn(f"{source}, column `channel`: store(s) {shown} have no sales history and no "
              "channel, so they get no demand forecast and receive nothing. Fill in their "
              "channel (own_store, small_store or key_account) to give them the channel "
              "average.")


def _warn_no_warehouse_capacity(warehouses: pd.DataFrame, source: str) -> None:
    if warehouses.empty:
        return
    for column, meaning in (("daily_throughput", "can ship no items"),
                            ("service_radius_km", "reaches no store")):
        values = pd.to_numeric(warehouses[column], errors="coerce").to_numpy(dtype=np.float64)
        if np.all(values <= 0):
            _warn(f"{source}, column `{column}`: every warehouse has 0, so every warehouse "
                  f"{meaning}; the plan can only move stock between stores. Check the column "
                  "(daily items for throughput, km for the radius).")


def _warn_stale_history(sales: pd.DataFrame, week: str, source: str) -> None:
    from .forecast import week_start

    if sales.empty:
        return
    start = week_start(week)
    dates = pd.to_datetime(sales["date"], errors="coerce")
    last, first = dates.max(), dates.min()
    if pd.isna(last):
        return
    if first >= start:
        raise InputError([Problem(
            source, f"every sale is on or after {start.date()}, the start of week {week}: there "
            "is no history to forecast the week from", "plan a week after the sales history, or "
            "give the sales before it", column="date")], "the allocation inputs")
    gap_weeks = (start - last).days / 7
    if gap_weeks >= STALE_HISTORY_WEEKS:
        _warn(f"{source}, column `date`: the last sale is on {last.date()}, {gap_weeks:.0f} "
              f"weeks before week {week}; the forecast repeats that old history. Load recent "
              "sales, or check the week.")


def _coordinates(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if "geometry" in frame.columns:
        geometry = frame.geometry
        return geometry.y.to_numpy(dtype=float), geometry.x.to_numpy(dtype=float)
    if {"lat", "lng"} <= set(frame.columns):
        return frame["lat"].to_numpy(float), frame["lng"].to_numpy(float)
    raise InputError("`stores` and `warehouses` need a point geometry or `lat`/`lng` columns.")


def _listing(columns: dict[str, object]) -> str:
    names = [f"`{c}`" for c in columns]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _warn(message: str) -> None:
    warn_input(message, stacklevel=2)


def _unknown(problems: list[Problem], frame: pd.DataFrame, column: str, known: pd.Index,
             source: str, what: str) -> None:
    values = frame[column].astype(str)
    bad = np.flatnonzero(~values.isin(known).to_numpy())
    _rows(problems, source, column, bad, values.to_numpy(), f"the id is not {what} of the "
          "master data", "add it there or drop the row")


def _duplicates(problems: list[Problem], frame: pd.DataFrame, columns: list[str],
                source: str) -> None:
    bad = np.flatnonzero(frame.duplicated(subset=columns, keep="first").to_numpy())
    if bad.size:
        values = frame[columns].astype(str).agg("/".join, axis=1).to_numpy()
        _rows(problems, source, "+".join(columns), bad, values, "appears more than once",
              "keep one row (sum the quantities if both are real)")


def _rows(problems: list[Problem], source: str, column: str, rows: np.ndarray,
          values: np.ndarray | None, message: str, fix: str) -> None:
    if rows.size == 0:
        return
    shown = None if values is None else np.asarray(values, dtype=object)[rows]
    problems.append(problem_at_rows(source, column, rows, shown, message, fix))
