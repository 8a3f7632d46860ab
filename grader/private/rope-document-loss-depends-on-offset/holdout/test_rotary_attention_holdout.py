"""Holdout properties for the rotary attention module, never shown to the candidate: the
layer against a from-the-weights SDPA oracle, per-row positions, float32, other widths."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from test_rotary_attention import (
    FAST,
    TOL,
    bases,
    make_layer,
    oracle_rotate,
    rope,
    seeds,
    tokens,
    vectors,
)


def oracle_attention(config: dict, params: dict, x: torch.Tensor, positions: list[int]):
    n_heads = config["n_heads"]
    batch, seq_len, d = x.shape
    head_dim = d // n_heads
    q, k, v = (
        t.view(batch, seq_len, n_heads, head_dim).transpose(1, 2)
        for t in F.linear(x, params["qkv.weight"]).split(d, dim=-1)
    )
    base = config["rope_base"]
    q = torch.from_numpy(oracle_rotate(q, positions, head_dim, base))
    k = torch.from_numpy(oracle_rotate(k, positions, head_dim, base))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return F.linear(out.transpose(1, 2).reshape(batch, seq_len, d), params["proj.weight"])


@FAST
@given(seed=seeds, n_heads=st.sampled_from([1, 2, 3]), head_dim=st.sampled_from([2, 4, 8]),
       seq_len=st.integers(1, 8), offset=st.integers(0, 100), base=bases)  # fmt: skip
def test_layer_matches_sdpa_on_complex_rotated_queries_and_keys(
    seed, n_heads, head_dim, seq_len, offset, base
):
    config, params = make_layer(seed, n_heads, head_dim, base)
    x = tokens(seed, 2, seq_len, n_heads * head_dim)
    positions = list(range(offset, offset + seq_len))
    got = rope.attention(config, params, x, torch.tensor(positions))
    d = (got - oracle_attention(config, params, x, positions)).abs().max().item()
    assert d <= TOL, (
        f"n_heads={n_heads}, head_dim={head_dim}, positions {offset}..{offset + seq_len - 1}: "
        f"the layer differs by {d:.3e} from causal SDPA on adjacent-pair rotated queries and keys"
    )


@FAST
@given(seed=seeds, head_dim=st.sampled_from([4, 8]), seq_len=st.integers(2, 6),
       offsets=st.lists(st.integers(0, 300), min_size=2, max_size=3))  # fmt: skip
def test_per_row_positions_act_row_by_row(seed, head_dim, seq_len, offsets):
    config, params = make_layer(seed, 2, head_dim)
    x = tokens(seed, len(offsets), seq_len, 2 * head_dim)
    positions = torch.stack([torch.arange(seq_len) + o for o in offsets])
    batched = rope.attention(config, params, x, positions)
    for row, o in enumerate(offsets):
        alone = rope.attention(config, params, x[row : row + 1])[0]
        d = (batched[row] - alone).abs().max().item()
        assert d <= TOL, (
            f"row {row} at positions {o}..{o + seq_len - 1} (per-row positions) differs by "
            f"{d:.3e} from the same tokens alone at 0..{seq_len - 1}"
        )


@FAST
@given(seed=seeds, head_dim=st.sampled_from([4, 8, 64]), p=st.integers(1, 2000))
def test_float32_rotation_matches_the_float64_oracle(seed, head_dim, p):
    x = vectors(seed, 2, head_dim)
    got = rope.rotate(x.float(), torch.tensor([p, p // 2]), head_dim)
    assert got.dtype == torch.float32, f"float32 input came back as {got.dtype}"
    want = oracle_rotate(x, [p, p // 2], head_dim, 10000.0)
    err = float(np.abs(got.double().numpy() - want).max())
    assert err <= 1e-4, f"head_dim={head_dim}, float32, position {p}: off the oracle by {err:.3e}"


@FAST
@given(
    seed=seeds,
    head_dim=st.sampled_from([2, 32, 128]),
    ps=st.lists(st.integers(0, 4000), min_size=1, max_size=4),
)
def test_narrow_and_wide_heads_match_the_oracle(seed, head_dim, ps):
    x = vectors(seed, len(ps), head_dim)
    got = rope.rotate(x, torch.tensor(ps), head_dim).numpy()
    err = float(np.abs(got - oracle_rotate(x, ps, head_dim, 10000.0)).max())
    assert err <= TOL, f"head_dim={head_dim}, positions {ps}: off the oracle by {err:.3e}"
