"""``xingtu battlefields``: areas ranked as places to enter, the team's layers weighted too.

Per area (regions, or coarse H3 parents with ``--areas h3:6``): fan index, average ticket,
whitespace rate, competitor pressure and any layer the team brings (``--layer``, ``--members``,
or a column already in ``--layers``), weighted with ``--weight NAME=NUMBER`` on top of the four
default measures. The work is :mod:`xingtu.jobs.battlefields`'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optimizer.scoring import DEFAULT_MIN_RESIDENTS

from ..jobs import battlefields, team_layers
from ..jobs.inputs import gather_tables, layer_table
from ..jobs.outputs import claim_outputs, commit_outputs
from ._console import Force, JobProgress, Quiet, readable_errors
from .layers import team_from_options
from .sites import CommandInputError, parse_weights

DEFAULT_OUT = Path("out/battlefields.csv")
FORMATS = (".csv", ".xlsx", ".parquet")


def register(app: typer.Typer) -> None:
    """Add the ``battlefields`` command to ``app``."""

    @app.command("battlefields")
    def battlefields_command(
        demo: Annotated[bool, typer.Option("--demo", help="Use the bundled demo region.")] = False,
        layers: Annotated[Path | None, typer.Option(
            help="Layer table (GeoParquet from `xingtu layers`).")] = None,
        areas: Annotated[str, typer.Option(
            help="Areas to rank: region, another layer column, or h3:RES (e.g. h3:6).")
        ] = "region",
        weight: Annotated[list[str] | None, typer.Option(
            help="Weight NAME=NUMBER of a measure or layer, repeatable (e.g. "
                 "brand_awareness=1, competitor_pressure=-0.5).")] = None,
        layer: Annotated[list[str] | None, typer.Option(
            help="The team's layer NAME=PATH[,COLUMN[,HOW]] (HOW: mean, sum, count); "
                 "repeatable.")] = None,
        members: Annotated[Path | None, typer.Option(
            help="Members' transactions: adds member_value (per 1,000 residents per area).")
        ] = None,
        radius_km: Annotated[float, typer.Option(
            help="Reach of a store for the whitespace rate, km.")] = 3.0,
        min_residents: Annotated[float, typer.Option(
            help="Smaller areas are merged into their nearest neighbour.")
        ] = DEFAULT_MIN_RESIDENTS,
        out: Annotated[Path, typer.Option(help="Output: .csv, .xlsx or .parquet.")
                       ] = DEFAULT_OUT,
        force: Force = False,
        quiet: Quiet = False,
    ) -> None:
        """Rank areas as battlefields, with the team's layers weighted, and write the ranking."""
        progress = JobProgress(quiet=quiet)
        with readable_errors(), progress.running():
            if not demo and layers is None:
                raise CommandInputError("No data: pass --demo or --layers (a table written by "
                                        "`xingtu layers`).")
            if out.suffix.lower() not in FORMATS:
                raise CommandInputError(f"`--out` {out.name!r}: use one of "
                                        f"{', '.join(FORMATS)}.")
            weights = parse_weights(weight)
            with claim_outputs([out], force=force) as claim:
                progress.stage("Building the layers" if layers is None else "Reading the layers")
                tables, _ = gather_tables((), demo=demo, files={})
                table = layer_table(demo=demo, layers_path=layers, tables=tables)
                team = team_from_options(table, layer, members)
                table = team_layers.with_team_layers(table, team)
                progress.stage("Ranking the areas")
                places = None
                if demo:
                    from geodata.demo import load_places

                    places = load_places()
                ranking = battlefields.rank_areas(table, areas=areas, weights=weights, team=team,
                                                  radius_km=radius_km,
                                                  min_residents=min_residents, places=places)
                frame = battlefields.ranking_table(ranking, weights)
                from ..export import render_table

                commit_outputs(claim, {out: lambda tmp: render_table(frame, tmp, out.suffix)})
        for item in team:
            typer.echo(item.summary())
        typer.echo(ranking.summary())
        shown = frame.head(10).to_string(index=False, float_format=lambda v: f"{v:,.3g}")
        typer.echo(shown)
        typer.echo(f"{len(frame)} areas written to {out}.")
