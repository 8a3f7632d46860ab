"""Property tests for temperature, top-k and top-p filtering and sampling.

The oracle is the module docstring read literally, in float64 NumPy: a token survives
top-k when fewer than ``top_k`` tokens have a strictly larger (tempered) logit, and top-p
when the probability of the tokens strictly more likely than it is below ``top_p``.
Logits are either continuous (seeded ``torch.randn``, no ties) or small integers (many
ties).  Examples where a mass lies within a rounding error of ``top_p`` are skipped:
there either answer is acceptable.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

ops = candidate("token_sampling")  # filter_logits and sample take tensors and numbers
sampling = candidate("harness")  # sample with a generator seeded in the subject

TEMPERATURES = [0.5, 1.0, 1.7]


@st.composite
def logit_rows(draw, max_batch: int = 3, max_vocab: int = 10, ties: bool | None = None):
    seed = draw(st.integers(0, 2**31 - 1))
    batch, vocab = draw(st.integers(1, max_batch)), draw(st.integers(2, max_vocab))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    gen = torch.Generator().manual_seed(seed)
    ties = draw(st.booleans()) if ties is None else ties
    if ties:
        logits = torch.randint(-2, 3, (batch, vocab), generator=gen).to(dtype)
    else:
        scale = draw(st.sampled_from([0.5, 1.0, 2.0, 4.0]))
        logits = (scale * torch.randn(batch, vocab, generator=gen, dtype=torch.float64)).to(dtype)
    return logits


top_ps = st.just(1.0) | st.integers(20, 990).map(lambda k: k / 1000)


def oracle(row: np.ndarray, top_k: int, top_p: float, temperature: float):
    """(kept mask, filtered probabilities) of one row, float64."""
    x = row.astype(np.float64) / temperature
    keep = np.isfinite(x)
    larger = x[None, :] > x[:, None]  # [i, j]: token j has a strictly larger logit than i
    if top_k > 0:
        keep &= larger.sum(axis=1) < top_k
    if top_p < 1.0:
        p = softmax_where(x, keep)
        keep &= (larger * p[None, :]).sum(axis=1) < top_p
    return keep, softmax_where(x, keep)


def softmax_where(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    e = np.where(keep, np.exp(np.where(keep, x, -np.inf) - x[keep].max()), 0.0)
    return e / e.sum()


def near_threshold(row: np.ndarray, top_k: int, top_p: float, temperature: float) -> bool:
    """True when some token's 'mass strictly above it' is within rounding of top_p."""
    if top_p >= 1.0:
        return False
    x = row.astype(np.float64) / temperature
    keep = np.isfinite(x)
    larger = x[None, :] > x[:, None]
    if top_k > 0:
        keep &= larger.sum(axis=1) < top_k
    p = softmax_where(x, keep)
    above = (larger * p[None, :]).sum(axis=1)[keep]
    return bool(np.min(np.abs(above - top_p)) < 1e-5)


def kept_of(out: torch.Tensor) -> np.ndarray:
    return torch.isfinite(out).numpy()


def ids(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask).tolist()


def show(x: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in x) + "]"


def check_rows(logits, out, top_k, top_p, temperature, what: str) -> None:
    assert out.shape == logits.shape and out.dtype == logits.dtype, (
        f"{what}: {logits.dtype} {tuple(logits.shape)} in, {out.dtype} {tuple(out.shape)} out"
    )
    settings = f"top_k={top_k}, top_p={top_p}, temperature={temperature}"
    for b in range(logits.size(0)):
        row = logits[b].double().numpy()
        keep, want = oracle(row, top_k, top_p, temperature)
        got_keep = kept_of(out[b])
        assert np.array_equal(got_keep, keep), (
            f"{what}, row {b}, {settings}: kept tokens {ids(got_keep)}, expected {ids(keep)} "
            f"(tempered probs {show(softmax_where(row / temperature, np.isfinite(row)))})"
        )
        n_bad = int((out[b][~torch.from_numpy(keep)] != -math.inf).sum())
        assert n_bad == 0, f"{what}, row {b}: {n_bad} removed tokens are not -inf"
        got = out[b].double().softmax(-1).numpy()
        err = float(np.abs(got - want).max())
        tol = 1e-5 if logits.dtype == torch.float32 else 1e-12
        assert err < tol, (
            f"{what}, row {b}, {settings}: the softmax of the result differs from the filtered "
            f"distribution by {err:.2e} (got {show(got)}, expected {show(want)})"
        )


