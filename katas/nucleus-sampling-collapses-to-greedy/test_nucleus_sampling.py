"""Property tests for the nucleus (top-p) sampler.

Logit rows are drawn from a seeded ``torch.randn`` in float64, so ties between token
probabilities have probability zero.  Examples where some cumulative probability lies
within 1e-9 of ``p`` are skipped: there the "smallest set with mass >= p" is decided by
rounding, and either answer is acceptable.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

# The code under test runs in the subject process.  top_p_filter takes and returns tensors:
# it is called in the module itself, under its own name (so the tests that only call it
# read, and draw their derandomized examples, exactly as before).  filter_logits and sample
# take a SamplingConfig (and a generator), which cannot cross: the kata's harness builds
# them from a dict of the config's fields (and the generator's seed).
top_p_filter = candidate("nucleus_sampling").top_p_filter
sampling = candidate("harness")

BOUNDARY = 1e-9


@st.composite
def logit_batches(draw, max_batch: int = 3, max_vocab: int = 8) -> torch.Tensor:
    seed = draw(st.integers(0, 2**31 - 1))
    batch = draw(st.integers(1, max_batch))
    vocab = draw(st.integers(2, max_vocab))
    scale = draw(st.sampled_from([0.5, 1.0, 2.0, 4.0]))
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, vocab, generator=gen, dtype=torch.float64) * scale


top_ps = st.integers(20, 980).map(lambda k: k / 1000)


def probs_of(row: torch.Tensor) -> np.ndarray:
    x = row.detach().to(torch.float64).numpy()
    e = np.exp(x - x.max())
    return e / e.sum()


def oracle_nucleus(row: torch.Tensor, p: float) -> set[int]:
    """Smallest set of most likely tokens whose mass is >= p (float64 brute force)."""
    probs = probs_of(row)
    order = np.argsort(-probs, kind="stable")
    cumulative = np.cumsum(probs[order])
    k = min(int(np.searchsorted(cumulative, p, side="left")) + 1, len(order))
    return {int(i) for i in order[:k]}


def away_from_boundary(logits: torch.Tensor, p: float) -> bool:
    for row in logits:
        cumulative = np.cumsum(np.sort(probs_of(row))[::-1])
        if np.min(np.abs(cumulative - p)) < BOUNDARY:
            return False
    return True


def kept(row: torch.Tensor) -> set[int]:
    return {int(i) for i in torch.nonzero(torch.isfinite(row)).flatten()}


def mass(probs: np.ndarray, tokens: set[int]) -> float:
    return float(sum(probs[i] for i in tokens))


def fmt(tokens: set[int]) -> str:
    return str(sorted(tokens))


def show(probs: np.ndarray) -> str:
    return "[" + ", ".join(f"{x:.3f}" for x in probs) + "]"


@given(logits=logit_batches(), p=top_ps)
def test_kept_mass_reaches_p(logits, p):
    assume(away_from_boundary(logits, p))
    out = top_p_filter(logits, p)
    for b, row in enumerate(out):
        probs = probs_of(logits[b])
        m = mass(probs, kept(row))
        assert m >= p, (
            f"row {b}, top_p={p:.4f}: the kept tokens {fmt(kept(row))} carry only "
            f"{m:.4f} of the probability mass, less than top_p (probs={show(probs)})"
        )


@given(logits=logit_batches(), p=top_ps)
def test_matches_bruteforce_nucleus(logits, p):
    assume(away_from_boundary(logits, p))
    out = top_p_filter(logits, p)
    for b, row in enumerate(out):
        probs = probs_of(logits[b])
        got, want = kept(row), oracle_nucleus(logits[b], p)
        assert got == want, (
            f"row {b}, top_p={p:.4f}: kept {fmt(got)} (mass {mass(probs, got):.4f}) but the "
            f"smallest most-likely set with mass >= top_p is {fmt(want)} "
            f"(mass {mass(probs, want):.4f}); probs={show(probs)}"
        )


@given(logits=logit_batches(), p=top_ps)
def test_kept_logits_are_untouched_and_removed_are_neg_inf(logits, p):
    out = top_p_filter(logits, p)
    finite = torch.isfinite(out)
    same = (out[finite] == logits[finite]).all().item()
    assert same, "kept logits were modified: a filter must only set removed tokens to -inf"
    n_bad = int((~finite & (out != float("-inf"))).sum())
    assert n_bad == 0, f"{n_bad} removed logits are NaN or +inf instead of -inf"


@given(logits=logit_batches(), p=top_ps)
def test_kept_tokens_are_the_most_likely(logits, p):
    out = top_p_filter(logits, p)
    for b, row in enumerate(out):
        probs = probs_of(logits[b])
        keep, drop = kept(row), set(range(len(probs))) - kept(row)
        if not drop:
            continue
        lo, hi = min(probs[i] for i in keep), max(probs[i] for i in drop)
        assert lo > hi, (
            f"row {b}, top_p={p:.4f}: a kept token has probability {lo:.4f} but a removed "
            f"token has {hi:.4f}; the kept set must be a top-probability prefix"
        )


@given(logits=logit_batches(), p=top_ps)
def test_kept_set_is_minimal(logits, p):
    assume(away_from_boundary(logits, p))
    out = top_p_filter(logits, p)
    for b, row in enumerate(out):
        probs = probs_of(logits[b])
        keep = kept(row)
        if len(keep) == 1:
            continue
        without_last = mass(probs, keep) - min(probs[i] for i in keep)
        assert without_last < p, (
            f"row {b}, top_p={p:.4f}: {len(keep)} tokens kept, but dropping the least "
            f"likely of them still leaves mass {without_last:.4f} >= top_p"
        )


@given(logits=logit_batches(), p=st.sampled_from([1e-6, 1e-3, 0.05]) | top_ps)
def test_top_token_always_kept(logits, p):
    out = top_p_filter(logits, p)
    for b, row in enumerate(out):
        top = int(torch.argmax(logits[b]))
        assert torch.isfinite(row[top]), (
            f"row {b}, top_p={p:.2e}: the most likely token {top} was removed "
            f"({len(kept(row))} tokens kept)"
        )


@given(logits=logit_batches(), p1=top_ps, p2=top_ps)
def test_kept_set_grows_with_p(logits, p1, p2):
    lo, hi = min(p1, p2), max(p1, p2)
    small, large = top_p_filter(logits, lo), top_p_filter(logits, hi)
    for b in range(logits.size(0)):
        missing = kept(small[b]) - kept(large[b])
        assert not missing, (
            f"row {b}: tokens {fmt(missing)} are kept at top_p={lo:.4f} but removed at "
            f"the larger top_p={hi:.4f}"
        )


@given(logits=logit_batches())
def test_p_one_keeps_everything(logits):
    out = sampling.filter_logits(logits, {"top_p": 1.0})
    n_removed = int((~torch.isfinite(out)).sum())
    assert n_removed == 0, f"top_p=1.0 removed {n_removed} tokens; it must keep the full vocabulary"


@given(logits=logit_batches(), p=top_ps, shift=st.integers(-50, 50))
def test_invariant_to_constant_logit_shift(logits, p, shift):
    assume(away_from_boundary(logits, p))
    before, after = top_p_filter(logits, p), top_p_filter(logits + shift, p)
    for b in range(logits.size(0)):
        assert kept(before[b]) == kept(after[b]), (
            f"row {b}, top_p={p:.4f}: adding {shift} to every logit changed the kept set "
            f"from {fmt(kept(before[b]))} to {fmt(kept(after[b]))}"
        )


@given(logits=logit_batches(max_batch=4), p=top_ps)
def test_rows_are_filtered_independently(logits, p):
    batched = top_p_filter(logits, p)
    for b in range(logits.size(0)):
        alone = top_p_filter(logits[b : b + 1], p)[0]
        assert kept(alone) == kept(batched[b]), (
            f"row {b}, top_p={p:.4f}: kept {fmt(kept(batched[b]))} in a batch of "
            f"{logits.size(0)} but {fmt(kept(alone))} on its own"
        )


def renormalised_nucleus(row: torch.Tensor, p: float) -> np.ndarray:
    probs = probs_of(row)
    nucleus = sorted(oracle_nucleus(row, p))
    expected = np.zeros_like(probs)
    expected[nucleus] = probs[nucleus] / probs[nucleus].sum()
    return expected


@given(logits=logit_batches(), p=top_ps, temperature=st.sampled_from([0.5, 0.8, 1.0, 1.5, 2.0]))
def test_sampling_distribution_is_the_renormalised_nucleus(logits, p, temperature):
    tempered = logits / temperature
    assume(away_from_boundary(tempered, p))
    config = {"temperature": temperature, "top_p": p}
    got = sampling.filter_logits(logits, config).softmax(dim=-1).numpy()
    for b in range(logits.size(0)):
        want = renormalised_nucleus(tempered[b], p)
        err = np.abs(got[b] - want)
        t = int(np.argmax(err))
        assert err[t] < 1e-9, (
            f"row {b}, top_p={p:.4f}, temperature={temperature:.3f}: token {t} is sampled "
            f"with probability {got[b][t]:.4f}, expected {want[t]:.4f} (the tempered nucleus "
            f"renormalised; tempered probs={show(probs_of(tempered[b]))})"
        )


@given(logits=logit_batches(), p=top_ps, seed=st.integers(0, 2**31 - 1))
def test_sample_is_reproducible_and_stays_in_the_nucleus(logits, p, seed):
    assume(away_from_boundary(logits, p))
    config = {"top_p": p}
    n = 64
    batch = logits.repeat_interleave(n, dim=0)
    a = sampling.sample(batch, config, seed)  # each with a fresh generator seeded with seed
    b = sampling.sample(batch, config, seed)
    assert torch.equal(a, b), f"two runs with generator seed {seed} drew different tokens"
    for row in range(logits.size(0)):
        drawn = {int(t) for t in a[row * n : (row + 1) * n]}
        outside = drawn - oracle_nucleus(logits[row], p)
        assert not outside, (
            f"row {row}, top_p={p:.3f}: tokens {fmt(outside)} outside the nucleus "
            f"{fmt(oracle_nucleus(logits[row], p))} were drawn "
            f"(probs={show(probs_of(logits[row]))})"
        )
