"""The ``xingtu`` command line: parse options, call the library, write files.

Each group of commands lives in its own module under :mod:`xingtu.commands` and registers itself here.
"""

from __future__ import annotations

import warnings

import typer

from .commands import allocate, demo, layers, sites

app = typer.Typer(
    name="xingtu",
    help="Xingtu (星图): where to open stores and repair shops, and how to move stock each week.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (demo, layers, sites, allocate):
    _module.register(app)


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: object = None, line: str | None = None) -> None:
    """Print a warning as one readable line on the console (``Warning: ...``), without its source."""
    typer.echo(f"Warning: {message}", err=True)


def main() -> None:
    """Entry point of the ``xingtu`` console script."""
    warnings.showwarning = show_warning
    app()
