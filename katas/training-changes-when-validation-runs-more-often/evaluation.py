"""Evaluation helpers for the classifier fine-tuning loop.

The loop sets the modes once: ``model.train()`` for the head, then ``freeze_(model.backbone)``
keeps the pre-trained backbone fixed (no gradients, BatchNorm using and keeping its
pre-training statistics, no dropout).  Nothing in the loop calls ``train()`` again, so the
helpers here must leave the modes exactly as they found them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Batch = tuple[Tensor, Tensor]  # (inputs, integer class labels)


@dataclass
class EvalResult:
    loss: float  # mean loss per example over the whole dataset
    accuracy: float  # fraction of examples whose arg-max logit is the label
    num_examples: int


def freeze_(module: nn.Module) -> nn.Module:
    """Fix ``module`` in place: no gradients, inference behaviour (BatchNorm running
    statistics, no dropout).  Returns the module."""
    for param in module.parameters():
        param.requires_grad_(False)
    return module.eval()


@contextmanager
def inference(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` in eval mode without autograd; on exit every submodule is back in the
    mode it was in on entry (a frozen part stays in eval mode, the rest trains again)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def evaluate(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
) -> EvalResult:
    """Loss and accuracy of ``model`` in eval mode over ``batches`` (any batch sizes).

    Deterministic (no dropout, BatchNorm uses its running statistics, which it does not
    update); leaves the modes of ``model`` and of all its submodules as it found them.
    ``loss_fn`` must return the mean loss of a batch.
    """
    total_loss, correct, count = 0.0, 0, 0
    with inference(model):
        for inputs, labels in batches:
            logits = model(inputs)
            total_loss += float(loss_fn(logits, labels)) * len(labels)
            correct += int((logits.argmax(dim=-1) == labels).sum())
            count += len(labels)
    if count == 0:
        raise ValueError("evaluate needs at least one example")
    return EvalResult(loss=total_loss / count, accuracy=correct / count, num_examples=count)


def predict_proba(model: nn.Module, inputs: Tensor, batch_size: int = 256) -> Tensor:
    """Class probabilities of ``model`` in eval mode for ``inputs``, in chunks of
    ``batch_size``; leaves the modes as ``evaluate`` does."""
    with inference(model):
        chunks = [model(chunk).softmax(dim=-1) for chunk in inputs.split(batch_size)]
    return torch.cat(chunks)
