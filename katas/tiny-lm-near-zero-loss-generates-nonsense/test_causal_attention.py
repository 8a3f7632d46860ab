"""Property tests for CausalSelfAttention.

Every comparison runs in float64 with freshly drawn weights, so the tolerances are tight.
"""

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

layers = candidate("harness")  # the layer under test, built and run in the subject process

TOL = 1e-10
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile

seeds = st.integers(0, 2**16)
batches = st.integers(1, 3)
lengths = st.integers(2, 8)


def make_attention(seed: int, d_model: int = 8, n_heads: int = 2, bias: bool = True):
    """Constructor arguments of a CausalSelfAttention (no dropout) and its float64 weights,
    drawn from ``seed`` in the layer's parameter order (scores of order 1)."""
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
    config = {"d_model": d_model, "n_heads": n_heads, "dropout": 0.0, "bias": bias}
    return config, params


def make_input(seed: int, batch: int, seq_len: int, d_model: int = 8) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed + 1)
    return torch.randn(batch, seq_len, d_model, generator=gen, dtype=torch.float64)


def project(params: dict, name: str, x: torch.Tensor) -> torch.Tensor:
    """The layer's linear projection ``name`` ("qkv" or "out_proj"), from its weights."""
    return F.linear(x, params[f"{name}.weight"], params.get(f"{name}.bias"))


def sdpa_reference(config: dict, params: dict, x: torch.Tensor, is_causal: bool = True):
    """The same projections, with attention done by F.scaled_dot_product_attention."""
    batch, seq_len, d_model = x.shape
    q, k, v = project(params, "qkv", x).split(d_model, dim=-1)
    n_heads = config["n_heads"]
    q, k, v = (t.view(batch, seq_len, n_heads, -1).transpose(1, 2) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    return project(params, "out_proj", out.transpose(1, 2).reshape(batch, seq_len, d_model))


def per_position_diff(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """max |a - b| at each sequence position (NaN stays NaN, so `d <= tol` rejects it)."""
    return (a - b).abs().amax(dim=(0, 2)).tolist()


def first_bad(diffs: list[float], tol: float = TOL) -> int | None:
    return next((t for t, d in enumerate(diffs) if not d <= tol), None)


@FAST
@given(seed=seeds, batch=batches, seq_len=lengths, data=st.data())
def test_future_tokens_do_not_change_earlier_outputs(seed, batch, seq_len, data):
    cut = data.draw(st.integers(1, seq_len - 1), label="first perturbed position")
    config, params = make_attention(seed)
    x = make_input(seed, batch, seq_len)
    x_perturbed = x.clone()
    x_perturbed[:, cut:] += 3.0 * make_input(seed + 7, batch, seq_len - cut)
    out = layers.attention(config, params, x)
    out_perturbed = layers.attention(config, params, x_perturbed)
    diffs = per_position_diff(out[:, :cut], out_perturbed[:, :cut])
    t = first_bad(diffs)
    span = f"position {cut}" if cut == seq_len - 1 else f"positions {cut}..{seq_len - 1}"
    assert t is None, (
        f"output at position {t} changed by {diffs[t]:.3e} when only the tokens at "
        f"{span} (all later than {t}) were perturbed (T={seq_len}); "
        f"a causal layer must not see the future"
    )


@FAST
@given(seed=seeds, batch=batches, seq_len=lengths)
def test_matches_sdpa_is_causal(seed, batch, seq_len):
    config, params = make_attention(seed)
    x = make_input(seed, batch, seq_len)
    diffs = per_position_diff(
        layers.attention(config, params, x), sdpa_reference(config, params, x)
    )
    t = first_bad(diffs)
    assert t is None, (
        f"output at position {t} differs from F.scaled_dot_product_attention(is_causal=True) "
        f"on the module's own projections by {diffs[t]:.3e} (B={batch}, T={seq_len}, "
        f"n_heads={config['n_heads']}; tolerance {TOL:.0e})"
    )


@FAST
@given(seed=seeds, seq_len=lengths)
def test_attention_weights_vanish_on_future_keys(seed, seq_len):
    config, params = make_attention(seed)
    x = make_input(seed, 1, seq_len)
    _, weights = layers.attention(config, params, x, return_weights=True)
    future = torch.ones(seq_len, seq_len, dtype=torch.bool).triu(diagonal=1)
    leaked = weights[0].abs().amax(dim=0).masked_fill(~future, 0.0)
    query, key = divmod(int(leaked.argmax()), seq_len)
    worst = leaked[query, key].item()
    assert worst == 0.0, (
        f"query at position {query} puts attention weight {worst:.3f} on key {key}, which "
        f"comes after it (T={seq_len}); weights on later keys must be exactly 0"
    )


@FAST
@given(seed=seeds, batch=batches, seq_len=st.integers(1, 8))
def test_output_shape_and_weight_rows_sum_to_one(seed, batch, seq_len):
    config, params = make_attention(seed)
    x = make_input(seed, batch, seq_len)
    out, weights = layers.attention(config, params, x, return_weights=True)
    assert tuple(out.shape) == (batch, seq_len, 8), (
        f"output shape {tuple(out.shape)}, expected {(batch, seq_len, 8)}"
    )
    assert tuple(weights.shape) == (batch, 2, seq_len, seq_len), (
        f"weights shape {tuple(weights.shape)}, expected {(batch, 2, seq_len, seq_len)}"
    )
    row_sums = weights.sum(dim=-1)
    worst = (row_sums - 1.0).abs().max().item()
    assert worst <= TOL, (
        f"attention weights of some query sum to {1.0 + worst:.6f} (or are NaN) instead of 1 "
        f"(T={seq_len}); every query must have at least one visible key"
    )


@FAST
@given(seed=seeds, batch=st.integers(1, 4))
def test_single_token_returns_its_projected_value(seed, batch):
    config, params = make_attention(seed)
    x = make_input(seed, batch, 1)
    v = project(params, "qkv", x)[..., 16:]
    expected = project(params, "out_proj", v)
    diff = (layers.attention(config, params, x) - expected).abs().max().item()
    assert diff <= TOL, (
        f"with one token (T=1) the output should be out_proj(value of that token), "
        f"but differs by {diff:.3e} (B={batch})"
    )


@FAST
@given(seed=seeds, batch=batches, seq_len=lengths)
def test_last_position_sees_the_whole_sequence(seed, batch, seq_len):
    config, params = make_attention(seed)
    x = make_input(seed, batch, seq_len)
    out = layers.attention(config, params, x)[:, -1]
    full = sdpa_reference(config, params, x, is_causal=False)[:, -1]
    diff = (out - full).abs().max().item()
    assert diff <= TOL, (
        f"the last position (T={seq_len}) may attend to every token, so its output should "
        f"equal unmasked attention there, but differs by {diff:.3e}"
    )


@FAST
@given(seed=seeds, seq_len=lengths)
def test_batch_elements_are_independent(seed, seq_len):
    config, params = make_attention(seed)
    x = make_input(seed, 3, seq_len)
    x_perturbed = x.clone()
    x_perturbed[1] += 1.0
    out = layers.attention(config, params, x)
    out_perturbed = layers.attention(config, params, x_perturbed)
    diff = max((out[i] - out_perturbed[i]).abs().max().item() for i in (0, 2))
    assert diff <= TOL, (
        f"changing batch element 1 changed the outputs of elements 0/2 by {diff:.3e} (T={seq_len})"
    )
