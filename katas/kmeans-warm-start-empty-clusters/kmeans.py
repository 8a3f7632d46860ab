"""K-means clustering (Lloyd's algorithm) for the embedding-deduplication jobs.

A small NumPy stand-in for ``sklearn.cluster.KMeans`` with the same attribute names.  The
nightly job warm-starts from the previous run's centres (``init=<array>``).  Conventions:

* one Lloyd iteration assigns every point to its nearest centre (ties go to the lowest
  cluster index), then moves every centre to the mean of the points assigned to it;
* a cluster left with no points is re-seeded in the same iteration: the empty clusters, in
  increasing index order, are moved onto the points that contribute most to the current
  inertia (largest squared distance to the centre they were just assigned to), largest first,
  one distinct point per empty cluster;
* so ``fit`` always returns ``k`` finite centres, the inertia never increases from one
  iteration to the next, and at convergence every cluster has at least one point (as long as
  ``X`` has at least ``k`` distinct rows).
"""

from __future__ import annotations

import numpy as np


def _squared_distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """``(n_samples, n_clusters)`` squared Euclidean distances."""
    return np.square(X[:, None, :] - centers[None, :, :]).sum(axis=-1)


def _assign(X: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centre of every point and the squared distance to it."""
    distances = _squared_distances(X, centers)
    labels = distances.argmin(axis=1)
    return labels, distances[np.arange(X.shape[0]), labels]


def _kmeans_plusplus(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii, 2007): each new centre is a data point drawn
    with probability proportional to its squared distance to the nearest centre so far."""
    centers = [X[rng.integers(X.shape[0])]]
    for _ in range(1, k):
        closest = _squared_distances(X, np.asarray(centers)).min(axis=1)
        total = closest.sum()
        p = closest / total if total > 0 else None
        centers.append(X[rng.choice(X.shape[0], p=p)])
    return np.array(centers, dtype=np.float64)


def _update_centers(
    X: np.ndarray, labels: np.ndarray, distances: np.ndarray, centers: np.ndarray
) -> np.ndarray:
    """One M-step: cluster means, with empty clusters re-seeded (see the module docstring)."""
    clusters, counts = np.unique(labels, return_counts=True)
    sums = np.zeros_like(centers)
    np.add.at(sums, labels, X)
    new_centers = centers.copy()
    new_centers[clusters] = sums[clusters] / counts[:, None]

    empty = np.flatnonzero(counts == 0)
    if empty.size:
        worst_served = np.argsort(-distances, kind="stable")[: empty.size]
        new_centers[empty] = X[worst_served]
    return new_centers


class KMeans:
    """Lloyd's k-means.

    Args:
        n_clusters: number of clusters ``k``.
        init: ``"k-means++"`` or an array of ``k`` initial centres, used as given.
        max_iter: maximum number of Lloyd iterations.
        tol: stop once the centres moved by at most ``tol`` (total squared shift) in one
            iteration.
        random_state: seed of the k-means++ draws.

    Attributes (after :meth:`fit`):
        cluster_centers_: ``(k, n_features)`` float64 centres after the last iteration.
        labels_: index of the nearest centre of ``cluster_centers_`` for every training point.
        inertia_: sum of squared distances of the training points to their nearest centre.
        n_iter_: number of iterations run.
    """

    def __init__(
        self,
        n_clusters: int,
        init: str | np.ndarray = "k-means++",
        max_iter: int = 300,
        tol: float = 1e-8,
        random_state: int = 0,
    ) -> None:
        if n_clusters < 1 or max_iter < 1:
            raise ValueError(
                f"need n_clusters >= 1 and max_iter >= 1, got {n_clusters}, {max_iter}"
            )
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _initial_centers(self, X: np.ndarray) -> np.ndarray:
        if isinstance(self.init, str):
            if self.init != "k-means++":
                raise ValueError(f"unknown init {self.init!r}")
            return _kmeans_plusplus(X, self.n_clusters, np.random.default_rng(self.random_state))
        centers = np.array(self.init, dtype=np.float64)
        if centers.shape != (self.n_clusters, X.shape[1]):
            expected = (self.n_clusters, X.shape[1])
            raise ValueError(f"init has shape {centers.shape}, expected {expected}")
        return centers

    def fit(self, X: np.ndarray) -> KMeans:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < self.n_clusters:
            raise ValueError(f"need a 2-d X with at least {self.n_clusters} rows, got {X.shape}")
        centers = self._initial_centers(X)
        self.n_iter_ = 0
        while self.n_iter_ < self.max_iter:
            labels, distances = _assign(X, centers)
            new_centers = _update_centers(X, labels, distances, centers)
            shift = float(np.square(new_centers - centers).sum())
            centers = new_centers
            self.n_iter_ += 1
            if shift <= self.tol:
                break
        self.cluster_centers_ = centers
        self.labels_, distances = _assign(X, centers)
        self.inertia_ = float(distances.sum())
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Index of the nearest centre for every row of ``X``."""
        return _assign(np.asarray(X, dtype=np.float64), self.cluster_centers_)[0]

    def fit_predict(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).labels_
