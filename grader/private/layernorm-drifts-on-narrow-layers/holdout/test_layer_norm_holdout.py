"""Holdout checks for the hand-written LayerNorm (not shown to the candidate)."""

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

norms = candidate("harness")

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)


def _inputs(seed: int, shape: tuple[int, ...], log10_scale: tuple[float, float]) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(*shape, generator=g, dtype=torch.float64)
    noise = (noise - noise.mean(-1, keepdim=True)) / noise.std(-1, correction=0, keepdim=True)
    lo, hi = log10_scale
    exponent = torch.empty(*shape[:-1], 1, dtype=torch.float64).uniform_(lo, hi, generator=g)
    offset = 3.0 * torch.randn(*shape[:-1], 1, generator=g, dtype=torch.float64)
    return offset + noise * 10.0**exponent


def _params(dim: int, seed: int, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed + 7)
    weight = torch.randn(dim, generator=g, dtype=dtype)
    return weight, torch.randn(dim, generator=g, dtype=dtype)


@FAST
@given(seed=SEEDS, dim=st.integers(2, 32), eps=st.sampled_from([0.1, 1.0, 3.0]))
def test_matches_nn_layer_norm_with_large_eps(seed, dim, eps):
    x = _inputs(seed, (2, 3, dim), log10_scale=(-1.0, 0.5))
    weight, bias = _params(dim, seed)
    ref = torch.nn.LayerNorm(dim, eps=eps).double()
    with torch.no_grad():
        ref.weight.copy_(weight)
        ref.bias.copy_(bias)
        err = float((norms.layer_norm(x, eps, weight, bias) - ref(x)).abs().max())
    assert err <= 1e-9, (
        f"LayerNorm(dim={dim}, eps={eps}) differs from nn.LayerNorm on a (2, 3, {dim}) input: "
        f"max |diff| = {err:.3e}"
    )


@FAST
@given(seed=SEEDS, dim=st.integers(2, 16))
def test_near_constant_rows_match_torch(seed, dim):
    eps = 1e-5
    x = _inputs(seed, (4, dim), log10_scale=(-4.0, -2.0))
    weight, bias = _params(dim, seed)
    ours = norms.layer_norm(x, eps, weight, bias)
    err = float((ours - F.layer_norm(x, (dim,), weight, bias, eps)).abs().max())
    assert err <= 1e-8, (
        f"dim={dim}: rows whose variance is comparable to eps={eps:g} differ from F.layer_norm "
        f"(max |diff| = {err:.3e})"
    )


@FAST
@given(seed=SEEDS, dim=st.integers(2, 8))
def test_row_stats_are_the_statistics_used(seed, dim):
    eps = 1e-5
    x = _inputs(seed, (3, dim), log10_scale=(-2.0, 1.0))
    weight, bias = _params(dim, seed)
    mean, var = norms.layer_norm_row_stats(x, eps)
    y = norms.layer_norm(x, eps, weight, bias)
    assert mean.shape == var.shape == (3, 1), (
        f"row_stats should return keepdim statistics of shape (3, 1), got {tuple(mean.shape)} "
        f"and {tuple(var.shape)}"
    )
    x_np = x.numpy()
    mean_err = float(np.abs(mean.numpy()[:, 0] - x_np.mean(axis=-1)).max())
    var_err = float(np.abs(var.numpy()[:, 0] - x_np.var(axis=-1)).max() / (x_np.var(axis=-1).max()))
    assert mean_err <= 1e-10, f"dim={dim}: row_stats mean is off by {mean_err:.3e}"
    assert var_err <= 1e-10, (
        f"dim={dim}: row_stats variance differs from the population variance of the row "
        f"(relative error {var_err:.3e})"
    )
    rebuilt = (x - mean) / torch.sqrt(var + eps) * weight + bias
    err = float((rebuilt - y).abs().max())
    assert err <= 1e-9, (
        f"dim={dim}: normalising with the statistics row_stats reports does not reproduce the "
        f"layer's output (max |diff| = {err:.3e})"
    )


