"""Holdout checks of the embeddings fault (never shown to the candidate): full-length rows,
repeated tokens, a vocabulary larger than the context, train mode."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st
from test_model import FAST, TOL, gpt, gpt_config, gpt_weights, seeds, tokens, worst_position


def _oracle(params: dict, idx: torch.Tensor) -> torch.Tensor:
    wte, wpe = params["transformer.wte.weight"], params["transformer.wpe.weight"]
    return wte[idx] + wpe[: idx.size(1)]


@FAST
@given(seed=seeds, block_size=st.integers(2, 16), batch=st.integers(1, 4), data=st.data())
def test_full_length_rows_embed_every_position(seed, block_size, batch, data):
    vocab = data.draw(st.integers(2, block_size), label="vocab")
    config = gpt_config(vocab, block_size, n_layer=0)
    params = gpt_weights(config, seed)
    idx = tokens(seed, batch, block_size, vocab)
    t, d = worst_position(gpt.embed(config, params, idx) - _oracle(params, idx))
    assert d <= TOL, f"T=block_size={block_size}: position {t} is {d:.3e} off wte + wpe"


@FAST
@given(seed=seeds, token=st.integers(0, 4), seq_len=st.integers(2, 9))
def test_a_repeated_token_moves_with_the_position_table(seed, token, seq_len):
    config = gpt_config(5, 9, n_layer=0)
    params = gpt_weights(config, seed)
    idx = torch.full((1, seq_len), token)
    got = gpt.embed(config, params, idx)[0]
    steps = got[1:] - got[:-1]
    wpe = params["transformer.wpe.weight"]
    want = wpe[1:seq_len] - wpe[: seq_len - 1]
    d = float((steps - want).abs().max())
    assert d <= TOL, (
        f"token {token} repeated {seq_len} times: the embedding changes from one position to "
        f"the next by {d:.3e} more or less than wpe does"
    )


@FAST
@given(seed=seeds, vocab=st.integers(20, 60), seq_len=st.integers(1, 6))
def test_vocabulary_larger_than_the_context(seed, vocab, seq_len):
    config = gpt_config(vocab, 6, n_layer=0)
    params = gpt_weights(config, seed)
    idx = tokens(seed, 2, seq_len, vocab)
    idx[0, 0] = vocab - 1
    t, d = worst_position(gpt.embed(config, params, idx) - _oracle(params, idx))
    assert d <= TOL, f"vocab {vocab} > block_size 6: position {t} is {d:.3e} off wte + wpe"


@FAST
@given(seed=seeds, seq_len=st.integers(1, 8))
def test_train_mode_without_dropout_embeds_the_same(seed, seq_len):
    config = {**gpt_config(7, 8, n_layer=1), "dropout": 0.0}
    params = gpt_weights(config, seed)
    idx = tokens(seed, 2, seq_len, 7)
    t, d = worst_position(gpt.embed(config, params, idx, train=True) - _oracle(params, idx))
    assert d <= TOL, f"train mode, dropout 0: position {t} is {d:.3e} off wte + wpe"
