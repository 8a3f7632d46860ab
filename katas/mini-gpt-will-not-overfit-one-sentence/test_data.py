"""Property tests for data.py (tokenizer, training windows) and sample.py (generation, run
on a stand-in bigram model whose logits the test chooses)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

pipeline = candidate("harness")  # data.py and sample.py, run in the subject process

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
seeds = st.integers(0, 2**16)
texts = st.text(alphabet="abcdefgh .,'", min_size=2, max_size=40)


@FAST
@given(corpus=texts, data=st.data())
def test_tokenizer_round_trips_with_a_sorted_vocabulary(corpus, data):
    text = data.draw(st.text(alphabet=sorted(set(corpus)), max_size=20), label="text")
    out = pipeline.tokenize(corpus, text)
    assert out["chars"] == sorted(set(corpus)), (
        f"vocabulary {out['chars']} is not the sorted set of the corpus's characters"
    )
    assert out["ids"] == [out["chars"].index(ch) for ch in text], "ids are not vocabulary indices"
    assert out["decoded"] == text, f"decode(encode({text!r})) gave {out['decoded']!r}"


@FAST
@given(seed=seeds, length=st.integers(2, 30), block_size=st.integers(1, 12),
       batch_size=st.integers(1, 4))  # fmt: skip
def test_windows_are_slices_of_the_stream_with_next_token_targets(
    seed, length, block_size, batch_size
):
    gen = torch.Generator().manual_seed(seed)
    stream = torch.randint(0, 1000, (length,), generator=gen).tolist()
    width = min(block_size, length - 1)
    starts = {tuple(stream[i : i + width + 1]) for i in range(length - width)}
    for x, y in pipeline.sample_windows(stream, block_size, batch_size, seed, 3):
        assert x.shape == y.shape == (batch_size, width), (
            f"stream of {length}, block_size {block_size}: batch of shape {tuple(x.shape)}, "
            f"expected ({batch_size}, {width})"
        )
        for row_x, row_y in zip(x.tolist(), y.tolist(), strict=True):
            assert row_x[1:] == row_y[:-1], f"targets {row_y} are not inputs {row_x} moved by one"
            assert tuple(row_x + row_y[-1:]) in starts, (
                f"window {row_x} -> {row_y[-1]} is not a contiguous piece of the stream"
            )


@FAST
@given(seed=seeds)
def test_sampler_repeats_its_batches_for_a_seed(seed):
    stream = list(range(50))
    a = pipeline.sample_windows(stream, 8, 4, seed, 2)
    b = pipeline.sample_windows(stream, 8, 4, seed, 2)
    assert all(
        torch.equal(p, q) for u, v in zip(a, b, strict=True) for p, q in zip(u, v, strict=True)
    ), f"two samplers seeded with {seed} gave different batches"


def bigram_table(seed: int, vocab: int) -> torch.Tensor:
    return 3.0 * torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(seed))


@FAST
@given(seed=seeds, vocab=st.integers(2, 8), prompt_len=st.integers(1, 6),
       new=st.integers(0, 10), block_size=st.integers(1, 6))  # fmt: skip
def test_greedy_generation_follows_the_argmax_chain(seed, vocab, prompt_len, new, block_size):
    table = bigram_table(seed, vocab)
    prompt = torch.randint(0, vocab, (2, prompt_len), generator=torch.Generator().manual_seed(seed))
    out = pipeline.generate_bigram(table, block_size, prompt, new, temperature=0.0)
    tokens = out["tokens"]
    assert tokens.shape == (2, prompt_len + new) and torch.equal(tokens[:, :prompt_len], prompt), (
        f"output of shape {tuple(tokens.shape)} does not start with the {prompt_len}-token prompt"
    )
    for t in range(prompt_len, prompt_len + new):
        want = table[tokens[:, t - 1]].argmax(dim=-1)
        assert torch.equal(tokens[:, t], want), (
            f"greedy token {t} is {tokens[:, t].tolist()}, the argmax is {want.tolist()}"
        )
    longest = max(out["context_lengths"], default=0)
    assert longest <= block_size, f"the model was given {longest} tokens, block_size {block_size}"
    assert not out["training"], "generate left the model in train mode although it was in eval"


@FAST
@given(seed=seeds, vocab=st.integers(3, 8), k=st.integers(1, 3))
def test_top_k_sampling_draws_only_the_k_most_likely_tokens(seed, vocab, k):
    table = bigram_table(seed, vocab)
    prompt = torch.arange(vocab)[:, None]  # one row per previous token
    out = pipeline.generate_bigram(table, 4, prompt, 1, seed=seed, train_mode=True, top_k=k,
                                   temperature=1.5)  # fmt: skip
    drawn = out["tokens"][:, 1]
    top = table.topk(k, dim=-1).indices
    outside = [r for r in range(vocab) if int(drawn[r]) not in top[r].tolist()]
    assert not outside, f"top_k={k}: after token {outside[0]} a token outside the top {k} was drawn"
    assert out["training"], "generate did not put the model back in train mode"
