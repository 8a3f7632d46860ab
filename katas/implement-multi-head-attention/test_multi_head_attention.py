"""Property tests for the multi-head attention implementation.

Weights and inputs come from a seeded ``torch.Generator`` in float64.  The oracles are
``torch.nn.MultiheadAttention`` (batch_first, eval, no dropout) and
``F.scaled_dot_product_attention``, built and run here, in the trusted process; where the
contract differs from them (a query with no key it may attend to, which they turn into
NaN), the expected output is ``out_proj.bias``, as the module docstring says.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from grader.grading.boundary import candidate

mha = candidate("harness")  # MultiHeadAttention, built from the weights and run in the subject
sdpa = candidate("multi_head_attention").scaled_dot_product_attention

F64 = torch.float64


def make_weights(gen: torch.Generator, d: int, bias: bool, dtype=F64) -> dict[str, torch.Tensor]:
    weights = {}
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        weights[f"{name}.weight"] = torch.randn(d, d, generator=gen, dtype=F64) / math.sqrt(d)
        if bias:
            weights[f"{name}.bias"] = 0.5 * torch.randn(d, generator=gen, dtype=F64)
    return {name: w.to(dtype) for name, w in weights.items()}


@st.composite
def cases(draw, max_len: int = 5, max_heads: int = 4, causal=None, cross=None, padding=None):
    """A dict: weights, n_heads, query/key/value, key_padding_mask (key 0 never padding, so
    every query has a key it may attend to) and causal."""
    seed = draw(st.integers(0, 2**31 - 1))
    n_heads, head_dim = draw(st.integers(1, max_heads)), draw(st.integers(1, 4))
    batch = draw(st.integers(1, 3))
    cross = draw(st.booleans()) if cross is None else cross
    q_len = draw(st.integers(1, max_len))
    kv_len = draw(st.integers(1, max_len)) if cross else q_len
    causal = draw(st.booleans()) if causal is None else causal
    padding = draw(st.booleans()) if padding is None else padding
    scale = draw(st.sampled_from([0.5, 1.0, 3.0]))
    gen = torch.Generator().manual_seed(seed)
    d = n_heads * head_dim
    weights = make_weights(gen, d, bias=draw(st.booleans()))
    query = scale * torch.randn(batch, q_len, d, generator=gen, dtype=F64)
    if cross:
        key = scale * torch.randn(batch, kv_len, d, generator=gen, dtype=F64)
        value = torch.randn(batch, kv_len, d, generator=gen, dtype=F64)
    else:
        key = value = query
    mask = None
    if padding:
        mask = torch.rand(batch, kv_len, generator=gen) < 0.4
        mask[:, 0] = False
    return {
        "weights": weights,
        "n_heads": n_heads,
        "query": query,
        "key": key,
        "value": value,
        "key_padding_mask": mask,
        "causal": causal,
    }


def describe(case: dict) -> str:
    q, k, mask = case["query"], case["key"], case["key_padding_mask"]
    padded = 0 if mask is None else int(mask.sum())
    return (
        f"batch={q.size(0)}, n_heads={case['n_heads']}, head_dim={q.size(-1) // case['n_heads']}, "
        f"q_len={q.size(1)}, kv_len={k.size(1)}, causal={case['causal']}, "
        f"{padded} padding keys"
    )


def allowed_mask(case: dict) -> torch.Tensor:
    """(batch, 1, q_len, kv_len): True where query i may attend to key j."""
    q_len, kv_len = case["query"].size(1), case["key"].size(1)
    allowed = torch.ones(case["query"].size(0), 1, q_len, kv_len, dtype=torch.bool)
    if case["key_padding_mask"] is not None:
        allowed = allowed & ~case["key_padding_mask"][:, None, None, :]
    if case["causal"]:
        allowed = allowed & torch.ones(q_len, kv_len, dtype=torch.bool).tril()
    return allowed


def torch_mha(case: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """nn.MultiheadAttention with the case's weights: output and head-averaged weights."""
    w = case["weights"]
    d = w["q_proj.weight"].size(0)
    bias = "q_proj.bias" in w
    module = nn.MultiheadAttention(d, case["n_heads"], bias=bias, batch_first=True, dtype=F64)
    module.eval()
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.cat([w[f"{p}_proj.weight"] for p in "qkv"]))
        module.out_proj.weight.copy_(w["out_proj.weight"])
        if bias:
            module.in_proj_bias.copy_(torch.cat([w[f"{p}_proj.bias"] for p in "qkv"]))
            module.out_proj.bias.copy_(w["out_proj.bias"])
        q_len, kv_len = case["query"].size(1), case["key"].size(1)
        attn_mask = None
        if case["causal"]:
            attn_mask = ~torch.ones(q_len, kv_len, dtype=torch.bool).tril()
        return module(
            case["query"],
            case["key"],
            case["value"],
            key_padding_mask=case["key_padding_mask"],
            attn_mask=attn_mask,
            need_weights=True,
            average_attn_weights=True,
        )


