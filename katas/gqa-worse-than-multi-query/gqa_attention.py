"""Grouped-query self-attention (Ainslie et al., 2023, "GQA: Training Generalized
Multi-Query Transformer Models from Multi-Head Checkpoints").

``n_heads`` query heads share ``n_kv_heads`` key/value heads.  The query heads are split
into ``n_kv_heads`` contiguous groups of ``n_heads // n_kv_heads`` heads, and every query
head of group ``g`` attends with key/value head ``g``: query head ``h`` reads key/value head
``h // (n_heads // n_kv_heads)``.  This is the layout of Llama-2/3 and Mistral checkpoints.
``n_kv_heads == n_heads`` is ordinary multi-head attention and ``n_kv_heads == 1`` is
multi-query attention.

:func:`mean_pool_kv_heads` turns a multi-head checkpoint into a grouped-query one as in the
paper: the key and value projections of the heads in each group are averaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class GQAConfig:
    """Shape of a grouped-query attention layer; ``n_kv_heads`` must divide ``n_heads``."""

    d_model: int = 64
    n_heads: int = 8
    n_kv_heads: int = 2
    dropout: float = 0.0
    bias: bool = False

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.n_kv_heads < 1 or self.n_heads % self.n_kv_heads != 0:
            raise ValueError(
                f"n_kv_heads={self.n_kv_heads} must be >= 1 and divide n_heads={self.n_heads}"
            )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def n_rep(self) -> int:
        """Query heads per key/value head."""
        return self.n_heads // self.n_kv_heads


def repeat_kv(x: Tensor, n_rep: int) -> Tensor:
    """Share each key/value head with the ``n_rep`` query heads of its group.

    (B, n_kv_heads, T, head_dim) -> (B, n_kv_heads * n_rep, T, head_dim), where output head
    ``h`` is input head ``h // n_rep``.
    """
    if n_rep == 1:
        return x
    batch, n_kv_heads, seq_len, head_dim = x.shape
    x = x[:, None].expand(batch, n_rep, n_kv_heads, seq_len, head_dim)
    return x.reshape(batch, n_kv_heads * n_rep, seq_len, head_dim)


class GroupedQueryAttention(nn.Module):
    """Causal grouped-query self-attention.

    Parameters: ``q_proj`` (n_heads * head_dim, d_model), ``k_proj`` and ``v_proj``
    (n_kv_heads * head_dim, d_model), ``o_proj`` (d_model, n_heads * head_dim); rows of the
    projections are ordered head by head.  Dropout acts on the attention weights in
    training mode only: in eval mode the layer is deterministic.
    """

    def __init__(self, cfg: GQAConfig) -> None:
        super().__init__()
        self.cfg = cfg
        inner, kv_inner = cfg.n_heads * cfg.head_dim, cfg.n_kv_heads * cfg.head_dim
        self.q_proj = nn.Linear(cfg.d_model, inner, bias=cfg.bias)
        self.k_proj = nn.Linear(cfg.d_model, kv_inner, bias=cfg.bias)
        self.v_proj = nn.Linear(cfg.d_model, kv_inner, bias=cfg.bias)
        self.o_proj = nn.Linear(inner, cfg.d_model, bias=cfg.bias)
        self.attn_dropout = nn.Dropout(cfg.dropout)

    def _split_heads(self, x: Tensor, n_heads: int) -> Tensor:
        """(B, T, n_heads * head_dim) -> (B, n_heads, T, head_dim)."""
        batch, seq_len, _ = x.shape
        return x.view(batch, seq_len, n_heads, self.cfg.head_dim).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, d_model) -> (B, T, d_model); position t attends to positions 0..t."""
        cfg = self.cfg
        batch, seq_len, _ = x.shape
        q = self._split_heads(self.q_proj(x), cfg.n_heads)
        k = repeat_kv(self._split_heads(self.k_proj(x), cfg.n_kv_heads), cfg.n_rep)
        v = repeat_kv(self._split_heads(self.v_proj(x), cfg.n_kv_heads), cfg.n_rep)

        scores = (q @ k.transpose(-2, -1)) / math.sqrt(cfg.head_dim)
        causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=x.device).tril()
        weights = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        out = self.attn_dropout(weights) @ v
        out = out.transpose(1, 2).reshape(batch, seq_len, cfg.n_heads * cfg.head_dim)
        return self.o_proj(out)


def mean_pool_kv_heads(state_dict: dict[str, Tensor], cfg: GQAConfig) -> dict[str, Tensor]:
    """Convert the state dict of a multi-head layer into one for ``cfg``.

    The source has ``cfg.n_heads`` key/value heads.  Key/value head ``g`` of the result is
    the mean of source heads ``g * n_rep .. (g + 1) * n_rep - 1`` (weight rows and bias
    entries); the query and output projections are copied unchanged.
    """
    pooled = dict(state_dict)
    for name in ("k_proj", "v_proj"):
        weight = state_dict[f"{name}.weight"]
        if weight.shape[0] != cfg.n_heads * cfg.head_dim:
            rows = weight.shape[0]
            raise ValueError(f"{name}.weight has {rows} rows, expected a multi-head layer")
        grouped = weight.view(cfg.n_kv_heads, cfg.n_rep, cfg.head_dim, weight.shape[1])
        pooled[f"{name}.weight"] = grouped.mean(dim=1).reshape(-1, weight.shape[1])
        if f"{name}.bias" in state_dict:
            bias = state_dict[f"{name}.bias"].view(cfg.n_kv_heads, cfg.n_rep, cfg.head_dim)
            pooled[f"{name}.bias"] = bias.mean(dim=1).reshape(-1)
    return pooled
