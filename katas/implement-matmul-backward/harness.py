"""The calls the tests make into ``matmul_grad`` that need autograd or a module, in the
subject process.

An autograd graph and an ``nn.Module`` cannot cross the boundary: each function here
builds the inputs (or the layer) from the tensors the test sends, runs the forward and
backward passes through the module's ``MatMul`` function, and returns the gradients.
Nothing here checks anything: every check, and every reference computation, is in the
tests.  ``matmul_backward`` and ``sum_to_shape`` take and return tensors, so the tests call
them in the module directly.
"""

from __future__ import annotations

import torch
from matmul_grad import Linear, matmul
from torch import Tensor


def autograd_grads(a: Tensor, b: Tensor, grad_out: Tensor) -> list[Tensor | None]:
    """``[a.grad, b.grad]`` after ``matmul(a, b).backward(grad_out)``."""
    a = a.detach().clone().requires_grad_()
    b = b.detach().clone().requires_grad_()
    matmul(a, b).backward(grad_out)
    return [a.grad, b.grad]


def linear_grads(weight: Tensor, bias: Tensor | None, x: Tensor, grad_out: Tensor) -> dict:
    """Gradients of ``(Linear(x) * grad_out).sum()`` for the layer with these parameters:
    ``{"weight": ..., "bias": ..., "x": ...}`` (bias None without bias)."""
    out_features, in_features = weight.shape
    layer = Linear(in_features, out_features, bias=bias is not None).to(weight.dtype)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    x = x.detach().clone().requires_grad_()
    (layer(x) * grad_out).sum().backward()
    return {
        "weight": layer.weight.grad,
        "bias": None if layer.bias is None else layer.bias.grad,
        "x": x.grad,
    }
