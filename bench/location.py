"""Location-model benchmarks: OR-Library p-median optima, and speed against pysal/spopt.

Run from the project root::

    .venv/bin/python bench/location.py                  # spopt comparison + all 40 OR-Library instances
    .venv/bin/python bench/location.py --quick          # smaller spopt instances, pmed1-10
    .venv/bin/python bench/location.py orlib --instances 1-5,10
    .venv/bin/python bench/location.py spopt --quick
    .venv/bin/python bench/location.py scale             # chain-sized instances, 60 s / 120 s each
    .venv/bin/python bench/location.py scale --cases mclp-uniform,cflp-a --time-limit 30

``orlib``: solves each pmedN to proven optimality with :class:`optimizer.location.PMedian` (HiGHS
through highspy) and prints the objective next to the published optimum, the status and the
time. ``spopt``: builds seeded random instances (uniform points in a 10 km square, Euclidean
distances in metres), solves the same p-median and MCLP with spopt 0.7 (PuLP + HiGHS, its
dense formulation) and with Xingtu, and prints both objectives, both times (model building +
solve) and the ratio. ``scale``: chain-sized seeded instances (MCLP 20,000 x 2,000 uniform and
clustered, set cover 10,000 x 1,000, p-median 3,000 x 600, capacitated facility location
1,000 x 100 with binding capacities in the manner of Beasley's capa/capb/capc), each solved by
Xingtu, by plain greedy and by the plain sparse MIP handed to HiGHS with the same time limit,
with the ratios and whether greedy already meets the bound (a trivial instance).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scipy.sparse as sp
from orlib import DATA_DIR, read_pmed
from scipy.optimize import linprog
from scipy.spatial import cKDTree

from optimizer.location import MCLP, CapacitatedPMedian, PMedian, SetCover
from optimizer.location._base import site_rules
from optimizer.location._coverage_search import (
    cover_greedy,
    covered_weight,
    indicator_matrix,
    mclp_greedy,
)
from optimizer.solvers import solve_mip


def parse_instances(text: str) -> list[int]:
    """``"1-5,10"`` -> ``[1, 2, 3, 4, 5, 10]``."""
    numbers: list[int] = []
    for part in text.split(","):
        if "-" in part:
            first, last = part.split("-")
            numbers.extend(range(int(first), int(last) + 1))
        elif part:
            numbers.append(int(part))
    return numbers


def run_orlib(instances: list[int], time_limit: float | None) -> None:
    print(f"{'instance':<9}{'n':>5}{'p':>5}{'objective':>11}{'optimum':>9}  {'status':<9}"
          f"{'prep s':>8}{'total s':>9}  match")
    total = 0.0
    matched = 0
    for number in instances:
        instance = read_pmed(DATA_DIR / f"pmed{number}.txt")
        n = len(instance.distance)
        started = time.perf_counter()
        model = PMedian.from_cost_matrix(instance.distance, np.ones(n), p=instance.p)
        result = model.solve(solver="highs", time_limit=time_limit, gap=1e-9)
        elapsed = time.perf_counter() - started
        total += elapsed
        match = instance.optimum is not None and abs(result.objective - instance.optimum) < 0.5
        matched += bool(match and result.status == "optimal")
        print(f"{instance.name:<9}{n:>5}{instance.p:>5}{result.objective:>11.0f}"
              f"{instance.optimum:>9.0f}  {result.status:<9}{result.build_seconds:>8.2f}"
              f"{elapsed:>9.2f}  {'yes' if match else 'NO'}", flush=True)
    print(f"{matched}/{len(instances)} proven optimal at the published value; total {total:.1f} s")


def random_instance(n_clients: int, n_sites: int, seed: int):
    rng = np.random.default_rng(seed)
    clients = rng.uniform(0, 10_000, size=(n_clients, 2))
    sites = rng.uniform(0, 10_000, size=(n_sites, 2))
    cost = np.sqrt(((clients[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2))
    weights = rng.integers(1, 100, size=n_clients).astype(float)
    return cost, weights


def spopt_solve(kind: str, cost, weights, p: int, radius: float | None):
    import pulp
    from spopt.locate import MCLP as SpoptMCLP
    from spopt.locate import PMedian as SpoptPMedian

    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "pmedian":
            model = SpoptPMedian.from_cost_matrix(cost, weights, p_facilities=p)
        else:
            model = SpoptMCLP.from_cost_matrix(cost, weights, service_radius=radius, p_facilities=p)
        model.solve(pulp.HiGHS(msg=False))
    elapsed = time.perf_counter() - started
    objective = float(pulp.value(model.problem.objective))
    return objective, elapsed


def xingtu_solve(kind: str, cost, weights, p: int, radius: float | None):
    started = time.perf_counter()
    if kind == "pmedian":
        model = PMedian.from_cost_matrix(cost, weights, p=p)
    else:
        model = MCLP.from_cost_matrix(cost, weights, radius=radius, p=p)
    result = model.solve(solver="highs", gap=1e-9)
    return float(result.objective), time.perf_counter() - started, result.status


def run_spopt(quick: bool) -> None:
    cases = (
        [("pmedian", 300, 60, 5, None), ("mclp", 2_000, 200, 10, 1_200.0)]
        if quick
        else [("pmedian", 1_000, 200, 10, None), ("mclp", 10_000, 1_000, 20, 2_000.0)]
    )
    print(f"{'model':<8}{'clients':>8}{'sites':>6}{'p':>4}{'spopt obj':>14}{'xingtu obj':>14}"
          f"{'spopt s':>9}{'xingtu s':>9}{'speed-up':>9}  status")
    for kind, n_clients, n_sites, p, radius in cases:
        cost, weights = random_instance(n_clients, n_sites, seed=2024)
        ours, ours_seconds, status = xingtu_solve(kind, cost, weights, p, radius)
        theirs, theirs_seconds = spopt_solve(kind, cost, weights, p, radius)
        same = abs(ours - theirs) <= 1e-6 * max(1.0, abs(theirs))
        print(f"{kind:<8}{n_clients:>8}{n_sites:>6}{p:>4}{theirs:>14.1f}{ours:>14.1f}"
              f"{theirs_seconds:>9.2f}{ours_seconds:>9.2f}{theirs_seconds / ours_seconds:>8.1f}x"
              f"  {status}{'' if same else ' (objectives differ!)'}", flush=True)


def scatter(n: int, rng: np.random.Generator, kind: str, side: float) -> np.ndarray:
    """``n`` points in a ``side`` square: uniform, or city-like Gaussian clusters."""
    if kind == "uniform":
        return rng.uniform(0, side, size=(n, 2))
    centres = rng.uniform(0.1 * side, 0.9 * side, size=(12, 2))
    spread = rng.uniform(0.02, 0.08, size=12) * side
    which = rng.integers(0, 12, size=n)
    points = centres[which] + rng.normal(size=(n, 2)) * spread[which, None]
    return np.clip(points, 0, side)


def sparse_within(clients: np.ndarray, sites: np.ndarray, radius: float) -> sp.csr_array:
    """Client x site distances within ``radius`` (a pair at distance 0 kept as 1e-9)."""
    matrix = cKDTree(clients).sparse_distance_matrix(cKDTree(sites), radius,
                                                     output_type="coo_matrix").tocsr()
    matrix.data[matrix.data == 0] = 1e-9
    return sp.csr_array(matrix)


def scale_case(name: str):
    """The model of one chain-sized case and a function giving its plain greedy value."""
    if name.startswith("mclp"):
        rng = np.random.default_rng(7)
        kind = name.split("-")[1]
        clients = scatter(20_000, rng, kind, 30_000.0)
        sites = scatter(2_000, rng, kind, 30_000.0)
        weights = rng.integers(1, 100, 20_000).astype(float)
        model = MCLP.from_cost_matrix(sparse_within(clients, sites, 1_500.0), weights,
                                      radius=1_500.0, p=50)

        def greedy() -> float:
            csr, csc = indicator_matrix(model.reach, model.options.allowed)
            plan = mclp_greedy(csr, csc, model.weights, model.p, site_rules(model.options))
            return covered_weight(csc, model.weights, plan)[0]

        return model, greedy, "max"
    if name == "setcover":
        rng = np.random.default_rng(2024)
        clients = rng.uniform(0, 10_000, size=(10_000, 2))
        sites = rng.uniform(0, 10_000, size=(1_000, 2))
        weights = rng.integers(1, 100, 10_000).astype(float)
        cost = sparse_within(clients, sites, 1_000.0)
        weights[np.diff(cost.indptr) == 0] = 0.0  # cells no candidate reaches need no cover
        model = SetCover.from_cost_matrix(cost, weights, radius=1_000.0)

        def greedy() -> float:
            csr, csc = indicator_matrix(model.reach, model.options.allowed)
            plan = cover_greedy(csr, csc, model.weights > 0, np.ones(model.n_candidates),
                                site_rules(model.options))
            return float(plan.sum())

        return model, greedy, "min"
    if name == "pmedian":
        rng = np.random.default_rng(2024)
        clients = rng.uniform(0, 10_000, size=(3_000, 2))
        sites = rng.uniform(0, 10_000, size=(600, 2))
        weights = rng.integers(1, 100, 3_000).astype(float)
        cost = np.linalg.norm(clients[:, None] - sites[None], axis=2)
        model = PMedian.from_cost_matrix(cost, weights, p=30)

        def greedy() -> float:
            weighted = weights[:, None] * cost
            nearest = np.full(len(weights), np.inf)
            for _ in range(30):
                site = int(np.argmin(np.minimum(nearest[:, None], weighted).sum(axis=0)))
                nearest = np.minimum(nearest, weighted[:, site])
            return float(nearest.sum())

        return model, greedy, "min"
    # Capacitated facility location of the size of Beasley's capa/capb/capc (1,000 clients,
    # 100 sites, one capacity for every site, total demand ~58,000, so 5-8 sites must open).
    capacity = {"cflp-a": 8_000.0, "cflp-b": 10_000.0, "cflp-c": 12_000.0}[name]
    rng = np.random.default_rng(11)
    clients = rng.uniform(0, 10, size=(1_000, 2))
    sites = rng.uniform(0, 10, size=(100, 2))
    demand = rng.integers(1, 117, 1_000).astype(float)
    cost = np.linalg.norm(clients[:, None] - sites[None], axis=2) * 2.0
    opening = rng.uniform(15_000, 25_000, 100).round()
    capacities = np.full(100, capacity)
    model = CapacitatedPMedian.from_cost_matrix(cost, demand, capacity=capacities,
                                                opening_cost=opening)

    def greedy() -> float:
        order = np.argsort(opening / capacities, kind="stable")
        count = int(np.searchsorted(np.cumsum(capacities[order]), demand.sum())) + 1
        chosen = order[:count]
        n, k = len(demand), count
        a_eq = sp.csr_array((np.ones(n * k), (np.repeat(np.arange(n), k), np.arange(n * k))))
        a_ub = sp.csr_array((np.tile(demand[:, None], (1, k)).ravel(),
                             (np.tile(np.arange(k), n), np.arange(n * k))))
        result = linprog((demand[:, None] * cost[:, chosen]).ravel(), A_ub=a_ub,
                         b_ub=capacities[chosen], A_eq=a_eq, b_eq=np.ones(n), bounds=(0, 1),
                         method="highs")
        return float(result.fun + opening[chosen].sum())

    return model, greedy, "min"


SCALE_CASES = ["mclp-uniform", "mclp-clustered", "setcover", "pmedian", "cflp-a", "cflp-b",
               "cflp-c"]


def run_scale(cases: list[str], time_limit: float | None, plain: bool,
              peers: list[str] = ()) -> None:
    print(f"{'case':<15}{'xingtu':>13}{'bound':>13}{'gap %':>7}{'s':>6}  {'status':<9}"
          f"{'greedy':>13}{'x/greedy':>9}{'plain HiGHS':>13}{'gap %':>7}{'s':>6}{'x/plain':>8}"
          "  trivial")
    for name in cases:
        limit = time_limit if time_limit is not None else (120.0 if name.startswith("cflp")
                                                            else 60.0)
        model, greedy, sense = scale_case(name)
        started = time.perf_counter()
        greedy_value = greedy()
        greedy_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = model.solve(solver="highs", time_limit=limit, gap=1e-6)
        seconds = time.perf_counter() - started
        trivial = result.bound is not None and abs(greedy_value - result.bound) <= 1e-6 * max(
            1.0, abs(result.bound))
        plain_text = f"{'-':>13}{'-':>7}{'-':>6}{'-':>8}"
        if plain:
            plain_text = plain_columns(model, result.objective, "highs", limit)
        gap_text = 100 * result.gap if result.gap is not None else float("nan")
        print(f"{name:<15}{result.objective:>13.6g}{result.bound or float('nan'):>13.6g}"
              f"{gap_text:>7.2f}{seconds:>6.0f}  {result.status:<9}{greedy_value:>13.6g}"
              f"{result.objective / greedy_value:>9.4f}{plain_text}  "
              f"{'yes' if trivial else 'no'}  (greedy {greedy_seconds:.1f} s)", flush=True)
        for peer in peers:
            print(f"{'':<15}plain model in {peer} (plan, gap %, s, xingtu/plan):"
                  f"{plain_columns(model, result.objective, peer, limit)}", flush=True)


def plain_columns(model, objective: float, solver: str, limit: float) -> str:
    """The plain model solved by ``solver``: its plan's true value, gap, seconds and ratio."""
    started = time.perf_counter()
    solution = solve_mip(model._problem(), solver, limit, 1e-6)
    seconds = time.perf_counter() - started
    value = None
    if solution.values is not None:
        value = plain_objective(model, model._decode(solution.values, solution.report, 0.0),
                                solution)
    gap = solution.report.gap
    return (f"{value if value is not None else float('nan'):>13.6g}"
            f"{100 * gap if gap is not None else float('nan'):>7.2f}{seconds:>6.0f}"
            f"{objective / value if value else float('nan'):>8.3f}")


