"""Holdout checks for TinyDecoder: positions used by a step, cache contents, max_len,
a from-the-weights reference forward, other model shapes."""

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from test_kv_cache_decoder import FAST, MAX_LEN, TOL, make_model, max_diff, random_tokens, seeds

from grader.grading.boundary import candidate

decoder = candidate("harness")

LN_EPS = 1e-5  # the model's norms are nn.LayerNorm(d_model), with its default eps


def reference_logits(config: dict, params: dict, tokens: torch.Tensor) -> torch.Tensor:
    """The full forward pass written from the weights with torch.nn.functional."""
    d_model, n_heads = config["d_model"], config["n_heads"]
    batch, length = tokens.shape

    def norm(x, name):
        return F.layer_norm(x, (d_model,), params[f"{name}.weight"], params[f"{name}.bias"], LN_EPS)

    def linear(x, name):
        return F.linear(x, params[f"{name}.weight"], params.get(f"{name}.bias"))

    x = params["tok_emb.weight"][tokens] + params["pos_emb.weight"][:length]
    for i in range(config["n_layers"]):
        block = f"blocks.{i}"
        h = norm(x, f"{block}.ln1")
        qkv = linear(h, f"{block}.attn.qkv")
        q, k, v = (
            t.view(batch, length, n_heads, -1).transpose(1, 2) for t in qkv.split(d_model, -1)
        )
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        a = a.transpose(1, 2).reshape(batch, length, d_model)
        x = x + linear(a, f"{block}.attn.proj")
        h = norm(x, f"{block}.ln2")
        x = x + linear(F.gelu(linear(h, f"{block}.mlp.0")), f"{block}.mlp.2")
    x = norm(x, "ln_f")
    return linear(x, "lm_head")


@FAST
@given(seed=seeds, length=st.integers(1, MAX_LEN))
def test_forward_matches_a_reference_written_from_the_weights(seed, length):
    config, params = make_model(seed)
    tokens = random_tokens(seed, 2, length)
    d = max_diff(decoder.forward(config, params, tokens), reference_logits(config, params, tokens))
    assert d <= TOL, (
        f"forward logits for {length} tokens differ from a functional reference (positions "
        f"0..{length - 1}, causal SDPA) by {d:.3e}"
    )


@FAST
@given(seed=seeds, prompt_len=st.integers(1, 5))
def test_step_reads_the_embedding_of_its_own_position(seed, prompt_len):
    config, params = make_model(seed)
    tokens = random_tokens(seed, 2, prompt_len + 1)
    nudge = torch.randn(MAX_LEN, 16, generator=torch.Generator().manual_seed(seed + 2)).double()

    def step_logits():
        prompt, fed = tokens[:, :prompt_len], tokens[:, prompt_len:]
        return decoder.prefill_then_step(config, params, prompt, fed)["steps"][0]["logits"]

    before = step_logits()
    params["pos_emb.weight"][prompt_len + 1 :] += nudge[prompt_len + 1 :]
    later = max_diff(step_logits(), before)
    params["pos_emb.weight"][prompt_len] += nudge[prompt_len]
    own = max_diff(step_logits(), before)
    assert later <= TOL, (
        f"the step for the token at position {prompt_len} changed by {later:.3e} when only the "
        f"position embeddings of positions > {prompt_len} were changed"
    )
    assert own > 1e-6, (
        f"the step for the token at position {prompt_len} ignores the position-{prompt_len} "
        f"embedding (|diff| = {own:.3e})"
    )


@FAST
@given(seed=seeds, prompt_len=st.integers(1, 4), n_steps=st.integers(1, 5))
def test_cache_holds_what_a_fresh_prefill_of_the_whole_sequence_holds(seed, prompt_len, n_steps):
    config, params = make_model(seed)
    tokens = random_tokens(seed, 2, prompt_len + n_steps)
    prompt, fed = tokens[:, :prompt_len], tokens[:, prompt_len:]
    cache = decoder.prefill_then_step(config, params, prompt, fed)["steps"][-1]["cache"]
    fresh = decoder.prefill(config, params, tokens)["cache"]
    assert torch.equal(cache["tokens"], tokens), (
        f"after {n_steps} steps the cache holds tokens {cache['tokens'].tolist()}, expected "
        f"{tokens.tolist()}"
    )
    for layer in range(config["n_layers"]):
        for name in ("keys", "values"):
            got, want = cache[name][layer], fresh[name][layer]
            assert got.shape == want.shape, (
                f"layer {layer} caches {name} of shape {tuple(got.shape)} after prefill "
                f"({prompt_len}) + {n_steps} steps; a prefill of all tokens gives "
                f"{tuple(want.shape)}"
            )
            d = max_diff(got, want)
            assert d <= TOL, (
                f"layer {layer} cached {name} differ by {d:.3e} from those of a prefill over "
                f"the same {prompt_len + n_steps} tokens"
            )


