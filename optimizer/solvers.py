"""Solver choice and one solve routine for mixed-integer programs held as sparse arrays.

Models build a :class:`MipProblem` (objective vector, sparse constraint matrix, bounds,
integrality) with numpy / scipy.sparse and call :func:`solve_mip`, which hands it to the chosen
solver and reads back status, objective, best bound, gap and time as a
:class:`optimizer.results.SolveReport`.

Solvers (``available_solvers()`` lists those installed here):

``highs``
    HiGHS through ``highspy``, model passed as CSC arrays in one call (fastest to build).
``pulp-highs``, ``pulp-cbc``
    HiGHS and COIN-OR CBC through PuLP (model built row by row; slower to build).
``scip``, ``cpsat``
    SCIP and CP-SAT through OR-Tools ``pywraplp``. CP-SAT needs every variable integer, so it is
    offered only for models whose continuous variables take integer values at an optimum.

The solver is chosen by argument, then ``XINGTU_SOLVER`` / :mod:`optimizer.settings`, then the first
available in :data:`SOLVER_PREFERENCE`.
"""

from __future__ import annotations

import importlib.util
import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from .errors import InputError, SolverError
from .results import SolveReport, SolveStatus, relative_gap
from .settings import load_settings

SolverName = Literal["highs", "pulp-highs", "pulp-cbc", "scip", "cpsat"]

SOLVER_PREFERENCE: tuple[str, ...] = ("highs", "pulp-highs", "pulp-cbc", "scip", "cpsat")
"""Order in which solvers are tried when none is named."""

_INF = math.inf


@dataclass
class MipProblem:
    """A mixed-integer linear program ``min/max c x + offset`` s.t. ``row_lower <= A x <= row_upper``.

    Parameters
    ----------
    objective
        Cost vector ``c`` (one entry per variable).
    matrix
        Constraint matrix ``A`` (rows x variables), any scipy.sparse format.
    row_lower, row_upper
        Row bounds; use ``-inf`` / ``inf`` for one-sided rows.
    col_lower, col_upper
        Variable bounds.
    integer
        Boolean mask of integer variables.
    sense
        ``"min"`` or ``"max"``.
    offset
        Constant added to the objective.
    integral_continuous
        True when every continuous variable takes an integer value at some optimum once the
        integer variables are fixed (lets CP-SAT treat them as integers).
    cutoff
        Only solutions strictly better than this value are wanted (a known plan's value);
        solvers that accept it prune with it, and "no better solution" comes back as
        status ``"infeasible"``. Others ignore it.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> problem = MipProblem(np.array([1.0, 1.0]), sp.csr_array([[1.0, 1.0]]), np.array([1.0]),
    ...                      np.array([np.inf]), np.zeros(2), np.ones(2), np.array([True, True]))
    >>> problem.n_variables
    2
    """

    objective: np.ndarray
    matrix: sp.sparray | sp.spmatrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray
    sense: Literal["min", "max"] = "min"
    offset: float = 0.0
    integral_continuous: bool = True
    cutoff: float | None = None
    start: np.ndarray | None = None

    @property
    def n_variables(self) -> int:
        """Number of variables (columns)."""
        return int(np.asarray(self.objective).shape[0])

    @property
    def n_rows(self) -> int:
        """Number of constraints (rows)."""
        return int(self.matrix.shape[0])


@dataclass(frozen=True)
class MipSolution:
    """Values of the variables (``None`` without a solution) and the solve report."""

    values: np.ndarray | None
    report: SolveReport


def _module_available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _pulp_solver(solver_class: str, **options: object) -> Any:
    """Return a PuLP solver object (PuLP 3.3 flags its bundled CBC as deprecated; it works)."""
    import pulp

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="PULP_CBC_CMD is deprecated", category=DeprecationWarning
        )
        return getattr(pulp, solver_class)(**options)


