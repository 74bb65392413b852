"""Build notebooks/site_selection.ipynb and notebooks/repair_shops.ipynb (committed without outputs).

Run: .venv/bin/python notebooks/_build_siting_notebooks.py
Check: .venv/bin/python notebooks/_build_siting_notebooks.py --execute (runs both, writes nothing
but the two notebooks, which are saved without outputs).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat

SITE_SELECTION = [
    ("md", "# Where to open the next stores\n\n"
           "A walkthrough of store siting on the demo region (Pearl River Delta): score every "
           "H3 cell, rank battlefields, calibrate the Huff demand model on our stores' sales, "
           "choose new sites with a location model and read the reasons for each: score "
           "breakdown, expected sales and how much a new store takes from our own stores."),
    ("code", "import pandas as pd\n\n"
             "from geodata.demo import load_demo\n"
             "from geodata.layers import build_layers\n"
             "from optimizer.calibration import calibrate\n"
             "from optimizer.huff import huff_shares\n"
             "from optimizer.scoring import rank_battlefields, score_cells\n"
             "from xingtu.jobs.siting import choose_sites, scenario_record, sites_frame\n\n"
             "region = load_demo()\n"
             "layers = build_layers(region)\n"
             "len(layers), len(region.stores), len(region.competitors)"),
    ("md", "## 1. Score every cell\n"
           "Factors are put on one scale (percentile ranks), weighted (demand factors positive, "
           "competitors negative) and added. The contributions add up exactly to the score, so "
           "every score can explain itself."),
    ("code", "scores = score_cells(layers)\n"
             "top = scores.top(5)\n"
             "assert (scores.contributions.sum(axis=1) == scores.score).all()\n"
             "top.round(3)"),
    ("code", "print(scores.explain(top.index[0]))"),
    ("md", "## 2. Battlefields: which regions to enter\n"
           "Fan index (own customers per resident), average ticket, market whitespace rate "
           "(share of demand with no own store within 3 km) and competitor pressure."),
    ("code", "rank_battlefields(layers, radius_km=3.0).round(3)"),
    ("md", "## 3. The Huff model\n"
           "A customer visits a store with probability proportional to attractiveness / "
           "distance². The textbook check: centre A (20,000 sq ft, 3 miles) against centre B "
           "(40,000 sq ft, 4 miles) gives shares 0.47 and 0.53."),
    ("code", "huff_shares([[3.0, 4.0]], [20_000, 40_000], alpha=1, beta=2).round(2)"),
    ("md", "## 4. Calibrate on our stores' sales\n"
           "Demand weights and the Huff exponents are fitted to the 100 stores' annual sales; "
           "skill is measured on stores held out in 5-fold cross-validation."),
    ("code", "calibration = calibrate(layers, region.stores, region.competitors)\n"
             "print(calibration.message)\n"
             "calibration.predictions.head()"),
    ("md", "## 5. Choose three new sites\n"
           "The maximal covering model picks, among the 150 best-scoring free cells, the three "
           "that bring the most sales potential within 3 km of a store; existing stores stay "
           "open. The solver's status, bound and gap say whether the choice is proven best."),
    ("code", "run = choose_sites(layers, region.stores, region.competitors, n_new=3,\n"
             "                   radius_km=3.0, calibration=calibration)\n"
             "print(run.report.summary())\n"
             "print(run.summary())"),
    ("code", "run.sites[['site', 'region', 'score', 'expected_sales', 'from_competitors', "
             "'from_own',\n           'net_gain', 'cannibalisation_rate']].round(2)"),
    ("code", "for text in run.sites['reasons']:\n    print('-', text)"),
    ("md", "What `xingtu sites` writes (a point per site, the H3 cell as text) and what the app "
           "saves as a scenario are the same job's:"),
    ("code", "print(scenario_record('three sites', run).summary)\n"
             "sites_frame(run.sites)[['site', 'cell_id', 'geometry']]"),
    ("md", "## 6. Same question, another model\n"
           "The p-median model brings demand as close as possible to a store instead of "
           "maximising coverage within a radius."),
    ("code", "pmedian = choose_sites(layers, region.stores, region.competitors, "
             "model='p_median',\n"
             "                       n_new=3, calibration=calibration)\n"
             "pd.DataFrame({'mclp': [run.coverage_after, run.sites['net_gain'].sum()],\n"
             "              'p_median': [pmedian.coverage_after, "
             "pmedian.sites['net_gain'].sum()]},\n"
             "             index=['coverage within 3 km', 'net sales gain'])"),
]

REPAIR_SHOPS = [
    ("md", "# Repair shops: closing the after-sales gaps\n\n"
           "Expected repairs come from devices sold per cell (8 % a year). A repair shop covers "
           "the customers within its service radius only if its credit rating is good enough: "
           "a poorly rated shop does not count. This walkthrough shows the gap a naive map "
           "would hide, then sites new shops two ways."),
    ("code", "from geodata.demo import load_demo\n"
             "from geodata.layers import build_layers\n"
             "from optimizer.repair_shops import repair_demand\n"
             "from xingtu.jobs.repair import site_repair_shops\n\n"
             "region = load_demo()\n"
             "layers = build_layers(region)\n"
             "repairs = repair_demand(layers)\n"
             "print(f'{repairs.sum():,.0f} expected repairs a year in {(repairs > 0).sum():,} "
             "cells')\n"
             "region.repair_shops['rating'].describe()"),
    ("md", "## 1. Five new shops for the most coverage\n"
           "Good shops (rated 3.5 or more) stay open; the model adds five shops within a 5 km "
           "service radius."),
    ("code", "coverage = site_repair_shops(layers, region.repair_shops, radius_km=5.0, "
             "min_rating=3.5,\n"
             "                             n_new=5, objective='coverage')\n"
             "print(coverage.report.summary())\n"
             "print(coverage.summary())\n"
             "coverage.new_shops[['shop', 'region', 'repairs_in_reach', "
             "'new_repairs_covered']].round(1)"),
    ("md", "Counting poorly rated shops would overstate today's coverage:"),
    ("code", "print(f'today, good shops only:    {coverage.coverage_before:.1%}')\n"
             "print(f'today, if poor shops counted: {coverage.coverage_if_poor_counted:.1%}')\n"
             "coverage.poor_shops"),
    ("md", "## 2. The fewest shops to reach every customer\n"
           "Every cell expecting at least one repair every two years gets a good shop within "
           "5 km, with as few new shops as possible (set cover)."),
    ("code", "fewest = site_repair_shops(layers, region.repair_shops, radius_km=5.0, "
             "min_rating=3.5,\n"
             "                           n_new=None, objective='fewest')\n"
             "print(fewest.summary())\n"
             "fewest.new_shops.groupby('region').size().rename('new shops')"),
    ("md", "## 3. How coverage grows with the number of new shops"),
    ("code", "curve = {n: site_repair_shops(layers, region.repair_shops, radius_km=5.0,\n"
             "                              min_rating=3.5, n_new=n).coverage_after\n"
             "         for n in (0, 3, 10)}\n"
             "assert list(curve.values()) == sorted(curve.values())\n"
             "{n: f'{share:.1%}' for n, share in curve.items()}"),
]


def build(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook from (kind, source) pairs, without outputs."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.cells = [nbformat.v4.new_markdown_cell(text) if kind == "md"
                      else nbformat.v4.new_code_cell(text) for kind, text in cells]
    return notebook


def main(execute: bool = False) -> None:
    """Write both notebooks; with ``execute`` run each once in a temporary folder first."""
    folder = Path(__file__).parent
    for name, cells in (("site_selection.ipynb", SITE_SELECTION),
                        ("repair_shops.ipynb", REPAIR_SHOPS)):
        notebook = build(cells)
        if execute:
            import time

            from nbclient import NotebookClient

            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as work:
                NotebookClient(build(cells), timeout=120, kernel_name="python3",
                               resources={"metadata": {"path": work}}).execute()
            print(f"{name}: ran in {time.perf_counter() - start:.1f} s")
        nbformat.write(notebook, folder / name)
        print(f"written {folder / name}")


if __name__ == "__main__":
    main(execute="--execute" in sys.argv)
