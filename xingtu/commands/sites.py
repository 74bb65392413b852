"""``xingtu sites`` and ``xingtu repair-sites``: new store and repair-shop sites.

``xingtu sites`` and ``xingtu repair-sites``: choose new store / repair-shop sites and write
them with the reasons for each.

The output format follows ``--out``'s extension: ``.geojson``, ``.parquet`` (GeoParquet),
``.gpkg``, ``.csv`` or ``.xlsx``; every write is atomic. Bad input prints a readable message and
exits with code 2.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from optimizer.errors import XingtuError
from optimizer.results import SolveReport

DEFAULT_SITES_OUT = Path("out/sites.geojson")
DEFAULT_REPAIR_OUT = Path("out/repair_sites.geojson")
SITE_MODELS = ("mclp", "pmedian", "market_share")
REPAIR_OBJECTIVES = ("coverage", "fewest")


class CommandInputError(XingtuError):
    """A command-line option is wrong; the message says which and how to fix it."""


def parse_weights(items: list[str] | None) -> dict[str, float] | None:
    """Turn ``["footfall=0.4", "competitors_nearby=-0.3"]`` into a weight mapping.

    Examples
    --------
    >>> parse_weights(["footfall=0.4", "competitors_nearby=-0.3"])
    {'footfall': 0.4, 'competitors_nearby': -0.3}
    >>> parse_weights(None) is None
    True
    """
    if not items:
        return None
    weights: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            weights[name.strip()] = float(value)
        except ValueError:
            raise CommandInputError(f"`--weight` {item!r} is not LAYER=NUMBER; write e.g. "
                                    "--weight footfall=0.4 --weight competitors_nearby=-0.3."
                                    ) from None
    return weights


def report_lines(report: SolveReport) -> str:
    """Status, objective, bound and gap in one line.

    Examples
    --------
    >>> print(report_lines(SolveReport("optimal", 5.0, 5.0, 0.0, 0.1, "highs")))
    status optimal | objective 5 | bound 5 | gap 0% | highs 0.10 s
    """
    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:,.6g}"

    gap = "n/a" if report.gap is None else f"{100 * report.gap:.3g}%"
    line = (f"status {report.status} | objective {number(report.objective)} | bound "
            f"{number(report.bound)} | gap {gap} | {report.solver} {report.solve_seconds:.2f} s")
    if report.status != "optimal" and report.has_solution:
        line += " | NOT proven optimal"
    return line


def sites_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Return a site table as a point GeoDataFrame (EPSG:4326) with the H3 cell as a hex string."""
    import geopandas as gpd

    from geodata.grid import cells_to_str

    frame = table.copy()
    if "cell" in frame.columns and len(frame):
        frame.insert(frame.columns.get_loc("cell") + 1, "cell_id",
                     cells_to_str(frame["cell"].to_numpy(dtype="uint64")))
    if "cell" in frame.columns:
        frame["cell"] = frame["cell"].astype("uint64").astype(str)
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lng"], frame["lat"]),
                            crs="EPSG:4326")


def write_sites(table: pd.DataFrame, out: Path) -> Path:
    """Write the sites by ``out``'s extension (CSV and Excel without the geometry column)."""
    from ..export import write_table

    frame = sites_frame(table)
    if out.suffix.lower() in (".csv", ".xlsx"):
        frame = pd.DataFrame(frame.drop(columns="geometry"))
    return write_table(frame, out)


def _check_out(out: Path) -> None:
    from ..export import TABLE_FORMATS

    if out.suffix.lower() not in TABLE_FORMATS:
        raise CommandInputError(f"`--out` {out.name!r} has an unknown extension; use one of "
                                f"{', '.join(sorted(TABLE_FORMATS))}.")


