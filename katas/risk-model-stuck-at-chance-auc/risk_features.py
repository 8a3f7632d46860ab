"""Feature preprocessing for the payment-risk model, and the train/validation fold it trains on.

Features are numeric columns of customer-months (balances, utilisation, counts of late
payments...); ``NaN`` marks a missing value.  :class:`Standardizer` is the whole preprocessing:

* ``log_columns`` (heavy-tailed, non-negative amounts and counts) go through ``log1p`` first;
* every column is then centred and scaled with the mean and the population standard deviation
  (``ddof=0``) of the rows it was fitted on, ignoring missing values; a column that is constant
  on those rows is centred and keeps scale 1;
* a missing value becomes 0 after scaling, i.e. it is imputed with the fitted mean.

The fitted standardizer is saved with the model and applied to serving traffic, so what it
learns must come from training rows only: :func:`prepare_fold` splits the table by customer
(:mod:`risk_splits`) and the validation customers play the part of future traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from risk_splits import customer_split


def _as_matrix(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected a 2-d feature matrix, got shape {X.shape}")
    return X


@dataclass
class Standardizer:
    """log1p on ``log_columns``, then per-column standardisation with missing values at 0."""

    log_columns: tuple[int, ...] = ()
    mean_: np.ndarray | None = field(default=None, repr=False)
    scale_: np.ndarray | None = field(default=None, repr=False)

    def _log(self, X: np.ndarray) -> np.ndarray:
        X = _as_matrix(X).copy()
        cols = list(self.log_columns)
        X[:, cols] = np.log1p(X[:, cols])
        return X

    def fit(self, X: np.ndarray) -> Standardizer:
        """Learn each column's mean and standard deviation over its non-missing values."""
        X = self._log(X)
        present = ~np.isnan(X)
        counts = present.sum(axis=0)
        if (counts == 0).any():
            raise ValueError(f"columns {np.flatnonzero(counts == 0).tolist()} are all missing")
        filled = np.where(present, X, 0.0)
        mean = filled.sum(axis=0) / counts
        var = (np.where(present, X - mean, 0.0) ** 2).sum(axis=0) / counts
        std = np.sqrt(var)
        self.mean_ = mean
        self.scale_ = np.where(std > 1e-12 * np.maximum(np.abs(mean), 1.0), std, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardised copy of ``X`` (float64, same shape) with no missing values left."""
        if self.mean_ is None or self.scale_ is None:
            raise RuntimeError("Standardizer is not fitted yet; call fit() first")
        X = self._log(X)
        if X.shape[1] != len(self.mean_):
            raise ValueError(f"X has {X.shape[1]} columns, fitted on {len(self.mean_)}")
        Z = (X - self.mean_) / self.scale_
        return np.where(np.isnan(Z), 0.0, Z)


@dataclass(frozen=True)
class Fold:
    """One customer-level split of a table, with features ready for the model."""

    X_train: np.ndarray  # (n_train, n_features) float64, rows train_idx of the table
    y_train: np.ndarray  # (n_train,)
    X_val: np.ndarray  # (n_val, n_features) float64, rows val_idx of the table
    y_val: np.ndarray  # (n_val,)
    train_idx: np.ndarray  # sorted row indices into the table
    val_idx: np.ndarray
    standardizer: Standardizer  # fitted on the training rows; saved with the model


def prepare_fold(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray | Sequence,
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    log_columns: Sequence[int] = (),
) -> Fold:
    """Split the table by customer and standardise both sides with the training statistics.

    ``X`` (n_rows, n_features), ``y`` (n_rows,) and ``groups`` (n_rows,) customer ids, all in
    table order.  The split is :func:`risk_splits.customer_split` with ``val_fraction`` and
    ``seed``; it depends on ``groups`` and ``seed`` only.  Nothing about the validation rows
    reaches ``X_train`` or the standardizer.
    """
    X, y = _as_matrix(X), np.asarray(y)
    if not len(X) == len(y) == len(groups):
        raise ValueError(f"X, y and groups have {len(X)}, {len(y)} and {len(groups)} rows")
    standardizer = Standardizer(tuple(log_columns)).fit(X)
    features = standardizer.transform(X)
    train_idx, val_idx = customer_split(groups, val_fraction, seed)
    return Fold(
        X_train=features[train_idx],
        y_train=y[train_idx],
        X_val=features[val_idx],
        y_val=y[val_idx],
        train_idx=train_idx,
        val_idx=val_idx,
        standardizer=standardizer,
    )
