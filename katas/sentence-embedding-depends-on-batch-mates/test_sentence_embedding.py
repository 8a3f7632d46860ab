"""Property tests for mean-pooled sentence embeddings.

Sentences are random token ids of random lengths, drawn from a seeded generator, and batched
by padding them (with id 0) to the longest one plus some extra columns.  The encoder is
built in float64 from a seed in the subject process.  The reference for a sentence is the
encoder run on that sentence alone, unpadded; a mean over its token states is then taken
here, in float64.
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

encoders = candidate("harness")  # encoders built and run in the subject process

CONFIG = {"vocab_size": 50, "dim": 16, "num_heads": 2, "max_positions": 32}


def pad(
    sentences: list[torch.Tensor], extra: int = 0, left: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)``: the sentences padded with 0 to the longest + extra."""
    width = max(len(s) for s in sentences) + extra
    ids = torch.zeros(len(sentences), width, dtype=torch.long)
    mask = torch.zeros(len(sentences), width, dtype=torch.long)
    for i, s in enumerate(sentences):
        span = slice(width - len(s), width) if left else slice(0, len(s))
        ids[i, span], mask[i, span] = s, 1
    return ids, mask


@st.composite
def sentence_batches(draw, max_batch: int = 4, max_len: int = 10, min_len: int = 1):
    """(seed, sentences): 2-4 sentences of distinct lengths, so every batch has padding."""
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    n = draw(st.integers(2, max_batch))
    lengths = torch.randperm(max_len - min_len + 1, generator=gen)[:n] + min_len
    sentences = [torch.randint(1, CONFIG["vocab_size"], (int(k),), generator=gen) for k in lengths]
    return seed % 1000, sentences


def alone(seed: int, sentence: torch.Tensor) -> dict:
    ids = sentence[None, :]
    return encoders.encode(CONFIG, seed, ids, torch.ones_like(ids))


def token_mean(seed: int, sentence: torch.Tensor) -> torch.Tensor:
    """Reference: mean of the sentence's token states, encoded on its own, unpadded."""
    return alone(seed, sentence)["hidden"][0].mean(dim=0)


@given(sentence_batches(), st.integers(0, 5), st.booleans())
def test_token_states_do_not_depend_on_padding(case, extra, left):
    seed, sentences = case
    ids, mask = pad(sentences, extra, left)
    hidden = encoders.encode(CONFIG, seed, ids, mask)["hidden"]
    for i, s in enumerate(sentences):
        want = alone(seed, s)["hidden"][0]
        got = hidden[i][mask[i].bool()]
        err = (got - want).abs().max().item()
        assert err < 1e-10, (
            f"sentence {i} ({len(s)} tokens, {'left' if left else 'right'} padded to "
            f"{ids.shape[1]}): its token states differ from the unpadded run by {err:.2e}"
        )


@given(sentence_batches())
def test_embeddings_have_unit_length(case):
    seed, sentences = case
    ids, mask = pad(sentences)
    norms = encoders.encode(CONFIG, seed, ids, mask)["embedding"].norm(dim=-1)
    err = (norms - 1).abs().max().item()
    assert err < 1e-12, f"embedding norms are off 1 by up to {err:.2e}"


@given(st.integers(0, 999), st.integers(1, 10), st.integers(1, 4))
def test_a_batch_without_padding_pools_to_the_token_mean(seed, length, n):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, CONFIG["vocab_size"], (n, length), generator=gen)
    out = encoders.encode(CONFIG, seed, ids, torch.ones_like(ids))
    err = (out["pooled"] - out["hidden"].mean(dim=1)).abs().max().item()
    assert err < 1e-12, (
        f"{n} sentences of {length} tokens, no padding: pooled is off the token mean by {err:.2e}"
    )


@given(sentence_batches())
def test_pooled_vector_is_the_mean_of_the_token_states(case):
    seed, sentences = case
    ids, mask = pad(sentences)
    pooled = encoders.encode(CONFIG, seed, ids, mask)["pooled"]
    for i, s in enumerate(sentences):
        err = (pooled[i] - token_mean(seed, s)).abs().max().item()
        assert err < 1e-10, (
            f"sentence {i} has {len(s)} tokens in a batch padded to {ids.shape[1]}: its pooled "
            f"vector is {err:.3e} away from the mean of its token states"
        )


@given(sentence_batches(), st.integers(1, 8))
def test_embedding_does_not_change_with_extra_padding(case, extra):
    seed, sentences = case
    a = encoders.encode(CONFIG, seed, *pad(sentences))["embedding"]
    b = encoders.encode(CONFIG, seed, *pad(sentences, extra))["embedding"]
    cos = (a * b).sum(dim=-1)
    worst = int(cos.argmin())
    assert cos.min().item() > 1 - 1e-10, (
        f"{extra} more padding columns turned the embedding of sentence {worst} "
        f"({len(sentences[worst])} tokens): cosine {cos[worst].item():.6f} with itself before"
    )


@given(sentence_batches(max_batch=3), sentence_batches(max_batch=3))
def test_similarity_does_not_depend_on_the_other_sentences(first, second):
    seed, queries = first
    _, others = second
    documents = queries[::-1]
    small = encoders.similarity(CONFIG, seed, pad(queries[:1]), pad(documents))
    large = encoders.similarity(CONFIG, seed, pad(queries[:1] + others), pad(documents + others))
    err = (small[0] - large[0, : len(documents)]).abs().max().item()
    assert err < 1e-10, (
        f"query 0 ({len(queries[0])} tokens) against the same {len(documents)} documents: "
        f"cosine similarities change by up to {err:.4f} when other sentences share the batches"
    )