def _pulp_has(solver_class: str) -> bool:
    if not _module_available("pulp"):
        return False
    try:
        return bool(_pulp_solver(solver_class, msg=False).available())
    except Exception:  # a broken solver install counts as unavailable
        return False


def _ortools_has(backend: str) -> bool:
    if not _module_available("ortools"):
        return False
    from ortools.linear_solver import pywraplp

    return pywraplp.Solver.CreateSolver(backend) is not None


_AVAILABILITY = {
    "highs": lambda: _module_available("highspy"),
    "pulp-highs": lambda: _pulp_has("HiGHS"),
    "pulp-cbc": lambda: _pulp_has("PULP_CBC_CMD"),
    "scip": lambda: _ortools_has("SCIP"),
    "cpsat": lambda: _ortools_has("CP_SAT"),
}
_available_cache: list[str] | None = None


def available_solvers() -> list[str]:
    """Names of the solvers installed on this machine, in preference order.

    Returns
    -------
    list of str
        A subset of :data:`SOLVER_PREFERENCE`.

    Examples
    --------
    >>> "highs" in available_solvers()
    True
    """
    global _available_cache
    if _available_cache is None:
        _available_cache = [name for name in SOLVER_PREFERENCE if _AVAILABILITY[name]()]
    return list(_available_cache)


def resolve_limits(time_limit: float | None, gap: float | None) -> tuple[float | None, float]:
    """Return the time limit and relative gap of a solve, checked.

    The time limit and relative gap of a solve: the arguments, or the settings' defaults
    where they are ``None``, checked.

    Raises
    ------
    InputError
        A time limit that is not positive, or a negative gap.

    Examples
    --------
    >>> resolve_limits(30, 0.001)
    (30, 0.001)
    """
    current = load_settings()
    limit = current.time_limit if time_limit is None else time_limit
    mip_gap = current.mip_gap if gap is None else gap
    if limit is not None and limit <= 0:
        raise InputError(f"`time_limit` is {limit}; give a positive number of seconds or None.")
    if mip_gap < 0:
        raise InputError(f"`gap` is {mip_gap}; give a relative gap >= 0 such as 0.0001.")
    return limit, mip_gap


def resolve_solver(solver: str | None = None) -> str:
    """Pick the solver: the argument, then the settings default, then the first available.

    Parameters
    ----------
    solver
        A name from :func:`available_solvers`, case-insensitive; ``None`` for the default.

    Returns
    -------
    str
        The solver name that will run.

    Raises
    ------
    InputError
        When the name is unknown or that solver is not installed; the message lists the
        available ones.

    Examples
    --------
    >>> resolve_solver("HiGHS")
    'highs'
    """
    available = available_solvers()
    if not available:
        raise SolverError("No MIP solver is installed; install `highspy` (pip install highspy).")
    chosen = solver if solver is not None else load_settings().solver
    if chosen is None:
        return available[0]
    name = str(chosen).strip().lower().replace("_", "-")
    name = {"cbc": "pulp-cbc", "cp-sat": "cpsat", "highspy": "highs"}.get(name, name)
    if name not in available:
        source = "`solver`" if solver is not None else "the setting `XINGTU_SOLVER`"
        known = "unknown" if name not in SOLVER_PREFERENCE else "not installed"
        raise InputError(
            f"{source} is {chosen!r}, which is {known}; "
            f"choose one of the available solvers: {', '.join(available)}."
        )
    return name


def check_solver_fits(name: str, integral: bool) -> None:
    """Raise :class:`SolverError` when ``name`` cannot solve a model with fractional values.

    CP-SAT needs every variable integer; ``integral`` says whether the model's continuous
    variables take integer values at an optimum.

    Examples
    --------
    >>> check_solver_fits("highs", False)
    """
    if name == "cpsat" and not integral:
        raise SolverError(
            "CP-SAT needs every variable integer and this model has fractional variables; "
            "choose `solver='highs'` (or another of: "
            f"{', '.join(s for s in available_solvers() if s != 'cpsat')})."
        )


