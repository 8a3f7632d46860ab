"""Holdout checks for the LM loss (not shown to the candidate)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from test_z_loss import IGNORE, _config, _inputs

from grader.grading.boundary import candidate

lm_loss = candidate("harness")

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)


@FAST
@given(seed=SEEDS, vocab=st.integers(2, 40), log10_scale=st.floats(2.0, 4.0))
def test_gradient_at_large_scales_matches_torch(seed, vocab, log10_scale):
    logits, targets = _inputs(seed, 4, vocab, 10.0**log10_scale)
    got = lm_loss.terms(logits, targets, _config(0.1, 1e-4), grad=True)["grad"]
    x = logits.double().requires_grad_(True)
    ce = F.cross_entropy(x, targets, ignore_index=IGNORE, label_smoothing=0.1)
    z = torch.logsumexp(x, -1)[targets != IGNORE].square().mean()
    (ce + 1e-4 * z).backward()
    err = float((got.double() - x.grad).abs().max())
    scale = float(x.grad.abs().max())
    assert bool(torch.isfinite(got).all()) and err <= 1e-3 * (1.0 + scale), (
        f"logit scale 1e{log10_scale:.1f}: gradient w.r.t. the logits differs from torch's by "
        f"{err:.3e} (largest entry {scale:.3e})"
    )


@FAST
@given(seed=SEEDS, vocab=st.integers(2, 40))
def test_bfloat16_spikes_stay_finite_and_accurate(seed, vocab):
    logits, targets = _inputs(seed, 4, vocab, 500.0, dtype=torch.bfloat16)
    got = lm_loss.terms(logits, targets, _config(0.0))
    x = logits.double()
    ce = float(F.cross_entropy(x, targets, ignore_index=IGNORE))
    assert got["ce"].dtype == torch.float32, f"bfloat16 logits gave a {got['ce'].dtype} ce"
    rounding = 1e-6 * float(x.abs().max())
    assert abs(float(got["ce"]) - ce) <= 1e-5 * max(1.0, ce) + rounding, (
        f"bfloat16 logits of scale 500: ce {float(got['ce']):.6g}, torch on the same values "
        f"{ce:.6g}"
    )
