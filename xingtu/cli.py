"""The ``xingtu`` command line: parse options, call the library, write files.

Each group of commands lives in its own module under :mod:`xingtu.commands` and registers itself here.
"""

from __future__ import annotations

import typer

from .commands import allocate, demo, layers, repair_rating, sites

app = typer.Typer(
    name="xingtu",
    help="Xingtu (星图): where to open stores and repair shops, and how to move stock each week.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (demo, layers, sites, allocate, repair_rating):
    _module.register(app)


def main() -> None:
    """Entry point of the ``xingtu`` console script."""
    app()
