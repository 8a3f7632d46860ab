"""Holdout properties for GroupedQueryAttention, never shown to the candidate: wider head
counts and groupings, float32, biases, training mode, conversion with biases."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st
from test_gqa_attention import (
    FAST,
    TOL,
    make_config,
    make_input,
    make_params,
    max_diff,
    oracle,
    seeds,
    with_equal_kv_heads_per_group,
)

from grader.grading.boundary import candidate

layers = candidate("harness")

wide_shapes = st.sampled_from([(12, 2), (12, 3), (12, 4), (12, 6), (16, 4), (9, 3)])


@FAST
@given(seed=seeds, shape=wide_shapes, seq_len=st.integers(1, 12), bias=st.booleans())
def test_wide_groupings_in_float32_match_sdpa(seed, shape, seq_len, bias):
    config = make_config(*shape, head_dim=8, bias=bias)
    params = make_params(config, seed)
    x = make_input(seed, 2, seq_len, config["d_model"])
    want = oracle(config, params, x)
    got = layers.attention(config, {k: v.float() for k, v in params.items()}, x.float())
    assert got.dtype == torch.float32, f"float32 input gave a {got.dtype} output"
    d = max_diff(got.double(), want)
    assert d <= 1e-4, (
        f"n_heads={shape[0]}, n_kv_heads={shape[1]}, bias={bias}, float32: output differs "
        f"from causal grouped SDPA by {d:.3e}"
    )


@FAST
@given(seed=seeds, shape=wide_shapes, seq_len=st.integers(1, 6))
def test_training_mode_without_dropout_matches_sdpa(seed, shape, seq_len):
    config = make_config(*shape, head_dim=2, dropout=0.0)
    params = make_params(config, seed)
    x = make_input(seed, 2, seq_len, config["d_model"])
    d = max_diff(
        layers.attention(config, params, x, train=True, seed=seed), oracle(config, params, x)
    )
    assert d <= TOL, (
        f"n_heads={shape[0]}, n_kv_heads={shape[1]}, training mode with dropout=0: output "
        f"differs from causal grouped SDPA by {d:.3e}"
    )


@FAST
@given(seed=seeds, shape=wide_shapes, seq_len=st.integers(1, 5))
def test_converted_layer_with_biases_is_the_pooled_grouped_layer(seed, shape, seq_len):
    n_heads, n_kv = shape
    mha_config = make_config(n_heads, n_heads, head_dim=2, bias=True)
    gqa_config = make_config(n_heads, n_kv, head_dim=2, bias=True)
    mha = make_params(mha_config, seed)
    x = make_input(seed, 2, seq_len, mha_config["d_model"])
    n_rep = n_heads // n_kv
    pooled = dict(mha)
    for name in ("k_proj", "v_proj"):
        for part in ("weight", "bias"):
            t = mha[f"{name}.{part}"]
            pooled[f"{name}.{part}"] = (
                t.reshape(n_kv, n_rep, 2, -1).mean(dim=1).reshape(n_kv * 2, *t.shape[1:])
            )
    d = max_diff(layers.converted_attention(gqa_config, mha, x), oracle(gqa_config, pooled, x))
    assert d <= TOL, (
        f"n_heads={n_heads} -> n_kv_heads={n_kv} with biases: the converted layer differs by "
        f"{d:.3e} from grouped SDPA on the contiguously mean-pooled weights"
    )
    equal = with_equal_kv_heads_per_group(mha, n_heads, n_kv, 2)
    for name in ("k_proj.bias", "v_proj.bias"):
        equal[name] = mha[name].view(n_kv, n_rep, 2)[:, :1].expand(-1, n_rep, -1).reshape(-1)
    d = max_diff(
        layers.converted_attention(gqa_config, equal, x), layers.attention(mha_config, equal, x)
    )
    assert d <= TOL, (
        f"n_heads={n_heads} -> n_kv_heads={n_kv}: converting a layer whose key/value heads "
        f"(and biases) are equal within each group changed its output by {d:.3e}"
    )


@FAST
@given(seed=seeds, shape=wide_shapes, seq_len=st.integers(1, 5))
def test_rows_of_a_batch_are_independent(seed, shape, seq_len):
    config = make_config(*shape, head_dim=2)
    params = make_params(config, seed)
    x = make_input(seed, 3, seq_len, config["d_model"])
    batched = layers.attention(config, params, x)
    for row in range(3):
        d = max_diff(layers.attention(config, params, x[row : row + 1])[0], batched[row])
        assert d <= TOL, f"row {row} changes by {d:.3e} when run alone instead of in a batch of 3"
