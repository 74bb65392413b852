"""Shared by the command-line tests: their own database, never the user's default one, and a
small region as files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geodata.grid import cells_to_latlng, points_to_cells
from geodata.layers import build_layers, save_layers


@pytest.fixture(autouse=True)
def own_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point ``XINGTU_DATABASE_URL`` at a SQLite file of this test."""
    url = f"sqlite:///{tmp_path / 'default.sqlite'}"
    monkeypatch.setenv("XINGTU_DATABASE_URL", url)
    return url


@pytest.fixture
def small_inputs(tmp_path: Path) -> dict[str, Path]:
    """Return a small region as files: a layer table, own stores with sales, competitors, shops."""
    rng = np.random.default_rng(5)
    lat, lng = rng.uniform(22.50, 22.62, 3000), rng.uniform(113.90, 114.05, 3000)
    stores = pd.DataFrame({"store_id": [f"S{i}" for i in range(8)],
                           "lat": rng.uniform(22.52, 22.60, 8), "lng": rng.uniform(113.92, 114.03, 8),
                           "floor_area_m2": rng.uniform(100, 400, 8),
                           "annual_sales": rng.uniform(5e6, 2e7, 8).round()})
    competitors = pd.DataFrame({"competitor_id": [f"C{i}" for i in range(5)],
                                "lat": rng.uniform(22.52, 22.60, 5),
                                "lng": rng.uniform(113.92, 114.03, 5),
                                "floor_area_m2": rng.uniform(100, 400, 5)})
    layers = build_layers(
        footfall=pd.DataFrame({"lat": lat, "lng": lng, "count": rng.integers(1, 50, 3000)}),
        population=pd.DataFrame({"lat": lat[:800], "lng": lng[:800],
                                 "population": rng.integers(100, 3000, 800)}),
        customers=pd.DataFrame({"lat": lat[:400], "lng": lng[:400],
                                "devices": rng.integers(1, 4, 400),
                                "ticket": rng.uniform(800, 2500, 400)}),
        stores=stores, competitors=competitors)
    cells = points_to_cells(lat[:6], lng[:6], 8)
    shop_lat, shop_lng = cells_to_latlng(cells)
    shops = pd.DataFrame({"shop_id": [f"R{i}" for i in range(6)], "lat": shop_lat,
                          "lng": shop_lng, "rating": [4.5, 2.0, 3.9, 1.5, 4.8, 3.0]})
    paths = {"layers": tmp_path / "layers.parquet", "stores": tmp_path / "stores.csv",
             "competitors": tmp_path / "competitors.csv", "shops": tmp_path / "shops.csv"}
    save_layers(layers, paths["layers"])
    stores.to_csv(paths["stores"], index=False)
    competitors.to_csv(paths["competitors"], index=False)
    shops.to_csv(paths["shops"], index=False)
    return paths
