"""KPIs of a plan's cost structure: how its units move, and its expected saving on the rule."""

from __future__ import annotations

import numpy as np

from .flows import plan_cost
from .model import AllocationProblem, FlowNetwork
from .rule import planner_rule


def transport_kpis(problem: AllocationProblem, network: FlowNetwork,
                   quantity: np.ndarray) -> dict[str, float]:
    """Return the plan's units per lane mode, parcels, and its saving against the planner's rule.

    Parameters
    ----------
    problem, network
        The week's problem and its flow network.
    quantity
        The plan (units per arc of ``network``).

    Returns
    -------
    dict
        ``units_scheduled``, ``units_dedicated``, ``units_parcel``, ``units_store_truck``,
        ``parcels``, ``rule_cost`` (expected cost of :func:`optimizer.allocation.rule.planner_rule`
        on the same model), ``expected_saving_vs_rule`` (the rule's cost minus the plan's) and
        ``expected_saving_vs_rule_pct`` (as a share of the rule's cost, in %).
    """
    p = problem
    arcs = np.flatnonzero(quantity > 0)
    mode = p.lane_modes[network.arc_lane[arcs]]
    units = quantity[arcs]
    cost = plan_cost(p, network, quantity)
    rule = plan_cost(p, network, planner_rule(p, network))
    saving = rule["objective"] - cost["objective"]
    return {"units_scheduled": float(units[mode == "scheduled"].sum()),
            "units_dedicated": float(units[mode == "dedicated"].sum()),
            "units_parcel": float(units[mode == "parcel"].sum()),
            "units_store_truck": float(units[mode == "truck"].sum()),
            "parcels": cost["parcels"], "rule_cost": round(rule["objective"], 2),
            "expected_saving_vs_rule": round(saving, 2),
            "expected_saving_vs_rule_pct": round(100 * saving / max(rule["objective"], 1e-9), 2)}
