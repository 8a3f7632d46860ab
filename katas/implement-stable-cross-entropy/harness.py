"""The calls the tests make into ``cross_entropy`` that need autograd, in the subject
process.

A gradient is taken with ``backward`` on a graph, which cannot cross the boundary: the
functions here run the loss on a fresh leaf copy of the logits the test sends and return
the loss and the gradient.  Nothing here checks anything: every check, and every reference
computation, is in the tests.  ``log_softmax`` and ``cross_entropy`` take and return
tensors, so the tests call them in the module directly.
"""

from __future__ import annotations

import cross_entropy
from torch import Tensor


def loss_and_grad(
    logits: Tensor,
    targets: Tensor,
    ignore_index: int = cross_entropy.IGNORE_INDEX,
    reduction: str = "mean",
    grad_output: Tensor | None = None,
) -> list:
    """``[loss, d(sum(loss * grad_output))/d logits]`` (``grad_output`` defaults to ones)."""
    leaf = logits.detach().clone().requires_grad_()
    loss = cross_entropy.cross_entropy(leaf, targets, ignore_index, reduction)
    weighted = loss if grad_output is None else loss * grad_output
    weighted.sum().backward()
    return [loss.detach(), leaf.grad]


def log_softmax_grad(logits: Tensor, grad_output: Tensor, dim: int = -1) -> Tensor:
    """``d(sum(log_softmax(logits, dim) * grad_output))/d logits``."""
    leaf = logits.detach().clone().requires_grad_()
    (cross_entropy.log_softmax(leaf, dim) * grad_output).sum().backward()
    return leaf.grad
