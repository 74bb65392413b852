r"""Fit demand weights and the Huff exponents to the sales of existing stores.

Model: a store's annual sales are the demand it captures under the Huff model,

.. math::

    \text{sales}_s = \sum_i P_{is}(\alpha, \beta)\, \text{demand}_i, \qquad
    \text{demand}_i = \sum_f w_f\, x_{if}, \; w_f \ge 0,

with :math:`P_{is}` the Huff visit probability of cell :math:`i` over own *and* competitor
stores and :math:`x_{if}` the cell's layer values (residents, footfall, own customers, ...).
For fixed :math:`(\alpha, \beta)` sales are linear in :math:`w`, so :math:`w` is a ridge-regularised
non-negative least-squares fit on the "captured factors" :math:`A = P^\top X`; :math:`(\alpha, \beta)`
are then chosen by a coarse grid followed by a bounded Nelder-Mead search on the profiled error.

Skill is measured honestly: k-fold cross-validation over stores, every fold refitting
:math:`(\alpha, \beta, w)` on the training stores only, and R2 / MAPE computed on the held-out ones.
With too few stores with sales the documented defaults are returned instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import minimize, nnls

from .errors import InputError
from .geometry import frame_to_lat_lng, pairs_within_km
from .huff import DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_MIN_DISTANCE_KM, StorePoints

DEFAULT_DEMAND_WEIGHTS: Mapping[str, float] = {"customers": 2000.0, "population": 50.0}
"""Demand (CNY per year) per unit of each layer when no sales exist to calibrate on: an own
customer spends about one average ticket a year, and every resident adds a little walk-in demand."""

DEFAULT_DEMAND_FACTORS: tuple[str, ...] = ("population", "footfall", "customers", "poi_total")
"""Layers tried as demand drivers by default (those present in the layer table are used)."""

DEFAULT_CUTOFF_KM = 10.0
"""Customers farther than this from a store do not shop there (keeps the model sparse)."""

MIN_STORES = 6
"""Fewest stores with sales needed to calibrate; below this the defaults are used."""

_ALPHA_GRID = (0.5, 1.0, 1.5, 2.0)
_BETA_GRID = (1.0, 1.5, 2.0, 2.5, 3.0)
_ALPHA_BOUNDS = (0.0, 3.0)
_BETA_BOUNDS = (0.2, 4.0)


@dataclass(frozen=True)
class Calibration:
    """Calibrated demand model and its held-out skill.

    Attributes
    ----------
    alpha, beta
        Huff exponents (attractiveness, distance decay).
    demand_weights
        Sales potential (CNY per year) per unit of each layer column.
    r2, mape
        Cross-validated skill on held-out stores (``None`` when the defaults were used).
        MAPE is a fraction (0.12 = 12 %).
    in_sample_r2
        Fit on all stores (optimistic; reported for comparison only).
    predictions
        Per store: ``store_id, actual, predicted_cv`` (held-out prediction), ``predicted_fit``
        (final model), ``fold``.
    folds
        Number of cross-validation folds.
    used_defaults
        True when there were too few sales to calibrate.
    message
        Plain-language summary.
    """

    alpha: float
    beta: float
    demand_weights: Mapping[str, float]
    r2: float | None = None
    mape: float | None = None
    in_sample_r2: float | None = None
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    folds: int = 0
    used_defaults: bool = True
    cutoff_km: float = DEFAULT_CUTOFF_KM
    message: str = ""

    def demand(self, layers: pd.DataFrame) -> pd.Series:
        """Sales potential per cell, ``sum_f w_f * layers[f]`` (CNY per year).

        Examples
        --------
        >>> c = Calibration(1.0, 2.0, {"population": 10.0})
        >>> c.demand(pd.DataFrame({"population": [1.0, 2.0]})).tolist()
        [10.0, 20.0]
        """
        missing = [f for f in self.demand_weights if f not in layers.columns]
        if missing:
            raise InputError(f"`layers` has no column {missing} used by the demand model; add the "
                             "layer or recalibrate without it.")
        values = layers[list(self.demand_weights)].fillna(0.0).to_numpy(float)
        weights = np.array(list(self.demand_weights.values()), float)
        return pd.Series(values @ weights, index=layers.index, name="demand")


def default_calibration(reason: str = "no store sales were given") -> Calibration:
    """Return the documented defaults (Huff's alpha=1, beta=2 and :data:`DEFAULT_DEMAND_WEIGHTS`).

    Examples
    --------
    >>> default_calibration().beta
    2.0
    """
    return Calibration(alpha=DEFAULT_ALPHA, beta=DEFAULT_BETA,
                       demand_weights=dict(DEFAULT_DEMAND_WEIGHTS), used_defaults=True,
                       message=f"Default demand model used: {reason}.")


def calibrate(layers: pd.DataFrame, stores: pd.DataFrame, competitors: pd.DataFrame | None = None,
              *, sales: str = "annual_sales", factors: Sequence[str] | None = None,
              attractiveness: str = "floor_area_m2", folds: int = 5, ridge: float = 1e-3,
              cutoff_km: float = DEFAULT_CUTOFF_KM,
              min_distance_km: float = DEFAULT_MIN_DISTANCE_KM, seed: int = 0,
              id_column: str = "store_id") -> Calibration:
    """Fit demand weights and Huff exponents to existing stores' sales, with k-fold skill.

    Parameters
    ----------
    layers
        Layer table (one row per cell, ``lat``/``lng`` plus the factor columns).
    stores
        Own stores with point geometry (or ``lat``/``lng``), ``attractiveness`` and ``sales``.
    competitors
        Competitor stores (they take share but have no known sales).
    sales
        Column of annual sales.
    factors
        Layer columns that drive demand; :data:`DEFAULT_DEMAND_FACTORS` present in ``layers``
        when ``None``.
    attractiveness
        Store size column (used for own stores and competitors); every store of a table without
        it counts as the same size.
    folds
        k of k-fold cross-validation over stores (capped at the number of stores).
    ridge
        Ridge penalty relative to the mean squared column norm of the standardised design.
    cutoff_km, min_distance_km
        Huff catchment cutoff and distance floor.
    seed
        Seed of the fold assignment.
    id_column
        Store id column (the index when absent).

    Returns
    -------
    Calibration
        Fitted model with held-out R2 / MAPE and predicted vs actual per store; the defaults
        (:func:`default_calibration`) when fewer than :data:`MIN_STORES` stores have sales.

    Examples
    --------
    >>> cal = calibrate(pd.DataFrame({"lat": [22.5], "lng": [114.0], "population": [1.0]}),
    ...                 pd.DataFrame({"lat": [22.5], "lng": [114.0], "floor_area_m2": [100.0]}))
    >>> cal.used_defaults
    True
    """
    if sales not in stores.columns:
        return default_calibration(f"`stores` has no {sales!r} column")
    actual_all = pd.to_numeric(stores[sales], errors="coerce").to_numpy(float)
    has_sales = np.isfinite(actual_all) & (actual_all > 0)
    if has_sales.sum() < MIN_STORES:
        return default_calibration(f"only {int(has_sales.sum())} stores have sales (need "
                                   f"{MIN_STORES})")
    if folds < 2:
        raise InputError(f"`folds` is {folds!r}; use 2 or more (5 is usual).")
    if not cutoff_km > 0:
        raise InputError(f"`cutoff_km` is {cutoff_km!r}; use a positive distance in km.")
    factors = [f for f in (DEFAULT_DEMAND_FACTORS if factors is None else factors)]
    present = [f for f in factors if f in layers.columns]
    if not present:
        raise InputError(f"`layers` has none of the demand factors {factors}; pass `factors=` with "
                         "numeric layer columns.")
    cell_lat, cell_lng = frame_to_lat_lng(layers, "layers")
    X = layers[present].fillna(0.0).to_numpy(float)
    if (X < 0).any():
        bad = [f for f in present if (layers[f] < 0).any()]
        raise InputError(f"demand factors {bad} have negative values; demand factors must be "
                         "counts or amounts >= 0.")
    own = StorePoints.from_frame(stores, attractiveness=_size(stores, attractiveness),
                                 id_column=id_column if id_column in stores.columns else None)
    comp = (StorePoints.from_frame(competitors, attractiveness=_size(competitors, attractiveness))
            if competitors is not None and len(competitors) else
            StorePoints.from_arrays(np.zeros(0), np.zeros(0)))
    everyone = StorePoints.concat(own, comp)
    rows, cols, dist = pairs_within_km(cell_lat, cell_lng, everyone.lat, everyone.lng, cutoff_km)
    problem = _Problem(rows=rows, cols=cols, dist=np.maximum(dist, min_distance_km),
                       size=np.asarray(everyone.attractiveness, float), n_cells=len(layers),
                       n_stores=len(everyone), own_index=np.flatnonzero(has_sales), X=X,
                       ridge=ridge)
    y = actual_all[has_sales]

    n = len(y)
    k = min(folds, n)
    rng = np.random.default_rng(seed)
    fold_of = np.empty(n, dtype=int)
    fold_of[rng.permutation(n)] = np.arange(n) % k
    predicted_cv = np.empty(n)
    for fold in range(k):
        test = fold_of == fold
        alpha, beta, weights = problem.fit(~test, y)
        predicted_cv[test] = problem.design(alpha, beta)[test] @ weights
    alpha, beta, weights = problem.fit(np.ones(n, bool), y)
    predicted_fit = problem.design(alpha, beta) @ weights
    ids = own.ids[has_sales]
    predictions = pd.DataFrame({"store_id": ids, "actual": y, "predicted_cv": predicted_cv,
                                "predicted_fit": predicted_fit, "fold": fold_of})
    r2, mape = r2_score(y, predicted_cv), mape_score(y, predicted_cv)
    message = (f"Calibrated on {n} stores ({k}-fold cross-validation): held-out R2 {r2:.2f}, "
               f"MAPE {100 * mape:.1f}%; alpha {alpha:.2f}, beta {beta:.2f}.")
    if not r2 > 0:
        message += (" The model does no better than the average store on held-out stores: treat "
                    "expected sales as rough, or add layers that explain sales.")
    return Calibration(alpha=float(alpha), beta=float(beta),
                       demand_weights=dict(zip(present, map(float, weights), strict=True)),
                       r2=r2, mape=mape, in_sample_r2=r2_score(y, predicted_fit),
                       predictions=predictions, folds=k, used_defaults=False,
                       cutoff_km=cutoff_km, message=message)


def _size(frame: pd.DataFrame, column: str) -> str | float:
    return column if column in frame.columns else 1.0


def r2_score(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``.

    Examples
    --------
    >>> r2_score(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0]))
    1.0
    """
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    total = np.sum((actual - actual.mean()) ** 2)
    return float(1.0 - np.sum((actual - predicted) ** 2) / total) if total > 0 else float("nan")


def mape_score(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error as a fraction (rows with zero actual are skipped).

    Examples
    --------
    >>> mape_score(np.array([100.0, 200.0]), np.array([110.0, 180.0]))
    0.1
    """
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    keep = actual != 0
    return float(np.mean(np.abs(predicted[keep] - actual[keep]) / np.abs(actual[keep])))


@dataclass
class _Problem:
    """Precomputed Huff pairs; gives the captured-factor design matrix for any (alpha, beta)."""

    rows: np.ndarray
    cols: np.ndarray
    dist: np.ndarray
    size: np.ndarray
    n_cells: int
    n_stores: int
    own_index: np.ndarray
    X: np.ndarray
    ridge: float

    def design(self, alpha: float, beta: float) -> np.ndarray:
        utility = self.size[self.cols] ** alpha / self.dist**beta
        total = np.bincount(self.rows, utility, minlength=self.n_cells)
        probability = utility / total[self.rows]
        P = sp.csr_array((probability, (self.rows, self.cols)), shape=(self.n_cells, self.n_stores))
        return np.asarray(P[:, self.own_index].T @ self.X)

    def weights(self, A: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
        scale = np.linalg.norm(A, axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        scaled = A / scale
        lam = self.ridge * float(np.mean(np.sum(scaled**2, axis=0)))
        augmented = np.vstack([scaled, np.sqrt(lam) * np.eye(A.shape[1])])
        target = np.concatenate([y, np.zeros(A.shape[1])])
        coef, _ = nnls(augmented, target)
        weights = coef / scale
        return weights, float(np.sum((A @ weights - y) ** 2) / np.sum(y**2))

    def fit(self, train: np.ndarray, y: np.ndarray) -> tuple[float, float, np.ndarray]:
        y_train = y[train]

        def loss(params: np.ndarray) -> float:
            A = self.design(params[0], params[1])[train]
            return self.weights(A, y_train)[1]

        grid = [(a, b) for a in _ALPHA_GRID for b in _BETA_GRID]
        start = min(grid, key=lambda p: loss(np.array(p)))
        result = minimize(loss, np.array(start), method="Nelder-Mead",
                          bounds=[_ALPHA_BOUNDS, _BETA_BOUNDS],
                          options={"xatol": 1e-3, "fatol": 1e-10, "maxiter": 300})
        alpha, beta = (result.x if result.fun <= loss(np.array(start)) else np.array(start))
        weights, _ = self.weights(self.design(alpha, beta)[train], y_train)
        return float(alpha), float(beta), weights