@dataclass(frozen=True)
class SolveProgress:
    """A snapshot of a MIP solve in progress.

    Attributes
    ----------
    seconds
        Time since the solver started.
    objective
        Best plan found so far, or ``None`` before the first one.
    bound
        Best proven bound so far, or ``None`` before there is one.
    gap
        Relative gap between the two, or ``None`` while either is missing.
    """

    seconds: float
    objective: float | None
    bound: float | None
    gap: float | None


ProgressCallback = Callable[[SolveProgress], None]
_progress_callback: ContextVar[ProgressCallback | None] = ContextVar(
    "xingtu_solve_progress", default=None)
PROGRESS_INTERVAL_SECONDS = 0.5
"""Least time between two progress reports that bring no new plan."""


@contextmanager
def solve_progress(callback: ProgressCallback) -> Iterator[None]:
    """Report the progress of every HiGHS MIP solved inside the ``with`` block.

    ``callback`` receives a :class:`SolveProgress` at each better plan and at most every
    :data:`PROGRESS_INTERVAL_SECONDS` otherwise, so a user interface can show the gap so far.
    Solvers other than ``highs`` run without reports.

    Parameters
    ----------
    callback
        Called from the solving thread; keep it quick.

    Examples
    --------
    >>> seen = []
    >>> with solve_progress(seen.append):
    ...     pass
    >>> seen
    []
    """
    token = _progress_callback.set(callback)
    try:
        yield
    finally:
        _progress_callback.reset(token)


def progress_reporter() -> Callable[..., None]:
    """Return a progress reporter for a solver of our own.

    A function that passes progress of a solver of our own to the enclosing
    :func:`solve_progress` block, if any (the same throttle as for HiGHS).

    Call it as ``report(seconds, objective, bound, new_plan=...)``; the gap is derived here.

    Examples
    --------
    >>> seen = []
    >>> with solve_progress(seen.append):
    ...     report = progress_reporter()
    ...     report(1.0, 110.0, 100.0, new_plan=True)
    ...     report(1.1, 110.0, 101.0)
    >>> [(p.objective, p.bound, round(p.gap, 4)) for p in seen]
    [(110.0, 100.0, 0.0909)]
    """
    callback = _progress_callback.get()
    due = _report_throttle()

    def report(seconds: float, objective: float | None, bound: float | None, *,
               new_plan: bool = False) -> None:
        if callback is None or not due(seconds, new_plan):
            return
        callback(SolveProgress(seconds=seconds, objective=objective, bound=bound,
                               gap=relative_gap(objective, bound)))

    return report


def _report_throttle() -> Callable[[float, bool], bool]:
    """Return a throttle that says whether a progress report goes out.

    Whether a report at ``seconds`` goes out: always with a new plan, otherwise only when
    :data:`PROGRESS_INTERVAL_SECONDS` have passed since the last one that did.
    """
    last_report = [-math.inf]

    def due(seconds: float, new_plan: bool) -> bool:
        if not new_plan and seconds - last_report[0] < PROGRESS_INTERVAL_SECONDS:
            return False
        last_report[0] = seconds
        return True

    return due


def _watch_progress(highs: Any) -> None:
    callback = _progress_callback.get()
    if callback is None:
        return
    due = _report_throttle()

    def finite(value: float) -> float | None:
        return float(value) if math.isfinite(value) else None

    def report(event: Any, *, new_plan: bool) -> None:
        data = event.data_out
        if not due(data.running_time, new_plan):
            return
        objective = finite(data.objective_function_value) if math.isfinite(
            data.mip_gap) or new_plan else None
        callback(SolveProgress(seconds=float(data.running_time), objective=objective,
                               bound=finite(data.mip_dual_bound), gap=finite(data.mip_gap)))

    highs.cbMipImprovingSolution.subscribe(lambda event: report(event, new_plan=True))
    highs.cbMipInterrupt.subscribe(lambda event: report(event, new_plan=False))


