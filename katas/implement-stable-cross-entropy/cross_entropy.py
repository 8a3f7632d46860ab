"""Log-softmax and cross-entropy for the language-model trainer, written out so that the
loss can later be fused with the output projection.

Contract (what the trainer and the eval scripts rely on):

* :func:`log_softmax` is finite for every finite input, including logits of 1e4 in
  float32, and invariant to adding a constant along ``dim``; it keeps shape and dtype;
* :func:`cross_entropy` takes ``logits`` ``(..., num_classes)`` (classes on the *last*
  dimension, unlike ``F.cross_entropy``) and int64 ``targets`` of shape ``(...)``; the loss
  of a position is ``-log_softmax(logits)[target]``;
* positions whose target equals ``ignore_index`` contribute nothing: ``"mean"`` is the sum
  of the losses over the other positions divided by their number, ``"sum"`` their sum, and
  ``"none"`` returns every position's loss with 0 at the ignored ones;
* when every target is ignored (a micro-batch made only of padding) ``"mean"`` and
  ``"sum"`` are 0.0, and the gradient is zero: never NaN;
* a target that is neither ``ignore_index`` nor in ``[0, num_classes)`` raises ValueError;
* results have the dtype of ``logits`` and are differentiable with autograd.

With these conventions ``"mean"`` agrees with ``F.cross_entropy(logits.reshape(-1, C),
targets.reshape(-1), ignore_index=...)`` wherever the latter is not NaN.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

IGNORE_INDEX = -100
REDUCTIONS = ("mean", "sum", "none")


def log_softmax(logits: Tensor, dim: int = -1) -> Tensor:
    """``log(softmax(logits, dim))``, computed stably (see the module docstring)."""
    raise NotImplementedError


def cross_entropy(
    logits: Tensor,
    targets: Tensor,
    ignore_index: int = IGNORE_INDEX,
    reduction: str = "mean",
) -> Tensor:
    """Cross-entropy of ``(..., num_classes)`` logits against ``(...)`` targets, with
    ``ignore_index`` and ``reduction`` as in the module docstring."""
    raise NotImplementedError


def shift_for_next_token(
    logits: Tensor, input_ids: Tensor, pad_id: int | None = None
) -> tuple[Tensor, Tensor]:
    """Align ``(batch, seq, vocab)`` logits with next-token targets: position ``t`` predicts
    token ``t + 1``.  Targets that are padding become ``IGNORE_INDEX``."""
    if logits.shape[:2] != input_ids.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} do not match input_ids {tuple(input_ids.shape)}"
        )
    targets = input_ids[:, 1:]
    if pad_id is not None:
        targets = torch.where(targets == pad_id, IGNORE_INDEX, targets)
    return logits[:, :-1], targets


def lm_loss(
    logits: Tensor, input_ids: Tensor, pad_id: int | None = None, reduction: str = "mean"
) -> Tensor:
    """Next-token cross-entropy of a causal language model, padding ignored."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    shifted, targets = shift_for_next_token(logits, input_ids, pad_id)
    return cross_entropy(shifted, targets, reduction=reduction)


def perplexity(mean_loss: float) -> float:
    """``exp`` of a mean per-token loss in nats (inf once it would overflow)."""
    return math.exp(mean_loss) if mean_loss < 700 else math.inf


def token_accuracy(logits: Tensor, targets: Tensor, ignore_index: int = IGNORE_INDEX) -> float:
    """Share of non-ignored positions whose most likely class is the target (0.0 if none)."""
    keep = targets != ignore_index
    if not keep.any():
        return 0.0
    correct = (logits.argmax(dim=-1) == targets) & keep
    return float(correct.sum()) / float(keep.sum())