def run(case: dict) -> tuple[torch.Tensor, torch.Tensor | None]:
    return mha.attend(
        case["weights"],
        case["n_heads"],
        case["query"],
        case["key"],
        case["value"],
        case["key_padding_mask"],
        case["causal"],
    )


def max_err(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).abs().max()) if got.numel() else 0.0


@given(cases())
def test_matches_nn_multihead_attention(case):
    out, weights = run(case)
    want_out, want_weights = torch_mha(case)
    assert out.shape == want_out.shape, (
        f"{describe(case)}: output shape {tuple(out.shape)}, expected {tuple(want_out.shape)}"
    )
    err = max_err(out, want_out)
    assert err < 1e-9, f"{describe(case)}: output differs from nn.MultiheadAttention by {err:.2e}"
    assert weights is not None, "need_weights=True returned no attention weights"
    expected_shape = (*allowed_mask(case).shape[:1], case["n_heads"], *want_weights.shape[1:])
    assert tuple(weights.shape) == expected_shape, (
        f"{describe(case)}: weights have shape {tuple(weights.shape)}, expected {expected_shape}"
    )
    err = max_err(weights.mean(dim=1), want_weights)
    assert err < 1e-9, (
        f"{describe(case)}: head-averaged weights differ from nn.MultiheadAttention's by {err:.2e}"
    )


@st.composite
def sdpa_cases(draw):
    """q, k, v (batch, heads, len, dim) and an allowed mask of one of the broadcastable shapes
    (or None); every query has at least one allowed key."""
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    b, h = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    lq, lk = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    d, dv = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    q = 2 * torch.randn(b, h, lq, d, generator=gen, dtype=F64)
    k = 2 * torch.randn(b, h, lk, d, generator=gen, dtype=F64)
    v = torch.randn(b, h, lk, dv, generator=gen, dtype=F64)
    shape = draw(st.sampled_from([None, (b, h, lq, lk), (b, 1, 1, lk), (lq, lk), (b, 1, lq, lk)]))
    if shape is None:
        return q, k, v, None
    allowed = torch.rand(shape, generator=gen) < 0.6
    first = torch.randint(lk, shape[:-1], generator=gen)
    allowed.scatter_(-1, first.unsqueeze(-1), True)
    return q, k, v, allowed


@given(sdpa_cases())
def test_matches_scaled_dot_product_attention(case):
    q, k, v, allowed = case
    out, weights = sdpa(q, k, v, allowed)
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    where = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}, allowed " + (
        "None" if allowed is None else str(tuple(allowed.shape))
    )
    assert out.shape == want.shape, (
        f"{where}: output shape {tuple(out.shape)}, expected {tuple(want.shape)}"
    )
    err = max_err(out, want)
    assert err < 1e-9, f"{where}: output differs from F.scaled_dot_product_attention by {err:.2e}"
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    err = max_err(weights, scores.softmax(-1))
    assert err < 1e-9, (
        f"{where}: weights differ from the masked softmax of q.k/sqrt(d) by {err:.2e}"
    )


@given(cases())
def test_weights_are_a_distribution_over_the_allowed_keys(case):
    _, weights = run(case)
    assert weights is not None, "need_weights=True returned no attention weights"
    allowed = allowed_mask(case).expand_as(weights)
    leaked = float(weights[~allowed].abs().max()) if (~allowed).any() else 0.0
    assert leaked == 0.0, f"{describe(case)}: a disallowed key has attention weight {leaked:.3e}"
    assert float(weights.min()) >= 0.0, (
        f"{describe(case)}: negative weight {float(weights.min()):.3e}"
    )
    err = float((weights.sum(-1) - 1).abs().max())
    assert err < 1e-12, f"{describe(case)}: a query's weights sum to 1 +- {err:.2e}"