def plain_objective(model, decoded, solution) -> float:
    """The plain MIP plan's true value (recomputed from its sites and flows)."""
    if isinstance(model, MCLP):
        return float(model.weights[decoded.assignment >= 0].sum())
    if isinstance(model, SetCover):
        return float(len(decoded.sites))
    if isinstance(model, PMedian):
        served = model.weights > 0
        return float((model.weights[served] * decoded.assigned_distance[served]).sum())
    return model._objective_of(solution.values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", choices=["all", "orlib", "spopt", "scale"],
                        default="all")
    parser.add_argument("--cases", default=",".join(SCALE_CASES),
                        help=f"scale cases, comma-separated, from {', '.join(SCALE_CASES)}")
    parser.add_argument("--no-plain", action="store_true",
                        help="scale: skip the plain HiGHS model (halves the run time)")
    parser.add_argument("--peers", default="",
                        help="scale: also solve the plain model with these solvers, e.g. "
                             "scip,cpsat (OR-Tools' SCIP and CP-SAT)")
    parser.add_argument("--quick", action="store_true", help="smaller instances")
    parser.add_argument("--instances", default=None, help="OR-Library numbers, e.g. 1-5,10")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per instance")
    args = parser.parse_args()
    if args.which in ("all", "spopt"):
        run_spopt(args.quick)
    if args.which in ("all", "scale"):
        run_scale(args.cases.split(","), args.time_limit, not args.no_plain,
                  [peer for peer in args.peers.split(",") if peer])
    if args.which in ("all", "orlib"):
        default = "1-10" if args.quick else "1-40"
        run_orlib(parse_instances(args.instances or default), args.time_limit)


if __name__ == "__main__":
    main()
