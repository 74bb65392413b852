r"""Huff gravity model: which store a customer cell visits, and the sales a new store would win.

The probability that customers of cell :math:`i` visit store :math:`j` is

.. math::

    P_{ij} = \frac{A_j^{\alpha} / d_{ij}^{\beta}}{\sum_{k \in N_i} A_k^{\alpha} / d_{ik}^{\beta}}

over own and competitor stores :math:`N_i` within the distance cutoff (all stores without one),
with attractiveness :math:`A_j` (e.g. floor area) and distance :math:`d_{ij}` floored at
``min_distance_km`` (a store in the customer's own cell is not infinitely close). Cells with no
store within the cutoff are *unserved*: their demand goes to nobody until a store opens near them.

Everything is vectorised; with a cutoff the utilities are a sparse matrix built from a KD-tree
search, so large grids stay cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError
from .geometry import frame_to_lat_lng, haversine_km, pairs_within_km

DEFAULT_ALPHA = 1.0
"""Default attractiveness exponent (Huff's original)."""
DEFAULT_BETA = 2.0
"""Default distance-decay exponent (Huff's original; typical retail estimates range 1.5-2.5)."""
DEFAULT_MIN_DISTANCE_KM = 0.3
"""Distance floor: about the mean distance between two points of an H3 resolution-8 cell."""


def distance_matrix_km(origin_lat: np.ndarray, origin_lng: np.ndarray, dest_lat: np.ndarray,
                       dest_lng: np.ndarray) -> np.ndarray:
    """Dense ``(n_origins, n_destinations)`` great-circle distances in km.

    Examples
    --------
    >>> distance_matrix_km(np.array([22.0]), np.array([114.0]),
    ...                    np.array([22.0, 23.0]), np.array([114.0, 114.0])).round(1).tolist()
    [[0.0, 111.2]]
    """
    origin_lat, origin_lng = np.asarray(origin_lat, float), np.asarray(origin_lng, float)
    return haversine_km(origin_lat[:, None], origin_lng[:, None],
                        np.asarray(dest_lat, float)[None, :], np.asarray(dest_lng, float)[None, :])


@dataclass(frozen=True)
class StorePoints:
    """Store locations and attractiveness, as arrays.

    Attributes
    ----------
    lat, lng
        Store positions in degrees.
    attractiveness
        Positive size measure, e.g. floor area in m2.
    ids
        Store identifiers (for reports).
    """

    lat: np.ndarray
    lng: np.ndarray
    attractiveness: np.ndarray
    ids: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.lat)
        for name in ("lng", "attractiveness", "ids"):
            if len(getattr(self, name)) != n:
                raise InputError(f"`{name}` has {len(getattr(self, name))} values for {n} stores; "
                                 "give one value per store.")
        bad = ~(np.asarray(self.attractiveness, float) > 0)
        if bad.any():
            raise InputError(f"`attractiveness` must be positive; store {self.ids[bad][0]!r} has "
                             f"{np.asarray(self.attractiveness)[bad][0]!r}. Fill the floor area.")

    def __len__(self) -> int:
        return len(self.lat)

    @classmethod
    def from_arrays(cls, lat: np.ndarray, lng: np.ndarray, attractiveness: np.ndarray | float = 1.0,
                    ids: np.ndarray | None = None) -> StorePoints:
        """Build from arrays; a scalar attractiveness applies to every store.

        Examples
        --------
        >>> len(StorePoints.from_arrays(np.array([22.5]), np.array([114.0]), 200.0))
        1
        """
        lat = np.asarray(lat, float).ravel()
        lng = np.asarray(lng, float).ravel()
        attractiveness = np.broadcast_to(np.asarray(attractiveness, float), lat.shape).copy()
        ids = np.arange(len(lat)) if ids is None else np.asarray(ids)
        return cls(lat, lng, attractiveness, ids)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, attractiveness: str | float = "floor_area_m2",
                   id_column: str | None = None) -> StorePoints:
        """Read stores from a (Geo)DataFrame with point geometry or ``lat``/``lng`` columns.

        Parameters
        ----------
        frame
            One row per store.
        attractiveness
            Column holding the size measure, or one number for every store.
        id_column
            Column of store ids; the index when ``None``.

        Examples
        --------
        >>> f = pd.DataFrame({"lat": [22.5], "lng": [114.0], "floor_area_m2": [300.0]})
        >>> StorePoints.from_frame(f).attractiveness.tolist()
        [300.0]
        """
        lat, lng = frame_to_lat_lng(frame, "stores")
        if isinstance(attractiveness, str):
            if attractiveness not in frame.columns:
                raise InputError(f"`stores` has no column {attractiveness!r} for attractiveness; "
                                 "add it or pass a number.")
            size = frame[attractiveness].to_numpy(float)
        else:
            size = np.full(len(frame), float(attractiveness))
        ids = frame.index.to_numpy() if id_column is None else frame[id_column].to_numpy()
        return cls(lat, lng, size, ids)

    @staticmethod
    def concat(*parts: StorePoints) -> StorePoints:
        """Stack several store sets (e.g. own stores then competitors)."""
        return StorePoints(*(np.concatenate([getattr(p, f) for p in parts])
                             for f in ("lat", "lng", "attractiveness", "ids")))


