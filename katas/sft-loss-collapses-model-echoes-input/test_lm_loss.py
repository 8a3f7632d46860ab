"""Property tests for the causal LM loss.

Batches are built from a drawn seed: random float64 logits, token ids, and a random
set of ignored label positions.  At least two adjacent labels are always real, so
every batch has at least one target and the mean loss is defined.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

lm = candidate("lm_loss")  # the loss under test: tensors in, tensors out, in the subject process

IGNORE_INDEX = -100  # the collator's convention (lm_loss.IGNORE_INDEX)
MARGIN = 40.0


@st.composite
def lm_batches(draw, max_batch: int = 3, max_len: int = 6, max_vocab: int = 7):
    """(logits, input_ids, labels) with consecutive input tokens always distinct."""
    seed = draw(st.integers(0, 2**31 - 1))
    batch = draw(st.integers(1, max_batch))
    seq = draw(st.integers(2, max_len))
    vocab = draw(st.integers(3, max_vocab))
    ignore_rate = draw(st.sampled_from([0.0, 0.3, 0.6]))
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, seq, vocab, generator=gen, dtype=torch.float64) * 2.0
    # Each token differs from the previous one, so "predict the current token" and
    # "predict the next token" are different predictions at every position.
    steps = torch.randint(1, vocab, (batch, seq), generator=gen)
    input_ids = torch.cumsum(steps, dim=-1) % vocab
    ignored = torch.rand(batch, seq, generator=gen) < ignore_rate
    labels = input_ids.masked_fill(ignored, IGNORE_INDEX)
    real = labels != IGNORE_INDEX
    if not (real[:, 1:] & real[:, :-1]).any():
        labels[0] = input_ids[0]
    return logits, input_ids, labels


def hand_shifted(logits, labels, reduction="mean"):
    vocab = logits.size(-1)
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, vocab),
        labels[:, 1:].reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction=reduction,
    )


def one_hot_logits(token_ids: torch.Tensor, vocab: int) -> torch.Tensor:
    return F.one_hot(token_ids, vocab).to(torch.float64) * MARGIN


def shape_of(labels) -> str:
    return f"batch={labels.size(0)}, seq={labels.size(1)}, {num_targets(labels)} targets"


def num_targets(labels) -> int:
    return int((labels[:, 1:] != IGNORE_INDEX).sum())


@given(batch=lm_batches())
def test_matches_hand_shifted_cross_entropy(batch):
    logits, _, labels = batch
    for reduction in ("mean", "sum"):
        got = float(lm.causal_lm_loss(logits, labels, reduction=reduction))
        want = float(hand_shifted(logits, labels, reduction))
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (
            f"reduction={reduction!r} ({shape_of(labels)}): loss {got:.6f} but "
            f"cross-entropy of logits[:, t] against labels[:, t + 1] is {want:.6f}"
        )


@given(batch=lm_batches())
def test_near_zero_loss_when_logits_predict_the_next_token(batch):
    _, input_ids, labels = batch
    vocab = batch[0].size(-1)
    next_ids = torch.cat([input_ids[:, 1:], input_ids[:, :1]], dim=-1)
    logits = one_hot_logits(next_ids, vocab)
    loss = float(lm.causal_lm_loss(logits, labels))
    assert loss < 1e-6, (
        f"logits putting all their mass (margin {MARGIN}) on the next token give loss "
        f"{loss:.4f} ({shape_of(labels)}); a perfect next-token predictor must score ~0"
    )


@given(batch=lm_batches())
def test_large_loss_when_logits_predict_the_current_token(batch):
    _, input_ids, labels = batch
    vocab = batch[0].size(-1)
    logits = one_hot_logits(input_ids, vocab)
    loss = float(lm.causal_lm_loss(logits, labels))
    assert loss > MARGIN / 2, (
        f"logits that copy the current input token (margin {MARGIN}) give loss {loss:.4f} "
        f"({shape_of(labels)}); every target is a different token, so the loss must be "
        f"about {MARGIN:.0f}"
    )


@given(batch=lm_batches(), seed=st.integers(0, 2**31 - 1))
def test_positions_without_a_target_do_not_contribute(batch, seed):
    logits, _, labels = batch
    # Logits at position t are scored against labels[:, t + 1]; the last position and
    # positions whose next label is ignored have no target.
    no_target = torch.ones_like(labels, dtype=torch.bool)
    no_target[:, :-1] = labels[:, 1:] == IGNORE_INDEX
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(logits.shape, generator=gen, dtype=torch.float64) * 10.0
    perturbed = torch.where(no_target[..., None], logits + noise, logits)
    for reduction in ("mean", "sum"):
        before = float(lm.causal_lm_loss(logits, labels, reduction=reduction))
        after = float(lm.causal_lm_loss(perturbed, labels, reduction=reduction))
        assert math.isclose(before, after, rel_tol=1e-12, abs_tol=1e-12), (
            f"reduction={reduction!r}: changing the logits at the {int(no_target.sum())} "
            f"positions that have no next-token target moved the loss from {before:.6f} to "
            f"{after:.6f} ({shape_of(labels)})"
        )


@given(batch=lm_batches(), denominator=st.integers(1, 50))
def test_reductions_are_consistent(batch, denominator):
    logits, _, labels = batch
    n = lm.num_target_tokens(labels)
    mean = float(lm.causal_lm_loss(logits, labels))
    total = float(lm.causal_lm_loss(logits, labels, reduction="sum"))
    per_position = float(lm.causal_lm_loss(logits, labels, reduction="none").sum())
    scaled = float(lm.causal_lm_loss(logits, labels, num_items_in_batch=denominator))
    assert math.isclose(mean * n, total, rel_tol=1e-9), (
        f"mean loss {mean:.6f} times the {n} target tokens is {mean * n:.6f}, but the "
        f"summed loss is {total:.6f}"
    )
    assert math.isclose(per_position, total, rel_tol=1e-9), (
        f"reduction='none' adds up to {per_position:.6f}, reduction='sum' gives {total:.6f}"
    )
    assert math.isclose(scaled, total / denominator, rel_tol=1e-9), (
        f"num_items_in_batch={denominator} gave {scaled:.6f}, expected the summed loss "
        f"{total:.6f} / {denominator} = {total / denominator:.6f}"
    )


@given(batch=lm_batches(max_batch=4), split=st.integers(1, 3))
def test_accumulated_micro_batches_equal_the_full_batch(batch, split):
    logits, _, labels = batch
    split = min(split, labels.size(0) - 1) if labels.size(0) > 1 else 0
    full = float(lm.causal_lm_loss(logits, labels))
    n = lm.num_target_tokens(labels)
    parts = [(logits[:split], labels[:split]), (logits[split:], labels[split:])]
    accumulated = sum(
        float(lm.causal_lm_loss(lg, lb, num_items_in_batch=n)) for lg, lb in parts if lb.numel()
    )
    assert math.isclose(accumulated, full, rel_tol=1e-9), (
        f"micro-batches of {split} and {labels.size(0) - split} sequences normalised by "
        f"the {n} target tokens add up to {accumulated:.6f}, the full batch gives {full:.6f}"
    )


@given(batch=lm_batches(), offset_seed=st.integers(0, 2**31 - 1))
def test_invariant_to_a_per_position_logit_offset(batch, offset_seed):
    logits, _, labels = batch
    gen = torch.Generator().manual_seed(offset_seed)
    offset = torch.randn(*logits.shape[:2], 1, generator=gen, dtype=torch.float64) * 100.0
    before = float(lm.causal_lm_loss(logits, labels))
    after = float(lm.causal_lm_loss(logits + offset, labels))
    assert math.isclose(before, after, rel_tol=1e-9), (
        f"adding a constant to each position's logits moved the loss from {before:.6f} to "
        f"{after:.6f}; softmax cross-entropy is shift-invariant"
    )


@given(batch=lm_batches(), data=st.data())
def test_build_labels_ignores_padding_and_prompt(batch, data):
    _, input_ids, _ = batch
    bsz, seq = input_ids.shape
    lengths = torch.tensor(data.draw(st.lists(st.integers(1, seq), min_size=bsz, max_size=bsz)))
    prompts = torch.tensor(data.draw(st.lists(st.integers(0, seq), min_size=bsz, max_size=bsz)))
    mask = (torch.arange(seq)[None, :] < lengths[:, None]).long()
    labels = lm.build_labels(input_ids, mask, prompts)
    for b in range(bsz):
        for t in range(seq):
            real = t < int(lengths[b]) and t >= int(prompts[b])
            want = int(input_ids[b, t]) if real else IGNORE_INDEX
            assert int(labels[b, t]) == want, (
                f"sequence {b} (length {int(lengths[b])}, prompt {int(prompts[b])}): label at "
                f"position {t} is {int(labels[b, t])}, expected {want}"
            )
