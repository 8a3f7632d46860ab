"""Optimizer set-up for the decoder-only LM trainer.

AdamW with decoupled weight decay applied to the weight matrices and embeddings only.
Biases and normalisation gains go into a second group with ``weight_decay=0``: pulling a
norm gain towards zero just switches features off, and decaying biases buys nothing.
The split must hold for every model the trainer builds (GPT, LLaMA-style, ViT heads), with
whatever module classes and attribute names they use.  Groups carry ``param_names``
(torch's own key) so that checkpoints and logs can name them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OptimizerConfig:
    """Hyper-parameters of the AdamW optimizer."""

    lr: float = 6e-4
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8


def build_param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Split the trainable parameters of ``model`` into a decayed and a non-decayed group.

    The decayed group holds the weight matrices: Linear and convolution weights and
    embeddings, tied or not.  The other group (``weight_decay=0.0``) holds the biases,
    normalisation gains, per-channel scales and 0-dim scalars such as a learnable
    temperature.  Every trainable parameter lands in exactly one group, shared (tied)
    parameters once, under one of the names it is registered under; frozen parameters
    (``requires_grad=False``) are left out.  Returns ``[decayed_group,
    non_decayed_group]`` (either may be empty), ready for ``torch.optim.AdamW``; each
    group's ``param_names`` is parallel to its ``params``.
    """
    no_decay_keys = ("bias", "LayerNorm.weight", "layer_norm.weight")
    groups = {
        True: {"params": [], "param_names": [], "weight_decay": weight_decay},
        False: {"params": [], "param_names": [], "weight_decay": 0.0},
    }
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        decayed = not any(key in name for key in no_decay_keys)
        groups[decayed]["params"].append(param)
        groups[decayed]["param_names"].append(name)
    return [groups[True], groups[False]]


def describe_param_groups(groups: list[dict[str, Any]], max_names: int = 4) -> str:
    """One log line per group: weight decay, tensor and scalar counts, a few names."""
    lines = []
    for i, group in enumerate(groups):
        numel = sum(p.numel() for p in group["params"])
        names = group.get("param_names", [])
        shown = ", ".join(names[:max_names]) + (", ..." if len(names) > max_names else "")
        lines.append(
            f"group {i}: weight_decay={group['weight_decay']:g}, "
            f"{len(group['params'])} tensors, {numel:,} parameters [{shown}]"
        )
    return "\n".join(lines)


def configure_optimizer(model: nn.Module, config: OptimizerConfig) -> torch.optim.AdamW:
    """AdamW over ``model`` with weight decay on the matrices and embeddings only."""
    groups = build_param_groups(model, config.weight_decay)
    logger.info("optimizer parameter groups:\n%s", describe_param_groups(groups))
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, eps=config.eps)
