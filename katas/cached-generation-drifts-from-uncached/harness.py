"""The calls the tests make into the decoder, in the subject process.

The tests cannot send a model, a ``DecoderConfig`` or a ``KVCache`` across the boundary,
so each function here builds ``TinyDecoder(DecoderConfig(**config))`` in float64 and eval
mode, loads the state dict of weights the test drew, calls the model's own methods
(``forward``, ``prefill``, ``step``, ``generate``), and returns tensors, with each cache
described as plain data.  Nothing here checks anything: every check, and every
reference computation, is in the tests.
"""

from __future__ import annotations

import torch
from kv_cache_decoder import DecoderConfig, KVCache, TinyDecoder
from torch import Tensor


def _model(config: dict, params: dict[str, Tensor]) -> TinyDecoder:
    model = TinyDecoder(DecoderConfig(**config)).double().eval()
    model.load_state_dict(params)
    return model


def _cache(cache: KVCache) -> dict:
    """What the cache holds, copied: ``length`` (``len(cache)``), ``tokens`` (B, L), and per
    layer ``keys`` and ``values`` (B, n_heads, L, head_dim)."""
    return {
        "length": len(cache),
        "tokens": cache.tokens.clone(),
        "keys": [k.clone() for k in cache.keys],
        "values": [v.clone() for v in cache.values],
    }


def forward(config: dict, params: dict[str, Tensor], tokens: Tensor) -> Tensor:
    """``model(tokens)``: logits (B, T, vocab) of the full forward pass."""
    with torch.no_grad():
        return _model(config, params)(tokens)


def prefill(config: dict, params: dict[str, Tensor], prompt: Tensor) -> dict:
    """``model.prefill(prompt)``: ``{"logits": (B, vocab), "cache": the cache}``."""
    logits, cache = _model(config, params).prefill(prompt)
    return {"logits": logits, "cache": _cache(cache)}


def prefill_then_step(config: dict, params: dict[str, Tensor], prompt: Tensor, fed: Tensor) -> dict:
    """``model.prefill(prompt)``, then one ``model.step`` per column of ``fed`` (B, N), in
    order, on the same cache: ``{"prefill": ..., "steps": [...]}``, each entry
    ``{"logits": (B, vocab), "cache": the cache right after that call}``."""
    model = _model(config, params)
    logits, cache = model.prefill(prompt)
    result = {"prefill": {"logits": logits, "cache": _cache(cache)}, "steps": []}
    for column in range(fed.shape[1]):
        logits = model.step(fed[:, column], cache)
        result["steps"].append({"logits": logits, "cache": _cache(cache)})
    return result


def generate(
    config: dict, params: dict[str, Tensor], prompt: Tensor, max_new_tokens: int, **kwargs
) -> Tensor:
    """``model.generate(prompt, max_new_tokens, **kwargs)`` (kwargs: ``use_cache``)."""
    return _model(config, params).generate(prompt, max_new_tokens, **kwargs)
