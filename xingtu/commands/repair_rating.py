"""``xingtu repair-shops rate``: rate repair shops from their repair records and flag claims.

Also the loader the ``demo`` and ``repair-sites`` commands share: repair records and devices sold
from files (``--repairs``, ``--devices``) or the demo region's records (``--demo``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from optimizer.errors import XingtuError

DEFAULT_OUT = Path("out/repair_ratings.xlsx")


def load_records(*, demo: bool, repairs: Path | None, devices: Path | None,
                 shops: pd.DataFrame | None, resolution: int = 8
                 ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Return the checked repair records and devices sold (each ``None`` when not given).

    Files win over the demo's records; with ``demo`` and no ``repairs`` file the demo region's
    records and devices are used.
    """
    from geodata.repairs import devices_with_cells, read_devices, read_repairs

    records = read_repairs(repairs, shops=shops) if repairs is not None else None
    sold = devices_with_cells(read_devices(devices), resolution) if devices is not None else None
    if demo and records is None:
        from geodata.demo_repairs import load_demo_repairs

        demo_records = load_demo_repairs(resolution=resolution)
        records = demo_records.repairs
        sold = demo_records.devices if sold is None else sold
    return records, sold


def assess(records: pd.DataFrame, devices: pd.DataFrame | None, *,
           threshold: float | None = None) -> Any:
    """Run :func:`optimizer.after_sales.assess_repair_shops` (the default threshold if ``None``)."""
    from optimizer.after_sales import FLAG_THRESHOLD, assess_repair_shops

    return assess_repair_shops(records, devices=devices,
                               threshold=FLAG_THRESHOLD if threshold is None else threshold)


def result_tables(result: Any) -> dict[str, pd.DataFrame]:
    """Return the tables ``repair-shops rate`` writes: ratings, flags, shop signals, rates."""
    tables = {"ratings": result.ratings.table, "flagged_claims": result.anomalies.claims,
              "shop_signals": result.anomalies.shops}
    if result.failure_rates is not None:
        tables["failure_rates"] = result.failure_rates.table
    return tables


def write_results(result: Any, out: Path) -> list[Path]:
    """Write the tables: one workbook for ``.xlsx``, else one file per table beside ``out``."""
    from ..export import TABLE_FORMATS, write_table, write_workbook

    suffix = out.suffix.lower()
    if suffix not in TABLE_FORMATS or suffix in (".geojson", ".gpkg"):
        raise XingtuError(f"`--out` {out.name!r} has an unsupported extension; use .xlsx (one "
                          "workbook), .csv or .parquet (one file per table).")
    tables = result_tables(result)
    if suffix == ".xlsx":
        return [write_workbook(tables, out)]
    written = [write_table(tables["ratings"], out)]
    for name, table in tables.items():
        if name != "ratings":
            written.append(write_table(table, out.with_name(
                f"{out.stem}-{name.replace('_', '-')}{out.suffix}")))
    return written


def register(app: typer.Typer) -> None:
    """Add the ``repair-shops`` command group (``rate``) to ``app``."""
    group = typer.Typer(help="Repair shops: ratings and claim anomalies from repair records.",
                        no_args_is_help=True)

    @group.command("rate")
    def rate_command(
        demo: Annotated[bool, typer.Option("--demo", help="Use the demo region's records.")] = False,
        repairs: Annotated[Path | None, typer.Option(
            help="Repair records file (one row per repair).")] = None,
        shops: Annotated[Path | None, typer.Option(
            help="Repair shops file (records of other shops are refused).")] = None,
        devices: Annotated[Path | None, typer.Option(
            help="Devices sold (serial, model, sold, where the owner lives): failure rates "
                 "by model and age.")] = None,
        threshold: Annotated[float | None, typer.Option(
            help="Flag claims and shops at this robust z-score (default 3.5).")] = None,
        out: Annotated[Path, typer.Option(
            help="Output: .xlsx (one workbook) or .csv / .parquet (one file per table).")
        ] = DEFAULT_OUT,
    ) -> None:
        """Rate repair shops from their records and flag suspicious claims."""
        from geodata import io

        start = time.perf_counter()
        try:
            if not demo and repairs is None:
                raise XingtuError("No records: pass --repairs FILE (with --shops to check the "
                                  "shop ids), or --demo.")
            shop_table = io.read_repair_shops(shops) if shops is not None else None
            if shop_table is None and demo:
                from geodata.demo import load_demo

                shop_table = load_demo().repair_shops
            records, sold = load_records(demo=demo, repairs=repairs, devices=devices,
                                         shops=shop_table)
            result = assess(records, sold, threshold=threshold)
            written = write_results(result, out)
        except (XingtuError, ValueError, OSError) as error:
            typer.echo(f"Error: {error}", err=True)
            raise typer.Exit(code=2) from None
        typer.echo(result.summary())
        columns = ["shop_id", "repairs", "rating", "grade", "reasons"]
        typer.echo(result.ratings.table[columns].head(10).to_string(index=False))
        if len(result.anomalies.claims):
            typer.echo("Top flagged claims:")
            typer.echo(result.anomalies.claims[["rank", "shop_id", "signal", "score", "reason"]]
                       .head(10).to_string(index=False, float_format=lambda v: f"{v:.1f}"))
        typer.echo(f"Written to {', '.join(str(p) for p in written)} "
                   f"({time.perf_counter() - start:.1f} s).")

    app.add_typer(group, name="repair-shops")
