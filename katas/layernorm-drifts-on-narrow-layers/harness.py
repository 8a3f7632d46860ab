"""The calls the tests make into the normalisation layers, in the subject process.

The tests cannot send a module across the boundary, so each function here builds the
layer from plain data (width, eps, parameters), runs it, and returns tensors.  Nothing
here checks anything: every check is in the tests.
"""

from __future__ import annotations

import torch
from layer_norm import LayerNorm, RMSNorm


def _layer_norm(x, eps, weight, bias, affine=True):
    layer = LayerNorm(x.shape[-1], eps=eps, elementwise_affine=affine, bias=bias is not None)
    layer = layer.to(x.dtype)
    with torch.no_grad():
        if layer.weight is not None and weight is not None:
            layer.weight.copy_(weight)
        if layer.bias is not None:
            layer.bias.copy_(bias)
    return layer


def layer_norm(x, eps=1e-5, weight=None, bias=None, affine=True):
    """``LayerNorm(x.shape[-1], eps)`` with these parameters, applied to ``x``."""
    with torch.no_grad():
        return _layer_norm(x, eps, weight, bias, affine)(x)


def layer_norm_row_stats(x, eps=1e-5):
    """What ``LayerNorm.row_stats`` reports for ``x``: ``(mean, var)``."""
    with torch.no_grad():
        return tuple(_layer_norm(x, eps, None, None).row_stats(x))


def layer_norm_grads(x, weight, bias, eps, upstream):
    """Gradients of ``sum(LayerNorm(x) * upstream)`` w.r.t. input, weight and bias."""
    layer = _layer_norm(x, eps, weight, bias)
    x = x.detach().clone().requires_grad_(True)
    (layer(x) * upstream).sum().backward()
    return {"input": x.grad, "weight": layer.weight.grad, "bias": layer.bias.grad}


def rms_norm(x, weight, eps=1e-6):
    """``RMSNorm(x.shape[-1], eps)`` with this weight, applied to ``x``."""
    layer = RMSNorm(x.shape[-1], eps=eps).to(x.dtype)
    with torch.no_grad():
        layer.weight.copy_(weight)
        return layer(x)


def default_layers(x):
    """``LayerNorm`` and ``RMSNorm`` with default parameters, cast to ``x``'s dtype."""
    with torch.no_grad():
        dim = x.shape[-1]
        return [LayerNorm(dim).to(x.dtype)(x), RMSNorm(dim).to(x.dtype)(x)]
