"""Holdout checks for CausalSelfAttention: other shapes, gradients, train mode."""

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

layers = candidate("harness")

TOL = 1e-10
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile

seeds = st.integers(0, 2**16)


def make_attention(seed: int, d_model: int, n_heads: int, bias: bool = True, dropout=0.0):
    shapes = {
        "qkv.weight": (3 * d_model, d_model),
        "qkv.bias": (3 * d_model,),
        "out_proj.weight": (d_model, d_model),
        "out_proj.bias": (d_model,),
    }
    gen = torch.Generator().manual_seed(seed)
    params = {
        name: 0.5 * torch.randn(shape, generator=gen, dtype=torch.float64)
        for name, shape in shapes.items()
        if bias or not name.endswith(".bias")
    }
    config = {"d_model": d_model, "n_heads": n_heads, "dropout": dropout, "bias": bias}
    return config, params


def make_input(seed: int, batch: int, seq_len: int, d_model: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed + 1)
    return torch.randn(batch, seq_len, d_model, generator=gen, dtype=torch.float64)


def project(params: dict, name: str, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, params[f"{name}.weight"], params.get(f"{name}.bias"))


def sdpa_reference(config: dict, params: dict, x: torch.Tensor) -> torch.Tensor:
    batch, seq_len, d_model = x.shape
    q, k, v = project(params, "qkv", x).split(d_model, dim=-1)
    n_heads = config["n_heads"]
    q, k, v = (t.view(batch, seq_len, n_heads, -1).transpose(1, 2) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return project(params, "out_proj", out.transpose(1, 2).reshape(batch, seq_len, d_model))


def worst_position(a: torch.Tensor, b: torch.Tensor, tol: float = TOL):
    diffs = (a - b).abs().amax(dim=(0, 2)).tolist()
    bad = next((t for t, d in enumerate(diffs) if not d <= tol), None)
    return bad, (diffs[bad] if bad is not None else 0.0)


@FAST
@given(seed=seeds, seq_len=st.integers(2, 12))
def test_earlier_outputs_have_zero_gradient_wrt_later_inputs(seed, seq_len):
    config, params = make_attention(seed, 8, 2)
    x = make_input(seed, 2, seq_len, 8)
    grads = layers.output_gradients(config, params, x)  # grads[t]: d out[:, t].sum() / dx
    for t in range(seq_len - 1):
        grad = grads[t]
        leak = grad[:, t + 1 :].abs().amax(dim=(0, 2))
        s = int(leak.argmax())
        assert leak[s].item() == 0.0, (
            f"output at position {t} has gradient {leak[s].item():.3e} with respect to the "
            f"input at later position {t + 1 + s} (T={seq_len}); it must be exactly 0"
        )


@FAST
@given(seed=seeds, n_heads=st.sampled_from([1, 2, 3, 4, 6]), seq_len=st.integers(1, 12))
def test_matches_sdpa_for_other_head_counts_without_bias(seed, n_heads, seq_len):
    config, params = make_attention(seed, 12, n_heads, bias=False)
    x = make_input(seed, 2, seq_len, 12)
    t, d = worst_position(layers.attention(config, params, x), sdpa_reference(config, params, x))
    assert t is None, (
        f"with d_model=12, n_heads={n_heads}, bias=False, T={seq_len}: output at position {t} "
        f"differs from F.scaled_dot_product_attention(is_causal=True) by {d:.3e}"
    )


@FAST
@given(seed=seeds, seq_len=st.integers(1, 12))
def test_first_position_returns_its_own_projected_value(seed, seq_len):
    config, params = make_attention(seed, 8, 2)
    x = make_input(seed, 3, seq_len, 8)
    expected = project(params, "out_proj", project(params, "qkv", x[:, :1])[..., 16:])
    diff = (layers.attention(config, params, x)[:, :1] - expected).abs().max().item()
    assert diff <= TOL, (
        f"position 0 can only see itself, so its output must be out_proj(value of token 0); "
        f"it differs by {diff:.3e} (T={seq_len})"
    )


@FAST
@given(seed=seeds, seq_len=st.integers(1, 12))
def test_every_query_attends_to_itself_and_nothing_later(seed, seq_len):
    config, params = make_attention(seed, 8, 2)
    x = make_input(seed, 1, seq_len, 8)
    _, weights = layers.attention(config, params, x, return_weights=True)
    w = weights[0]
    diag = torch.diagonal(w, dim1=-2, dim2=-1)
    assert bool((diag > 0).all()), (
        f"some query gives weight {diag.min().item():.3e} (or NaN) to its own key (T={seq_len}); "
        f"each position must see itself"
    )
    upper = w.masked_fill(~torch.ones(seq_len, seq_len, dtype=torch.bool).triu(1), 0.0)
    assert upper.abs().max().item() == 0.0, (
        f"some query puts weight {upper.abs().max().item():.3e} on a later key (T={seq_len})"
    )


@FAST
@given(seed=seeds, seq_len=st.integers(1, 12))
def test_train_mode_without_dropout_matches_sdpa(seed, seq_len):
    config, params = make_attention(seed, 8, 4)
    x = make_input(seed, 2, seq_len, 8)
    out = layers.attention(config, params, x, train=True)
    t, d = worst_position(out, sdpa_reference(config, params, x))
    assert t is None, (
        f"in train mode with dropout=0, output at position {t} differs from causal SDPA by "
        f"{d:.3e} (T={seq_len}, n_heads=4)"
    )


def test_float32_matches_sdpa():
    config, params = make_attention(0, 8, 2)
    params = {name: p.float() for name, p in params.items()}
    x = make_input(0, 2, 7, 8).float()
    out = layers.attention(config, params, x)
    t, d = worst_position(out, sdpa_reference(config, params, x), tol=1e-5)
    assert t is None, f"in float32, output at position {t} differs from causal SDPA by {d:.3e}"
