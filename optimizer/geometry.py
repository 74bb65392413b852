"""Great-circle distances on the sphere, vectorised: the one place Xingtu computes them.

Neighbour searches (k-d trees) work on unit vectors, where a great-circle distance becomes a
straight chord: :func:`km_to_chord` and :func:`chord_to_km` convert between the two.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), km."""


def haversine_km(lat1: np.ndarray | float, lng1: np.ndarray | float, lat2: np.ndarray | float,
                 lng2: np.ndarray | float) -> np.ndarray:
    """Great-circle distance in km, broadcasting like numpy.

    Examples
    --------
    >>> round(float(haversine_km(0.0, 0.0, 0.0, 1.0)), 3)  # one degree on the equator
    111.195
    >>> haversine_km(np.array([[0.0], [1.0]]), 0.0, 0.0, np.array([0.0, 1.0])).shape
    (2, 2)
    """
    phi1, phi2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    dlmb = np.radians(np.asarray(lng2, float) - np.asarray(lng1, float))
    a = np.sin((phi2 - phi1) / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def unit_vectors(lat: np.ndarray, lng: np.ndarray) -> np.ndarray:
    """Points on the unit sphere, shape (n, 3), for k-d tree neighbour searches.

    Examples
    --------
    >>> unit_vectors(np.array([0.0]), np.array([90.0])).round(6).tolist()
    [[0.0, 1.0, 0.0]]
    """
    phi = np.radians(np.asarray(lat, float))
    lmb = np.radians(np.asarray(lng, float))
    return np.column_stack([np.cos(phi) * np.cos(lmb), np.cos(phi) * np.sin(lmb), np.sin(phi)])


def km_to_chord(km: np.ndarray | float) -> np.ndarray | float:
    """Chord length between unit vectors that are ``km`` apart on the Earth's surface.

    Examples
    --------
    >>> round(float(chord_to_km(km_to_chord(5.0))), 9)
    5.0
    """
    angle = np.minimum(np.asarray(km, float) / EARTH_RADIUS_KM, np.pi)
    chord = 2.0 * np.sin(angle / 2.0)
    return float(chord) if np.ndim(chord) == 0 else chord


def chord_to_km(chord: np.ndarray | float) -> np.ndarray:
    """Great-circle distance in km for a chord between unit vectors.

    Examples
    --------
    >>> round(float(chord_to_km(2.0)), 1)  # antipodes
    20015.1
    """
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord, float) / 2.0, 0.0, 1.0))
