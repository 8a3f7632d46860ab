"""The call the tests make into the loss, in the subject process: builds ``LMLoss`` from a
plain config dict and returns its three terms (and, if asked, the gradient of the loss
w.r.t. the logits).  Nothing here checks anything: every check is in the tests.
"""

from __future__ import annotations

from typing import Any

from z_loss import LMLoss, LossConfig


def terms(logits, targets, config: dict[str, Any], grad: bool = False) -> dict[str, Any]:
    """``LMLoss(LossConfig(**config))(logits, targets)``: ``loss``, ``ce``, ``z_loss``
    (detached) and, with ``grad``, ``d loss / d logits``."""
    logits = logits.detach().clone().requires_grad_(grad)
    out = LMLoss(LossConfig(**config))(logits, targets)
    if grad:
        out.loss.backward()
    result = {"loss": out.loss.detach(), "ce": out.ce.detach(), "z_loss": out.z_loss.detach()}
    result["grad"] = logits.grad if grad else None
    return result
