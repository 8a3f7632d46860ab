"""Rotary position embedding (Su et al., 2021, "RoFormer") and causal self-attention using it.

Layout: the head dimension is split into ``head_dim // 2`` pairs of *adjacent* dimensions
``(2i, 2i + 1)``, as in RoFormer, GPT-J and the original Llama code.  At position ``p``,
pair ``i`` is rotated counter-clockwise by the angle ``p * theta_i`` with
``theta_i = base ** (-2i / head_dim)``:

    (a, b) -> (a cos(p theta_i) - b sin(p theta_i),  a sin(p theta_i) + b cos(p theta_i))

A rotation preserves norms, and the score between a query at position ``m`` and a key at
position ``n`` depends on ``m - n`` only, so attention sees relative positions.  Everything
is computed in the dtype of the input (the angles in float64, then cast), so a float64 input
gets a float64-accurate result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn


class RotaryEmbedding(nn.Module):
    """Cache of ``cos(p theta)`` and ``sin(p theta)`` per position, grown on demand.

    ``cos_cached[p, 2i] == cos_cached[p, 2i + 1] == cos(p * theta_i)`` (the same for sin),
    so the cache lines up elementwise with a head vector laid out in adjacent pairs.
    """

    def __init__(self, head_dim: int, base: float = 10000.0, max_seq_len: int = 128) -> None:
        super().__init__()
        if head_dim % 2 != 0:
            raise ValueError(f"head_dim must be even, got {head_dim}")
        exponents = torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim
        self.register_buffer("inv_freq", base**-exponents, persistent=False)
        self._build_cache(max_seq_len)

    def _build_cache(self, seq_len: int) -> None:
        positions = torch.arange(seq_len, dtype=torch.float64, device=self.inv_freq.device)
        angles = torch.outer(positions, self.inv_freq).repeat_interleave(2, dim=-1)
        self.register_buffer("cos_cached", angles.cos(), persistent=False)
        self.register_buffer("sin_cached", angles.sin(), persistent=False)

    def forward(self, positions: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """cos and sin of shape ``positions.shape + (head_dim,)`` for integer ``positions``."""
        if positions.numel() and int(positions.max()) >= self.cos_cached.shape[0]:
            self._build_cache(2 ** math.ceil(math.log2(int(positions.max()) + 1)))
        return self.cos_cached[positions].to(dtype), self.sin_cached[positions].to(dtype)


def rotate_pairs(x: Tensor) -> Tensor:
    """Quarter turn of every pair of ``x`` (..., head_dim): ``(a, b) -> (-b, a)``."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate ``x`` (..., T, head_dim) with ``cos``/``sin`` broadcastable to it."""
    return x * cos + rotate_pairs(x) * sin


@dataclass(frozen=True)
class AttentionConfig:
    d_model: int = 64
    n_heads: int = 4
    rope_base: float = 10000.0
    max_seq_len: int = 128


class RotarySelfAttention(nn.Module):
    """Causal multi-head self-attention with rotary embeddings on queries and keys."""

    def __init__(self, cfg: AttentionConfig) -> None:
        super().__init__()
        if cfg.d_model % cfg.n_heads != 0:
            raise ValueError(f"d_model={cfg.d_model} is not divisible by n_heads={cfg.n_heads}")
        self.n_heads, self.head_dim = cfg.n_heads, cfg.d_model // cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        self.rotary = RotaryEmbedding(self.head_dim, cfg.rope_base, cfg.max_seq_len)

    def forward(self, x: Tensor, positions: Tensor | None = None) -> Tensor:
        """(B, T, d_model) -> (B, T, d_model).

        ``positions`` (B, T) or (T,) are the tokens' integer positions, ``0..T-1`` by default;
        packed and continued sequences pass their own.  Token t attends to tokens 0..t of
        its row.  Because the embedding is relative, adding the same constant to every
        position leaves the output unchanged.
        """
        batch, seq_len, d_model = x.shape
        if positions is None:
            positions = torch.arange(seq_len, device=x.device)
        q, k, v = (
            t.view(batch, seq_len, self.n_heads, self.head_dim).transpose(1, 2)
            for t in self.qkv(x).split(d_model, dim=-1)
        )
        cos, sin = self.rotary(positions, x.dtype)
        if cos.dim() == 3:  # per-row positions: broadcast over heads
            cos, sin = cos[:, None], sin[:, None]
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)

        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=x.device).tril()
        weights = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(batch, seq_len, d_model)
        return self.proj(out)
