"""Autoregressive sampling from a causal language model.

``model(idx)`` must return ``(logits, _)`` with logits ``(B, T, V)``, where
``logits[:, t]`` is the model's distribution over the token that follows ``idx[:, t]``,
and ``model.config.block_size`` must be the longest context it accepts.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def filter_top_k(logits: Tensor, k: int | None) -> Tensor:
    """``logits`` ``(B, V)`` with everything below the ``k``-th largest of each row set to
    ``-inf`` (ties with the ``k``-th are kept); unchanged when ``k`` is None or >= V."""
    if k is None or k >= logits.size(-1):
        return logits
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


@torch.no_grad()
def generate(
    model: nn.Module,
    idx: Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Extend ``idx`` ``(B, T)`` by ``max_new_tokens`` tokens, one at a time.

    Each step feeds the model the last ``block_size`` tokens so far and samples from its
    distribution at the last position, divided by ``temperature`` and restricted to the
    ``top_k`` most likely tokens; ``temperature == 0`` takes the most likely token
    (greedy decoding).  The model runs in eval mode and is returned to the mode it was in.
    Returns ``(B, T + max_new_tokens)``: the prompt followed by the new tokens.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    was_training = model.training
    model.eval()
    try:
        block_size = model.config.block_size
        for _ in range(max_new_tokens):
            logits, _ = model(idx[:, -block_size:])
            logits = logits[:, -1, :]
            if temperature == 0:
                next_token = logits.argmax(dim=-1, keepdim=True)
            else:
                probs = filter_top_k(logits / temperature, top_k).softmax(dim=-1)
                next_token = torch.multinomial(probs, 1, generator=generator)
            idx = torch.cat((idx, next_token), dim=1)
    finally:
        model.train(was_training)
    return idx


def complete(model: nn.Module, tokenizer, prompt: str, max_chars: int, **sampling) -> str:
    """``prompt`` followed by up to ``max_chars - len(prompt)`` generated characters
    (greedy unless ``sampling`` says otherwise: ``temperature``, ``top_k``, ``generator``)."""
    sampling.setdefault("temperature", 0.0)
    idx = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long)
    out = generate(model, idx, max(0, max_chars - len(prompt)), **sampling)
    return tokenizer.decode(out[0].tolist())
