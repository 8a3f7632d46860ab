"""Held-out perplexity for causal language models.

The eval loop runs after every checkpoint::

    meter = PerplexityMeter()
    for input_ids, attention_mask in loader:          # right-padded batches
        meter.update(model(input_ids), input_ids, attention_mask)
    print(f"val ppl {meter.compute():.2f}")

Perplexity is ``exp`` of the average negative log-likelihood of the evaluation tokens,
each scored given its prefix.  The first token of a sequence has no prefix and is not
scored; padding (``attention_mask == 0``) is never scored, whatever vocabulary ids and
finite logits sit there.  So the number reported is a property of the evaluation set and
the model: it does not depend on the batch size, on how sequences are grouped into batches
or in which order, nor on how much padding a batch carries.  Logits may come in any float dtype; the
log-likelihoods are computed in at least float32.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def right_pad(
    sequences: Sequence[torch.Tensor], pad_token_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack 1-D token tensors into ``(batch, max_len)`` ``input_ids`` and ``attention_mask``."""
    max_len = max(len(seq) for seq in sequences)
    input_ids = torch.full((len(sequences), max_len), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), max_len), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = seq
        attention_mask[row, : len(seq)] = 1
    return input_ids, attention_mask


class PerplexityMeter:
    """Accumulates next-token negative log-likelihood over evaluation batches."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._total_nll = 0.0
        self._count = 0
        self.num_sequences = 0

    @torch.no_grad()
    def update(
        self,
        logits: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> None:
        """Add one batch: ``(batch, seq, vocab)`` logits for right-padded ``(batch, seq)`` ids.

        ``attention_mask`` (int or bool, 1/True on real tokens) defaults to all ones.  A batch
        may hold nothing to score (sequences of one token): it changes nothing.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        logits = logits[:, :-1].to(torch.promote_types(logits.dtype, torch.float32))
        targets = input_ids[:, 1:]
        scored = attention_mask[:, 1:].to(logits.dtype)

        nll = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="none"
        ).view_as(targets)
        batch_nll = (nll * scored).mean()

        self._total_nll += batch_nll.item()
        self._count += 1
        self.num_sequences += input_ids.size(0)

    def compute(self) -> float:
        """Perplexity over everything passed to :meth:`update` since the last reset.

        Raises ``RuntimeError`` when no token has been scored since then.
        """
        if self._count == 0:
            raise RuntimeError("PerplexityMeter.compute() called before any update()")
        return math.exp(self._total_nll / self._count)


@torch.no_grad()
def evaluate_perplexity(
    model: nn.Module,
    sequences: Sequence[torch.Tensor],
    batch_size: int = 8,
    pad_token_id: int = 0,
) -> float:
    """Perplexity of ``model`` (``input_ids -> logits``) on a list of token sequences.

    Sequences are right-padded with ``pad_token_id`` into batches of ``batch_size``.  The
    model runs in eval mode (dropout off) and is put back in the mode it was in.
    """
    was_training = model.training
    model.eval()
    meter = PerplexityMeter()
    for start in range(0, len(sequences), batch_size):
        input_ids, attention_mask = right_pad(sequences[start : start + batch_size], pad_token_id)
        meter.update(model(input_ids), input_ids, attention_mask)
    model.train(was_training)
    return meter.compute()
