"""The calls the tests make into the grouped-query attention layer, in the subject process.

The tests cannot send a module or a ``GQAConfig`` across the boundary, so each function
here builds ``GroupedQueryAttention(GQAConfig(**config))`` in the input's dtype, loads the
state dict of weights the test drew, runs it, and returns tensors.  Nothing here checks
anything: every check, and every reference computation, is in the tests.
"""

from __future__ import annotations

import torch
from gqa_attention import GQAConfig, GroupedQueryAttention, mean_pool_kv_heads
from torch import Tensor


def _layer(config: dict, params: dict[str, Tensor], dtype: torch.dtype) -> GroupedQueryAttention:
    layer = GroupedQueryAttention(GQAConfig(**config)).to(dtype)
    layer.load_state_dict(params)
    return layer


def attention(
    config: dict, params: dict[str, Tensor], x: Tensor, train: bool = False, seed: int = 0
) -> Tensor:
    """The layer's output on ``x`` (B, T, d_model), in eval mode, or in training mode with
    ``torch.manual_seed(seed)`` set just before the call."""
    layer = _layer(config, params, x.dtype).train(train)
    torch.manual_seed(seed)
    with torch.no_grad():
        return layer(x)


def mean_pool(config: dict, mha_params: dict[str, Tensor]) -> dict[str, Tensor]:
    """``mean_pool_kv_heads(mha_params, GQAConfig(**config))``."""
    return mean_pool_kv_heads(mha_params, GQAConfig(**config))


def converted_attention(config: dict, mha_params: dict[str, Tensor], x: Tensor) -> Tensor:
    """The eval-mode output on ``x`` of the layer for ``config`` that holds the multi-head
    weights ``mha_params`` converted by ``mean_pool_kv_heads``."""
    pooled = mean_pool_kv_heads(mha_params, GQAConfig(**config))
    return attention(config, pooled, x)
