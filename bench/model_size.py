"""Peak memory per arc of the weekly flow network, against the size estimate made before it.

Builds the demo week's problem, estimates its arcs (:func:`optimizer.allocation.sizing.
estimate_model_size`), then builds the network and solves it under tracemalloc, and prints the
measured arcs, the peak bytes and bytes per arc (the figure behind ``sizing.BYTES_PER_ARC``).

Run: ``python bench/model_size.py``
"""

from __future__ import annotations

import time
import tracemalloc

from geodata.demo import load_demo
from optimizer.allocation.model import build_network
from optimizer.allocation.plan import PlanSettings, week_problem
from optimizer.allocation.sizing import BYTES_PER_ARC, estimate_model_size
from optimizer.allocation.solve import solve_allocation


def main() -> None:
    """Print estimated and built arcs, peak memory and bytes per arc for the demo week."""
    region = load_demo()
    problem, _ = week_problem(stores=region.stores, warehouses=region.warehouses,
                              skus=region.skus, sales=region.sales, stock=region.stock,
                              week="2026-W02", settings=PlanSettings())
    started = time.perf_counter()
    size = estimate_model_size(problem)
    estimate_seconds = time.perf_counter() - started
    tracemalloc.start()
    started = time.perf_counter()
    network = build_network(problem)
    build_seconds = time.perf_counter() - started
    _, build_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    solve_allocation(problem, time_limit=20.0, mip_gap=0.01, workers=1)
    _, solve_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    built = len(network.arc_tail)
    peak = max(build_peak, solve_peak)
    print(f"estimated arcs {size.arcs:,} (before lane pruning), built arcs {built:,}")
    print(f"estimate {estimate_seconds:.3f} s, build {build_seconds:.3f} s "
          f"(ratio build / estimate {build_seconds / max(estimate_seconds, 1e-9):.0f}x)")
    print(f"peak: build {build_peak / 2**20:,.1f} MiB, solve {solve_peak / 2**20:,.1f} MiB")
    print(f"bytes per estimated arc {peak / size.arcs:,.0f} (BYTES_PER_ARC = {BYTES_PER_ARC})")


if __name__ == "__main__":
    main()
