"""Normalisation layers for the small decoder stack.

We keep our own implementations instead of ``nn.LayerNorm`` / ``nn.RMSNorm`` so that the
same code runs in training, in the exported inference graph and in the activation-drift
monitor, which needs the per-row statistics the layer computes.  Statistics are always
computed in at least float32, whatever the activation dtype.

What the model code relies on:

- ``LayerNorm(dim, eps, elementwise_affine, bias)`` computes what ``nn.LayerNorm`` with the
  same arguments and parameters computes, gradients included, for every width
  ``dim >= 1`` and for rows of any scale and offset (a constant row comes out as ``bias``).
- ``RMSNorm(dim, eps)`` computes what ``nn.RMSNorm(dim, eps=eps)`` computes.
- Outputs have the shape and dtype of the input (float64, float32, bfloat16).
- ``LayerNorm.row_stats`` returns the per-row mean and variance that ``forward``
  normalises with, each of shape ``(..., 1)``, in the statistics dtype.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _stats_dtype(dtype: torch.dtype) -> torch.dtype:
    """Dtype used for the normalisation statistics (bf16/fp16 are promoted to fp32)."""
    return torch.promote_types(dtype, torch.float32)


class LayerNorm(nn.Module):
    """Layer normalisation over the last dimension, with an optional affine transform.

    ``y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias``, statistics taken per row.
    """

    def __init__(
        self,
        dim: int,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(dim))
            self.bias = nn.Parameter(torch.zeros(dim)) if bias else None
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def row_stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Per-row mean and variance over the last dimension (keepdim).

        These are the statistics ``forward`` normalises with; the drift monitor logs them.
        """
        var, mean = torch.var_mean(x.to(_stats_dtype(x.dtype)), dim=-1, keepdim=True)
        return mean, var

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.dim:
            raise ValueError(f"expected last dimension {self.dim}, got {tuple(x.shape)}")
        mean, var = self.row_stats(x)
        x_hat = (x.to(mean.dtype) - mean) * torch.rsqrt(var + self.eps)
        x_hat = x_hat.to(x.dtype)
        if self.weight is not None:
            x_hat = x_hat * self.weight
        if self.bias is not None:
            x_hat = x_hat + self.bias
        return x_hat

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}, affine={self.weight is not None}"


class RMSNorm(nn.Module):
    """Root-mean-square normalisation over the last dimension (no centring, no bias)."""

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.dim:
            raise ValueError(f"expected last dimension {self.dim}, got {tuple(x.shape)}")
        x32 = x.to(_stats_dtype(x.dtype))
        mean_sq = x32.pow(2).mean(dim=-1, keepdim=True)
        return (x32 * torch.rsqrt(mean_sq + self.eps)).to(x.dtype) * self.weight

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"


def build_norm(kind: str, dim: int, eps: float | None = None) -> nn.Module:
    """Norm layer by config name: ``"layernorm"`` or ``"rmsnorm"``."""
    if kind == "layernorm":
        return LayerNorm(dim) if eps is None else LayerNorm(dim, eps=eps)
    if kind == "rmsnorm":
        return RMSNorm(dim) if eps is None else RMSNorm(dim, eps=eps)
    raise ValueError(f"unknown norm kind {kind!r}; expected 'layernorm' or 'rmsnorm'")
