"""``xingtu allocate``: next week's transfers and replenishment, written as a plan file.

Files are named per week by default (``out/plan-2026-W48.xlsx``), and an existing file is never
overwritten unless ``--force`` is given, so last week's plan stays as it was. The plan's files and
its database row are committed together or not at all (:mod:`xingtu.jobs.outputs`); the plan is
saved with a fingerprint of its inputs and settings (:func:`xingtu.jobs.weekly.plan_fingerprint`),
so a past week can be reproduced and two weeks compared. The work itself is
:mod:`xingtu.jobs.weekly`'s.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

import typer

from optimizer.allocation import PlanSettings
from optimizer.errors import InputError

from ..database import Database
from ..export import check_day_label, check_week_label
from ..jobs import weekly
from ..jobs.inputs import gather_tables, require_tables
from ._console import Force, JobProgress, Quiet, readable_errors

DEFAULTS: dict[str, Any] = {field.name: field.default for field in fields(PlanSettings)}
"""The planning defaults the options show (one home: :class:`PlanSettings`)."""


def default_out(week: str) -> Path:
    """Return the default plan file of a week or a day.

    Examples
    --------
    >>> default_out("2026-W48").as_posix(), default_out("2026-12-03").as_posix()
    ('out/plan-2026-W48.xlsx', 'out/plan-2026-12-03.xlsx')
    """
    return Path("out") / weekly.plan_file_name(week)


def register(app: typer.Typer) -> None:
    """Add the ``allocate`` command to ``app``."""

    @app.command("allocate")
    def allocate_command(
        week: Annotated[str | None, typer.Option(help="ISO week to plan, e.g. 2026-W48.")
                        ] = None,
        day: Annotated[str | None, typer.Option(
            help="Plan one day's moves instead of a week: the ship day, e.g. 2026-12-03, from "
                 "the closing stock of the day before and the sales up to it; stock in "
                 "transit from the plans saved in the database counts as arriving.")] = None,
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
        edits: Annotated[Path | None, typer.Option(
            help="A planner's edits (.csv, .xlsx or .parquet): from_id, to_id, sku, action "
                 "(lock or drop) and quantity for lock. Locked lines ship exactly their "
                 "quantity, dropped lines nothing; the rest is re-optimised, and the plan "
                 "without edits is solved too, to price them.")] = None,
        database: Annotated[str | None, typer.Option(
            help="Database URL for saved plans (default: XINGTU_DATABASE_URL or a local "
                 "SQLite file).")] = None,
        force: Force = False,
        service_level: Annotated[float, typer.Option(
            min=0.5, max=0.999, help="Target cycle service level.")] = DEFAULTS["service_level"],
        max_cross_region_share: Annotated[float | None, typer.Option(
            min=0.0, max=1.0, help="Cap on the share of units moved across regions.")
        ] = DEFAULTS["max_cross_region_share"],
        min_transfer_units: Annotated[int, typer.Option(
            min=1, help="Smallest store-to-store transfer.")] = DEFAULTS["min_transfer_units"],
        time_limit: Annotated[float, typer.Option(min=1.0, help="Seconds for the solver.")
                              ] = DEFAULTS["time_limit"],
        gap: Annotated[float, typer.Option(min=0.0, help="Relative gap counted as optimal.")
                       ] = DEFAULTS["mip_gap"],
        workers: Annotated[int, typer.Option(
            min=1, help="Processes for the solve: 2 uses a second core (platforms that can "
                        "fork) for the plans while the bound runs, or for the bound while the "
                        "plan is improved; 1 gives the same plan on every run that ends before "
                        "its time limit.")] = 1,
        quiet: Quiet = False,
    ) -> None:
        """Plan next week's (or tomorrow's) stock transfers and warehouse replenishment."""
        progress = JobProgress(quiet=quiet)
        with readable_errors(), progress.running():
            if (week is None) == (day is None):
                raise InputError("Give `--week` (e.g. 2026-W48) or `--day` (e.g. 2026-12-03), "
                                 "not both and not neither.")
            label = check_week_label(week) if day is None else check_day_label(day)
            path = out or default_out(label)
            weekly.plan_paths(path)  # the extension, before anything is read
            if edits is not None and day is not None:
                raise InputError("`--edits` applies to a week's plan (`--week`), not to a "
                                 "day's.")
            plan_edits = weekly.edits_from_file(edits) if edits is not None else None
            settings = PlanSettings(service_level=service_level,
                                    max_cross_region_share=max_cross_region_share,
                                    min_transfer_units=min_transfer_units,
                                    time_limit=time_limit, mip_gap=gap)
            with Database(database) as store:
                progress.stage("Reading the inputs")
                files = {"stores": stores, "warehouses": warehouses, "skus": skus,
                         "sales": sales, "stock": stock, "lanes": lanes}
                tables, sources = gather_tables(weekly.INPUT_KINDS, demo=demo, files=files)
                require_tables(tables, weekly.REQUIRED_KINDS)
                run, written, plan_id = weekly.plan_and_commit(
                    tables, week=label, out=path, database=store, force=force,
                    settings=settings, sources=sources, workers=workers, stage=progress.stage,
                    edits=plan_edits)
        typer.echo(run.record.summary())
        for written_path in written:
            typer.echo(f"written to {written_path}")
        typer.echo(f"saved as plan {plan_id} (fingerprint {run.record.fingerprint[:12]})")