def solve_mip(
    problem: MipProblem,
    solver: str | None = None,
    time_limit: float | None = None,
    gap: float | None = None,
) -> MipSolution:
    """Solve a :class:`MipProblem` with the chosen solver.

    Parameters
    ----------
    problem
        The model as arrays.
    solver
        Solver name (see :func:`resolve_solver`).
    time_limit
        Seconds; ``None`` uses :attr:`optimizer.settings.Settings.time_limit`.
    gap
        Relative MIP gap; ``None`` uses :attr:`optimizer.settings.Settings.mip_gap`.

    Returns
    -------
    MipSolution
        Variable values and the report. Status ``"optimal"`` only when the solver proved the
        gap; ``"feasible"`` for a solution stopped early (time limit).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> problem = MipProblem(np.array([2.0, 3.0]), sp.csr_array([[1.0, 1.0]]), np.array([1.0]),
    ...                      np.array([np.inf]), np.zeros(2), np.ones(2), np.array([True, True]))
    >>> solve_mip(problem, "highs").report.objective
    2.0
    """
    name = resolve_solver(solver)
    limit, mip_gap = resolve_limits(time_limit, gap)
    backend = {
        "highs": _solve_highspy,
        "pulp-highs": _solve_pulp,
        "pulp-cbc": _solve_pulp,
        "scip": _solve_ortools,
        "cpsat": _solve_ortools,
    }[name]
    return backend(problem, name, limit, mip_gap, load_settings().threads)


def _report(
    status: SolveStatus,
    objective: float | None,
    bound: float | None,
    seconds: float,
    solver: str,
    message: str = "",
) -> SolveReport:
    if status not in ("optimal", "feasible"):
        objective = None
    gap = relative_gap(objective, bound)
    if status == "optimal" and gap is None and objective is not None and bound is None:
        message = (message + " " if message else "") + "This solver reports no bound."
    return SolveReport(status, objective, bound, gap, seconds, solver, message.strip())


# --- HiGHS through highspy -------------------------------------------------------------------


def _solve_highspy(
    problem: MipProblem, name: str, limit: float | None, mip_gap: float, threads: int
) -> MipSolution:
    import highspy

    highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("mip_rel_gap", float(mip_gap))
    # No "threads" option: HiGHS keeps one global thread pool per process and refuses a run
    # whose count differs from the pool's (e.g. after PuLP ran HiGHS); its default follows it.
    if limit is not None:
        highs.setOptionValue("time_limit", float(limit))
    if problem.cutoff is not None:
        highs.setOptionValue("objective_bound", float(problem.cutoff))
        # A plan at the cutoff is known already: spend the effort on the bound, not on plans.
        highs.setOptionValue("mip_heuristic_effort", 0.0)
    matrix = sp.csc_array(problem.matrix)
    matrix.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_ = problem.n_variables
    lp.num_row_ = problem.n_rows
    lp.col_cost_ = np.asarray(problem.objective, dtype=float)
    lp.col_lower_ = np.asarray(problem.col_lower, dtype=float)
    lp.col_upper_ = np.asarray(problem.col_upper, dtype=float)
    lp.row_lower_ = np.asarray(problem.row_lower, dtype=float)
    lp.row_upper_ = np.asarray(problem.row_upper, dtype=float)
    lp.offset_ = float(problem.offset)
    lp.sense_ = highspy.ObjSense.kMaximize if problem.sense == "max" else highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(float)
    lp.a_matrix_.num_col_ = problem.n_variables
    lp.a_matrix_.num_row_ = problem.n_rows
    is_mip = bool(np.any(problem.integer))
    if is_mip:
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in np.asarray(problem.integer, dtype=bool)
        ]
    started = time.perf_counter()
    highs.passModel(lp)
    if is_mip and problem.start is not None:
        start = highspy.HighsSolution()
        start.col_value = np.asarray(problem.start, dtype=float).tolist()
        start.value_valid = True
        highs.setSolution(start)
    if is_mip:
        _watch_progress(highs)
    run_status = highs.run()
    seconds = time.perf_counter() - started
    model_status = highs.getModelStatus()
    info = highs.getInfo()
    status_enum = highspy.HighsModelStatus
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    objective = float(info.objective_function_value) if has_solution else None
    if is_mip:
        bound = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else None
    else:
        bound = objective
    message = highs.modelStatusToString(model_status)
    if run_status == highspy.HighsStatus.kError:
        message = f"HiGHS reported an error ({message})"
    if model_status == status_enum.kOptimal:
        status: SolveStatus = "optimal"
    elif model_status == status_enum.kInfeasible or (
        model_status == status_enum.kObjectiveBound and not has_solution
    ):
        status = "infeasible"
    elif model_status in (status_enum.kUnbounded, status_enum.kUnboundedOrInfeasible):
        status = "unbounded"
    elif has_solution:
        status = "feasible"
    else:
        status = "not_solved"
    values = np.asarray(highs.getSolution().col_value, dtype=float) if has_solution else None
    return MipSolution(values, _report(status, objective, bound, seconds, name, message))


