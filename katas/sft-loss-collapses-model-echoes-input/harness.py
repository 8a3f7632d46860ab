"""The calls the tests make into the LM loss that are not plain function calls.

``lm_loss``'s functions take and return tensors, so the tests call them directly through
the boundary; two things cannot cross as they are, the ``CausalLMLoss`` module and the
gradient of a loss (autograd state stays in the process that ran the backward pass).
Each function here builds or runs that in the subject process and returns tensors.
Nothing here checks anything: every check is in the tests.
"""

from __future__ import annotations

import torch
from lm_loss import CausalLMLoss, causal_lm_loss


def loss_module(
    logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """``CausalLMLoss(reduction=reduction)(logits, labels)``."""
    return CausalLMLoss(reduction=reduction)(logits, labels)


def loss_gradient(
    logits: torch.Tensor, labels: torch.Tensor, num_items_in_batch: int | None = None
) -> torch.Tensor | None:
    """Gradient w.r.t. ``logits`` of ``causal_lm_loss(logits, labels, num_items_in_batch=...)``."""
    logits = logits.detach().clone().requires_grad_(True)
    causal_lm_loss(logits, labels, num_items_in_batch=num_items_in_batch).backward()
    return logits.grad
