"""Property tests for the rotary embedding and the attention layer that uses it (float64).

The oracle treats each pair of adjacent dimensions ``(2i, 2i + 1)`` as a complex number and
multiplies it by ``exp(1j * p * theta_i)``, the layout and direction the module documents.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

rope = candidate("harness")  # rotary embedding and attention, built and run in the subject

TOL = 1e-9
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile

seeds = st.integers(0, 2**16)
head_dims = st.sampled_from([4, 6, 8, 16])
bases = st.sampled_from([100.0, 10000.0])
positions_ = st.integers(1, 300)


def vectors(seed: int, n: int, head_dim: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, head_dim, generator=gen, dtype=torch.float64)


def oracle_rotate(x: torch.Tensor, positions: list[int], head_dim: int, base: float) -> np.ndarray:
    """float64 NumPy: adjacent pairs as complex numbers times exp(i * p * theta); ``x`` is
    (..., T, head_dim) and ``positions`` has T entries."""
    theta = base ** (-np.arange(0, head_dim, 2) / head_dim)
    z = x.numpy()[..., 0::2] + 1j * x.numpy()[..., 1::2]
    z = z * np.exp(1j * np.asarray(positions, dtype=np.float64)[:, None] * theta)
    out = np.empty(x.shape)
    out[..., 0::2], out[..., 1::2] = z.real, z.imag
    return out


def rotated(x: torch.Tensor, positions: list[int], head_dim: int, base: float) -> torch.Tensor:
    return rope.rotate(x, torch.tensor(positions), head_dim, base)


@FAST
@given(seed=seeds, head_dim=head_dims, base=bases, m=positions_, n=positions_,
       shift=st.integers(1, 500))  # fmt: skip
def test_score_depends_only_on_the_position_difference(seed, head_dim, base, m, n, shift):
    q, k = vectors(seed, 2, head_dim)
    qs = rotated(torch.stack([q, q]), [m, m + shift], head_dim, base)
    ks = rotated(torch.stack([k, k]), [n, n + shift], head_dim, base)
    before, after = float(qs[0] @ ks[0]), float(qs[1] @ ks[1])
    assert abs(before - after) <= TOL * (1 + abs(before)), (
        f"head_dim={head_dim}, base={base:g}: q.k is {before:.6f} with the query at {m} and "
        f"the key at {n}, but {after:.6f} with both moved by {shift}; it must depend on m - n only"
    )


@FAST
@given(seed=seeds, head_dim=head_dims, base=bases, p=positions_)
def test_rotation_preserves_norms(seed, head_dim, base, p):
    x = vectors(seed, 3, head_dim)
    out = rotated(x, [p] * 3, head_dim, base)
    ratio = (out.norm(dim=-1) / x.norm(dim=-1)).tolist()
    worst = max(ratio, key=lambda r: abs(r - 1))
    assert abs(worst - 1) <= TOL, (
        f"head_dim={head_dim}, base={base:g}, position {p}: rotating changed a vector's norm "
        f"by a factor {worst:.6f}; a rotation preserves norms"
    )


@FAST
@given(seed=seeds, head_dim=head_dims, base=bases, ps=st.lists(positions_, min_size=1, max_size=4))
def test_matches_complex_rotation_of_adjacent_pairs(seed, head_dim, base, ps):
    x = vectors(seed, len(ps), head_dim)
    got = rotated(x, ps, head_dim, base).numpy()
    want = oracle_rotate(x, ps, head_dim, base)
    err = np.abs(got - want)
    t, j = np.unravel_index(int(np.argmax(err)), err.shape)
    assert err[t, j] <= TOL, (
        f"head_dim={head_dim}, base={base:g}: at position {ps[t]}, dimension {j} is "
        f"{got[t, j]:.6f}, expected {want[t, j]:.6f} (pair {j // 2} = dims {j - j % 2}, "
        f"{j - j % 2 + 1} rotated by {ps[t]} * theta_{j // 2})"
    )


def make_layer(seed: int, n_heads: int, head_dim: int, base: float = 10000.0):
    d = n_heads * head_dim
    config = {"d_model": d, "n_heads": n_heads, "rope_base": base, "max_seq_len": 64}
    gen = torch.Generator().manual_seed(seed)
    params = {
        "qkv.weight": torch.randn(3 * d, d, generator=gen, dtype=torch.float64) / d**0.5,
        "proj.weight": torch.randn(d, d, generator=gen, dtype=torch.float64) / d**0.5,
    }
    return config, params


def tokens(seed: int, batch: int, seq_len: int, d: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed + 1)
    return 2.0 * torch.randn(batch, seq_len, d, generator=gen, dtype=torch.float64)


@FAST
@given(seed=seeds, n_heads=st.sampled_from([1, 2]), head_dim=head_dims,
       seq_len=st.integers(2, 8), offset=st.integers(1, 200))  # fmt: skip
def test_shifting_every_position_leaves_attention_unchanged(
    seed, n_heads, head_dim, seq_len, offset
):
    config, params = make_layer(seed, n_heads, head_dim)
    x = tokens(seed, 2, seq_len, n_heads * head_dim)
    base = rope.attention(config, params, x)
    shifted = rope.attention(config, params, x, torch.arange(seq_len) + offset)
    d = (base - shifted).abs().max().item()
    assert d <= TOL, (
        f"head_dim={head_dim}, T={seq_len}: placing the sequence at positions {offset}.."
        f"{offset + seq_len - 1} instead of 0..{seq_len - 1} changed the output by {d:.3e}"
    )


@FAST
@given(seed=seeds, head_dim=head_dims, base=bases)
def test_position_zero_leaves_vectors_unchanged(seed, head_dim, base):
    x = vectors(seed, 3, head_dim)
    d = (rotated(x, [0, 0, 0], head_dim, base) - x).abs().max().item()
    assert d <= TOL, f"head_dim={head_dim}: rotating at position 0 changed the vector by {d:.3e}"


@FAST
@given(head_dim=head_dims, base=bases, ps=st.lists(st.integers(0, 300), min_size=1, max_size=5))
def test_cache_holds_cos_and_sin_of_each_pair_angle_on_both_dims(head_dim, base, ps):
    cos, sin = rope.cos_sin(torch.tensor(ps), head_dim, base)
    theta = base ** (-np.arange(0, head_dim, 2) / head_dim)
    angles = np.repeat(np.outer(ps, theta), 2, axis=-1)  # dims 2i and 2i+1 share angle i
    for name, got, want in (
        ("cos", cos.numpy(), np.cos(angles)),
        ("sin", sin.numpy(), np.sin(angles)),
    ):
        assert got.shape == want.shape, f"{name} has shape {got.shape}, expected {want.shape}"
        err = np.abs(got - want)
        t, j = np.unravel_index(int(np.argmax(err)), err.shape)
        assert err[t, j] <= TOL, (
            f"{name} at position {ps[t]}, dimension {j} is {got[t, j]:.6f}, expected "
            f"{name}({ps[t]} * theta_{j // 2}) = {want[t, j]:.6f}"
        )


@FAST
@given(seed=seeds, head_dim=head_dims, p=st.integers(128, 5000))
def test_positions_past_the_cache_rotate_like_a_larger_cache(seed, head_dim, p):
    x = vectors(seed, 2, head_dim)
    small = rope.rotate(x, torch.tensor([p, 3]), head_dim, 10000.0, 128)
    large = rope.rotate(x, torch.tensor([p, 3]), head_dim, 10000.0, 8192)
    d = (small - large).abs().max().item()
    assert d <= TOL, (
        f"head_dim={head_dim}: position {p} (past max_seq_len=128) rotates differently from "
        f"the same position in a cache of 8192 by {d:.3e}"
    )


@FAST
@given(seed=seeds, head_dim=head_dims, seq_len=st.integers(2, 8), data=st.data())
def test_attention_is_causal(seed, head_dim, seq_len, data):
    config, params = make_layer(seed, 2, head_dim)
    t = data.draw(st.integers(0, seq_len - 2), label="t")
    x = tokens(seed, 2, seq_len, 2 * head_dim)
    later = x.clone()
    later[:, t + 1 :] = tokens(seed + 5, 2, seq_len - t - 1, 2 * head_dim)
    a = rope.attention(config, params, x)[:, : t + 1]
    b = rope.attention(config, params, later)[:, : t + 1]
    d = (a - b).abs().max().item()
    assert d <= TOL, f"changing tokens after position {t} changed outputs at 0..{t} by {d:.3e}"
