"""Holdout checks of the attention fault (never shown to the candidate): float32 against
F.scaled_dot_product_attention up to the full block, gradients, train mode, eval mode with
dropout, one token."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from test_model import (
    FAST,
    TOL,
    attention_config,
    attention_oracle,
    attention_weights,
    gpt,
    hidden,
    seeds,
    worst_position,
)


@FAST
@given(seed=seeds, n_head=st.sampled_from([1, 2, 3, 4]), head_dim=st.sampled_from([2, 4, 8]),
       seq_len=st.integers(1, 16))  # fmt: skip
def test_float32_attention_matches_sdpa_is_causal_up_to_the_block_size(
    seed, n_head, head_dim, seq_len
):
    config = attention_config(n_head, head_dim, block_size=16)
    params = attention_weights(seed, config["n_embd"])
    x = hidden(seed, 2, seq_len, config["n_embd"])
    got = gpt.attention(config, {k: v.float() for k, v in params.items()}, x.float())
    assert got.dtype == torch.float32, f"float32 input came back as {got.dtype}"
    c = config["n_embd"]
    q, k, v = (
        t.view(2, seq_len, n_head, head_dim).transpose(1, 2)
        for t in F.linear(x, params["c_attn.weight"], params["c_attn.bias"]).split(c, dim=-1)
    )
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    want = F.linear(out.transpose(1, 2).reshape(2, seq_len, c), params["c_proj.weight"],
                    params["c_proj.bias"])  # fmt: skip
    t, d = worst_position(got.double() - want)
    assert d <= 1e-4, (
        f"float32, T={seq_len}, n_head={n_head}: position {t} is {d:.3e} away from "
        f"scaled_dot_product_attention(is_causal=True)"
    )


@FAST
@given(seed=seeds, seq_len=st.integers(2, 7))
def test_no_gradient_flows_from_an_output_to_later_inputs(seed, seq_len):
    config = attention_config(2, 4)
    params = attention_weights(seed, config["n_embd"])
    x = hidden(seed, 2, seq_len, config["n_embd"])
    grads = gpt.attention_input_gradients(config, params, x)
    for t in range(seq_len - 1):
        leak = float(grads[t][:, t + 1 :].abs().max())
        assert leak == 0.0, (
            f"T={seq_len}: the output at position {t} has a gradient of size {leak:.3e} with "
            f"respect to later inputs"
        )


@FAST
@given(seed=seeds, seq_len=st.integers(1, 8))
def test_train_mode_without_dropout_matches_the_oracle(seed, seq_len):
    config = {**attention_config(2, 4), "dropout": 0.0}
    params = attention_weights(seed, config["n_embd"])
    x = hidden(seed, 2, seq_len, config["n_embd"])
    got = gpt.attention(config, params, x, train=True)
    t, d = worst_position(got - attention_oracle(params, x, 2))
    assert d <= TOL, f"train mode, dropout 0, T={seq_len}: position {t} is {d:.3e} off"


@FAST
@given(seed=seeds, n_head=st.sampled_from([1, 2]), seq_len=st.integers(1, 8),
       dropout=st.sampled_from([0.3, 0.9]))  # fmt: skip
def test_eval_mode_with_dropout_matches_the_oracle(seed, n_head, seq_len, dropout):
    config = {**attention_config(n_head, 4), "dropout": dropout}
    params = attention_weights(seed, config["n_embd"])
    x = hidden(seed, 2, seq_len, config["n_embd"])
    t, d = worst_position(gpt.attention(config, params, x) - attention_oracle(params, x, n_head))
    assert d <= TOL, (
        f"eval mode, dropout {dropout}, T={seq_len}: position {t} is {d:.3e} off the oracle; "
        f"dropout must be off in eval mode"
    )


@FAST
@given(seed=seeds, n_head=st.sampled_from([1, 2, 4]))
def test_first_position_attends_only_to_itself(seed, n_head):
    config = attention_config(n_head, 2)
    params = attention_weights(seed, config["n_embd"])
    x = hidden(seed, 1, 5, config["n_embd"])
    c = config["n_embd"]
    v = F.linear(x[:, :1], params["c_attn.weight"][2 * c :], params["c_attn.bias"][2 * c :])
    want = F.linear(v, params["c_proj.weight"], params["c_proj.bias"])
    d = float((gpt.attention(config, params, x)[:, :1] - want).abs().max())
    assert d <= TOL, f"position 0 is {d:.3e} away from its own projected value"
