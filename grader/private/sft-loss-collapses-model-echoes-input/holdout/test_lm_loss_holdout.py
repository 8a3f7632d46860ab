"""Holdout properties for the causal LM loss (not shown to the candidate)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

lm = candidate("lm_loss")
losses = candidate("harness")

IGNORE_INDEX = -100


@st.composite
def lm_batches(draw, max_batch: int = 3, max_len: int = 6, max_vocab: int = 7):
    seed = draw(st.integers(0, 2**31 - 1))
    batch = draw(st.integers(1, max_batch))
    seq = draw(st.integers(2, max_len))
    vocab = draw(st.integers(3, max_vocab))
    ignore_rate = draw(st.sampled_from([0.0, 0.3, 0.6]))
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, seq, vocab, generator=gen, dtype=torch.float64) * 2.0
    input_ids = torch.randint(0, vocab, (batch, seq), generator=gen)
    ignored = torch.rand(batch, seq, generator=gen) < ignore_rate
    labels = input_ids.masked_fill(ignored, IGNORE_INDEX)
    real = labels != IGNORE_INDEX
    if not (real[:, 1:] & real[:, :-1]).any():
        labels[0] = input_ids[0]
    return logits, labels


def oracle_per_position(logits, labels):
    """(B, T) float64: CE(logits[b, t], labels[b, t + 1]), zero where there is no target."""
    out = torch.zeros(labels.shape, dtype=torch.float64)
    logp = torch.log_softmax(logits.to(torch.float64), dim=-1)
    for b in range(labels.size(0)):
        for t in range(labels.size(1) - 1):
            target = int(labels[b, t + 1])
            if target != IGNORE_INDEX:
                out[b, t] = -logp[b, t, target]
    return out


@given(batch=lm_batches(), seed=st.integers(0, 2**31 - 1))
def test_first_label_never_matters(batch, seed):
    logits, labels = batch
    gen = torch.Generator().manual_seed(seed)
    changed = labels.clone()
    changed[:, 0] = torch.randint(0, logits.size(-1), (labels.size(0),), generator=gen)
    changed[::2, 0] = IGNORE_INDEX
    before = float(lm.causal_lm_loss(logits, labels, reduction="sum"))
    after = float(lm.causal_lm_loss(logits, changed, reduction="sum"))
    assert math.isclose(before, after, rel_tol=1e-12, abs_tol=1e-12), (
        f"changing only the first label of each sequence moved the summed loss from "
        f"{before:.6f} to {after:.6f}; nothing predicts the first token"
    )


@given(batch=lm_batches(), seed=st.integers(0, 2**31 - 1))
def test_last_position_logits_never_matter(batch, seed):
    logits, labels = batch
    gen = torch.Generator().manual_seed(seed)
    perturbed = logits.clone()
    perturbed[:, -1] += torch.randn(perturbed[:, -1].shape, generator=gen, dtype=torch.float64) * 10
    before = float(lm.causal_lm_loss(logits, labels, reduction="sum"))
    after = float(lm.causal_lm_loss(perturbed, labels, reduction="sum"))
    assert math.isclose(before, after, rel_tol=1e-12, abs_tol=1e-12), (
        f"changing the logits at the last position moved the summed loss from {before:.6f} "
        f"to {after:.6f}; the last position has no next token"
    )


@given(batch=lm_batches())
def test_per_position_losses_match_the_oracle(batch):
    logits, labels = batch
    got = lm.causal_lm_loss(logits, labels, reduction="none")
    seq = labels.size(1)
    # The docstring promises (batch, seq) with a zero at the last position; a (batch, seq - 1)
    # result that simply leaves out the last position is accepted too.
    assert tuple(got.shape) in {(labels.size(0), seq), (labels.size(0), seq - 1)}, (
        f"reduction='none' returned shape {tuple(got.shape)} for labels {tuple(labels.shape)}"
    )
    want = oracle_per_position(logits, labels)[:, : got.size(1)]
    err = (got - want).abs()
    b, t = divmod(int(err.argmax()), got.size(1))
    assert float(err.max()) < 1e-9, (
        f"per-position loss at (sequence {b}, position {t}) is {float(got[b, t]):.6f}, "
        f"expected {float(want[b, t]):.6f} (cross-entropy against the label at {t + 1}, "
        f"0 if that label is ignored or absent)"
    )


@given(batch=lm_batches(), denominator=st.integers(1, 40))
def test_gradient_matches_the_hand_shifted_loss(batch, denominator):
    logits, labels = batch
    got = losses.loss_gradient(logits, labels, num_items_in_batch=denominator)
    y = logits.clone().requires_grad_(True)
    vocab = logits.size(-1)
    want = F.cross_entropy(
        y[:, :-1].reshape(-1, vocab),
        labels[:, 1:].reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    (want / denominator).backward()
    assert got is not None and got.shape == y.grad.shape, (
        f"no gradient (or a wrongly shaped one) w.r.t. the logits {tuple(logits.shape)}"
    )
    err = float((got - y.grad).abs().max())
    assert err < 1e-10, (
        f"gradient w.r.t. the logits differs from the hand-shifted loss's gradient by up "
        f"to {err:.3e} (num_items_in_batch={denominator})"
    )


@given(batch=lm_batches())
def test_half_precision_logits_are_upcast(batch):
    logits, labels = batch
    half = logits.to(torch.bfloat16)
    got = lm.causal_lm_loss(half, labels)
    vocab = logits.size(-1)
    want = F.cross_entropy(
        half.float()[:, :-1].reshape(-1, vocab),
        labels[:, 1:].reshape(-1),
        ignore_index=IGNORE_INDEX,
    )
    assert got.dtype == torch.float32, f"bfloat16 logits gave a {got.dtype} loss, not float32"
    assert math.isclose(float(got), float(want), rel_tol=1e-5), (
        f"bfloat16 logits: loss {float(got):.6f}, expected {float(want):.6f} from the same "
        f"logits upcast to float32"
    )


@given(batch=lm_batches(), reduction=st.sampled_from(["mean", "sum"]))
def test_module_wrapper_matches_the_function(batch, reduction):
    logits, labels = batch
    got = float(losses.loss_module(logits, labels, reduction))
    want = float(lm.causal_lm_loss(logits, labels, reduction=reduction))
    assert math.isclose(got, want, rel_tol=1e-12), (
        f"CausalLMLoss(reduction={reduction!r}) gave {got:.6f}, causal_lm_loss gave {want:.6f}"
    )


@given(batch=lm_batches(), seed=st.integers(0, 2**31 - 1), where=st.integers(0, 3))
def test_a_sequence_without_targets_adds_nothing(batch, seed, where):
    logits, labels = batch
    gen = torch.Generator().manual_seed(seed)
    extra_logits = torch.randn(1, *logits.shape[1:], generator=gen, dtype=torch.float64) * 5.0
    extra_labels = torch.full((1, labels.size(1)), IGNORE_INDEX)
    where = min(where, labels.size(0))
    more_logits = torch.cat([logits[:where], extra_logits, logits[where:]])
    more_labels = torch.cat([labels[:where], extra_labels, labels[where:]])
    for reduction in ("mean", "sum"):
        before = float(lm.causal_lm_loss(logits, labels, reduction=reduction))
        after = float(lm.causal_lm_loss(more_logits, more_labels, reduction=reduction))
        assert math.isclose(before, after, rel_tol=1e-12, abs_tol=1e-12), (
            f"reduction={reduction!r}: adding a sequence whose labels are all ignored moved the "
            f"loss from {before:.6f} to {after:.6f}"
        )
    n, n_more = lm.num_target_tokens(labels), lm.num_target_tokens(more_labels)
    assert n == n_more, f"an all-ignored sequence changed num_target_tokens from {n} to {n_more}"


def test_single_token_sequences_have_no_target():
    logits = torch.randn(3, 1, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    labels = torch.tensor([[1], [4], [IGNORE_INDEX]])
    total = float(lm.causal_lm_loss(logits, labels, reduction="sum"))
    per_position = lm.causal_lm_loss(logits, labels, reduction="none")
    n = lm.num_target_tokens(labels)
    assert n == 0, f"three one-token sequences have no next token, yet num_target_tokens = {n}"
    assert total == 0.0, f"one-token sequences have no target, yet the summed loss is {total:.6f}"
    assert float(per_position.abs().sum()) == 0.0, (
        "one-token sequences have no target, yet reduction='none' has non-zero entries"
    )


@given(batch=lm_batches())
def test_float64_and_float32_logits_keep_their_dtype(batch):
    logits, labels = batch
    for dtype in (torch.float64, torch.float32):
        got = lm.causal_lm_loss(logits.to(dtype), labels)
        assert got.dtype == dtype, f"{dtype} logits gave a {got.dtype} loss"
    vocab = logits.size(-1)
    want = F.cross_entropy(
        logits[:, :-1].reshape(-1, vocab), labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX
    )
    got = float(lm.causal_lm_loss(logits.float(), labels))
    assert math.isclose(got, float(want), rel_tol=1e-5, abs_tol=1e-5), (
        f"float32 logits: loss {got:.6f}, expected {float(want):.6f}"
    )


@given(batch=lm_batches())
def test_a_custom_ignore_index_is_honoured(batch):
    logits, labels = batch
    custom = -1  # a collator that marks ignored labels with -1 instead of -100
    labels = labels.masked_fill(labels == IGNORE_INDEX, custom)
    n = lm.num_target_tokens(labels, ignore_index=custom)
    want_n = int((labels[:, 1:] != custom).sum())
    assert n == want_n, (
        f"with ignore_index={custom}, num_target_tokens = {n}, but {want_n} labels after the "
        f"first are not ignored (batch={labels.size(0)}, seq={labels.size(1)})"
    )
    vocab = logits.size(-1)
    for reduction in ("mean", "sum"):
        got = float(lm.causal_lm_loss(logits, labels, ignore_index=custom, reduction=reduction))
        want = float(
            F.cross_entropy(
                logits[:, :-1].reshape(-1, vocab),
                labels[:, 1:].reshape(-1),
                ignore_index=custom,
                reduction=reduction,
            )
        )
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (
            f"with ignore_index={custom}, reduction={reduction!r}: loss {got:.6f}, expected "
            f"{want:.6f} from logits[:, t] against labels[:, t + 1]"
        )