@FAST
@given(seed=seeds, prompt_len=st.integers(1, 4))
def test_decoding_right_up_to_max_len(seed, prompt_len):
    config, params = make_model(seed)
    n_new = MAX_LEN - prompt_len
    prompt = random_tokens(seed, 2, prompt_len)
    cached = decoder.generate(config, params, prompt, n_new, use_cache=True)
    uncached = decoder.generate(config, params, prompt, n_new, use_cache=False)
    assert torch.equal(cached, uncached), (
        f"greedy decoding up to max_len={MAX_LEN} from a {prompt_len}-token prompt differs with "
        f"and without the cache: {cached.tolist()} vs {uncached.tolist()}"
    )
    d = max_diff(decoder.forward(config, params, cached), reference_logits(config, params, cached))
    assert d <= TOL, f"forward over {MAX_LEN} tokens differs from the reference by {d:.3e}"


@FAST
@given(
    seed=seeds,
    n_layers=st.sampled_from([1, 3]),
    n_heads=st.sampled_from([1, 4]),
    d_model=st.sampled_from([8, 16]),
    prompt_len=st.integers(1, 5),
)
def test_other_model_shapes_step_like_full_forward(seed, n_layers, n_heads, d_model, prompt_len):
    config, params = make_model(seed, n_layers=n_layers, n_heads=n_heads, d_model=d_model)
    tokens = random_tokens(seed, 1, prompt_len + 3)
    prompt, fed = tokens[:, :prompt_len], tokens[:, prompt_len:]
    steps = decoder.prefill_then_step(config, params, prompt, fed)["steps"]
    for position in range(prompt_len, prompt_len + 3):
        logits = steps[position - prompt_len]["logits"]
        expected = decoder.forward(config, params, tokens[:, : position + 1])[:, -1]
        d = max_diff(logits, expected)
        assert d <= TOL, (
            f"n_layers={n_layers}, n_heads={n_heads}, d_model={d_model}: the cached step at "
            f"position {position} differs from the full forward pass by {d:.3e}"
        )


@FAST
@given(seed=seeds, prompt_len=st.integers(1, 4), n_new=st.integers(1, 6))
def test_batched_generation_equals_row_by_row(seed, prompt_len, n_new):
    config, params = make_model(seed)
    prompt = random_tokens(seed, 3, prompt_len)
    batched = decoder.generate(config, params, prompt, n_new)
    for row in range(3):
        alone = decoder.generate(config, params, prompt[row : row + 1], n_new)[0]
        assert torch.equal(batched[row], alone), (
            f"row {row} decodes to {batched[row].tolist()} in a batch of 3 but to "
            f"{alone.tolist()} alone"
        )


@FAST
@given(seed=seeds, prompt_len=st.integers(1, MAX_LEN))
def test_no_new_tokens_returns_the_prompt(seed, prompt_len):
    config, params = make_model(seed)
    prompt = random_tokens(seed, 2, prompt_len)
    for use_cache in (True, False):
        out = decoder.generate(config, params, prompt, 0, use_cache=use_cache)
        assert torch.equal(out, prompt), (
            f"generate(max_new_tokens=0, use_cache={use_cache}) on a {prompt_len}-token prompt "
            f"returned shape {tuple(out.shape)}, not the prompt itself"
        )


@FAST
@given(seed=seeds, n_steps=st.integers(1, 4))
def test_a_single_token_prompt_then_steps_matches_the_full_forward_pass(seed, n_steps):
    config, params = make_model(seed)
    tokens = random_tokens(seed, 2, 1 + n_steps)
    steps = decoder.prefill_then_step(config, params, tokens[:, :1], tokens[:, 1:])["steps"]
    for j, step in enumerate(steps):
        expected = decoder.forward(config, params, tokens[:, : j + 2])[:, -1]
        d = max_diff(step["logits"], expected)
        assert d <= TOL, (
            f"after a 1-token prompt, step {j + 1} (token at position {j + 1}) differs from the "
            f"full forward pass by {d:.3e}"
        )
