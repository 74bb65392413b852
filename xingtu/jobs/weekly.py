"""The weekly plan job: inputs and settings in; a fingerprinted plan out, saved and exported.

The CLI (``xingtu allocate``, ``xingtu demo``), the notebooks and the app's Allocation page all
call this module, so a plan made by one loads in the other with the same fingerprint, the same
sheets, the same file name and the same warehouse figures.

- :func:`next_week` is the week after the sales history (the default week to plan);
- :func:`plan_fingerprint` is the one fingerprint of a week's inputs and settings;
- :func:`run_week` plans the week (:func:`optimizer.allocation.plan_week`) and returns a
  :class:`WeeklyRun`, whose :attr:`~WeeklyRun.record` is what is saved and whose
  :attr:`~WeeklyRun.warnings` are the input warnings a planner is shown;
- :func:`save_and_write` commits the plan's files and its database row together
  (:mod:`xingtu.jobs.outputs`); :func:`load_record` reads a saved plan back;
- :func:`plan_sheets` and :func:`plan_file_name` give the sheets and file name of any record;
  :func:`workbook_sheets` lays them out for planners (readable headers, number formats) and
  :func:`plan_workbook_bytes` is the workbook every front end writes;
- :func:`previous_record` finds the plan a new one is compared with, :func:`plan_changes`
  what changed by warehouse and store.

The planners' tables (:func:`optimizer.allocation.planner_tables.planner_tables`: the warehouse
and store cards, the demand guide, slow movers, stockout risk, supplier orders, returns) are
computed when the plan is made and saved with it (under :data:`TABLES_KEY` in the KPIs), so a
plan loaded from the database gives the same workbook as the run that made it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.allocation import (
    PlanSettings,
    WeeklyPlan,
    input_fingerprint,
    plan_day,
    plan_week,
)
from optimizer.allocation.edits import FreePlan, PlanEdits, edits_from_frame
from optimizer.allocation.inputs import with_documented_defaults
from optimizer.allocation.planner_tables import planner_tables
from optimizer.errors import collect_input_warnings
from optimizer.results import SolveReport

from ..database import Database, json_ready
from ..export import (
    DAY_LABEL,
    TABLE_FORMATS,
    SheetFormats,
    check_day_label,
    check_plan_label,
    check_week_label,
    plan_label_file_name,
    render_table,
    render_workbook,
    workbook_bytes,
)
from .outputs import Writer, claim_outputs, commit_outputs
from .progress import Stage
from .progress import no_stage as _no_stage

INPUT_KINDS = ("stores", "warehouses", "skus", "sales", "stock", "lanes")
"""Tables of a week; all but ``lanes`` are required (lanes are derived from distance)."""

REQUIRED_KINDS = INPUT_KINDS[:-1]

SHEETS = ("plan", "kpis", "warehouses", "stores", "demand_guide", "slow_movers", "movers",
          "stockout_risk", "supplier_orders", "returns", "changes")
"""Sheets of a plan workbook, in order (for ``.csv``/``.parquet``: ``plan``, then one
``<name>-<sheet>`` file per other sheet next to it); a plan made with a planner's edits has
one more, :data:`EDITS_SHEET`, at the end."""

EDITS_SHEET = "edits"
"""The sheet of a plan made with edits: each locked or dropped line and what the plan did."""

SHEET_TITLES = {"plan": "Plan", "kpis": "KPIs", "warehouses": "Warehouses", "stores": "Stores",
                "demand_guide": "Demand guide", "slow_movers": "Slow movers",
                "movers": "Fast and slow movers", "stockout_risk": "Stockout risk",
                "supplier_orders": "Supplier orders", "returns": "Returns",
                "changes": "Changes vs previous", EDITS_SHEET: "Locked and dropped lines"}
"""Sheet names in the workbook (the ``.csv``/``.parquet`` files use the keys)."""

TABLES_KEY = "planner_tables"
"""Key of the planners' tables inside a saved plan's KPIs (table name to records)."""

STORED_TABLES = ("lines", "warehouses", "stores", "demand_guide", "cover", "movers",
                 "stockout_risk", "regional_mix", "returns", "supplier_orders", "locations")
"""Planners' tables saved with a plan (``locations``: id, name, region, kind of every place)."""

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

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The planners' tables saved with the plan (:data:`STORED_TABLES`), by name.

        Empty for a plan saved without them.
        """
        stored = self.kpis.get(TABLES_KEY) or {}
        return {name: pd.DataFrame(stored[name]) for name in STORED_TABLES if name in stored}

    def sheets(self, previous: PlanRecord | None = None) -> dict[str, pd.DataFrame]:
        """Return the plan's sheets: :data:`SHEETS` in order (see :func:`plan_sheets`)."""
        return plan_sheets(self, previous)

    @property
    def has_edits(self) -> bool:
        """Whether the plan was made with a planner's locked or dropped lines."""
        return EDITS_SHEET in (self.kpis.get(TABLES_KEY) or {})

    def file_name(self, suffix: str = ".xlsx") -> str:
        """Return the plan file's default name, e.g. ``plan-2026-W02.xlsx``."""
        return plan_file_name(self.week, suffix)

    def summary(self) -> str:
        """Return what a planner reads after the run: lines, units, trucks, stockouts, solve."""
        k = self.kpis
        is_day = DAY_LABEL.fullmatch(self.week) is not None
        what, when = ("Day", "on that day") if is_day else ("Week", "next week")
        edits = []
        if self.has_edits:
            edits = [f"Edits: {k.get('locked_lines', 0):,} locked and "
                     f"{k.get('dropped_lines', 0):,} dropped lines"
                     + (f"; expected cost {k['free_plan_cost'] + k['edits_cost']:,.0f} against "
                        f"{k['free_plan_cost']:,.0f} for the plan without them "
                        f"({k['edits_cost']:+,.0f})." if "edits_cost" in k else ".")]
        return "\n".join([
            f"{what} {self.week}: {len(self.lines):,} plan lines, "
            f"{k['units_transferred_between_stores']:,.0f} units between stores, "
            f"{k['units_replenished_from_warehouses']:,.0f} units from warehouses, "
            f"{k['trucks']:,.0f} trucks.",
            f"Expected stockouts {when}: {k['expected_stockout_units_before']:,.0f} units if "
            f"nothing moves, {k['expected_stockout_units_after']:,.0f} with the plan "
            f"({k['expected_stockout_reduction']:.0%} fewer).",
            self.solve_report.summary(objective="cost"),
            *edits,
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
    warnings
        The input warnings of the run (a documented default filled in, a suspicious value
        accepted), each naming the file, column and rows: what the front end shows beside the
        plan.
    """

    plan: WeeklyPlan
    record: PlanRecord
    settings: PlanSettings
    warnings: tuple[str, ...] = ()


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


def next_day(sales: pd.DataFrame) -> str:
    """Return the day after the last sales date: the day a daily re-plan ships by default.

    Examples
    --------
    >>> next_day(pd.DataFrame({"date": ["2025-12-31", "2025-12-30"]}))
    '2026-01-01'
    """
    last = pd.Timestamp(pd.to_datetime(sales["date"]).max()).normalize()
    return (last + pd.Timedelta(days=1)).date().isoformat()


def plan_file_name(week: str, suffix: str = ".xlsx") -> str:
    """Return the plan file name of a week or a day, e.g. ``plan-2026-W02.xlsx`` (checked).

    Examples
    --------
    >>> plan_file_name("2026-W02"), plan_file_name("2026-12-03")
    ('plan-2026-W02.xlsx', 'plan-2026-12-03.xlsx')
    """
    return plan_label_file_name("plan", week, suffix)


def plan_fingerprint(tables: Mapping[str, pd.DataFrame | None], week: str,
                     settings: PlanSettings, edits: PlanEdits | None = None) -> str:
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
    edits
        A planner's locked and dropped lines; a plan without edits has the fingerprint it
        always had.

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
    if edits is not None:
        present["edits"] = edits.table.drop(columns="row")
    return input_fingerprint(present, {"week": check_week_label(week),
                                       "settings": asdict(settings)})


def run_week(tables: Mapping[str, pd.DataFrame | None], *, week: str,
             settings: PlanSettings | None = None, sources: Mapping[str, str] | None = None,
             workers: int = 1, stage: Stage = _no_stage, edits: PlanEdits | None = None,
             free_plan: PlanRecord | None = None) -> WeeklyRun:
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
    edits
        A planner's locked and dropped lines (:func:`edits_from_file`,
        :func:`edits_from_lines`): the plan keeps them and re-optimises the rest; its record
        has the sheet :data:`EDITS_SHEET` and the KPIs ``free_plan_cost`` and ``edits_cost``.
    free_plan
        With ``edits``: the record of the same week's plan without edits (what a front end
        shows before the re-solve), so it is not solved again; solved here when ``None``.

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
    fingerprint = plan_fingerprint(tables, week, settings, edits)
    stage("Forecasting demand, setting reserves and solving the transfer model"
          + ("" if edits is None else
             (" (without the edits, then with them)" if free_plan is None
              else " with the edits")))
    free = (None if free_plan is None or edits is None
            else FreePlan(objective=free_plan.report.get("objective"),
                          lines=free_plan.lines))
    with collect_input_warnings() as seen:
        plan = plan_week(**{kind: tables[kind] for kind in REQUIRED_KINDS},
                         lanes=tables.get("lanes"), week=week, settings=settings,
                         sources=dict(sources or {}), workers=workers, edits=edits,
                         free_plan=free)
        stage("Building the warehouse and store cards, the demand guide and the lists")
        record = make_record(plan, tables, label=week, fingerprint=fingerprint)
    return WeeklyRun(plan=plan, record=record, settings=settings, warnings=tuple(seen))


def make_record(plan: WeeklyPlan, tables: Mapping[str, pd.DataFrame | None], *, label: str,
                fingerprint: str) -> PlanRecord:
    """Return the record of a week's or a day's plan, with its planners' tables.

    Parameters
    ----------
    plan
        The library's plan.
    tables
        The input tables it was made from (``stores``, ``warehouses``, ``skus``, ``sales``).
    label
        ISO week or day label.
    fingerprint
        The plan's fingerprint.

    Returns
    -------
    PlanRecord
    """
    stores, warehouses, skus, sales = (_required(tables, kind)
                                       for kind in ("stores", "warehouses", "skus", "sales"))
    stores = with_documented_defaults(stores, "stores")
    skus = with_documented_defaults(skus, "skus")
    planners = _named_tables(planner_tables(plan, stores=stores, warehouses=warehouses,
                                            skus=skus, sales=sales),
                             stores=stores, warehouses=warehouses, skus=skus)
    stored = {name: _storable(planners[name]).to_dict(orient="records")
              for name in STORED_TABLES}
    if plan.edits is not None:
        stored[EDITS_SHEET] = _storable(plan.edits).to_dict(orient="records")
    kpis = json_ready({**plan.kpis,
                       WAREHOUSES_KEY: plan.warehouses.to_dict(orient="records"),
                       TABLES_KEY: stored})
    return PlanRecord(week=label, fingerprint=fingerprint, lines=plan.lines, kpis=kpis,
                      report=json_ready(asdict(plan.report)))


def in_transit_lines(database: Database | None, day: str) -> pd.DataFrame | None:
    """Return the lines of saved plans still on the road when ``day`` starts, or ``None``.

    A line is in transit when it shipped before ``day`` and arrives on ``day`` or later. For
    each earlier ship day the newest saved day plan of that day counts; days without a day plan
    take the lines of the newest saved plan of their ISO week. Lines without ship and arrival
    days (plans saved before those columns existed) are left out.

    Parameters
    ----------
    database
        Where the plans are saved; ``None`` gives ``None``.
    day
        The day being planned, ``YYYY-MM-DD``.

    Returns
    -------
    pandas.DataFrame or None
        ``to``, ``sku``, ``quantity``, ``arrival_day``; ``None`` when nothing is in transit.
    """
    check_day_label(day)
    if database is None:
        return None
    saved = database.list_plans()
    if not len(saved):
        return None
    start = pd.Timestamp(day)
    newest = saved.sort_values("id").drop_duplicates("week", keep="last")
    day_labels = [w for w in newest["week"] if DAY_LABEL.fullmatch(str(w)) and w < day]
    weeks = {_week_of(start - pd.Timedelta(days=back)) for back in range(0, 15)}
    chosen: list[pd.DataFrame] = []
    for label, plan_id in zip(newest["week"], newest["id"], strict=True):
        if label not in day_labels and label not in weeks:
            continue
        lines = load_record(database, int(plan_id)).tables.get("lines")
        if lines is None or not {"ship_day", "arrival_day"} <= set(lines.columns):
            continue
        shipped = pd.to_datetime(lines["ship_day"])
        keep = (shipped < start) & (pd.to_datetime(lines["arrival_day"]) >= start)
        if label in weeks:  # a week plan: only its ship days that no day plan replaced
            keep &= ~shipped.dt.strftime("%Y-%m-%d").isin(day_labels)
        chosen.append(lines.loc[keep, ["to", "sku", "quantity", "arrival_day"]])
    moving = pd.concat(chosen, ignore_index=True) if chosen else pd.DataFrame()
    return moving if len(moving) else None


def _week_of(day: pd.Timestamp) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def run_day(tables: Mapping[str, pd.DataFrame | None], *, day: str,
            settings: PlanSettings | None = None, in_transit: pd.DataFrame | None = None,
            sources: Mapping[str, str] | None = None, workers: int = 1,
            stage: Stage = _no_stage) -> WeeklyRun:
    """Plan the moves that ship on ``day`` from the closing stock and sales of the day before.

    The same model as the week with a one-day horizon
    (:func:`optimizer.allocation.plan_day`); the record is labelled with the day and saved
    beside the weekly plans.

    Parameters
    ----------
    tables, settings, sources, workers, stage
        As for :func:`run_week`; ``stock`` is the closing stock of the day before ``day``.
    day
        The ship day, ``YYYY-MM-DD``; only sales before it are used.
    in_transit
        Lines of earlier plans still on the road (:func:`in_transit_lines`); part of the
        fingerprint.

    Returns
    -------
    WeeklyRun
    """
    settings = settings or PlanSettings()
    check_day_label(day)
    inputs = {kind: _required(tables, kind) for kind in REQUIRED_KINDS}
    stage("Fingerprinting the inputs")
    fingerprint = day_fingerprint(tables, day, settings, in_transit)
    stage("Forecasting tomorrow's demand and solving the transfer model")
    with collect_input_warnings() as seen:
        plan = plan_day(**inputs, lanes=tables.get("lanes"), day=day, settings=settings,
                        in_transit=in_transit, sources=dict(sources or {}), workers=workers)
        stage("Building the warehouse and store cards, the demand guide and the lists")
        record = make_record(plan, tables, label=day, fingerprint=fingerprint)
    return WeeklyRun(plan=plan, record=record, settings=settings, warnings=tuple(seen))


def day_fingerprint(tables: Mapping[str, pd.DataFrame | None], day: str,
                    settings: PlanSettings, in_transit: pd.DataFrame | None = None) -> str:
    """Return the one fingerprint of a day's plan: the inputs, the stock in transit, the day.

    Parameters
    ----------
    tables, settings
        As for :func:`plan_fingerprint`.
    day
        The ship day, ``YYYY-MM-DD``.
    in_transit
        Lines of earlier plans still on the road (:func:`in_transit_lines`).

    Returns
    -------
    str
        64 hex digits.
    """
    present = {kind: table for kind, table in tables.items() if table is not None}
    if in_transit is not None:
        present["in_transit"] = in_transit
    return input_fingerprint(present, {"day": check_day_label(day), "settings": asdict(settings)})


def label_fingerprint(tables: Mapping[str, pd.DataFrame | None], label: str,
                      settings: PlanSettings, database: Database | None) -> str:
    """Return the fingerprint a plan of ``label`` (a week or a day) made now would carry.

    A day's plan counts the stock in transit from the plans saved in ``database``, as
    :func:`run_plan` does; a saved plan whose fingerprint differs was made from other inputs.
    """
    if DAY_LABEL.fullmatch(label):
        return day_fingerprint(tables, label, settings, in_transit_lines(database, label))
    return plan_fingerprint(tables, label, settings)


def run_plan(tables: Mapping[str, pd.DataFrame | None], *, label: str,
             settings: PlanSettings | None = None, database: Database | None = None,
             sources: Mapping[str, str] | None = None, workers: int = 1,
             stage: Stage = _no_stage) -> WeeklyRun:
    """Plan a week (``2026-W02``) or a day (``2026-12-03``), as the CLI and the app do.

    A day's plan (:func:`run_day`) takes the stock in transit from the plans saved in
    ``database`` (:func:`in_transit_lines`); a week's plan is :func:`run_week`.

    Parameters
    ----------
    tables, settings, sources, workers, stage
        As for :func:`run_week`.
    label
        ISO week or day.
    database
        Where earlier plans are saved (``None``: nothing in transit).

    Returns
    -------
    WeeklyRun
    """
    if DAY_LABEL.fullmatch(str(label)):
        stage("Finding stock in transit from earlier plans")
        return run_day(tables, day=label, settings=settings,
                       in_transit=in_transit_lines(database, label), sources=sources,
                       workers=workers, stage=stage)
    return run_week(tables, week=label, settings=settings, sources=sources, workers=workers,
                    stage=stage)


def _required(tables: Mapping[str, pd.DataFrame | None], kind: str) -> pd.DataFrame:
    """Return the input table ``kind``, which must be given."""
    table = tables.get(kind)
    if table is None:
        from optimizer.errors import InputError

        raise InputError(f"Missing input `{kind}`; give every table (or use the demo region).")
    return table


def _storable(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` as saved: no infinite numbers, dates as ``YYYY-MM-DD`` text.

    A spreadsheet holds no infinity: such a number (weeks of cover without demand) is saved as
    missing.
    """
    out = frame.copy()
    numbers = out.select_dtypes("number").columns
    if len(numbers):
        out[numbers] = out[numbers].mask(~np.isfinite(out[numbers].astype(float)))
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
        elif out[column].dtype == object:
            out[column] = out[column].map(
                lambda v: v.isoformat()[:10] if isinstance(v, datetime.date) else v)
    return out


def _named_tables(planners: dict[str, pd.DataFrame], *, stores: pd.DataFrame,
                  warehouses: pd.DataFrame, skus: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Return the planners' tables with names (and regions) beside the ids, plus ``locations``."""
    locations = pd.concat([
        pd.DataFrame({"location_id": stores["store_id"].astype(str),
                      "name": stores.get("name", stores["store_id"]).astype(str),
                      "region": stores.get("region", pd.Series("", index=stores.index)),
                      "kind": "store"}),
        pd.DataFrame({"location_id": warehouses["warehouse_id"].astype(str),
                      "name": warehouses.get("name", warehouses["warehouse_id"]).astype(str),
                      "region": warehouses.get("region",
                                               pd.Series("", index=warehouses.index)),
                      "kind": "warehouse"})], ignore_index=True)
    location_name = locations.drop_duplicates("location_id").set_index("location_id")
    sku_name = (skus.drop_duplicates("sku").set_index("sku")["name"].astype(str)
                if "name" in skus.columns else pd.Series(dtype=str))

    def beside(frame: pd.DataFrame, column: str, label: str, values: pd.Series,
               after: str | None = None) -> pd.DataFrame:
        if column not in frame.columns or label in frame.columns:
            return frame
        out = frame.copy()
        out.insert(out.columns.get_loc(after or column) + 1, label,
                   out[column].astype(str).map(values).fillna("").to_numpy())
        return out

    named = dict(planners)
    lines = beside(named["lines"], "from", "from_name", location_name["name"])
    lines = beside(lines, "to", "to_name", location_name["name"])
    lines = beside(lines, "to", "to_region", location_name["region"], after="to_name")
    named["lines"] = beside(lines, "sku", "sku_name", sku_name)
    for name in ("cover", "stockout_risk", "returns"):
        named[name] = beside(named[name], "store_id", "store_name", location_name["name"])
    named["returns"] = beside(named["returns"], "warehouse_id", "warehouse_name",
                              location_name["name"])
    named["supplier_orders"] = beside(named["supplier_orders"], "warehouse_id",
                                      "warehouse_name", location_name["name"])
    for name in ("cover", "stockout_risk", "returns", "supplier_orders", "movers",
                 "demand_guide"):
        named[name] = beside(named[name], "sku", "sku_name", sku_name)
    if "last_sale" in named["cover"].columns:
        last = pd.to_datetime(named["cover"]["last_sale"])
        named["cover"] = named["cover"].assign(last_sale=last.dt.strftime("%Y-%m-%d"))
    named["locations"] = locations
    return named


def plan_sheets(record: PlanRecord, previous: PlanRecord | None = None,
                ) -> dict[str, pd.DataFrame]:
    """Return a plan's sheets (:data:`SHEETS`) with their code column names.

    ``plan`` (the lines with their ship days and names), ``kpis`` (``kpi``, ``value`` for
    numbers, ``text`` for the rest, and ``compared_with``), the warehouse and store cards, the
    demand guide, ``slow_movers`` (weeks of cover per store and SKU, most first), ``movers``
    (fast and slow per region), ``stockout_risk``, ``supplier_orders``, ``returns`` and
    ``changes`` (:func:`plan_changes` against ``previous``), and for a plan made with edits
    :data:`EDITS_SHEET` (each edit and what the plan shipped on its line, beside what the plan
    without edits shipped). The same for a plan just made and
    for one loaded from the database. A plan saved without planners' tables gets its lines and
    warehouse figures, and empty tables for the rest.
    """
    tables = record.tables
    kpis = {key: value for key, value in record.kpis.items()
            if key not in (WAREHOUSES_KEY, TABLES_KEY)}
    kpis["compared_with"] = previous.week if previous is not None else "no earlier plan saved"
    numeric = [isinstance(v, int | float) and not isinstance(v, bool) for v in kpis.values()]
    kpi_table = pd.DataFrame({
        "kpi": list(kpis),
        "value": [float(v) if n else np.nan for v, n in zip(kpis.values(), numeric, strict=True)],
        "text": [None if n else (None if v is None else str(v))
                 for v, n in zip(kpis.values(), numeric, strict=True)]})
    cover = tables.get("cover", pd.DataFrame())
    if "weeks_of_cover" in cover.columns:
        cover = cover.sort_values("weeks_of_cover", ascending=False, kind="stable",
                                  na_position="first").reset_index(drop=True)
    sheets = {
        "plan": tables.get("lines", record.lines),
        "kpis": kpi_table,
        "warehouses": tables.get("warehouses", record.warehouses),
        "stores": tables.get("stores", pd.DataFrame()),
        "demand_guide": tables.get("demand_guide", pd.DataFrame()),
        "slow_movers": cover,
        "movers": tables.get("movers", pd.DataFrame()),
        "stockout_risk": tables.get("stockout_risk", pd.DataFrame()),
        "supplier_orders": tables.get("supplier_orders", pd.DataFrame()),
        "returns": tables.get("returns", pd.DataFrame()),
        "changes": plan_changes(record, previous),
    }
    if record.has_edits:
        sheets[EDITS_SHEET] = pd.DataFrame(record.kpis[TABLES_KEY][EDITS_SHEET])
    return sheets


CHANGE_COLUMNS = ("location_id", "name", "region", "kind", "units_in_before", "units_in_now",
                  "units_in_change", "units_out_before", "units_out_now", "units_out_change")


def plan_changes(record: PlanRecord, previous: PlanRecord | None) -> pd.DataFrame:
    """Return what changed from ``previous`` to ``record``, by warehouse and store.

    One row per place that receives or sends units in either plan: units in and out before
    (``previous``) and now, and the change; biggest change first. No rows when there is no
    previous plan.

    Examples
    --------
    >>> now = PlanRecord("2026-W03", "f", pd.DataFrame({"from": ["W1"], "to": ["S1"],
    ...                  "quantity": [5]}), {}, {})
    >>> before = PlanRecord("2026-W02", "f", pd.DataFrame({"from": ["W1"], "to": ["S1"],
    ...                     "quantity": [2]}), {}, {})
    >>> plan_changes(now, before)[["location_id", "units_in_change", "units_out_change"]].values.tolist()
    [['S1', 3.0, 0.0], ['W1', 0.0, 3.0]]
    """
    if previous is None:
        return pd.DataFrame({column: pd.Series(dtype=float if column.startswith("units")
                                               else object) for column in CHANGE_COLUMNS})

    def flows(lines: pd.DataFrame) -> pd.DataFrame:
        if not len(lines):
            return pd.DataFrame({"units_in": [], "units_out": []}, dtype=float)
        quantity = lines["quantity"].astype(float)
        return pd.concat([quantity.groupby(lines["to"].astype(str)).sum().rename("units_in"),
                          quantity.groupby(lines["from"].astype(str)).sum().rename("units_out")],
                         axis=1)

    now, before = flows(record.lines), flows(previous.lines)
    both = now.join(before, how="outer", lsuffix="_now", rsuffix="_before").fillna(0.0)
    both["units_in_change"] = both["units_in_now"] - both["units_in_before"]
    both["units_out_change"] = both["units_out_now"] - both["units_out_before"]
    places = pd.concat([t for t in (record.tables.get("locations"),
                                    previous.tables.get("locations")) if t is not None]
                       or [pd.DataFrame(columns=["location_id", "name", "region", "kind"])])
    places = places.drop_duplicates("location_id").set_index("location_id")
    both.index.name = "location_id"
    out = both.reset_index()
    for column in ("name", "region", "kind"):
        out[column] = out["location_id"].map(places[column]).fillna("")
    order = (out["units_in_change"].abs() + out["units_out_change"].abs()).sort_values(
        ascending=False, kind="stable").index
    return out.loc[order, list(CHANGE_COLUMNS)].reset_index(drop=True)


HEADINGS = {"kpi": "KPI", "sku": "SKU", "sku_name": "SKU name", "from": "From", "to": "To",
            "mae": "MAE", "mae_naive": "MAE naive", "mase": "MASE", "mase_naive": "MASE naive",
            "service_radius_km": "Service radius (km)", "index": "Index vs chain",
            "over_throughput": "Over throughput", "text": "Text"}
"""Readable workbook headings that :func:`heading`'s rule would not give."""

PERCENT_WORDS = frozenset({"rate", "share", "reduction", "load", "gap", "used", "level"})
MONEY_WORDS = frozenset({"cost", "margin", "saving", "objective", "bound", "cny"})
DECIMAL_WORDS = frozenset({"days", "weeks", "km", "seconds", "index", "mae", "mase", "naive",
                           "variance"})
UNITS = "#,##0"
CNY = "#,##0.00"
PERCENT = "0.0%"
DECIMAL = "#,##0.0"


def heading(column: str) -> str:
    """Return the readable workbook heading of a code column name.

    Examples
    --------
    >>> heading("store_id"), heading("units_in_before"), heading("sku")
    ('Store ID', 'Units in before', 'SKU')
    """
    if column in HEADINGS:
        return HEADINGS[column]
    words = [{"id": "ID", "sku": "SKU", "skus": "SKUs", "kpi": "KPI"}.get(w, w)
             for w in str(column).split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def number_format(column: str, values: pd.Series | None = None) -> str | None:
    """Return the Excel number format of a column (or KPI) by its name, ``None`` for text.

    Percentages ``0.0%`` (rates, shares, loads), CNY ``#,##0.00`` (costs, margins, savings),
    ``#,##0.0`` for days, weeks, km and forecast errors, units ``#,##0`` for the rest.

    Examples
    --------
    >>> number_format("cross_region_transfer_rate"), number_format("transport_cost")
    ('0.0%', '#,##0.00')
    >>> number_format("turnover_days"), number_format("units_in")
    ('#,##0.0', '#,##0')
    """
    if values is not None and not (pd.api.types.is_numeric_dtype(values)
                                   and not pd.api.types.is_bool_dtype(values)):
        return None
    words = set(str(column).lower().split("_"))
    if words & PERCENT_WORDS and not words & {"units", "cases"}:
        return PERCENT
    if words & MONEY_WORDS:
        return CNY
    if words & DECIMAL_WORDS:
        return DECIMAL
    return UNITS


def workbook_sheets(record: PlanRecord, previous: PlanRecord | None = None,
                    ) -> tuple[dict[str, pd.DataFrame], dict[str, SheetFormats]]:
    """Return the plan workbook's sheets (readable names and headings) and number formats.

    The KPI sheet holds one value column: numbers as numbers (each with its own format) and
    text as text. Every other column keeps its values; its format follows its name
    (:func:`number_format`).
    """
    sheets: dict[str, pd.DataFrame] = {}
    formats: dict[str, SheetFormats] = {}
    for key, table in plan_sheets(record, previous).items():
        title = SHEET_TITLES[key]
        if key == "kpis":
            values = [text if pd.isna(value) else value
                      for value, text in zip(table["value"], table["text"], strict=True)]
            table = pd.DataFrame({"kpi": table["kpi"],
                                  "figure": [heading(k) for k in table["kpi"]],
                                  "value": pd.Series(values, dtype=object)})
            formats[title] = {heading("value"): [
                number_format(k) if isinstance(v, float) else None
                for k, v in zip(table["kpi"], values, strict=True)]}
        else:
            formats[title] = {heading(c): f for c in table.columns
                              if (f := number_format(c, table[c])) is not None}
        sheets[title] = table.rename(columns={c: heading(c) for c in table.columns})
    return sheets, formats


def plan_workbook_bytes(record: PlanRecord, previous: PlanRecord | None = None) -> bytes:
    """Return the plan workbook as bytes: the file ``xingtu allocate`` writes, for a download."""
    sheets, formats = workbook_sheets(record, previous)
    return workbook_bytes(sheets, formats=formats)


def previous_record(database: Database, label: str, *, before_id: int | None = None,
                    ) -> PlanRecord | None:
    """Return the plan a plan of ``label`` is compared with, or ``None`` when none is saved.

    The newest plan of the same label saved before ``before_id`` (every saved one when
    ``None``: the plan being made is not saved yet), else the newest plan of the week (or day)
    before.

    Parameters
    ----------
    database
        Where the plans are saved.
    label
        ISO week (``2026-W02``) or day (``2026-12-03``).
    before_id
        The id of the plan being compared, when it is saved already.

    Returns
    -------
    PlanRecord or None
    """
    saved = database.list_plans()
    if not len(saved):
        return None
    same = saved[saved["week"] == label]
    if before_id is not None:
        same = same[same["id"] < before_id]
    if not len(same):
        same = saved[saved["week"] == _label_before(label)]
    if not len(same):
        return None
    return load_record(database, int(same["id"].max()))


def _label_before(label: str) -> str:
    """Return the week before a week label, or the day before a day label."""
    check_plan_label(label)
    if "W" in label:
        monday = pd.Timestamp.fromisocalendar(int(label[:4]), int(label[6:]), 1)
        year, number, _ = (monday - pd.Timedelta(days=7)).isocalendar()
        return f"{year}-W{number:02d}"
    return str((pd.Timestamp(label) - pd.Timedelta(days=1)).date())


def plan_writers(record: PlanRecord, path: Path, previous: PlanRecord | None = None,
                 ) -> dict[Path, Writer]:
    """Return the files of a plan at ``path`` and how to write each.

    ``.xlsx``: one workbook with the :data:`SHEETS` (:func:`workbook_sheets`). ``.csv`` /
    ``.parquet``: the plan lines at ``path``, every other sheet at ``<name>-<sheet><ext>``.
    """
    suffix = path.suffix.lower()
    check_plan_path(path)
    if suffix == ".xlsx":
        sheets, formats = workbook_sheets(record, previous)
        return {path: lambda tmp: render_workbook(sheets, tmp, formats=formats)}
    sheets = plan_sheets(record, previous)
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


def plan_paths(path: Path, *, edits: bool = False) -> list[Path]:
    """Return every file a plan at ``path`` consists of (see :func:`plan_writers`).

    ``edits``: the plan is made with a planner's edits (one more sheet, :data:`EDITS_SHEET`).
    """
    check_plan_path(path)
    if path.suffix.lower() == ".xlsx":
        return [path]
    names = SHEETS[1:] + ((EDITS_SHEET,) if edits else ())
    return [path] + [path.with_name(f"{path.stem}-{name}{path.suffix}") for name in names]


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
                    stage: Stage = _no_stage, edits: PlanEdits | None = None,
                    ) -> tuple[WeeklyRun, list[Path], int | None]:
    """Plan a week (or a day) and commit its files and database row together (or neither).

    A ``week`` written as a day (``2026-12-03``) makes a day plan (:func:`run_day`) with the
    stock in transit from the plans saved in ``database`` (:func:`in_transit_lines`).

    The destinations are claimed before the solve (an existing file is refused without
    ``force``; a second run on the same ``out`` is refused), and the database is checked
    writable before the solve, so no file is written for a plan that could not be saved.

    Parameters
    ----------
    tables, week, settings, sources, workers, stage, edits
        As for :func:`run_week` (edits for a week's plan only).
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
    is_day = DAY_LABEL.fullmatch(str(week)) is not None
    check_plan_label(week) if is_day else check_week_label(week)
    if is_day and edits is not None:
        from optimizer.errors import InputError

        raise InputError("`--edits` applies to a week's plan (`--week`), not to a day's.")
    paths = plan_paths(out, edits=edits is not None)
    with claim_outputs(paths, force=force) as claim:
        if database is not None:
            database.check_writable()
        if edits is None:
            run = run_plan(tables, label=week, settings=settings, database=database,
                           sources=sources, workers=workers, stage=stage)
        else:
            run = run_week(tables, week=week, settings=settings, sources=sources,
                           workers=workers, stage=stage, edits=edits)
        stage("Writing the plan")
        previous = None if database is None else previous_record(database, week)
        plan_id = commit_outputs(
            claim, plan_writers(run.record, out, previous),
            save_row=None if database is None else lambda: save_record(database, run.record),
            delete_row=None if database is None else database.delete_plan)
    return run, paths, plan_id


def edits_from_file(path: Path) -> PlanEdits:
    """Read a planner's edits file (``.csv``, ``.xlsx`` or ``.parquet``) and check it.

    Columns ``from_id``, ``to_id``, ``sku``, ``action`` (``lock`` or ``drop``) and
    ``quantity`` (units, for ``lock``); see :mod:`optimizer.allocation.edits`. Errors name the
    file, the column, the row and the fix.
    """
    from geodata.io import read_table

    return edits_from_frame(pd.DataFrame(read_table(path)), source=Path(path).name)


EDITOR_COLUMNS = ("from", "to", "sku", "quantity", "lock", "drop")
"""Columns of the app's plan-line editor (:func:`editor_lines`, :func:`edits_from_lines`)."""


def editor_lines(record: PlanRecord) -> pd.DataFrame:
    """Return a plan's lines as the plan-line editor shows them, with ``lock``/``drop`` ticks.

    A plan made with edits shows its locked lines ticked (at their locked quantity) and its
    dropped lines (shipping 0) ticked to drop, so a second re-solve keeps the first edits.
    """
    lines = record.lines
    table = pd.DataFrame({"from": lines["from"].astype(str), "to": lines["to"].astype(str),
                          "sku": lines["sku"].astype(str),
                          "quantity": lines["quantity"].astype(np.int64),
                          "lock": False, "drop": False})
    if record.has_edits:
        edits = pd.DataFrame(record.kpis[TABLES_KEY][EDITS_SHEET])
        key = ["from", "to", "sku"]
        named = edits.rename(columns={"from_id": "from", "to_id": "to"})
        locked = named[named["action"] == "lock"][key].assign(lock=True)
        table = table.merge(locked, on=key, how="left", suffixes=("_x", ""))
        table["lock"] = table["lock"].eq(True)
        table = table.drop(columns="lock_x")
        dropped = named[named["action"] == "drop"][key].assign(quantity=0, lock=False,
                                                                 drop=True)
        table = pd.concat([table, dropped], ignore_index=True)
    return table[list(EDITOR_COLUMNS)].reset_index(drop=True)


def edits_from_lines(table: pd.DataFrame) -> PlanEdits | None:
    """Return the edits a plan-line editor's ticks make (``None`` when nothing is ticked).

    A ticked ``lock`` locks the line at the ``quantity`` shown (edited or not), a ticked
    ``drop`` drops it; a line ticked both ways is refused, naming its row.
    """
    from optimizer.errors import InputError, problem_at_rows

    lock_all, drop_all = table["lock"].eq(True), table["drop"].eq(True)
    both = np.flatnonzero(lock_all.to_numpy() & drop_all.to_numpy())
    if both.size:
        raise InputError([problem_at_rows(
            "the plan-line editor", "drop", both, table["sku"].to_numpy()[both],
            "the line is ticked both to lock and to drop", "untick one of the two")],
            "the plan-line editor")
    ticked = table[lock_all | drop_all]
    if not len(ticked):
        return None
    lock, drop = ticked["lock"].eq(True), ticked["drop"].eq(True)
    rows = pd.concat([
        pd.DataFrame({"from_id": ticked["from"], "to_id": ticked["to"], "sku": ticked["sku"],
                      "action": "lock", "quantity": ticked["quantity"]})[lock],
        pd.DataFrame({"from_id": ticked["from"], "to_id": ticked["to"], "sku": ticked["sku"],
                      "action": "drop", "quantity": None})[drop]])
    return edits_from_frame(rows.reset_index(drop=True), source="the plan-line editor")


def _render_into(table: pd.DataFrame, tmp: Path, *, suffix: str) -> None:
    """Write ``table`` to the temporary path ``tmp`` in the format of ``suffix``."""
    render_table(table, tmp, suffix)