def huff_shares(distance: np.ndarray, attractiveness: np.ndarray, *, alpha: float = DEFAULT_ALPHA,
                beta: float = DEFAULT_BETA, min_distance: float = 0.0) -> np.ndarray:
    """Visit probabilities from a dense distance matrix (rows: customers, columns: stores).

    Parameters
    ----------
    distance
        ``(n_customers, n_stores)`` distances (any unit); ``inf`` means out of reach.
    attractiveness
        ``(n_stores,)`` positive sizes.
    alpha, beta
        Attractiveness and distance-decay exponents.
    min_distance
        Floor applied to distances (same unit).

    Returns
    -------
    numpy.ndarray
        Shares; each row sums to 1 (0 when no store is in reach).

    Examples
    --------
    The textbook example: centre A of 20,000 sq ft at 3 miles, B of 40,000 sq ft at 4 miles:

    >>> huff_shares(np.array([[3.0, 4.0]]), np.array([20000.0, 40000.0])).round(2).tolist()
    [[0.47, 0.53]]
    """
    _check_exponents(alpha, beta)
    distance = np.atleast_2d(np.asarray(distance, float))
    attractiveness = np.asarray(attractiveness, float)
    if distance.shape[1] != attractiveness.shape[0]:
        raise InputError(f"`distance` has {distance.shape[1]} store columns but `attractiveness` "
                         f"has {attractiveness.shape[0]} values; give one per store.")
    with np.errstate(divide="ignore"):
        utility = attractiveness**alpha / np.maximum(distance, min_distance) ** beta
    utility = np.where(np.isfinite(distance), utility, 0.0)
    total = utility.sum(axis=1, keepdims=True)
    return np.divide(utility, total, out=np.zeros_like(utility), where=total > 0)


def utility_matrix(customer_lat: np.ndarray, customer_lng: np.ndarray, stores: StorePoints, *,
                   alpha: float = DEFAULT_ALPHA, beta: float = DEFAULT_BETA,
                   cutoff_km: float | None = None,
                   min_distance_km: float = DEFAULT_MIN_DISTANCE_KM) -> sp.csr_array:
    """Sparse Huff utilities ``A_j^alpha / d_ij^beta`` for pairs within ``cutoff_km``.

    Parameters
    ----------
    customer_lat, customer_lng
        Customer cell centres.
    stores
        Store positions and attractiveness.
    alpha, beta
        Exponents.
    cutoff_km
        Pairs farther apart get no utility (sparse); every pair when ``None`` (dense work).
    min_distance_km
        Distance floor.

    Returns
    -------
    scipy.sparse.csr_array
        ``(n_customers, n_stores)``.

    Examples
    --------
    >>> s = StorePoints.from_arrays(np.array([22.5]), np.array([114.0]), 100.0)
    >>> float(utility_matrix(np.array([22.5]), np.array([114.0]), s, min_distance_km=1.0)[0, 0])
    100.0
    """
    _check_exponents(alpha, beta)
    if not min_distance_km > 0:
        raise InputError(f"`min_distance_km` is {min_distance_km!r}; use a positive floor such as "
                         f"{DEFAULT_MIN_DISTANCE_KM}.")
    if cutoff_km is not None and not cutoff_km > 0:
        raise InputError(f"`cutoff_km` is {cutoff_km!r}; use a positive distance in km, or None "
                         "for no cutoff.")
    n_customers, n_stores = len(customer_lat), len(stores)
    if cutoff_km is None:
        dist = distance_matrix_km(customer_lat, customer_lng, stores.lat, stores.lng)
        rows, cols = np.nonzero(np.ones_like(dist, dtype=bool))
        dist = dist.ravel()
    else:
        rows, cols, dist = pairs_within_km(customer_lat, customer_lng, stores.lat, stores.lng,
                                           cutoff_km)
    size = np.asarray(stores.attractiveness, float)
    value = size[cols] ** alpha / np.maximum(dist, min_distance_km) ** beta
    return sp.csr_array((value, (rows, cols)), shape=(n_customers, n_stores))


