"""The weekly plan job: inputs and settings in; a fingerprinted plan out, saved and exported.

The CLI (``xingtu allocate``, ``xingtu demo``), the notebooks and the app's Allocation page all
call this module, so a plan made by one loads in the other with the same fingerprint, the same
sheets, the same file name and the same warehouse figures.

- :func:`next_week` is the week after the sales history (the default week to plan);
- :func:`plan_fingerprint` is the one fingerprint of a week's inputs and settings;
- :func:`run_week` plans the week (:func:`optimizer.allocation.plan_week`) and returns a
  :class:`WeeklyRun`, whose :attr:`~WeeklyRun.record` is what is saved;
- :func:`save_and_write` commits the plan's files and its database row together
  (:mod:`xingtu.jobs.outputs`); :func:`load_record` reads a saved plan back;
- :func:`plan_sheets` and :func:`plan_file_name` give the sheets and file name of any record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.allocation import PlanSettings, WeeklyPlan, input_fingerprint, plan_week
from optimizer.results import SolveReport

from ..database import Database, json_ready
from ..export import TABLE_FORMATS, check_week_label, render_table, render_workbook, week_file_name
from .outputs import Writer, claim_outputs, commit_outputs
from .progress import Stage
from .progress import no_stage as _no_stage

INPUT_KINDS = ("stores", "warehouses", "skus", "sales", "stock", "lanes")
"""Tables of a week; all but ``lanes`` are required (lanes are derived from distance)."""

REQUIRED_KINDS = INPUT_KINDS[:-1]

SHEETS = ("plan", "kpis", "warehouses")
"""Sheets of a plan workbook, in order (for ``.csv``/``.parquet``: ``plan``, then
``<name>-kpis`` and ``<name>-warehouses`` files next to it)."""

PLAN_FORMATS = (".xlsx", ".csv", ".parquet")

WAREHOUSES_KEY = "warehouses"
"""Key of the warehouse figures inside a saved plan's KPIs (records: one dict per warehouse)."""

@dataclass(frozen=True)
class PlanRecord:
    """A weekly plan as saved: what a front end shows, exports and compares.

    Attributes
    ----------
    week
        ISO week label.
    fingerprint
        :func:`plan_fingerprint` of the inputs and settings the plan was made from.
    lines
        The plan lines (transfers and replenishments).
    kpis
        Key figures as stored (JSON values), with the warehouse figures under ``"warehouses"``.
    report
        The solve report as stored (a dict of :class:`~optimizer.results.SolveReport` fields).
    """

    week: str
    fingerprint: str
    lines: pd.DataFrame
    kpis: dict[str, Any]
    report: dict[str, Any]

    @property
    def warehouses(self) -> pd.DataFrame:
        """The warehouse figures (throughput used, units shipped, ...), one row per warehouse."""
        return pd.DataFrame(self.kpis.get(WAREHOUSES_KEY, []))

    @property
    def solve_report(self) -> SolveReport:
        """The stored report as a :class:`~optimizer.results.SolveReport`."""
        fields = SolveReport.__dataclass_fields__
        return SolveReport(**{k: v for k, v in self.report.items() if k in fields})

    def sheets(self) -> dict[str, pd.DataFrame]:
        """Return the plan's sheets: :data:`SHEETS` in order."""
        return plan_sheets(self)

    def file_name(self, suffix: str = ".xlsx") -> str:
        """Return the plan file's default name, e.g. ``plan-2026-W02.xlsx``."""
        return plan_file_name(self.week, suffix)

    def summary(self) -> str:
        """Return what a planner reads after the run: lines, units, trucks, stockouts, solve."""
        k = self.kpis
        return "\n".join([
            f"Week {self.week}: {len(self.lines):,} plan lines, "
            f"{k['units_transferred_between_stores']:,.0f} units between stores, "
            f"{k['units_replenished_from_warehouses']:,.0f} units from warehouses, "
            f"{k['trucks']:,.0f} trucks.",
            f"Expected stockouts next week: {k['expected_stockout_units_before']:,.0f} units if "
            f"nothing moves, {k['expected_stockout_units_after']:,.0f} with the plan "
            f"({k['expected_stockout_reduction']:.0%} fewer).",
            self.solve_report.summary(objective="cost"),
        ])


@dataclass(frozen=True)
class WeeklyRun:
    """A finished weekly plan and its record.

    Attributes
    ----------
    plan
        The library's :class:`~optimizer.allocation.WeeklyPlan` (problem and result included).
    record
        What is saved and exported (:class:`PlanRecord`).
    settings
        The settings the plan was made with.
    """

    plan: WeeklyPlan
    record: PlanRecord
    settings: PlanSettings


