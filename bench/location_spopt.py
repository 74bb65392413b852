"""Chain-sized location models against pysal/spopt: the same instances, solved in the same run.

Run from the project root::

    .venv/bin/python bench/location_spopt.py                       # every case, 60 s each
    .venv/bin/python bench/location_spopt.py --cases setcover --time-limit 30

Each case is an instance of ``bench/location.py scale`` (``scale_case``): MCLP 20,000 x 2,000,
p = 50, radius 1.5 km, uniform and clustered; set cover 10,000 x 1,000, radius 1 km; p-median
3,000 x 600, p = 30. The capacitated cases (``cflp-a/b/c``) are left out: spopt 0.7 has a
capacitated p-median (fixed p, no opening costs) and a capacitated set cover, but nothing that
opens sites at a cost, so there is no equivalent spopt model.

spopt gets the dense cost matrix of the instance (``inf`` out of reach for the coverage models),
builds its model with ``from_cost_matrix`` and solves it with PuLP's HiGHS
(``pulp.HiGHS(msg=False, timeLimit=..., gapRel=1e-6)``). The build runs in a child process that
is stopped if it takes more than ``--build-limit`` seconds or its memory passes ``--memory-limit``
GB ("did not finish building"). Xingtu solves its own model of the instance with
``solve(solver="highs", time_limit=..., gap=1e-6)``; its time includes building the instance
and the model. Both objectives are recomputed from the chosen sites (the solver's reported
value is not used): the weight of the clients within the radius of an open site (MCLP), the
number of sites once every client of positive weight in reach is checked covered (set cover),
the sum of weight x distance to the nearest open site (p-median). spopt "finished" when HiGHS
proved its plan optimal within the time limit; the speed-up is spopt's total time over Xingtu's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from location import scale_case

CASES = ["mclp-uniform", "mclp-clustered", "setcover", "pmedian"]


def dense_costs(model, name: str) -> np.ndarray:
    """The instance's client x site distances as spopt takes them (``inf`` = out of reach)."""
    if name == "pmedian":
        return model.reach.toarray()
    coo = model.reach.tocoo()
    cost = np.full(model.reach.shape, np.inf)
    cost[coo.row, coo.col] = coo.data
    return cost


def row_counts(matrix) -> np.ndarray:
    """Stored entries per row of a sparse matrix."""
    return np.diff(matrix.tocsr().indptr)


def plan_value(model, name: str, cost: np.ndarray, sites: np.ndarray) -> float:
    """The true objective of opening ``sites``, recomputed from the instance."""
    if name.startswith("mclp"):
        reached = row_counts(model.reach[:, sites]) > 0
        return float(model.weights[reached].sum())
    if name == "setcover":
        needed = (model.weights > 0) & (row_counts(model.reach) > 0)
        covered = row_counts(model.reach[:, sites]) > 0
        if not covered[needed].all():
            return float("nan")  # not a cover
        return float(len(sites))
    return float((model.weights * cost[:, sites].min(axis=1)).sum())


def spopt_child(name: str, model, cost: np.ndarray, limit: float, connection) -> None:
    """Build and solve the case in spopt; report the build time, then the solve."""
    import pulp
    from spopt.locate import LSCP, MCLP, PMedian

    warnings.simplefilter("ignore")
    started = time.perf_counter()
    if name.startswith("mclp"):
        spopt_model = MCLP.from_cost_matrix(cost, model.weights, service_radius=model.radius,
                                            p_facilities=model.p)
    elif name == "setcover":
        spopt_model = LSCP.from_cost_matrix(cost, service_radius=model.radius)
    else:
        spopt_model = PMedian.from_cost_matrix(cost, model.weights, p_facilities=model.p)
    connection.send(("built", time.perf_counter() - started))
    started = time.perf_counter()
    spopt_model.problem.solve(pulp.HiGHS(msg=False, timeLimit=limit, gapRel=1e-6))
    seconds = time.perf_counter() - started
    highs = spopt_model.problem.solverModel
    info = highs.getInfo()
    # PuLP hands HiGHS the negated objective of a maximisation: turn the bound back.
    sign = -1.0 if spopt_model.problem.sense == pulp.LpMaximize else 1.0
    sites = [j for j, variable in enumerate(spopt_model.fac_vars)
             if (variable.varValue or 0.0) > 0.5]
    connection.send(("solved", {
        "seconds": seconds,
        "highs_seconds": highs.getRunTime(),
        "status": highs.modelStatusToString(highs.getModelStatus()),
        "bound": sign * info.mip_dual_bound,
        "reported": pulp.value(spopt_model.problem.objective),
        "gap": info.mip_gap,
        "sites": sites,
    }))


