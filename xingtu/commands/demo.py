"""``xingtu demo``: build the bundled demo region's layers, write them and describe the region."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

DEFAULT_OUT = Path("out/demo")


def region_summary(region: object) -> str:
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


def run_demo(out: Path, *, resolution: int = 8) -> str:
    """Run every batch job on the demo region and write the results under ``out``.

    Builds the layer table (``layers.parquet``), chooses 5 new store sites by maximal coverage
    (``sites.geojson``), sites 5 new repair shops (``repair_shops.geojson``) and plans the week
    after the sales history (``plan-<week>.xlsx``). Returns the summary text.
    """
    from geodata.demo import build_layers, load_demo

    from .layers import summary, write_layers

    start = time.perf_counter()
    region = load_demo()
    table = build_layers(region, resolution=resolution)
    written = write_layers(table, out / "layers.parquet")
    parts = [region_summary(region), summary(table, time.perf_counter() - start, written)]
    parts.append(_demo_sites(region, table, out))
    parts.append(_demo_repair_shops(region, table, out))
    parts.append(_demo_plan(region, out))
    return "\n\n".join(parts)


def _demo_sites(region: object, table: object, out: Path) -> str:
    from optimizer.siting import run_site_selection

    from .sites import report_lines, write_sites

    run = run_site_selection(table, region.stores, region.competitors, model="mclp", n_new=5,
                             radius_km=3.0)
    written = write_sites(run.sites, out / "sites.geojson")
    return "\n".join(["Site selection (MCLP, 5 new stores, 3 km):", report_lines(run.report),
                      run.summary(), f"written to {written}"])


def _demo_repair_shops(region: object, table: object, out: Path) -> str:
    from optimizer.repair_shops import run_repair_siting

    from .sites import report_lines, write_sites

    run = run_repair_siting(table, region.repair_shops, radius_km=5.0, min_rating=3.5, n_new=5,
                            objective="coverage")
    written = write_sites(run.new_shops, out / "repair_shops.geojson")
    return "\n".join(["Repair-shop siting (5 new shops, 5 km, rating >= 3.5):",
                      report_lines(run.report), run.summary(), f"written to {written}"])


def _demo_plan(region: object, out: Path) -> str:
    from optimizer.allocation.plan import plan_week

    from .allocate import summary as plan_summary
    from .allocate import write_plan

    next_day = region.sales["date"].max() + pd.Timedelta(days=7)
    iso = next_day.isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    plan = plan_week(stores=region.stores, warehouses=region.warehouses, skus=region.skus,
                     sales=region.sales, stock=region.stock, lanes=region.lanes, week=week)
    written = write_plan(plan, out / f"plan-{week}.xlsx")
    return "Weekly plan:\n" + plan_summary(plan, written)


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""

    @app.command("demo")
    def demo_command(
        out: Annotated[Path, typer.Option(help="Folder for the demo outputs.")] = DEFAULT_OUT,
        resolution: Annotated[int, typer.Option(min=0, max=15, help="H3 resolution.")] = 8,
    ) -> None:
        """Run Xingtu on the bundled demo region (Pearl River Delta) and write the results."""
        typer.echo(run_demo(out, resolution=resolution))