# --- PuLP (HiGHS and CBC) ----------------------------------------------------------------------


def _solve_pulp(
    problem: MipProblem, name: str, limit: float | None, mip_gap: float, threads: int
) -> MipSolution:
    import pulp

    sense = pulp.LpMaximize if problem.sense == "max" else pulp.LpMinimize
    model = pulp.LpProblem("xingtu", sense)
    lower = np.asarray(problem.col_lower, dtype=float)
    upper = np.asarray(problem.col_upper, dtype=float)
    integer = np.asarray(problem.integer, dtype=bool)
    variables = [
        model.add_variable(
            f"v{index}",
            lowBound=None if not math.isfinite(lower[index]) else float(lower[index]),
            upBound=None if not math.isfinite(upper[index]) else float(upper[index]),
            cat=pulp.LpInteger if integer[index] else pulp.LpContinuous,
        )
        for index in range(problem.n_variables)
    ]
    cost = np.asarray(problem.objective, dtype=float)
    nonzero = np.flatnonzero(cost)
    model += (
        pulp.LpAffineExpression([(variables[j], float(cost[j])) for j in nonzero])
        + float(problem.offset),
        "objective",
    )
    rows = sp.csr_array(problem.matrix)
    for r in range(problem.n_rows):
        start, end = rows.indptr[r], rows.indptr[r + 1]
        expression = pulp.LpAffineExpression(
            [
                (variables[j], float(v))
                for j, v in zip(rows.indices[start:end], rows.data[start:end], strict=True)
            ]
        )
        low, high = float(problem.row_lower[r]), float(problem.row_upper[r])
        if low == high:
            model += expression == low
            continue
        if math.isfinite(low):
            model += expression >= low
        if math.isfinite(high):
            model += expression <= high
    options: dict = {"msg": False, "gapRel": float(mip_gap)}
    if limit is not None:
        options["timeLimit"] = float(limit)
    if name == "pulp-highs":
        engine = pulp.HiGHS(**options)  # threads left to HiGHS's global pool (see above)
    else:
        engine = _pulp_solver("PULP_CBC_CMD", threads=threads, **options)
    started = time.perf_counter()
    model.solve(engine)
    seconds = time.perf_counter() - started
    solution_status = model.sol_status
    has_solution = solution_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    objective = float(pulp.value(model.objective)) if has_solution else None
    bound = None
    if name == "pulp-highs" and getattr(model, "solverModel", None) is not None:
        info = model.solverModel.getInfo()
        if np.any(integer) and math.isfinite(info.mip_dual_bound):
            # PuLP passes a maximisation to HiGHS as the minimisation of -objective.
            bound = float(info.mip_dual_bound) * (-1.0 if problem.sense == "max" else 1.0)
        elif not np.any(integer):
            bound = objective
    if solution_status == pulp.LpSolutionOptimal:
        status: SolveStatus = "optimal"
    elif has_solution:
        status = "feasible"
    elif model.status == pulp.LpStatusInfeasible or solution_status == pulp.LpSolutionInfeasible:
        status = "infeasible"
    elif model.status == pulp.LpStatusUnbounded:
        status = "unbounded"
    else:
        status = "not_solved"
    values = None
    if has_solution:
        values = np.array([v.varValue if v.varValue is not None else 0.0 for v in variables])
    message = pulp.LpStatus[model.status]
    return MipSolution(values, _report(status, objective, bound, seconds, name, message))


