"""Benchmark: the weekly allocation by SKU decomposition against the monolithic MIP (HiGHS).

Each week is built under a cost structure (``--structures``, from
:data:`optimizer.allocation.lanes.COST_STRUCTURES`): ``realistic`` (scheduled warehouse routes,
courier parcels between stores, phones and accessories picked by the unit, bulky goods by the
case) or ``dedicated`` (a truck per lane, every SKU in whole cases). Besides the solvers, each
week prints the planner's rule (:func:`optimizer.allocation.rule.planner_rule`: top up from the
nearest warehouse in whole cases, then from the nearest store with surplus) and moving nothing,
with the plan's cost as a ratio of both, and the machine load (``uptime``) with the timings.
With ``--backtest N`` the plan, the rule and nothing are also played out over N seeded weeks of
demand drawn from the forecast (:func:`optimizer.allocation.backtest.backtest`).

For each size (stores x SKUs) a seeded region is generated with ``geodata.demo.generate_region``,
the week's problem is built (forecast, reserves, lanes) and solved in the same run by the
decomposition (lane Lagrangian bound, plans from per-SKU min-cost flows; once per process count
in ``--workers``) and as one MIP in HiGHS with a time limit. Printed per size: time, plan cost,
bound and gap of each, the ratio of the gaps with more processes to the gap with the first
count, and the ratio of the MIP's plan cost to the decomposition's.

Run::

    .venv/bin/python bench/allocation.py                # scaling curve + national instance
    .venv/bin/python bench/allocation.py --quick        # small sizes only
    .venv/bin/python bench/allocation.py --mip-time-limit 300 --sizes 2000x500
    .venv/bin/python bench/allocation.py --sizes 40x200w3 --mip-time-limit 850 --mip-gap 1e-4
    .venv/bin/python bench/allocation.py --sizes 2000x500 --skip-mip --workers 1 2

A size ``SxKwW`` sets the number of warehouses (otherwise one per 65 stores, 2 to 16: the
generator's places cover 8 prefecture-sized regions, and it puts one warehouse in each region
before a second one in any).
"""

from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np

from geodata.demo import generate_region
from optimizer.allocation import lp as allocation_lp
from optimizer.allocation import plans as allocation_plans
from optimizer.allocation import search as allocation_search
from optimizer.allocation.backtest import backtest
from optimizer.allocation.flows import plan_cost
from optimizer.allocation.lanes import COST_STRUCTURES
from optimizer.allocation.mip import solve_monolithic
from optimizer.allocation.model import build_network
from optimizer.allocation.plan import PlanSettings, week_problem
from optimizer.allocation.rule import planner_rule
from optimizer.allocation.solve import solve_allocation

WEEK = "2026-W02"
CURVE = ["100x50", "250x100", "500x200", "1000x300", "2000x500"]


def load() -> str:
    """Return the machine's load averages as ``uptime`` prints them (it may be shared)."""
    try:
        out = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return "load unknown"
    return "load " + out.strip().rpartition("load average:")[2].strip()


