"""The calls the tests make into the perplexity code, in the subject process.

A ``PerplexityMeter`` keeps state between calls and ``evaluate_perplexity`` takes a model,
neither of which can cross the boundary.  So each function here runs one whole evaluation
from plain data (the batches a meter is fed, or a bigram model's logit table and the
token sequences) and returns the number it reports.  Nothing here checks anything: every
check is in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from perplexity import PerplexityMeter, evaluate_perplexity
from torch import nn

Batch = tuple[torch.Tensor, ...]  # the arguments of one update(): logits, input_ids[, mask]


def meter_perplexity(batches: Sequence[Batch]) -> float:
    """A new ``PerplexityMeter``, ``update(*batch)`` for each batch, then ``compute()``."""
    meter = PerplexityMeter()
    for batch in batches:
        meter.update(*batch)
    return meter.compute()


def perplexity_after_reset(discarded: Sequence[Batch], batches: Sequence[Batch]) -> float:
    """A meter fed ``discarded``, then ``reset()``, then fed ``batches``: ``compute()``."""
    meter = PerplexityMeter()
    for batch in discarded:
        meter.update(*batch)
    meter.reset()
    for batch in batches:
        meter.update(*batch)
    return meter.compute()


class Bigram(nn.Module):
    """Next-token logits looked up from the current token alone: ``table[input_ids]``,
    through dropout with probability ``dropout`` (active in training mode only)."""

    def __init__(self, table: torch.Tensor, dropout: float = 0.0) -> None:
        super().__init__()
        self.table = nn.Parameter(table.clone())
        self.dropout = nn.Dropout(dropout)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.table[input_ids])


def evaluate_bigram(
    table: torch.Tensor, sequences: list[torch.Tensor], dropout: float = 0.0, **kwargs: Any
) -> dict[str, Any]:
    """``evaluate_perplexity(Bigram(table, dropout), sequences, **kwargs)``, and whether the
    model is in training mode afterwards (it is built in training mode)."""
    torch.manual_seed(0)  # the dropout masks, should dropout be left on
    model = Bigram(table, dropout)
    perplexity = evaluate_perplexity(model, sequences, **kwargs)
    return {"perplexity": perplexity, "training": model.training}
