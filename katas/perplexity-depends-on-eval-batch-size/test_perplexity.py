"""Property tests for the perplexity meter.

A corpus is a list of token sequences with their (float64) logits, drawn from a seed.
Batches are built the way the eval loader builds them: right-padded to the longest
sequence in the batch, with arbitrary token ids and logits at the padded positions.
The oracle is exp(total NLL of the scored tokens / number of scored tokens), computed
per sequence in float64 NumPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from grader.grading.boundary import candidate

ppl = candidate("harness")  # the meter and evaluate_perplexity, run in the subject process


@dataclass
class Corpus:
    ids: list[torch.Tensor]  # (len,) int64 each
    logits: list[torch.Tensor]  # (len, vocab) float64 each
    vocab: int


@st.composite
def corpora(draw, max_seqs: int = 6, max_len: int = 6, min_len: int = 2) -> Corpus:
    seed = draw(st.integers(0, 2**31 - 1))
    vocab = draw(st.integers(3, 6))
    n = draw(st.integers(2, max_seqs))
    lengths = draw(st.lists(st.integers(min_len, max_len), min_size=n, max_size=n))
    gen = torch.Generator().manual_seed(seed)
    ids = [torch.randint(0, vocab, (length,), generator=gen) for length in lengths]
    logits = [
        torch.randn(length, vocab, generator=gen, dtype=torch.float64) * 2.0 for length in lengths
    ]
    return Corpus(ids, logits, vocab)


def splits(n: int):
    """Consecutive batch sizes adding up to n."""
    return st.lists(st.booleans(), min_size=n - 1, max_size=n - 1).map(lambda cuts: _sizes(cuts))


def _sizes(cuts: list[bool]) -> list[int]:
    sizes, current = [], 1
    for cut in cuts:
        if cut:
            sizes.append(current)
            current = 1
        else:
            current += 1
    return [*sizes, current]


def make_batch(corpus: Corpus, rows: range, extra_pad: int = 0, pad_seed: int = 0):
    """Right-padded (logits, input_ids, attention_mask) with random padding content."""
    gen = torch.Generator().manual_seed(pad_seed)
    width = max(len(corpus.ids[i]) for i in rows) + extra_pad
    input_ids = torch.randint(0, corpus.vocab, (len(rows), width), generator=gen)
    logits = torch.randn(len(rows), width, corpus.vocab, generator=gen, dtype=torch.float64) * 5
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for r, i in enumerate(rows):
        length = len(corpus.ids[i])
        input_ids[r, :length] = corpus.ids[i]
        logits[r, :length] = corpus.logits[i]
        mask[r, :length] = 1
    return logits, input_ids, mask


def meter_ppl(corpus: Corpus, sizes: list[int], extra_pad: int = 0, pad_seed: int = 0) -> float:
    batches, start = [], 0
    for k, size in enumerate(sizes):
        batches.append(make_batch(corpus, range(start, start + size), extra_pad, pad_seed + k))
        start += size
    return ppl.meter_perplexity(batches)


def oracle(corpus: Corpus) -> tuple[float, int]:
    total, count = 0.0, 0
    for ids, logits in zip(corpus.ids, corpus.logits, strict=True):
        x = logits.numpy()
        logp = x - x.max(-1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
        targets = ids.numpy()[1:]
        total -= float(logp[np.arange(len(targets)), targets].sum())
        count += len(targets)
    return math.exp(total / count), count


def lengths_of(corpus: Corpus) -> list[int]:
    return [len(ids) for ids in corpus.ids]


@given(data=st.data(), corpus=corpora())
def test_matches_exp_of_the_mean_token_nll(data, corpus):
    sizes = data.draw(splits(len(corpus.ids)))
    got = meter_ppl(corpus, sizes)
    want, tokens = oracle(corpus)
    assert math.isclose(got, want, rel_tol=1e-9), (
        f"perplexity {got:.4f}, but exp(total NLL / scored tokens) = {want:.4f} over "
        f"{tokens} scored tokens (sequence lengths {lengths_of(corpus)}, batch sizes {sizes})"
    )


@given(data=st.data(), corpus=corpora())
def test_same_perplexity_for_every_batching(data, corpus):
    sizes_a = data.draw(splits(len(corpus.ids)))
    sizes_b = data.draw(splits(len(corpus.ids)))
    a, b = meter_ppl(corpus, sizes_a), meter_ppl(corpus, sizes_b)
    assert math.isclose(a, b, rel_tol=1e-9), (
        f"the same {len(corpus.ids)} sequences (lengths {lengths_of(corpus)}) give perplexity "
        f"{a:.4f} in batches of {sizes_a} but {b:.4f} in batches of {sizes_b}"
    )


@given(
    data=st.data(),
    corpus=corpora(),
    extra_pad=st.integers(1, 4),
    pad_seed=st.integers(0, 2**31 - 1),
)
def test_padding_does_not_change_the_result(data, corpus, extra_pad, pad_seed):
    sizes = data.draw(splits(len(corpus.ids)))
    tight = meter_ppl(corpus, sizes)
    padded = meter_ppl(corpus, sizes, extra_pad=extra_pad, pad_seed=pad_seed)
    assert math.isclose(tight, padded, rel_tol=1e-9), (
        f"adding {extra_pad} padding columns (random ids and logits, attention_mask 0) to "
        f"each batch changed the perplexity from {tight:.4f} to {padded:.4f} "
        f"(lengths {lengths_of(corpus)}, batch sizes {sizes})"
    )


@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 4), seq=st.integers(2, 6))
def test_single_unpadded_batch_matches_cross_entropy(seed, batch, seq):
    gen = torch.Generator().manual_seed(seed)
    vocab = 5
    logits = torch.randn(batch, seq, vocab, generator=gen, dtype=torch.float64) * 2
    input_ids = torch.randint(0, vocab, (batch, seq), generator=gen)
    got = ppl.meter_perplexity([(logits, input_ids, torch.ones_like(input_ids))])
    want = math.exp(
        F.cross_entropy(logits[:, :-1].reshape(-1, vocab), input_ids[:, 1:].reshape(-1))
    )
    assert math.isclose(got, want, rel_tol=1e-9), (
        f"one unpadded batch ({batch}x{seq}): perplexity {got:.4f}, "
        f"exp(F.cross_entropy) of the next-token predictions is {want:.4f}"
    )


@given(data=st.data(), corpus=corpora())
def test_batch_order_does_not_matter(data, corpus):
    sizes = data.draw(splits(len(corpus.ids)))
    n = len(corpus.ids)
    reversed_corpus = Corpus(corpus.ids[::-1], corpus.logits[::-1], corpus.vocab)
    forward, backward = meter_ppl(corpus, sizes), meter_ppl(reversed_corpus, sizes[::-1])
    assert math.isclose(forward, backward, rel_tol=1e-9), (
        f"feeding the same {n} batches (sizes {sizes}) in reverse order changed the "
        f"perplexity from {forward:.4f} to {backward:.4f}"
    )


@given(corpus=corpora(), seed=st.integers(0, 2**31 - 1))
def test_reset_starts_a_fresh_evaluation(corpus, seed):
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(2, 3, corpus.vocab, generator=gen, dtype=torch.float64) * 5
    discarded = (noise, torch.randint(0, corpus.vocab, (2, 3), generator=gen))
    rows = range(len(corpus.ids))
    after_reset = ppl.perplexity_after_reset([discarded], [make_batch(corpus, rows)])
    fresh = ppl.meter_perplexity([make_batch(corpus, rows)])
    assert math.isclose(after_reset, fresh, rel_tol=1e-12), (
        f"after reset() the meter reports {after_reset:.4f}, a new meter on the same "
        f"batch reports {fresh:.4f}: state from before the reset leaked through"
    )


class Bigram(nn.Module):
    """Next-token logits from the current token only, so padding cannot leak into them.

    The model the tests compute their oracle with; the code under test evaluates the same
    model, rebuilt from ``table`` in the subject process (``harness.evaluate_bigram``).
    """

    def __init__(self, vocab: int, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.table = nn.Parameter(torch.randn(vocab, vocab, generator=gen, dtype=torch.float64))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.table[input_ids]


@given(corpus=corpora(max_seqs=5), seed=st.integers(0, 2**31 - 1))
def test_evaluate_perplexity_does_not_depend_on_batch_size(corpus, seed):
    model = Bigram(corpus.vocab, seed)
    as_model = Corpus(corpus.ids, [model(ids).detach() for ids in corpus.ids], corpus.vocab)
    want, tokens = oracle(as_model)
    table = model.table.detach()
    for batch_size in range(1, len(corpus.ids) + 1):
        got = ppl.evaluate_bigram(table, corpus.ids, batch_size=batch_size)["perplexity"]
        assert math.isclose(got, want, rel_tol=1e-9), (
            f"evaluate_perplexity with batch_size={batch_size} gives {got:.4f}; the "
            f"model's perplexity on these {tokens} scored tokens (sequence lengths "
            f"{lengths_of(corpus)}) is {want:.4f}"
        )
