"""Ship days: no warehouse above its daily throughput when a schedule exists, delivery days kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.allocation.ship_days import daily_loads, schedule_ship_days

MONDAY = pd.Timestamp("2026-01-05")


@pytest.mark.parametrize("seed", range(8))
def test_no_warehouse_exceeds_its_daily_throughput_when_a_schedule_exists(seed: int) -> None:
    rng = np.random.default_rng(seed)
    limit = 60
    stores = [f"S{i}" for i in range(8)]
    accepts = {s: sorted(rng.choice(7, size=rng.integers(1, 4), replace=False).tolist())
               for s in stores}
    room = {(w, d): limit for w in ("W1", "W2") for d in range(7)}
    rows = []
    for _ in range(60):
        warehouse, store = str(rng.choice(["W1", "W2"])), str(rng.choice(stores))
        lead, case = int(rng.integers(1, 3)), int(rng.choice([1, 2, 5]))
        day = int(rng.choice([d for d in range(7) if (d + lead) % 7 in accepts[store]]))
        cases = min(int(rng.integers(1, 6)), room[warehouse, day] // case)
        if cases:
            room[warehouse, day] -= cases * case  # the hidden schedule fits every day
            rows.append({"from": warehouse, "to": store, "sku": f"K{case}",
                         "quantity": cases * case, "cases": cases, "cost": 2.0 * cases * case,
                         "arrival_day": MONDAY + pd.Timedelta(days=lead)})
    rows.append({"from": "S1", "to": "S2", "sku": "K1", "quantity": 3, "cases": 3, "cost": 6.0,
                 "arrival_day": MONDAY + pd.Timedelta(days=1)})
    lines = pd.DataFrame(rows).assign(ship_day=MONDAY)
    warehouses = pd.DataFrame({"warehouse_id": ["W1", "W2"], "daily_throughput": [limit] * 2})
    skus = pd.DataFrame({"sku": ["K1", "K2", "K5"], "case_size": [1, 2, 5]})
    delivery = pd.DataFrame([(s, d) for s, days in accepts.items() for d in days],
                            columns=["store_id", "weekday"])
    assert lines.loc[lines["from"] != "S1"].groupby("from")["quantity"].sum().max() > limit
    out = schedule_ship_days(lines, warehouses=warehouses, skus=skus, delivery_days=delivery)
    loads = daily_loads(out, warehouses)
    assert (loads["units"] <= limit).all()
    assert not out["over_throughput"].any()
    # Every line's units and cost are kept, in whole cases, arriving on a delivery day.
    before = lines.assign(lead=(lines["arrival_day"] - lines["ship_day"]).dt.days)
    after = out.assign(lead=(pd.to_datetime(out["arrival_day"])
                             - pd.to_datetime(out["ship_day"])).dt.days)
    pd.testing.assert_series_equal(
        before.groupby(["from", "to", "sku", "lead"])["quantity"].sum(),
        after.groupby(["from", "to", "sku", "lead"])["quantity"].sum())
    assert after["cost"].sum() == pytest.approx(lines["cost"].sum(), abs=0.05 * len(out))
    case = after["sku"].str[1:].astype(int)
    assert (after["quantity"] % case == 0).all()
    assert (after["cases"] * case == after["quantity"]).all()
    arrival_weekday = pd.to_datetime(after["arrival_day"]).dt.weekday
    for store, weekday in zip(after["to"], arrival_weekday, strict=True):
        assert weekday in accepts[store]
    ship = pd.to_datetime(after["ship_day"])
    assert ship.between(MONDAY, MONDAY + pd.Timedelta(days=6)).all()


def test_transfers_ship_on_the_first_delivery_day_and_lines_ship_early() -> None:
    lines = pd.DataFrame({"from": ["S1", "W1", "W1"], "to": ["S2", "S3", "S3"],
                          "sku": "A", "quantity": [5, 4, 4], "ship_day": MONDAY,
                          "arrival_day": MONDAY + pd.Timedelta(days=1)})
    out = schedule_ship_days(
        lines, warehouses=pd.DataFrame({"warehouse_id": ["W1"], "daily_throughput": [100]}),
        skus=pd.DataFrame({"sku": ["A"], "case_size": [1]}),
        delivery_days=pd.DataFrame({"store_id": ["S2", "S2"], "weekday": ["Thu", "Sat"]}))
    transfer = out[out["from"] == "S1"]
    assert transfer["ship_day"].tolist() == [pd.Timestamp("2026-01-07").date()]  # arrives Thu
    assert (pd.to_datetime(out.loc[out["from"] == "W1", "ship_day"]) == MONDAY).all()


def test_too_few_delivery_days_warn_and_mark_the_lines() -> None:
    lines = pd.DataFrame({"from": "W1", "to": ["S1", "S2"], "sku": "A", "quantity": [30, 30],
                          "ship_day": MONDAY, "arrival_day": MONDAY + pd.Timedelta(days=1)})
    with pytest.warns(UserWarning, match="W1"):
        out = schedule_ship_days(
            lines, warehouses=pd.DataFrame({"warehouse_id": ["W1"], "daily_throughput": [40]}),
            skus=pd.DataFrame({"sku": ["A"], "case_size": [1]}),
            delivery_days=pd.DataFrame({"store_id": ["S1", "S2"], "weekday": [1, 1]}))
    assert out["quantity"].sum() == 60
    assert out["over_throughput"].any()
