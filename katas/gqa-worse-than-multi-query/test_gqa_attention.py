"""Property tests for GroupedQueryAttention and mean_pool_kv_heads (float64, fresh weights).

The oracle is ``F.scaled_dot_product_attention`` on the same projections, with each
key/value head repeated for the query heads of its group (query head ``h`` reads key/value
head ``h // (n_heads // n_kv_heads)``, the layout the module documents).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

layers = candidate("harness")  # the layer under test, built and run in the subject process

TOL = 1e-10
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile

seeds = st.integers(0, 2**16)
# (n_heads, n_kv_heads) with 1 < n_kv_heads < n_heads: the grouped cases.
grouped_shapes = st.sampled_from([(4, 2), (6, 2), (6, 3), (8, 2), (8, 4)])
head_dims = st.sampled_from([2, 4])


def make_config(n_heads: int, n_kv_heads: int, head_dim: int = 4, **extra) -> dict:
    return {"d_model": n_heads * head_dim, "n_heads": n_heads, "n_kv_heads": n_kv_heads, **extra}


def make_params(config: dict, seed: int, kv_heads: int | None = None) -> dict[str, torch.Tensor]:
    """float64 weights for ``config`` (``kv_heads`` key/value heads, default the config's)
    drawn from ``seed``, scaled so that attention scores are of order 1."""
    d = config["d_model"]
    head_dim = d // config["n_heads"]
    kv = (kv_heads or config["n_kv_heads"]) * head_dim
    shapes = {"q_proj": (d, d), "k_proj": (kv, d), "v_proj": (kv, d), "o_proj": (d, d)}
    gen = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in shapes.items():
        params[f"{name}.weight"] = torch.randn(shape, generator=gen, dtype=torch.float64)
        params[f"{name}.weight"] /= shape[1] ** 0.5 / 1.5
        if config.get("bias", False):
            params[f"{name}.bias"] = 0.3 * torch.randn(shape[0], generator=gen, dtype=torch.float64)
    return params


def make_input(seed: int, batch: int, seq_len: int, d_model: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed + 1)
    return torch.randn(batch, seq_len, d_model, generator=gen, dtype=torch.float64)


def oracle(config: dict, params: dict, x: torch.Tensor) -> torch.Tensor:
    """Causal grouped-query attention from the weights, with SDPA."""
    n_heads, n_kv = config["n_heads"], config["n_kv_heads"]
    batch, seq_len, d = x.shape

    def proj(name: str, inp: torch.Tensor) -> torch.Tensor:
        return F.linear(inp, params[f"{name}.weight"], params.get(f"{name}.bias"))

    def heads(t: torch.Tensor, n: int) -> torch.Tensor:
        return t.view(batch, seq_len, n, -1).transpose(1, 2)

    q = heads(proj("q_proj", x), n_heads)
    k = heads(proj("k_proj", x), n_kv).repeat_interleave(n_heads // n_kv, dim=1)
    v = heads(proj("v_proj", x), n_kv).repeat_interleave(n_heads // n_kv, dim=1)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return proj("o_proj", out.transpose(1, 2).reshape(batch, seq_len, d))


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b|, NaN if either side has one (so `d <= tol` rejects it)."""
    return (a - b).abs().max().item()


def heads_read(config: dict, params: dict, x: torch.Tensor) -> list[set[int]]:
    """For each query head, the key/value heads whose weights its output depends on.

    The output projection is the identity, so the output columns are the heads' own
    outputs; each key/value head's rows of k_proj and v_proj are changed in turn.
    """
    n_heads, n_kv = config["n_heads"], config["n_kv_heads"]
    head_dim = config["d_model"] // n_heads
    params = {**params, "o_proj.weight": torch.eye(config["d_model"], dtype=torch.float64)}
    base = layers.attention(config, params, x).view(*x.shape[:2], n_heads, head_dim)
    reads: list[set[int]] = [set() for _ in range(n_heads)]
    for g in range(n_kv):
        nudged = {name: t.clone() for name, t in params.items()}
        rows = slice(g * head_dim, (g + 1) * head_dim)
        nudged["k_proj.weight"][rows] *= -2.0
        nudged["v_proj.weight"][rows] += 1.0
        out = layers.attention(config, nudged, x).view(*x.shape[:2], n_heads, head_dim)
        changed = (out - base).abs().amax(dim=(0, 1, 3))
        for h in range(n_heads):
            if changed[h] > 1e-8:
                reads[h].add(g)
    return reads


@FAST
@given(seed=seeds, shape=grouped_shapes, head_dim=head_dims, batch=st.integers(1, 2),
       seq_len=st.integers(1, 6))  # fmt: skip
def test_matches_sdpa_with_each_kv_head_shared_by_its_group(seed, shape, head_dim, batch, seq_len):
    config = make_config(*shape, head_dim=head_dim)
    params = make_params(config, seed)
    x = make_input(seed, batch, seq_len, config["d_model"])
    d = max_diff(layers.attention(config, params, x), oracle(config, params, x))
    assert d <= TOL, (
        f"n_heads={shape[0]}, n_kv_heads={shape[1]}, T={seq_len}: output differs by {d:.3e} "
        f"from causal SDPA where query head h reads key/value head h // {shape[0] // shape[1]}"
    )


@FAST
@given(seed=seeds, shape=grouped_shapes, seq_len=st.integers(1, 4))
def test_each_query_head_reads_only_the_kv_head_of_its_group(seed, shape, seq_len):
    n_heads, n_kv = shape
    config = make_config(n_heads, n_kv, head_dim=2)
    params = make_params(config, seed)
    x = make_input(seed, 1, seq_len, config["d_model"])
    reads = heads_read(config, params, x)
    for h, got in enumerate(reads):
        want = {h // (n_heads // n_kv)}
        assert got == want, (
            f"n_heads={n_heads}, n_kv_heads={n_kv}: query head {h} depends on key/value "
            f"head(s) {sorted(got)}, expected only {sorted(want)} (groups are blocks of "
            f"{n_heads // n_kv} contiguous query heads); all heads: {[sorted(r) for r in reads]}"
        )


def with_equal_kv_heads_per_group(params: dict, n_heads: int, n_kv: int, head_dim: int) -> dict:
    """Multi-head weights whose key/value heads are equal within each contiguous group."""
    out = dict(params)
    n_rep = n_heads // n_kv
    for name in ("k_proj.weight", "v_proj.weight"):
        w = params[name].view(n_heads, head_dim, -1)
        firsts = w[::n_rep]  # the first head of each group
        out[name] = firsts.repeat_interleave(n_rep, dim=0).reshape(n_heads * head_dim, -1)
    return out


@FAST
@given(seed=seeds, shape=grouped_shapes, head_dim=head_dims, seq_len=st.integers(1, 5))
def test_converting_mha_with_equal_heads_per_group_is_lossless(seed, shape, head_dim, seq_len):
    n_heads, n_kv = shape
    mha_config = make_config(n_heads, n_heads, head_dim=head_dim)
    gqa_config = make_config(n_heads, n_kv, head_dim=head_dim)
    mha = with_equal_kv_heads_per_group(make_params(mha_config, seed), n_heads, n_kv, head_dim)
    x = make_input(seed, 2, seq_len, mha_config["d_model"])
    before = layers.attention(mha_config, mha, x)
    after = layers.converted_attention(gqa_config, mha, x)
    d = max_diff(after, before)
    assert d <= TOL, (
        f"a multi-head layer whose key/value heads are already equal within each group of "
        f"{n_heads // n_kv} changes its output by {d:.3e} when converted to "
        f"n_kv_heads={n_kv}; the conversion should lose nothing"
    )


@FAST
@given(seed=seeds, shape=grouped_shapes, head_dim=head_dims, bias=st.booleans())
def test_mean_pool_averages_contiguous_heads(seed, shape, head_dim, bias):
    n_heads, n_kv = shape
    n_rep = n_heads // n_kv
    mha_config = make_config(n_heads, n_heads, head_dim=head_dim, bias=bias)
    mha = make_params(mha_config, seed)
    pooled = layers.mean_pool(make_config(n_heads, n_kv, head_dim=head_dim, bias=bias), mha)
    assert set(pooled) == set(mha), f"pooled keys {sorted(pooled)}, expected {sorted(mha)}"
    for name, tensor in mha.items():
        if name.startswith(("k_proj", "v_proj")):
            grouped = tensor.reshape(n_kv, n_rep, head_dim, -1).mean(dim=1)
            want = grouped.reshape(n_kv * head_dim, *tensor.shape[1:])
        else:
            want = tensor
        got = pooled[name]
        assert got.shape == want.shape, f"{name}: shape {tuple(got.shape)}, not {tuple(want.shape)}"
        d = max_diff(got, want)
        assert d <= TOL, (
            f"{name} (n_heads={n_heads} -> n_kv_heads={n_kv}) is {d:.3e} away from the mean of "
            f"each group of {n_rep} contiguous source heads (projections other than k/v copied)"
        )


@FAST
@given(seed=seeds, n_heads=st.sampled_from([1, 2, 4, 6]), head_dim=head_dims,
       seq_len=st.integers(1, 6))  # fmt: skip
def test_n_kv_heads_equal_to_n_heads_is_multi_head_attention(seed, n_heads, head_dim, seq_len):
    config = make_config(n_heads, n_heads, head_dim=head_dim)
    params = make_params(config, seed)
    x = make_input(seed, 2, seq_len, config["d_model"])
    d = max_diff(layers.attention(config, params, x), oracle(config, params, x))
    assert d <= TOL, f"n_kv_heads = n_heads = {n_heads}: output differs from SDPA by {d:.3e}"


@FAST
@given(seed=seeds, n_heads=st.sampled_from([2, 4, 6]), head_dim=head_dims,
       seq_len=st.integers(1, 6))  # fmt: skip
def test_single_kv_head_is_multi_query_attention(seed, n_heads, head_dim, seq_len):
    config = make_config(n_heads, 1, head_dim=head_dim)
    params = make_params(config, seed)
    x = make_input(seed, 2, seq_len, config["d_model"])
    d = max_diff(layers.attention(config, params, x), oracle(config, params, x))
    assert d <= TOL, (
        f"n_heads={n_heads}, n_kv_heads=1: output differs from SDPA with the single key/value "
        f"head shared by every query head by {d:.3e}"
    )


@FAST
@given(seed=seeds, shape=grouped_shapes, seq_len=st.integers(2, 6), data=st.data())
def test_output_is_causal(seed, shape, seq_len, data):
    config = make_config(*shape, head_dim=2)
    params = make_params(config, seed)
    t = data.draw(st.integers(0, seq_len - 2), label="t")
    x = make_input(seed, 2, seq_len, config["d_model"])
    later = x.clone()
    later[:, t + 1 :] = make_input(seed + 7, 2, seq_len - t - 1, config["d_model"])
    d = max_diff(layers.attention(config, params, x)[:, : t + 1],
                 layers.attention(config, params, later)[:, : t + 1])  # fmt: skip
    assert d <= TOL, (
        f"changing the inputs after position {t} changed the outputs at positions 0..{t} by "
        f"{d:.3e}; position t may attend only to 0..t"
    )


@FAST
@given(seed=seeds, shape=grouped_shapes, dropout=st.sampled_from([0.1, 0.5]))
def test_dropout_acts_in_training_mode_only(seed, shape, dropout):
    config = make_config(*shape, head_dim=2)
    params = make_params(config, seed)
    x = make_input(seed, 2, 6, config["d_model"])
    plain = layers.attention(config, params, x)
    eval_out = layers.attention({**config, "dropout": dropout}, params, x)
    d = max_diff(eval_out, plain)
    assert d <= TOL, f"dropout={dropout} changed the eval-mode output by {d:.3e}"
    train_plain = layers.attention(config, params, x, train=True, seed=seed)
    d = max_diff(train_plain, plain)
    assert d <= TOL, f"with dropout=0.0, training mode differs from eval mode by {d:.3e}"
    a = layers.attention({**config, "dropout": dropout}, params, x, train=True, seed=seed)
    b = layers.attention({**config, "dropout": dropout}, params, x, train=True, seed=seed + 1)
    d = max_diff(a, b)
    assert d > 1e-6, (
        f"dropout={dropout} in training mode: two different seeds gave the same output "
        f"(|diff| = {d:.3e}); attention dropout is not applied"
    )


def test_config_rejects_kv_heads_that_do_not_divide_the_heads():
    for n_heads, n_kv_heads in [(6, 4), (4, 3), (4, 0)]:
        config = make_config(n_heads, n_kv_heads)
        params = make_params(make_config(n_heads, n_heads), 0)
        x = make_input(0, 1, 2, config["d_model"])
        with pytest.raises(ValueError):
            layers.attention(config, params, x)
