"""The payment-risk scorer: a small MLP on standardised features, and its training loop.

``RiskMLP`` maps a (batch, n_features) float tensor to (batch,) logits of a missed payment;
``hidden=0`` makes it a logistic regression.  :func:`fit` trains it with AdamW on the
weighted binary cross-entropy

    loss = sum_i w_i * BCE(logit_i, y_i) / sum_i w_i

over mini-batches: every epoch visits every row exactly once, in a fresh random order drawn
from a generator seeded with ``config.seed``, so a run is reproducible.  Sample weights
(e.g. to down-weight old months) default to 1.  Tensors follow the model's dtype.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class TrainConfig:
    hidden: int = 64  # width of the hidden layer; 0 for a logistic regression
    epochs: int = 40
    batch_size: int = 64
    lr: float = 1e-2
    weight_decay: float = 1e-4
    seed: int = 0


class RiskMLP(nn.Module):
    """Linear -> ReLU -> Linear (or a single Linear when ``hidden == 0``) to one logit."""

    def __init__(self, n_features: int, hidden: int = 64) -> None:
        super().__init__()
        if hidden == 0:
            self.net: nn.Module = nn.Linear(n_features, 1)
        else:
            self.net = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(-1)


def build_model(n_features: int, config: TrainConfig) -> RiskMLP:
    """A fresh model whose initial weights depend on ``config.seed`` only."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return RiskMLP(n_features, config.hidden)


def shuffled(*tensors: Tensor, generator: torch.Generator) -> tuple[Tensor, ...]:
    """The tensors (same length) with their rows put in one random order."""
    return tuple(t[torch.randperm(len(t), generator=generator)] for t in tensors)


def minibatches(
    features: Tensor, labels: Tensor, weights: Tensor, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """One epoch: ``(features, labels, weights)`` batches of ``batch_size`` rows (the last
    may be smaller) covering every row once, in a random order drawn from ``generator``."""
    features, labels, weights = shuffled(features, labels, weights, generator=generator)
    yield from zip(
        features.split(batch_size), labels.split(batch_size), weights.split(batch_size), strict=True
    )


def _as_tensors(
    model: nn.Module, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None
) -> tuple[Tensor, Tensor, Tensor]:
    dtype = next(model.parameters()).dtype
    features = torch.as_tensor(np.asarray(X), dtype=dtype)
    labels = torch.as_tensor(np.asarray(y), dtype=dtype)
    if sample_weight is None:
        weights = torch.ones_like(labels)
    else:
        weights = torch.as_tensor(np.asarray(sample_weight), dtype=dtype)
    if not features.shape[0] == labels.shape[0] == weights.shape[0]:
        raise ValueError("X, y and sample_weight must have the same number of rows")
    return features, labels, weights


def weighted_bce(logits: Tensor, labels: Tensor, weights: Tensor) -> Tensor:
    """sum_i w_i * BCE(logit_i, y_i) / sum_i w_i."""
    losses = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    return (weights * losses).sum() / weights.sum()


def fit(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    sample_weight: np.ndarray | None = None,
) -> list[float]:
    """Train ``model`` in place; returns the training loss of each epoch, the weighted mean
    of the batch losses (each weighted by its total sample weight)."""
    features, labels, weights = _as_tensors(model, X, y, sample_weight)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    model.train()
    history = []
    for _ in range(config.epochs):
        total, seen = 0.0, 0.0
        for xb, yb, wb in minibatches(features, labels, weights, config.batch_size, generator):
            loss = weighted_bce(model(xb), yb, wb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * wb.sum().item()
            seen += wb.sum().item()
        history.append(total / seen)
    return history


@torch.no_grad()
def predict_proba(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Probability of a missed payment for each row of ``X``: float64 array (n_rows,)."""
    model.eval()
    dtype = next(model.parameters()).dtype
    logits = model(torch.as_tensor(np.asarray(X), dtype=dtype))
    return torch.sigmoid(logits.double()).numpy()
