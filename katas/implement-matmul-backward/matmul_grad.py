"""A hand-written backward pass for matrix multiplication.

Our fused-kernel experiments replace ``torch.matmul`` with :class:`MatMul`, an autograd
function whose backward is written out instead of taken from PyTorch, so that it can later
be swapped for a kernel.  Forward semantics are ``torch.matmul``'s for inputs of at least
two dimensions:

* ``A`` is ``(..., m, k)``, ``B`` is ``(..., k, n)`` and ``C = A @ B`` is ``(..., m, n)``;
* the leading (batch) dimensions broadcast against each other with NumPy's rules: they are
  aligned from the right, and a missing dimension or one of size 1 is stretched to the
  other's size (``(4, 1, m, k) @ (3, k, n)`` is ``(4, 3, m, n)``).

Backward: for ``L`` a function of ``C``, ``dL/dA = dL/dC @ B^T`` and ``dL/dB = A^T @ dL/dC``
in every batch element, and a gradient is summed over each batch dimension along which its
input was broadcast, so ``dL/dA`` has exactly the shape of ``A`` and ``dL/dB`` that of ``B``
(what ``torch.autograd`` returns).  Gradients have the dtype of the inputs; any strides are
accepted.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def check_matmul_shapes(a: Tensor, b: Tensor) -> torch.Size:
    """The shape of ``a @ b``; ValueError unless the shapes follow the module docstring."""
    if a.dim() < 2 or b.dim() < 2:
        raise ValueError(f"need at least 2-d inputs, got {tuple(a.shape)} and {tuple(b.shape)}")
    if a.size(-1) != b.size(-2):
        raise ValueError(f"inner sizes differ: {tuple(a.shape)} @ {tuple(b.shape)}")
    try:
        batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except RuntimeError as exc:
        raise ValueError(
            f"batch shapes do not broadcast: {tuple(a.shape)} @ {tuple(b.shape)}"
        ) from exc
    return torch.Size((*batch, a.size(-2), b.size(-1)))


def sum_to_shape(grad: Tensor, shape: tuple[int, ...] | torch.Size) -> Tensor:
    """Reduce the gradient of a broadcast result to the gradient of the input of ``shape``:
    sum over the leading dimensions ``shape`` does not have and over the dimensions where
    ``shape`` has size 1 and ``grad`` does not.  ``shape`` must broadcast to ``grad.shape``;
    the result has exactly ``shape``."""
    raise NotImplementedError


def matmul_backward(a: Tensor, b: Tensor, grad_out: Tensor) -> tuple[Tensor, Tensor]:
    """``(dL/dA, dL/dB)`` for ``C = A @ B`` given ``grad_out = dL/dC`` (the shape of ``C``),
    with the shapes and dtypes of ``a`` and ``b``."""
    raise NotImplementedError


class MatMul(torch.autograd.Function):
    """``torch.matmul`` with the backward pass of :func:`matmul_backward`."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        check_matmul_shapes(a, b)
        ctx.save_for_backward(a, b)
        return torch.matmul(a, b)

    @staticmethod
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor | None, Tensor | None]:
        a, b = ctx.saved_tensors
        grad_a, grad_b = matmul_backward(a, b, grad_out)
        return (
            grad_a if ctx.needs_input_grad[0] else None,
            grad_b if ctx.needs_input_grad[1] else None,
        )


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` differentiated by :func:`matmul_backward`."""
    return MatMul.apply(a, b)


class Linear(nn.Module):
    """``nn.Linear`` on top of :func:`matmul`: ``y = x @ W^T + bias`` for ``x`` of shape
    ``(..., rows, in_features)``; ``W^T`` broadcasts over the leading dimensions of ``x``,
    so the weight's gradient is summed over them."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)

    def forward(self, x: Tensor) -> Tensor:
        y = matmul(x, self.weight.t())
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        out_features, in_features = self.weight.shape
        return (
            f"in_features={in_features}, out_features={out_features}, bias={self.bias is not None}"
        )
