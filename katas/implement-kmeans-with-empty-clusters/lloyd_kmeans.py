"""Lloyd's k-means for clustering embeddings, with a documented rule for empty clusters.

``X`` is an ``(n, d)`` array and the centres a ``(k, d)`` array, both float64.  One Lloyd
iteration (:func:`lloyd_step`) does, in this order:

1. **assign** every point to its nearest centre in squared Euclidean distance, ties to the
   lowest cluster index (:func:`nearest_center`);
2. **update**: every cluster with at least one point moves to the mean of its points;
3. **re-seed**: the clusters left with no point in step 1, in increasing index order, move
   onto the points that contribute most to the inertia of step 1 (largest squared distance
   to the centre they were assigned to), largest first, ties to the lower point index, one
   distinct point per empty cluster.

So a fit never returns NaN centres, the inertia of successive assignments never increases,
and a converged fit on data with at least ``k`` distinct rows uses every cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class KMeansResult:
    """What :func:`fit` returns."""

    centers: np.ndarray  # (k, d), after the last iteration
    labels: np.ndarray  # (n,) int64, nearest of ``centers`` for every point
    inertia: float  # sum of squared distances of the points to ``centers[labels]``
    n_iter: int  # Lloyd iterations run
    history: list[float] = field(default_factory=list)  # inertia of each iteration's step 1


def squared_distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``(n, k)`` squared Euclidean distances."""
    return np.square(X[:, None, :] - centers[None, :, :]).sum(axis=-1)


def nearest_center(X: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, distances)``: each point's nearest centre (ties to the lowest index) and
    its squared distance to it."""
    d = squared_distances(X, centers)
    labels = d.argmin(axis=1)
    return labels, d[np.arange(len(X)), labels]


def kmeans_plusplus(X: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii, 2007): ``k`` data points, each drawn with
    probability proportional to its squared distance to the nearest one already drawn."""
    rng = np.random.default_rng(seed)
    centers = [X[rng.integers(len(X))]]
    for _ in range(1, k):
        closest = squared_distances(X, np.asarray(centers)).min(axis=1)
        total = closest.sum()
        centers.append(X[rng.choice(len(X), p=closest / total if total > 0 else None)])
    return np.array(centers, dtype=np.float64)


def lloyd_step(X: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """One iteration (assign, update, re-seed; see the module docstring).

    Returns ``(new_centers, labels, inertia)``: the ``(k, d)`` centres after the update and
    the re-seeding, and the labels and inertia of the assignment to the *old* ``centers``.
    ``X`` and ``centers`` are not modified.
    """
    raise NotImplementedError


def fit(X: np.ndarray, init: np.ndarray, max_iter: int = 100, tol: float = 0.0) -> KMeansResult:
    """Lloyd iterations from the ``(k, d)`` centres ``init`` until the centres move by at
    most ``tol`` (the largest squared shift of a centre) in one iteration, or ``max_iter``
    iterations.  The result's labels and inertia are those of the final centres, and
    ``history`` lists the inertia returned by every iteration's :func:`lloyd_step`."""
    raise NotImplementedError


def fit_kmeans(X: np.ndarray, k: int, seed: int = 0, max_iter: int = 100) -> KMeansResult:
    """Validate, seed with k-means++, fit."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or not 1 <= k <= len(X):
        raise ValueError(f"need a 2-d X with at least k={k} >= 1 rows, got shape {X.shape}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    return fit(X, kmeans_plusplus(X, k, seed), max_iter=max_iter)


def predict(X: np.ndarray, result: KMeansResult) -> np.ndarray:
    """The nearest fitted centre of every row of ``X``."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != result.centers.shape[1]:
        expected = f"(n, {result.centers.shape[1]})"
        raise ValueError(f"X has shape {X.shape}, expected {expected}")
    return nearest_center(X, result.centers)[0]
