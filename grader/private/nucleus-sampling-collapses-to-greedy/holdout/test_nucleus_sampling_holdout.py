"""Holdout properties for the nucleus sampler (not shown to the candidate)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from test_nucleus_sampling import BOUNDARY, kept, probs_of, top_ps

from grader.grading.boundary import candidate

top_p_filter = candidate("nucleus_sampling").top_p_filter  # as in the visible tests
sampling = candidate("harness")


@st.composite
def logit_batches(draw, max_batch: int = 3, max_vocab: int = 8, scales=(0.5, 1.0, 2.0, 4.0)):
    seed = draw(st.integers(0, 2**31 - 1))
    batch = draw(st.integers(1, max_batch))
    vocab = draw(st.integers(2, max_vocab))
    scale = draw(st.sampled_from(scales))
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, vocab, generator=gen, dtype=torch.float64) * scale


def oracle_nucleus(row: torch.Tensor, p: float, min_keep: int = 1) -> set[int]:
    probs = probs_of(row)
    order = np.argsort(-probs, kind="stable")
    cumulative = np.cumsum(probs[order])
    k = int(np.searchsorted(cumulative, p, side="left")) + 1
    k = min(max(k, min_keep), len(order))
    return {int(i) for i in order[:k]}


def away_from_boundary(logits: torch.Tensor, p: float, margin: float = BOUNDARY) -> bool:
    for row in logits:
        cumulative = np.cumsum(np.sort(probs_of(row))[::-1])
        if np.min(np.abs(cumulative - p)) < margin:
            return False
    return True


@given(logits=logit_batches(), p=top_ps, seed=st.integers(0, 2**31 - 1))
def test_permuting_the_vocabulary_permutes_the_kept_set(logits, p, seed):
    assume(away_from_boundary(logits, p))
    perm = torch.randperm(logits.size(-1), generator=torch.Generator().manual_seed(seed))
    out = top_p_filter(logits, p)
    out_perm = top_p_filter(logits[:, perm], p)
    for b in range(logits.size(0)):
        want = {int(perm[j]) for j in kept(out_perm[b])}
        assert kept(out[b]) == want, (
            f"row {b}, top_p={p:.3f}: kept {sorted(kept(out[b]))}, but after permuting the "
            f"vocabulary by {perm.tolist()} the kept tokens map back to {sorted(want)}"
        )


@given(
    logits=logit_batches(max_batch=2, max_vocab=32, scales=(1.0, 3.0, 8.0)),
    p=st.sampled_from([0.01, 0.05, 0.2]) | top_ps,
)
def test_matches_bruteforce_on_peaked_and_wide_vocabularies(logits, p):
    assume(away_from_boundary(logits, p))
    out = top_p_filter(logits, p)
    for b in range(logits.size(0)):
        got, want = kept(out[b]), oracle_nucleus(logits[b], p)
        probs = probs_of(logits[b])
        assert got == want, (
            f"row {b}, top_p={p:.3f}, vocab={logits.size(-1)}: kept {len(got)} tokens "
            f"(mass {sum(probs[i] for i in got):.4f}), expected the {len(want)} most likely "
            f"(mass {sum(probs[i] for i in want):.4f}); top prob {probs.max():.4f}"
        )


@given(logits=logit_batches(), p=top_ps, min_keep=st.integers(1, 4))
def test_min_tokens_to_keep_extends_a_short_nucleus_only(logits, p, min_keep):
    assume(away_from_boundary(logits, p))
    out = top_p_filter(logits, p, min_tokens_to_keep=min_keep)
    for b in range(logits.size(0)):
        got, want = kept(out[b]), oracle_nucleus(logits[b], p, min_keep)
        assert got == want, (
            f"row {b}, top_p={p:.3f}, min_tokens_to_keep={min_keep}: kept {sorted(got)}, "
            f"expected {sorted(want)} (nucleus {sorted(oracle_nucleus(logits[b], p))})"
        )


@given(logits=logit_batches(max_vocab=10), p=top_ps, top_k=st.integers(1, 6))
def test_top_p_is_applied_to_the_renormalised_top_k_distribution(logits, p, top_k):
    k = min(top_k, logits.size(-1))
    topk = torch.topk(logits, k, dim=-1)
    restricted = torch.full_like(logits, float("-inf")).scatter(-1, topk.indices, topk.values)
    assume(away_from_boundary(restricted, p))
    out = sampling.filter_logits(logits, {"top_k": top_k, "top_p": p})
    for b in range(logits.size(0)):
        want = oracle_nucleus(restricted[b], p) & {int(i) for i in topk.indices[b]}
        assert kept(out[b]) == want, (
            f"row {b}, top_k={top_k}, top_p={p:.3f}: kept {sorted(kept(out[b]))}, expected "
            f"{sorted(want)} (nucleus of the renormalised top-{k} distribution)"
        )


@given(logits=logit_batches(), p=top_ps)
def test_float32_logits_give_the_float64_nucleus(logits, p):
    assume(away_from_boundary(logits, p, margin=1e-4))
    out = top_p_filter(logits.float(), p)
    for b in range(logits.size(0)):
        want = oracle_nucleus(logits[b], p)
        assert kept(out[b]) == want, (
            f"row {b}, top_p={p:.3f}: float32 logits kept {sorted(kept(out[b]))}, the float64 "
            f"nucleus is {sorted(want)}"
        )


@given(logits=logit_batches(max_batch=1, max_vocab=6), p=top_ps, seed=st.integers(0, 2**31 - 1))
def test_sample_draws_every_likely_nucleus_token(logits, p, seed):
    assume(away_from_boundary(logits, p))
    n = 200
    draws = sampling.sample(logits.expand(n, -1), {"top_p": p}, seed)
    drawn = {int(t) for t in draws.unique()}
    probs = probs_of(logits[0])
    nucleus = sorted(oracle_nucleus(logits[0], p))
    renorm = probs[nucleus] / probs[nucleus].sum()
    # A token with renormalised probability >= 0.1 is missed by 200 draws w.p. < 1e-9.
    likely = {t for t, q in zip(nucleus, renorm, strict=True) if q >= 0.1}
    assert likely <= drawn, (
        f"top_p={p:.3f}: nucleus tokens {sorted(likely - drawn)} were never drawn in {n} "
        f"samples (nucleus {nucleus}, renormalised {[round(float(q), 3) for q in renorm]})"
    )
    assert drawn <= set(nucleus), (
        f"top_p={p:.3f}: tokens {sorted(drawn - set(nucleus))} outside the nucleus {nucleus} "
        "were drawn"
    )


@st.composite
def tied_rows(draw):
    """(logits row, top_p, nucleus size): a row whose probabilities come in groups of equal
    value, and a top_p whose cut falls strictly inside a group of two or more ties."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    counts = rng.integers(1, 4, size=int(rng.integers(2, 5)))
    counts[rng.integers(len(counts))] = max(2, counts.max())
    levels = np.sort(rng.uniform(0.5, 3.0, size=len(counts)))[::-1]
    logits = np.repeat(levels, counts)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    cumulative = np.cumsum(probs)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    group = draw(st.sampled_from([g for g in range(len(counts)) if counts[g] >= 2]))
    inside = draw(st.integers(1, int(counts[group]) - 1))  # tied tokens the nucleus takes
    size = int(starts[group]) + inside
    lo, hi = cumulative[size - 2] if size >= 2 else 0.0, cumulative[size - 1]
    p = float(lo + draw(st.floats(0.1, 0.9)) * (hi - lo))
    perm = rng.permutation(len(logits))
    return torch.tensor(logits[perm], dtype=torch.float64), p, size


