"""Checks for the LM loss against torch at every logit scale, and its invariances."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

lm_loss = candidate("harness")  # LMLoss, run in the subject process

IGNORE = -100
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)
SMOOTHING = st.sampled_from([0.0, 0.1])


def _inputs(seed: int, rows: int, vocab: int, scale: float, dtype=torch.float32):
    """Logits of the given scale (each row with its own offset), targets, a few ignored."""
    g = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(rows, vocab, generator=g, dtype=torch.float64)
    logits += scale * torch.randn(rows, 1, generator=g, dtype=torch.float64)
    targets = torch.randint(0, vocab, (rows,), generator=g)
    targets[torch.rand(rows, generator=g) < 0.2] = IGNORE
    targets[0] = int(torch.randint(0, vocab, (), generator=g))
    return logits.to(dtype), targets


def _reference(logits, targets, smoothing):
    """torch in float64: F.cross_entropy and mean(logsumexp ** 2) over counted rows."""
    x = logits.double()
    ce = F.cross_entropy(x, targets, ignore_index=IGNORE, label_smoothing=smoothing)
    keep = targets != IGNORE
    z = torch.logsumexp(x, dim=-1)[keep].square().mean()
    return float(ce), float(z)


def _config(smoothing: float, z_weight: float = 1e-4) -> dict:
    return {"z_weight": z_weight, "label_smoothing": smoothing, "ignore_index": IGNORE}


def _close(a: float, b: float, rel: float, atol: float = 0.0) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b)) + atol


@FAST
@given(
    seed=SEEDS,
    rows=st.integers(1, 6),
    vocab=st.integers(2, 50),
    log10_scale=st.floats(2.0, 4.0),
    smoothing=SMOOTHING,
)
def test_matches_torch_at_large_logit_scales(seed, rows, vocab, log10_scale, smoothing):
    scale = 10.0**log10_scale
    logits, targets = _inputs(seed, rows, vocab, scale)
    got = lm_loss.terms(logits, targets, _config(smoothing))
    ce, z = _reference(logits, targets, smoothing)
    rounding = 1e-6 * float(logits.abs().max())  # float32 rounding of the logits themselves
    assert _close(float(got["ce"]), ce, 1e-5, rounding), (
        f"float32 logits of scale {scale:.0f} (vocab {vocab}, smoothing {smoothing}): ce is "
        f"{float(got['ce']):.6g}, F.cross_entropy gives {ce:.6g}"
    )
    assert _close(float(got["z_loss"]), z, 1e-5), (
        f"float32 logits of scale {scale:.0f}: z_loss is {float(got['z_loss']):.6g}, "
        f"mean(logsumexp ** 2) is {z:.6g}"
    )


@FAST
@given(
    seed=SEEDS,
    rows=st.integers(1, 6),
    vocab=st.integers(2, 50),
    shift=st.floats(100.0, 5000.0),
    sign=st.sampled_from([-1.0, 1.0]),
    smoothing=SMOOTHING,
)
def test_ce_invariant_to_a_constant_logit_shift(seed, rows, vocab, shift, sign, smoothing):
    logits, targets = _inputs(seed, rows, vocab, 3.0, dtype=torch.float64)
    base = float(lm_loss.terms(logits, targets, _config(smoothing))["ce"])
    moved = float(lm_loss.terms(logits + sign * shift, targets, _config(smoothing))["ce"])
    assert _close(moved, base, 1e-9), (
        f"adding {sign * shift:.1f} to every logit changed ce from {base:.9g} to {moved:.9g}"
    )


@FAST
@given(
    seed=SEEDS,
    rows=st.integers(1, 6),
    vocab=st.integers(2, 50),
    scale=st.floats(0.1, 10.0),
    smoothing=SMOOTHING,
    z_weight=st.sampled_from([0.0, 1e-4, 0.1]),
)
def test_matches_torch_at_moderate_scales(seed, rows, vocab, scale, smoothing, z_weight):
    logits, targets = _inputs(seed, rows, vocab, scale, dtype=torch.float64)
    got = lm_loss.terms(logits, targets, _config(smoothing, z_weight))
    ce, z = _reference(logits, targets, smoothing)
    for name, a, b in [("ce", got["ce"], ce), ("z_loss", got["z_loss"], z)]:
        assert _close(float(a), b, 1e-10), (
            f"scale {scale:.2f}: {name} {float(a):.10g}, torch {b:.10g}"
        )
    total = ce + z_weight * z
    assert _close(float(got["loss"]), total, 1e-10), (
        f"loss {float(got['loss']):.10g} is not ce + z_weight * z_loss = {total:.10g}"
    )


@FAST
@given(seed=SEEDS, rows=st.integers(2, 6), vocab=st.integers(2, 20))
def test_ignored_positions_do_not_count(seed, rows, vocab):
    logits, targets = _inputs(seed, rows, vocab, 3.0, dtype=torch.float64)
    targets[-1] = IGNORE
    edited = logits.clone()
    edited[-1] = 1e3 * torch.arange(vocab, dtype=torch.float64)
    a = lm_loss.terms(logits, targets, _config(0.1))
    b = lm_loss.terms(edited, targets, _config(0.1))
    for name in ("loss", "ce", "z_loss"):
        assert float(a[name]) == float(b[name]), (
            f"changing the logits of an ignored position changed {name}: "
            f"{float(a[name]):.10g} -> {float(b[name]):.10g}"
        )