# --- OR-Tools (SCIP and CP-SAT through pywraplp) -----------------------------------------------


def _solve_ortools(
    problem: MipProblem, name: str, limit: float | None, mip_gap: float, threads: int
) -> MipSolution:
    from ortools.linear_solver import pywraplp

    integer = np.asarray(problem.integer, dtype=bool)
    if name == "cpsat":
        check_solver_fits(name, problem.integral_continuous or bool(integer.all()))
        integer = np.ones_like(integer)
    engine = pywraplp.Solver.CreateSolver("CP_SAT" if name == "cpsat" else "SCIP")
    if engine is None:  # pragma: no cover - guarded by available_solvers
        raise SolverError(f"OR-Tools could not create the {name} solver.")
    if limit is not None:
        engine.SetTimeLimit(int(limit * 1000))
    if name == "cpsat":
        engine.SetNumThreads(int(threads))
    infinity = engine.infinity()
    lower = np.where(np.isfinite(problem.col_lower), problem.col_lower, -infinity)
    upper = np.where(np.isfinite(problem.col_upper), problem.col_upper, infinity)
    variables = [
        engine.IntVar(float(lower[j]), float(upper[j]), f"v{j}")
        if integer[j]
        else engine.NumVar(float(lower[j]), float(upper[j]), f"v{j}")
        for j in range(problem.n_variables)
    ]
    rows = sp.csr_array(problem.matrix)
    row_lower = np.where(np.isfinite(problem.row_lower), problem.row_lower, -infinity)
    row_upper = np.where(np.isfinite(problem.row_upper), problem.row_upper, infinity)
    for r in range(problem.n_rows):
        constraint = engine.RowConstraint(float(row_lower[r]), float(row_upper[r]), "")
        start, end = rows.indptr[r], rows.indptr[r + 1]
        for j, v in zip(rows.indices[start:end], rows.data[start:end], strict=True):
            constraint.SetCoefficient(variables[j], float(v))
    objective = engine.Objective()
    cost = np.asarray(problem.objective, dtype=float)
    for j in np.flatnonzero(cost):
        objective.SetCoefficient(variables[j], float(cost[j]))
    objective.SetOffset(float(problem.offset))
    if problem.sense == "max":
        objective.SetMaximization()
    else:
        objective.SetMinimization()
    parameters = pywraplp.MPSolverParameters()
    parameters.SetDoubleParam(parameters.RELATIVE_MIP_GAP, float(mip_gap))
    started = time.perf_counter()
    result = engine.Solve(parameters)
    seconds = time.perf_counter() - started
    has_solution = result in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE)
    value = float(objective.Value()) if has_solution else None
    bound = float(objective.BestBound()) if has_solution else None
    if bound is not None and not math.isfinite(bound):
        bound = None
    statuses: dict[Any, SolveStatus] = {
        pywraplp.Solver.OPTIMAL: "optimal",
        pywraplp.Solver.FEASIBLE: "feasible",
        pywraplp.Solver.INFEASIBLE: "infeasible",
        pywraplp.Solver.UNBOUNDED: "unbounded",
    }
    status = statuses.get(result, "not_solved")
    values = np.array([v.solution_value() for v in variables]) if has_solution else None
    return MipSolution(values, _report(status, value, bound, seconds, name))
