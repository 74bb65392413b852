"""``xingtu repair-shops rate``: rate repair shops from their repair records and flag claims.

Also the loader the ``demo`` and ``repair-sites`` commands share: repair records and devices sold
from files (``--repairs``, ``--devices``) or the demo region's records (``--demo``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from optimizer.errors import InputError

from ..jobs.outputs import claim_outputs
from ..jobs.repair import assess, commit_results, load_records, result_paths
from ._console import Force, readable_errors

DEFAULT_OUT = Path("out/repair_ratings.xlsx")


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
        force: Force = False,
    ) -> None:
        """Rate repair shops from their records and flag suspicious claims."""
        from geodata import io

        start = time.perf_counter()
        with readable_errors(), claim_outputs(result_paths(out), force=force) as claim:
            if not demo and repairs is None:
                raise InputError("No records: pass --repairs FILE (with --shops to check the "
                                 "shop ids), or --demo.")
            shop_table = io.read_repair_shops(shops) if shops is not None else None
            if shop_table is None and demo:
                from geodata.demo import load_demo

                shop_table = load_demo().repair_shops
            records, sold = load_records(demo=demo, repairs=repairs, devices=devices,
                                         shops=shop_table)
            result = assess(records, sold, threshold=threshold)
            written = commit_results(claim, result, out)
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