@given(
    logit_rows(ties=False),
    st.integers(0, 12),
    top_ps,
    st.sampled_from(TEMPERATURES),
)
def test_filtered_distribution_matches_the_float64_oracle(logits, top_k, top_p, temperature):
    assume(not any(near_threshold(r, top_k, top_p, temperature) for r in logits.double().numpy()))
    out = ops.filter_logits(logits, top_k, top_p, temperature)
    check_rows(logits, out, top_k, top_p, temperature, "continuous logits")


@given(
    logit_rows(max_vocab=12, ties=False),
    st.integers(300, 950).map(lambda k: k / 1000),
    st.sampled_from([0.25, 0.5, 2.0, 4.0]),
)
def test_temperature_is_applied_before_top_p(logits, top_p, temperature):
    assume(not any(near_threshold(r, 0, top_p, temperature) for r in logits.double().numpy()))
    out = ops.filter_logits(logits, 0, top_p, temperature)
    check_rows(logits, out, 0, top_p, temperature, "top-p with a temperature")


@st.composite
def wide_flat_rows(draw):
    """Flat rows of 8-16 tokens and a top_k of at most half of them, so that the mass top-k
    removes is large."""
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    vocab = draw(st.integers(8, 16))
    scale = draw(st.sampled_from([0.5, 1.0]))
    logits = scale * torch.randn(draw(st.integers(1, 3)), vocab, generator=gen, dtype=torch.float64)
    return logits, draw(st.integers(2, vocab // 2))


@given(
    wide_flat_rows(), st.integers(300, 950).map(lambda k: k / 1000), st.sampled_from(TEMPERATURES)
)
def test_top_p_is_measured_on_the_top_k_distribution(case, top_p, temperature):
    logits, top_k = case
    assume(not any(near_threshold(r, top_k, top_p, temperature) for r in logits.numpy()))
    out = ops.filter_logits(logits, top_k, top_p, temperature)
    check_rows(logits, out, top_k, top_p, temperature, "top-k then top-p")


@given(logit_rows(ties=True), st.integers(1, 8), st.sampled_from(TEMPERATURES))
def test_top_k_keeps_every_token_tied_with_the_kth(logits, top_k, temperature):
    out = ops.filter_logits(logits, top_k, 1.0, temperature)
    check_rows(logits, out, top_k, 1.0, temperature, "integer logits with ties, top-k only")


@given(logit_rows(ties=True), top_ps, st.sampled_from(TEMPERATURES), st.integers(0, 6))
def test_top_p_keeps_tied_tokens_together(logits, top_p, temperature, top_k):
    assume(not any(near_threshold(r, top_k, top_p, temperature) for r in logits.double().numpy()))
    out = ops.filter_logits(logits, top_k, top_p, temperature)
    check_rows(logits, out, top_k, top_p, temperature, "integer logits with ties")


@given(
    logit_rows(),
    st.sampled_from([1e-9, 1e-3, 0.05]),
    st.sampled_from([0, 1, 2]),
    st.sampled_from([0.01, 0.1, 1.0]),
)
def test_the_most_likely_tokens_are_always_kept(logits, top_p, top_k, temperature):
    out = ops.filter_logits(logits * 30, top_k, top_p, temperature)
    for b in range(logits.size(0)):
        top = logits[b] == logits[b].max()
        got = kept_of(out[b])
        assert got[top.numpy()].all(), (
            f"row {b}, top_k={top_k}, top_p={top_p}, temperature={temperature}: the most likely "
            f"tokens {ids(top.numpy())} are not all kept (kept {ids(got)})"
        )
        probs = out[b].double().softmax(-1)
        assert torch.isfinite(probs).all(), f"row {b}: the filtered distribution has NaN"


INVALID = [(0, 1.0, 0.0), (0, 1.0, -1.0), (0, 0.0, 1.0), (0, 1.5, 1.0), (-1, 1.0, 1.0)]


def test_invalid_parameters_raise_value_error():
    logits = torch.zeros(1, 4)
    for top_k, top_p, temperature in INVALID:
        with pytest.raises(ValueError):
            ops.filter_logits(logits, top_k, top_p, temperature)
            pytest.fail(f"top_k={top_k}, top_p={top_p}, temperature={temperature}: no ValueError")


def frequency_check(logits, top_k, top_p, temperature, draws, what: str) -> None:
    n = draws.shape[-1]
    for b in range(logits.size(0)):
        _, want = oracle(logits[b].double().numpy(), top_k, top_p, temperature)
        counts = np.bincount(draws[b].numpy(), minlength=logits.size(-1))
        outside = [t for t in ids(counts > 0) if want[t] == 0]
        assert not outside, f"{what}, row {b}: removed tokens {outside} were drawn"
        freq = counts / n
        sigma = np.sqrt(want * (1 - want) / n)
        z = np.abs(freq - want) / np.maximum(sigma, 1e-12)
        t = int(np.argmax(np.where(np.abs(freq - want) > 1.0 / n, z, 0.0)))
        assert not (z[t] > 5 and abs(freq[t] - want[t]) > 1.0 / n), (
            f"{what}, row {b}, top_k={top_k}, top_p={top_p}, temperature={temperature}: token "
            f"{t} drawn {freq[t]:.4f} of {n} times, expected {want[t]:.4f} ({z[t]:.1f} sigma)"
        )


@given(
    logit_rows(max_batch=2, max_vocab=6, ties=False),
    st.integers(0, 6),
    top_ps,
    st.sampled_from(TEMPERATURES),
    st.integers(0, 2**31 - 1),
)
def test_sampling_frequencies_match_the_filtered_distribution(
    logits, top_k, top_p, temperature, seed
):
    assume(not any(near_threshold(r, top_k, top_p, temperature) for r in logits.double().numpy()))
    n = 4000
    draws = sampling.sample_many(logits, n, top_k, top_p, temperature, seed)
    assert draws.dtype == torch.int64, f"sample returned {draws.dtype}, expected int64"
    assert draws.shape == (logits.size(0), n), (
        f"sample returned shape {tuple(draws.shape)} for {n} copies of {logits.size(0)} rows"
    )
    frequency_check(logits, top_k, top_p, temperature, draws, f"{n} draws")


@given(logit_rows(ties=False), st.integers(0, 2**31 - 1))
def test_sampling_is_reproducible_for_a_seed(logits, seed):
    flat = torch.zeros(1, 16, dtype=logits.dtype)
    a = sampling.sample_many(flat, 256, 0, 1.0, 1.0, seed)
    b = sampling.sample_many(flat, 256, 0, 1.0, 1.0, seed)
    c = sampling.sample_many(flat, 256, 0, 1.0, 1.0, seed + 1)
    assert torch.equal(a, b), f"two samplers seeded with {seed} drew different tokens"
    assert not torch.equal(a, c), (
        f"generators seeded {seed} and {seed + 1} drew the same 256 tokens from a uniform "
        "distribution over 16: is the generator used?"
    )
    one = sampling.sample_one(logits, 0, 0.9, 1.0, seed)
    assert one.shape == logits.shape[:-1] and one.dtype == torch.int64, (
        f"sample of {tuple(logits.shape)} logits returned {one.dtype} {tuple(one.shape)}, "
        f"expected int64 {tuple(logits.shape[:-1])}"
    )
    assert torch.equal(one, sampling.sample_one(logits, 0, 0.9, 1.0, seed)), (
        f"two samples of the same logits with generator seed {seed} differ"
    )
