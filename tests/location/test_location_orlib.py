"""OR-Library p-median instances (Beasley 1990) solved to their published optima.

The fast instances run here; ``bench/location.py`` runs all 40 with timings.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from optimizer.location import PMedian
from optimizer.solvers import available_solvers

BENCH = Path(__file__).resolve().parents[2] / "bench"
_spec = importlib.util.spec_from_file_location("xingtu_bench_orlib", BENCH / "orlib.py")
orlib = importlib.util.module_from_spec(_spec)
sys.modules["xingtu_bench_orlib"] = orlib  # dataclasses look their module up there
_spec.loader.exec_module(orlib)

FAST = [f"pmed{k}" for k in (1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 13, 15, 19, 20, 21)]


def test_reader_last_edge_wins():
    # pmed1 repeats edges; keeping the minimum instead of the last gives 5718, not 5819.
    instance = orlib.read_pmed(orlib.DATA_DIR / "pmed1.txt")
    assert instance.distance.shape == (100, 100)
    assert instance.p == 5
    assert instance.optimum == 5819
    assert np.allclose(instance.distance, instance.distance.T)
    assert np.all(np.diag(instance.distance) == 0)
    assert np.isfinite(instance.distance).all()


def test_optima_table_has_all_forty():
    optima = orlib.read_optima()
    assert len(optima) == 40
    assert optima["pmed40"] == 5128


@pytest.mark.parametrize("name", FAST)
def test_pmed_reaches_published_optimum(name):
    instance = orlib.read_pmed(orlib.DATA_DIR / f"{name}.txt")
    n = len(instance.distance)
    result = PMedian.from_cost_matrix(instance.distance, np.ones(n), p=instance.p).solve(
        solver="highs", gap=1e-9
    )
    assert result.status == "optimal"
    assert result.objective == pytest.approx(instance.optimum)
    assert len(result.sites) == instance.p
    assert instance.distance[:, result.sites].min(axis=1).sum() == pytest.approx(instance.optimum)


# CP-SAT is left out: it has no LP bound to speak of and does not prove pmed2 within minutes.
@pytest.mark.parametrize("solver", [s for s in available_solvers() if s not in ("highs", "cpsat")])
def test_pmed2_with_every_other_solver(solver, monkeypatch):
    # The Lagrangian branch-and-bound proves pmed2 alone; give it no time so the MIP runs.
    monkeypatch.setattr(PMedian, "tree_share", 0.0)
    instance = orlib.read_pmed(orlib.DATA_DIR / "pmed2.txt")
    result = PMedian.from_cost_matrix(instance.distance, np.ones(100), p=instance.p).solve(
        solver=solver, gap=1e-9, time_limit=60
    )
    assert result.status == "optimal"
    assert result.objective == pytest.approx(instance.optimum)
    assert result.report.solver == solver
    assert "round" in result.report.message, "the MIP ran (not proven by the presolve alone)"
