"""Holdout checks for PaddedSelfAttention: arbitrary masks, per-sequence runs, gradients."""

import torch
from hypothesis import given
from hypothesis import strategies as st
from test_padded_attention import FAST, TOL, make_attention, seeds
from torch import nn

from grader.grading.boundary import candidate

layers = candidate("harness")
padded = candidate("padded_attention")


# Unlike the visible test's as_multihead, this one follows the weights' dtype (float32 test).
def as_multihead(config: dict, params: dict) -> nn.MultiheadAttention:
    bias = config["bias"]
    mha = nn.MultiheadAttention(
        config["embed_dim"], config["num_heads"], bias=bias, batch_first=True
    )
    mha = mha.to(params["q_proj.weight"].dtype).eval()
    with torch.no_grad():
        projections = ("q_proj", "k_proj", "v_proj")
        mha.in_proj_weight.copy_(torch.cat([params[f"{p}.weight"] for p in projections]))
        mha.out_proj.weight.copy_(params["out_proj.weight"])
        if bias:
            mha.in_proj_bias.copy_(torch.cat([params[f"{p}.bias"] for p in projections]))
            mha.out_proj.bias.copy_(params["out_proj.bias"])
    return mha


def random_inputs(seed: int, batch: int, seq_len: int, embed_dim: int):
    gen = torch.Generator().manual_seed(seed + 1)
    return torch.randn(batch, seq_len, embed_dim, generator=gen, dtype=torch.float64)


@st.composite
def arbitrary_masks(draw):
    """(B, S) masks of any pattern (left padding, holes) with at least one real key per row."""
    batch = draw(st.integers(1, 3))
    seq_len = draw(st.integers(1, 6))
    rows = []
    for _ in range(batch):
        row = draw(st.lists(st.booleans(), min_size=seq_len, max_size=seq_len))
        keep = draw(st.integers(0, seq_len - 1))
        row[keep] = False
        rows.append(row)
    return torch.tensor(rows)


@FAST
@given(seed=seeds, mask=arbitrary_masks(), num_heads=st.sampled_from([1, 2, 4]))
def test_any_mask_pattern_matches_nn_multihead_attention(seed, mask, num_heads):
    config, params = make_attention(seed, 8, num_heads, bias=False)
    batch, seq_len = mask.shape
    x = random_inputs(seed, batch, seq_len, 8)
    out = layers.attention(config, params, x, key_padding_mask=mask)
    with torch.no_grad():
        mha = as_multihead(config, params)
        expected, _ = mha(x, x, x, key_padding_mask=mask, need_weights=False)
    d = (out - expected)[~mask].abs().max().item()  # padded positions' outputs carry no meaning
    assert d <= TOL, (
        f"with key_padding_mask={mask.int().tolist()} (num_heads={num_heads}, bias=False) the "
        f"output at real positions differs from nn.MultiheadAttention by {d:.3e}"
    )


@FAST
@given(seed=seeds, lengths=st.lists(st.integers(1, 5), min_size=1, max_size=3))
def test_padded_batch_equals_each_sequence_run_alone(seed, lengths):
    config, params = make_attention(seed)
    seq_len = max(lengths) + 1
    x = random_inputs(seed, len(lengths), seq_len, 8)
    mask = padded.padding_mask_from_lengths(torch.tensor(lengths), seq_len)
    out = layers.attention(config, params, x, mask)
    for i, n in enumerate(lengths):
        alone = layers.attention(config, params, x[i : i + 1, :n])[0]
        d = (out[i, :n] - alone).abs().max().item()
        assert d <= TOL, (
            f"sequence {i} (length {n}) gives outputs differing by {d:.3e} when run in a "
            f"padded batch (lengths={lengths}, padded to {seq_len}) versus alone, unpadded"
        )


@FAST
@given(seed=seeds, lengths=st.lists(st.integers(1, 4), min_size=1, max_size=3))
def test_real_outputs_have_zero_gradient_wrt_padded_inputs(seed, lengths):
    config, params = make_attention(seed)
    seq_len = max(lengths) + 2
    mask = torch.tensor([[s >= n for s in range(seq_len)] for n in lengths])
    x = random_inputs(seed, len(lengths), seq_len, 8)
    real = (~mask).to(x.dtype)[..., None]
    grad = layers.input_gradient(config, params, x, mask, real)  # of sum(out * real)
    leak = grad.masked_fill(~mask[..., None], 0.0).abs().max().item()
    assert leak == 0.0, (
        f"real-token outputs have gradient {leak:.3e} with respect to padded inputs "
        f"(lengths={lengths}, padded to {seq_len}); padding must not be attended"
    )


def test_float32_matches_nn_multihead_attention_without_nan():
    config, params = make_attention(3)
    params = {name: p.float() for name, p in params.items()}
    lengths = [1, 4, 6]
    mask = torch.tensor([[s >= n for s in range(6)] for n in lengths])
    x = random_inputs(3, 3, 6, 8).float()
    out = layers.attention(config, params, x, mask)
    with torch.no_grad():
        mha = as_multihead(config, params)
        expected, _ = mha(x, x, x, key_padding_mask=mask, need_weights=False)
    assert bool(torch.isfinite(out).all()), "float32 output contains NaN/inf"
    d = (out - expected)[~mask].abs().max().item()
    assert d <= 1e-5, (
        f"in float32, output at real positions differs from nn.MultiheadAttention by {d:.3e}"
    )