def resident_gb(pid: int) -> float:
    """Resident memory of process ``pid`` in GB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1e6
    except FileNotFoundError:
        pass
    return 0.0


def run_spopt(name: str, model, cost: np.ndarray, limit: float, build_limit: float,
              memory_limit: float) -> dict:
    """Build and solve one case in spopt in a child process, stopped past the limits."""
    receiving, sending = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=spopt_child, args=(name, model, cost, limit, sending))
    started = time.perf_counter()
    child.start()
    outcome: dict = {"build": None, "peak_gb": 0.0}
    # The solve is capped by HiGHS's time limit; the hand-over to HiGHS is allowed as long
    # as the build.
    deadline = started + build_limit
    while True:
        if receiving.poll(1.0):
            kind, value = receiving.recv()
            if kind == "built":
                outcome["build"] = value
                deadline = time.perf_counter() + limit + build_limit
            else:
                outcome.update(value)
                break
        outcome["peak_gb"] = max(outcome["peak_gb"], resident_gb(child.pid))
        stop = None
        if outcome["peak_gb"] > memory_limit:
            stop = f"over {memory_limit:.0f} GB"
        elif time.perf_counter() > deadline:
            stop = f"over {build_limit:.0f} s" if outcome["build"] is None else "solve overran"
        elif not child.is_alive() and not receiving.poll():
            stop = f"child exited ({child.exitcode})"
        if stop:
            child.kill()
            outcome["status"] = ("did not finish building: " if outcome["build"] is None
                                 else "did not finish solving: ") + stop
            break
    child.join()
    outcome["total"] = time.perf_counter() - started
    return outcome


def run(cases: list[str], limit: float, build_limit: float, memory_limit: float) -> None:
    for name in cases:
        started = time.perf_counter()
        model, _, sense = scale_case(name)
        result = model.solve(solver="highs", time_limit=limit, gap=1e-6)
        ours_seconds = time.perf_counter() - started
        cost = dense_costs(model, name)
        ours = plan_value(model, name, cost, np.asarray(result.sites))
        print(f"{name}: {model.n_clients:,} x {model.n_candidates:,}, dense matrix "
              f"{cost.nbytes / 1e6:,.0f} MB", flush=True)
        gap = 100 * result.gap if result.gap is not None else float("nan")
        print(f"  xingtu  objective {ours:,.6g} (reported {result.objective:,.6g}), bound "
              f"{result.bound or float('nan'):,.6g}, gap {gap:.2f} %, {result.status}, "
              f"{ours_seconds:.1f} s", flush=True)
        theirs = run_spopt(name, model, cost, limit, build_limit, memory_limit)
        del cost
        build = f"{theirs['build']:.1f}" if theirs["build"] is not None else "-"
        if not theirs.get("sites"):  # stopped, or HiGHS returned no plan
            print(f"  spopt   no plan: {theirs['status']}; build s {build}, peak "
                  f"{theirs['peak_gb']:.1f} GB, {theirs['total']:.1f} s in all", flush=True)
            print("  spopt finished: no", flush=True)
            continue
        value = plan_value(model, name, dense_costs(model, name), np.asarray(theirs["sites"]))
        ratio = ours / value if value else float("nan")
        better = "better" if (ratio > 1 if sense == "max" else ratio < 1) else "worse"
        better = "equal" if abs(ours - value) <= 1e-6 * max(1.0, abs(value)) else better
        print(f"  spopt   objective {value:,.6g} ({len(theirs['sites'])} sites; reported "
              f"{theirs['reported'] or float('nan'):,.6g}), HiGHS status "
              f"{theirs['status']}, bound {theirs['bound']:,.6g}, gap "
              f"{100 * theirs['gap']:.2f} %; build s {build}, solve s "
              f"{theirs['seconds']:.1f} (HiGHS {theirs['highs_seconds']:.1f}), total s "
              f"{theirs['total']:.1f}, peak {theirs['peak_gb']:.1f} GB", flush=True)
        print(f"  speed-up {theirs['total'] / ours_seconds:.1f}x, xingtu / spopt objective "
              f"{ratio:.4f} ({better} for xingtu)", flush=True)
        print(f"  spopt finished: {'yes' if theirs['status'] == 'Optimal' else 'no'}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--time-limit", type=float, default=60.0, help="solver seconds per case")
    parser.add_argument("--build-limit", type=float, default=600.0,
                        help="seconds allowed for spopt's model build")
    parser.add_argument("--memory-limit", type=float, default=16.0,
                        help="GB allowed for spopt's process")
    args = parser.parse_args()
    run(args.cases.split(","), args.time_limit, args.build_limit, args.memory_limit)


if __name__ == "__main__":
    main()
