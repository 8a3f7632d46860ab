"""Multi-head causal self-attention for a small decoder-only language model.

The block is written out by hand (rather than calling ``F.scaled_dot_product_attention``)
so that the attention weights can be returned for inspection and probing.

What callers rely on (the decoder, the sampler, the probing scripts):

- ``CausalSelfAttention`` maps ``(B, T, d_model)`` to ``(B, T, d_model)`` in the dtype of
  its input and parameters (float64, float32, bfloat16), for any ``T >= 1``.
- The output at position ``t`` is a function of the tokens at positions ``0..t`` only, in
  train and in eval mode alike; batch elements never interact.
- In eval mode (or with ``dropout=0``) the layer computes exactly
  ``F.scaled_dot_product_attention(q, k, v, is_causal=True)`` on its own ``q, k, v``
  projections, followed by ``out_proj``, for any size of the scores.
- In train mode with ``dropout > 0``, dropout acts on the attention weights and on the
  output; eval mode switches both off.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def causal_mask(seq_len: int, device: torch.device | None = None) -> Tensor:
    """Boolean ``(seq_len, seq_len)`` mask, True where query ``i`` may attend to key ``j``."""
    ones = torch.ones(seq_len, seq_len, dtype=torch.bool, device=device)
    return ones.tril(diagonal=1)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which each position only sees itself and earlier positions.

    Args:
        d_model: width of the residual stream.
        n_heads: number of attention heads; must divide ``d_model``.
        dropout: dropout probability applied to the attention weights and to the output.
        bias: whether the input and output projections carry a bias.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.d_model = d_model
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)

    def _split_heads(self, x: Tensor) -> Tensor:
        """(B, T, d_model) -> (B, n_heads, T, head_dim)."""
        batch, seq_len, _ = x.shape
        return x.view(batch, seq_len, self.n_heads, self.head_dim).transpose(1, 2)

    def _merge_heads(self, x: Tensor) -> Tensor:
        """(B, n_heads, T, head_dim) -> (B, T, d_model)."""
        batch, _, seq_len, _ = x.shape
        return x.transpose(1, 2).reshape(batch, seq_len, self.d_model)

    def forward(self, x: Tensor, return_weights: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """Attend over ``x`` of shape (B, T, d_model).

        Returns the output (B, T, d_model) and, if ``return_weights``, the attention
        weights (B, n_heads, T, T) that were applied to the values, after dropout: query
        ``i`` puts weight exactly 0 on every key ``j > i``, and in eval mode each row is a
        probability distribution over the keys ``0..i``.
        """
        q, k, v = self.qkv(x).split(self.d_model, dim=-1)
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)

        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        allowed = causal_mask(x.shape[1], device=x.device)
        scores = scores.masked_fill(~allowed, float("-inf"))
        weights = self.attn_dropout(scores.softmax(dim=-1))

        out = self.resid_dropout(self.out_proj(self._merge_heads(weights @ v)))
        if return_weights:
            return out, weights
        return out


class DecoderBlock(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(
        self, d_model: int, n_heads: int, mlp_ratio: int = 4, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads, dropout=dropout)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, mlp_ratio * d_model),
            nn.GELU(),
            nn.Linear(mlp_ratio * d_model, d_model),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))