@FAST
@given(seed=SEEDS, dim=st.integers(2, 8), affine=st.booleans())
def test_without_bias_or_affine_matches_functional(seed, dim, affine):
    eps = 1e-5
    x = _inputs(seed, (3, dim), log10_scale=(-2.0, 1.0))
    weight = _params(dim, seed)[0] if affine else None
    ref = F.layer_norm(x, (dim,), weight, None, eps)
    err = float((norms.layer_norm(x, eps, weight, None, affine) - ref).abs().max())
    assert err <= 1e-9, (
        f"LayerNorm(dim={dim}, elementwise_affine={affine}, bias=False) differs from "
        f"F.layer_norm: max |diff| = {err:.3e}"
    )


@FAST
@given(seed=SEEDS, dim=st.integers(2, 8))
def test_float32_matches_torch(seed, dim):
    eps = 1e-5
    x = _inputs(seed, (4, dim), log10_scale=(-1.0, 1.0)).float()
    weight, bias = _params(dim, seed, torch.float32)
    ours = norms.layer_norm(x, eps, weight, bias)
    err = float((ours - F.layer_norm(x, (dim,), weight, bias, eps)).abs().max())
    assert err <= 1e-4, f"float32, dim={dim}: differs from F.layer_norm by {err:.3e}"


@FAST
@given(seed=SEEDS, rows=st.integers(1, 4))
def test_width_one_gives_the_bias(seed, rows):
    g = torch.Generator().manual_seed(seed)
    x = 3.0 * torch.randn(rows, 1, generator=g, dtype=torch.float64)
    weight, bias = _params(1, seed)
    out = norms.layer_norm(x, 1e-5, weight, bias)
    ref = F.layer_norm(x, (1,), weight, bias, 1e-5)
    assert bool(torch.isfinite(out).all()), (
        f"LayerNorm(1) on {rows} rows returned NaN/inf; a one-element row is constant, so the "
        f"output is the bias"
    )
    err = float((out - ref).abs().max())
    assert err <= 1e-12, f"LayerNorm(1) differs from F.layer_norm by {err:.3e}"


@FAST
@given(
    seed=SEEDS,
    dim=st.integers(4, 64),
    offset=st.sampled_from([300.0, -1000.0, 3000.0]),
    log10_std=st.floats(0.0, 0.5),
)
def test_float32_rows_with_a_large_common_offset(seed, dim, offset, log10_std):
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(4, dim, generator=g, dtype=torch.float64)
    x = (offset + 10.0**log10_std * noise).float()  # the values the layer sees
    weight, bias = _params(dim, seed, torch.float32)
    ours = norms.layer_norm(x, 1e-5, weight, bias)
    ref = F.layer_norm(x.double(), (dim,), weight.double(), bias.double(), 1e-5)
    err = float((ours.double() - ref).abs().max())
    scale = float(ref.abs().max())
    assert err <= 1e-3 * (1.0 + scale), (
        f"float32 rows around {offset:g} with std about {10.0**log10_std:.2f} (dim={dim}): "
        f"output differs from LayerNorm in float64 by {err:.3e} (largest output {scale:.2f})"
    )


@FAST
@given(seed=SEEDS, dim=st.integers(2, 16))
def test_bfloat16_matches_torch_within_rounding(seed, dim):
    x = _inputs(seed, (3, dim), log10_scale=(-1.0, 1.0)).to(torch.bfloat16)
    weight, bias = _params(dim, seed, torch.bfloat16)
    ours = norms.layer_norm(x, 1e-5, weight, bias)
    assert ours.dtype == torch.bfloat16, f"a bfloat16 input gave a {ours.dtype} output"
    ref = F.layer_norm(x.double(), (dim,), weight.double(), bias.double(), 1e-5)
    err = float((ours.double() - ref).abs().max())
    scale = float(ref.abs().max())
    assert err <= 2e-2 * (1.0 + scale), (
        f"bfloat16, dim={dim}: output differs from LayerNorm in float64 on the same values by "
        f"{err:.3e} (largest output {scale:.2f}), more than bfloat16 rounding explains"
    )
