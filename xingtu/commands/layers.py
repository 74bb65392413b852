"""``xingtu layers``: build the H3 layer table from the demo region or the user's files."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import typer

from geodata.layers import Engine, UserLayer
from optimizer.settings import settings

from ..jobs.outputs import OutputClaim, claim_outputs, commit_outputs
from ..jobs.team_layers import TeamLayer
from ._console import Force, JobProgress, Quiet, readable_errors

DEFAULT_OUT = Path("out/layers.parquet")
INPUT_KINDS = ("stores", "competitors", "pois", "footfall", "customers", "population")


def commit_layers(claim: OutputClaim, table: pd.DataFrame, path: Path) -> Path:
    """Write a layer table as GeoParquet at ``path`` through the output transaction.

    ``path`` is claimed before the build; a failed write leaves no partial file.
    """
    from geodata.layers import save_layers

    commit_outputs(claim, {path: lambda tmp: save_layers(table, tmp)})
    return path


def summary(table: pd.DataFrame, seconds: float, path: Path | None = None) -> str:
    """Return a few lines describing a layer table: cells, columns, totals and time.

    Examples
    --------
    >>> t = pd.DataFrame({"population": [1.0, 2.0], "footfall": [3.0, 0.0]})
    >>> print(summary(t, 0.5).splitlines()[0])
    2 cells, 2 columns, built in 0.50 s
    """
    lines = [f"{len(table):,} cells, {table.shape[1]} columns, built in {seconds:.2f} s"]
    totals = [f"{column} {table[column].sum():,.0f}"
              for column in ("population", "footfall", "customers", "devices_sold", "poi_total",
                             "competitor_count", "own_store_count") if column in table]
    if totals:
        lines.append("totals: " + ", ".join(totals))
    lines.append("columns: " + ", ".join(map(str, table.columns)))
    if path is not None:
        lines.append(f"written to {path}")
    return "\n".join(lines)


def read_inputs(files: dict[str, Path | str | None]) -> dict[str, Any]:
    """Read and check every given file; all problems of all files are reported together.

    A footfall Parquet file or folder, or a dataset URL (``s3://...``), is passed on as it is,
    so the chosen engine streams it.
    """
    from geodata import io

    streamed: dict[str, Any] = {}
    to_read: dict[str, Path] = {}
    for kind, path in files.items():
        if path is None:
            continue
        if isinstance(path, str) and "://" in path:
            streamed[kind] = path
            continue
        path = Path(path)
        if kind == "footfall" and path.exists() and (path.is_dir()
                                                     or path.suffix.lower() == ".parquet"):
            streamed[kind] = path
        else:
            to_read[kind] = path
    return {**io.read_inputs(to_read), **streamed}


def parse_user_layer(text: str) -> UserLayer:
    """Return a user layer from ``NAME=PATH[,COLUMN[,HOW]]`` (HOW: sum, count or mean; default sum).

    Examples
    --------
    >>> parse_user_layer("rent=rents.gpkg,rent,mean").how
    'mean'
    """
    name, sep, rest = text.partition("=")
    parts = [part.strip() for part in rest.split(",")]
    how = parts[2] if len(parts) > 2 else ("sum" if len(parts) > 1 else "count")
    if not sep or not name.strip() or not parts[0] or how not in ("sum", "count", "mean"):
        raise typer.BadParameter(f"{text!r}: write NAME=PATH[,COLUMN[,HOW]] with HOW one of "
                                 "sum, count, mean, e.g. rent=rents.gpkg,rent,mean.")
    return UserLayer(name.strip(), Path(parts[0]), parts[1] if len(parts) > 1 else None,
                     how)  # type: ignore[arg-type]


def team_from_options(table: pd.DataFrame, layer_texts: Sequence[str] | None,
                      members: Path | None) -> list[TeamLayer]:
    """Return the team's layers given as ``--layer NAME=PATH[,COLUMN[,HOW]]`` and ``--members``.

    Each file is checked (missing or non-numeric column, no locations, wrong CRS) and gridded
    over ``table``'s cells (:mod:`xingtu.jobs.team_layers`).
    """
    from ..jobs import team_layers

    team = []
    for text in layer_texts or []:
        parsed = parse_user_layer(text)
        team.append(team_layers.user_layer(table, parsed.data, name=parsed.name,
                                           column=parsed.column, how=parsed.how))
    if members is not None:
        team.append(team_layers.member_layer(table, members))
    return team


def build_from_files(files: dict[str, Path | str | None], *, resolution: int,
                     engine: Literal["local", "dask"], scheduler: str | None,
                     base: object | None = None,
                     user_layers: Sequence[UserLayer] = ()) -> pd.DataFrame:
    """Build the layer table from the given files (over ``base``, e.g. the demo region)."""
    from geodata.layers import build_layers
    from geodata.user_layers import check_user_layer

    frames = read_inputs(files)
    checked = [check_user_layer(layer) for layer in user_layers]
    return build_layers(base, **frames, resolution=resolution, engine=engine,
                        scheduler=scheduler, user_layers=checked)


def register(app: typer.Typer) -> None:
    """Add the ``layers`` command to ``app``."""

    @app.command("layers")
    def layers_command(
        demo: Annotated[bool, typer.Option("--demo", help="Use the bundled demo region.")] = False,
        resolution: Annotated[int, typer.Option(
            min=0, max=15, help="H3 resolution (8: about 0.74 km2).")] = settings.h3_resolution,
        out: Annotated[Path, typer.Option(help="GeoParquet file to write.")] = DEFAULT_OUT,
        engine: Annotated[Engine, typer.Option(help="local, or dask for big footfall.")
                          ] = "local",
        scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address.")] = None,
        stores: Annotated[Path | None, typer.Option(help="Own stores file.")] = None,
        competitors: Annotated[Path | None, typer.Option(help="Competitor stores file.")] = None,
        pois: Annotated[Path | None, typer.Option(help="POIs file (with `category`).")] = None,
        footfall: Annotated[str | None, typer.Option(
            help="Footfall points: a file, a Parquet folder with lat, lng, count, or a dataset "
                 "URL such as s3://bucket/footfall/ (streamed by the chosen engine).")] = None,
        customers: Annotated[Path | None, typer.Option(help="Customers file.")] = None,
        population: Annotated[Path | None, typer.Option(
            help="Census areas or populated places with `population`.")] = None,
        layer: Annotated[list[str] | None, typer.Option(
            help="Extra layer NAME=PATH[,COLUMN[,HOW]] (HOW: sum, count, mean); repeatable.")
        ] = None,
        members: Annotated[Path | None, typer.Option(
            help="Members' transactions (member_id, date, amount, lat/lng): adds members, "
                 "member_value and member_value_per_member per cell.")] = None,
        force: Force = False,
        quiet: Quiet = False,
    ) -> None:
        """Build the H3 layer table (one row per cell) and write it as GeoParquet."""
        files = {"stores": stores, "competitors": competitors, "pois": pois,
                 "footfall": footfall, "customers": customers, "population": population}
        user_layers = [parse_user_layer(text) for text in layer or []]
        if not demo and all(path is None for path in files.values()) and not user_layers \
                and members is None:
            typer.echo("Nothing to build: pass --demo or at least one input file "
                       "(--stores, --competitors, --pois, --footfall, --customers, --population).",
                       err=True)
            raise typer.Exit(code=2)
        progress = JobProgress(quiet=quiet)
        with readable_errors(), progress.running(), claim_outputs([out], force=force) as claim:
            start = time.perf_counter()
            base = None
            if demo:
                from geodata.demo import load_demo

                base = load_demo()
            progress.stage("Reading the inputs and building the layers")
            table = build_from_files(files, resolution=resolution, engine=engine,
                                     scheduler=scheduler, base=base, user_layers=user_layers)
            if members is not None:
                from ..jobs.team_layers import with_team_layers

                progress.stage("Valuing the members and adding them per cell")
                table = with_team_layers(table, team_from_options(table, None, members))
            seconds = time.perf_counter() - start
            progress.stage("Writing the layers")
            written = commit_layers(claim, table, out)
        typer.echo(summary(table, seconds, written))
