"""The calls the tests make into ``pca``, in the subject process.

A fitted ``PCA`` cannot cross the boundary, so each function here fits one on the data the
test sends, applies that same fit to the arrays the test sends, and returns NumPy arrays:
the fitted attributes and what ``transform`` / ``inverse_transform`` give.  Nothing here
checks anything: every check and every reference computation is in the tests.
"""

from __future__ import annotations

import numpy as np
from pca import PCA

# The documented fitted attributes that cross back (those the fit did not set are left out).
FITTED = (
    "mean_",
    "components_",
    "explained_variance_",
    "explained_variance_ratio_",
    "singular_values_",
)


def fit(
    X: np.ndarray,
    n_components: int | None = None,
    transform: np.ndarray | None = None,
    inverse_transform: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """``PCA(n_components).fit(X)``: its fitted attributes by name, plus, for that same
    fit, ``"transform"``: ``transform(transform)`` and ``"inverse_transform"``:
    ``inverse_transform(inverse_transform)`` when those arrays are given."""
    pca = PCA(n_components=n_components).fit(X)
    out = {name: getattr(pca, name) for name in FITTED if hasattr(pca, name)}
    if transform is not None:
        out["transform"] = pca.transform(transform)
    if inverse_transform is not None:
        out["inverse_transform"] = pca.inverse_transform(inverse_transform)
    return out


def round_trip(X: np.ndarray, n_components: int | None = None) -> np.ndarray:
    """``inverse_transform(transform(X))`` of ``PCA(n_components).fit(X)``."""
    pca = PCA(n_components=n_components).fit(X)
    return pca.inverse_transform(pca.transform(X))


def fit_transform(X: np.ndarray, n_components: int | None = None) -> np.ndarray:
    """``PCA(n_components).fit_transform(X)``."""
    return PCA(n_components=n_components).fit_transform(X)