def build(n_stores: int, n_skus: int, seed: int = 11, n_warehouses: int | None = None,
          structure: str = "realistic"):
    """Return the week's allocation problem on a generated region under a cost structure (timed)."""
    started = time.perf_counter()
    if n_warehouses is None:
        n_warehouses = max(2, min(16, n_stores // 65))
    region = generate_region(n_stores=n_stores, n_skus=n_skus, n_warehouses=n_warehouses,
                             n_competitors=10, n_pois=100, n_footfall=1_000, n_customers=1_000,
                             days=364, seed=seed)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    problem, _ = week_problem(stores=region.stores, warehouses=region.warehouses,
                              skus=region.skus, sales=region.sales, stock=region.stock,
                              week=WEEK, lanes=region.lanes,
                              settings=PlanSettings(lane_costs=COST_STRUCTURES[structure]))
    return problem, n_warehouses, generated, time.perf_counter() - started


def run(size: str, *, mip_time_limit: float, time_limit: float, dual_iterations: int,
        skip_mip: bool = False, mip_gap: float = 0.01, workers: tuple[int, ...] = (1,),
        compare_without: tuple[str, ...] = (), structure: str = "realistic", seed: int = 11,
        backtest_weeks: int = 0, methods: tuple[str, ...] = ("auto",),
        polish: bool = True) -> dict:
    stores_skus, _, warehouses = size.partition("w")
    n_stores, n_skus = (int(v) for v in stores_skus.split("x"))
    problem, n_warehouses, generated, prepared = build(
        n_stores, n_skus, n_warehouses=int(warehouses) if warehouses else None,
        structure=structure, seed=seed)
    started = time.perf_counter()
    network = build_network(problem)
    network_seconds = time.perf_counter() - started
    print(f"{size:>9s} {structure}, seed {seed} ({n_warehouses} warehouses, "
          f"{len(problem.stock):,} store-SKU positions, {len(problem.lane_from):,} lanes, "
          f"{len(network.arc_cost):,} arcs); {load()}")
    rule = planner_rule(problem, network)
    rule_cost = plan_cost(problem, network, rule)["objective"]
    nothing_cost = plan_cost(problem, network, np.zeros(len(network.arc_cost), np.int64))[
        "objective"]
    print(f"          data {generated:6.1f} s, forecast+problem {prepared:6.1f} s, "
          f"network {network_seconds:5.1f} s")
    gaps = {}
    best = None
    for method, processes in [(m, w) for m in methods for w in workers]:
        started = time.perf_counter()
        decomposed = solve_allocation(problem, network=network, time_limit=time_limit,
                                      dual_iterations=dual_iterations, workers=processes,
                                      method=method, mip_gap=mip_gap, polish=polish)
        decomposition_seconds = time.perf_counter() - started
        d = decomposed.report
        gaps[processes] = d.gap
        if best is None or d.objective < best.report.objective:
            best = decomposed
        print(f"          {method:13s}, {processes} process{'es' if processes > 1 else ''} "
              f"{decomposition_seconds:6.1f} s  {d.status:8s} cost {d.objective:>14,.0f} "
              f"bound {d.bound:>14,.0f} gap {d.gap:7.2%}; {load()}", flush=True)
    decomposed, d = best, best.report
    print(f"          planner's rule cost {rule_cost:>14,.0f}, nothing moved {nothing_cost:>14,.0f}; "
          f"plan / rule {d.objective / rule_cost:.3f}, plan / nothing "
          f"{d.objective / nothing_cost:.3f}", flush=True)
    if backtest_weeks:
        table = backtest(problem, network, {"plan": decomposed.quantity, "rule": rule,
                                            "nothing": np.zeros_like(rule)},
                         weeks=backtest_weeks, seed=seed)
        print(f"          backtest over {backtest_weeks} weeks of demand drawn from the forecast:")
        text = table.to_string(index=False, float_format=lambda v: f"{v:,.1f}",
                               formatters={"fill_rate": lambda v: f"{v:.3f}"})
        for line in text.splitlines():
            print("            " + line)
    if len(gaps) > 1:
        print(f"          gap / gap with {workers[0]} process(es): " + ", ".join(
            f"{processes}: {gap / gaps[workers[0]]:.3f}" for processes, gap in gaps.items()))
    for switched_off in compare_without:
        # The same solve with a part of it switched off, in the same run.
        label, constants = SWITCHES[switched_off]
        saved = [(module, name, getattr(module, name)) for module, name, _ in constants]
        for module, name, off in constants:
            setattr(module, name, off)
        try:
            started = time.perf_counter()
            without = solve_allocation(problem, network=network, time_limit=time_limit,
                                       dual_iterations=dual_iterations, workers=workers[0]).report
        finally:
            for module, name, value in saved:
                setattr(module, name, value)
        print(f"          without {label}, {workers[0]} process(es) "
              f"{time.perf_counter() - started:6.1f} s  {without.status:8s} cost "
              f"{without.objective:>14,.0f} bound {without.bound:>14,.0f} gap {without.gap:7.2%}")
        ratio = gaps[workers[0]] / without.gap if without.gap > 0 else np.nan
        print(f"          gap / gap without {label}: {ratio:.3f}", flush=True)
    if skip_mip:
        return {"size": size, "decomposition_seconds": decomposition_seconds, "gap": d.gap}
    started = time.perf_counter()
    try:
        _, mip = solve_monolithic(problem, network, time_limit=mip_time_limit, mip_gap=mip_gap)
        mip_text = (f"{mip.status:8s} cost {mip.objective:>14,.0f} bound {mip.bound:>14,.0f} "
                    f"gap {mip.gap:7.2%}")
        ratio = mip.objective / decomposed.report.objective
    except Exception as error:  # the MIP may not even load at national size
        mip, mip_text, ratio = None, f"failed: {type(error).__name__}: {error}"[:90], np.nan
    mip_seconds = time.perf_counter() - started
    print(f"          monolithic    {mip_seconds:6.1f} s  {mip_text}; {load()}")
    print(f"          MIP cost / decomposition cost = {ratio:.3f}", flush=True)
    return {"size": size, "decomposition_seconds": decomposition_seconds, "gap": d.gap,
            "mip_seconds": mip_seconds, "ratio": ratio}


SWITCHES = {
    "lane-program": ("the lane program", [(allocation_lp, "LP_MAX_FILLS", 0)]),
    "block-steps": ("block steps", [(allocation_search, "BOUND_PHASES", (("joint", 50),))]),
    "lane-opening": ("lane opening", [(allocation_plans, "OPEN_WHEN_CLOSING", -1.0)]),
}
"""A part of the solve: what to call it, and the module constants that switch it off with
the values that do."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=None, help="e.g. 500x200 2000x500")
    parser.add_argument("--quick", action="store_true", help="only the two smallest sizes")
    parser.add_argument("--mip-time-limit", type=float, default=300.0)
    parser.add_argument("--mip-gap", type=float, default=0.01,
                        help="relative gap at which the monolithic MIP stops (1e-4 to prove)")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--dual-iterations", type=int, default=2_000,
                        help="most volume-algorithm steps on the bound")
    parser.add_argument("--skip-mip", action="store_true", help="decomposition only")
    parser.add_argument("--compare-lane-program", action="store_true",
                        help="also solve without the lane program, in the same run")
    parser.add_argument("--compare-block-steps", action="store_true",
                        help="also solve with volume-algorithm steps alone, in the same run")
    parser.add_argument("--compare-lane-opening", action="store_true",
                        help="also solve with plans that only close lanes, in the same run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="process counts to run the decomposition with, e.g. 1 2")
    parser.add_argument("--structures", nargs="+", default=["realistic"],
                        choices=sorted(COST_STRUCTURES), help="cost structures to build")
    parser.add_argument("--seeds", type=int, nargs="+", default=[11],
                        help="generator seeds, e.g. 11 12 13")
    parser.add_argument("--methods", nargs="+", default=["auto"],
                        choices=["auto", "decomposition", "hybrid", "relaxation"],
                        help="solve_allocation methods to run (the monolithic MIP runs apart)")
    parser.add_argument("--no-polish", action="store_true",
                        help="solve without the exact whole-case polish of the final plan")
    parser.add_argument("--backtest", type=int, default=0, metavar="WEEKS",
                        help="also play the plan, the rule and nothing out over WEEKS weeks")
    args = parser.parse_args()
    sizes = args.sizes or (CURVE[:2] if args.quick else CURVE)
    print(f"weekly allocation, week {WEEK}; MIP time limit {args.mip_time_limit:.0f} s; "
          "costs are margin-weighted expected shortage plus transport (CNY)")
    for structure in args.structures:
        for size in sizes:
            for seed in args.seeds:
                run(size, mip_time_limit=args.mip_time_limit, time_limit=args.time_limit,
                    dual_iterations=args.dual_iterations, skip_mip=args.skip_mip,
                    mip_gap=args.mip_gap, workers=tuple(args.workers),
                    compare_without=(("lane-program",) if args.compare_lane_program else ())
                    + (("block-steps",) if args.compare_block_steps else ())
                    + (("lane-opening",) if args.compare_lane_opening else ()),
                    structure=structure, seed=seed, backtest_weeks=args.backtest,
                    methods=tuple(args.methods), polish=not args.no_polish)


if __name__ == "__main__":
    main()
