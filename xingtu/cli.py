"""The ``xingtu`` command line: parse options, call the job layer, print the results.

Each group of commands lives in its own module under :mod:`xingtu.commands` and registers itself
here. Exit codes: 0 done, 1 a runtime failure, 2 a usage or input error
(:mod:`xingtu.commands._console`).
"""

from __future__ import annotations

import warnings
from typing import Annotated

import typer

from . import __version__
from .commands import allocate, battlefields, demo, layers, repair_rating, sites
from .commands._console import print_warnings

app = typer.Typer(
    name="xingtu",
    help="Xingtu (星图): where to open stores and repair shops, and how to move stock each week.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"xingtu {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the installed version and exit.")] = False,
) -> None:
    """Xingtu (星图): where to open stores and repair shops, and how to move stock each week."""


for _module in (demo, layers, sites, battlefields, allocate, repair_rating):
    _module.register(app)


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: object = None, line: str | None = None) -> None:
    """Print a warning as one readable line on the console (``Warning: ...``), without its source."""
    print_warnings([str(message)])


def main() -> None:
    """Run the ``xingtu`` console script."""
    warnings.showwarning = show_warning
    app()
