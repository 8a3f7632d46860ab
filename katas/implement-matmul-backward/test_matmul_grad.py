"""Property tests for the hand-written matmul backward pass.

The oracle is ``torch.autograd`` on ``torch.matmul`` in float64, run here in the trusted
process.  Shapes are drawn by hypothesis: inner sizes from 1 (so vectors and 1 x 1
matrices appear) and batch shapes that broadcast against each other, with missing
dimensions and dimensions of size 1 on either side.
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

grad = candidate("matmul_grad")  # matmul_backward and sum_to_shape: tensors in, tensors out
autograd = candidate("harness")  # MatMul and Linear, run forward and backward in the subject

F64 = torch.float64


@st.composite
def broadcast_batches(draw, min_dims: int = 0, max_dims: int = 3, stretched: bool = False):
    """Two batch shapes that broadcast against each other: per dimension both sides have the
    full size or one side has 1, and one side may lack leading dimensions.  With
    ``stretched``, at least one side is stretched along at least one dimension."""
    n = draw(st.integers(max(min_dims, int(stretched)), max_dims))
    full = [draw(st.integers(2, 3)) for _ in range(n)]
    modes = [draw(st.sampled_from(["both", "a is 1", "b is 1"])) for _ in range(n)]
    keep_from = n
    if stretched:
        keep_from = draw(st.integers(0, n - 1))
        modes[keep_from] = draw(st.sampled_from(["a is 1", "b is 1"]))
    a = [1 if mode == "a is 1" else size for mode, size in zip(modes, full, strict=True)]
    b = [1 if mode == "b is 1" else size for mode, size in zip(modes, full, strict=True)]
    drop = draw(st.integers(0, keep_from))
    if draw(st.booleans()):
        a = a[drop:]
    else:
        b = b[drop:]
    return a, b


@st.composite
def matmul_cases(draw, batched: bool = True, stretched: bool = False, dtype=F64):
    """(a, b, grad_out): seeded values for A (..., m, k), B (..., k, n), dL/dC."""
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    a_batch, b_batch = draw(broadcast_batches(stretched=stretched)) if batched else ([], [])
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    a = torch.randn(*a_batch, m, k, generator=gen, dtype=F64)
    b = torch.randn(*b_batch, k, n, generator=gen, dtype=F64)
    c_shape = (*torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]), m, n)
    grad_out = torch.randn(c_shape, generator=gen, dtype=F64)
    return a.to(dtype), b.to(dtype), grad_out.to(dtype)


def reference(a, b, grad_out) -> tuple[torch.Tensor, torch.Tensor]:
    a = a.detach().clone().requires_grad_()
    b = b.detach().clone().requires_grad_()
    torch.matmul(a, b).backward(grad_out)
    return a.grad, b.grad


def where(a, b) -> str:
    return f"A {tuple(a.shape)} @ B {tuple(b.shape)}"


def check_gradients(got, want, a, b, tol: float = 1e-12, what: str = "matmul_backward") -> None:
    for name, g, w, x in (("dL/dA", got[0], want[0], a), ("dL/dB", got[1], want[1], b)):
        assert g is not None, f"{where(a, b)}: {what} returned no {name}"
        assert g.shape == x.shape, (
            f"{where(a, b)}: {what} returned {name} of shape {tuple(g.shape)}, expected the "
            f"input's shape {tuple(x.shape)}"
        )
        err = float((g.double() - w.double()).abs().max())
        scale = 1.0 + float(w.double().abs().max())
        assert err <= tol * scale, (
            f"{where(a, b)}: {what}'s {name} differs from autograd by {err:.2e} "
            f"(largest entry {scale - 1:.2f})"
        )


@given(matmul_cases(batched=False))
def test_matrix_gradients_match_autograd(case):
    a, b, grad_out = case
    check_gradients(grad.matmul_backward(a, b, grad_out), reference(a, b, grad_out), a, b)


@given(matmul_cases(stretched=True))
def test_broadcast_batch_gradients_match_autograd(case):
    a, b, grad_out = case
    check_gradients(grad.matmul_backward(a, b, grad_out), reference(a, b, grad_out), a, b)


@given(matmul_cases(dtype=torch.float32))
def test_gradients_keep_the_input_dtype(case):
    a, b, grad_out = case
    got = grad.matmul_backward(a, b, grad_out)
    for name, g in (("dL/dA", got[0]), ("dL/dB", got[1])):
        assert g is not None and g.dtype == torch.float32, (
            f"{where(a, b)} in float32: {name} is {None if g is None else g.dtype}, "
            "expected torch.float32"
        )
    check_gradients(got, reference(a.double(), b.double(), grad_out.double()), a, b, tol=1e-5)


@st.composite
def broadcast_pairs(draw):
    """(small, grad): a shape that broadcasts to grad's shape, and a seeded gradient."""
    small, big = draw(broadcast_batches(max_dims=4, stretched=draw(st.booleans())))
    full = list(torch.broadcast_shapes(tuple(small), tuple(big)))
    extra = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    tail = [draw(st.integers(1, 3))]
    return small + tail, torch.randn(*extra, *full, *tail, generator=gen, dtype=F64)


@given(broadcast_pairs())
def test_sum_to_shape_is_the_gradient_of_broadcasting(case):
    shape, g = case
    x = torch.zeros(shape, dtype=F64, requires_grad=True)
    x.expand(g.shape).backward(g)
    got = grad.sum_to_shape(g, tuple(shape))
    assert tuple(got.shape) == tuple(shape), (
        f"sum_to_shape of a {tuple(g.shape)} gradient to {tuple(shape)} returned shape "
        f"{tuple(got.shape)}"
    )
    err = float((got - x.grad).abs().max())
    assert err < 1e-12, (
        f"sum_to_shape {tuple(g.shape)} -> {tuple(shape)} differs from the gradient of "
        f"expand by {err:.2e}"
    )


@given(matmul_cases())
def test_matmul_function_backward_matches_autograd(case):
    a, b, grad_out = case
    got = autograd.autograd_grads(a, b, grad_out)
    check_gradients(got, reference(a, b, grad_out), a, b, what="MatMul.backward")
