"""Batched greedy decoding for a small decoder-only language model.

Prompts of different lengths are left-padded to a common length, so that every row predicts
its next token at the last column.  Padding is meant to be invisible: pad tokens are never
attended to, and each row's real tokens get the position ids ``0, 1, 2, ...`` counted from
its first real token, exactly as if the prompt were decoded on its own.  So the
continuation of a prompt does not depend on the other prompts in the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class LMConfig:
    vocab_size: int = 32
    d_model: int = 16
    n_heads: int = 2
    n_layers: int = 2
    max_len: int = 32
    pad_id: int = 0


class Block(nn.Module):
    """Pre-norm transformer block; attention takes a (B, T, T) mask of allowed pairs."""

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
        )

    def attend(self, x: Tensor, allowed: Tensor) -> Tensor:
        batch, seq_len, d_model = x.shape
        q, k, v = (
            t.view(batch, seq_len, self.n_heads, -1).transpose(1, 2)
            for t in self.qkv(x).split(d_model, dim=-1)
        )
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        # A finite fill keeps the all-masked rows of pad queries finite (their output is unused).
        scores = scores.masked_fill(~allowed[:, None], torch.finfo(scores.dtype).min)
        out = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(batch, seq_len, d_model)
        return self.proj(out)

    def forward(self, x: Tensor, allowed: Tensor) -> Tensor:
        x = x + self.attend(self.ln1(x), allowed)
        return x + self.mlp(self.ln2(x))


class TinyLM(nn.Module):
    """Token + learned position embeddings, ``n_layers`` blocks, final norm, LM head."""

    def __init__(self, cfg: LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)

    def forward(self, tokens: Tensor, positions: Tensor, attention_mask: Tensor) -> Tensor:
        """Logits (B, T, vocab) for ``tokens`` (B, T) at ``positions`` (B, T).

        ``attention_mask`` (B, T) is True at real tokens; a token attends to the real tokens
        at or before its column.
        """
        seq_len = tokens.shape[1]
        causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=tokens.device).tril()
        allowed = causal[None] & attention_mask[:, None, :]
        x = self.tok_emb(tokens) + self.pos_emb(positions)
        for block in self.blocks:
            x = block(x, allowed)
        return self.lm_head(self.ln_f(x))


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[Tensor, Tensor]:
    """(B, T) token ids with each prompt right-aligned, and the (B, T) mask of real tokens."""
    width = max(len(p) for p in prompts)
    tokens = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(prompts), width, dtype=torch.bool)
    for row, prompt in enumerate(prompts):
        if prompt:
            tokens[row, width - len(prompt) :] = torch.tensor(prompt)
            mask[row, width - len(prompt) :] = True
    return tokens, mask


@torch.no_grad()
def generate(model: TinyLM, prompts: list[list[int]], max_new_tokens: int) -> list[list[int]]:
    """Greedy continuation of each (non-empty) prompt; returns prompt + new tokens per row."""
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    tokens, attention_mask = left_pad(prompts, model.cfg.pad_id)
    positions = (attention_mask.long().cumsum(dim=-1) - 1).clamp(min=0)
    for _ in range(max_new_tokens):
        logits = model(tokens, positions, attention_mask)
        next_token = logits[:, -1].argmax(dim=-1, keepdim=True)
        tokens = torch.cat([tokens, next_token], dim=1)
        attention_mask = torch.cat(
            [attention_mask, torch.ones_like(next_token, dtype=torch.bool)], 1
        )
        positions = torch.cat([positions, torch.full_like(next_token, tokens.shape[1] - 1)], dim=1)
    return [
        prompt + tokens[row, tokens.shape[1] - max_new_tokens :].tolist()
        for row, prompt in enumerate(prompts)
    ]
