"""Holdout properties for the sampling filters (not shown to the candidate): banned tokens,
wide vocabularies, extra leading dimensions, shifted and permuted logits, disabled filters,
sampling frequencies among tied tokens, and logits large enough that exp overflows."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from test_token_sampling import (
    TEMPERATURES,
    check_rows,
    frequency_check,
    ids,
    kept_of,
    logit_rows,
    near_threshold,
    oracle,
    top_ps,
)

from grader.grading.boundary import candidate

ops = candidate("token_sampling")
sampling = candidate("harness")


@given(logit_rows(), st.integers(0, 6), top_ps, st.sampled_from(TEMPERATURES), st.data())
def test_banned_tokens_stay_removed(logits, top_k, top_p, temperature, data):
    vocab = logits.size(-1)
    banned = data.draw(st.lists(st.integers(0, vocab - 1), min_size=1, max_size=vocab - 1))
    logits = logits.clone()
    logits[:, sorted(set(banned))] = -math.inf
    assume(not any(near_threshold(r, top_k, top_p, temperature) for r in logits.double().numpy()))
    out = ops.filter_logits(logits, top_k, top_p, temperature)
    check_rows(logits, out, top_k, top_p, temperature, f"tokens {sorted(set(banned))} banned")


@st.composite
def wide_rows(draw):
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    vocab = draw(st.integers(100, 600))
    scale = draw(st.sampled_from([1.0, 2.0, 3.0]))
    return scale * torch.randn(draw(st.integers(1, 2)), vocab, generator=gen, dtype=torch.float64)


@given(wide_rows(), st.sampled_from([0, 1, 5, 40, 1000]), top_ps, st.sampled_from(TEMPERATURES))
def test_wide_vocabularies_match_the_oracle(logits, top_k, top_p, temperature):
    assume(not any(near_threshold(r, top_k, top_p, temperature) for r in logits.numpy()))
    out = ops.filter_logits(logits, top_k, top_p, temperature)
    check_rows(logits, out, top_k, top_p, temperature, f"vocab {logits.size(-1)}")


@given(logit_rows(max_batch=2), st.integers(0, 6), top_ps, st.sampled_from(TEMPERATURES))
def test_leading_dimensions_are_a_batch(logits, top_k, top_p, temperature):
    stacked = torch.stack([logits, logits.flip(0), 2 * logits])  # (3, batch, vocab)
    out = ops.filter_logits(stacked, top_k, top_p, temperature)
    assert out.shape == stacked.shape, f"{tuple(stacked.shape)} in, {tuple(out.shape)} out"
    for i in range(3):
        alone = ops.filter_logits(stacked[i], top_k, top_p, temperature)
        same = np.array_equal(kept_of(out[i]), kept_of(alone))
        assert same, f"slice {i} of a (3, batch, vocab) input keeps other tokens than on its own"


@given(
    logit_rows(),
    st.integers(0, 6),
    top_ps,
    st.sampled_from(TEMPERATURES),
    st.integers(-40, 40),
    st.integers(0, 2**31 - 1),
)
def test_shifting_and_permuting_the_logits(logits, top_k, top_p, temperature, shift, seed):
    assume(not any(near_threshold(r, top_k, top_p, temperature) for r in logits.double().numpy()))
    perm = torch.randperm(logits.size(-1), generator=torch.Generator().manual_seed(seed))
    base = kept_of(ops.filter_logits(logits, top_k, top_p, temperature))
    moved = kept_of(ops.filter_logits(logits[:, perm] + shift, top_k, top_p, temperature))
    for b in range(logits.size(0)):
        want = base[b][perm.numpy()]
        assert np.array_equal(moved[b], want), (
            f"row {b}: after adding {shift} and permuting the vocabulary the kept tokens are "
            f"{ids(moved[b])}, expected {ids(want)} (the same tokens, permuted)"
        )


@given(logit_rows(), st.sampled_from(TEMPERATURES), st.integers(0, 5))
def test_disabled_filters_keep_every_token(logits, temperature, extra):
    vocab = logits.size(-1)
    for top_k in (0, vocab, vocab + extra):
        out = ops.filter_logits(logits, top_k, 1.0, temperature)
        n_removed = int((~torch.isfinite(out)).sum())
        assert n_removed == 0, (
            f"top_k={top_k} (vocab {vocab}), top_p=1.0: {n_removed} tokens were removed"
        )
        err = float(
            (out.double().softmax(-1) - (logits.double() / temperature).softmax(-1)).abs().max()
        )
        assert err < 1e-5, f"top_k={top_k}, top_p=1.0: the distribution moved by {err:.2e}"


@given(
    logit_rows(max_batch=2, max_vocab=6, ties=True),
    st.integers(0, 4),
    top_ps,
    st.sampled_from(TEMPERATURES),
    st.integers(0, 2**31 - 1),
)
def test_sampling_frequencies_with_tied_logits(logits, top_k, top_p, temperature, seed):
    assume(not any(near_threshold(r, top_k, top_p, temperature) for r in logits.double().numpy()))
    n = 4000
    draws = sampling.sample_many(logits, n, top_k, top_p, temperature, seed)
    frequency_check(logits, top_k, top_p, temperature, draws, f"{n} draws, tied logits")


@given(
    logit_rows(max_batch=2, max_vocab=6),
    st.integers(0, 6),
    top_ps,
    st.sampled_from(TEMPERATURES),
    st.sampled_from([300.0, 1000.0]),
    st.integers(0, 2**31 - 1),
)
def test_sampling_survives_a_large_logit_offset(logits, top_k, top_p, temperature, offset, seed):
    shifted = logits + offset  # a confident model: tempered logits in the hundreds
    assume(not any(near_threshold(r, top_k, top_p, temperature) for r in shifted.double().numpy()))
    n = 2000
    draws = sampling.sample_many(shifted, n, top_k, top_p, temperature, seed)
    assert draws.dtype == torch.int64 and draws.shape == (shifted.size(0), n), (
        f"sample returned {draws.dtype} {tuple(draws.shape)}"
    )
    frequency_check(
        shifted, top_k, top_p, temperature, draws, f"{n} draws, {offset:g} added to the logits"
    )


@given(
    logit_rows(),
    st.integers(0, 6),
    st.integers(20, 990).map(lambda k: k / 1000),
    st.sampled_from(TEMPERATURES),
    st.sampled_from([-2000.0, 2000.0]),
)
def test_huge_logits_keep_the_same_tokens(logits, top_k, top_p, temperature, offset):
    logits = logits.double()
    assume(not any(near_threshold(r, top_k, top_p, temperature) for r in logits.numpy()))
    out = ops.filter_logits(logits + offset, top_k, top_p, temperature)
    for b in range(logits.size(0)):
        keep, _ = oracle(logits[b].numpy(), top_k, top_p, temperature)
        got = kept_of(out[b])
        assert np.array_equal(got, keep), (
            f"row {b}, top_k={top_k}, top_p={top_p}, temperature={temperature}, {offset:g} "
            f"added to every logit: kept tokens {ids(got)}, expected {ids(keep)} (the same as "
            "without the offset: exp of the raw logits overflows, softmax does not)"
        )
