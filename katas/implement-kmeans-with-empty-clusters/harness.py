"""The calls the tests make into ``lloyd_kmeans`` that return objects, in the subject
process.

``fit`` returns a ``KMeansResult`` dataclass, which cannot cross the boundary: the
functions here call the module and return its fields (or its answers and arguments) as
plain data.  Nothing here checks anything: every check, and every reference computation,
is in the tests.  ``lloyd_step`` and ``kmeans_plusplus`` take and return arrays and
numbers, so the tests call them in the module directly.
"""

from __future__ import annotations

from dataclasses import asdict

import lloyd_kmeans
import numpy as np


def fit(X: np.ndarray, init: np.ndarray, max_iter: int = 100, tol: float = 0.0) -> dict:
    """``fit(X, init, max_iter, tol)`` as a dict of the result's fields."""
    return asdict(lloyd_kmeans.fit(X, init, max_iter=max_iter, tol=tol))


def step_and_arguments(X: np.ndarray, centers: np.ndarray) -> dict:
    """``lloyd_step(X, centers)`` and the two arrays as they are after the call."""
    new_centers, labels, inertia = lloyd_kmeans.lloyd_step(X, centers)
    return {"step": [new_centers, labels, inertia], "X": X, "centers": centers}
