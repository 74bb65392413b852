"""Input checks shared by the location models: cost matrix, weights and site options.

Everything a planner can get wrong is checked here before any solver runs; infeasible
combinations are collected into one :class:`~optimizer.errors.InfeasibleError` with one sentence
per cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import InfeasibleError, InputError

IndexLike = Sequence[int] | np.ndarray | None


def format_amount(value: float) -> str:
    """Write a money or demand figure the way planners read it.

    Examples
    --------
    >>> format_amount(2_400_000), format_amount(1450), format_amount(2.5)
    ('2.4 M', '1,450', '2.5')
    """
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.1f} M"
    if float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}"


def list_indices(indices: np.ndarray, limit: int = 10) -> str:
    """``"12, 40, 41"`` (with ``"... and N more"`` past ``limit``)."""
    shown = ", ".join(str(int(i)) for i in indices[:limit])
    if len(indices) > limit:
        shown += f" and {len(indices) - limit} more"
    return shown


def reach_matrix(cost: object, max_distance: float | None = None) -> sp.csr_array:
    """Client x candidate pairs within reach, as CSR with the distance as value.

    Parameters
    ----------
    cost
        Dense array (``inf`` / ``nan`` = out of reach) or scipy.sparse matrix (missing entries =
        out of reach; stored zeros are pairs at distance zero).
    max_distance
        Pairs farther than this are dropped (out of reach).

    Returns
    -------
    scipy.sparse.csr_array
        Shape (clients, candidates), explicit entries only for reachable pairs.

    Examples
    --------
    >>> reach_matrix(np.array([[0.0, 5.0], [np.inf, 1.0]])).nnz
    3
    """
    if sp.issparse(cost):
        coo = sp.coo_array(cost)
        coo.sum_duplicates()
        rows, cols, values = coo.row, coo.col, np.asarray(coo.data, dtype=float)
        shape = coo.shape
    else:
        try:
            dense = np.asarray(cost, dtype=float)
        except (TypeError, ValueError):
            raise InputError(
                f"`cost` must be a numeric clients x candidates array; got {type(cost).__name__}."
            ) from None
        if dense.ndim != 2:
            raise InputError(
                f"`cost` must be 2-D (clients x candidates); got shape {dense.shape}. "
                "Reshape it, e.g. `cost.reshape(n_clients, n_candidates)`."
            )
        rows, cols = np.nonzero(~np.isnan(dense) & np.isfinite(dense))
        values = dense[rows, cols]
        shape = dense.shape
    if shape[0] == 0 or shape[1] == 0:
        raise InputError(f"`cost` has shape {shape}; give at least one client and one candidate.")
    finite = np.isfinite(values)
    rows, cols, values = rows[finite], cols[finite], values[finite]
    if np.any(values < 0):
        where = np.flatnonzero(values < 0)[0]
        raise InputError(
            f"`cost` has a negative distance {values[where]:g} at client {rows[where]}, "
            f"candidate {cols[where]}; distances must be zero or positive."
        )
    if max_distance is not None:
        keep = values <= max_distance
        rows, cols, values = rows[keep], cols[keep], values[keep]
    matrix = sp.csr_array((values, (rows, cols)), shape=shape)
    matrix.sort_indices()
    return matrix


def check_weights(weights: object, n_clients: int) -> np.ndarray:
    """Demand weights as a float array, checked for length and sign.

    Examples
    --------
    >>> check_weights([1, 2], 2).tolist()
    [1.0, 2.0]
    """
    values = np.asarray(weights, dtype=float).reshape(-1)
    if values.shape[0] != n_clients:
        raise InputError(
            f"`weights` has {values.shape[0]} values but `cost` has {n_clients} clients (rows); "
            "give one demand weight per client."
        )
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        raise InputError(
            f"`weights` must be finite and >= 0; clients {list_indices(bad)} are not "
            f"(first bad value {values[bad[0]]!r}). Replace missing demand by 0."
        )
    return values


def _index_array(value: IndexLike, name: str, n_candidates: int) -> np.ndarray:
    if value is None:
        return np.zeros(0, dtype=np.int64)
    array = np.asarray(value)
    if array.dtype == bool:
        if array.shape != (n_candidates,):
            raise InputError(
                f"`{name}` as a boolean mask must have one value per candidate ({n_candidates}); "
                f"got shape {array.shape}."
            )
        return np.flatnonzero(array)
    array = array.reshape(-1)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise InputError(f"`{name}` must hold candidate indices (integers); got {array[:5]!r}.")
    array = array.astype(np.int64)
    bad = array[(array < 0) | (array >= n_candidates)]
    if len(bad):
        raise InputError(
            f"`{name}` has candidate indices {list_indices(bad)} outside 0..{n_candidates - 1}."
        )
    return np.unique(array)


@dataclass(frozen=True)
class SiteOptions:
    """Options on the sites shared by every model, already checked.

    Attributes
    ----------
    n_candidates
        Number of candidate sites.
    fixed
        Sorted indices of sites kept open (existing stores).
    excluded
        Sorted indices of sites that may not open.
    opening_cost
        Cost of opening each site (``None`` when not given).
    budget
        Upper limit on the total opening cost of open sites, fixed ones included.
    spacing_pairs
        Array (k, 2) of site pairs closer than ``min_spacing`` that may not both be open.
    min_spacing
        The spacing asked for (``None`` without spacing).
    """

    n_candidates: int
    fixed: np.ndarray
    excluded: np.ndarray
    opening_cost: np.ndarray | None
    budget: float | None
    spacing_pairs: np.ndarray
    min_spacing: float | None

    @property
    def allowed(self) -> np.ndarray:
        """Boolean mask of candidates that may open."""
        mask = np.ones(self.n_candidates, dtype=bool)
        mask[self.excluded] = False
        return mask

    @property
    def fixed_mask(self) -> np.ndarray:
        """Boolean mask of the sites kept open."""
        mask = np.zeros(self.n_candidates, dtype=bool)
        mask[self.fixed] = True
        return mask


def site_options(
    n_candidates: int,
    *,
    fixed: IndexLike = None,
    excluded: IndexLike = None,
    opening_cost: object = None,
    budget: float | None = None,
    min_spacing: float | None = None,
    candidate_distance: object = None,
) -> SiteOptions:
    """Check and normalise the site options common to every model.

    Examples
    --------
    >>> site_options(3, fixed=[0], excluded=[2]).allowed.tolist()
    [True, True, False]
    """
    fixed_indices = _index_array(fixed, "fixed", n_candidates)
    excluded_indices = _index_array(excluded, "excluded", n_candidates)
    costs = None
    if opening_cost is not None:
        costs = np.asarray(opening_cost, dtype=float).reshape(-1)
        if costs.shape[0] != n_candidates:
            raise InputError(
                f"`opening_cost` has {costs.shape[0]} values but there are {n_candidates} "
                "candidates; give one cost per candidate (0 for sites already paid for)."
            )
        if not np.all(np.isfinite(costs)) or np.any(costs < 0):
            raise InputError("`opening_cost` must be finite and >= 0 for every candidate.")
    if budget is not None:
        if costs is None:
            raise InputError(
                "`budget` was given without `opening_cost`; pass one opening cost per candidate."
            )
        if not np.isfinite(budget) or budget < 0:
            raise InputError(f"`budget` is {budget!r}; give a finite amount >= 0.")
    pairs = np.zeros((0, 2), dtype=np.int64)
    if min_spacing is not None:
        if candidate_distance is None:
            raise InputError(
                "`min_spacing` needs `candidate_distance`, the candidate x candidate distance "
                "matrix (from_geodataframe computes it for you)."
            )
        pairs = _spacing_pairs(candidate_distance, float(min_spacing), n_candidates)
        # Two sites both kept open are existing stores: spacing does not apply to them.
        fixed_mask = np.zeros(n_candidates, dtype=bool)
        fixed_mask[fixed_indices] = True
        excluded_mask = np.zeros(n_candidates, dtype=bool)
        excluded_mask[excluded_indices] = True
        keep = ~(fixed_mask[pairs[:, 0]] & fixed_mask[pairs[:, 1]])
        keep &= ~(excluded_mask[pairs[:, 0]] | excluded_mask[pairs[:, 1]])
        pairs = pairs[keep]
    return SiteOptions(
        n_candidates=n_candidates,
        fixed=fixed_indices,
        excluded=excluded_indices,
        opening_cost=costs,
        budget=None if budget is None else float(budget),
        spacing_pairs=pairs,
        min_spacing=None if min_spacing is None else float(min_spacing),
    )


def _spacing_pairs(candidate_distance: object, min_spacing: float, n: int) -> np.ndarray:
    if sp.issparse(candidate_distance):
        coo = sp.coo_array(candidate_distance)
        rows, cols, values = coo.row, coo.col, np.asarray(coo.data, dtype=float)
        shape = coo.shape
    else:
        dense = np.asarray(candidate_distance, dtype=float)
        shape = dense.shape
        if dense.ndim != 2:
            raise InputError(f"`candidate_distance` must be 2-D; got shape {dense.shape}.")
        rows, cols = np.nonzero(dense < min_spacing)
        values = dense[rows, cols]
    if shape != (n, n):
        raise InputError(
            f"`candidate_distance` has shape {shape}; it must be candidates x candidates ({n}, {n})."
        )
    close = (values < min_spacing) & (rows != cols)
    pairs = np.column_stack([np.minimum(rows, cols), np.maximum(rows, cols)])[close]
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(pairs, axis=0).astype(np.int64)


def site_count_reasons(options: SiteOptions, p: int | None) -> list[str]:
    """Reasons, in planning words, why ``p`` sites with these options cannot be chosen."""
    reasons: list[str] = []
    clash = np.intersect1d(options.fixed, options.excluded)
    if len(clash):
        reasons.append(
            f"sites {list_indices(clash)} are both kept open (`fixed`) and excluded; "
            "remove them from one of the two lists."
        )
    n_allowed = int(options.allowed.sum())
    n_fixed = len(options.fixed)
    if p is not None:
        if p > n_allowed:
            reasons.append(
                f"p = {p} sites are asked for but only {n_allowed} candidates may open "
                f"({len(options.excluded)} excluded); lower p or add candidates."
            )
        if p < n_fixed:
            reasons.append(
                f"p = {p} sites in total cannot include the {n_fixed} existing sites kept open; "
                f"raise p to at least {n_fixed} (p counts kept-open sites too)."
            )
    if options.budget is not None and options.opening_cost is not None:
        fixed_cost = float(options.opening_cost[options.fixed].sum())
        budget = options.budget
        if fixed_cost > budget:
            reasons.append(
                f"budget {format_amount(budget)} cannot pay for the {n_fixed} existing sites kept "
                f"open ({format_amount(fixed_cost)}); raise the budget or lower their cost."
            )
        elif p is not None and n_fixed <= p <= n_allowed:
            optional = options.allowed & ~options.fixed_mask
            cheapest = np.sort(options.opening_cost[optional])[: p - n_fixed]
            needed = fixed_cost + float(cheapest.sum())
            if needed > budget * (1 + 1e-12):
                n_new = p - n_fixed
                kept = f" besides the {n_fixed} existing sites kept open" if n_fixed else ""
                if fixed_cost > 0:
                    kept += f" ({format_amount(fixed_cost)})"
                reasons.append(
                    f"budget {format_amount(budget)} cannot pay for {n_new} new sites{kept}: even "
                    f"the cheapest choice costs {format_amount(needed)} in all; raise the budget "
                    "or open fewer sites."
                )
    return reasons


def unreachable_reasons(
    reach: sp.csr_array, weights: np.ndarray, options: SiteOptions, radius_words: str
) -> list[str]:
    """One reason listing the demand cells no allowed candidate can reach."""
    allowed = options.allowed
    reachable = np.zeros(reach.shape[0], dtype=bool)
    coo = reach.tocoo()
    reachable[coo.row[allowed[coo.col]]] = True
    lonely = np.flatnonzero(~reachable & (weights > 0))
    if len(lonely) == 0:
        return []
    noun = "demand cell is" if len(lonely) == 1 else "demand cells are"
    return [
        f"{len(lonely)} {noun} beyond {radius_words} of every allowed candidate: "
        f"cells {list_indices(lonely)} (total demand {format_amount(float(weights[lonely].sum()))}); "
        "add candidates near them, widen the reach, or drop them."
    ]


def raise_if_infeasible(model_name: str, reasons: list[str]) -> None:
    """Raise :class:`InfeasibleError` with every reason when there is at least one."""
    if reasons:
        text = "; ".join(reasons)
        raise InfeasibleError(f"{model_name} has no feasible plan: {text}", reasons)
