"""Holdout checks of the loss fault (never shown to the candidate): gradients, one-token
sequences, a custom ignore_index, confident predictions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from test_model import FAST, TOL, cross_entropy, gpt, logits_and_targets, seeds


@FAST
@given(seed=seeds, batch=st.integers(1, 3), seq_len=st.integers(1, 7), vocab=st.integers(2, 8))
def test_loss_gradient_is_the_cross_entropy_gradient(seed, batch, seq_len, vocab):
    logits, targets = logits_and_targets(seed, batch, seq_len, vocab, ignored=0.3)
    got = gpt.lm_loss(logits, targets)["grad"]
    x = logits.clone().requires_grad_(True)
    (want,) = torch.autograd.grad(cross_entropy(x, targets), x)
    assert got is not None and got.shape == want.shape, "lm_loss has no gradient for the logits"
    d = float((got - want).abs().max())
    assert d <= TOL, (
        f"B={batch}, T={seq_len}: d lm_loss / d logits is {d:.3e} away from the gradient of the "
        f"mean cross-entropy of each position against its own target"
    )


@FAST
@given(seed=seeds, batch=st.integers(1, 4), vocab=st.integers(2, 9))
def test_one_token_sequences_are_scored(seed, batch, vocab):
    logits, targets = logits_and_targets(seed, batch, 1, vocab, ignored=0.0)
    got = float(gpt.lm_loss(logits, targets)["loss"])
    want = float(cross_entropy(logits, targets))
    assert abs(got - want) <= TOL * max(1.0, want), (
        f"T=1, B={batch}: lm_loss is {got}, the cross-entropy of the one position is {want:.6f}"
    )


@FAST
@given(seed=seeds, seq_len=st.integers(2, 6), vocab=st.integers(2, 8))
def test_custom_ignore_index(seed, seq_len, vocab):
    logits, targets = logits_and_targets(seed, 2, seq_len, vocab, ignored=0.4)
    targets = targets.masked_fill(targets == -1, -100)
    got = float(gpt.lm_loss(logits, targets, ignore_index=-100)["loss"])
    flat = logits.reshape(-1, vocab)
    want = float(F.cross_entropy(flat, targets.reshape(-1), ignore_index=-100))
    assert abs(got - want) <= TOL * max(1.0, want), (
        f"ignore_index=-100: lm_loss is {got:.6f}, expected {want:.6f}"
    )


@FAST
@given(seed=seeds, seq_len=st.integers(2, 8), vocab=st.integers(3, 9))
def test_confident_correct_predictions_have_near_zero_loss(seed, seq_len, vocab):
    _, targets = logits_and_targets(seed, 2, seq_len, vocab, ignored=0.0)
    logits = 30.0 * F.one_hot(targets, vocab).double()
    got = float(gpt.lm_loss(logits, targets)["loss"])
    assert got <= 1e-9, (
        f"logits that put all the mass on each position's target give a loss of {got:.4f}"
    )
