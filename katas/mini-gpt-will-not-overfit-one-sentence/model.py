"""A small decoder-only transformer language model (GPT-2 layout, after nanoGPT).

Pre-LayerNorm blocks of causal multi-head self-attention and a GELU MLP, learned absolute
position embeddings, and an output head tied to the token embedding.  Everything here is
shape-generic: the unit tests run it in float64 on CPU, training runs it in float32.

Conventions used throughout:

* ``idx`` is a ``(B, T)`` LongTensor of token ids with ``T <= config.block_size``; token
  ``idx[b, t]`` sits at position ``t`` of its row (every row starts at position 0).
* Attention is causal: the output at position ``t`` depends on positions ``0..t`` of its
  own row only, never on later tokens or on other rows.
* Dropout is active in train mode only; in eval mode the model is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

IGNORE_INDEX = -1


@dataclass
class GPTConfig:
    block_size: int = 64  # longest sequence the model accepts (rows of the position table)
    vocab_size: int = 32
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 32
    dropout: float = 0.0
    bias: bool = True  # biases in the Linear layers and LayerNorms


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position ``t`` attends to positions ``0..t``.

    ``c_attn`` projects to queries, keys and values (in that order along the last
    dimension), each split into ``n_head`` heads of ``n_embd // n_head`` dimensions;
    scores are scaled by ``1 / sqrt(head_dim)``; ``c_proj`` mixes the heads back.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if config.n_embd % config.n_head != 0:
            raise ValueError(f"n_embd={config.n_embd} is not divisible by n_head={config.n_head}")
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        size = config.block_size
        causal = torch.tril(torch.ones(size, size)).view(1, 1, size, size)
        self.register_buffer("causal_mask", causal, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T, n_embd) -> (B, T, n_embd)``, same dtype."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=self.causal_mask[:, :, :T, :T],
            dropout_p=self.dropout if self.training else 0.0,
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-LN residual block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


def lm_loss(logits: Tensor, targets: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Mean next-token cross-entropy.

    ``logits`` is ``(B, T, V)``, the model's prediction at each input position, and
    ``targets`` is ``(B, T)`` aligned with it: ``targets[b, t]`` is the token that should
    follow ``idx[b, t]`` (the data pipeline has already shifted it).  Positions whose
    target is ``ignore_index`` do not count; the mean is over the remaining positions.
    """
    logits, targets = logits[:, :-1], targets[:, 1:]
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=ignore_index
    )


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(config.vocab_size, config.n_embd),
                "wpe": nn.Embedding(config.block_size, config.n_embd),
                "drop": nn.Dropout(config.dropout),
                "h": nn.ModuleList(Block(config) for _ in range(config.n_layer)),
                "ln_f": nn.LayerNorm(config.n_embd, bias=config.bias),
            }
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # weight tying
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # scaled init of the residual projections
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self) -> int:
        """Parameters counted once (the tied head is the token embedding)."""
        return sum(p.numel() for p in self.parameters())

    def embed(self, idx: Tensor) -> Tensor:
        """``(B, T)`` token ids -> ``(B, T, n_embd)``: the residual stream entering the
        first block, ``wte[idx[b, t]] + wpe[t]`` (then dropout in train mode)."""
        seq_len = idx.size(1)
        if seq_len > self.config.block_size:
            raise ValueError(f"sequence of length {seq_len} > block_size {self.config.block_size}")
        tok_emb = self.transformer.wte(idx)
        pos_emb = self.transformer.wpe(idx)
        return self.transformer.drop(tok_emb + pos_emb)

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Logits ``(B, T, vocab_size)`` for every position, and ``lm_loss(logits,
        targets)`` when ``targets`` (``(B, T)``, aligned as ``lm_loss`` says) are given."""
        x = self.embed(idx)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None if targets is None else lm_loss(logits, targets)
        return logits, loss
