"""Location-model benchmarks: OR-Library p-median optima, and speed against pysal/spopt.

Run from the project root::

    .venv/bin/python bench/location.py                  # spopt comparison + all 40 OR-Library instances
    .venv/bin/python bench/location.py --quick          # smaller spopt instances, pmed1-10
    .venv/bin/python bench/location.py orlib --instances 1-5,10
    .venv/bin/python bench/location.py spopt --quick

``orlib``: solves each pmedN to proven optimality with :class:`optimizer.location.PMedian` (HiGHS
through highspy) and prints the objective next to the published optimum, the status and the
time. ``spopt``: builds seeded random instances (uniform points in a 10 km square, Euclidean
distances in metres), solves the same p-median and MCLP with spopt 0.7 (PuLP + HiGHS, its
dense formulation) and with Xingtu, and prints both objectives, both times (model building +
solve) and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from orlib import DATA_DIR, read_pmed

from optimizer.location import MCLP, PMedian


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", choices=["all", "orlib", "spopt"], default="all")
    parser.add_argument("--quick", action="store_true", help="smaller instances")
    parser.add_argument("--instances", default=None, help="OR-Library numbers, e.g. 1-5,10")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per instance")
    args = parser.parse_args()
    if args.which in ("all", "spopt"):
        run_spopt(args.quick)
    if args.which in ("all", "orlib"):
        default = "1-10" if args.quick else "1-40"
        run_orlib(parse_instances(args.instances or default), args.time_limit)


if __name__ == "__main__":
    main()
