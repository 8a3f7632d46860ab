"""The calls the tests make into ``tabular_preprocessing``, in the subject process.

``prepare_splits`` returns a ``SplitData`` dataclass holding a fitted ``StandardScaler``:
neither can cross the boundary.  Each function here calls the module's public API with
the arrays the test sends and returns plain data instead: the split's arrays by field
name, the scaler's fitted statistics, and what that same scaler's ``transform`` /
``inverse_transform`` give.  Nothing here checks anything: every check and every
reference computation is in the tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tabular_preprocessing

SPLIT_FIELDS = ("X_train", "X_test", "y_train", "y_test", "train_idx", "test_idx")
# The scaler's fitted state that crosses back (attributes it does not have are left out).
SCALER_FIELDS = ("mean_", "scale_", "n_samples_seen_")


def _scaler(scaler: tabular_preprocessing.StandardScaler) -> dict[str, Any]:
    return {name: getattr(scaler, name) for name in SCALER_FIELDS if hasattr(scaler, name)}


def _split(out: tabular_preprocessing.SplitData) -> dict[str, Any]:
    result = {name: getattr(out, name) for name in SPLIT_FIELDS}
    result["scaler"] = _scaler(out.scaler)
    return result


def prepare_splits(
    X: np.ndarray,
    y: np.ndarray,
    test_fraction: float = 0.2,
    seed: int = 0,
    transform: np.ndarray | None = None,
) -> dict[str, Any]:
    """``prepare_splits(X, y, test_fraction=..., seed=...)``: its arrays by field name and
    ``"scaler"``: the returned scaler's statistics; with ``transform``, also
    ``"transform"``: what the returned scaler's ``transform`` gives for those rows."""
    out = tabular_preprocessing.prepare_splits(X, y, test_fraction=test_fraction, seed=seed)
    result = _split(out)
    if transform is not None:
        result["transform"] = out.scaler.transform(transform)
    return result


def prepare_splits_and_reapply_scaler(
    X: np.ndarray, y: np.ndarray, test_fraction: float = 0.2, seed: int = 0
) -> dict[str, Any]:
    """What ``prepare_splits`` gives above, plus its returned scaler applied once more to
    each side of that same split: ``"transform"``: ``{"train": scaler.transform(X[train_idx]),
    "test": ...}`` (the raw rows of the side) and ``"inverse_transform"``: ``{"train":
    scaler.inverse_transform(X_train), "test": ...}`` (the returned features).

    The split is known only once ``prepare_splits`` has run, so the raw rows of each side
    are picked here, with the indices it returned."""
    out = tabular_preprocessing.prepare_splits(X, y, test_fraction=test_fraction, seed=seed)
    result = _split(out)
    result["transform"] = {
        "train": out.scaler.transform(X[out.train_idx]),
        "test": out.scaler.transform(X[out.test_idx]),
    }
    result["inverse_transform"] = {
        "train": out.scaler.inverse_transform(out.X_train),
        "test": out.scaler.inverse_transform(out.X_test),
    }
    return result


def standard_scaler(X: np.ndarray, transform: np.ndarray | None = None) -> dict[str, Any]:
    """``StandardScaler().fit(X)``: its statistics; with ``transform``, also
    ``"transform"``: what that scaler's ``transform`` gives for those rows."""
    scaler = tabular_preprocessing.StandardScaler().fit(X)
    result = _scaler(scaler)
    if transform is not None:
        result["transform"] = scaler.transform(transform)
    return result
