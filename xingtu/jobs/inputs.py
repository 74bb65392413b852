"""Inputs of a job: the bundled demo region and/or the user's files, checked, by kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.errors import InputError


def demo_region() -> Any:
    """Return the bundled demo region (built once per process)."""
    from geodata.demo import load_demo

    return load_demo()


def gather_tables(kinds: Sequence[str], *, demo: bool, files: Mapping[str, Path | None],
                  ) -> tuple[dict[str, pd.DataFrame | None], dict[str, str]]:
    """Return the tables of ``kinds``: the demo region's, replaced by the files given.

    Every file is read and checked (:func:`geodata.io.read_inputs`: all problems of all files
    at once). Returns the tables (``None`` for a kind neither gives) and the file name of each
    table read from a file (for error messages).
    """
    from geodata.io import read_inputs

    region = demo_region() if demo else None
    tables: dict[str, pd.DataFrame | None] = {
        kind: getattr(region, kind, None) if region is not None else None for kind in kinds}
    tables.update(read_inputs({kind: path for kind, path in files.items() if path is not None}))
    sources = {kind: Path(path).name for kind, path in files.items() if path is not None}
    return tables, sources


def require_tables(tables: Mapping[str, pd.DataFrame | None], needed: Sequence[str]) -> None:
    """Raise an input error naming the options to pass for every missing table."""
    missing = [kind for kind in needed if tables.get(kind) is None]
    if missing:
        raise InputError("Missing input: pass " + " and ".join(
            f"--{kind.replace('_', '-')}" for kind in missing) + " (or --demo).")


def layer_table(*, demo: bool, layers_path: Path | None,
                tables: Mapping[str, pd.DataFrame | None], resolution: int | None = None,
                ) -> pd.DataFrame:
    """Return the layer table: read from ``layers_path``, else built from the demo region.

    The given stores and competitors take the place of the demo region's own.
    """
    if layers_path is not None:
        from geodata.layers import load_layers

        if not layers_path.exists():
            raise InputError(f"`--layers` file {str(layers_path)!r} does not exist; build it "
                             "with `xingtu layers`.")
        return load_layers(layers_path)
    if not demo:
        raise InputError("No layer table: pass --demo or --layers.")
    from geodata.layers import build_layers
    from optimizer.settings import settings

    extra = {k: v for k, v in tables.items() if k in ("stores", "competitors") and v is not None}
    return build_layers(demo_region(), **extra,
                        resolution=settings.h3_resolution if resolution is None else resolution)
