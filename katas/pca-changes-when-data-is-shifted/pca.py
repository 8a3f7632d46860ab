"""Principal component analysis via the SVD, for the embedding-analysis notebooks.

A small NumPy stand-in for ``sklearn.decomposition.PCA`` with the same attribute names, so the
plotting helpers work with either.  Conventions:

* the principal axes are the eigenvectors of the sample covariance matrix, so they describe the
  spread of the data around its mean and do not change when every row is shifted by the same
  vector;
* ``explained_variance_`` uses the unbiased (``n - 1``) normalisation, so it equals the
  eigenvalues of ``np.cov(X, rowvar=False)`` and the sample variance of the projected data;
* ``explained_variance_ratio_`` divides by the total variance (the trace of the covariance), so
  the ratios of a full PCA sum to 1;
* component signs are made deterministic: the largest-magnitude entry of each component is
  positive.

Inputs of any numeric dtype are converted to float64.
"""

from __future__ import annotations

import numpy as np


def _flip_signs(components: np.ndarray) -> np.ndarray:
    """Make the largest-magnitude entry of each row positive (SVD signs are arbitrary)."""
    pivots = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(components.shape[0]), pivots])
    signs[signs == 0] = 1.0
    return components * signs[:, None]


class PCA:
    """Project data onto its directions of largest variance.

    Args:
        n_components: number of components to keep; ``None`` keeps ``min(n_samples,
            n_features)``.

    Attributes (after :meth:`fit`):
        mean_: per-feature mean of the training data, shape ``(n_features,)``.
        components_: principal axes as orthonormal rows, shape ``(n_components, n_features)``,
            sorted by decreasing explained variance.
        explained_variance_: variance of the data along each component.
        explained_variance_ratio_: ``explained_variance_`` divided by the total variance.
        singular_values_: the singular values matching the kept components.
    """

    def __init__(self, n_components: int | None = None) -> None:
        if n_components is not None and n_components < 1:
            raise ValueError(f"n_components must be positive, got {n_components}")
        self.n_components = n_components

    def fit(self, X: np.ndarray) -> PCA:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] < 2:
            raise ValueError(f"need a 2-d array with at least 2 rows, got shape {X.shape}")
        n_samples, n_features = X.shape
        max_components = min(n_samples, n_features)
        k = self.n_components or max_components
        if k > max_components:
            raise ValueError(f"n_components={k} exceeds min(X.shape)={max_components}")

        self.mean_ = X.mean(axis=0)
        total_variance = X.var(axis=0, ddof=1).sum()
        _, singular_values, vt = np.linalg.svd(X, full_matrices=False)
        explained_variance = singular_values**2 / (n_samples - 1)

        self.n_components_ = k
        self.n_features_in_ = n_features
        self.components_ = _flip_signs(vt[:k])
        self.singular_values_ = singular_values[:k]
        self.explained_variance_ = explained_variance[:k]
        self.explained_variance_ratio_ = explained_variance[:k] / total_variance
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Coordinates of ``X`` along the components, shape ``(n_samples, n_components)``.

        Measured from ``mean_``: the scores of the training data have mean 0.
        """
        X = np.asarray(X, dtype=np.float64)
        return (X - self.mean_) @ self.components_.T

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """Map component coordinates back to feature space (exact when all are kept)."""
        Z = np.asarray(Z, dtype=np.float64)
        return Z @ self.components_ + self.mean_
