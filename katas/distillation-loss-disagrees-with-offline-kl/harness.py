"""The calls the tests make into the distillation loss, in the subject process.

``DistillationLoss`` takes a config dataclass and returns a dataclass of tensors, and the
tests need gradients; so each function here builds the loss from a plain config dict, runs
it on the logits sent (copies, with ``requires_grad`` where a gradient is asked for) and
returns tensors.  Nothing here checks anything: every check is in the tests.
"""

from __future__ import annotations

from typing import Any

import torch
from distillation import DistillationConfig, DistillationLoss


def terms(student, teacher, labels, config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """``DistillationLoss(DistillationConfig(**config))(student, teacher, labels)``: the
    ``loss``, ``soft`` and ``hard`` tensors (detached)."""
    out = DistillationLoss(DistillationConfig(**config))(student, teacher, labels)
    return {"loss": out.loss.detach(), "soft": out.soft.detach(), "hard": out.hard.detach()}


def gradients(
    student, teacher, labels, config: dict[str, Any], term: str = "loss"
) -> dict[str, torch.Tensor | None]:
    """The gradient of the output's ``term`` ("loss", "soft" or "hard") w.r.t. the student
    logits, and the teacher logits' ``.grad`` (the teacher copy requires grad too)."""
    student = student.detach().clone().requires_grad_(True)
    teacher = teacher.detach().clone().requires_grad_(True)
    out = DistillationLoss(DistillationConfig(**config))(student, teacher, labels)
    value = getattr(out, term)
    if value.requires_grad:
        value.backward()
    return {"student": student.grad, "teacher": teacher.grad}
