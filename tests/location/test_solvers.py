"""Solver choice, settings and the array MIP interface, run against every available solver."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import scipy.sparse as sp

from optimizer.errors import InputError, SolverError
from optimizer.settings import Settings, load_settings
from optimizer.solvers import (
    SOLVER_PREFERENCE,
    MipProblem,
    available_solvers,
    resolve_solver,
    solve_mip,
)

SOLVERS = available_solvers()


def knapsack() -> MipProblem:
    """Max 5a + 4b + 3c  s.t. 2a + 3b + c <= 5, a, b, c binary: optimum 9 (a, c) ... or (a, b)."""
    return MipProblem(
        objective=np.array([5.0, 4.0, 3.0]),
        matrix=sp.csr_array(np.array([[2.0, 3.0, 1.0]])),
        row_lower=np.array([-np.inf]),
        row_upper=np.array([5.0]),
        col_lower=np.zeros(3),
        col_upper=np.ones(3),
        integer=np.ones(3, dtype=bool),
        sense="max",
    )


def test_available_solvers_are_known_and_ordered():
    assert SOLVERS, "at least one solver must be installed"
    assert set(SOLVERS) <= set(SOLVER_PREFERENCE)
    assert SOLVERS == [name for name in SOLVER_PREFERENCE if name in SOLVERS]


def test_unknown_solver_lists_available_ones():
    with pytest.raises(InputError) as error:
        resolve_solver("gurobi-deluxe")
    message = str(error.value)
    assert "gurobi-deluxe" in message
    for name in SOLVERS:
        assert name in message


def test_solver_choice_order(monkeypatch):
    monkeypatch.delenv("XINGTU_SOLVER", raising=False)
    assert resolve_solver() == SOLVERS[0]
    monkeypatch.setenv("XINGTU_SOLVER", SOLVERS[-1])
    assert resolve_solver() == SOLVERS[-1]
    assert resolve_solver(SOLVERS[0]) == SOLVERS[0]  # the argument wins over the setting
    monkeypatch.setenv("XINGTU_SOLVER", "nonsense")
    with pytest.raises(InputError, match="XINGTU_SOLVER"):
        resolve_solver()


def test_aliases():
    if "pulp-cbc" in SOLVERS:
        assert resolve_solver("CBC") == "pulp-cbc"
    assert resolve_solver("HiGHS") == "highs"


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("XINGTU_TIME_LIMIT", "12.5")
    monkeypatch.setenv("XINGTU_MIP_GAP", "0.01")
    current = load_settings()
    assert current.time_limit == 12.5
    assert current.mip_gap == 0.01
    assert current.h3_resolution == Settings().h3_resolution == 8
    monkeypatch.setenv("XINGTU_TIME_LIMIT", "0")
    assert load_settings().time_limit is None


def test_bad_environment_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("XINGTU_MIP_GAP", "tight")
    with pytest.raises(InputError, match="XINGTU_MIP_GAP"):
        load_settings()


def test_bad_time_limit_and_gap():
    with pytest.raises(InputError, match="time_limit"):
        solve_mip(knapsack(), "highs", time_limit=-1)
    with pytest.raises(InputError, match="gap"):
        solve_mip(knapsack(), "highs", gap=-0.1)


@pytest.mark.parametrize("solver", SOLVERS)
def test_knapsack_optimum(solver):
    solution = solve_mip(knapsack(), solver)
    report = solution.report
    assert report.status == "optimal"
    assert report.objective == pytest.approx(9.0)
    assert report.solver == solver
    assert report.solve_seconds >= 0
    values = np.round(solution.values)
    assert values @ np.array([2.0, 3.0, 1.0]) <= 5
    assert values @ np.array([5.0, 4.0, 3.0]) == pytest.approx(9.0)
    if report.bound is not None:
        assert report.bound >= report.objective - 1e-6
        assert report.gap == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("solver", SOLVERS)
def test_infeasible_is_reported(solver):
    problem = knapsack()
    problem.row_lower = np.array([7.0])  # 2a + 3b + c >= 7 cannot hold with binaries (max 6)
    problem.row_upper = np.array([np.inf])
    solution = solve_mip(problem, solver)
    assert solution.values is None
    assert solution.report.status in ("infeasible", "not_solved")
    assert solution.report.objective is None


def test_cpsat_refuses_fractional_models():
    if "cpsat" not in SOLVERS:
        pytest.skip("CP-SAT not installed")
    problem = knapsack()
    problem.integer = np.array([True, True, False])
    problem.integral_continuous = False
    with pytest.raises(SolverError, match="highs"):
        solve_mip(problem, "cpsat")


def test_highs_after_pulp_highs_in_the_same_process():
    # HiGHS keeps one thread pool per process; a run must not fail because PuLP started it.
    if "pulp-highs" not in SOLVERS:
        pytest.skip("PuLP HiGHS not installed")
    assert solve_mip(knapsack(), "pulp-highs").report.status == "optimal"
    assert solve_mip(knapsack(), "highs").report.status == "optimal"
    assert solve_mip(knapsack(), "pulp-highs").report.status == "optimal"


def test_solve_progress_reports_plans_and_bounds_while_highs_runs():
    """A maximisation MIP long enough to report: every plan is below every later bound."""
    from optimizer.solvers import MipProblem, SolveProgress, solve_mip, solve_progress

    rng = np.random.default_rng(0)
    n_items, n_rows = 200, 30
    problem = MipProblem(
        objective=rng.integers(10, 60, n_items).astype(float),
        matrix=sp.csr_array(rng.integers(10, 60, (n_rows, n_items)).astype(float)),
        row_lower=np.full(n_rows, -np.inf), row_upper=np.full(n_rows, 2000.0),
        col_lower=np.zeros(n_items), col_upper=np.ones(n_items),
        integer=np.ones(n_items, dtype=bool), sense="max")
    seen: list[SolveProgress] = []
    with solve_progress(seen.append):
        solution = solve_mip(problem, solver="highs", time_limit=3, gap=1e-4)
    plans = [p for p in seen if p.objective is not None]
    assert plans, "no progress was reported"
    assert all(later.seconds >= earlier.seconds for earlier, later in pairwise(seen))
    for snapshot in seen:
        if snapshot.objective is not None and snapshot.bound is not None:
            assert snapshot.bound >= snapshot.objective - 1e-6
            assert snapshot.objective <= solution.report.objective + 1e-6
    # Outside the block nothing is reported.
    seen.clear()
    solve_mip(problem, solver="highs", time_limit=1, gap=1e-2)
    assert seen == []