def next_week(sales: pd.DataFrame) -> str:
    """Return the first ISO week after the last sales date: the week to plan by default.

    Examples
    --------
    >>> next_week(pd.DataFrame({"date": ["2025-12-31"]}))
    '2026-W02'
    >>> next_week(pd.DataFrame({"date": ["2025-12-28"]}))  # a Sunday: the next Monday's week
    '2026-W01'
    """
    last = pd.Timestamp(pd.to_datetime(sales["date"]).max()).normalize()
    monday = last + pd.Timedelta(days=7 - last.weekday())
    year, number, _ = monday.isocalendar()
    return f"{year}-W{number:02d}"


def plan_file_name(week: str, suffix: str = ".xlsx") -> str:
    """Return the plan file name of a week, e.g. ``plan-2026-W02.xlsx`` (the week is checked).

    Examples
    --------
    >>> plan_file_name("2026-W02")
    'plan-2026-W02.xlsx'
    """
    return week_file_name("plan", week, suffix)


def plan_fingerprint(tables: Mapping[str, pd.DataFrame | None], week: str,
                     settings: PlanSettings) -> str:
    """Return the one fingerprint of a week's plan: sha256 of the inputs, the week, the settings.

    Parameters
    ----------
    tables
        The input tables by kind (:data:`INPUT_KINDS`); ``None`` entries (no lanes file) are
        left out. Geometry counts as its point coordinates, row and column order do not count.
    week
        ISO week label.
    settings
        The planning settings (every field, lane costs included).

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> t = {"skus": pd.DataFrame({"sku": ["A", "B"]})}
    >>> plan_fingerprint(t, "2026-W02", PlanSettings()) == plan_fingerprint(
    ...     {"skus": t["skus"].iloc[::-1]}, "2026-W02", PlanSettings())
    True
    >>> plan_fingerprint(t, "2026-W02", PlanSettings()) == plan_fingerprint(
    ...     t, "2026-W02", PlanSettings(service_level=0.9))
    False
    """
    present = {kind: table for kind, table in tables.items() if table is not None}
    return input_fingerprint(present, {"week": check_week_label(week),
                                       "settings": asdict(settings)})


def run_week(tables: Mapping[str, pd.DataFrame | None], *, week: str,
             settings: PlanSettings | None = None, sources: Mapping[str, str] | None = None,
             workers: int = 1, stage: Stage = _no_stage) -> WeeklyRun:
    """Plan a week and fingerprint it: the one way a weekly plan is made.

    Parameters
    ----------
    tables
        ``stores``, ``warehouses``, ``skus``, ``sales``, ``stock`` and optionally ``lanes``.
    week
        ISO week label (``2026-W02``); only sales before it are used.
    settings
        Planning settings; :class:`~optimizer.allocation.PlanSettings` defaults when ``None``.
    sources
        Table kind to file name, for error messages.
    workers
        Processes for the solve (not part of the fingerprint: it changes the speed, not the week).
    stage
        Told each stage's name as it starts.

    Returns
    -------
    WeeklyRun
    """
    settings = settings or PlanSettings()
    check_week_label(week)
    missing = [kind for kind in REQUIRED_KINDS if tables.get(kind) is None]
    if missing:
        from optimizer.errors import InputError

        raise InputError("Missing inputs: " + ", ".join(f"`{m}`" for m in missing)
                         + "; give every table (or use the demo region).")
    stage("Fingerprinting the inputs")
    fingerprint = plan_fingerprint(tables, week, settings)
    stage("Forecasting demand, setting reserves and solving the transfer model")
    plan = plan_week(**{kind: tables[kind] for kind in REQUIRED_KINDS}, lanes=tables.get("lanes"),
                     week=week, settings=settings, sources=dict(sources or {}), workers=workers)
    kpis = json_ready({**plan.kpis,
                       WAREHOUSES_KEY: plan.warehouses.to_dict(orient="records")})
    record = PlanRecord(week=week, fingerprint=fingerprint, lines=plan.lines, kpis=kpis,
                        report=json_ready(asdict(plan.report)))
    return WeeklyRun(plan=plan, record=record, settings=settings)


