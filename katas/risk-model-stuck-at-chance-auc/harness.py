"""The calls the tests make into the payment-risk pipeline, in the subject process.

Folds, standardizers, generators of folds and models cannot cross the boundary, so each
function here builds what the pipeline needs from plain data (arrays, a config dict, a state
dict of weights the test drew), calls it, and returns arrays, numbers and dicts.  Nothing here
checks anything: every check, and every reference computation, is in the tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from risk_features import Standardizer, prepare_fold
from risk_splits import customer_folds, customer_split, summarize
from risk_trainer import TrainConfig, build_model, fit, minibatches, predict_proba


def split(groups: np.ndarray | list, val_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """``customer_split(groups, val_fraction, seed)`` as ``{"train": ..., "val": ...}``."""
    train_idx, val_idx = customer_split(groups, val_fraction, seed)
    return {"train": train_idx, "val": val_idx}


def folds(groups: np.ndarray | list, n_folds: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Every fold of ``customer_folds(groups, n_folds, seed)``."""
    return [{"train": t, "val": v} for t, v in customer_folds(groups, n_folds, seed)]


def summary(groups: np.ndarray, y: np.ndarray, idx: np.ndarray) -> dict[str, Any]:
    s = summarize(groups, y, idx)
    return {"rows": s.rows, "customers": s.customers, "positive_rate": s.positive_rate}


def standardize(
    X_fit: np.ndarray, X_apply: np.ndarray, log_columns: tuple[int, ...] = ()
) -> dict[str, np.ndarray]:
    """``Standardizer(log_columns).fit(X_fit)``: its statistics and ``transform(X_apply)``."""
    standardizer = Standardizer(tuple(log_columns)).fit(X_fit)
    return {
        "mean": standardizer.mean_,
        "scale": standardizer.scale_,
        "Z": standardizer.transform(X_apply),
    }


def fold(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray | list,
    val_fraction: float,
    seed: int,
    log_columns: tuple[int, ...] = (),
) -> dict[str, np.ndarray]:
    """``prepare_fold(...)``: its arrays, and the statistics of its standardizer, which it
    also applies to ``X`` as a whole (``"Z_all"``)."""
    f = prepare_fold(
        X, y, groups, val_fraction=val_fraction, seed=seed, log_columns=tuple(log_columns)
    )
    return {
        "X_train": f.X_train,
        "y_train": f.y_train,
        "X_val": f.X_val,
        "y_val": f.y_val,
        "train_idx": f.train_idx,
        "val_idx": f.val_idx,
        "mean": f.standardizer.mean_,
        "scale": f.standardizer.scale_,
        "Z_all": f.standardizer.transform(X),
    }


def epoch_batches(
    X: torch.Tensor, y: torch.Tensor, w: torch.Tensor, batch_size: int, seed: int, epochs: int
) -> list[list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]:
    """``minibatches`` for ``epochs`` epochs in a row from one generator seeded with
    ``seed``, as ``fit`` draws them: each epoch's list of ``(features, labels, weights)``."""
    generator = torch.Generator().manual_seed(seed)
    return [list(minibatches(X, y, w, batch_size, generator)) for _ in range(epochs)]


def _model(config: dict, n_features: int, state: dict | None, dtype: torch.dtype):
    model = build_model(n_features, TrainConfig(**config)).to(dtype)
    if state is not None:
        model.load_state_dict(state)
    return model


def train(
    config: dict,
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    state: dict[str, torch.Tensor] | None = None,
    dtype: torch.dtype = torch.float64,
) -> dict[str, Any]:
    """``fit(model, X, y, TrainConfig(**config), sample_weight)`` on a ``dtype`` model that
    holds ``state`` (or ``build_model``'s weights): the epoch losses and the final weights."""
    model = _model(config, np.asarray(X).shape[1], state, dtype)
    losses = fit(model, X, y, TrainConfig(**config), sample_weight)
    return {
        "losses": losses,
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
    }


def initial_state(config: dict, n_features: int) -> dict[str, torch.Tensor]:
    """``build_model(n_features, TrainConfig(**config)).state_dict()``."""
    return _model(config, n_features, None, torch.float32).state_dict()


def predict(
    config: dict, state: dict[str, torch.Tensor], X: np.ndarray, dtype: torch.dtype = torch.float64
) -> np.ndarray:
    """``predict_proba`` of the ``dtype`` model holding ``state``."""
    return predict_proba(_model(config, np.asarray(X).shape[1], state, dtype), X)