def _load(demo: bool, layers_path: Path | None, files: dict[str, Path | None],
          needed: tuple[str, ...]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame | None]]:
    """Return the layer table and the point inputs, from the demo region and/or files."""
    from geodata import io

    if not demo and layers_path is None:
        raise CommandInputError("No data: pass --demo, or --layers (a table written by `xingtu "
                                "layers`) with " + " and ".join(f"--{k.replace('_', '-')}"
                                                               for k in needed) + ".")
    region = None
    if demo:
        from geodata.demo import load_demo

        region = load_demo()
    frames: dict[str, pd.DataFrame | None] = {
        kind: getattr(region, kind, None) if region is not None else None for kind in files}
    frames.update(io.read_inputs(files))
    missing = [k for k in needed if frames.get(k) is None]
    if missing:
        raise CommandInputError("Missing input: pass " + " and ".join(
            f"--{k.replace('_', '-')}" for k in missing) + " (or --demo).")
    if layers_path is not None:
        from geodata.layers import load_layers

        if not layers_path.exists():
            raise CommandInputError(f"`--layers` file {str(layers_path)!r} does not exist; build "
                                    "it with `xingtu layers`.")
        layers = load_layers(layers_path)
    else:
        from geodata.layers import build_layers

        layers = build_layers(region, **{k: v for k, v in frames.items()
                                         if k in ("stores", "competitors") and v is not None})
    return layers, frames