def plan_sheets(record: PlanRecord) -> dict[str, pd.DataFrame]:
    """Return a plan's sheets (:data:`SHEETS`): the lines, the KPIs as text, the warehouses.

    The same for a plan just made and for one loaded from the database.
    """
    kpis = {key: value for key, value in record.kpis.items() if key != WAREHOUSES_KEY}
    kpi_table = pd.DataFrame({"kpi": list(kpis), "value": [str(v) for v in kpis.values()]})
    return dict(zip(SHEETS, (record.lines, kpi_table, record.warehouses), strict=True))


def plan_writers(record: PlanRecord, path: Path) -> dict[Path, Writer]:
    """Return the files of a plan at ``path`` and how to write each.

    ``.xlsx``: one workbook with the :data:`SHEETS`. ``.csv`` / ``.parquet``: the plan lines at
    ``path``, the KPIs and warehouses at ``<name>-kpis<ext>`` and ``<name>-warehouses<ext>``.
    """
    suffix = path.suffix.lower()
    check_plan_path(path)
    sheets = plan_sheets(record)
    if suffix == ".xlsx":
        return {path: lambda tmp: render_workbook(sheets, tmp)}
    writers: dict[Path, Writer] = {}
    for name, table in sheets.items():
        target = path if name == SHEETS[0] else path.with_name(
            f"{path.stem}-{name}{path.suffix}")
        writers[target] = partial(_render_into, table, suffix=suffix)
    return writers


def check_plan_path(path: Path) -> None:
    """Raise an input error unless ``path`` ends in .xlsx, .csv or .parquet."""
    if path.suffix.lower() not in PLAN_FORMATS or path.suffix.lower() not in TABLE_FORMATS:
        from optimizer.errors import InputError

        raise InputError(f"`--out` must end in .xlsx, .csv or .parquet, got {path.name!r}.")


def plan_paths(path: Path) -> list[Path]:
    """Return every file a plan at ``path`` consists of (see :func:`plan_writers`)."""
    check_plan_path(path)
    if path.suffix.lower() == ".xlsx":
        return [path]
    return [path] + [path.with_name(f"{path.stem}-{name}{path.suffix}") for name in SHEETS[1:]]


def save_record(database: Database, record: PlanRecord) -> int:
    """Save a plan record in the database; returns the plan id."""
    return database.save_plan(record.week, record.fingerprint, record.lines, record.kpis,
                              record.report)


def load_record(database: Database, week: str | int) -> PlanRecord:
    """Load the latest saved plan of a week (or a plan by id) as a :class:`PlanRecord`."""
    lines, kpis, report, fingerprint = database.load_plan(week)
    label = str(week)
    if isinstance(week, int):
        saved = database.list_plans()
        label = str(saved.loc[saved["id"] == week, "week"].iloc[0])
    return PlanRecord(week=label, fingerprint=fingerprint, lines=lines, kpis=kpis, report=report)


def plan_and_commit(tables: Mapping[str, pd.DataFrame | None], *, week: str, out: Path,
                    database: Database | None, force: bool = False,
                    settings: PlanSettings | None = None,
                    sources: Mapping[str, str] | None = None, workers: int = 1,
                    stage: Stage = _no_stage) -> tuple[WeeklyRun, list[Path], int | None]:
    """Plan a week and commit its files and database row together (or neither).

    The destinations are claimed before the solve (an existing file is refused without
    ``force``; a second run on the same ``out`` is refused), and the database is checked
    writable before the solve, so no file is written for a plan that could not be saved.

    Parameters
    ----------
    tables, week, settings, sources, workers, stage
        As for :func:`run_week`.
    out
        The plan file (``.xlsx``, ``.csv`` or ``.parquet``).
    database
        Where the plan is saved; ``None`` writes the files only (the demo).
    force
        Replace existing plan files.

    Returns
    -------
    tuple
        The run, the files written and the saved plan's id (``None`` without a database).
    """
    check_week_label(week)
    paths = plan_paths(out)
    with claim_outputs(paths, force=force) as claim:
        if database is not None:
            database.check_writable()
        run = run_week(tables, week=week, settings=settings, sources=sources, workers=workers,
                       stage=stage)
        stage("Writing the plan")
        plan_id = commit_outputs(
            claim, plan_writers(run.record, out),
            save_row=None if database is None else lambda: save_record(database, run.record),
            delete_row=None if database is None else database.delete_plan)
    return run, paths, plan_id


def _render_into(table: pd.DataFrame, tmp: Path, *, suffix: str) -> None:
    """Write ``table`` to the temporary path ``tmp`` in the format of ``suffix``."""
    render_table(table, tmp, suffix)
