"""The repair-shop siting job: layers and shops in; new shops out, exported.

The CLI (``xingtu repair-sites``, ``xingtu demo``) and the app's Repair shops page call this
module: :func:`site_repair_shops` runs :func:`optimizer.repair_shops.run_repair_siting` (the
objective defaults to ``coverage`` with ``n_new``, else ``fewest``), :func:`commit_shops` writes
the new shops through the output transaction, :func:`shop_lines` is the text a planner reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.repair_shops import RepairObjective, RepairSitingRun, run_repair_siting

from .outputs import OutputClaim
from .siting import commit_sites

SHOP_COLUMNS = ["shop", "region", "repairs_in_reach", "new_repairs_covered"]


def default_objective(objective: RepairObjective | None, n_new: int | None) -> RepairObjective:
    """Return ``objective``, or ``coverage`` when ``n_new`` is given and ``fewest`` otherwise.

    Examples
    --------
    >>> default_objective(None, 5), default_objective(None, None)
    ('coverage', 'fewest')
    """
    if objective is not None:
        return objective
    return "coverage" if n_new is not None else "fewest"


def site_repair_shops(layers: pd.DataFrame, shops: pd.DataFrame, *, n_new: int | None,
                      objective: RepairObjective | None = None,
                      **options: Any) -> RepairSitingRun:
    """Run the repair-shop siting.

    ``options`` are those of :func:`optimizer.repair_shops.run_repair_siting`.
    """
    return run_repair_siting(layers, shops, n_new=n_new,
                             objective=default_objective(objective, n_new), **options)


def commit_shops(claim: OutputClaim, run: RepairSitingRun, out: Path) -> Path:
    """Write the new shops at ``out`` (by extension) through the output transaction."""
    return commit_sites(claim, run.new_shops, out)


def shop_lines(run: RepairSitingRun, *, rows: int = 20) -> str:
    """Return the text the after-sales team reads after a run: the solve, the summary, shops."""
    lines = [run.report.summary(), run.summary()]
    if len(run.new_shops):
        lines.append(run.new_shops[SHOP_COLUMNS].head(rows).to_string(
            index=False, float_format=lambda v: f"{v:,.1f}"))
    return "\n".join(lines)
