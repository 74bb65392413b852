"""Slow movers, overstock, stockout risk, regional product mix and returns to the warehouse.

All figures come from a plan (its stock, forecast and moves) and the sales history:

* **weeks of cover**: stock over the forecast mean per week (``inf`` where nothing is forecast);
* **days since last sale**: from the last sales day of the history (``NaN``: never sold);
* **fast / slow movers** per region: SKUs ranked by units sold in the last ``recent_weeks``
  weeks (slow: the fewest among SKUs the region holds, then the most stock);
* **stockout risk**: store-SKUs expected at least ``min_units`` short after the plan, ordered by
  margin lost;
* **regional mix**: share of units per category in each region against the chain's share;
* **returns**: slow stock above what a store keeps, sent back to its home warehouse where the
  ageing it avoids pays the trip (see :func:`suggested_returns`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cards import home_warehouses, store_sku_card
from .plan import WeeklyPlan


def cover_table(plan: WeeklyPlan, *, sales: pd.DataFrame, stores: pd.DataFrame,
                skus: pd.DataFrame, recent_weeks: int = 13) -> pd.DataFrame:
    """Return one row per store and SKU: stock, weeks of cover, recent sales, last sale.

    Parameters
    ----------
    plan
        The plan (stock at the ship day and after it, forecast).
    sales
        ``date``, ``store_id``, ``sku``, ``units``.
    stores
        ``store_id``, ``region``.
    skus
        ``sku`` and optionally ``category``.
    recent_weeks
        Weeks of sales counted as recent (``units_recent``), ending on the last sales day.

    Returns
    -------
    pandas.DataFrame
        ``store_id``, ``region``, ``sku``, ``category``, ``stock``, ``stock_after``,
        ``demand_week``, ``weeks_of_cover``, ``weeks_of_cover_after``, ``units_recent``,
        ``last_sale``, ``days_since_last_sale``.
    """
    card = store_sku_card(plan)[["store_id", "sku", "stock_before", "stock_after",
                                 "demand_week"]].rename(columns={"stock_before": "stock"})
    dates = pd.to_datetime(sales["date"])
    before = plan.ship_day if plan.ship_day is not None else dates.max() + pd.Timedelta(days=1)
    past = (dates < before).to_numpy()
    history = pd.DataFrame({"store_id": sales["store_id"].astype(str).to_numpy()[past],
                            "sku": sales["sku"].astype(str).to_numpy()[past],
                            "date": dates.to_numpy()[past],
                            "units": sales["units"].to_numpy(dtype=float)[past]})
    last_day = history["date"].max()
    sold = history[history["units"] > 0]
    last_sale = sold.groupby(["store_id", "sku"])["date"].max().rename("last_sale")
    recent = sold[sold["date"] > last_day - pd.Timedelta(days=7 * recent_weeks)]
    units_recent = recent.groupby(["store_id", "sku"])["units"].sum().rename("units_recent")
    table = card.merge(last_sale.reset_index(), on=["store_id", "sku"], how="left").merge(
        units_recent.reset_index(), on=["store_id", "sku"], how="left")
    table["units_recent"] = table["units_recent"].fillna(0.0)
    table["days_since_last_sale"] = (last_day - table["last_sale"]).dt.days.astype(float)
    table["weeks_of_cover"] = _weeks(table["stock"], table["demand_week"])
    table["weeks_of_cover_after"] = _weeks(table["stock_after"], table["demand_week"])
    region = stores.assign(store_id=stores["store_id"].astype(str)).set_index("store_id")[
        "region"].astype(str)
    table.insert(1, "region", table["store_id"].map(region).to_numpy())
    category = (skus.assign(sku=skus["sku"].astype(str)).set_index("sku")["category"]
                if "category" in skus.columns else pd.Series(dtype=str))
    table.insert(3, "category", table["sku"].map(category).to_numpy())
    return table[["store_id", "region", "sku", "category", "stock", "stock_after",
                  "demand_week", "weeks_of_cover", "weeks_of_cover_after", "units_recent",
                  "last_sale", "days_since_last_sale"]]


def region_sku_table(cover: pd.DataFrame, *, overstock_weeks: float = 26.0,
                     stale_days: float = 91.0) -> pd.DataFrame:
    """Sum the cover table per region and SKU, with overstocked and stale store counts.

    Columns: stock, weekly demand, weeks of cover, recent units, days since the last sale (the
    most recent of its stores), stores overstocked and stores with stale stock.

    ``stores_overstocked`` counts store-SKUs with more than ``overstock_weeks`` weeks of cover,
    ``stores_stale`` those holding stock without a sale in ``stale_days`` days (or ever).

    Examples
    --------
    >>> cover = pd.DataFrame({"region": "r", "sku": "A", "stock": [30.0, 5.0],
    ...                       "demand_week": [1.0, 0.0], "units_recent": [13.0, 0.0],
    ...                       "days_since_last_sale": [3.0, np.nan]})
    >>> row = region_sku_table(cover).iloc[0]
    >>> float(row["weeks_of_cover"]), int(row["stores_overstocked"]), int(row["stores_stale"])
    (35.0, 2, 1)
    """
    stale = (cover["stock"] > 0) & ~(cover["days_since_last_sale"] <= stale_days)
    over = _weeks(cover["stock"], cover["demand_week"]) > overstock_weeks
    table = cover.assign(over=over, stale=stale).groupby(["region", "sku"], as_index=False).agg(
        stock=("stock", "sum"), demand_week=("demand_week", "sum"),
        units_recent=("units_recent", "sum"),
        days_since_last_sale=("days_since_last_sale", "min"),
        stores_overstocked=("over", "sum"), stores_stale=("stale", "sum"))
    table.insert(4, "weeks_of_cover", _weeks(table["stock"], table["demand_week"]))
    table[["stores_overstocked", "stores_stale"]] = table[
        ["stores_overstocked", "stores_stale"]].astype(np.int64)
    return table


def movers(cover: pd.DataFrame, *, n: int = 10) -> pd.DataFrame:
    """Return the ``n`` fastest and ``n`` slowest SKUs of every region by recent units sold.

    Slow movers are taken among the SKUs the region holds stock of; ties go to the larger stock.

    Returns
    -------
    pandas.DataFrame
        ``region``, ``kind`` (``fast`` or ``slow``), ``rank`` (1 = fastest / slowest), ``sku``,
        ``units_recent``, ``stock``, ``weeks_of_cover``.

    Examples
    --------
    >>> cover = pd.DataFrame({"region": "r", "sku": ["A", "B", "C"], "stock": [5.0, 9.0, 1.0],
    ...                       "demand_week": 1.0, "units_recent": [30.0, 1.0, 8.0],
    ...                       "days_since_last_sale": 1.0})
    >>> movers(cover, n=1)[["kind", "sku"]].values.tolist()
    [['fast', 'A'], ['slow', 'B']]
    """
    table = region_sku_table(cover)
    fast = table.sort_values(["region", "units_recent", "sku"], ascending=[True, False, True])
    fast = fast.groupby("region").head(n).assign(kind="fast")
    held = table[table["stock"] > 0]
    slow = held.sort_values(["region", "units_recent", "stock", "sku"],
                            ascending=[True, True, False, True])
    slow = slow.groupby("region").head(n).assign(kind="slow")
    out = pd.concat([fast, slow], ignore_index=True)
    out["rank"] = out.groupby(["region", "kind"]).cumcount() + 1
    return out[["region", "kind", "rank", "sku", "units_recent", "stock",
                "weeks_of_cover"]].reset_index(drop=True)


def stockout_risk(plan: WeeklyPlan, *, stores: pd.DataFrame,
                  min_units: float = 0.5) -> pd.DataFrame:
    """List store-SKUs expected at least ``min_units`` short after the plan, by margin lost.

    The margin per unit is the plan's (a share of the price converted to CNY per unit).

    Returns
    -------
    pandas.DataFrame
        ``store_id``, ``region``, ``sku``, ``stock_after``, ``demand_horizon``,
        ``expected_stockout_before``, ``expected_stockout_after``, ``stockout_share``
        (expected units short over the demand), ``lost_margin``.
    """
    p = plan.problem
    card = store_sku_card(plan)
    margin = pd.Series(p.sku_margin, index=p.sku_ids)
    card["lost_margin"] = card["expected_stockout_after"] * card["sku"].map(margin).to_numpy()
    card["stockout_share"] = np.where(card["demand_horizon"] > 0,
                                      card["expected_stockout_after"]
                                      / np.maximum(card["demand_horizon"], 1e-12), 0.0)
    region = stores.assign(store_id=stores["store_id"].astype(str)).set_index("store_id")[
        "region"]
    card["region"] = card["store_id"].map(region).to_numpy()
    risky = card[card["expected_stockout_after"] >= min_units].sort_values(
        ["lost_margin", "store_id", "sku"], ascending=[False, True, True])
    return risky[["store_id", "region", "sku", "stock_after", "demand_horizon",
                  "expected_stockout_before", "expected_stockout_after", "stockout_share",
                  "lost_margin"]].reset_index(drop=True)


def regional_mix(sales: pd.DataFrame, *, stores: pd.DataFrame, skus: pd.DataFrame,
                 weeks: int | None = 13) -> pd.DataFrame:
    """Return the share of units per category in each region, against the chain's share.

    Parameters
    ----------
    sales
        ``date``, ``store_id``, ``sku``, ``units``.
    stores
        ``store_id``, ``region``.
    skus
        ``sku``, ``category``.
    weeks
        Use the last this many weeks of sales (``None``: all).

    Returns
    -------
    pandas.DataFrame
        ``region``, ``category``, ``units``, ``share`` (of the region's units),
        ``chain_share``, ``index`` (share over chain share; above 1 the region buys more of it).

    Examples
    --------
    >>> sales = pd.DataFrame({"date": "2026-01-05", "store_id": ["S1", "S1", "S2"],
    ...                       "sku": ["A", "B", "A"], "units": [3, 1, 4]})
    >>> stores = pd.DataFrame({"store_id": ["S1", "S2"], "region": ["r1", "r2"]})
    >>> skus = pd.DataFrame({"sku": ["A", "B"], "category": ["tv", "audio"]})
    >>> regional_mix(sales, stores=stores, skus=skus)["share"].tolist()
    [0.25, 0.75, 1.0]
    """
    dates = pd.to_datetime(sales["date"])
    keep = np.ones(len(sales), bool) if weeks is None else (
        dates > dates.max() - pd.Timedelta(days=7 * weeks)).to_numpy()
    region = stores.assign(store_id=stores["store_id"].astype(str)).set_index("store_id")[
        "region"]
    category = skus.assign(sku=skus["sku"].astype(str)).set_index("sku")["category"]
    frame = pd.DataFrame({
        "region": sales["store_id"].astype(str).map(region).to_numpy()[keep],
        "category": sales["sku"].astype(str).map(category).to_numpy()[keep],
        "units": sales["units"].to_numpy(dtype=float)[keep]})
    table = frame.groupby(["region", "category"], as_index=False)["units"].sum()
    table["share"] = table["units"] / table.groupby("region")["units"].transform("sum")
    chain = frame.groupby("category")["units"].sum()
    table["chain_share"] = table["category"].map(chain / chain.sum()).to_numpy()
    table["index"] = table["share"] / table["chain_share"]
    return table


def suggested_returns(plan: WeeklyPlan, *, cover: pd.DataFrame, skus: pd.DataFrame,
                      keep_weeks: float = 8.0, slow_weeks: float = 26.0,
                      stale_days: float = 91.0, ageing_per_week: float = 0.005,
                      horizon_weeks: float = 52.0) -> pd.DataFrame:
    """Suggest returns of slow stock from stores to their home warehouse, where they pay.

    The rule. A store-SKU is slow when its stock after the plan covers more than
    ``slow_weeks`` weeks or it has stock and no sale in ``stale_days`` days. It keeps
    ``max(order-up-to level, keep_weeks x weekly demand)`` and the rest may go back. A unit
    left in the store waits its weeks of cover there (at most ``horizon_weeks``); sent back it
    waits the chain's weeks of cover of that SKU instead (all stock over all demand). Electronics
    lose ``ageing_per_week`` of their unit cost per week waiting (markdown, obsolescence), so a
    returned unit saves ``unit_cost x ageing_per_week x (weeks in store - weeks in chain)``. It
    costs the cost per unit of the warehouse's lane to the store, taken for the way back. Units
    are suggested where the saving exceeds the cost.

    Parameters
    ----------
    plan
        The plan.
    cover
        :func:`cover_table` of the plan.
    skus
        ``sku``, ``unit_cost``.
    keep_weeks, slow_weeks, stale_days, ageing_per_week, horizon_weeks
        The rule's parameters (above).

    Returns
    -------
    pandas.DataFrame
        ``store_id``, ``warehouse_id``, ``sku``, ``quantity``, ``weeks_of_cover``,
        ``chain_weeks_of_cover``, ``saving_per_unit``, ``cost_per_unit``, ``net_saving``,
        most net saving first.
    """
    p = plan.problem
    card = store_sku_card(plan)[["store_id", "sku", "order_up_to"]]
    table = cover.merge(card, on=["store_id", "sku"], how="left")
    chain = table.groupby("sku")[["stock_after", "demand_week"]].sum()
    warehouse_stock = pd.Series(np.bincount(
        p.position_sku[p.is_warehouse[p.position_location]],
        weights=plan.result.stock_after[p.is_warehouse[p.position_location]],
        minlength=len(p.sku_ids)), index=p.sku_ids)
    chain_weeks = np.minimum(_weeks(chain["stock_after"] + warehouse_stock.reindex(
        chain.index).fillna(0), chain["demand_week"]), horizon_weeks)
    table["chain_weeks_of_cover"] = table["sku"].map(
        pd.Series(chain_weeks, index=chain.index)).to_numpy()
    stale = (table["stock_after"] > 0) & ~(table["days_since_last_sale"] <= stale_days)
    slow = (table["weeks_of_cover_after"] > slow_weeks) | stale
    keep = np.maximum(table["order_up_to"].fillna(0),
                      np.ceil(keep_weeks * table["demand_week"]))
    table["quantity"] = np.where(slow, np.maximum(table["stock_after"] - keep, 0), 0)
    store_weeks = np.minimum(table["weeks_of_cover_after"], horizon_weeks)
    unit_cost = skus.assign(sku=skus["sku"].astype(str)).set_index("sku")["unit_cost"]
    table["saving_per_unit"] = (table["sku"].map(unit_cost).to_numpy(dtype=float)
                                * ageing_per_week
                                * np.maximum(store_weeks - table["chain_weeks_of_cover"], 0))
    home = home_warehouses(p)
    location = pd.Index(p.location_ids)
    store_index = location.get_indexer(table["store_id"])
    table["warehouse_id"] = np.where(home[store_index] >= 0,
                                     p.location_ids[np.maximum(home[store_index], 0)], None)
    lane = pd.Series(p.lane_unit_cost, index=pd.MultiIndex.from_arrays(
        [p.location_ids[p.lane_from], p.location_ids[p.lane_to]]))
    lane = lane[~lane.index.duplicated()]
    table["cost_per_unit"] = lane.reindex(pd.MultiIndex.from_arrays(
        [table["warehouse_id"], table["store_id"]])).to_numpy()
    table["net_saving"] = table["quantity"] * (table["saving_per_unit"] - table["cost_per_unit"])
    pays = ((table["quantity"] > 0) & table["warehouse_id"].notna()
            & (table["saving_per_unit"] > table["cost_per_unit"]))
    out = table.loc[pays, ["store_id", "warehouse_id", "sku", "quantity", "weeks_of_cover_after",
                           "chain_weeks_of_cover", "saving_per_unit", "cost_per_unit",
                           "net_saving"]].rename(columns={"weeks_of_cover_after":
                                                          "weeks_of_cover"})
    out["quantity"] = out["quantity"].astype(np.int64)
    return out.sort_values(["net_saving", "store_id", "sku"],
                           ascending=[False, True, True]).reset_index(drop=True)


def _weeks(stock: pd.Series | np.ndarray, weekly: pd.Series | np.ndarray) -> np.ndarray:
    stock, weekly = np.asarray(stock, float), np.asarray(weekly, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(weekly > 0, stock / np.where(weekly > 0, weekly, 1.0),
                        np.where(stock > 0, np.inf, 0.0))
