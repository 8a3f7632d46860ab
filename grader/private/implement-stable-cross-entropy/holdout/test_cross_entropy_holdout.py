"""Holdout properties for the stable cross-entropy (not shown to the candidate): an
ignore_index inside the class range, wide vocabularies in float32, gradients of huge
float32 logits, weighted per-position losses, all-ignored "none", and a single class."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st
from test_cross_entropy import F64, batches, describe, err_of, float32_excess, torch_ce

from grader.grading.boundary import candidate

ce = candidate("cross_entropy")
grads = candidate("harness")


@given(batches(ignored=0.0), st.sampled_from(["mean", "sum", "none"]))
def test_ignore_index_inside_the_class_range(case, reduction):
    logits, targets, _ = case
    ignore_index = 0
    if bool((targets == 0).all()):
        targets = targets.clone()
        targets.view(-1)[0] = 1
    got = ce.cross_entropy(logits, targets, ignore_index, reduction)
    want = torch_ce(logits, targets, ignore_index, reduction)
    err = err_of(got, want)
    assert err < 1e-10 * (1 + float(want.abs().max())), (
        f"ignore_index=0 (a real class), reduction={reduction!r}, "
        f"{describe(logits, targets, ignore_index)}: differs from F.cross_entropy by {err:.2e}"
    )


@given(st.integers(0, 2**31 - 1), st.integers(500, 3000), st.sampled_from([1.0, 30.0, 1e3]))
def test_wide_vocabulary_in_float32(seed, classes, scale):
    gen = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(6, classes, generator=gen, dtype=F64)).float()
    targets = torch.randint(classes, (6,), generator=gen)
    got = ce.cross_entropy(logits, targets, -100, "none")
    want = torch_ce(logits.double(), targets, -100, "none")
    ratio, err, allowed = float32_excess(got, want, logits)
    assert ratio <= 1, (
        f"{classes} classes, logit scale {scale:g}, float32: a per-position loss is {err:.2e} "
        f"from the float64 one, more than float32 rounding explains ({allowed:.2e})"
    )


@given(batches(scales=[1e3, 1e4], dtype=torch.float32, ignored=0.3))
def test_gradient_of_huge_float32_logits_is_finite_and_right(case):
    logits, targets, ignore_index = case
    if bool((targets == ignore_index).all()):
        targets = targets.clone()
        targets.view(-1)[0] = 0
    _, grad = grads.loss_and_grad(logits, targets, ignore_index, "mean")
    assert grad is not None, "no gradient reached the logits"
    n_bad = int((~torch.isfinite(grad)).sum())
    assert n_bad == 0, f"{describe(logits, targets, ignore_index)}: {n_bad} non-finite gradients"
    leaf = logits.double().requires_grad_()
    torch_ce(leaf, targets, ignore_index, "mean").backward()
    err = err_of(grad, leaf.grad)
    allowed = 1e-5 + 4e-6 * float(logits.abs().max())
    assert err <= allowed, (
        f"{describe(logits, targets, ignore_index)}: the gradient differs from the float64 one "
        f"by {err:.2e}, more than float32 rounding explains ({allowed:.2e})"
    )


@given(batches(), st.integers(0, 2**31 - 1))
def test_weighted_per_position_losses_have_the_right_gradient(case, seed):
    logits, targets, ignore_index = case
    gen = torch.Generator().manual_seed(seed)
    weights = torch.rand(targets.shape, generator=gen, dtype=F64)
    _, got = grads.loss_and_grad(logits, targets, ignore_index, "none", weights)
    leaf = logits.clone().requires_grad_()
    (torch_ce(leaf, targets, ignore_index, "none") * weights).sum().backward()
    err = err_of(got, leaf.grad)
    assert err < 1e-10, (
        f"{describe(logits, targets, ignore_index)}: the gradient of a weighted sum of "
        f"per-position losses differs from F.cross_entropy's by {err:.2e}"
    )


@given(batches(ignored=1.0))
def test_all_ignored_per_position_losses_are_zero(case):
    logits, targets, ignore_index = case
    got = ce.cross_entropy(logits, targets, ignore_index, "none")
    assert got.shape == targets.shape and bool((got == 0).all()), (
        f"every target ignored, reduction='none': expected zeros of shape "
        f"{tuple(targets.shape)}, got {tuple(got.shape)} with {int((got != 0).sum())} nonzero"
    )


@given(st.integers(0, 2**31 - 1), st.integers(1, 5))
def test_a_single_class_has_zero_loss(seed, n):
    gen = torch.Generator().manual_seed(seed)
    logits = 1e3 * torch.randn(n, 1, generator=gen, dtype=F64)
    got = ce.cross_entropy(logits, torch.zeros(n, dtype=torch.int64), -100, "mean")
    assert float(got) == 0.0, f"one class, {n} positions: loss {float(got)}, expected 0.0"
    lsm = ce.log_softmax(logits, -1)
    assert bool((lsm == 0).all()), "log_softmax over a single class is not 0"
