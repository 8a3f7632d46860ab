"""Language-model loss with label smoothing and the auxiliary z-loss.

The z-loss (PaLM, Chowdhery et al. 2022, section 5) penalises the log of the softmax
normaliser, ``log_z = log(sum_v exp(logits_v))``, so that it stays close to 0; this keeps
bf16 training stable when the logits start to grow::

    loss = ce + z_weight * mean(log_z ** 2)
    ce   = mean((1 - smoothing) * nll + smoothing * mean_v(-log p_v))

with ``log p = logits - log_z`` and ``nll = -log p[target]``, both means over the positions
whose target is not ``ignore_index``.  ``ce`` equals ``F.cross_entropy(logits, targets,
ignore_index=..., label_smoothing=smoothing)``.

The loss matters most exactly when the logits are large (scales of 1e2 to 1e4 in the
spikes we monitor), so every term must stay finite and accurate there, whatever the
dtype; statistics are computed in at least float32.  ``ce`` does not change when a
constant is added to all logits of a position.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

IGNORE_INDEX = -100


@dataclass(frozen=True)
class LossConfig:
    z_weight: float = 1e-4
    label_smoothing: float = 0.0
    ignore_index: int = IGNORE_INDEX


@dataclass
class LossOutput:
    loss: Tensor
    ce: Tensor  # smoothed cross-entropy, mean over counted positions
    z_loss: Tensor  # mean(log_z ** 2) over counted positions, before z_weight
    max_logit: Tensor  # largest logit at a counted position, logged to spot spikes


def log_normalizer(logits: Tensor) -> Tensor:
    """``log(sum(exp(logits)))`` over the last dimension."""
    return torch.log(torch.exp(logits).sum(dim=-1))


class LMLoss(nn.Module):
    """Cross-entropy with label smoothing plus z-loss, for (..., vocab) logits."""

    def __init__(self, config: LossConfig) -> None:
        super().__init__()
        if not 0.0 <= config.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {config.label_smoothing}")
        self.config = config

    def forward(self, logits: Tensor, targets: Tensor) -> LossOutput:
        cfg = self.config
        if logits.shape[:-1] != targets.shape:
            raise ValueError(
                f"logits {tuple(logits.shape)} do not match targets {tuple(targets.shape)}"
            )
        vocab = logits.shape[-1]
        logits = logits.reshape(-1, vocab).to(torch.promote_types(logits.dtype, torch.float32))
        targets = targets.reshape(-1)
        counted = targets != cfg.ignore_index
        count = counted.sum().clamp(min=1)

        log_z = log_normalizer(logits)
        log_probs = logits - log_z[:, None]
        safe_targets = torch.where(counted, targets, torch.zeros_like(targets))
        nll = -log_probs.gather(1, safe_targets[:, None]).squeeze(1)
        smooth = -log_probs.mean(dim=-1)
        per_position = (1.0 - cfg.label_smoothing) * nll + cfg.label_smoothing * smooth

        ce = torch.where(counted, per_position, torch.zeros_like(per_position)).sum() / count
        z_loss = torch.where(counted, log_z.square(), torch.zeros_like(log_z)).sum() / count
        peak = logits.detach().amax(dim=-1)
        max_logit = torch.where(counted, peak, torch.full_like(peak, -torch.inf)).max()
        return LossOutput(ce + cfg.z_weight * z_loss, ce, z_loss, max_logit)
