"""Holdout properties for the matmul backward pass (not shown to the candidate): strided
inputs, deep batches against a matrix, stretched dimensions on both sides at once, and a
Linear layer whose weight is broadcast over the batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from test_matmul_grad import F64, check_gradients, matmul_cases, reference

from grader.grading.boundary import candidate

grad = candidate("matmul_grad")
autograd = candidate("harness")


@given(matmul_cases(stretched=True))
def test_strided_inputs_and_gradient(case):
    a, b, grad_out = case
    # The same values, laid out transposed in memory: .mT of a contiguous transpose.
    a_t, b_t = a.mT.contiguous().mT, b.mT.contiguous().mT
    g_t = grad_out.mT.contiguous().mT
    check_gradients(grad.matmul_backward(a_t, b_t, g_t), reference(a, b, grad_out), a, b)


@given(st.integers(0, 2**31 - 1), st.booleans(), st.integers(1, 4), st.integers(1, 4))
def test_deep_batch_against_a_matrix(seed, matrix_first, k, n):
    gen = torch.Generator().manual_seed(seed)
    batched = torch.randn(2, 3, 1, 2, 3, k, generator=gen, dtype=F64)
    matrix = torch.randn(k, n, generator=gen, dtype=F64)
    if matrix_first:
        a, b = matrix.mT.contiguous(), batched.mT.contiguous()
    else:
        a, b = batched, matrix
    c_shape = torch.matmul(a, b).shape
    grad_out = torch.randn(c_shape, generator=gen, dtype=F64)
    check_gradients(grad.matmul_backward(a, b, grad_out), reference(a, b, grad_out), a, b)


@given(st.integers(0, 2**31 - 1), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
def test_both_sides_stretched(seed, m, k, n):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(3, 1, 2, m, k, generator=gen, dtype=F64)
    b = torch.randn(1, 4, 1, k, n, generator=gen, dtype=F64)
    grad_out = torch.randn(3, 4, 2, m, n, generator=gen, dtype=F64)
    check_gradients(grad.matmul_backward(a, b, grad_out), reference(a, b, grad_out), a, b)
    check_gradients(
        autograd.autograd_grads(a, b, grad_out), reference(a, b, grad_out), a, b, what="MatMul"
    )


@given(
    st.integers(0, 2**31 - 1),
    st.lists(st.integers(1, 3), min_size=1, max_size=3),
    st.integers(1, 5),
    st.integers(1, 5),
    st.booleans(),
)
def test_linear_layer_gradients_match_f_linear(seed, batch, d_in, d_out, bias):
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(d_out, d_in, generator=gen, dtype=F64)
    b = torch.randn(d_out, generator=gen, dtype=F64) if bias else None
    x = torch.randn(*batch, d_in, generator=gen, dtype=F64)
    grad_out = torch.randn(*batch, d_out, generator=gen, dtype=F64)
    got = autograd.linear_grads(weight, b, x, grad_out)
    w_ = weight.clone().requires_grad_()
    b_ = None if b is None else b.clone().requires_grad_()
    x_ = x.clone().requires_grad_()
    (F.linear(x_, w_, b_) * grad_out).sum().backward()
    want = {"weight": w_.grad, "x": x_.grad, "bias": None if b_ is None else b_.grad}
    for name, w in want.items():
        if w is None:
            continue
        g = got[name]
        assert g is not None and g.shape == w.shape, (
            f"Linear({d_in}, {d_out}) on x {tuple(x.shape)}: the gradient of {name} has shape "
            f"{None if g is None else tuple(g.shape)}, expected {tuple(w.shape)}"
        )
        err = float((g - w).abs().max())
        assert err < 1e-10, (
            f"Linear({d_in}, {d_out}) on x {tuple(x.shape)}: the gradient of {name} differs "
            f"from F.linear's by {err:.2e}"
        )
