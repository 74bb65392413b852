"""The repair-shop siting job: layers and shops in; new shops out, exported.

The CLI (``xingtu repair-sites``, ``xingtu repair-shops rate``, ``xingtu demo``) and the app's
Repair shops page call this module: :func:`load_records` reads repair records and devices sold
(files or the demo's), :func:`assess` rates the shops and flags claims, :func:`write_results`
writes the ratings; :func:`site_repair_shops` runs :func:`optimizer.repair_shops.run_repair_siting` (the
objective defaults to ``coverage`` with ``n_new``, else ``fewest``), :func:`commit_shops` writes
the new shops through the output transaction, :func:`shop_lines` is the text a planner reads.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.after_sales import FLAG_THRESHOLD, AfterSalesAssessment, assess_repair_shops
from optimizer.errors import XingtuError, collect_input_warnings
from optimizer.repair_shops import RepairObjective, RepairSitingRun, run_repair_siting
from optimizer.settings import settings

from ..export import TABLE_FORMATS, render_table, render_workbook
from .outputs import OutputClaim, Writer, commit_outputs
from .siting import commit_sites

SHOP_COLUMNS = ["shop", "region", "repairs_in_reach", "new_repairs_covered"]


def default_objective(objective: RepairObjective | None, n_new: int | None) -> RepairObjective:
    """Return ``objective``, or ``coverage`` when ``n_new`` is given and ``fewest`` otherwise.

    Examples
    --------
    >>> default_objective(None, 5), default_objective(None, None)
    ('coverage', 'fewest')
    """
    if objective is not None:
        return objective
    return "coverage" if n_new is not None else "fewest"


def site_repair_shops(layers: pd.DataFrame, shops: pd.DataFrame, *, n_new: int | None,
                      objective: RepairObjective | None = None,
                      assessment: AfterSalesAssessment | None = None,
                      **options: Any) -> RepairSitingRun:
    """Run the repair-shop siting.

    With an ``assessment`` (from :func:`records_assessment`) the shops' ratings and the
    expected repairs per cell come from the repair records; without, the shops' given ratings
    and devices sold x repair rate. ``options`` are those of
    :func:`optimizer.repair_shops.run_repair_siting`. The run's input warnings are in its
    ``warnings``.
    """
    if assessment is not None:
        options = {"ratings": assessment.ratings.ratings,
                   "expected_repairs": assessment.expected_repairs, **options}
    with collect_input_warnings() as seen:
        run = run_repair_siting(layers, shops, n_new=n_new,
                                objective=default_objective(objective, n_new), **options)
    return replace(run, warnings=tuple(seen))


def records_assessment(*, demo: bool, repairs: Path | None, devices: Path | None,
                       shops: pd.DataFrame | None, resolution: int | None = None
                       ) -> AfterSalesAssessment | None:
    """Return the shops' ratings, flags and expected repairs from their records, if any.

    The records come from ``repairs`` (and ``devices``) or, with ``demo``, the demo region's;
    ``None`` when there are none.
    """
    records, sold = load_records(demo=demo, repairs=repairs, devices=devices, shops=shops,
                                 resolution=resolution)
    return None if records is None else assess(records, sold)


def commit_shops(claim: OutputClaim, run: RepairSitingRun, out: Path) -> Path:
    """Write the new shops at ``out`` (by extension) through the output transaction."""
    return commit_sites(claim, run.new_shops, out)


def shop_lines(run: RepairSitingRun, *, rows: int = 20) -> str:
    """Return the text the after-sales team reads after a run: the solve, the summary, shops."""
    lines = [run.report.summary(), run.summary()]
    if len(run.new_shops):
        lines.append(run.new_shops[SHOP_COLUMNS].head(rows).to_string(
            index=False, float_format=lambda v: f"{v:,.1f}"))
    return "\n".join(lines)


def load_records(*, demo: bool, repairs: Path | None, devices: Path | None,
                 shops: pd.DataFrame | None, resolution: int | None = None
                 ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Return the checked repair records and devices sold (each ``None`` when not given).

    Files win over the demo's records; with ``demo`` and no ``repairs`` file the demo region's
    records and devices are used.
    """
    from geodata.repairs import devices_with_cells, read_devices, read_repairs

    resolution = settings.h3_resolution if resolution is None else resolution

    records = read_repairs(repairs, shops=shops) if repairs is not None else None
    sold = devices_with_cells(read_devices(devices), resolution) if devices is not None else None
    if demo and records is None:
        from geodata.demo_repairs import load_demo_repairs

        demo_records = load_demo_repairs(resolution=resolution)
        records = demo_records.repairs
        sold = demo_records.devices if sold is None else sold
    return records, sold


def assess(records: pd.DataFrame, devices: pd.DataFrame | None, *,
           threshold: float | None = None) -> AfterSalesAssessment:
    """Run :func:`optimizer.after_sales.assess_repair_shops` (the default threshold if ``None``)."""
    return assess_repair_shops(records, devices=devices,
                               threshold=FLAG_THRESHOLD if threshold is None else threshold)


def result_tables(result: AfterSalesAssessment) -> dict[str, pd.DataFrame]:
    """Return the tables ``repair-shops rate`` writes: ratings, flags, shop signals, rates."""
    tables = {"ratings": result.ratings.table, "flagged_claims": result.anomalies.claims,
              "shop_signals": result.anomalies.shops}
    if result.failure_rates is not None:
        tables["failure_rates"] = result.failure_rates.table
    return tables


def result_paths(out: Path) -> list[Path]:
    """Return the files the ratings are written to: one workbook, else one file per table.

    Examples
    --------
    >>> [p.name for p in result_paths(Path("out/ratings.csv"))][:2]
    ['ratings.csv', 'ratings-flagged-claims.csv']
    """
    suffix = out.suffix.lower()
    if suffix not in TABLE_FORMATS or suffix in (".geojson", ".gpkg"):
        raise XingtuError(f"`--out` {out.name!r} has an unsupported extension; use .xlsx (one "
                          "workbook), .csv or .parquet (one file per table).")
    if suffix == ".xlsx":
        return [out]
    names = ["flagged_claims", "shop_signals", "failure_rates"]
    return [out] + [out.with_name(f"{out.stem}-{name.replace('_', '-')}{out.suffix}")
                    for name in names]


def result_writers(result: AfterSalesAssessment, out: Path) -> dict[Path, Writer]:
    """Return how to write the ratings, flags and rates at :func:`result_paths` of ``out``."""
    tables = result_tables(result)
    paths = result_paths(out)
    if len(paths) == 1:
        return {out: lambda tmp: render_workbook(tables, tmp)}
    writers: dict[Path, Writer] = {}
    for path, name in zip(paths, ["ratings", "flagged_claims", "shop_signals", "failure_rates"],
                          strict=True):
        table = tables.get(name, pd.DataFrame())
        writers[path] = partial(_render_into, table, suffix=out.suffix)
    return writers


def commit_results(claim: OutputClaim, result: AfterSalesAssessment, out: Path) -> list[Path]:
    """Write the ratings through the output transaction; return the files written."""
    writers = result_writers(result, out)
    commit_outputs(claim, writers)
    return list(writers)


def _render_into(table: pd.DataFrame, tmp: Path, *, suffix: str) -> None:
    """Write ``table`` to the temporary path ``tmp`` in the format of ``suffix``."""
    render_table(table, tmp, suffix)
