"""A tiny decoder-only transformer with greedy decoding and a key/value cache.

``forward`` scores a whole sequence in one pass; ``prefill`` and ``step`` decode
incrementally, re-using the keys and values of the positions already seen, which is what
``generate`` uses by default.

What the generation code relies on:

- ``forward`` places a sequence of ``T <= max_len`` tokens at positions ``0..T-1`` and is
  causal: the logits at position ``t`` depend on tokens ``0..t`` only.
- Incremental decoding is exact: after ``prefill(prompt)`` and any number of ``step``
  calls, each call's logits equal (to float rounding) the last-position logits of
  ``forward`` over all the tokens fed so far, and the cache holds exactly the keys and
  values a ``prefill`` of those tokens would hold, one position per token in every layer.
- ``generate`` returns the same tokens with and without the cache, for any prompt length
  and number of new tokens up to ``max_len`` tokens in all (``max_new_tokens=0`` returns
  the prompt).  The rows of a batch are decoded independently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn


@dataclass
class DecoderConfig:
    vocab_size: int = 32
    d_model: int = 16
    n_heads: int = 2
    n_layers: int = 2
    max_len: int = 64


@dataclass
class KVCache:
    """Decoding state: the tokens fed so far and, for each layer, their keys and values.

    The ``L`` cached tokens sit at positions ``0..L-1``; every layer holds their ``L``
    keys and values in that order.
    """

    tokens: Tensor  # (B, L)
    keys: list[Tensor] = field(default_factory=list)  # per layer, (B, n_heads, L, head_dim)
    values: list[Tensor] = field(default_factory=list)

    def __len__(self) -> int:
        return self.tokens.shape[1]

    def append(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add the new keys/values of ``layer`` and return all of that layer's keys/values."""
        if layer == len(self.keys):
            self.keys.append(k)
            self.values.append(v)
        else:
            self.keys[layer] = torch.cat([self.keys[layer], k], dim=2)
            self.values[layer] = torch.cat([self.values[layer], v], dim=2)
        return self.keys[layer], self.values[layer]


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.d_model // cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        batch, n_new, d_model = x.shape
        q, k, v = (
            t.view(batch, n_new, self.n_heads, self.head_dim).transpose(1, 2)
            for t in self.qkv(x).split(d_model, dim=-1)
        )
        if cache is not None:
            k, v = cache.append(layer, k, v)
        # The n_new queries are the last n_new of the n_keys positions.
        n_keys = k.shape[2]
        visible = torch.ones(n_new, n_keys, dtype=torch.bool, device=x.device)
        visible = visible.tril(diagonal=n_keys - n_new)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        weights = scores.masked_fill(~visible, float("-inf")).softmax(dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(batch, n_new, d_model)
        return self.proj(out)


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
        )

    def forward(self, x: Tensor, cache: KVCache | None = None, layer: int = 0) -> Tensor:
        x = x + self.attn(self.ln1(x), cache, layer)
        return x + self.mlp(self.ln2(x))


class TinyDecoder(nn.Module):
    """Token + learned position embeddings, ``n_layers`` blocks, final norm, LM head."""

    def __init__(self, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def _head(self, x: Tensor, cache: KVCache | None) -> Tensor:
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        return self.lm_head(self.ln_f(x))

    def forward(self, tokens: Tensor, cache: KVCache | None = None) -> Tensor:
        """Logits (B, T, vocab) for ``tokens`` (B, T) placed at positions 0..T-1.

        If an empty ``cache`` is given, the keys and values of every layer are recorded in it.
        """
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.tok_emb(tokens) + self.pos_emb(positions)
        return self._head(x, cache)

    @torch.no_grad()
    def prefill(self, prompt: Tensor) -> tuple[Tensor, KVCache]:
        """Run the prompt (B, T); return the logits (B, vocab) for the next token and the cache."""
        cache = KVCache(tokens=prompt)
        logits = self(prompt, cache)
        return logits[:, -1], cache

    @torch.no_grad()
    def step(self, token: Tensor, cache: KVCache) -> Tensor:
        """Decode one position.

        ``token`` (B,) is the token that follows the cached ones, usually the argmax of the
        previous logits. It is added to the cache; returns the logits (B, vocab) for the token
        after it.
        """
        cache.tokens = torch.cat([cache.tokens, token[:, None]], dim=1)
        position = torch.full((1,), len(cache), device=token.device)
        x = self.tok_emb(token[:, None]) + self.pos_emb(position)
        return self._head(x, cache)[:, -1]

    @torch.no_grad()
    def generate(self, prompt: Tensor, max_new_tokens: int, use_cache: bool = True) -> Tensor:
        """Greedy continuation of ``prompt`` (B, T); returns (B, T + max_new_tokens)."""
        if not use_cache:
            tokens = prompt
            for _ in range(max_new_tokens):
                next_token = self(tokens)[:, -1].argmax(dim=-1)
                tokens = torch.cat([tokens, next_token[:, None]], dim=1)
            return tokens
        logits, cache = self.prefill(prompt)
        for _ in range(max_new_tokens):
            logits = self.step(logits.argmax(dim=-1), cache)
        return cache.tokens
