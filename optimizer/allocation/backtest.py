"""A simulated backtest of weekly plans: play them out over seeded weeks of random demand.

Each simulated week draws every store-SKU's demand from its forecast distribution (negative
binomial with the forecast's mean and variance where the variance exceeds the mean, Poisson
otherwise), after the plan's moves have arrived. Per plan and week it counts the units short
(demand above the stock after the moves), the margin they lose, the fill rate (units sold over
units demanded) and the plan's transport cost (the units' cost plus trucks and parcels, the
same every week). Every plan meets the same demand draws, so the differences are the plans'.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .flows import plan_cost, position_moves
from .model import AllocationProblem, FlowNetwork


def draw_demand(problem: AllocationProblem, rng: np.random.Generator) -> np.ndarray:
    """Return one week's demand per position, drawn from the forecast distribution.

    Examples
    --------
    >>> from optimizer.allocation.model import problem_from_frames
    >>> problem = problem_from_frames(
    ...     pd.DataFrame({"location_id": ["S1"], "sku": "A", "stock": [3], "reserve": [0],
    ...                   "demand_mean": [4.0], "demand_variance": [8.0]}),
    ...     pd.DataFrame({"location_id": ["S1"], "region": "north", "is_warehouse": False,
    ...                   "weekly_throughput": np.inf}),
    ...     pd.DataFrame({"sku": ["A"], "margin": [1.0], "volume": [1.0], "case_size": [1]}),
    ...     pd.DataFrame(columns=["from_id", "to_id", "unit_cost", "shipment_cost",
    ...                           "lead_time_days"]), truck_capacity=1.0)
    >>> draws = np.concatenate([draw_demand(problem, np.random.default_rng(s)) for s in range(4000)])
    >>> bool(abs(draws.mean() - 4.0) < 0.15 and abs(draws.var() - 8.0) < 0.8)
    True
    """
    p = problem
    mean = np.where(p.is_warehouse[p.position_location], 0.0, np.maximum(p.demand_mean, 0.0))
    variance = np.maximum(p.demand_variance, mean)
    over = variance > mean * (1 + 1e-9)
    demand = np.zeros(len(mean), dtype=np.int64)
    poisson = (mean > 0) & ~over
    demand[poisson] = rng.poisson(mean[poisson])
    nb = (mean > 0) & over
    if nb.any():
        m, v = mean[nb], variance[nb]
        demand[nb] = rng.negative_binomial(m * m / (v - m), m / v)
    return demand


def backtest(problem: AllocationProblem, network: FlowNetwork,
             plans: Mapping[str, np.ndarray], *, weeks: int = 8, seed: int = 0) -> pd.DataFrame:
    """Play every plan out over ``weeks`` seeded weeks of demand; one row per plan.

    Parameters
    ----------
    problem, network
        The week's problem and its flow network.
    plans
        Name to units per arc of ``network`` (e.g. the solved plan, the planner's rule, and
        zeros for moving nothing).
    weeks
        Simulated weeks (independent demand draws, the same for every plan).
    seed
        Random seed.

    Returns
    -------
    pandas.DataFrame
        ``plan``, ``stockout_units`` and ``lost_margin`` (mean per week), ``fill_rate``,
        ``transport_cost``, ``total_cost`` (lost margin plus transport), and
        ``worst_week_total`` and ``best_week_total`` (the range over the weeks).
    """
    p = problem
    rng = np.random.default_rng(seed)
    draws = [draw_demand(p, rng) for _ in range(weeks)]
    margin = p.sku_margin[p.position_sku]
    rows = []
    for name, quantity in plans.items():
        sent, received = position_moves(p, network, quantity)
        after = p.stock - sent + received
        cost = plan_cost(p, network, quantity)
        transport = cost["unit_cost"] + cost["shipment_cost"]
        short = np.array([np.maximum(d - after, 0).sum() for d in draws], dtype=float)
        lost = np.array([(margin * np.maximum(d - after, 0)).sum() for d in draws])
        demanded = float(sum(d.sum() for d in draws))
        rows.append({"plan": name, "stockout_units": short.mean(), "lost_margin": lost.mean(),
                     "fill_rate": 1 - short.sum() / demanded if demanded else 1.0,
                     "transport_cost": transport, "total_cost": lost.mean() + transport,
                     "worst_week_total": lost.max() + transport,
                     "best_week_total": lost.min() + transport})
    return pd.DataFrame(rows)
