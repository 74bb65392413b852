"""The transfer MIP: invariants of the plan, decomposition against the monolithic MIP, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.allocation.flows import lane_volumes
from optimizer.allocation.inputs import check_inventory_tables
from optimizer.allocation.lanes import LaneCosts, haversine_km, lanes_from_locations
from optimizer.allocation.model import AllocationProblem, build_network, problem_from_frames
from optimizer.allocation.solve import solve_allocation
from optimizer.errors import InputError


def synthetic_problem(*, n_stores: int = 20, n_skus: int = 4, n_warehouses: int = 2,
                      seed: int = 0, throughput: float = np.inf, share: float | None = None,
                      min_lot: int = 1, cases: bool = True, truck_fixed: float = 150.0,
                      truck_capacity: float = 2_000.0, structure: str = "dedicated",
                      visit_cap_litres: float | None = None) -> AllocationProblem:
    """Return a small seeded region: imbalanced store stock, warehouses with stock, two regions.

    ``structure="realistic"`` prices warehouse lanes as scheduled routes (optionally capped per
    visit) and store lanes as parcels, and picks the small SKUs by the unit (the bulky ones by
    the case); ``"dedicated"`` is a truck per lane and whole cases everywhere.
    """
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:03d}" for i in range(n_stores)] + [f"W{i}" for i in range(n_warehouses)])
    lat = 22.5 + rng.uniform(0, 0.4, len(ids))
    lng = 113.8 + rng.uniform(0, 0.4, len(ids))
    is_warehouse = np.r_[np.zeros(n_stores, bool), np.ones(n_warehouses, bool)]
    locations = pd.DataFrame({
        "location_id": ids, "lat": lat, "lng": lng, "is_warehouse": is_warehouse,
        "service_radius_km": np.where(is_warehouse, 60.0, 0.0),
        "region": np.where(lng < 114.0, "west", "east"),
        "weekly_throughput": np.where(is_warehouse, throughput, np.inf)})
    skus = pd.DataFrame({"sku": [f"K{k}" for k in range(n_skus)],
                         "margin": rng.uniform(20, 400, n_skus),
                         "volume": rng.uniform(0.5, 30, n_skus),
                         "case_size": rng.choice([4, 6, 10], n_skus) if cases else 1})
    if structure == "realistic":
        skus["pick_unit"] = np.where(skus["volume"] >= 20, "case", "unit")
    mean = np.outer(rng.lognormal(0, 0.6, n_stores), rng.lognormal(0.5, 1.0, n_skus))
    variance = mean * rng.uniform(1.0, 2.5, mean.shape)
    stock = rng.poisson(mean * rng.choice([0.0, 0.5, 1.5, 3.0], mean.shape))
    stores = pd.DataFrame({"location_id": np.repeat(ids[:n_stores], n_skus),
                           "sku": np.tile(skus["sku"], n_stores), "stock": stock.ravel(),
                           "reserve": np.ceil(mean + np.sqrt(variance)).ravel(),
                           "demand_mean": mean.ravel(), "demand_variance": variance.ravel()})
    warehouses = pd.DataFrame({"location_id": np.repeat(ids[n_stores:], n_skus),
                               "sku": np.tile(skus["sku"], n_warehouses),
                               "stock": rng.poisson(np.tile(mean.sum(0) * 0.3, n_warehouses)),
                               "reserve": 2, "demand_mean": 0.0, "demand_variance": 0.0})
    modes = ({"warehouse_mode": "scheduled", "transfer_mode": "parcel",
              "visit_cap_litres": visit_cap_litres} if structure == "realistic"
             else {"warehouse_mode": "dedicated", "transfer_mode": "truck"})
    lanes = lanes_from_locations(locations, costs=LaneCosts(max_transfer_km=30.0,
                                                            truck_fixed=truck_fixed,
                                                            truck_per_km=4.0 if truck_fixed else 0,
                                                            **modes))
    return problem_from_frames(pd.concat([stores, warehouses], ignore_index=True), locations,
                               skus, lanes, truck_capacity=truck_capacity,
                               min_transfer_units=min_lot, max_cross_region_share=share)


def assert_plan_invariants(problem: AllocationProblem, result) -> None:
    p = problem
    s = result.shipments
    assert (s["quantity"] > 0).all()
    assert np.issubdtype(s["quantity"].dtype, np.integer)
    key = pd.MultiIndex.from_arrays([pd.Index(p.location_ids).get_indexer(s["from_id"]),
                                     pd.Index(p.sku_ids).get_indexer(s["sku"])])
    pos_key = pd.MultiIndex.from_arrays([p.position_location, p.position_sku])
    sender = pos_key.get_indexer(key)
    assert (sender >= 0).all()
    sent = np.bincount(sender, weights=s["quantity"], minlength=len(p.stock))
    # No location ships more than it holds above its reserve (safety stock).
    assert np.all(sent <= p.stock - p.reserve)
    # Flows balance: every SKU's total stock is unchanged, and nothing goes negative.
    assert np.array_equal(np.bincount(p.position_sku, weights=result.stock_after),
                          np.bincount(p.position_sku, weights=p.stock))
    assert np.all(result.stock_after >= p.reserve)
    # Lanes exist; warehouse shipments are whole cases.
    lane = s["lane"].to_numpy()
    assert np.array_equal(p.location_ids[p.lane_from[lane]], s["from_id"].to_numpy())
    from_warehouse = p.is_warehouse[p.lane_from[lane]]
    sku = pd.Index(p.sku_ids).get_indexer(s["sku"])
    case = p.sku_case_size[sku]
    assert np.all(s["quantity"].to_numpy()[from_warehouse] % case[from_warehouse] == 0)
    # Whole master cases where the SKU is picked by the case; the pick unit is 1 otherwise.
    assert p.sku_pick_unit is not None
    assert np.all((p.sku_case_size == 1) | (p.sku_pick_unit == "case"))
    # Minimum lot on store transfers.
    assert np.all(s["quantity"].to_numpy()[~from_warehouse] >= p.min_transfer_units)
    # Warehouse throughput.
    out = np.bincount(p.lane_from[lane], weights=s["quantity"], minlength=len(p.location_ids))
    assert np.all(out <= p.weekly_throughput + 1e-9)
    # Cross-region share.
    if p.max_cross_region_share is not None and len(s):
        cross = s["quantity"].to_numpy()[p.lane_is_cross_region[lane]].sum()
        assert cross <= p.max_cross_region_share * s["quantity"].sum() + 1e-9
    # Trucks and parcels: the reported count carries every lane's volume, each load at most
    # its lane's litres (a truck, or a parcel's size limit); scheduled routes add no loads.
    litres = np.bincount(lane, weights=s["quantity"].to_numpy() * p.sku_volume[sku],
                         minlength=len(p.lane_from))
    loads = np.where(p.lane_shipment_cost > 0, np.ceil(litres / p.lane_litres_per_load - 1e-9), 0)
    assert np.all((loads * p.lane_litres_per_load >= litres - 1e-6) | (p.lane_shipment_cost == 0))
    parcel = p.lane_modes == "parcel"
    assert result.costs["trucks"] == loads[~parcel].sum()
    assert result.costs["parcels"] == loads[parcel].sum()
    assert result.costs["shipment_cost"] == pytest.approx(
        float((loads * p.lane_shipment_cost).sum()))
    scheduled = p.lane_modes == "scheduled"
    assert np.all(p.lane_shipment_cost[scheduled] == 0)
    # Routes' volume per visit times visits holds on every lane.
    assert np.all(litres <= p.lane_litre_cap + 1e-6)
    # Modes: routes and dedicated trucks leave warehouses, parcels and trucks leave stores.
    assert np.array_equal(np.isin(p.lane_modes, ("scheduled", "dedicated")), p.lane_from_warehouse)
    # Unit costs: the lane's cost per unit plus its cost per litre times the SKU's volume.
    assert np.allclose(s["unit_cost"].to_numpy(), p.lane_unit_cost[lane]
                       + p.lane_litre_cost[lane] * p.sku_volume[sku])


def assert_ran_with(result, workers: int) -> None:
    """Return the solve took the path asked for: plans in a second process only with 2 workers (on
    platforms that can fork).
    """
    from optimizer.allocation.worker import fork_available

    assert ("second process" in result.report.message) == (workers > 1 and fork_available())


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("settings", [
    {}, {"throughput": 40.0}, {"share": 0.1, "min_lot": 3}, {"throughput": 25.0, "share": 0.0},
])
def test_decomposition_plan_meets_every_constraint(settings: dict, workers: int) -> None:
    problem = synthetic_problem(seed=3, **settings)
    result = solve_allocation(problem, workers=workers)
    assert_ran_with(result, workers)
    assert result.report.has_solution
    assert len(result.shipments) > 0
    assert_plan_invariants(problem, result)
    assert result.report.bound <= result.report.objective + 1e-6


def test_pure_flow_decomposition_is_the_mip_optimum() -> None:
    # No truck costs, no cases, nothing coupling the SKUs: the per-SKU flows are exact.
    problem = synthetic_problem(seed=5, cases=False, truck_fixed=0.0)
    decomposed = solve_allocation(problem)
    monolithic = solve_allocation(problem, method="monolithic", mip_gap=1e-7, time_limit=60)
    assert decomposed.report.status == "optimal"
    assert monolithic.report.status == "optimal"
    assert decomposed.report.objective == pytest.approx(monolithic.report.objective, rel=1e-6)
    assert decomposed.costs["objective"] == pytest.approx(monolithic.costs["objective"],
                                                          rel=1e-6)


def test_monolithic_mip_runs_after_another_highs_model_in_the_same_process() -> None:
    """HiGHS keeps one thread pool per process: a site-selection MIP solved first must not make
    the monolithic allocation model refuse to run.
    """
    import scipy.sparse as sp

    from optimizer.solvers import MipProblem, solve_mip

    knapsack = MipProblem(objective=np.array([3.0, 2.0]), matrix=sp.csr_array([[2.0, 1.0]]),
                          row_lower=np.array([-np.inf]), row_upper=np.array([2.0]),
                          col_lower=np.zeros(2), col_upper=np.ones(2),
                          integer=np.ones(2, dtype=bool), sense="max")
    assert solve_mip(knapsack, "highs").report.objective == pytest.approx(3.0)
    result = solve_allocation(synthetic_problem(n_stores=6, n_skus=2, seed=1),
                              method="monolithic", mip_gap=1e-7, time_limit=60)
    assert result.report.status == "optimal"


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("seed", [1, 3])
def test_bound_is_below_the_mip_optimum_and_plan_above(seed: int, workers: int) -> None:
    problem = synthetic_problem(n_stores=12, n_skus=3, seed=seed, throughput=60.0, share=0.3,
                                min_lot=2)
    monolithic = solve_allocation(problem, method="monolithic", mip_gap=1e-7, time_limit=60)
    assert monolithic.report.status == "optimal"
    assert_plan_invariants(problem, monolithic)
    decomposed = solve_allocation(problem, workers=workers)
    assert_ran_with(decomposed, workers)
    optimum = monolithic.report.objective
    assert decomposed.report.bound <= optimum + 1e-6
    assert decomposed.report.objective >= optimum - 1e-6
    assert decomposed.costs["objective"] == pytest.approx(decomposed.report.objective)
    gap = decomposed.report.gap
    assert (decomposed.report.objective - decomposed.report.bound) == pytest.approx(
        gap * decomposed.report.objective)
    assert decomposed.report.status == ("optimal" if gap <= 0.01 else "feasible")


@pytest.mark.parametrize("workers", [1, 2])
def test_decomposition_reports_progress_that_ends_at_its_result(workers: int) -> None:
    from optimizer.solvers import solve_progress

    problem = synthetic_problem(seed=2, throughput=40.0)
    seen = []
    with solve_progress(seen.append):
        result = solve_allocation(problem, mip_gap=1e-9, dual_iterations=120, workers=workers)
    plans = [snap for snap in seen if snap.objective is not None]
    assert seen[0].objective is None and seen[0].bound is not None
    assert plans, "the first plan is reported"
    # Snapshots are in time order, plans only improve, bounds only rise, and every snapshot
    # is a bracket of the final result: no reported plan beats it, no bound exceeds its bound.
    assert [snap.seconds for snap in seen] == sorted(snap.seconds for snap in seen)
    objectives = [snap.objective for snap in plans]
    assert objectives == sorted(objectives, reverse=True)
    bounds = [snap.bound for snap in seen]
    assert bounds == sorted(bounds)
    assert objectives[-1] == pytest.approx(result.report.objective)
    assert max(bounds) <= result.report.bound + 1e-6
    assert all(snap.gap == pytest.approx((snap.objective - snap.bound) / snap.objective)
               for snap in plans)


def test_plan_cuts_expected_shortage_against_doing_nothing() -> None:
    problem = synthetic_problem(seed=4)
    result = solve_allocation(problem)
    network = build_network(problem)
    nothing = np.zeros(len(network.arc_cost), dtype=np.int64)
    from optimizer.allocation.flows import plan_cost

    do_nothing = plan_cost(problem, network, nothing)
    assert do_nothing["unit_cost"] == 0 and lane_volumes(problem, network, nothing).sum() == 0
    assert result.costs["objective"] < do_nothing["objective"]
    assert result.costs["shortage_cost"] < do_nothing["shortage_cost"]


def test_haversine_and_lanes_respect_radius() -> None:
    # Shenzhen to Guangzhou, about 104 km great-circle.
    assert float(haversine_km(22.5431, 114.0579, 23.1291, 113.2644)) == pytest.approx(104, abs=2)
    locations = pd.DataFrame({"location_id": ["W", "S1", "S2", "S3"],
                              "lat": [22.5, 22.55, 22.7, 23.5], "lng": [114.0] * 4,
                              "is_warehouse": [True, False, False, False],
                              "service_radius_km": [20.0, 0, 0, 0]})
    lanes = lanes_from_locations(locations, costs=LaneCosts(max_transfer_km=40.0))
    pairs = set(zip(lanes["from_id"], lanes["to_id"], strict=True))
    assert pairs == {("W", "S1"), ("S1", "S2"), ("S2", "S1")}
    assert np.allclose(lanes["distance_km"], 1.3 * haversine_km(
        locations.set_index("location_id").loc[lanes["from_id"], "lat"].to_numpy(), 114.0,
        locations.set_index("location_id").loc[lanes["to_id"], "lat"].to_numpy(), 114.0))


def test_problem_errors_name_row_and_value() -> None:
    locations = pd.DataFrame({"location_id": ["S1"], "region": "r", "is_warehouse": False,
                              "weekly_throughput": np.inf})
    skus = pd.DataFrame({"sku": ["A"], "margin": [1.0], "volume": [1.0], "case_size": [1]})
    lanes = pd.DataFrame({"from_id": [], "to_id": [], "unit_cost": [], "shipment_cost": [],
                          "lead_time_days": []})
    positions = pd.DataFrame({"location_id": ["S1", "S9"], "sku": "A", "stock": [1, 2],
                              "reserve": 0, "demand_mean": 1.0, "demand_variance": 1.0})
    # Rows counted as in the file checks: row 1 is the first row.
    with pytest.raises(InputError, match=r"positions, column `location_id`, row 2: not a known "
                                         r"id \(value 'S9'\)"):
        problem_from_frames(positions, locations, skus, lanes, truck_capacity=10)
    positions = pd.DataFrame({"location_id": ["S1"], "sku": "A", "stock": [-2], "reserve": 0,
                              "demand_mean": 1.0, "demand_variance": 1.0})
    with pytest.raises(InputError, match=r"positions, column `stock`, row 1: not a whole number "
                                         r"of units >= 0 \(value -2\)"):
        problem_from_frames(positions, locations, skus, lanes, truck_capacity=10)
    positions = pd.DataFrame({"location_id": ["S1", "S1"], "sku": "A", "stock": [1, 2],
                              "reserve": 0, "demand_mean": 1.0, "demand_variance": 1.0})
    with pytest.raises(InputError, match=r"positions, column `sku`, row 2: location 'S1' and "
                                         r"SKU 'A' appear twice"):
        problem_from_frames(positions, locations, skus, lanes, truck_capacity=10)


def test_cross_table_checks_list_every_problem() -> None:
    stores = pd.DataFrame({"store_id": ["S1", "S2", "S3"]})
    warehouses = pd.DataFrame({"warehouse_id": ["W1"]})
    skus = pd.DataFrame({"sku": ["A", "B"]})
    stock = pd.DataFrame({"location_id": ["S1", "S1", "S7", "W1"], "sku": ["A", "A", "A", "Z"],
                          "on_hand": [1, 2, 3, -4], "in_transit": 0})
    sales = pd.DataFrame({"date": ["2026-01-05"] * 2, "store_id": ["S1", "S2"], "sku": ["A", "B"],
                          "units": [1, 2]})
    with pytest.raises(InputError) as caught:
        check_inventory_tables(stores=stores, warehouses=warehouses, skus=skus, stock=stock,
                               sales=sales, sources={"stock": "stock.csv"})
    message = str(caught.value)
    # Rows count from 1 (the first data row), as in the file checks.
    assert "stock.csv, column `location_id`, row 3: the id is not a store or warehouse" in message
    assert "(value 'S7')" in message
    assert "stock.csv, column `sku`, row 4: the id is not a SKU of the master data (value 'Z')" \
        in message
    assert "stock.csv, column `location_id+sku`, row 2: appears more than once (value 'S1/A')" \
        in message
    assert "stock.csv, column `on_hand`, row 4: stock is negative (value -4)" in message
    ok_stock = stock.iloc[[0]]
    assert check_inventory_tables(stores=stores, warehouses=warehouses, skus=skus,
                                  stock=ok_stock, sales=sales) == ["S3"]


@pytest.mark.parametrize("seed", range(4))
def test_lane_dual_is_a_lower_bound_at_any_prices(seed: int) -> None:
    """Weak duality: random prices, and the best prices the volume algorithm finds, give a value
    below the proven MIP optimum.
    """
    from optimizer.allocation.dual import (
        Prices,
        evaluate,
        improve_bound,
        initial_prices,
        lane_dual,
        start_volume,
    )

    problem = synthetic_problem(seed=seed, n_stores=10, n_skus=3, throughput=60.0)
    network = build_network(problem)
    optimum = solve_allocation(problem, method="monolithic", mip_gap=1e-7, time_limit=60)
    assert optimum.report.status == "optimal"
    dual = lane_dual(problem, network)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        prices = Prices(cover=dual.saving * rng.uniform(0, 1, len(dual.saving)),
                        supply=rng.exponential(5.0, len(dual.supply)),
                        throughput=rng.exponential(2.0, len(problem.location_ids)))
        assert evaluate(dual, prices).bound <= optimum.report.objective + 1e-6
    state = improve_bound(dual, start_volume(dual, initial_prices(dual)),
                          optimum.report.objective * 1.2, iterations=300)
    assert state.value.bound <= optimum.report.objective + 1e-6
    assert state.value.bound >= 0.5 * optimum.report.objective


@pytest.mark.parametrize("seed", range(3))
def test_lane_dual_excess_is_a_supergradient(seed: int) -> None:
    """The Lagrangian is concave in the prices and the excess :func:`evaluate` reports is a
    supergradient: ``L(q) <= L(p) + excess(p) . (q - p)`` for any ``q``. Checked both for far
    prices and for small moves either way, where it pins the excess down to the slope.
    """
    from optimizer.allocation.dual import Prices, evaluate, lane_dual

    problem = synthetic_problem(seed=seed, n_stores=12, n_skus=4, throughput=60.0, share=0.3)
    dual = lane_dual(problem, build_network(problem))
    rng = np.random.default_rng(seed)

    assert 0 < len(dual.capped) < len(dual.throughput)

    def random_prices() -> Prices:
        # Uncapped locations get prices too: evaluate must ignore them.
        return Prices(cover=dual.saving * rng.uniform(0.1, 0.9, len(dual.saving)),
                      supply=rng.exponential(5.0, len(dual.supply)) + 0.1,
                      throughput=rng.exponential(2.0, len(dual.throughput)) + 0.1,
                      cross=float(rng.exponential(3.0)) + 0.1)

    def moved(p: Prices, q: Prices, step: float) -> Prices:
        return Prices(cover=p.cover + step * (q.cover - p.cover),
                      supply=p.supply + step * (q.supply - p.supply),
                      throughput=p.throughput + step * (q.throughput - p.throughput),
                      cross=p.cross + step * (q.cross - p.cross))

    opened = 0
    for _ in range(30):
        p, q = random_prices(), random_prices()
        at_p = evaluate(dual, p)
        opened += at_p.open_lanes.any()
        for step in (1.0, 1e-6, -1e-6):
            r = moved(p, q, step)
            rise = (at_p.cover_excess @ (r.cover - p.cover)
                    + at_p.supply_excess @ (r.supply - p.supply)
                    + at_p.throughput_excess @ (r.throughput - p.throughput)
                    + at_p.cross_excess * (r.cross - p.cross))
            assert evaluate(dual, r).bound <= at_p.bound + rise + 1e-9 * (1 + abs(at_p.bound))
    assert opened >= 10  # the lanes' shipments are part of what is checked


@pytest.mark.parametrize("seed", range(3))
def test_lane_dual_starts_with_every_truck_paid(seed: int) -> None:
    """At the starting prices no lane gains from opening, and the bound is at least the one
    where each segment pays only the cheapest unit cost into it and own surplus is free.
    """
    from optimizer.allocation.dual import Prices, evaluate, initial_prices, lane_dual

    problem = synthetic_problem(seed=seed, n_stores=10, n_skus=3, throughput=60.0)
    network = build_network(problem)
    dual = lane_dual(problem, network)
    start = evaluate(dual, initial_prices(dual))
    assert not start.open_lanes.any()
    cheapest = np.full(len(dual.supply), np.inf)
    np.minimum.at(cheapest, dual.arc_receiver, dual.arc_unit_cost)
    paid = np.minimum(dual.saving, cheapest[dual.segment_position])
    plain = evaluate(dual, Prices(cover=dual.saving - paid, supply=np.zeros(len(dual.supply)),
                                  throughput=np.zeros(len(dual.throughput))))
    assert start.bound >= plain.bound - 1e-9
    optimum = solve_allocation(problem, method="monolithic", mip_gap=1e-7, time_limit=60)
    assert start.bound <= optimum.report.objective + 1e-6


def test_lane_dual_closes_the_gap_of_a_lone_lane() -> None:
    """One warehouse, one store, one lane: the bound meets the optimum (whole cases, a truck)."""
    from optimizer.allocation.dual import improve_bound, initial_prices, lane_dual, start_volume

    problem = problem_from_frames(
        pd.DataFrame({"location_id": ["W", "W", "S", "S"], "sku": ["A", "B", "A", "B"],
                      "stock": [50, 50, 0, 1], "reserve": [0, 0, 6, 4],
                      "demand_mean": [0.0, 0.0, 5.0, 3.0],
                      "demand_variance": [5.0, 0.0, 6.0, 4.0]}),
        pd.DataFrame({"location_id": ["W", "S"], "region": "r", "is_warehouse": [True, False],
                      "weekly_throughput": [1_000.0, np.inf]}),
        pd.DataFrame({"sku": ["A", "B"], "margin": [60.0, 90.0], "volume": [1.0, 2.0],
                      "case_size": [4, 3]}),
        pd.DataFrame({"from_id": ["W"], "to_id": ["S"], "unit_cost": [2.0],
                      "shipment_cost": [300.0], "lead_time_days": [1.0]}),
        truck_capacity=10_000.0)
    network = build_network(problem)
    optimum = solve_allocation(problem, method="monolithic", mip_gap=1e-9, time_limit=60)
    dual = lane_dual(problem, network)
    state = start_volume(dual, initial_prices(dual))
    state = improve_bound(dual, state, optimum.report.objective * 1.05, iterations=500)
    assert state.value.bound <= optimum.report.objective + 1e-6
    assert state.value.bound == pytest.approx(optimum.report.objective, rel=1e-3)


@pytest.mark.parametrize("workers", [1, 2])
def test_report_counts_the_bound_steps_taken_not_those_asked_for(workers: int) -> None:
    import re

    problem = synthetic_problem(n_stores=40, n_skus=6, seed=7, throughput=80.0)
    result = solve_allocation(problem, mip_gap=1e-9, time_limit=1.5, dual_iterations=10**7,
                              workers=workers)
    steps = int(re.search(r"(\d+) bound steps", result.report.message).group(1))
    # A step of this week takes far more than 150 ns, so 1.5 s cannot hold 10 million.
    assert 0 < steps < 10**7


@pytest.mark.parametrize("settings", [
    {}, {"visit_cap_litres": 10.0}, {"throughput": 40.0, "share": 0.1, "min_lot": 2},
])
def test_realistic_structure_plans_meet_every_constraint(settings: dict) -> None:
    # Scheduled routes (capped per visit), parcels, unit picking: decomposition and MIP plans.
    problem = synthetic_problem(n_stores=14, seed=4, structure="realistic", **settings)
    assert set(problem.lane_modes) == {"scheduled", "parcel"}
    assert set(problem.sku_pick_unit) == {"unit", "case"}
    decomposed = solve_allocation(problem, time_limit=10, dual_iterations=300)
    monolithic = solve_allocation(problem, method="monolithic", mip_gap=1e-4, time_limit=10)
    for result in (decomposed, monolithic):
        assert len(result.shipments) > 0
        assert_plan_invariants(problem, result)
    assert decomposed.report.bound <= monolithic.report.objective + 1e-6
    assert monolithic.report.bound <= decomposed.report.objective + 1e-6
    if settings.get("visit_cap_litres"):
        # The cap binds somewhere: without it some lane would carry more.
        uncapped = solve_allocation(synthetic_problem(n_stores=14, seed=4, structure="realistic"),
                                    method="monolithic", mip_gap=1e-4, time_limit=10)
        s = uncapped.shipments
        litres = np.bincount(s["lane"], weights=s["quantity"] * problem.sku_volume[
            pd.Index(problem.sku_ids).get_indexer(s["sku"])], minlength=len(problem.lane_from))
        assert (litres > problem.lane_litre_cap + 1e-6).any()


def test_lane_mode_errors_name_the_row() -> None:
    problem = synthetic_problem(seed=1)
    locations = pd.DataFrame({"location_id": problem.location_ids,
                              "region": problem.location_region,
                              "is_warehouse": problem.is_warehouse,
                              "weekly_throughput": problem.weekly_throughput})
    lanes = pd.DataFrame({"from_id": ["W0", "S000"], "to_id": ["S001", "S002"],
                          "unit_cost": 1.0, "shipment_cost": 10.0, "lead_time_days": 1.0,
                          "mode": ["scheduled", "scheduled"]})
    positions = pd.DataFrame({"location_id": ["S000"], "sku": ["K0"], "stock": [1],
                              "reserve": [0], "demand_mean": [1.0], "demand_variance": [1.0]})
    skus = pd.DataFrame({"sku": ["K0"], "margin": [1.0], "volume": [1.0], "case_size": [1]})
    with pytest.raises(InputError, match=r"lanes.mode` row 2: 'scheduled'"):
        problem_from_frames(positions, locations, skus, lanes, truck_capacity=100.0)
    with pytest.raises(InputError, match=r"skus.pick_unit` row 1: 'box'"):
        problem_from_frames(positions, locations, skus.assign(pick_unit="box"),
                            lanes.assign(mode=["scheduled", "parcel"]), truck_capacity=100.0)


def test_auto_plan_on_a_small_realistic_week_is_within_half_a_percent_of_the_optimum() -> None:
    # Routes, parcels and unit picking: the auto method (decomposition, then HiGHS from its
    # plan) against the optimum HiGHS proves on the monolithic MIP.
    problem = synthetic_problem(n_stores=12, n_skus=4, seed=3, structure="realistic")
    optimum = solve_allocation(problem, method="monolithic", mip_gap=1e-6, time_limit=60)
    assert optimum.report.status == "optimal"
    plan = solve_allocation(problem, time_limit=30, mip_gap=1e-4)
    assert "highs" in plan.report.solver
    assert_plan_invariants(problem, plan)
    assert plan.report.objective <= optimum.report.objective * 1.005
    assert plan.report.bound <= optimum.report.objective + 1e-6