def probability_matrix(utility: sp.csr_array) -> sp.csr_array:
    """Row-normalise utilities into visit probabilities (rows of unserved cells stay empty)."""
    total = np.asarray(utility.sum(axis=1)).ravel()
    inverse = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
    return sp.csr_array(sp.diags_array(inverse) @ utility)


def store_sales(demand: np.ndarray, customer_lat: np.ndarray, customer_lng: np.ndarray,
                stores: StorePoints, *, alpha: float = DEFAULT_ALPHA, beta: float = DEFAULT_BETA,
                cutoff_km: float | None = None,
                min_distance_km: float = DEFAULT_MIN_DISTANCE_KM) -> np.ndarray:
    """Return the expected demand captured by each store of a network: ``sum_i demand_i * P_ij``.

    Examples
    --------
    >>> s = StorePoints.from_arrays(np.array([22.5, 22.6]), np.array([114.0, 114.0]), 1.0)
    >>> store_sales(np.array([100.0]), np.array([22.55]), np.array([114.0]), s).round(6).tolist()
    [50.0, 50.0]
    """
    demand = _check_demand(demand, len(customer_lat))
    utility = utility_matrix(customer_lat, customer_lng, stores, alpha=alpha, beta=beta,
                             cutoff_km=cutoff_km, min_distance_km=min_distance_km)
    return probability_matrix(utility).T @ demand


def capture_by_candidate(demand: np.ndarray, customer_lat: np.ndarray, customer_lng: np.ndarray,
                         *, candidates: StorePoints, own: StorePoints | None = None,
                         competitors: StorePoints | None = None, alpha: float = DEFAULT_ALPHA,
                         beta: float = DEFAULT_BETA, cutoff_km: float | None = None,
                         min_distance_km: float = DEFAULT_MIN_DISTANCE_KM) -> pd.DataFrame:
    """Sales each candidate would win if it alone opened next to today's stores.

    For customer cell :math:`i` with today's total utility :math:`D_i` (own :math:`O_i`,
    competitors :math:`C_i`) and the candidate's utility :math:`u_i`, the candidate wins
    :math:`u_i / (D_i + u_i)` of the cell's demand. Of that,

    - ``from_own`` (cannibalisation): :math:`O_i/D_i - O_i/(D_i + u_i)`,
    - ``from_competitors``: :math:`C_i/D_i - C_i/(D_i + u_i)`,
    - ``from_unserved``: all of it where :math:`D_i = 0` (no store in reach today),

    times demand, summed over cells. So ``gross_captured = from_own + from_competitors +
    from_unserved`` and ``net_gain = gross_captured - from_own`` is what the chain gains.

    Parameters
    ----------
    demand
        Demand (sales potential) per customer cell.
    customer_lat, customer_lng
        Customer cell centres.
    candidates
        Candidate sites (each evaluated on its own).
    own, competitors
        Today's own and competitor stores (``None`` = none).
    alpha, beta, cutoff_km, min_distance_km
        See :func:`utility_matrix`.

    Returns
    -------
    pandas.DataFrame
        Indexed by candidate id: ``gross_captured, from_competitors, from_own, from_unserved,
        net_gain, cannibalisation_rate`` (share of the gross taken from own stores).

    Examples
    --------
    >>> cand = StorePoints.from_arrays(np.array([22.5]), np.array([114.0]), 1.0)
    >>> own = StorePoints.from_arrays(np.array([22.5]), np.array([114.0]), 1.0)
    >>> capture_by_candidate(np.array([100.0]), np.array([22.5]), np.array([114.0]),
    ...                      candidates=cand, own=own)[["gross_captured", "from_own"]].values.tolist()
    [[50.0, 50.0]]
    """
    demand = _check_demand(demand, len(customer_lat))
    options: dict[str, Any] = {"alpha": alpha, "beta": beta, "cutoff_km": cutoff_km,
               "min_distance_km": min_distance_km}
    own_total, competitor_total = _market_today(customer_lat, customer_lng, own, competitors,
                                                options)
    today = own_total + competitor_total
    cand = utility_matrix(customer_lat, customer_lng, candidates, **options).tocoo()
    rows, cols, u = cand.row, cand.col, cand.data
    after = today[rows] + u
    d = demand[rows]
    served = today[rows] > 0
    safe_today = np.where(served, today[rows], 1.0)
    gross = d * u / after
    from_own = np.where(served, d * own_total[rows] * (1 / safe_today - 1 / after), 0.0)
    from_comp = np.where(served, d * competitor_total[rows] * (1 / safe_today - 1 / after), 0.0)
    from_unserved = np.where(served, 0.0, gross)
    n = len(candidates)
    table = pd.DataFrame({
        "gross_captured": np.bincount(cols, gross, minlength=n),
        "from_competitors": np.bincount(cols, from_comp, minlength=n),
        "from_own": np.bincount(cols, from_own, minlength=n),
        "from_unserved": np.bincount(cols, from_unserved, minlength=n),
    }, index=pd.Index(candidates.ids, name="candidate"))
    table["net_gain"] = table["gross_captured"] - table["from_own"]
    with np.errstate(invalid="ignore", divide="ignore"):
        table["cannibalisation_rate"] = (table["from_own"] / table["gross_captured"]).fillna(0.0)
    return table


