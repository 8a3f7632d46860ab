"""Token-level knowledge distillation loss for the small-LM student.

Follows Hinton et al., "Distilling the Knowledge in a Neural Network" (2015): the student
matches the teacher's temperature-softened next-token distribution, mixed with ordinary
cross-entropy on the hard labels::

    loss = alpha * T**2 * KL(p_teacher || p_student) + (1 - alpha) * CE(student, labels)

with ``p_x = softmax(logits_x / T)`` over the vocabulary.  ``KL(p || q)`` is the forward
KL, ``sum_v p_v * (log p_v - log q_v)``: the student is pushed to put mass wherever the
teacher does.  The ``T**2`` factor keeps the soft term's gradient on the same scale as the
hard term's whatever the temperature: its gradient w.r.t. the student logits is
``alpha * T * (p_student - p_teacher)`` per token before averaging.

Both terms are averaged over the positions whose label is not ``ignore_index`` (padding,
prompt tokens); the logits at ignored positions do not affect the loss.  With no labelled
position at all every term is zero (and so is the gradient).  The teacher's logits are
constants: no gradient flows into them.  Statistics are computed in at least float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class DistillationConfig:
    temperature: float = 2.0
    alpha: float = 0.5  # weight of the soft (teacher) term
    ignore_index: int = -100


@dataclass
class DistillationOutput:
    loss: Tensor  # the objective to backpropagate
    soft: Tensor  # T**2 * KL(teacher || student), mean over labelled positions
    hard: Tensor  # cross-entropy on the labels, mean over labelled positions


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


class DistillationLoss(nn.Module):
    """Soft-target distillation plus hard-label cross-entropy, for (..., vocab) logits."""

    def __init__(self, config: DistillationConfig) -> None:
        super().__init__()
        if config.temperature <= 0.0:
            raise ValueError(f"temperature must be positive, got {config.temperature}")
        if not 0.0 <= config.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {config.alpha}")
        self.config = config

    def soft_targets(self, teacher_logits: Tensor) -> Tensor:
        """Log-probabilities of the teacher at the distillation temperature (no grad)."""
        dtype = _compute_dtype(teacher_logits.dtype)
        scaled = teacher_logits.detach().to(dtype) / self.config.temperature
        return F.log_softmax(scaled, dim=-1)

    def forward(
        self, student_logits: Tensor, teacher_logits: Tensor, labels: Tensor
    ) -> DistillationOutput:
        """``student_logits`` and ``teacher_logits`` of shape (..., vocab); ``labels`` (...)."""
        if student_logits.shape != teacher_logits.shape:
            raise ValueError(
                f"student {tuple(student_logits.shape)} and teacher "
                f"{tuple(teacher_logits.shape)} logits differ in shape"
            )
        cfg = self.config
        vocab = student_logits.shape[-1]
        student = student_logits.reshape(-1, vocab).to(_compute_dtype(student_logits.dtype))
        teacher_log_probs = self.soft_targets(teacher_logits.reshape(-1, vocab))
        labels = labels.reshape(-1)
        labelled = labels != cfg.ignore_index
        count = labelled.sum().clamp(min=1)

        student_log_probs = F.log_softmax(student / cfg.temperature, dim=-1)
        kl = F.kl_div(teacher_log_probs, student_log_probs, reduction="none", log_target=True)
        soft = cfg.temperature**2 * kl.sum(dim=-1).masked_fill(~labelled, 0.0).sum() / count

        hard = F.cross_entropy(student, labels, ignore_index=cfg.ignore_index, reduction="sum")
        hard = hard / count
        loss = cfg.alpha * soft + (1.0 - cfg.alpha) * hard
        return DistillationOutput(loss=loss, soft=soft, hard=hard)
