"""The calls the tests make into ``kmeans``, in the subject process.

A fitted ``KMeans`` cannot cross the boundary, so each function here fits one on the data
the test sends, with the settings it sends, and returns the fitted attributes as plain data.
Nothing here checks anything: every check and every reference computation is in the tests.
"""

from __future__ import annotations

import numpy as np
from kmeans import KMeans


def _model(
    n_clusters: int,
    init: np.ndarray | None,
    max_iter: int,
    tol: float,
    random_state: int,
) -> KMeans:
    return KMeans(
        n_clusters,
        init="k-means++" if init is None else init,
        max_iter=max_iter,
        tol=tol,
        random_state=random_state,
    )


def fit(
    X: np.ndarray,
    n_clusters: int,
    init: np.ndarray | None = None,
    max_iter: int = 300,
    tol: float = 0.0,
    random_state: int = 0,
    predict: np.ndarray | None = None,
) -> dict:
    """``KMeans(n_clusters, init, max_iter, tol, random_state).fit(X)``: its fitted
    attributes by name, plus ``"predict"``: ``predict(predict)`` when that array is given."""
    km = _model(n_clusters, init, max_iter, tol, random_state).fit(X)
    out = {
        "cluster_centers_": km.cluster_centers_,
        "labels_": km.labels_,
        "inertia_": km.inertia_,
        "n_iter_": km.n_iter_,
    }
    if predict is not None:
        out["predict"] = km.predict(predict)
    return out


def inertia_by_iteration(
    X: np.ndarray, n_clusters: int, init: np.ndarray | None, iterations: int
) -> list[float]:
    """``inertia_`` of fits from the same start stopped after 1, 2, ..., ``iterations``
    iterations (``tol=0``)."""
    return [_model(n_clusters, init, t, 0.0, 0).fit(X).inertia_ for t in range(1, iterations + 1)]
