"""Holdout checks for TinyDecoder: positions used by a step, cache contents, max_len,
a from-the-weights reference forward, other model shapes."""

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from kv_cache_decoder import TinyDecoder
from test_kv_cache_decoder import FAST, MAX_LEN, TOL, make_model, max_diff, random_tokens, seeds


def reference_logits(model: TinyDecoder, tokens: torch.Tensor) -> torch.Tensor:
    """The full forward pass written from the weights with torch.nn.functional."""
    d_model, n_heads = model.cfg.d_model, model.cfg.n_heads
    batch, length = tokens.shape
    x = model.tok_emb.weight[tokens] + model.pos_emb.weight[:length]
    for block in model.blocks:
        h = F.layer_norm(x, (d_model,), block.ln1.weight, block.ln1.bias, block.ln1.eps)
        qkv = F.linear(h, block.attn.qkv.weight, block.attn.qkv.bias)
        q, k, v = (
            t.view(batch, length, n_heads, -1).transpose(1, 2) for t in qkv.split(d_model, -1)
        )
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        a = a.transpose(1, 2).reshape(batch, length, d_model)
        x = x + F.linear(a, block.attn.proj.weight, block.attn.proj.bias)
        h = F.layer_norm(x, (d_model,), block.ln2.weight, block.ln2.bias, block.ln2.eps)
        up, down = block.mlp[0], block.mlp[2]
        x = x + F.linear(F.gelu(F.linear(h, up.weight, up.bias)), down.weight, down.bias)
    x = F.layer_norm(x, (d_model,), model.ln_f.weight, model.ln_f.bias, model.ln_f.eps)
    return F.linear(x, model.lm_head.weight)


@FAST
@given(seed=seeds, length=st.integers(1, MAX_LEN))
def test_forward_matches_a_reference_written_from_the_weights(seed, length):
    model = make_model(seed)
    tokens = random_tokens(seed, 2, length)
    with torch.no_grad():
        d = max_diff(model(tokens), reference_logits(model, tokens))
    assert d <= TOL, (
        f"forward logits for {length} tokens differ from a functional reference (positions "
        f"0..{length - 1}, causal SDPA) by {d:.3e}"
    )


@FAST
@given(seed=seeds, prompt_len=st.integers(1, 5))
def test_step_reads_the_embedding_of_its_own_position(seed, prompt_len):
    model = make_model(seed)
    tokens = random_tokens(seed, 2, prompt_len + 1)
    nudge = torch.randn(MAX_LEN, 16, generator=torch.Generator().manual_seed(seed + 2)).double()

    def step_logits():
        _, cache = model.prefill(tokens[:, :prompt_len])
        return model.step(tokens[:, prompt_len], cache)

    before = step_logits()
    with torch.no_grad():
        model.pos_emb.weight[prompt_len + 1 :] += nudge[prompt_len + 1 :]
    later = max_diff(step_logits(), before)
    with torch.no_grad():
        model.pos_emb.weight[prompt_len] += nudge[prompt_len]
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
    model = make_model(seed)
    tokens = random_tokens(seed, 2, prompt_len + n_steps)
    _, cache = model.prefill(tokens[:, :prompt_len])
    for position in range(prompt_len, prompt_len + n_steps):
        model.step(tokens[:, position], cache)
    _, fresh = model.prefill(tokens)
    assert torch.equal(cache.tokens, tokens), (
        f"after {n_steps} steps the cache holds tokens {cache.tokens.tolist()}, expected "
        f"{tokens.tolist()}"
    )
    for layer in range(model.cfg.n_layers):
        for name, got, want in (
            ("keys", cache.keys[layer], fresh.keys[layer]),
            ("values", cache.values[layer], fresh.values[layer]),
        ):
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
    model = make_model(seed)
    n_new = MAX_LEN - prompt_len
    prompt = random_tokens(seed, 2, prompt_len)
    cached = model.generate(prompt, n_new, use_cache=True)
    uncached = model.generate(prompt, n_new, use_cache=False)
    assert torch.equal(cached, uncached), (
        f"greedy decoding up to max_len={MAX_LEN} from a {prompt_len}-token prompt differs with "
        f"and without the cache: {cached.tolist()} vs {uncached.tolist()}"
    )
    with torch.no_grad():
        d = max_diff(model(cached), reference_logits(model, cached))
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
    model = make_model(seed, n_layers=n_layers, n_heads=n_heads, d_model=d_model)
    tokens = random_tokens(seed, 1, prompt_len + 3)
    _, cache = model.prefill(tokens[:, :prompt_len])
    for position in range(prompt_len, prompt_len + 3):
        logits = model.step(tokens[:, position], cache)
        with torch.no_grad():
            expected = model(tokens[:, : position + 1])[:, -1]
        d = max_diff(logits, expected)
        assert d <= TOL, (
            f"n_layers={n_layers}, n_heads={n_heads}, d_model={d_model}: the cached step at "
            f"position {position} differs from the full forward pass by {d:.3e}"
        )


@FAST
@given(seed=seeds, prompt_len=st.integers(1, 4), n_new=st.integers(1, 6))
def test_batched_generation_equals_row_by_row(seed, prompt_len, n_new):
    model = make_model(seed)
    prompt = random_tokens(seed, 3, prompt_len)
    batched = model.generate(prompt, n_new)
    for row in range(3):
        alone = model.generate(prompt[row : row + 1], n_new)[0]
        assert torch.equal(batched[row], alone), (
            f"row {row} decodes to {batched[row].tolist()} in a batch of 3 but to "
            f"{alone.tolist()} alone"
        )
