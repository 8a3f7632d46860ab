"""Checks for the hand-written normalisation layers against torch's own."""

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

norms = candidate("harness")  # the layers under test, built and run in the subject process

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)
SMALL_DIMS = st.integers(2, 8)
ROWS = st.integers(1, 4)


def _inputs(seed: int, rows: int, dim: int, log10_scale: tuple[float, float]) -> torch.Tensor:
    """Random rows, each with its own offset and a standard deviation of 10**U(lo, hi)."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(rows, dim, generator=g, dtype=torch.float64)
    noise = (noise - noise.mean(-1, keepdim=True)) / noise.std(-1, correction=0, keepdim=True)
    lo, hi = log10_scale
    exponent = torch.empty(rows, 1, dtype=torch.float64).uniform_(lo, hi, generator=g)
    offset = 3.0 * torch.randn(rows, 1, generator=g, dtype=torch.float64)
    return offset + noise * 10.0**exponent


def _affine(dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (non-default) float64 weight and bias."""
    g = torch.Generator().manual_seed(seed + 1)
    weight = torch.randn(dim, generator=g, dtype=torch.float64)
    return weight, torch.randn(dim, generator=g, dtype=torch.float64)


def _worst(a: torch.Tensor, b: torch.Tensor) -> tuple[float, tuple[int, ...]]:
    diff = (a - b).abs()
    flat = int(diff.argmax())
    # NumPy's unravel_index: torch's imports sympy on first use (~1 s).
    return float(diff.max()), tuple(int(i) for i in np.unravel_index(flat, tuple(a.shape)))


@FAST
@given(seed=SEEDS, dim=SMALL_DIMS, rows=ROWS, eps=st.sampled_from([1e-5, 1e-6, 1e-3]))
def test_matches_torch_layer_norm(seed, dim, rows, eps):
    x = _inputs(seed, rows, dim, log10_scale=(-3.0, 1.0))
    weight, bias = _affine(dim, seed)
    ours = norms.layer_norm(x, eps, weight, bias)
    ref = F.layer_norm(x, (dim,), weight, bias, eps)
    err, where = _worst(ours, ref)
    assert err <= 1e-9, (
        f"LayerNorm(dim={dim}, eps={eps:g}) differs from F.layer_norm with the same weight/bias: "
        f"max |diff| = {err:.3e} at {where} (ours {float(ours[where]):.6f}, "
        f"torch {float(ref[where]):.6f}; row std {float(x[where[0]].std(correction=0)):.2e})"
    )


@FAST
@given(seed=SEEDS, dim=SMALL_DIMS, rows=ROWS)
def test_normalised_rows_have_zero_mean_and_unit_variance(seed, dim, rows):
    eps = 1e-5
    x = _inputs(seed, rows, dim, log10_scale=(-0.3, 1.0))
    y = norms.layer_norm(x, eps, affine=False)
    for r in range(rows):
        row_var = float(x[r].var(correction=0))
        expected_var = row_var / (row_var + eps)
        out_mean = float(y[r].mean())
        out_var = float(y[r].var(correction=0))
        assert abs(out_mean) <= 1e-10, (
            f"dim={dim}, row {r}: normalised output has mean {out_mean:.3e}, expected 0"
        )
        assert abs(out_var - expected_var) <= 1e-9, (
            f"dim={dim}, row {r}: normalised output has (population) variance {out_var:.9f}, "
            f"expected {expected_var:.9f} = var/(var + eps) with var = {row_var:.4f}"
        )


@FAST
@given(seed=SEEDS, dim=SMALL_DIMS, rows=ROWS)
def test_gradients_match_torch_layer_norm(seed, dim, rows):
    eps = 1e-5
    x = _inputs(seed, rows, dim, log10_scale=(-2.0, 1.0))
    g = torch.Generator().manual_seed(seed + 2)
    upstream = torch.randn(rows, dim, generator=g, dtype=torch.float64)

    weight, bias = _affine(dim, seed)
    ours = norms.layer_norm_grads(x, weight, bias, eps, upstream)

    w_ref = weight.clone().requires_grad_(True)
    b_ref = bias.clone().requires_grad_(True)
    x_ref = x.clone().requires_grad_(True)
    (F.layer_norm(x_ref, (dim,), w_ref, b_ref, eps) * upstream).sum().backward()

    for name, ref in [("input", x_ref.grad), ("weight", w_ref.grad), ("bias", b_ref.grad)]:
        ours_grad = ours[name]
        assert ours_grad is not None and ours_grad.shape == ref.shape, (
            f"dim={dim}: no gradient (or a wrongly shaped one) w.r.t. {name}"
        )
        err = float((ours_grad - ref).abs().max())
        scale = float(ref.abs().max())
        assert err <= 1e-8 * (1.0 + scale), (
            f"dim={dim}: gradient w.r.t. {name} differs from F.layer_norm's: "
            f"max |diff| = {err:.3e} (largest reference entry {scale:.3e})"
        )


@FAST
@given(
    seed=SEEDS,
    dim=SMALL_DIMS,
    rows=ROWS,
    shift=st.floats(-100.0, 100.0),
    scale=st.floats(0.1, 10.0),
)
def test_invariant_to_row_shift_and_positive_scale(seed, dim, rows, shift, scale):
    x = _inputs(seed, rows, dim, log10_scale=(0.0, 1.0))
    weight, bias = _affine(dim, seed)
    base = norms.layer_norm(x, 1e-12, weight, bias)
    shifted = norms.layer_norm(x + shift, 1e-12, weight, bias)
    scaled = norms.layer_norm(x * scale, 1e-12, weight, bias)
    err_shift = float((shifted - base).abs().max())
    err_scale = float((scaled - base).abs().max())
    assert err_shift <= 1e-8, (
        f"dim={dim}: adding {shift:.3f} to every entry of a row changed the output "
        f"(max |diff| = {err_shift:.3e})"
    )
    assert err_scale <= 1e-8, (
        f"dim={dim}: multiplying rows by {scale:.3f} changed the output "
        f"(max |diff| = {err_scale:.3e}; eps is negligible here)"
    )


@FAST
@given(seed=SEEDS, dim=SMALL_DIMS, rows=ROWS)
def test_rmsnorm_matches_torch_rms_norm(seed, dim, rows):
    eps = 1e-6
    x = _inputs(seed, rows, dim, log10_scale=(-3.0, 1.0))
    g = torch.Generator().manual_seed(seed + 3)
    weight = torch.randn(dim, generator=g, dtype=torch.float64)
    ours = norms.rms_norm(x, weight, eps)
    ref = F.rms_norm(x, (dim,), weight, eps)
    err, where = _worst(ours, ref)
    assert err <= 1e-9, (
        f"RMSNorm(dim={dim}) differs from F.rms_norm: max |diff| = {err:.3e} at {where}"
    )


def test_low_precision_input_keeps_dtype_and_shape():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 16, generator=g).to(torch.bfloat16)
    for name, y in zip(("LayerNorm", "RMSNorm"), norms.default_layers(x), strict=True):
        assert y.dtype == torch.bfloat16, f"{name} turned a bfloat16 input into {y.dtype}"
        assert y.shape == x.shape, f"{name} changed the shape {tuple(x.shape)} -> {tuple(y.shape)}"