def test_lengths_helper_with_explicit_max_len():
    mask = padded.padding_mask_from_lengths(torch.tensor([2, 0, 3]), 4)
    expected = [[False, False, True, True], [True] * 4, [False, False, False, True]]
    assert mask.tolist() == expected, (
        f"padding_mask_from_lengths([2, 0, 3], 4) = {mask.tolist()}, expected {expected}"
    )


def with_dropout(config: dict, p: float) -> dict:
    return {**config, "dropout": p}


@FAST
@given(
    seed=seeds, lengths=st.lists(st.integers(1, 5), min_size=1, max_size=3), empty=st.integers(0, 3)
)
def test_a_sequence_that_is_all_padding_stays_finite_and_apart(seed, lengths, empty):
    config, params = make_attention(seed)
    empty = min(empty, len(lengths))
    all_lengths = [*lengths[:empty], 0, *lengths[empty:]]
    seq_len = max(lengths) + 1
    mask = torch.tensor([[s >= n for s in range(seq_len)] for n in all_lengths])
    x = random_inputs(seed, len(all_lengths), seq_len, 8)
    out = layers.attention(config, params, x, mask)
    assert bool(torch.isfinite(out[empty]).all()), (
        f"sequence {empty} is all padding (lengths={all_lengths}): its outputs contain NaN/inf; "
        f"they carry no meaning but must be finite"
    )
    keep = [i for i in range(len(all_lengths)) if i != empty]
    without = layers.attention(config, params, x[keep], mask[keep])
    for row, i in enumerate(keep):
        n = all_lengths[i]
        d = (out[i, :n] - without[row, :n]).abs().max().item()
        assert d <= TOL, (
            f"adding an all-padding sequence to the batch (lengths={all_lengths}) changed the "
            f"real outputs of sequence {i} (length {n}) by {d:.3e}"
        )


@FAST
@given(
    seed=seeds,
    lengths=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    p=st.sampled_from([0.2, 0.5]),
)
def test_eval_mode_switches_dropout_off(seed, lengths, p):
    config, params = make_attention(seed)
    config = with_dropout(config, p)
    seq_len = max(lengths) + 1
    mask = torch.tensor([[s >= n for s in range(seq_len)] for n in lengths])
    x = random_inputs(seed, len(lengths), seq_len, 8)
    out = layers.attention(config, params, x, mask, seed=seed)
    with torch.no_grad():
        expected, _ = as_multihead(config, params)(
            x, x, x, key_padding_mask=mask, need_weights=False
        )
    for i, n in enumerate(lengths):
        d = (out[i, :n] - expected[i, :n]).abs().max().item()
        assert d <= TOL, (
            f"in eval mode with dropout={p}, real outputs of sequence {i} differ from "
            f"nn.MultiheadAttention (eval) by {d:.3e}; eval mode must not drop attention weights"
        )


@FAST
@given(seed=seeds, lengths=st.lists(st.integers(1, 5), min_size=1, max_size=3))
def test_train_mode_with_dropout_still_ignores_padding(seed, lengths):
    config, params = make_attention(seed)
    config = with_dropout(config, 0.3)
    seq_len = max(lengths) + 2
    mask = torch.tensor([[s >= n for s in range(seq_len)] for n in lengths])
    x = random_inputs(seed, len(lengths), seq_len, 8)
    junk = 5.0 * random_inputs(seed + 100, len(lengths), seq_len, 8)
    x_other = torch.where(mask[..., None], junk, x)
    # The same dropout masks in both runs: torch's generator is seeded before each forward.
    out = layers.attention(config, params, x, mask, train=True, seed=seed)
    out_other = layers.attention(config, params, x_other, mask, train=True, seed=seed)
    for i, n in enumerate(lengths):
        d = (out[i, :n] - out_other[i, :n]).abs().max().item()
        assert d <= TOL, (
            f"in train mode with dropout=0.3 (same dropout masks), changing only the padded "
            f"positions changed the real outputs of sequence {i} (length {n}) by {d:.3e}"
        )


def test_bfloat16_in_bfloat16_out():
    config, params = make_attention(5)
    params = {name: p.to(torch.bfloat16) for name, p in params.items()}
    lengths = [2, 5, 6]
    mask = torch.tensor([[s >= n for s in range(6)] for n in lengths])
    x = random_inputs(5, 3, 6, 8).to(torch.bfloat16)
    out = layers.attention(config, params, x, mask)
    assert out.dtype == torch.bfloat16, f"bfloat16 input gave a {out.dtype} output"
    assert bool(torch.isfinite(out).all()), "bfloat16 output contains NaN/inf"
    wide = {name: p.double() for name, p in params.items()}
    with torch.no_grad():
        expected, _ = as_multihead(config, wide)(
            x.double(), x.double(), x.double(), key_padding_mask=mask, need_weights=False
        )
    tol = 0.03 * (1.0 + float(expected.abs().max()))
    for i, n in enumerate(lengths):
        d = (out[i, :n].double() - expected[i, :n]).abs().max().item()
        assert d <= tol, (
            f"in bfloat16, real outputs of sequence {i} (length {n}) differ from "
            f"nn.MultiheadAttention in float64 on the same rounded weights by {d:.3e} "
            f"(bfloat16 rounding explains {tol:.2e})"
        )
