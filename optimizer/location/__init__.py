"""Facility-location models: where to open stores and repair shops.

Each model is built with ``Model.from_cost_matrix(cost, weights, ...)`` (or
``Model.from_geodataframe(clients_gdf, candidates_gdf, weights_column, ...)``) and solved with
``.solve(solver=None, time_limit=None, gap=None)``, which returns a :class:`LocationResult`.

Examples
--------
>>> import numpy as np
>>> from optimizer.location import PMedian
>>> cost = np.array([[0.0, 4.0], [1.0, 3.0], [5.0, 0.0]])
>>> PMedian.from_cost_matrix(cost, [1, 1, 1], p=1).solve().objective
6.0
"""

from ._geo import distance_matrix_from_geodataframes, haversine_matrix
from ._result import LocationResult
from .capacitated import CapacitatedPMedian
from .coverage import MCLP, SetCover
from .market_share import MarketShare, captured_demand
from .p_center import PCenter
from .p_median import PMedian

__all__ = [
    "MCLP",
    "CapacitatedPMedian",
    "MarketShare",
    "PCenter",
    "captured_demand",
    "LocationResult",
    "PMedian",
    "SetCover",
    "distance_matrix_from_geodataframes",
    "haversine_matrix",
]