@given(case=tied_rows())
def test_ties_at_the_cut_keep_the_smallest_set(case):
    row, p, size = case
    out = top_p_filter(row[None, :], p)[0]
    got = kept(out)
    probs = probs_of(row)
    dropped = set(range(len(probs))) - got
    assert len(got) == size, (
        f"top_p={p:.4f}, probs={[round(float(q), 4) for q in probs]}: kept {len(got)} tokens, "
        f"but the smallest set of most likely tokens with mass >= top_p has {size} (tied "
        f"tokens at the cut are interchangeable, not all kept)"
    )
    if dropped:
        assert min(probs[i] for i in got) >= max(probs[i] for i in dropped), (
            f"top_p={p:.4f}: a kept token is less likely than a removed one"
        )
    assert sum(probs[i] for i in got) >= p, f"top_p={p:.4f}: kept mass is below top_p"


@given(
    logits=logit_batches(scales=(1.0, 3.0)), p=top_ps, shift=st.sampled_from([-150.0, 120.0, 300.0])
)
def test_float32_logits_far_from_zero(logits, p, shift):
    shifted = (logits + shift).float()  # the row the filter sees; the oracle reads the same values
    assume(away_from_boundary(shifted.double(), p, margin=1e-4))
    out = top_p_filter(shifted, p)
    assert out.dtype == torch.float32, f"float32 logits came back as {out.dtype}"
    for b in range(logits.size(0)):
        want = oracle_nucleus(shifted[b].double(), p)
        assert kept(out[b]) == want, (
            f"row {b}, top_p={p:.3f}: float32 logits around {shift:+.0f} kept "
            f"{sorted(kept(out[b]))}, the nucleus is {sorted(want)}"
        )


