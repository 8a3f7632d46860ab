"""Sentence embeddings for the semantic-similarity eval: a small transformer encoder, mean
pooling over the tokens, L2 normalisation, cosine similarity.

Batches come from the tokenizer as ``input_ids`` and ``attention_mask`` of shape
``(batch, seq)``, with ``attention_mask`` 1 on tokens and 0 on padding.  Padding may sit on
either side (the retrieval service left-pads): position ids count the tokens only, attention
never looks at padding, so a token's hidden state does not depend on the padding or on the
other sentences of the batch.  Neither does a sentence's embedding: it is the mean of its
tokens' final hidden states, normalised to unit length.  Every row holds at least one token;
hidden states at padded positions are unspecified.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class EncoderConfig:
    vocab_size: int = 1000
    dim: int = 32
    num_heads: int = 4
    max_positions: int = 64


class EncoderLayer(nn.Module):
    """Pre-norm transformer block: self-attention over the tokens, then an MLP."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.norm1 = nn.LayerNorm(config.dim)
        self.qkv = nn.Linear(config.dim, 3 * config.dim)
        self.proj = nn.Linear(config.dim, config.dim)
        self.norm2 = nn.LayerNorm(config.dim)
        self.mlp = nn.Sequential(
            nn.Linear(config.dim, 4 * config.dim), nn.GELU(), nn.Linear(4 * config.dim, config.dim)
        )

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        batch, seq, dim = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(dim, dim=-1)
        q, k, v = (t.view(batch, seq, self.num_heads, -1).transpose(1, 2) for t in (q, k, v))
        keys = attention_mask.bool()[:, None, None, :]  # (batch, 1, 1, seq): attend to tokens
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=keys)
        x = x + self.proj(attended.transpose(1, 2).reshape(batch, seq, dim))
        return x + self.mlp(self.norm2(x))


class SentenceEncoder(nn.Module):
    def __init__(self, config: EncoderConfig, num_layers: int = 2) -> None:
        super().__init__()
        self.tokens = nn.Embedding(config.vocab_size, config.dim)
        self.positions = nn.Embedding(config.max_positions, config.dim)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(num_layers))
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Final hidden states, ``(batch, seq, dim)``."""
        mask = attention_mask.to(torch.long)
        position_ids = (mask.cumsum(dim=1) - 1).clamp(min=0)
        x = self.tokens(input_ids) + self.positions(position_ids)
        x = x * mask[..., None]  # padded positions start from zero
        for layer in self.layers:
            x = layer(x, attention_mask)
        return self.norm(x)


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the hidden states of each row's tokens: ``(batch, seq, dim) -> (batch, dim)``."""
    lengths = attention_mask.sum(dim=1, keepdim=True).to(hidden.dtype)
    return hidden.sum(dim=1) / lengths.clamp(min=1)


@torch.no_grad()
def embed(
    encoder: SentenceEncoder, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """Unit-length sentence embeddings, ``(batch, dim)``."""
    pooled = mean_pool(encoder(input_ids, attention_mask), attention_mask)
    return F.normalize(pooled, dim=-1)


def cosine_similarity_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(n, dim) x (m, dim) -> (n, m)`` cosine similarities of unit-length embeddings."""
    return a @ b.T
