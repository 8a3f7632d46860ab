"""Multi-head self-attention over a right-padded batch of variable-length sequences.

Used by the utterance encoder: a collated batch is padded to its longest sequence and
the padding is hidden from attention with a boolean key padding mask, following the
``nn.MultiheadAttention`` convention (``True`` marks a padded position).

What the encoder relies on:

- The output at a real (unpadded) position depends only on the real tokens of its own
  sequence: not on how much padding follows, on what the padded positions hold, or on the
  other sequences in the batch.  Any mask pattern is allowed (right or left padding, holes).
- At every real position the layer equals ``nn.MultiheadAttention(batch_first=True)``
  holding the same weights, given the same ``key_padding_mask`` (and with no mask, or a
  mask with no ``True``, the unmasked attention everywhere).
- A sequence that is all padding has no key to attend to: its outputs carry no meaning
  but are finite, so a masked mean over the batch never turns NaN.
- Outputs have the dtype of the input (float64, float32, bfloat16); dropout acts on the
  attention weights in train mode only.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def padding_mask_from_lengths(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """(B,) sequence lengths -> (B, max_len) boolean mask, True at padded positions."""
    if max_len is None:
        max_len = int(lengths.max())
    positions = torch.arange(max_len, device=lengths.device)
    return positions[None, :] >= lengths[:, None]


def additive_padding_bias(key_padding_mask: Tensor, dtype: torch.dtype) -> Tensor:
    """Turn a (B, S) boolean key padding mask into an additive (B, 1, 1, S) score bias.

    Padded keys get the most negative finite value of ``dtype`` rather than ``-inf``, so a
    row with no visible key comes out finite (uniform weights) instead of NaN.
    """
    bias = 1.0 - key_padding_mask[:, None, None, :].to(dtype)
    return bias.masked_fill(bias.to(torch.bool), torch.finfo(dtype).min)


class PaddedSelfAttention(nn.Module):
    """Multi-head self-attention that ignores padded keys.

    Args:
        embed_dim: model width.
        num_heads: number of heads; must divide ``embed_dim``.
        dropout: dropout probability on the attention weights.
        bias: whether the projections carry a bias.
    """

    def __init__(
        self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True
    ) -> None:
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def _heads(self, x: Tensor) -> Tensor:
        """(B, S, E) -> (B, H, S, head_dim)."""
        batch, seq_len, _ = x.shape
        return x.view(batch, seq_len, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        """Self-attention over ``x`` (B, S, E).

        Args:
            x: padded batch, (B, S, E).
            key_padding_mask: optional (B, S) bool tensor, True where ``x`` is padding.
                Padded positions are never attended to; their own outputs are computed
                but carry no meaning.

        Returns:
            (B, S, E) outputs.
        """
        q, k, v = (
            self._heads(self.q_proj(x)),
            self._heads(self.k_proj(x)),
            self._heads(self.v_proj(x)),
        )
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        if key_padding_mask is not None:
            scores = scores + additive_padding_bias(key_padding_mask, scores.dtype)
        weights = self.dropout(scores.softmax(dim=-1))
        out = (weights @ v).transpose(1, 2).reshape(x.shape)
        return self.out_proj(out)