@given(logits=logit_batches(), p=top_ps)
def test_bfloat16_logits_keep_their_dtype_and_nucleus(logits, p):
    low = logits.to(torch.bfloat16)
    assume(away_from_boundary(low.double(), p, margin=0.03))
    out = top_p_filter(low, p)
    assert out.dtype == torch.bfloat16, f"bfloat16 logits came back as {out.dtype}"
    for b in range(logits.size(0)):
        want = oracle_nucleus(low[b].double(), p)
        assert kept(out[b]) == want, (
            f"row {b}, top_p={p:.3f}: bfloat16 logits kept {sorted(kept(out[b]))}, the nucleus "
            f"of the same (rounded) logits is {sorted(want)}"
        )
        same = bool((out[b][torch.isfinite(out[b])] == low[b][torch.isfinite(out[b])]).all())
        assert same, f"row {b}: a kept bfloat16 logit was modified"


@given(logits=logit_batches(), p=top_ps)
def test_leading_dimensions_are_a_batch(logits, p):
    """The filter takes (..., vocab): a single 1-d row, and (A, B, vocab) as well as 2-d."""
    assume(away_from_boundary(logits, p))
    cube = torch.stack([logits, logits.flip(0)])  # (2, batch, vocab)
    out = top_p_filter(cube, p)
    assert out.shape == cube.shape, f"logits of shape {tuple(cube.shape)} gave {tuple(out.shape)}"
    for a in range(cube.size(0)):
        for b in range(cube.size(1)):
            want = oracle_nucleus(cube[a, b], p)
            assert kept(out[a, b]) == want, (
                f"logits of shape {tuple(cube.shape)}, top_p={p:.3f}: row [{a}, {b}] kept "
                f"{sorted(kept(out[a, b]))}, its nucleus is {sorted(want)}"
            )
    single = top_p_filter(logits[0], p)
    assert single.shape == logits[0].shape, f"a 1-d row came back with shape {single.shape}"
    assert kept(single) == oracle_nucleus(logits[0], p), (
        f"a single 1-d row, top_p={p:.3f}: kept {sorted(kept(single))}, its nucleus is "
        f"{sorted(oracle_nucleus(logits[0], p))}"
    )
