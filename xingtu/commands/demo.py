"""``xingtu demo``: build the bundled demo region's layers, write them and describe the region."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from optimizer.settings import settings

from ..jobs import repair, siting, weekly
from ..jobs.outputs import OutputClaim, claim_outputs, commit_outputs
from ._console import Force, JobProgress, Quiet, readable_errors

if TYPE_CHECKING:
    from geodata.demo import DemoRegion

DEFAULT_OUT = Path("out/demo")


def region_summary(region: DemoRegion) -> str:
    """Return a few lines describing a demo region (stores, competitors, SKUs, sales rows...)."""
    stores = region.stores
    sales = region.sales
    channels = ", ".join(f"{name} {count}" for name, count in
                         stores["channel"].value_counts().sort_index().items())
    first, last = sales["date"].min(), sales["date"].max()
    return "\n".join([
        f"regions: {', '.join(region.regions)}",
        f"own stores: {len(stores):,} ({channels}); competitor stores: "
        f"{len(region.competitors):,}; repair shops: {len(region.repair_shops):,}",
        f"warehouses: {len(region.warehouses):,}; SKUs: {len(region.skus):,}; "
        f"stock rows: {len(region.stock):,}; lanes: {len(region.lanes):,}",
        f"sales rows: {len(sales):,} ({region.sales_frequency}, {first:%Y-%m-%d} to "
        f"{last:%Y-%m-%d}, {int(sales['units'].sum()):,} units)",
        f"POIs: {len(region.pois):,}; footfall points: {len(region.footfall):,}; customers: "
        f"{len(region.customers):,}; residents: {region.population['population'].sum():,.0f}",
    ])


def demo_outputs(out: Path, week: str) -> dict[str, Path]:
    """Return the files ``xingtu demo`` writes under ``out``, by job."""
    return {"layers": out / "layers.parquet", "sites": out / "sites.geojson",
            "repair_ratings": out / "repair_ratings.xlsx",
            "repair_shops": out / "repair_shops.geojson",
            "plan": out / weekly.plan_file_name(week)}


def run_demo(out: Path, *, resolution: int | None = None, force: bool = False,
             progress: JobProgress | None = None) -> str:
    """Run every batch job on the demo region and write the results under ``out``.

    Builds the layer table (``layers.parquet``), chooses 5 new store sites by maximal coverage
    (``sites.geojson``), rates the repair shops from the demo repair records
    (``repair_ratings.xlsx``), sites 5 new repair shops with those ratings and the expected
    repairs (``repair_shops.geojson``) and plans the week after the sales history
    (``plan-<week>.xlsx``). Every output is claimed first: an existing one is refused unless
    ``force``. Returns the summary text.
    """
    from geodata.demo import build_layers, load_demo

    from .layers import commit_layers, summary

    progress = progress or JobProgress(quiet=True)
    resolution = settings.h3_resolution if resolution is None else resolution
    region = load_demo()
    week = weekly.next_week(region.sales)
    paths = demo_outputs(out, week)
    with claim_outputs(list(paths.values()), force=force) as claim:
        start = time.perf_counter()
        progress.stage("Building the layers")
        table = build_layers(region, resolution=resolution)
        written = commit_layers(claim, table, paths["layers"])
        parts = [region_summary(region), summary(table, time.perf_counter() - start, written)]
        progress.stage("Choosing new store sites")
        parts.append(_demo_sites(region, table, claim, paths["sites"]))
        progress.stage("Siting repair shops")
        parts.append(_demo_repair_shops(region, table, claim, paths))
        parts.append(_demo_plan(region, week, claim, paths["plan"], progress))
    return "\n\n".join(parts)


def _demo_sites(region: DemoRegion, table: pd.DataFrame, claim: OutputClaim, path: Path) -> str:
    run = siting.choose_sites(table, region.stores, region.competitors, model="mclp", n_new=5,
                              radius_km=3.0)
    written = siting.commit_sites(claim, run.sites, path)
    return "\n".join(["Site selection (MCLP, 5 new stores, 3 km):", run.report.summary(),
                      run.summary(), f"written to {written}"])


def _demo_repair_shops(region: DemoRegion, table: pd.DataFrame, claim: OutputClaim,
                       paths: dict[str, Path]) -> str:
    assessment = repair.records_assessment(demo=True, repairs=None, devices=None, shops=None)
    assert assessment is not None  # the demo region always has its repair records
    rated = repair.commit_results(claim, assessment, paths["repair_ratings"])
    run = repair.site_repair_shops(table, region.repair_shops, radius_km=5.0, min_rating=3.5,
                                   n_new=5, objective="coverage", assessment=assessment)
    written = repair.commit_shops(claim, run, paths["repair_shops"])
    return "\n".join(["Repair-shop ratings from the demo repair records:", assessment.summary(),
                      f"written to {rated[0]}",
                      "Repair-shop siting (5 new shops, 5 km, rating >= 3.5):",
                      run.report.summary(), run.summary(), f"written to {written}"])


def _demo_plan(region: DemoRegion, week: str, claim: OutputClaim, path: Path,
               progress: JobProgress) -> str:
    tables = {kind: getattr(region, kind) for kind in weekly.INPUT_KINDS}
    run = weekly.run_week(tables, week=week, stage=progress.stage)
    progress.stage("Writing the plan")
    commit_outputs(claim, weekly.plan_writers(run.record, path))
    return "Weekly plan:\n" + run.record.summary() + f"\nwritten to {path}"


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""

    @app.command("demo")
    def demo_command(
        out: Annotated[Path, typer.Option(help="Folder for the demo outputs.")] = DEFAULT_OUT,
        resolution: Annotated[int, typer.Option(min=0, max=15, help="H3 resolution.")
                              ] = settings.h3_resolution,
        force: Force = False,
        quiet: Quiet = False,
    ) -> None:
        """Run Xingtu on the bundled demo region (Pearl River Delta) and write the results."""
        progress = JobProgress(quiet=quiet)
        with readable_errors(), progress.running():
            text = run_demo(out, resolution=resolution, force=force, progress=progress)
        typer.echo(text)