def network_capture(demand: np.ndarray, customer_lat: np.ndarray, customer_lng: np.ndarray, *,
                    new: StorePoints, own: StorePoints | None = None,
                    competitors: StorePoints | None = None, alpha: float = DEFAULT_ALPHA,
                    beta: float = DEFAULT_BETA, cutoff_km: float | None = None,
                    min_distance_km: float = DEFAULT_MIN_DISTANCE_KM) -> pd.DataFrame:
    """Sales of each new store when all of ``new`` open together, and what each takes from whom.

    Unlike :func:`capture_by_candidate` (each candidate alone), the new stores here also share
    customers among themselves. ``from_own`` counts only what is taken from today's own stores;
    ``gross_captured = from_own + from_competitors + from_unserved`` per new store.

    Returns
    -------
    pandas.DataFrame
        Indexed by new store id, same columns as :func:`capture_by_candidate`.

    Examples
    --------
    >>> new = StorePoints.from_arrays(np.array([22.5, 22.5]), np.array([114.0, 114.0]), 1.0)
    >>> network_capture(np.array([100.0]), np.array([22.5]), np.array([114.0]),
    ...                 new=new)["from_unserved"].tolist()
    [50.0, 50.0]
    """
    demand = _check_demand(demand, len(customer_lat))
    options: dict[str, Any] = {"alpha": alpha, "beta": beta, "cutoff_km": cutoff_km,
               "min_distance_km": min_distance_km}
    own_total, competitor_total = _market_today(customer_lat, customer_lng, own, competitors,
                                                options)
    new_u = utility_matrix(customer_lat, customer_lng, new, **options)
    new_total = _row_totals(new_u)
    today = own_total + competitor_total
    after = today + new_total
    served = today > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        # Each new store takes a share u_ij / new_total_i of what all new stores take together.
        lost_own = np.where(served, demand * own_total * (1 / np.where(served, today, 1) -
                                                          1 / np.where(after > 0, after, 1)), 0.0)
        lost_comp = np.where(served, demand * competitor_total *
                             (1 / np.where(served, today, 1) - 1 / np.where(after > 0, after, 1)),
                             0.0)
    coo = new_u.tocoo()
    rows, cols, u = coo.row, coo.col, coo.data
    part = u / new_total[rows]
    gross = demand[rows] * u / after[rows]
    n = len(new)
    table = pd.DataFrame({
        "gross_captured": np.bincount(cols, gross, minlength=n),
        "from_competitors": np.bincount(cols, lost_comp[rows] * part, minlength=n),
        "from_own": np.bincount(cols, lost_own[rows] * part, minlength=n),
        "from_unserved": np.bincount(cols, np.where(served[rows], 0.0, gross), minlength=n),
    }, index=pd.Index(new.ids, name="store"))
    table["net_gain"] = table["gross_captured"] - table["from_own"]
    with np.errstate(invalid="ignore", divide="ignore"):
        table["cannibalisation_rate"] = (table["from_own"] / table["gross_captured"]).fillna(0.0)
    return table


