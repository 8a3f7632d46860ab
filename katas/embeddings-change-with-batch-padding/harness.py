"""The calls the tests make into the padded self-attention layer, in the subject process.

The tests cannot send a module across the boundary, so each function here builds a
``PaddedSelfAttention`` from plain data (its constructor arguments and a state dict of
weights the test drew), runs it on the test's batch and mask, and returns tensors.
Nothing here checks anything: every check, and every reference computation, is in the
tests.  ``padding_mask_from_lengths`` takes and returns tensors, so the tests call it in
``padded_attention`` directly.
"""

from __future__ import annotations

import torch
from padded_attention import PaddedSelfAttention
from torch import Tensor


def _layer(
    config: dict, params: dict[str, Tensor], dtype: torch.dtype, train: bool = False
) -> PaddedSelfAttention:
    layer = PaddedSelfAttention(**config).to(dtype)
    layer.load_state_dict(params)
    return layer.train(train)


def attention(
    config: dict,
    params: dict[str, Tensor],
    x: Tensor,
    key_padding_mask: Tensor | None = None,
    train: bool = False,
    seed: int | None = None,
) -> Tensor:
    """``PaddedSelfAttention(**config)`` holding ``params``, in ``x``'s dtype and in eval
    mode (train mode if ``train``), applied to ``x`` with this ``key_padding_mask`` (None:
    no mask argument).  With ``seed``, torch's global generator is seeded with it just
    before the forward pass (dropout masks)."""
    layer = _layer(config, params, x.dtype, train)
    with torch.no_grad():
        if seed is not None:
            torch.manual_seed(seed)
        if key_padding_mask is None:
            return layer(x)
        return layer(x, key_padding_mask=key_padding_mask)


def input_gradient(
    config: dict,
    params: dict[str, Tensor],
    x: Tensor,
    key_padding_mask: Tensor,
    upstream: Tensor,
) -> Tensor:
    """The gradient of ``sum(layer(x, key_padding_mask) * upstream)`` with respect to ``x``
    (``upstream`` broadcasts against the output)."""
    layer = _layer(config, params, x.dtype)
    x = x.detach().clone().requires_grad_(True)
    out = layer(x, key_padding_mask=key_padding_mask)
    (grad,) = torch.autograd.grad((out * upstream).sum(), x)
    return grad
