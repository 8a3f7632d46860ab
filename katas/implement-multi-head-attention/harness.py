"""The calls the tests make into ``multi_head_attention``, in the subject process.

A ``MultiHeadAttention`` module cannot cross the boundary: each function here builds one
from its weights (a state dict of tensors the test generated) and its number of heads,
runs it, and returns tensors.  Nothing here checks anything: every check, and every
reference computation, is in the tests.  ``scaled_dot_product_attention`` takes and
returns tensors, so the tests call it in the module directly.
"""

from __future__ import annotations

import torch
from multi_head_attention import AttentionConfig, MultiHeadAttention
from torch import Tensor


def _module(weights: dict[str, Tensor], n_heads: int) -> MultiHeadAttention:
    d_model = weights["q_proj.weight"].shape[0]
    config = AttentionConfig(d_model, n_heads, bias="q_proj.bias" in weights)
    module = MultiHeadAttention(config).to(weights["q_proj.weight"].dtype)
    module.load_state_dict(weights)
    return module


def attend(
    weights: dict[str, Tensor],
    n_heads: int,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    key_padding_mask: Tensor | None = None,
    causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """``module(query, key, value, key_padding_mask=..., causal=..., need_weights=True)``."""
    module = _module(weights, n_heads)
    with torch.no_grad():
        return module(
            query, key, value, key_padding_mask=key_padding_mask, causal=causal, need_weights=True
        )


def output(
    weights: dict[str, Tensor],
    n_heads: int,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    key_padding_mask: Tensor | None = None,
    causal: bool = False,
) -> Tensor:
    """The output alone, with ``need_weights=False``."""
    module = _module(weights, n_heads)
    with torch.no_grad():
        out, _ = module(query, key, value, key_padding_mask=key_padding_mask, causal=causal)
    return out


def gradients(
    weights: dict[str, Tensor],
    n_heads: int,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    grad_output: Tensor,
    key_padding_mask: Tensor | None = None,
    causal: bool = False,
) -> dict[str, Tensor]:
    """Gradients of ``(output * grad_output).sum()`` with respect to the inputs (``query``,
    ``key``, ``value``) and every parameter (by state-dict name)."""
    module = _module(weights, n_heads)
    inputs = {
        "query": query.clone().requires_grad_(),
        "key": key.clone().requires_grad_(),
        "value": value.clone().requires_grad_(),
    }
    out, _ = module(
        inputs["query"],
        inputs["key"],
        inputs["value"],
        key_padding_mask=key_padding_mask,
        causal=causal,
    )
    (out * grad_output).sum().backward()
    grads = {name: x.grad for name, x in inputs.items()}
    grads.update({name: p.grad for name, p in module.named_parameters()})
    return grads