def _fail(error: Exception) -> typer.Exit:
    typer.echo(f"Error: {error}", err=True)
    return typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    """Add the ``sites`` and ``repair-sites`` commands to ``app``."""

    @app.command("sites")
    def sites_command(
        demo: Annotated[bool, typer.Option("--demo", help="Use the bundled demo region.")] = False,
        layers: Annotated[Path | None, typer.Option(
            help="Layer table (GeoParquet from `xingtu layers`).")] = None,
        stores: Annotated[Path | None, typer.Option(
            help="Own stores file (annual_sales calibrates the demand model).")] = None,
        competitors: Annotated[Path | None, typer.Option(help="Competitor stores file.")] = None,
        model: Annotated[str, typer.Option(help="mclp, pmedian or market_share.")] = "mclp",
        n_new: Annotated[int | None, typer.Option(
            "--n-new", "-n",
            help="Number of new sites; 0 with --budget opens as many as it allows.")] = 3,
        radius_km: Annotated[float, typer.Option(help="Service radius of a store, km.")] = 3.0,
        budget: Annotated[float | None, typer.Option(
            help="Limit on the opening cost of new sites, CNY.")] = None,
        opening_cost: Annotated[float | None, typer.Option(
            help="Opening cost of one site, CNY (default 1.5 million with --budget).")] = None,
        min_spacing_km: Annotated[float | None, typer.Option(
            help="No two new sites closer than this, km.")] = None,
        max_candidates: Annotated[int, typer.Option(
            help="Best-scoring free cells offered as candidates.")] = 150,
        weight: Annotated[list[str] | None, typer.Option(
            help="Score weight LAYER=NUMBER, repeatable (e.g. footfall=0.4).")] = None,
        normalisation: Annotated[str, typer.Option(help="percentile or zscore.")] = "percentile",
        smooth_k: Annotated[int, typer.Option(
            min=0, help="Average score factors over k rings of cells (0: no smoothing).")] = 0,
        solver: Annotated[str | None, typer.Option(help="Solver name, e.g. highs.")] = None,
        time_limit: Annotated[float | None, typer.Option(help="Solver time limit, s.")] = None,
        gap: Annotated[float | None, typer.Option(help="Relative MIP gap accepted.")] = None,
        out: Annotated[Path, typer.Option(
            help="Output: .geojson, .parquet, .gpkg, .csv or .xlsx.")] = DEFAULT_SITES_OUT,
    ) -> None:
        """Choose new store sites and write them with the reasons for each."""
        from optimizer.siting import run_site_selection

        start = time.perf_counter()
        try:
            if model not in SITE_MODELS:
                raise CommandInputError(f"`--model` is {model!r}; use one of "
                                        f"{', '.join(SITE_MODELS)}.")
            if normalisation not in ("percentile", "zscore"):
                raise CommandInputError(f"`--normalisation` is {normalisation!r}; use percentile "
                                        "or zscore.")
            _check_out(out)
            weights = parse_weights(weight)
            table, frames = _load(demo, layers, {"stores": stores, "competitors": competitors},
                                  ("stores",))
            smoothing = None
            if smooth_k > 0:
                from geodata.grid import disk_matrix

                cells = table.index.to_numpy(dtype="uint64")
                smoothing = disk_matrix(cells, cells, smooth_k, decay="linear")
            run = run_site_selection(
                table, frames["stores"], frames["competitors"], weights=weights,
                model=model,  # type: ignore[arg-type]
                n_new=None if (n_new is None or (budget is not None and n_new == 0)) else n_new,
                radius_km=radius_km, budget=budget, opening_cost=opening_cost,
                min_spacing_km=min_spacing_km, max_candidates=max_candidates,
                normalisation=normalisation,  # type: ignore[arg-type]
                smoothing=smoothing, solver=solver, time_limit=time_limit, gap=gap)
            written = write_sites(run.sites, out)
        except (XingtuError, ValueError, OSError) as error:
            raise _fail(error) from None
        typer.echo(report_lines(run.report))
        typer.echo(run.summary())
        columns = ["site", "region", "score", "expected_sales", "from_own", "net_gain"]
        if len(run.sites):
            typer.echo(run.sites[columns].to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
        typer.echo(f"{len(run.sites)} sites written to {written} "
                   f"({time.perf_counter() - start:.1f} s).")

    @app.command("repair-sites")
    def repair_sites_command(
        demo: Annotated[bool, typer.Option("--demo", help="Use the bundled demo region.")] = False,
        layers: Annotated[Path | None, typer.Option(
            help="Layer table (GeoParquet from `xingtu layers`), with devices_sold.")] = None,
        shops: Annotated[Path | None, typer.Option(
            help="Existing repair shops file (shop_id, rating).")] = None,
        objective: Annotated[str | None, typer.Option(
            help="coverage (needs --n-new) or fewest; default: coverage with --n-new, "
                 "else fewest.")] = None,
        n_new: Annotated[int | None, typer.Option("--n-new", "-n",
                                                  help="Number of new shops.")] = None,
        radius_km: Annotated[float, typer.Option(help="Service radius of a shop, km.")] = 5.0,
        min_rating: Annotated[float, typer.Option(
            help="Shops rated below this do not count as coverage.")] = 3.5,
        repair_rate: Annotated[float, typer.Option(
            help="Repairs per device sold per year.")] = 0.08,
        min_cell_repairs: Annotated[float, typer.Option(
            help="With fewest: cells expecting fewer repairs a year need no shop.")] = 0.5,
        solver: Annotated[str | None, typer.Option(help="Solver name, e.g. highs.")] = None,
        time_limit: Annotated[float | None, typer.Option(help="Solver time limit, s.")] = None,
        gap: Annotated[float | None, typer.Option(help="Relative MIP gap accepted.")] = None,
        out: Annotated[Path, typer.Option(
            help="Output: .geojson, .parquet, .gpkg, .csv or .xlsx.")] = DEFAULT_REPAIR_OUT,
    ) -> None:
        """Site new repair shops where no well-rated shop is within reach."""
        from optimizer.repair_shops import run_repair_siting

        start = time.perf_counter()
        try:
            chosen = objective or ("coverage" if n_new is not None else "fewest")
            if chosen not in REPAIR_OBJECTIVES:
                raise CommandInputError(f"`--objective` is {chosen!r}; use coverage or fewest.")
            _check_out(out)
            table, frames = _load(demo, layers, {"repair_shops": shops}, ("repair_shops",))
            run = run_repair_siting(
                table, frames["repair_shops"], radius_km=radius_km, min_rating=min_rating,
                n_new=n_new, objective=chosen,  # type: ignore[arg-type]
                repair_rate=repair_rate, min_cell_repairs=min_cell_repairs, solver=solver,
                time_limit=time_limit, gap=gap)
            written = write_sites(run.new_shops, out)
        except (XingtuError, ValueError, OSError) as error:
            raise _fail(error) from None
        typer.echo(report_lines(run.report))
        typer.echo(run.summary())
        if len(run.new_shops):
            columns = ["shop", "region", "repairs_in_reach", "new_repairs_covered"]
            typer.echo(run.new_shops[columns].head(20).to_string(
                index=False, float_format=lambda v: f"{v:,.1f}"))
        typer.echo(f"{len(run.new_shops)} new shops written to {written} "
                   f"({time.perf_counter() - start:.1f} s).")
