"""Benchmark: points to H3 cells and the full layer build, against a plain h3-py loop.

For each size (default 1 M and 10 M footfall points around the demo region) it times, in the
same run:

* ``geodata.grid.points_to_cells`` (h3ronpy, vectorised) against the per-point h3-py loop
  ``[h3.latlng_to_cell(a, b, r) for a, b in zip(lat, lng)]``;
* ``geodata.grid.points_to_cell_table`` (cells + count + sum) against that loop followed by a
  pandas ``groupby``;
* the full layer build (``geodata.layers.build_layers``) of the demo region with the footfall
  replaced by the N points.

Run::

    python bench/grid.py                 # 1 M and 10 M points
    python bench/grid.py --sizes 1e6     # one size
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time

import h3
import numpy as np
import pandas as pd

from geodata import grid, layers
from geodata.demo import load_demo


def footfall_points(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` footfall points: the demo's points resampled with 100 m of jitter."""
    base = load_demo().footfall
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(base), n)
    lat = base.geometry.y.to_numpy()[pick] + rng.normal(0, 0.0009, n)
    lng = base.geometry.x.to_numpy()[pick] + rng.normal(0, 0.001, n)
    return pd.DataFrame({"lat": lat, "lng": lng, "count": rng.integers(1, 60, n)})


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def run(n: int, resolution: int) -> dict[str, float]:
    points = footfall_points(n)
    lat, lng = points["lat"].to_numpy(), points["lng"].to_numpy()

    t_vector, cells = timed(grid.points_to_cells, lat, lng, resolution)
    t_loop, loop_cells = timed(lambda: [h3.latlng_to_cell(a, b, resolution)
                                        for a, b in zip(lat.tolist(), lng.tolist(), strict=True)])
    assert grid.cells_to_str(cells[:1000]).tolist() == loop_cells[:1000]

    values = {"points": "count", "count": "sum"}
    t_table, table = timed(grid.points_to_cell_table, points, resolution, values)

    def loop_table() -> pd.DataFrame:
        keys = [h3.str_to_int(c) for c in loop_cells]
        return points.assign(cell=keys).groupby("cell").agg(points=("lat", "size"),
                                                            count=("count", "sum"))

    t_groupby, reference = timed(loop_table)
    assert np.array_equal(reference["points"].to_numpy(), table["points"].to_numpy())

    region = dataclasses.replace(load_demo(), footfall=points)
    t_layers, built = timed(layers.build_layers, region, resolution=resolution)
    return {"points": n, "cells": len(table), "layer_cells": len(built),
            "vector_s": t_vector, "loop_s": t_loop, "table_s": t_table,
            "loop_table_s": t_loop + t_groupby, "layers_s": t_layers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7],
                        help="numbers of points (default: 1e6 1e7)")
    parser.add_argument("--resolution", type=int, default=8)
    args = parser.parse_args()
    load_demo()  # generate the demo once, outside the timings
    print(f"python {platform.python_version()}, h3 {h3.__version__}, "
          f"{platform.processor() or platform.machine()}, resolution {args.resolution}")
    header = ("points", "cells", "to_cells s", "h3-py loop s", "ratio", "cell table s",
              "loop+groupby s", "ratio", "full layers s", "layer cells")
    print(" | ".join(header))
    for size in args.sizes:
        r = run(int(size), args.resolution)
        print(" | ".join([
            f"{r['points']:,}", f"{r['cells']:,}", f"{r['vector_s']:.2f}", f"{r['loop_s']:.2f}",
            f"{r['loop_s'] / r['vector_s']:.1f}x", f"{r['table_s']:.2f}",
            f"{r['loop_table_s']:.2f}", f"{r['loop_table_s'] / r['table_s']:.1f}x",
            f"{r['layers_s']:.2f}", f"{r['layer_cells']:,}"]))
        print(f"  throughput: vectorised {r['points'] / r['vector_s'] / 1e6:.2f} M points/s, "
              f"h3-py loop {r['points'] / r['loop_s'] / 1e6:.2f} M points/s")


if __name__ == "__main__":
    main()
