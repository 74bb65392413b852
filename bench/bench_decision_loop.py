"""The expansion team's decision loop on the demo region, timed step by step.

Run: ``python bench/bench_decision_loop.py``. Prints, for MCLP with 5 new sites: the free run,
the rerun with its first site rejected, with another approved, on a candidate list, restricted
to the best battlefield district; then the what-if of a point and of a store, and the ratio of a
what-if against rerunning the whole siting model to learn about one site.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from geodata.areas import cells_to_districts
from geodata.demo import build_layers, load_demo
from optimizer.calibration import calibrate
from optimizer.decisions import SitingDecisions
from optimizer.scoring import battlefield_ranking
from optimizer.siting import SiteSelectionRun, run_site_selection
from optimizer.what_if import site_what_if, store_what_if

T = TypeVar("T")


def _timed(label: str, call: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    print(f"{label:<48} {seconds:6.2f} s")
    return result, seconds


def main() -> None:
    """Run the loop once and print the timings and where the sites go."""
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    region = load_demo()
    layers = build_layers(region)
    calibration = calibrate(layers, region.stores, region.competitors)
    options = {"n_new": 5, "radius_km": 3.0, "calibration": calibration}

    def run(decisions: SitingDecisions | None = None) -> SiteSelectionRun:
        return run_site_selection(layers, region.stores, region.competitors,
                                  decisions=decisions, **options)

    free, run_seconds = _timed("free run (MCLP, 5 new sites)", run)
    print("   regions:", free.sites["region"].tolist())
    first = free.sites["cell"].iloc[0]
    rejected, _ = _timed("rerun, first site rejected",
                         lambda: run(SitingDecisions().with_status([first], "rejected")))
    assert first not in set(rejected.sites["cell"])
    other = rejected.sites["cell"].iloc[-1]
    approved = run(SitingDecisions().with_status([first], "rejected").with_status([other],
                                                                                   "approved"))
    assert other in set(approved.sites["cell"])
    offers = layers.index[layers["own_store_count"] == 0][::500]
    listed, _ = _timed(f"run on a candidate list of {len(offers)} cells",
                       lambda: run(SitingDecisions(candidates=offers)))
    assert set(listed.sites["cell"]) <= set(offers)
    districts = cells_to_districts(layers, region.places)
    ranking, _ = _timed("battlefield ranking of districts",
                        lambda: battlefield_ranking(layers, areas=districts,
                                                    places=region.places))
    best = ranking.table.index[0]
    inside, _ = _timed(f"run restricted to {ranking.table['name'].iloc[0]}",
                       lambda: run(SitingDecisions(within=ranking.cells(best))))
    assert set(inside.sites["cell"]) <= set(ranking.cells(best))
    lat, lng = float(free.sites["lat"].iloc[0]), float(free.sites["lng"].iloc[0])
    point, what_if_seconds = _timed(
        "what-if of a point", lambda: site_what_if(layers, region.stores, region.competitors,
                                                   lat=lat + 0.01, lng=lng,
                                                   calibration=calibration))
    print("  ", point.summary())
    store_id = str(region.stores["store_id"].iloc[0])
    _timed("what-if of an existing store",
           lambda: store_what_if(layers, region.stores, region.competitors, store_id=store_id,
                                 calibration=calibration))
    print(f"a what-if takes {what_if_seconds / run_seconds:.2f} of a siting run's time")
    print("accounting gap of the point:", f"{abs(point.accounting_gap):.2e}",
          "max probability", f"{np.max(point.catchment['probability']):.3f}")


if __name__ == "__main__":
    main()
