"""The calls the tests make into the causal self-attention layer, in the subject process.

The tests cannot send a module across the boundary, so each function here builds a
``CausalSelfAttention`` from plain data (its constructor arguments and a state dict of
weights the test drew), runs it on the test's input, and returns tensors.  Nothing here
checks anything: every check, and every reference computation, is in the tests.
"""

from __future__ import annotations

import torch
from causal_attention import CausalSelfAttention
from torch import Tensor


def _layer(
    config: dict, params: dict[str, Tensor], dtype: torch.dtype, train: bool
) -> CausalSelfAttention:
    layer = CausalSelfAttention(**config).to(dtype)
    layer.load_state_dict(params)
    return layer.train(train)


def attention(
    config: dict,
    params: dict[str, Tensor],
    x: Tensor,
    return_weights: bool = False,
    train: bool = False,
    seed: int | None = None,
) -> Tensor | tuple[Tensor, Tensor]:
    """``CausalSelfAttention(**config)`` holding ``params``, in ``x``'s dtype and in eval
    mode (train mode if ``train``), applied to ``x``: what its forward returns (the output,
    or ``(output, attention weights)`` with ``return_weights``).  With ``seed``, torch's
    global generator is seeded with it just before the forward pass (dropout masks)."""
    layer = _layer(config, params, x.dtype, train)
    with torch.no_grad():
        if seed is not None:
            torch.manual_seed(seed)
        return layer(x, return_weights=return_weights)


def output_gradients(config: dict, params: dict[str, Tensor], x: Tensor) -> Tensor:
    """``(T, *x.shape)``: entry ``t`` is the gradient of ``output[:, t].sum()`` with
    respect to the input ``x`` (layer in eval mode)."""
    layer = _layer(config, params, x.dtype, train=False)
    x = x.detach().clone().requires_grad_(True)
    out = layer(x)
    grads = [
        torch.autograd.grad(out[:, t].sum(), x, retain_graph=True)[0] for t in range(x.shape[1])
    ]
    return torch.stack(grads)
