"""``xingtu sites`` and ``xingtu repair-sites``: new store and repair-shop sites.

``xingtu sites`` and ``xingtu repair-sites``: choose new store / repair-shop sites and write
them with the reasons for each.

The output format follows ``--out``'s extension: ``.geojson``, ``.parquet`` (GeoParquet),
``.gpkg`` (layers ``sites`` and ``run``), ``.csv`` or ``.xlsx`` (sheets ``Sites`` and ``Run``);
``--report report.html`` also writes the one-page site report. An existing file is kept unless
``--force``. Bad input prints a readable message and exits with code 2. ``xingtu sites`` reads
the field-survey statuses from the database (``--database``): a site rejected there is never
chosen, an approved one stays open; ``--candidates``, ``--exclude`` and ``--region`` bring the
team's candidate list, exclusion areas and chosen regions, ``--layer`` and ``--members`` the
team's layers (weighted with ``--weight``). The work is :mod:`xingtu.jobs.siting`'s,
:mod:`xingtu.jobs.site_files`', :mod:`xingtu.jobs.team_layers`' and :mod:`xingtu.jobs.repair`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optimizer.errors import InputError
from optimizer.repair_shops import (
    DEFAULT_MIN_CELL_REPAIRS,
    DEFAULT_MIN_RATING,
    DEFAULT_REPAIR_RATE,
    RepairObjective,
)
from optimizer.scoring import Normalisation
from optimizer.settings import settings
from optimizer.siting import (
    DEFAULT_MAX_CANDIDATES,
    DEFAULT_MAX_CANDIDATES_P_CENTER,
    DEFAULT_MAX_CANDIDATES_P_MEDIAN,
    SitingModel,
)

from ..database import Database
from ..jobs import repair, site_files, siting, team_layers
from ..jobs.inputs import gather_tables, layer_table, require_tables
from ..jobs.outputs import claim_outputs, commit_outputs
from ._console import Force, JobProgress, Quiet, readable_errors
from .layers import team_from_options

DEFAULT_SITES_OUT = Path("out/sites.geojson")
DEFAULT_REPAIR_OUT = Path("out/repair_sites.geojson")
SOLVER_HELP = "Solver name, e.g. highs (default: XINGTU_SOLVER, else the first available)."
TIME_HELP = (f"Solver time limit, s (default {settings.time_limit:g} s from the settings, "
             "XINGTU_TIME_LIMIT)." if settings.time_limit else "Solver time limit, s.")
GAP_HELP = f"Relative MIP gap accepted (default {settings.mip_gap:g}, XINGTU_MIP_GAP)."


class CommandInputError(InputError):
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


def parse_regions(items: list[str] | None) -> list[str] | None:
    """Turn ``--region`` values (repeatable, comma-separated) into a list of region names.

    Examples
    --------
    >>> parse_regions(["Guangzhou,Foshan", " Shenzhen "])
    ['Guangzhou', 'Foshan', 'Shenzhen']
    >>> parse_regions(None) is None
    True
    """
    if not items:
        return None
    names = [name.strip() for item in items for name in item.split(",") if name.strip()]
    if not names:
        raise CommandInputError("`--region` is empty; give region names, e.g. "
                                "--region Guangzhou,Foshan.")
    return names


def _check_out(out: Path) -> None:
    from ..export import TABLE_FORMATS

    if out.suffix.lower() not in TABLE_FORMATS:
        raise CommandInputError(f"`--out` {out.name!r} has an unknown extension; use one of "
                                f"{', '.join(sorted(TABLE_FORMATS))}.")


def _need_data(demo: bool, layers: Path | None, needed: tuple[str, ...]) -> None:
    if not demo and layers is None:
        raise CommandInputError("No data: pass --demo, or --layers (a table written by `xingtu "
                                "layers`) with " + " and ".join(f"--{k.replace('_', '-')}"
                                                               for k in needed) + ".")


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
        model: Annotated[SitingModel, typer.Option(
            help="Location model: " + "; ".join(f"{name}: {model.summary}" for name, model
                                                in siting.SITING_MODELS.items()))] = "mclp",
        n_new: Annotated[int | None, typer.Option(
            "--n-new", "-n",
            help="Number of new sites; 0 with --budget opens as many as it allows.")] = 3,
        radius_km: Annotated[float, typer.Option(help="Service radius of a store, km.")] = 3.0,
        budget: Annotated[float | None, typer.Option(
            help="Limit on the opening cost of new sites, CNY.")] = None,
        opening_cost: Annotated[float | None, typer.Option(
            help="Opening cost of one site, CNY (default 1.5 million with --budget).")] = None,
        capacity: Annotated[float | None, typer.Option(
            help="With --model capacitated: sales potential one store serves at most, CNY a "
                 "year.")] = None,
        min_spacing_km: Annotated[float | None, typer.Option(
            help="No two new sites closer than this, km.")] = None,
        max_candidates: Annotated[int | None, typer.Option(
            help="Best-scoring free cells offered as candidates (default: every free cell for "
                 f"mclp and set_cover, the {DEFAULT_MAX_CANDIDATES_P_MEDIAN:,} best for "
                 f"p_median, the {DEFAULT_MAX_CANDIDATES_P_CENTER} best for p_center, the "
                 f"{DEFAULT_MAX_CANDIDATES} best for market_share and capacitated).")
        ] = None,
        weight: Annotated[list[str] | None, typer.Option(
            help="Score weight LAYER=NUMBER, repeatable (e.g. footfall=0.4).")] = None,
        layer: Annotated[list[str] | None, typer.Option(
            help="The team's layer NAME=PATH[,COLUMN[,HOW]] (HOW: mean, sum, count), added to "
                 "the layers; weight it with --weight NAME=NUMBER. Repeatable.")] = None,
        members: Annotated[Path | None, typer.Option(
            help="Members' transactions: adds member_value per cell (weight it with --weight "
                 "member_value=NUMBER).")] = None,
        normalisation: Annotated[Normalisation, typer.Option(
            help="How factors are put on one scale.")] = "percentile",
        smooth_k: Annotated[int, typer.Option(
            min=0, help="Average score factors over k rings of cells (0: no smoothing).")] = 0,
        candidates: Annotated[Path | None, typer.Option(
            help="Your candidate sites (lat/lng points or a cell column): choose only from "
                 "these.")] = None,
        exclude: Annotated[Path | None, typer.Option(
            help="Exclusion areas (polygons: GeoJSON, GeoPackage, GeoParquet): never site "
                 "inside.")] = None,
        region: Annotated[list[str] | None, typer.Option(
            "--region", "--regions", help="Site only in these regions; repeatable or comma-separated "
                 "(--region Guangzhou,Foshan).")] = None,
        database: Annotated[str | None, typer.Option(
            help="Database URL with the field-survey statuses (default: XINGTU_DATABASE_URL "
                 "or a local SQLite file).")] = None,
        solver: Annotated[str | None, typer.Option(help=SOLVER_HELP)] = None,
        time_limit: Annotated[float | None, typer.Option(help=TIME_HELP)] = None,
        gap: Annotated[float | None, typer.Option(help=GAP_HELP)] = None,
        out: Annotated[Path, typer.Option(
            help="Output: .geojson, .parquet, .gpkg (sites and run layers), .csv or .xlsx "
                 "(Sites and Run sheets).")] = DEFAULT_SITES_OUT,
        report: Annotated[Path | None, typer.Option(
            help="Also write the one-page site report (.html: map, sites and reasons, "
                 "parameters; opens offline).")] = None,
        force: Force = False,
        quiet: Quiet = False,
    ) -> None:
        """Choose new store sites (obeying the field survey) and write them with the reasons."""
        progress = JobProgress(quiet=quiet)
        with readable_errors(), progress.running():
            _need_data(demo, layers, ("stores",))
            _check_out(out)
            if report is not None:
                site_files.check_report_path(report)
            weights = parse_weights(weight)
            with claim_outputs([out, *([report] if report else [])], force=force) as claim:
                progress.stage("Reading the inputs")
                tables, _ = gather_tables(("stores", "competitors"), demo=demo,
                                          files={"stores": stores, "competitors": competitors})
                require_tables(tables, ("stores",))
                progress.stage("Building the layers" if layers is None else "Reading the layers")
                table = layer_table(demo=demo, layers_path=layers, tables=tables)
                if layer or members is not None:
                    progress.stage("Adding the team's layers")
                    table = team_layers.with_team_layers(
                        table, team_from_options(table, layer, members))
                progress.stage("Reading the survey statuses and the team's decisions")
                with Database(database) as store:
                    statuses = store.survey_statuses()
                decisions = siting.siting_decisions(
                    table, statuses=statuses, candidates_path=candidates, exclude_path=exclude,
                    regions=parse_regions(region))
                progress.stage("Scoring, calibrating and solving the location model")
                run = siting.choose_sites(
                    table, tables["stores"], tables["competitors"], weights=weights, model=model,
                    n_new=n_new, radius_km=radius_km, budget=budget, opening_cost=opening_cost,
                    capacity=capacity, min_spacing_km=min_spacing_km, max_candidates=max_candidates,
                    normalisation=normalisation, smooth_k=smooth_k, solver=solver,
                    time_limit=time_limit, gap=gap, decisions=decisions)
                progress.stage("Writing the sites" + (" and the report" if report else ""))
                record = siting.scenario_record(out.stem, run)
                context = (site_files.report_map(table, tables["stores"], tables["competitors"])
                           if report else None)
                commit_outputs(claim, site_files.run_file_writers(record, out, report=report,
                                                                  context=context))
        typer.echo(siting.site_lines(run))
        typer.echo(f"{len(run.sites)} sites written to {out}.")
        if report is not None:
            typer.echo(f"Site report written to {report}.")

    @app.command("repair-sites")
    def repair_sites_command(
        demo: Annotated[bool, typer.Option("--demo", help="Use the bundled demo region.")] = False,
        layers: Annotated[Path | None, typer.Option(
            help="Layer table (GeoParquet from `xingtu layers`), with devices_sold.")] = None,
        shops: Annotated[Path | None, typer.Option(
            help="Existing repair shops file (shop_id, rating).")] = None,
        objective: Annotated[RepairObjective | None, typer.Option(
            help="coverage (needs --n-new) or fewest; default: coverage with --n-new, "
                 "else fewest.")] = None,
        n_new: Annotated[int | None, typer.Option("--n-new", "-n",
                                                  help="Number of new shops.")] = None,
        radius_km: Annotated[float, typer.Option(help="Service radius of a shop, km.")] = 5.0,
        min_rating: Annotated[float, typer.Option(
            help="Shops rated below this do not count as coverage.")] = DEFAULT_MIN_RATING,
        repair_rate: Annotated[float, typer.Option(
            help="Repairs per device sold per year.")] = DEFAULT_REPAIR_RATE,
        min_cell_repairs: Annotated[float, typer.Option(
            help="With fewest: cells expecting fewer repairs a year need no shop.")
        ] = DEFAULT_MIN_CELL_REPAIRS,
        solver: Annotated[str | None, typer.Option(help=SOLVER_HELP)] = None,
        time_limit: Annotated[float | None, typer.Option(help=TIME_HELP)] = None,
        gap: Annotated[float | None, typer.Option(help=GAP_HELP)] = None,
        repairs: Annotated[Path | None, typer.Option(
            help="Repair records: ratings computed from them replace the given ones (--demo "
                 "uses the demo's records).")] = None,
        devices: Annotated[Path | None, typer.Option(
            help="Devices sold (with --repairs): expected repairs by model and age.")] = None,
        given_ratings: Annotated[bool, typer.Option(
            "--given-ratings", help="Ignore repair records: use the shops' given ratings and "
                                    "devices sold x repair rate.")] = False,
        out: Annotated[Path, typer.Option(
            help="Output: .geojson, .parquet, .gpkg, .csv or .xlsx.")] = DEFAULT_REPAIR_OUT,
        force: Force = False,
        quiet: Quiet = False,
    ) -> None:
        """Site new repair shops where no well-rated shop is within reach."""
        progress = JobProgress(quiet=quiet)
        with readable_errors(), progress.running():
            _need_data(demo, layers, ("shops",))
            _check_out(out)
            with claim_outputs([out], force=force) as claim:
                progress.stage("Reading the inputs")
                tables, _ = gather_tables(("repair_shops",), demo=demo,
                                          files={"repair_shops": shops})
                if tables.get("repair_shops") is None:
                    raise CommandInputError("Missing input: pass --shops (or --demo).")
                progress.stage("Building the layers" if layers is None else "Reading the layers")
                table = layer_table(demo=demo, layers_path=layers, tables={})
                assessment = None
                if not given_ratings:
                    progress.stage("Rating the shops from their repair records")
                    assessment = repair.records_assessment(
                        demo=demo, repairs=repairs, devices=devices,
                        shops=tables["repair_shops"])
                progress.stage("Solving the location model")
                run = repair.site_repair_shops(
                    table, tables["repair_shops"], n_new=n_new, objective=objective,
                    radius_km=radius_km, min_rating=min_rating, repair_rate=repair_rate,
                    min_cell_repairs=min_cell_repairs, solver=solver, time_limit=time_limit,
                    gap=gap, assessment=assessment)
                progress.stage("Writing the shops")
                written = repair.commit_shops(claim, run, out)
        typer.echo(repair.shop_lines(run))
        typer.echo(f"{len(run.new_shops)} new shops written to {written}.")