def capture_matrices(customer_lat: np.ndarray, customer_lng: np.ndarray, *,
                     candidates: StorePoints, competitors: StorePoints | None = None,
                     alpha: float = DEFAULT_ALPHA, beta: float = DEFAULT_BETA,
                     cutoff_km: float | None = None,
                     min_distance_km: float = DEFAULT_MIN_DISTANCE_KM
                     ) -> tuple[np.ndarray, np.ndarray]:
    r"""Return the inputs of a competitor-aware market-share location model.

    Returns
    -------
    candidate_utility, competitor_utility
        Dense ``(n_customers, n_candidates)`` Huff utilities of each candidate site (0 beyond the
        cutoff) and ``(n_customers,)`` total competitor utility per customer cell. If sites
        :math:`S` open, cell :math:`i` gives them the share
        :math:`\sum_{j \in S} u_{ij} / (C_i + \sum_{j \in S} u_{ij})`.

    Examples
    --------
    >>> cand = StorePoints.from_arrays(np.array([22.5]), np.array([114.0]), 1.0)
    >>> u, c = capture_matrices(np.array([22.5]), np.array([114.0]), candidates=cand,
    ...                         min_distance_km=1.0)
    >>> u.tolist(), c.tolist()
    ([[1.0]], [0.0])
    """
    competitors = competitors if competitors is not None else StorePoints.from_arrays(
        np.zeros(0), np.zeros(0))
    options: dict[str, Any] = {"alpha": alpha, "beta": beta, "cutoff_km": cutoff_km,
               "min_distance_km": min_distance_km}
    candidate_utility = utility_matrix(customer_lat, customer_lng, candidates, **options).toarray()
    competitor_utility = _row_totals(utility_matrix(customer_lat, customer_lng, competitors,
                                                    **options))
    return candidate_utility, competitor_utility


def share_matrix(customer_lat: np.ndarray, customer_lng: np.ndarray, *, candidates: StorePoints,
                 competitors: StorePoints | None = None, alpha: float = DEFAULT_ALPHA,
                 beta: float = DEFAULT_BETA, cutoff_km: float | None = None,
                 min_distance_km: float = DEFAULT_MIN_DISTANCE_KM) -> sp.csr_array:
    r"""Share of each customer cell that each candidate would win alone against the competitors.

    ``share[i, j] = u_ij / (C_i + u_ij)`` with :math:`u_{ij}` the candidate's Huff utility and
    :math:`C_i` the cell's total competitor utility: the input of
    :class:`optimizer.location.MarketShare` (``from_share_matrix``), which then captures
    :math:`\sum_{j \in S} r_{ij} / (1 + \sum_{j \in S} r_{ij})`, :math:`r = s / (1 - s)`, for the
    open set :math:`S` -- exactly the Huff share of our stores against the competitors.

    Returns
    -------
    scipy.sparse.csr_array
        ``(n_customers, n_candidates)``, entries only within ``cutoff_km``; 1 where no
        competitor is in reach.

    Examples
    --------
    >>> cand = StorePoints.from_arrays(np.array([22.5]), np.array([114.0]), 1.0)
    >>> comp = StorePoints.from_arrays(np.array([22.5]), np.array([114.0]), 3.0)
    >>> share_matrix(np.array([22.5]), np.array([114.0]), candidates=cand,
    ...              competitors=comp).toarray().tolist()
    [[0.25]]
    """
    competitors = competitors if competitors is not None else StorePoints.from_arrays(
        np.zeros(0), np.zeros(0))
    options: dict[str, Any] = {"alpha": alpha, "beta": beta, "cutoff_km": cutoff_km,
               "min_distance_km": min_distance_km}
    utility = utility_matrix(customer_lat, customer_lng, candidates, **options).tocoo()
    competitor_utility = _row_totals(utility_matrix(customer_lat, customer_lng, competitors,
                                                    **options))
    share = utility.data / (competitor_utility[utility.row] + utility.data)
    return sp.csr_array((share, (utility.row, utility.col)), shape=utility.shape)


def _market_today(customer_lat: np.ndarray, customer_lng: np.ndarray, own: StorePoints | None,
                  competitors: StorePoints | None, options: dict[str, Any],
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Each customer cell's total utility of today's own stores and of competitors."""
    totals = []
    for stores in (own, competitors):
        if stores is None:
            stores = StorePoints.from_arrays(np.zeros(0), np.zeros(0))
        totals.append(_row_totals(utility_matrix(customer_lat, customer_lng, stores, **options)))
    return totals[0], totals[1]


def _row_totals(matrix: sp.csr_array) -> np.ndarray:
    return np.asarray(matrix.sum(axis=1), float).ravel()


def _check_exponents(alpha: float, beta: float) -> None:
    if not (np.isfinite(alpha) and alpha >= 0):
        raise InputError(f"`alpha` is {alpha!r}; use a non-negative number (1 is Huff's default).")
    if not (np.isfinite(beta) and beta >= 0):
        raise InputError(f"`beta` is {beta!r}; use a non-negative number (2 is Huff's default).")


def _check_demand(demand: np.ndarray, n: int) -> np.ndarray:
    demand = np.asarray(demand, float).ravel()
    if demand.shape != (n,):
        raise InputError(f"`demand` has {demand.shape[0]} values for {n} customer cells; give "
                         "one per cell.")
    if not np.all(np.isfinite(demand)) or (demand < 0).any():
        raise InputError("`demand` must be finite and non-negative; fill missing cells with 0.")
    return demand
