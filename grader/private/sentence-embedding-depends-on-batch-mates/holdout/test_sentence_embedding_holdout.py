"""Holdout properties: left padding, single-token sentences under heavy padding, and a
float32 encoder."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st
from test_sentence_embedding import CONFIG, pad, sentence_batches, token_mean

from grader.grading.boundary import candidate

encoders = candidate("harness")


@given(sentence_batches(), st.integers(0, 4))
def test_left_padded_batches_pool_the_tokens(case, extra):
    seed, sentences = case
    ids, mask = pad(sentences, extra, left=True)
    pooled = encoders.encode(CONFIG, seed, ids, mask)["pooled"]
    for i, s in enumerate(sentences):
        err = (pooled[i] - token_mean(seed, s)).abs().max().item()
        assert err < 1e-10, (
            f"left padding: sentence {i} ({len(s)} tokens, batch width {ids.shape[1]}) pools "
            f"to a vector {err:.3e} away from the mean of its token states"
        )


@given(st.integers(0, 999), st.integers(8, 25))
def test_single_tokens_under_heavy_padding(seed, width):
    gen = torch.Generator().manual_seed(seed)
    sentences = [torch.randint(1, CONFIG["vocab_size"], (k,), generator=gen) for k in (1, 1, width)]
    pooled = encoders.encode(CONFIG, seed, *pad(sentences))["pooled"]
    for i in (0, 1):
        err = (pooled[i] - token_mean(seed, sentences[i])).abs().max().item()
        assert err < 1e-10, (
            f"a one-token sentence next to a {width}-token one pools to a vector {err:.3e} "
            f"away from its token state"
        )


@given(sentence_batches())
def test_float32_encoder(case):
    seed, sentences = case
    ids, mask = pad(sentences, 3)
    out32 = encoders.encode(CONFIG, seed, ids, mask, torch.float32)
    assert out32["pooled"].dtype == torch.float32, f"pooled dtype {out32['pooled'].dtype}"
    for i, s in enumerate(sentences):
        err = (out32["pooled"][i].double() - token_mean(seed, s)).abs().max().item()
        assert err < 1e-4, f"float32: sentence {i} pools {err:.2e} away from its token mean"


@given(
    sentence_batches(), st.integers(0, 3), st.booleans(), st.integers(0, CONFIG["vocab_size"] - 1)
)
def test_padding_is_what_the_mask_says_not_a_token_id(case, extra, left, pad_id):
    seed, sentences = case
    # Id 0 is an ordinary token here (one per sentence), and the padding carries any id.
    sentences = [torch.cat([s[:-1], torch.zeros(1, dtype=s.dtype)]) for s in sentences]
    ids, mask = pad(sentences, extra, left)
    ids = ids.masked_fill(mask == 0, pad_id)
    pooled = encoders.encode(CONFIG, seed, ids, mask)["pooled"]
    for i, s in enumerate(sentences):
        err = (pooled[i] - token_mean(seed, s)).abs().max().item()
        assert err < 1e-10, (
            f"sentence {i} ({len(s)} tokens, one of them id 0; padding id {pad_id}, "
            f"{'left' if left else 'right'}): pools to a vector {err:.3e} away from the mean "
            f"of its token states; padding is where attention_mask is 0, whatever the ids"
        )
