"""The linear relaxation by per-SKU min-cost flows against HiGHS on the same relaxation."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer.allocation.flow_relaxation import flow_relaxation
from optimizer.allocation.mip import solve_monolithic
from optimizer.allocation.model import build_network

from .test_allocation import synthetic_problem


def _plain_lp(problem, network) -> float:
    _, report = solve_monolithic(problem, network, relax=True, strong=False, time_limit=60)
    assert report.status == "optimal" and report.objective is not None
    return report.objective


@pytest.mark.parametrize(("structure", "seed"), [("realistic", 1), ("realistic", 2),
                                                 ("dedicated", 3)])
def test_unpriced_relaxation_equals_the_plain_linear_relaxation(structure: str, seed: int) -> None:
    # No cross-SKU row here: the flows' optimum is the linear program's, up to cost rounding.
    problem = synthetic_problem(n_stores=15, n_skus=5, seed=seed, structure=structure)
    network = build_network(problem)
    relaxation = flow_relaxation(problem, network)
    assert relaxation.exact and relaxation.steps == 1
    lp = _plain_lp(problem, network)
    assert relaxation.bound <= lp + 1e-6
    assert relaxation.bound == pytest.approx(lp, rel=1e-5)


@pytest.mark.parametrize("seed", [4, 5])
def test_priced_rows_give_a_valid_bound_that_the_steps_raise(seed: int) -> None:
    # Throughput and a cross-region share that bind: any prices bound the relaxation from
    # below, the price steps raise the bound above the unpriced one.
    problem = synthetic_problem(n_stores=15, n_skus=5, seed=seed, structure="realistic",
                                throughput=40.0, share=0.05)
    network = build_network(problem)
    unpriced = flow_relaxation(problem, network, steps=1)
    priced = flow_relaxation(problem, network)
    assert not unpriced.exact
    lp = _plain_lp(problem, network)
    assert unpriced.bound <= priced.bound <= lp + 1e-6
    assert priced.bound > unpriced.bound
    assert priced.bound >= lp - 0.01 * abs(lp)


def test_flows_respect_the_relaxed_capacities() -> None:
    problem = synthetic_problem(n_stores=15, n_skus=5, seed=6, structure="realistic")
    network = build_network(problem)
    flows = flow_relaxation(problem, network).flows
    assert np.all(flows >= 0) and np.all(flows <= network.arc_capacity)
