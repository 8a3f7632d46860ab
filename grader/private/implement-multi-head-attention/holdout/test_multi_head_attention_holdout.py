"""Holdout properties for the multi-head attention implementation (not shown to the
candidate): float32, gradients where queries see no key, longer sequences and more heads,
batch independence, need_weights=False, and scores beyond exp's range."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from test_multi_head_attention import (
    F64,
    allowed_mask,
    cases,
    describe,
    fully_masked_cases,
    max_err,
    run,
    torch_mha,
)

from grader.grading.boundary import candidate

mha = candidate("harness")
sdpa = candidate("multi_head_attention").scaled_dot_product_attention


def oracle_output(case: dict, params: dict, query, key, value) -> torch.Tensor:
    """The documented computation in float64, differentiable: per-head masked softmax, a
    query with no allowed key attends to nothing."""

    def linear(x, name):
        out = x @ params[f"{name}.weight"].T
        return out + params[f"{name}.bias"] if f"{name}.bias" in params else out

    b, lq, d = query.shape
    h = case["n_heads"]

    def heads(x):
        return x.reshape(b, -1, h, d // h).transpose(1, 2)

    q, k, v = (
        heads(linear(query, "q_proj")),
        heads(linear(key, "k_proj")),
        heads(linear(value, "v_proj")),
    )
    allowed = allowed_mask(case)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(d // h)).masked_fill(~allowed, float("-inf"))
    weights = scores.softmax(-1).masked_fill(~allowed, 0.0)
    out = (weights @ v).transpose(1, 2).reshape(b, lq, d)
    return linear(out, "out_proj")


@given(cases())
def test_float32_matches_the_float64_oracle(case):
    case32 = {
        **case,
        "weights": {n: w.float() for n, w in case["weights"].items()},
        "query": case["query"].float(),
        "key": case["key"].float(),
        "value": case["value"].float(),
    }
    out, _ = run(case32)
    assert out.dtype == torch.float32, f"float32 inputs gave a {out.dtype} output"
    want, _ = torch_mha(case)
    err = max_err(out.double(), want)
    assert err < 1e-4, (
        f"{describe(case)}, float32: output differs from the float64 oracle by {err:.2e}"
    )


@given(fully_masked_cases(), st.integers(0, 2**31 - 1))
def test_gradients_are_finite_and_match_the_oracle(case, seed):
    gen = torch.Generator().manual_seed(seed)
    grad_out = torch.randn(case["query"].shape, generator=gen, dtype=F64)
    got = mha.gradients(
        case["weights"],
        case["n_heads"],
        case["query"],
        case["key"],
        case["value"],
        grad_out,
        case["key_padding_mask"],
        case["causal"],
    )
    params = {n: w.clone().requires_grad_() for n, w in case["weights"].items()}
    inputs = {n: case[n].clone().requires_grad_() for n in ("query", "key", "value")}
    out = oracle_output(case, params, inputs["query"], inputs["key"], inputs["value"])
    (out * grad_out).sum().backward()
    want = {**{n: x.grad for n, x in inputs.items()}, **{n: p.grad for n, p in params.items()}}
    for name, g in want.items():
        assert got.get(name) is not None, f"{describe(case)}: no gradient for {name}"
        n_nan = int((~torch.isfinite(got[name])).sum())
        assert n_nan == 0, f"{describe(case)}: {n_nan} non-finite entries in the gradient of {name}"
        err = max_err(got[name], g)
        assert err < 1e-8, (
            f"{describe(case)}: gradient of {name} differs from autograd's by {err:.2e}"
        )


@given(cases(max_len=12, max_heads=8))
def test_longer_sequences_and_more_heads_match_nn_multihead_attention(case):
    out, _ = run(case)
    want, _ = torch_mha(case)
    err = max_err(out, want)
    assert err < 1e-9, f"{describe(case)}: output differs from nn.MultiheadAttention by {err:.2e}"


@given(fully_masked_cases())
def test_batch_rows_are_attended_independently(case):
    out, _ = run(case)
    for b in range(case["query"].size(0)):
        one = {
            **case,
            "query": case["query"][b : b + 1],
            "key": case["key"][b : b + 1],
            "value": case["value"][b : b + 1],
            "key_padding_mask": case["key_padding_mask"][b : b + 1],
        }
        err = max_err(run(one)[0][0], out[b])
        assert err < 1e-9, f"{describe(case)}: batch row {b} changes by {err:.2e} when run alone"


@given(cases())
def test_need_weights_false_gives_the_same_output(case):
    with_weights, _ = run(case)
    alone = mha.output(
        case["weights"],
        case["n_heads"],
        case["query"],
        case["key"],
        case["value"],
        case["key_padding_mask"],
        case["causal"],
    )
    err = max_err(alone, with_weights)
    assert err < 1e-12, f"{describe(case)}: need_weights=False changes the output by {err:.2e}"


@given(st.integers(0, 2**31 - 1), st.integers(1, 4), st.integers(1, 5))
def test_sdpa_rows_with_no_allowed_key_are_zero(seed, lq, lk):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(2, 2, lq, 3, generator=gen, dtype=F64)
    k = torch.randn(2, 2, lk, 3, generator=gen, dtype=F64)
    v = torch.randn(2, 2, lk, 4, generator=gen, dtype=F64)
    allowed = torch.rand(2, 2, lq, lk, generator=gen) < 0.5
    allowed[0, :, 0] = False
    out, weights = sdpa(q, k, v, allowed)
    none = ~allowed.any(-1)
    assert int(torch.isnan(out).sum()) == 0, f"q_len={lq}, kv_len={lk}: NaN in the output"
    err = max(float(out[none].abs().max()), float(weights[none].abs().max()))
    assert err == 0.0, (
        f"q_len={lq}, kv_len={lk}: a query with no allowed key has output/weights {err:.2e}"
    )


@given(cases(), st.sampled_from([300.0, 3000.0]), st.integers(0, 2**31 - 1))
def test_scores_beyond_exp_range_match_the_library(case, gain, seed):
    """Scores of hundreds to tens of thousands (exp overflows past ~709 in float64): a softmax
    that does not subtract the row's max turns them into inf / inf = NaN, or underflows a
    row of large negative scores to 'no key'. The library is stable there."""
    weights = dict(case["weights"])
    for name in ("q_proj.weight", "q_proj.bias"):
        if name in weights:
            weights[name] = gain * weights[name]
    big = {**case, "weights": weights}
    out, _ = run(big)
    want, _ = torch_mha(big)
    n_nan = int(torch.isnan(out).sum())
    assert n_nan == 0, f"{describe(case)}, q_proj scaled by {gain:g}: {n_nan} NaN outputs"
    err = max_err(out, want)
    assert err < 1e-9, (
        f"{describe(case)}, q_proj scaled by {gain:g}: output differs from "
        f"nn.MultiheadAttention by {err:.2e}"
    )
    gen = torch.Generator().manual_seed(seed)
    q = gain * torch.randn(2, 2, 3, 4, generator=gen, dtype=F64)
    k = torch.randn(2, 2, 5, 4, generator=gen, dtype=F64)
    v = torch.randn(2, 2, 5, 3, generator=gen, dtype=F64)
    allowed = torch.rand(2, 2, 3, 5, generator=gen) < 0.6
    allowed[..., 0] = True
    got, _ = sdpa(q, k, v, allowed)
    err = max_err(got, F.scaled_dot_product_attention(q, k, v, attn_mask=allowed))
    assert err < 1e-9, (
        f"scaled_dot_product_attention with q scaled by {gain:g}: output differs from "
        f"F.scaled_dot_product_attention by {err:.2e} (NaN: {bool(torch.isnan(got).any())})"
    )
