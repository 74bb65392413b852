"""``xingtu allocate``: next week's transfers and replenishment, written as a plan file.

Files are named per week by default (``out/plan-2026-W48.xlsx``), and an existing file is never
overwritten unless ``--force`` is given, so last week's plan stays as it was. Writes are atomic:
a failed run leaves no half-written file. Each plan is also saved in the project database with a
fingerprint (sha256 of the canonicalised inputs and settings), so a past week can be reproduced
and two weeks compared.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from geodata._errors import InputDataError
from geodata.io import read_inputs
from optimizer.errors import XingtuError

from ..export import write_table, write_workbook

INPUT_KINDS = ("stores", "warehouses", "skus", "sales", "stock", "lanes")


def default_out(week: str) -> Path:
    """Default plan file of a week.

    Examples
    --------
    >>> default_out("2026-W48").as_posix()
    'out/plan-2026-W48.xlsx'
    """
    return Path("out") / f"plan-{week}.xlsx"


def write_plan(plan, path: Path) -> list[Path]:
    """Write the plan lines and KPIs: one workbook (``.xlsx``) or a table per file.

    For ``.csv``/``.parquet`` the KPIs and warehouse figures go next to the plan as
    ``<name>-kpis.<ext>`` and ``<name>-warehouses.<ext>``.
    """
    kpis = plan.kpi_table()
    kpis["value"] = kpis["value"].astype(str)
    if path.suffix.lower() == ".xlsx":
        return [write_workbook({"plan": plan.lines, "kpis": kpis, "warehouses": plan.warehouses},
                               path)]
    written = [write_table(plan.lines, path)]
    for name, table in (("kpis", kpis), ("warehouses", plan.warehouses)):
        written.append(write_table(table, path.with_name(f"{path.stem}-{name}{path.suffix}")))
    return written


def summary(plan, written: list[Path]) -> str:
    """Return what a planner reads after the run."""
    k = plan.kpis
    report = plan.report
    lines = [
        f"Week {plan.week}: {len(plan.lines):,} plan lines, "
        f"{k['units_transferred_between_stores']:,.0f} units between stores, "
        f"{k['units_replenished_from_warehouses']:,.0f} units from warehouses, "
        f"{k['trucks']:,.0f} trucks.",
        f"Expected stockouts next week: {k['expected_stockout_units_before']:,.0f} units if "
        f"nothing moves, {k['expected_stockout_units_after']:,.0f} with the plan "
        f"({k['expected_stockout_reduction']:.0%} fewer).",
        f"Solve: {report.status}, cost {report.objective:,.0f}, bound {report.bound:,.0f}, "
        f"gap {report.gap:.2%}, {report.solve_seconds:.1f} s.",
    ]
    lines += [f"written to {path}" for path in written]
    return "\n".join(lines)


def _json_ready(values: dict) -> dict:
    def clean(value: object) -> object:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    return {key: clean(value) for key, value in values.items()}


def register(app: typer.Typer) -> None:
    """Add the ``allocate`` command to ``app``."""

    @app.command("allocate")
    def allocate_command(
        week: Annotated[str, typer.Option(help="ISO week to plan, e.g. 2026-W48.")],
        out: Annotated[Path | None, typer.Option(
            help="Plan file (.xlsx, .csv or .parquet); default out/plan-<week>.xlsx.")] = None,
        demo: Annotated[bool, typer.Option("--demo", help="Use the bundled demo region.")] = False,
        stores: Annotated[Path | None, typer.Option(help="Stores file.")] = None,
        warehouses: Annotated[Path | None, typer.Option(help="Warehouses file.")] = None,
        skus: Annotated[Path | None, typer.Option(help="SKU catalogue file.")] = None,
        sales: Annotated[Path | None, typer.Option(help="Sales history file.")] = None,
        stock: Annotated[Path | None, typer.Option(help="Stock per location and SKU.")] = None,
        lanes: Annotated[Path | None, typer.Option(
            help="Lanes file (derived from distance when not given).")] = None,
        database: Annotated[str | None, typer.Option(
            help="Database URL for saved plans (default: XINGTU_DATABASE_URL or a local "
                 "SQLite file).")] = None,
        force: Annotated[bool, typer.Option("--force", help="Overwrite an existing plan file.")
                         ] = False,
        service_level: Annotated[float, typer.Option(min=0.5, max=0.999,
                                                     help="Target cycle service level.")] = 0.95,
        max_cross_region_share: Annotated[float | None, typer.Option(
            min=0.0, max=1.0, help="Cap on the share of units moved across regions.")] = None,
        min_transfer_units: Annotated[int, typer.Option(
            min=1, help="Smallest store-to-store transfer.")] = 1,
        time_limit: Annotated[float, typer.Option(min=1.0, help="Seconds for the solver.")
                              ] = 120.0,
        gap: Annotated[float, typer.Option(min=0.0, help="Relative gap counted as optimal.")
                       ] = 0.01,
        workers: Annotated[int, typer.Option(
            min=1, help="Processes for the solve: 2 builds plans on a second core while the "
                        "bound runs (platforms that can fork); 1 gives the same plan on every "
                        "run that ends before its time limit.")] = 1,
    ) -> None:
        """Plan next week's stock transfers and warehouse replenishment."""
        from optimizer.allocation.forecast import week_start
        from optimizer.allocation.plan import PlanSettings, input_fingerprint, plan_week

        from ..database import Database

        path = out or default_out(week)
        if path.suffix.lower() not in (".xlsx", ".csv", ".parquet"):
            typer.echo(f"`--out` must end in .xlsx, .csv or .parquet, got {path.name!r}.",
                       err=True)
            raise typer.Exit(code=2)
        if path.exists() and not force:
            typer.echo(f"{path} already exists; pass --force to overwrite it or choose another "
                       "--out (plans are kept per week).", err=True)
            raise typer.Exit(code=2)
        files = {"stores": stores, "warehouses": warehouses, "skus": skus, "sales": sales,
                 "stock": stock, "lanes": lanes}
        try:
            week_start(week)
            tables: dict[str, pd.DataFrame] = {}
            if demo:
                from geodata.demo import load_demo

                region = load_demo()
                tables = {kind: getattr(region, kind) for kind in INPUT_KINDS}
            tables.update(read_inputs(files))
            missing = [kind for kind in INPUT_KINDS[:-1] if kind not in tables]
            if missing:
                typer.echo("Missing inputs: " + ", ".join(f"--{m}" for m in missing)
                           + " (or pass --demo).", err=True)
                raise typer.Exit(code=2)
            settings = PlanSettings(service_level=service_level,
                                    max_cross_region_share=max_cross_region_share,
                                    min_transfer_units=min_transfer_units,
                                    time_limit=time_limit, mip_gap=gap)
            sources = {kind: p.name for kind, p in files.items() if p is not None}
            plan = plan_week(**{k: tables[k] for k in INPUT_KINDS[:-1]},
                             lanes=tables.get("lanes"), week=week, settings=settings,
                             sources=sources, workers=workers)
        except (InputDataError, XingtuError) as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(code=2) from None
        fingerprint = input_fingerprint(
            tables, {"week": week, **{k: v for k, v in asdict(settings).items()
                                      if k != "lane_costs"},
                     "lane_costs": asdict(settings.lane_costs)})
        written = write_plan(plan, path)
        store = Database(database)
        try:
            plan_id = store.save_plan(week, fingerprint, plan.lines, _json_ready(plan.kpis),
                                      _json_ready(asdict(plan.report)))
        finally:
            store.close()
        typer.echo(summary(plan, written))
        typer.echo(f"saved as plan {plan_id} (fingerprint {fingerprint[:12]})")