@st.composite
def fully_masked_cases(draw):
    """Cases with queries that may attend to no key: a batch row made all padding, or (when
    causal) keys padded on the left, so the first queries only see padding."""
    case = draw(cases(cross=draw(st.booleans()), padding=True))
    mask = case["key_padding_mask"].clone()
    batch, kv_len = mask.shape
    row = draw(st.integers(0, batch - 1))
    if case["causal"] and kv_len > 1 and draw(st.booleans()):
        mask[row, : draw(st.integers(1, kv_len - 1))] = True
    else:
        mask[row] = True
    return {**case, "key_padding_mask": mask}


@given(fully_masked_cases())
def test_query_with_no_allowed_key_outputs_the_bias(case):
    out, weights = run(case)
    no_key = ~allowed_mask(case).any(-1)[:, 0]  # (batch, q_len)
    w = case["weights"]
    bias = w.get("out_proj.bias", torch.zeros(w["out_proj.weight"].size(0), dtype=F64))
    n_nan = int(torch.isnan(out).sum())
    assert n_nan == 0, (
        f"{describe(case)}: {n_nan} NaN outputs ({int(no_key.sum())} queries see no key)"
    )
    err = max_err(out[no_key], bias.expand(int(no_key.sum()), -1))
    assert err < 1e-12, (
        f"{describe(case)}: the {int(no_key.sum())} queries with no key to attend to are "
        f"{err:.2e} away from out_proj.bias"
    )
    assert weights is not None, "need_weights=True returned no attention weights"
    n_bad = int((weights.transpose(1, 2)[no_key] != 0).sum())
    assert n_bad == 0, f"{describe(case)}: {n_bad} nonzero weights for queries that see no key"
    want, _ = torch_mha(case)
    err = max_err(out[~no_key], want[~no_key])
    assert err < 1e-9, (
        f"{describe(case)}: the other queries differ from nn.MultiheadAttention by {err:.2e}"
    )


@given(cases(padding=False), st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_padding_keys_do_not_change_the_output(case, n_pad, seed):
    gen = torch.Generator().manual_seed(seed)
    batch, kv_len, d = case["key"].shape
    junk = 50 * torch.randn(batch, n_pad, d, generator=gen, dtype=F64)
    mask = torch.cat(
        [torch.zeros(batch, kv_len, dtype=torch.bool), torch.ones(batch, n_pad, dtype=torch.bool)],
        1,
    )
    base = run(case)[0]
    if case["key"] is case["query"]:
        x = torch.cat([case["query"], junk], 1)
        padded = {**case, "query": x, "key": x, "value": x, "key_padding_mask": mask}
        out = run(padded)[0][:, :kv_len]
    else:
        padded = {
            **case,
            "key": torch.cat([case["key"], junk], 1),
            "value": torch.cat([case["value"], -junk], 1),
            "key_padding_mask": mask,
        }
        out = run(padded)[0]
    err = max_err(out, base)
    assert err < 1e-9, (
        f"{describe(case)}: {n_pad} padding keys appended change the output by {err:.2e}"
    )


@given(cases(causal=True, cross=False, padding=False, max_len=6), st.data())
def test_causal_output_ignores_later_tokens(case, data):
    x = case["query"]
    t = data.draw(st.integers(0, x.size(1) - 1), label="t")
    changed = x.clone()
    changed[:, t + 1 :] = torch.flip(changed[:, t + 1 :], dims=[0]) * 3 + 1
    a = run(case)[0]
    b = run({**case, "query": changed, "key": changed, "value": changed})[0]
    err = max_err(a[:, : t + 1], b[:, : t + 1])
    assert err < 1e-9, (
        f"{describe(case)}: changing the tokens after position {t} changes the outputs up to "
        f"{t} by {err:.2e}"
    )


def test_mismatched_padding_mask_raises_value_error():
    gen = torch.Generator().manual_seed(0)
    weights = make_weights(gen, 4, bias=True)
    x = torch.randn(2, 3, 4, generator=gen, dtype=F64)
    with pytest.raises(ValueError):
        mha.output(weights, 2, x, x, x, torch.zeros(2, 4, dtype=torch.bool))
