"""A tiny hand-made week shared by the planners' tests: one warehouse, three stores, two regions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimizer.allocation.plan import PlanSettings, WeeklyPlan, plan_week

WEEK = "2026-W02"  # ships Monday 2026-01-05; sales end Sunday 2026-01-04 (no projection)


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Stores S1 (north, small store), S2 (north, own store, overstocked), S3 (south, key
    account, empty); warehouse W1 in the north; SKUs K1 (case 4), K2 (case 1) and K3 (case 2,
    held only by the warehouse).
    """
    stores = pd.DataFrame({"store_id": ["S1", "S2", "S3"], "name": ["One", "Two", "Three"],
                           "region": ["north", "north", "south"],
                           "channel": ["small_store", "own_store", "key_account"],
                           "lat": [22.50, 22.52, 22.60], "lng": [114.00, 114.02, 114.10]})
    warehouses = pd.DataFrame({"warehouse_id": ["W1"], "name": ["North DC"], "region": ["north"],
                               "daily_throughput": [40.0], "service_radius_km": [50.0],
                               "lat": [22.51], "lng": [114.01]})
    skus = pd.DataFrame({"sku": ["K1", "K2", "K3"], "category": ["phone", "audio", "audio"],
                         "unit_cost": [1000.0, 200.0, 300.0], "margin": [0.2, 0.3, 0.3],
                         "volume_l": [0.5, 1.0, 1.0], "case_size": [4, 1, 2]})
    days = pd.date_range("2025-10-06", "2026-01-04")  # 13 weeks, Monday .. Sunday
    rate = {("S1", "K1"): 4.0, ("S2", "K1"): 3.0, ("S3", "K1"): 12.0, ("S1", "K2"): 3.0,
            ("S2", "K2"): 0.2, ("S3", "K2"): 4.0, ("S1", "K3"): 2.0, ("S3", "K3"): 3.0}
    rng = np.random.default_rng(5)
    rows = [pd.DataFrame({"date": days, "store_id": s, "sku": k,
                          "units": rng.poisson(r, len(days))}) for (s, k), r in rate.items()]
    sales = pd.concat(rows, ignore_index=True)
    sales = sales[sales["units"] > 0].reset_index(drop=True)
    stock = pd.DataFrame({"location_id": ["W1", "W1", "W1", "S1", "S1", "S1", "S2", "S2", "S3",
                                          "S3", "S3"],
                          "sku": ["K1", "K2", "K3", "K1", "K2", "K3", "K1", "K2", "K1", "K2", "K3"],
                          "on_hand": [200, 150, 80, 5, 2, 1, 120, 60, 0, 0, 0],
                          "in_transit": 0})
    lanes = pd.DataFrame({
        "origin": ["W1", "W1", "W1", "S2", "S2", "S1"],
        "destination": ["S1", "S2", "S3", "S3", "S1", "S3"],
        "distance_km": [3.0, 3.0, 30.0, 20.0, 4.0, 20.0],
        "cost_per_unit": [1.0, 1.0, 2.0, 1.5, 1.0, 1.5],
        "lead_time_days": [1.0, 1.5, 2.5, 1.0, 1.0, 1.0]})
    return {"stores": stores, "warehouses": warehouses, "skus": skus, "sales": sales,
            "stock": stock, "lanes": lanes}


def tiny_plan(**settings: object) -> tuple[dict[str, pd.DataFrame], WeeklyPlan]:
    """The tables and their planned week (no truck costs: the solve is exact)."""
    from optimizer.allocation.lanes import LaneCosts

    tables = tiny_tables()
    options = {"lane_costs": LaneCosts(truck_fixed=0.0, truck_per_km=0.0), "time_limit": 20.0,
               **settings}
    plan = plan_week(**tables, week=WEEK, settings=PlanSettings(**options))
    return tables, plan
