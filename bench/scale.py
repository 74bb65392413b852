"""Benchmark: gridding national footfall on a 2-worker Dask cluster against one process.

Generates N footfall points (default 100 M) around 40 large Chinese cities, written chunk by chunk
as a partitioned Parquet dataset of 1 M-point files (the whole input is never in memory), then for
each size of the scaling curve (1 M, 10 M, ... up to N, each the first files of the dataset):

* **Dask**: :func:`geodata.distributed.points_to_cell_table_dask` on a local cluster of 2 worker
  processes with a memory limit each (default 1 GiB, less than the input at 100 M points); the
  workers' resident memory is sampled every 0.2 s with ``client.run`` and its peak reported;
* **one process**: the same files read one by one with pyarrow, each through
  :func:`geodata.grid.points_to_cell_table`, the partial tables added up (peak resident memory of
  this process sampled the same way).

Both tables are checked equal, and the ratio one-process time / Dask time is printed, with the
CPU seconds each path used (all worker processes plus the client and scheduler for Dask) and the
machine's load average: on a busy machine the wall-clock ratio says little, the CPU seconds more.

Run::

    python bench/scale.py                          # 1 M, 10 M and 100 M points
    python bench/scale.py --points 10e6            # 1 M and 10 M only
    python bench/scale.py --workdir out/scale --keep   # keep the generated dataset

The dataset is written under ``--workdir`` (default: a temporary folder, deleted at the end);
100 M points take about 1.7 GB on disk.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from geodata import grid
from geodata.distributed import dask_client, points_to_cell_table_dask

FILE_POINTS = 1_000_000
VALUES = {"points": "count", "count": "sum"}

# (lat, lng, relative footfall) of 40 large cities: where national footfall concentrates.
CITIES = np.array([
    (31.23, 121.47, 24), (39.90, 116.40, 21), (23.13, 113.26, 18), (22.54, 114.06, 17),
    (30.57, 104.07, 16), (29.56, 106.55, 16), (30.59, 114.31, 12), (34.34, 108.94, 12),
    (32.06, 118.80, 9), (30.27, 120.16, 12), (39.34, 117.36, 13), (34.75, 113.63, 10),
    (41.80, 123.43, 9), (45.80, 126.53, 10), (36.65, 117.12, 9), (28.23, 112.94, 10),
    (26.07, 119.30, 8), (25.04, 102.71, 8), (22.82, 108.37, 8), (36.07, 120.38, 10),
    (38.04, 114.51, 11), (31.82, 117.23, 9), (24.48, 118.09, 5), (31.30, 120.59, 13),
    (28.68, 115.86, 6), (43.82, 125.32, 9), (26.65, 106.63, 6), (43.83, 87.62, 4),
    (36.06, 103.83, 4), (37.87, 112.55, 5), (40.84, 111.75, 3), (38.49, 106.23, 3),
    (36.62, 101.78, 2), (20.04, 110.34, 3), (23.02, 113.75, 10), (22.27, 113.58, 2),
    (29.87, 121.54, 9), (31.49, 120.31, 7), (27.99, 120.70, 9), (23.05, 112.46, 4),
], dtype=np.float64)


def write_footfall(folder: Path, n_points: int, seed: int = 0) -> list[Path]:
    """Write ``n_points`` footfall points as Parquet files of :data:`FILE_POINTS` points each."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = CITIES[:, 2] / CITIES[:, 2].sum()
    paths = []
    for number, start in enumerate(range(0, n_points, FILE_POINTS)):
        n = min(FILE_POINTS, n_points - start)
        rng = np.random.default_rng([seed, number])
        city = rng.choice(len(CITIES), size=n, p=weights)
        spread = rng.exponential(0.08, n)  # dense centres, long suburban tails
        lat = CITIES[city, 0] + rng.normal(0.0, 1.0, n) * spread
        lng = CITIES[city, 1] + rng.normal(0.0, 1.0, n) * spread
        table = pa.table({"lat": lat, "lng": lng,
                          "count": rng.integers(1, 60, n, dtype=np.int32)})
        path = folder / f"part-{number:05d}.parquet"
        if not (path.exists() and pq.ParquetFile(path).metadata.num_rows == n):  # kept: reuse
            pq.write_table(table, path, row_group_size=FILE_POINTS)
        paths.append(path)
    return paths


