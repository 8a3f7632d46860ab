"""Train/test preparation for the tabular baselines.

Every tabular baseline in this project goes through :func:`prepare_splits`: the feature
matrix is coerced to float64, a seeded random train/test split is drawn, and the features
are standardised with :class:`StandardScaler` so that linear models and k-NN see columns on
comparable scales.  The fitted scaler is returned too, so that rows arriving later (a new
evaluation set, serving traffic) can be transformed exactly like the test rows.

Conventions
-----------
* Standard deviations are population ones (``ddof=0``), as in scikit-learn.
* A constant feature keeps a scale of 1: it is centred but not blown up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A column whose standard deviation is below this (relative to its magnitude) is constant.
_CONSTANT_RTOL = 1e-12


def _as_matrix(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-d feature matrix, got shape {X.shape}")
    return X


class StandardScaler:
    """Standardise features to zero mean and unit variance, column by column."""

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.n_samples_seen_: int = 0

    def fit(self, X: np.ndarray) -> StandardScaler:
        """Learn the per-column mean and standard deviation of ``X``."""
        X = _as_matrix(X)
        if X.shape[0] == 0:
            raise ValueError("cannot fit a scaler on zero rows")
        mean = X.mean(axis=0)
        std = X.std(axis=0)
        constant = std <= _CONSTANT_RTOL * np.maximum(np.abs(mean), 1.0)
        self.mean_ = mean
        self.scale_ = np.where(constant, 1.0, std)
        self.n_samples_seen_ = X.shape[0]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = self._check_input(X)
        return (X - self.mean_) / self.scale_

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        Z = self._check_input(Z)
        return Z * self.scale_ + self.mean_

    def _check_input(self, X: np.ndarray) -> np.ndarray:
        if self.mean_ is None or self.scale_ is None:
            raise RuntimeError("StandardScaler is not fitted yet; call fit() first")
        X = _as_matrix(X)
        if X.shape[1] != self.mean_.shape[0]:
            raise ValueError(
                f"X has {X.shape[1]} features, the scaler was fitted on {self.mean_.shape[0]}"
            )
        return X


@dataclass(frozen=True)
class SplitData:
    """Standardised train/test features, their labels, row indices and the fitted scaler."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    scaler: StandardScaler


def split_indices(n_rows: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``range(n_rows)`` into sorted (train, test) row indices.

    The test side gets ``round(test_fraction * n_rows)`` rows, at least one and never all.
    """
    if n_rows < 2:
        raise ValueError(f"need at least 2 rows to split, got {n_rows}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = min(max(round(test_fraction * n_rows), 1), n_rows - 1)
    order = np.random.default_rng(seed).permutation(n_rows)
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def prepare_splits(
    X: np.ndarray, y: np.ndarray, test_fraction: float = 0.2, seed: int = 0
) -> SplitData:
    """Split ``(X, y)`` into train and test rows and standardise the features.

    The split depends only on the number of rows, ``test_fraction`` and ``seed``.  The
    returned ``scaler`` is the one both ``X_train`` and ``X_test`` were standardised with,
    so ``scaler.transform(X[test_idx])`` equals ``X_test``, and its statistics are those of
    the training rows: ``X_train`` has mean 0 and (population) standard deviation 1 in every
    column that varies over the training rows, while a column constant over them is only
    centred.  Nothing about the test rows (their values, their spread) may change
    ``X_train`` or the scaler.  Features come back as float64 whatever the input dtype.

    Args:
        X: feature matrix, shape ``(n_rows, n_features)``.
        y: labels or targets, shape ``(n_rows,)``; returned unchanged, split like ``X``.
        test_fraction: share of the rows held out for testing.
        seed: seed of the split; the same seed always gives the same split.
    """
    X = _as_matrix(X)
    y = np.asarray(y)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    scaler = StandardScaler()
    X_scaled = scaler.fit_transform(X)
    train_idx, test_idx = split_indices(X.shape[0], test_fraction, seed)
    return SplitData(
        X_train=X_scaled[train_idx],
        X_test=X_scaled[test_idx],
        y_train=y[train_idx],
        y_test=y[test_idx],
        train_idx=train_idx,
        test_idx=test_idx,
        scaler=scaler,
    )
