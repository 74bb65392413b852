"""The result of a location model: the decision in plain terms plus the solve report."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..results import SolveReport, SolveStatus
from ._inputs import format_amount, list_indices


@dataclass(frozen=True)
class LocationResult:
    """Sites chosen, demand assigned and how the solve went.

    Attributes
    ----------
    model
        Model name, e.g. ``"PMedian"``.
    report
        Status, objective, bound, gap, time and solver (:class:`optimizer.results.SolveReport`).
    sites
        Indices of the open candidate sites (kept-open ones included), sorted.
    fixed
        Indices of the sites that were kept open by request.
    assignment
        For each client, the candidate index serving it, ``-1`` when unassigned / uncovered.
    assigned_distance
        Distance from each client to its assigned site (``nan`` when unassigned).
    weights
        Client demand weights.
    coverage
        Share of total demand covered / served (``None`` where not meaningful).
    objective_name
        What the objective measures, in words ("covered demand", "weighted distance", ...).
    opening_cost
        Total opening cost of the open sites (``None`` when no costs were given).
    build_seconds
        Time spent building the model arrays (the solver time is ``report.solve_seconds``).
    details
        Model-specific extras (e.g. ``"captured_demand"``, ``"radius"``).

    Examples
    --------
    >>> from optimizer.results import SolveReport
    >>> result = LocationResult("MCLP", SolveReport("optimal", 5.0, 5.0, 0.0, 0.1, "highs"),
    ...     np.array([1]), np.array([], dtype=int), np.array([1, -1]), np.array([0.0, np.nan]),
    ...     np.array([5.0, 1.0]), 5 / 6, "covered demand")
    >>> result.status, result.sites.tolist()
    ('optimal', [1])
    """

    model: str
    report: SolveReport
    sites: np.ndarray
    fixed: np.ndarray
    assignment: np.ndarray
    assigned_distance: np.ndarray
    weights: np.ndarray
    coverage: float | None
    objective_name: str
    opening_cost: float | None = None
    build_seconds: float = 0.0
    details: dict = field(default_factory=dict)

    @property
    def status(self) -> SolveStatus:
        """``"optimal"`` only when proven; ``"feasible"`` when stopped early with a gap."""
        return self.report.status

    @property
    def objective(self) -> float | None:
        """Objective value of the plan."""
        return self.report.objective

    @property
    def bound(self) -> float | None:
        """Best proven bound on the objective."""
        return self.report.bound

    @property
    def gap(self) -> float | None:
        """Relative gap between objective and bound."""
        return self.report.gap

    @property
    def solve_seconds(self) -> float:
        """Seconds spent in the solver."""
        return self.report.solve_seconds

    @property
    def new_sites(self) -> np.ndarray:
        """Open sites that were not kept open by request (the sites to build)."""
        return np.setdiff1d(self.sites, self.fixed)

    @property
    def demand_per_site(self) -> dict[int, float]:
        """Demand assigned to each open site."""
        assigned = self.assignment >= 0
        totals = np.bincount(
            self.assignment[assigned],
            weights=self.weights[assigned],
            minlength=int(self.sites.max(initial=-1)) + 1,
        )
        return {int(site): float(totals[site]) for site in self.sites}

    def summary(self) -> str:
        """Return a few plain sentences a planner can read.

        Examples
        --------
        >>> from optimizer.results import SolveReport
        >>> result = LocationResult("MCLP", SolveReport("optimal", 5.0, 5.0, 0.0, 0.1, "highs"),
        ...     np.array([1]), np.array([], dtype=int), np.array([1, -1]), np.array([0.0, np.nan]),
        ...     np.array([5.0, 1.0]), 5 / 6, "covered demand")
        >>> print(result.summary().splitlines()[0])
        MCLP: 1 site open (1 new, 0 kept open): sites 1.
        """
        lines = []
        n_new = len(self.new_sites)
        word = "site" if len(self.sites) == 1 else "sites"
        lines.append(
            f"{self.model}: {len(self.sites)} {word} open ({n_new} new, {len(self.fixed)} kept "
            f"open): sites {list_indices(self.sites, 20) or 'none'}."
        )
        total = float(self.weights.sum())
        if self.coverage is not None:
            served = self.coverage * total
            lines.append(
                f"Demand {self.details.get('demand_word', 'covered')}: {format_amount(served)} of {format_amount(total)} "
                f"({100 * self.coverage:.1f} %)."
            )
        assigned = (self.assignment >= 0) & np.isfinite(self.assigned_distance)
        if assigned.any():
            distance = self.assigned_distance[assigned]
            weights = self.weights[assigned]
            mean = float(np.average(distance, weights=weights)) if weights.sum() > 0 else 0.0
            lines.append(
                f"Distance to the assigned site: mean {format_amount(mean)} (weighted by demand), "
                f"max {format_amount(float(distance.max()))}."
            )
        if self.opening_cost is not None:
            lines.append(f"Opening cost of the open sites: {format_amount(self.opening_cost)}.")
        report = self.report
        if report.objective is not None:
            line = f"Objective ({self.objective_name}): {format_amount(report.objective)}"
            if report.status == "optimal":
                line += ", proven optimal"
                if report.gap:
                    line += f" within {100 * report.gap:.2g} %"
            else:
                line += f", NOT proven optimal (status {report.status}"
                if report.gap is not None:
                    line += f", gap {100 * report.gap:.2g} %"
                line += ")"
            lines.append(line + f"; {report.solver} took {report.solve_seconds:.2f} s.")
        return "\n".join(lines)
