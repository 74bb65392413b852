"""``xingtu demo``: build the bundled demo region's layers, write them and describe the region."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_OUT = Path("out/demo")


def region_summary(region: object) -> str:
    """A few lines describing a demo region (stores, competitors, SKUs, sales rows...)."""
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
    """Build and write the demo layers to ``out/layers.parquet``; return the summary text."""
    from geodata.demo import build_layers, load_demo
    from xingtu.commands.layers import summary, write_layers

    start = time.perf_counter()
    region = load_demo()
    table = build_layers(region, resolution=resolution)
    written = write_layers(table, out / "layers.parquet")
    return region_summary(region) + "\n" + summary(table, time.perf_counter() - start, written)


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""

    @app.command("demo")
    def demo_command(
        out: Annotated[Path, typer.Option(help="Folder for the demo outputs.")] = DEFAULT_OUT,
        resolution: Annotated[int, typer.Option(min=0, max=15, help="H3 resolution.")] = 8,
    ) -> None:
        """Run Xingtu on the bundled demo region (Pearl River Delta) and write the results."""
        typer.echo(run_demo(out, resolution=resolution))
