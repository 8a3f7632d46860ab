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


@FAST
@given(seed=seeds, seq_len=st.integers(2, 10), data=st.data())
def test_train_mode_with_dropout_is_still_causal(seed, seq_len, data):
    cut = data.draw(st.integers(1, seq_len - 1), label="first perturbed position")
    config, params = make_attention(seed, 8, 2, dropout=0.3)
    x = make_input(seed, 2, seq_len, 8)
    x_perturbed = x.clone()
    x_perturbed[:, cut:] += 3.0 * make_input(seed + 7, 2, seq_len - cut, 8)
    # The same dropout masks in both runs: torch's generator is seeded before each forward.
    out = layers.attention(config, params, x, train=True, seed=seed)
    out_perturbed = layers.attention(config, params, x_perturbed, train=True, seed=seed)
    t, d = worst_position(out[:, :cut], out_perturbed[:, :cut])
    assert t is None, (
        f"in train mode with dropout=0.3 (same dropout masks), output at position {t} changed "
        f"by {d:.3e} when only positions {cut}.. were perturbed (T={seq_len})"
    )


@FAST
@given(seed=seeds, seq_len=st.integers(1, 10), p=st.sampled_from([0.1, 0.5]))
def test_eval_mode_switches_dropout_off(seed, seq_len, p):
    config, params = make_attention(seed, 8, 2, dropout=p)
    x = make_input(seed, 2, seq_len, 8)
    out, weights = layers.attention(config, params, x, return_weights=True, seed=seed)
    t, d = worst_position(out, sdpa_reference(config, params, x))
    assert t is None, (
        f"in eval mode with dropout={p}, output at position {t} differs from causal SDPA "
        f"without dropout by {d:.3e} (T={seq_len}); eval mode must not drop anything"
    )
    again = layers.attention(config, params, x, seed=seed + 1)
    t, d = worst_position(again, out)
    assert t is None, (
        f"in eval mode with dropout={p}, two forward passes over the same input differ by "
        f"{d:.3e} at position {t} (T={seq_len})"
    )
    worst = float((weights.sum(-1) - 1.0).abs().max())
    assert worst <= TOL, (
        f"in eval mode with dropout={p}, some attention-weight row sums to {1.0 + worst:.6f}, "
        f"not 1 (T={seq_len})"
    )


@FAST
@given(seed=seeds, seq_len=st.integers(4, 10))
def test_train_mode_weights_are_the_eval_weights_dropped_out(seed, seq_len):
    p = 0.5
    config, params = make_attention(seed, 8, 2, dropout=p)
    x = make_input(seed, 1, seq_len, 8)
    _, w_eval = layers.attention(config, params, x, return_weights=True)
    _, w_train = layers.attention(config, params, x, return_weights=True, train=True, seed=seed)
    future = torch.ones(seq_len, seq_len, dtype=torch.bool).triu(1)
    leak = float(w_train.masked_fill(~future, 0.0).abs().max())
    assert leak == 0.0, (
        f"in train mode (dropout={p}) some query puts weight {leak:.3e} on a later key "
        f"(T={seq_len})"
    )
    kept = w_train != 0
    err = float((w_train - w_eval / (1 - p)).masked_fill(~kept, 0.0).abs().max())
    assert err <= TOL, (
        f"in train mode (dropout={p}) a weight that survived dropout differs from the eval "
        f"weight / (1 - p) by {err:.3e} (T={seq_len}); dropout must act on the causal weights"
    )
    dropped = int((~kept & ~future).sum())
    assert dropped > 0, (
        f"in train mode with dropout={p}, none of the {int((~future).sum()) * 2} visible "
        f"attention weights was dropped (T={seq_len})"
    )


@FAST
@given(seed=seeds, seq_len=st.integers(2, 10), scale=st.sampled_from([30.0, 100.0]))
def test_large_scores_match_sdpa_without_overflow(seed, seq_len, scale):
    config, params = make_attention(seed, 8, 2)
    x = scale * make_input(seed, 2, seq_len, 8)  # scores in the thousands: a sharp head
    out = layers.attention(config, params, x)
    ref = sdpa_reference(config, params, x)
    finite = bool(torch.isfinite(out).all())
    assert finite, (
        f"inputs scaled by {scale:g} (attention scores up to about "
        f"{float(_scores(config, params, x).abs().max()):.0f}) give NaN/inf outputs "
        f"(T={seq_len}); causal SDPA stays finite"
    )
    t, d = worst_position(out, ref, tol=1e-9 * float(ref.abs().max()))
    assert t is None, (
        f"inputs scaled by {scale:g}: output at position {t} differs from causal SDPA by "
        f"{d:.3e} (T={seq_len})"
    )


def _scores(config: dict, params: dict, x: torch.Tensor) -> torch.Tensor:
    batch, seq_len, d_model = x.shape
    q, k, _ = project(params, "qkv", x).split(d_model, dim=-1)
    n_heads = config["n_heads"]
    q, k = (t.view(batch, seq_len, n_heads, -1).transpose(1, 2) for t in (q, k))
    return q @ k.transpose(-2, -1) / (d_model // n_heads) ** 0.5


def test_bfloat16_in_bfloat16_out():
    config, params = make_attention(0, 8, 2)
    params = {name: p.to(torch.bfloat16) for name, p in params.items()}
    x = make_input(0, 2, 7, 8).to(torch.bfloat16)
    out, weights = layers.attention(config, params, x, return_weights=True)
    assert out.dtype == weights.dtype == torch.bfloat16, (
        f"a bfloat16 layer on bfloat16 input returned {out.dtype} outputs and {weights.dtype} "
        f"weights"
    )
    ref = sdpa_reference(config, {n: p.double() for n, p in params.items()}, x.double())
    tol = 0.03 * (1.0 + float(ref.abs().max()))
    t, d = worst_position(out.double(), ref, tol=tol)
    assert t is None, (
        f"in bfloat16, output at position {t} differs from causal SDPA in float64 on the same "
        f"(rounded) weights by {d:.3e}, more than bfloat16 rounding explains ({tol:.2e})"
    )


@FAST
@given(seed=seeds, seq_len=st.integers(2, 10))
def test_train_mode_output_is_made_from_the_returned_weights(seed, seq_len):
    p = 0.5
    config, params = make_attention(seed, 8, 2, dropout=p)
    x = make_input(seed, 2, seq_len, 8)
    out, weights = layers.attention(config, params, x, return_weights=True, train=True, seed=seed)
    batch, _, d_model = x.shape
    v = project(params, "qkv", x)[..., 2 * d_model :]
    v = v.view(batch, seq_len, config["n_heads"], -1).transpose(1, 2)
    mixed = (weights @ v).transpose(1, 2).reshape(batch, seq_len, d_model)
    # Output dropout zeroes an element or scales it by 1 / (1 - p); nothing else may differ.
    expected = project(params, "out_proj", mixed) / (1 - p)
    kept = out != 0
    t, d = worst_position(out.masked_fill(~kept, 0.0), expected.masked_fill(~kept, 0.0))
    assert t is None, (
        f"in train mode (dropout={p}) with return_weights, output at position {t} is neither "
        f"dropped nor out_proj(weights @ v) / (1 - p) for the returned weights (off by "
        f"{d:.3e}, T={seq_len}); the weights returned must be the ones applied to the values"
    )
    assert bool(kept.any()), f"in train mode (dropout={p}) every output element is 0"