def prefix_dataset(files: list[Path], folder: Path) -> Path:
    """Return a folder holding (hard links to) the given files: a smaller dataset, no copy."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        target = folder / path.name
        if not target.exists():
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
    return folder


def one_process_cell_table(folder: Path, resolution: int) -> pd.DataFrame:
    """Return the single-machine path: read file by file with pyarrow and add up the cell tables."""
    partials: list[pd.DataFrame] = []
    for path in sorted(folder.glob("*.parquet")):
        points = pq.read_table(path).to_pandas()
        partials.append(grid.points_to_cell_table(points, resolution, VALUES))
        if len(partials) == 16:  # add up now and then: memory stays at one file plus the totals
            partials = [pd.concat(partials).groupby(level=0).sum()]
    return pd.concat(partials).groupby(level=0).sum().sort_index()


def _rss() -> int:
    return psutil.Process().memory_info().rss


def _cpu_seconds() -> float:
    times = psutil.Process().cpu_times()
    return times.user + times.system


class PeakMemory:
    """Sample resident memory in a background thread and keep the peak (per worker or here)."""

    def __init__(self, sample: Callable[[], dict[str, int]], every: float = 0.2) -> None:
        self.sample, self.every, self.peak = sample, every, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for key, value in self.sample().items():
                    self.peak[key] = max(self.peak.get(key, 0), value)
            except Exception:  # a worker restarting or the cluster closing: skip this sample
                pass
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(folder: Path, n_points: int, resolution: int, client) -> dict[str, float]:
    """Time both paths on one dataset and check they agree."""
    client.run(lambda: __import__("gc").collect())
    load = os.getloadavg()[0]
    with PeakMemory(lambda: client.run(_rss)) as workers:
        cpu_before = sum(client.run(_cpu_seconds).values()) + _cpu_seconds()
        started = time.perf_counter()
        on_dask = points_to_cell_table_dask(folder, resolution, VALUES, scheduler=client)
        t_dask = time.perf_counter() - started
        # CPU of the workers plus this process (client and scheduler), the sampler included.
        cpu_dask = sum(client.run(_cpu_seconds).values()) + _cpu_seconds() - cpu_before
    with PeakMemory(lambda: {"main": _rss()}) as here:
        cpu_before = _cpu_seconds()
        started = time.perf_counter()
        single = one_process_cell_table(folder, resolution)
        t_single = time.perf_counter() - started
        cpu_single = _cpu_seconds() - cpu_before
    pd.testing.assert_frame_equal(on_dask, single, check_dtype=True)
    assert int(on_dask["points"].sum()) == n_points
    return {
        "points": n_points, "cells": len(on_dask),
        "dask_s": t_dask, "single_s": t_single,
        "dask_mpts_s": n_points / t_dask / 1e6, "single_mpts_s": n_points / t_single / 1e6,
        "ratio": t_single / t_dask,
        "dask_cpu_s": cpu_dask, "single_cpu_s": cpu_single,
        "load_avg": (load + os.getloadavg()[0]) / 2,
        "worker_peak_mib": max(workers.peak.values()) / 2**20,
        "single_peak_mib": here.peak["main"] / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=float, default=100e6, help="largest size (default 1e8)")
    parser.add_argument("--resolution", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="1GiB", help="per worker (default 1GiB)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for the generated dataset (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated dataset")
    args = parser.parse_args()

    largest = int(args.points)
    sizes = [n for n in (1_000_000, 10_000_000, 100_000_000, 1_000_000_000) if n < largest]
    sizes.append(largest)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="xingtu-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"# Scale-out benchmark: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM; "
          f"{args.workers} workers x {args.memory_limit}; resolution {args.resolution}")
    try:
        started = time.perf_counter()
        files = write_footfall(workdir / "points", largest)
        size_on_disk = sum(p.stat().st_size for p in files)
        print(f"generated {largest:,} points in {len(files)} files, "
              f"{size_on_disk / 2**30:.2f} GiB on disk, {time.perf_counter() - started:.0f} s")
        rows = []
        with dask_client(None, n_workers=args.workers, memory_limit=args.memory_limit) as client:
            for n in sizes:
                folder = prefix_dataset(files[: -(-n // FILE_POINTS)], workdir / f"n{n}")
                row = measure(folder, n, args.resolution, client)
                rows.append(row)
                print(f"{n:>13,} points: dask {row['dask_s']:7.1f} s "
                      f"({row['dask_mpts_s']:.2f} M points/s, worker peak "
                      f"{row['worker_peak_mib']:.0f} MiB) | one process {row['single_s']:7.1f} s "
                      f"({row['single_mpts_s']:.2f} M points/s, peak "
                      f"{row['single_peak_mib']:.0f} MiB) | one process / dask = "
                      f"{row['ratio']:.2f}x | CPU s dask {row['dask_cpu_s']:.1f}, one process "
                      f"{row['single_cpu_s']:.1f} | load {row['load_avg']:.1f}", flush=True)
        print()
        print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".2f")
              if _has_tabulate() else pd.DataFrame(rows).round(2).to_string(index=False))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
