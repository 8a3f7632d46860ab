"""Holdout properties for the perplexity meter (not shown to the candidate)."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from test_perplexity import Bigram

from grader.grading.boundary import candidate

ppl = candidate("harness")
perplexity = candidate("perplexity")


def random_corpus(seed: int, lengths: list[int], vocab: int):
    gen = torch.Generator().manual_seed(seed)
    ids = [torch.randint(0, vocab, (n,), generator=gen) for n in lengths]
    logits = [torch.randn(n, vocab, generator=gen, dtype=torch.float64) * 2.0 for n in lengths]
    return ids, logits


def oracle(ids, logits) -> float:
    total, count = 0.0, 0
    for seq, lg in zip(ids, logits, strict=True):
        x = lg.to(torch.float64).numpy()
        logp = x - x.max(-1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
        targets = seq.numpy()[1:]
        total -= float(logp[np.arange(len(targets)), targets].sum())
        count += len(targets)
    return math.exp(total / count)


def batch(ids, logits, rows, vocab, seed=0, mask_dtype=torch.long):
    gen = torch.Generator().manual_seed(seed)
    width = max(len(ids[i]) for i in rows)
    input_ids = torch.randint(0, vocab, (len(rows), width), generator=gen)
    out = torch.randn(len(rows), width, vocab, generator=gen, dtype=logits[0].dtype) * 5
    mask = torch.zeros(len(rows), width, dtype=mask_dtype)
    for r, i in enumerate(rows):
        n = len(ids[i])
        input_ids[r, :n], out[r, :n], mask[r, :n] = ids[i], logits[i], 1
    return out, input_ids, mask


def run(ids, logits, sizes, vocab, mask_dtype=torch.long) -> float:
    batches, start = [], 0
    for k, size in enumerate(sizes):
        rows = range(start, start + size)
        batches.append(batch(ids, logits, rows, vocab, seed=k, mask_dtype=mask_dtype))
        start += size
    return ppl.meter_perplexity(batches)


@given(
    seed=st.integers(0, 2**31 - 1),
    long_len=st.integers(8, 16),
    n_short=st.integers(1, 4),
    vocab=st.integers(3, 8),
)
def test_one_long_and_several_short_sequences(seed, long_len, n_short, vocab):
    lengths = [long_len] + [2] * n_short
    ids, logits = random_corpus(seed, lengths, vocab)
    want = oracle(ids, logits)
    for sizes in ([1, n_short], [len(lengths)], [1] * len(lengths)):
        got = run(ids, logits, sizes, vocab)
        assert math.isclose(got, want, rel_tol=1e-9), (
            f"lengths {lengths} in batches of {sizes}: perplexity {got:.4f}, expected "
            f"exp(total NLL / tokens) = {want:.4f}"
        )


@given(seed=st.integers(0, 2**31 - 1), n_empty=st.integers(1, 3), vocab=st.integers(3, 6))
def test_sequences_with_nothing_to_score_change_nothing(seed, n_empty, vocab):
    lengths = [3, 5, 2]
    ids, logits = random_corpus(seed, lengths, vocab)
    want = run(ids, logits, [3], vocab)
    empty_ids, empty_logits = random_corpus(seed + 1, [1] * n_empty, vocab)
    all_ids, all_logits = ids + empty_ids, logits + empty_logits
    for sizes in ([3 + n_empty], [3, n_empty], [1, 2 + n_empty]):
        got = run(all_ids, all_logits, sizes, vocab)
        assert math.isclose(got, want, rel_tol=1e-9), (
            f"adding {n_empty} one-token sequences (nothing to score) in batches of {sizes} "
            f"changed the perplexity from {want:.4f} to {got:.4f}"
        )


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 5))
def test_bool_attention_mask_behaves_like_an_integer_mask(seed, n):
    lengths = [2 + (i * 3) % 5 for i in range(n)]
    ids, logits = random_corpus(seed, lengths, 5)
    a = run(ids, logits, [n], 5, mask_dtype=torch.long)
    b = run(ids, logits, [n], 5, mask_dtype=torch.bool)
    assert math.isclose(a, b, rel_tol=1e-12), (
        f"a bool attention_mask gives perplexity {b:.4f}, the same mask as integers gives {a:.4f}"
    )


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 6))
def test_float32_logits_agree_with_the_float64_oracle(seed, n):
    lengths = [2 + (i * 5) % 7 for i in range(n)]
    ids, logits = random_corpus(seed, lengths, 6)
    logits32 = [lg.float() for lg in logits]
    got = run(ids, logits32, [1, n - 1], 6)
    want = oracle(ids, logits32)
    assert math.isclose(got, want, rel_tol=1e-5), (
        f"float32 logits: perplexity {got:.5f}, float64 oracle {want:.5f}"
    )


@given(
    seed=st.integers(0, 2**31 - 1),
    lengths=st.lists(st.integers(2, 9), min_size=3, max_size=8),
    pad_token_id=st.integers(0, 4),
)
def test_evaluate_perplexity_matches_the_oracle_for_every_batch_size(seed, lengths, pad_token_id):
    vocab = 5
    ids, _ = random_corpus(seed, lengths, vocab)
    model = Bigram(vocab, seed)
    want = oracle(ids, [model(seq).detach() for seq in ids])
    for batch_size in (1, 2, 3, len(ids)):
        result = ppl.evaluate_bigram(
            model.table.detach(), ids, batch_size=batch_size, pad_token_id=pad_token_id
        )
        got = result["perplexity"]
        assert math.isclose(got, want, rel_tol=1e-9), (
            f"batch_size={batch_size}, lengths {lengths}: perplexity {got:.4f}, expected {want:.4f}"
        )
    assert result["training"], "evaluate_perplexity left the model in eval mode"


def test_right_pad_layout():
    ids, mask = perplexity.right_pad([torch.tensor([4, 5, 6]), torch.tensor([7])], pad_token_id=9)
    assert ids.tolist() == [[4, 5, 6], [7, 9, 9]], f"right_pad ids {ids.tolist()}"
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]], f"right_pad mask {mask.tolist()}"


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 5), scale=st.sampled_from([30.0, 60.0]))
def test_confident_float32_logits_give_a_finite_perplexity(seed, n, scale):
    lengths = [3 + (i * 4) % 6 for i in range(n)]
    ids, logits = random_corpus(seed, lengths, 8)
    logits32 = [(lg * (scale / 2.0)).float() for lg in logits]  # peaked: some targets ~1e-50
    want = math.log(oracle(ids, logits32))
    got = run(ids, logits32, [1, n - 1], 8)
    log_got = math.log(got) if got > 0 else -math.inf
    assert math.isfinite(log_got) and abs(log_got - want) <= 1e-4 * max(1.0, want), (
        f"float32 logits of scale {scale:g} (a confident model): log-perplexity {log_got:.5f}, "
        f"float64 oracle {want:.5f}; the NLL must be computed in log space"
    )


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 5))
def test_bfloat16_logits_are_scored_in_at_least_float32(seed, n):
    lengths = [2 + (i * 3) % 6 for i in range(n)]
    ids, logits = random_corpus(seed, lengths, 7)
    logits16 = [lg.to(torch.bfloat16) for lg in logits]
    got = run(ids, logits16, [n], 7)
    want = oracle(ids, logits16)  # exact NLL of the bf16 values, in float64
    assert math.isclose(got, want, rel_tol=1e-5), (
        f"bfloat16 logits: perplexity {got:.6f}, float64 oracle on the same values {want:.6f}"
    )


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 4))
def test_compute_raises_when_nothing_was_scored(seed, n):
    ids, logits = random_corpus(seed, [1] * n, 5)  # one token each: nothing to score
    try:
        got = run(ids, logits, [n], 5)
    except RuntimeError:
        pass
    else:
        raise AssertionError(
            f"{n} one-token sequences (no scored token): compute() returned {got}, expected "
            f"RuntimeError"
        )
    try:
        got = ppl.meter_perplexity([])
    except RuntimeError:
        return
    raise AssertionError(f"compute() with no update at all returned {got}, expected RuntimeError")


@given(seed=st.integers(0, 2**31 - 1), lengths=st.lists(st.integers(2, 7), min_size=2, max_size=5))
def test_evaluate_perplexity_turns_dropout_off(seed, lengths):
    vocab = 6
    ids, _ = random_corpus(seed, lengths, vocab)
    model = Bigram(vocab, seed)
    want = oracle(ids, [model(seq).detach() for seq in ids])
    result = ppl.evaluate_bigram(model.table.detach(), ids, dropout=0.5, batch_size=2)
    assert math.isclose(result["perplexity"], want, rel_tol=1e-9), (
        f"model with dropout 0.5: evaluate_perplexity gives {result['perplexity']:.4f}, the "
        f"model's perplexity with dropout off is {want:.4f}; evaluation must run in eval mode"
    )
    assert result["training"], "evaluate_perplexity left the model in eval mode"
