"""Property tests for the stable log-softmax and cross-entropy.

Oracles: ``F.log_softmax`` and ``F.cross_entropy`` (classes moved to dimension 1 by a
reshape) in float64, run here in the trusted process, and the same functions in float64 on
the float32 inputs for the precision checks.  Logits are drawn from a seeded
``torch.Generator`` with scales up to 1e4; targets include ignored positions.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

ce = candidate("cross_entropy")  # log_softmax, cross_entropy: tensors in, tensors out
grads = candidate("harness")  # the same under autograd, in the subject

F64 = torch.float64
SCALES = [0.1, 1.0, 10.0, 100.0]


@st.composite
def batches(draw, scales=SCALES, dtype=F64, ignored: float | None = None):
    """(logits (..., C), targets (...), ignore_index): 0-2 leading dims, some targets
    ignored (about ``ignored`` of them; drawn when None)."""
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    lead = draw(st.lists(st.integers(1, 4), min_size=1, max_size=2))
    classes = draw(st.integers(2, 9))
    scale = draw(st.sampled_from(scales))
    logits = scale * torch.randn(*lead, classes, generator=gen, dtype=F64)
    targets = torch.randint(classes, lead, generator=gen)
    ignore_index = draw(st.sampled_from([-100, -1, classes]))
    share = draw(st.sampled_from([0.0, 0.3, 0.6])) if ignored is None else ignored
    targets[torch.rand(lead, generator=gen) < share] = ignore_index
    return logits.to(dtype), targets, ignore_index


def torch_ce(logits, targets, ignore_index, reduction="mean"):
    c = logits.size(-1)
    out = F.cross_entropy(
        logits.reshape(-1, c), targets.reshape(-1), ignore_index=ignore_index, reduction=reduction
    )
    return out.reshape(targets.shape) if reduction == "none" else out


def err_of(got, want) -> float:
    return float((got.double() - want.double()).abs().max()) if want.numel() else 0.0


def describe(logits, targets, ignore_index) -> str:
    n_ignored = int((targets == ignore_index).sum())
    return (
        f"logits {tuple(logits.shape)} {str(logits.dtype).removeprefix('torch.')} (max "
        f"|logit| {float(logits.abs().max()):.3g}), {n_ignored} of {targets.numel()} targets "
        f"ignored (ignore_index={ignore_index})"
    )


def float32_excess(got, want, logits) -> tuple[float, float, float]:
    """(worst ratio of error to the float32 allowance, that error, that allowance).  The
    allowance is 1e-5 relative plus 4e-6 of the row's largest |logit|: a few float32
    roundings of numbers that large (x - logsumexp(x) loses that much when |x| ~ 1e4)."""
    row_max = logits.double().abs().amax(dim=-1)
    if got.dim() == logits.dim():
        row_max = row_max.unsqueeze(-1)
    err = (got.double() - want).abs()
    allowance = 1e-5 * (1 + want.abs()) + 4e-6 * row_max
    ratio = err / allowance
    i = int(ratio.argmax())
    return float(ratio.flatten()[i]), float(err.flatten()[i]), float(allowance.flatten()[i])


@given(batches(), st.sampled_from([-1, 0, 1]))
def test_log_softmax_matches_torch(case, dim):
    logits, _, _ = case
    got = ce.log_softmax(logits, dim)
    want = F.log_softmax(logits, dim=dim)
    assert got.shape == want.shape and got.dtype == want.dtype, (
        f"log_softmax of {tuple(logits.shape)} float64 returned {got.dtype} {tuple(got.shape)}"
    )
    err = err_of(got, want)
    assert err < 1e-10 * (1 + float(want.abs().max())), (
        f"dim={dim}, {describe(*case)}: log_softmax differs from F.log_softmax by {err:.2e}"
    )


@given(batches(scales=[1.0, 10.0]), st.sampled_from([-3e3, 50.0, 1e4]))
def test_log_softmax_ignores_a_constant_shift(case, shift):
    logits, _, _ = case
    base = ce.log_softmax(logits, -1)
    moved = ce.log_softmax(logits + shift, -1)
    err = err_of(moved, base)
    assert err < 1e-8, (
        f"{describe(*case)}: adding {shift:g} to every logit moves log_softmax by {err:.2e}"
    )


@given(batches(scales=[1e2, 1e3, 1e4], dtype=torch.float32))
def test_log_softmax_of_huge_float32_logits_is_finite_and_accurate(case):
    logits, _, _ = case
    got = ce.log_softmax(logits, -1)
    assert got.dtype == torch.float32, f"float32 logits gave a {got.dtype} log_softmax"
    n_bad = int((~torch.isfinite(got)).sum())
    assert n_bad == 0, f"{describe(*case)}: {n_bad} of {got.numel()} log-probabilities not finite"
    want = F.log_softmax(logits.double(), dim=-1)
    ratio, err, allowed = float32_excess(got, want, logits)
    assert ratio <= 1, (
        f"{describe(*case)}: a float32 log-probability is {err:.2e} from the float64 one, "
        f"more than float32 rounding explains ({allowed:.2e})"
    )


@given(batches(), st.sampled_from(["mean", "sum", "none"]))
def test_cross_entropy_matches_f_cross_entropy(case, reduction):
    logits, targets, ignore_index = case
    if reduction == "mean" and bool((targets == ignore_index).all()):
        targets = targets.clone()
        targets.view(-1)[0] = 0
    got = ce.cross_entropy(logits, targets, ignore_index, reduction)
    want = torch_ce(logits, targets, ignore_index, reduction)
    assert got.shape == want.shape, (
        f"reduction={reduction!r}: loss of shape {tuple(got.shape)}, expected {tuple(want.shape)}"
    )
    err = err_of(got, want)
    assert err < 1e-10 * (1 + float(want.abs().max())), (
        f"reduction={reduction!r}, {describe(logits, targets, ignore_index)}: loss differs from "
        f"F.cross_entropy by {err:.2e}"
    )


@given(batches(ignored=0.0), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_ignored_positions_do_not_change_the_mean(case, n_extra, seed):
    logits, targets, ignore_index = case
    gen = torch.Generator().manual_seed(seed)
    flat_logits = logits.reshape(-1, logits.size(-1))
    extra = 1e3 * torch.randn(n_extra, logits.size(-1), generator=gen, dtype=F64)
    padded_logits = torch.cat([flat_logits, extra])
    padded_targets = torch.cat([targets.reshape(-1), torch.full((n_extra,), ignore_index)])
    base = ce.cross_entropy(flat_logits, targets.reshape(-1), ignore_index)
    padded = ce.cross_entropy(padded_logits, padded_targets, ignore_index)
    err = err_of(padded, base)
    assert err < 1e-10 * (1 + abs(float(base))), (
        f"{describe(logits, targets, ignore_index)}: appending {n_extra} ignored positions "
        f"moves the mean loss from {float(base):.6f} to {float(padded):.6f}"
    )


@given(batches(ignored=1.0), st.sampled_from(["mean", "sum"]))
def test_all_ignored_batch_has_zero_loss_and_gradient(case, reduction):
    logits, targets, ignore_index = case
    loss, grad = grads.loss_and_grad(logits, targets, ignore_index, reduction)
    assert loss.shape == () and float(loss) == 0.0, (
        f"reduction={reduction!r}, every one of {targets.numel()} targets ignored: loss "
        f"{float(loss)}, expected 0.0"
    )
    assert grad is not None and bool((grad == 0).all()), (
        f"reduction={reduction!r}, every target ignored: the gradient is "
        f"{'missing' if grad is None else f'nonzero ({int((grad != 0).sum())} entries)'}"
    )


@given(batches(scales=[0.1, 1.0, 10.0]), st.sampled_from(["mean", "sum", "none"]))
def test_gradient_matches_f_cross_entropy(case, reduction):
    logits, targets, ignore_index = case
    if bool((targets == ignore_index).all()):
        targets = targets.clone()
        targets.view(-1)[0] = 0
    _, got = grads.loss_and_grad(logits, targets, ignore_index, reduction)
    leaf = logits.clone().requires_grad_()
    torch_ce(leaf, targets, ignore_index, reduction).sum().backward()
    assert got is not None, "the loss is not differentiable: no gradient reached the logits"
    err = err_of(got, leaf.grad)
    assert err < 1e-10, (
        f"reduction={reduction!r}, {describe(logits, targets, ignore_index)}: the gradient "
        f"differs from F.cross_entropy's by {err:.2e}"
    )


@given(batches(scales=[1e3, 1e4], dtype=torch.float32))
def test_huge_float32_logits_give_the_float64_loss(case):
    logits, targets, ignore_index = case
    if bool((targets == ignore_index).all()):
        targets = targets.clone()
        targets.view(-1)[0] = 0
    got = ce.cross_entropy(logits, targets, ignore_index, "none")
    want = torch_ce(logits.double(), targets, ignore_index, "none")
    assert got.dtype == torch.float32, f"float32 logits gave a {got.dtype} loss"
    n_bad = int((~torch.isfinite(got)).sum())
    assert n_bad == 0, f"{describe(logits, targets, ignore_index)}: {n_bad} losses not finite"
    ratio, err, allowed = float32_excess(got, want, logits)
    assert ratio <= 1, (
        f"{describe(logits, targets, ignore_index)}: a per-position loss is {err:.2e} from the "
        f"float64 one, more than float32 rounding explains ({allowed:.2e})"
    )


def test_out_of_range_targets_raise_value_error():
    logits = torch.zeros(3, 4, dtype=F64)
    for bad in (4, -1, 7):
        targets = torch.tensor([0, bad, 2])
        with pytest.raises(ValueError):
            ce.cross_entropy(logits, targets, -100, "mean")
            pytest.fail(f"target {bad} with 4 classes (ignore_index=-100) raised no ValueError")


def test_shift_for_next_token_aligns_targets():
    logits = torch.arange(2 * 4 * 3, dtype=F64).reshape(2, 4, 3)
    ids = torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0]])
    shifted, targets = ce.shift_for_next_token(logits, ids, 0)
    assert torch.equal(shifted, logits[:, :-1]), "shift_for_next_token changed the logits"
    want = torch.tensor([[6, 7, -100], [-100, -100, -100]])
    assert torch.equal(targets, want), f"targets {targets.tolist()}, expected {want.tolist()}"
