"""Repetition penalties applied to next-token logits during generation.

The generation loop calls :func:`apply_penalties` once per step with the logits of the last
position, ``(batch, vocab)``, and the token ids already in each row's context,
``(batch, length)``; negative ids in the context are padding and are ignored.

Two families of penalties are supported; with positive settings (``penalty > 1``) both
only ever make tokens that already occur in the context *less* likely relative to tokens
that do not:

* the CTRL repetition penalty (Keskar et al., 2019, "CTRL: A Conditional Transformer
  Language Model for Controllable Generation"): with ``penalty > 1``, the logit of every
  token that occurs in the context is divided by ``penalty`` if it is positive and
  multiplied by ``penalty`` if it is negative, once per distinct token however often it
  occurs.  ``penalty == 1`` disables it, and ``0 < penalty < 1`` applies the same rule,
  which rewards the tokens seen (as Hugging Face's ``RepetitionPenaltyLogitsProcessor``).
* the additive presence and frequency penalties of the OpenAI API:
  ``logit -= frequency_penalty * count + presence_penalty * (count > 0)``.

Logits of tokens that do not occur in the context are returned unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class PenaltyConfig:
    repetition_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0

    def __post_init__(self) -> None:
        if self.repetition_penalty <= 0.0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")


def token_counts(context: Tensor, vocab_size: int) -> Tensor:
    """(batch, length) token ids -> (batch, vocab_size) int64 occurrence counts.

    Negative ids are padding and are not counted; ids must be below ``vocab_size``.
    """
    if context.numel() and int(context.max()) >= vocab_size:
        raise ValueError(f"context holds id {int(context.max())} >= vocab_size={vocab_size}")
    real = context >= 0
    counts = torch.zeros(context.shape[0], vocab_size, dtype=torch.long, device=context.device)
    return counts.scatter_add_(1, context.clamp(min=0), real.long())


def repetition_penalty(logits: Tensor, context: Tensor, penalty: float) -> Tensor:
    """CTRL penalty: tokens occurring in ``context`` are made less likely by ``penalty``."""
    if penalty == 1.0:
        return logits
    seen = token_counts(context, logits.shape[-1]) > 0
    discounted = logits / penalty
    return torch.where(seen, discounted, logits)


def presence_frequency_penalty(
    logits: Tensor, context: Tensor, presence: float, frequency: float
) -> Tensor:
    """Additive penalties: ``frequency`` per occurrence plus ``presence`` once per seen token."""
    if presence == 0.0 and frequency == 0.0:
        return logits
    counts = token_counts(context, logits.shape[-1]).to(logits.dtype)
    return logits - frequency * counts - presence * (counts > 0).to(logits.dtype)


def apply_penalties(logits: Tensor, context: Tensor, config: PenaltyConfig) -> Tensor:
    """All configured penalties, CTRL first, on ``(batch, vocab)`` logits."""
    if logits.dim() != 2 or context.dim() != 2 or logits.shape[0] != context.shape[0]:
        raise ValueError(
            f"expected (batch, vocab) logits and (batch, length) context, got "
            f"{tuple(logits.shape)} and {tuple(context.shape)}"
        )
    logits = repetition_penalty(logits, context, config.repetition_penalty)
    return presence_frequency_penalty(
        logits, context, config.presence_penalty, config.frequency_penalty
    )
