"""Reader for the OR-Library p-median instances (Beasley 1990) in ``bench/data/orlib-pmed``.

Each ``pmedN.txt`` holds ``n m p`` then ``m`` undirected edges ``i j cost`` (1-based). The cost
between two nodes is the shortest-path length over the graph. When an edge appears more than once
the LAST occurrence wins (the convention behind the published optima).

Examples
--------
>>> instance = read_pmed(DATA_DIR / "pmed1.txt")
>>> instance.distance.shape, instance.p
((100, 100), 5)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

DATA_DIR = Path(__file__).resolve().parent / "data" / "orlib-pmed"


@dataclass(frozen=True)
class PMedianInstance:
    """One OR-Library instance: name, all-pairs distances, p and the proven optimum."""

    name: str
    distance: np.ndarray
    p: int
    optimum: float | None


def read_optima(path: Path = DATA_DIR / "pmedopt.txt") -> dict[str, float]:
    """Proven optimal values by instance name, from ``pmedopt.txt``."""
    optima: dict[str, float] = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("pmed"):
            optima[parts[0]] = float(parts[1])
    return optima


def read_pmed(path: str | Path) -> PMedianInstance:
    """Read one ``pmedN.txt`` file and compute its all-pairs shortest-path distances.

    Parameters
    ----------
    path
        The instance file.

    Returns
    -------
    PMedianInstance
        Distances (n x n, float), p and the known optimum (``None`` if not listed).
    """
    path = Path(path)
    numbers = np.array(path.read_text().split(), dtype=np.int64)
    n, m, p = (int(v) for v in numbers[:3])
    edges = numbers[3 : 3 + 3 * m].reshape(m, 3)
    first, second, cost = edges[:, 0] - 1, edges[:, 1] - 1, edges[:, 2].astype(float)
    # Last occurrence wins: keep, for each unordered pair, the edge appearing last in the file.
    low, high = np.minimum(first, second), np.maximum(first, second)
    key = low * n + high
    _, last_from_end = np.unique(key[::-1], return_index=True)
    last = m - 1 - last_from_end
    low, high, cost = low[last], high[last], cost[last]
    graph = sp.csr_array((cost, (low, high)), shape=(n, n))
    distance = shortest_path(graph, method="D", directed=False)
    return PMedianInstance(path.stem, distance, p, read_optima().get(path.stem))
