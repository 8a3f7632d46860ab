"""Causal language-modelling loss shared by the pre-training and SFT trainers.

A decoder-only model is trained to predict token ``t + 1`` from tokens ``<= t``.  The
collator hands the model ``labels`` equal to ``input_ids``, with ``IGNORE_INDEX`` at
the positions that must not be scored (padding, and the prompt when fine-tuning on
responses only).  Aligning logits with next-token targets happens here and only here,
so models and collators never shift anything themselves.

What the trainers rely on:

- The logits at position ``t`` of a sequence are scored against the label at ``t + 1`` of
  the same sequence.  The last position, and every position whose next label is
  ``IGNORE_INDEX``, contribute nothing, whatever their logits; nothing is ever scored
  against the first label, and no target crosses from one sequence into the next.
- ``num_target_tokens`` counts exactly the positions the loss scores, so the summed loss
  over the micro-batches of a step divided by their total count is the loss of the whole
  batch.
- A sequence without any target (all ignored, or a single token) adds nothing to any
  reduction; ``"mean"`` over a batch with no target at all is NaN, as with
  ``F.cross_entropy``.
- bfloat16/float16 logits are scored in float32; float32 and float64 keep their dtype.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

IGNORE_INDEX = -100

Reduction = Literal["mean", "sum", "none"]


def build_labels(
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    prompt_lengths: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Labels for ``(batch, seq)`` right-padded ``input_ids``.

    Padding (``attention_mask == 0``) and the first ``prompt_lengths[b]`` tokens of each
    sequence are set to ``ignore_index``; every other label is the input token itself.
    """
    labels = input_ids.clone()
    if attention_mask is not None:
        labels = labels.masked_fill(attention_mask == 0, ignore_index)
    if prompt_lengths is not None:
        positions = torch.arange(input_ids.size(-1), device=input_ids.device)
        labels = labels.masked_fill(positions < prompt_lengths[:, None], ignore_index)
    return labels


def next_token_targets(labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Targets aligned with the logits, same shape as ``labels``.

    ``targets[..., t]`` is the token the logits at position ``t`` are scored against.
    The last position has no next token, so its target is ``ignore_index``.
    """
    no_target = labels.new_full((*labels.shape[:-1], 1), ignore_index)
    return torch.cat([labels[..., :-1], no_target], dim=-1)


def num_target_tokens(labels: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> int:
    """How many positions contribute to the loss; sum this over the micro-batches of an
    accumulated step and pass it as ``num_items_in_batch``."""
    return int((next_token_targets(labels, ignore_index) != ignore_index).sum())


def causal_lm_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    ignore_index: int = IGNORE_INDEX,
    reduction: Reduction = "mean",
    num_items_in_batch: int | torch.Tensor | None = None,
) -> torch.Tensor:
    """Next-token cross-entropy for ``(batch, seq, vocab)`` logits and ``(batch, seq)`` labels.

    ``reduction="mean"`` averages over target tokens, ``"sum"`` adds them up and
    ``"none"`` returns the ``(batch, seq)`` per-position losses (zero where there is no
    target).  With ``num_items_in_batch`` the summed loss is divided by that count
    instead, which keeps gradient accumulation equivalent to one large batch.
    """
    if logits.dim() != 3 or labels.shape != logits.shape[:2]:
        raise ValueError(
            f"expected logits (B, T, V) and labels (B, T), got {tuple(logits.shape)} "
            f"and {tuple(labels.shape)}"
        )
    vocab_size = logits.size(-1)
    # Half-precision logits are upcast: the log-sum-exp over a large vocabulary needs it.
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    targets = next_token_targets(labels, ignore_index).to(logits.device)

    per_token = F.cross_entropy(
        logits.reshape(-1, vocab_size),
        targets.reshape(-1),
        ignore_index=ignore_index,
        reduction="none",
    ).view_as(targets)
    if reduction == "none":
        return per_token
    total = per_token.sum()
    if num_items_in_batch is not None:
        return total / num_items_in_batch
    if reduction == "sum":
        return total
    return total / (targets != ignore_index).sum()


class CausalLMLoss(nn.Module):
    """Module wrapper so trainers can swap losses through their config."""

    def __init__(self, ignore_index: int = IGNORE_INDEX, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.reduction = reduction

    def forward(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        num_items_in_batch: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        return causal_lm_loss(
            logits,
            labels,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            num_items_in_batch=num_items_in_batch,
        )
