"""Gradient accumulation for token-level objectives (causal LM, sequence tagging).

A global batch that does not fit in memory is split into micro-batches along the batch
dimension; their gradients are accumulated in ``.grad`` and the optimizer steps once per
global batch.  Labels equal to ``ignore_index`` (padding, prompt tokens) carry no loss; a
sequence can be entirely masked when its prompt fills the context window.  The objective
is the cross-entropy averaged over the real tokens of the global batch, so accumulating
over micro-batches should be equivalent to one step on the whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IGNORE_INDEX = -100


@dataclass
class TokenBatch:
    """``input_ids`` and ``labels`` of shape (batch, seq_len); labels are already aligned."""

    input_ids: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def split(self, micro_batch_size: int) -> list[TokenBatch]:
        """Consecutive micro-batches of at most ``micro_batch_size`` sequences."""
        return [
            TokenBatch(ids, labels)
            for ids, labels in zip(
                self.input_ids.split(micro_batch_size),
                self.labels.split(micro_batch_size),
                strict=True,
            )
        ]


@dataclass
class StepResult:
    loss: float  # mean loss per real token over the global batch
    num_tokens: int  # real (not ignored) tokens in the global batch
    grad_norm: float | None = None  # total gradient norm before clipping, if clipping


class AccumulatingTrainer:
    """Optimizer steps on global batches, processed ``micro_batch_size`` sequences at a time."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        micro_batch_size: int,
        *,
        max_grad_norm: float | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        if micro_batch_size < 1:
            raise ValueError(f"micro_batch_size must be >= 1, got {micro_batch_size}")
        self.model = model
        self.optimizer = optimizer
        self.micro_batch_size = micro_batch_size
        self.max_grad_norm = max_grad_norm
        self.ignore_index = ignore_index

    def token_loss(self, batch: TokenBatch, reduction: str = "mean") -> Tensor:
        """Cross-entropy of the model on ``batch``, over the tokens that are not ignored."""
        logits = self.model(batch.input_ids)
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            batch.labels.reshape(-1),
            ignore_index=self.ignore_index,
            reduction=reduction,
        )

    def accumulate_gradients(self, batch: TokenBatch) -> tuple[float, int]:
        """Add the gradient of the batch loss to ``.grad``, one micro-batch at a time.

        The batch loss is the cross-entropy averaged over the real (not ignored) tokens of
        the whole ``batch``: the gradient added, and the loss returned, are those of one
        forward/backward pass over ``batch`` and do not depend on ``micro_batch_size``.
        Sequences, or whole micro-batches, with no real token contribute nothing; the batch
        as a whole must hold at least one real token.  ``.grad`` is added to, not reset.

        Returns the batch loss (a float) and the number of real tokens in ``batch``.
        """
        micro_batches = batch.split(self.micro_batch_size)
        total_loss, num_tokens = 0.0, 0
        for micro in micro_batches:
            loss = self.token_loss(micro) / len(micro_batches)
            loss.backward()
            total_loss += loss.item()
            num_tokens += int((micro.labels != self.ignore_index).sum())
        return total_loss, num_tokens

    def step(self, batch: TokenBatch) -> StepResult:
        """One optimizer step on ``batch``: zero grads, accumulate, clip, update.

        ``grad_norm`` is the total norm of the accumulated gradient before clipping (only
        when ``max_grad_norm`` is set); gradients never carry over from a previous step.
        """
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss, num_tokens = self.accumulate_gradients(batch)
        grad_norm = None
        if self.max_grad_norm is not None:
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
            grad_norm = float(norm)
        self.optimizer.step()
        return StepResult(loss=loss, num_tokens=num_tokens, grad_norm=grad_norm)

    @torch.no_grad()
    def evaluate(self, batch: TokenBatch) -> float:
        """Mean loss per real token of ``batch`` (one forward pass, no gradients)."""
        self.model.eval()
        return float(self.token_loss(batch))
