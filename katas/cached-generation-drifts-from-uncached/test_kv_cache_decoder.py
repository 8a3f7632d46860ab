"""Property tests for TinyDecoder: incremental decoding with the KV cache must reproduce the
full forward pass exactly (float64, small random models)."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

decoder = candidate("harness")  # the model under test, built and run in the subject process

TOL = 1e-10
VOCAB, MAX_LEN = 11, 16
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile

seeds = st.integers(0, 2**16)
batches = st.integers(1, 2)
prompt_lengths = st.integers(1, 4)


def parameter_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """TinyDecoder's parameters for ``config`` and their shapes, in its parameter order."""
    d, vocab = config["d_model"], config["vocab_size"]
    block = {
        "ln1.weight": (d,),
        "ln1.bias": (d,),
        "attn.qkv.weight": (3 * d, d),
        "attn.qkv.bias": (3 * d,),
        "attn.proj.weight": (d, d),
        "attn.proj.bias": (d,),
        "ln2.weight": (d,),
        "ln2.bias": (d,),
        "mlp.0.weight": (4 * d, d),
        "mlp.0.bias": (4 * d,),
        "mlp.2.weight": (d, 4 * d),
        "mlp.2.bias": (d,),
    }
    shapes = {"tok_emb.weight": (vocab, d), "pos_emb.weight": (config["max_len"], d)}
    for i in range(config["n_layers"]):
        shapes.update({f"blocks.{i}.{name}": shape for name, shape in block.items()})
    shapes.update({"ln_f.weight": (d,), "ln_f.bias": (d,), "lm_head.weight": (vocab, d)})
    return shapes


def make_model(seed: int, n_layers: int = 2, n_heads: int = 2, d_model: int = 16):
    """A DecoderConfig (as a dict) and float64 weights for it, drawn from ``seed``."""
    config = {
        "vocab_size": VOCAB,
        "d_model": d_model,
        "n_heads": n_heads,
        "n_layers": n_layers,
        "max_len": MAX_LEN,
    }
    # Embeddings ~ N(0, 1), matrices ~ N(0, 1/fan_in), norm gains ~ 1 + N(0, 0.1^2),
    # biases ~ N(0, 0.1^2).
    gen = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in parameter_shapes(config).items():
        noise = torch.randn(shape, generator=gen, dtype=torch.float64)
        if "emb" in name:
            params[name] = noise
        elif len(shape) == 2:
            params[name] = noise / shape[1] ** 0.5
        elif name.endswith("weight"):
            params[name] = 1.0 + 0.1 * noise
        else:
            params[name] = 0.1 * noise
    return config, params


def random_tokens(seed: int, batch: int, length: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed + 1)
    return torch.randint(VOCAB, (batch, length), generator=gen)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b|, NaN if either side has one (so `d <= tol` rejects it)."""
    return (a - b).abs().max().item()


@FAST
@given(seed=seeds, batch=batches, prompt_len=prompt_lengths, n_steps=st.integers(1, 4))
def test_step_logits_match_full_forward_at_every_step(seed, batch, prompt_len, n_steps):
    config, params = make_model(seed)
    tokens = random_tokens(seed, batch, prompt_len + n_steps)
    prompt, fed = tokens[:, :prompt_len], tokens[:, prompt_len:]
    steps = decoder.prefill_then_step(config, params, prompt, fed)["steps"]
    for j in range(n_steps):
        position = prompt_len + j
        logits = steps[j]["logits"]
        expected = decoder.forward(config, params, tokens[:, : position + 1])[:, -1]
        d = max_diff(logits, expected)
        assert d <= TOL, (
            f"after prefilling a {prompt_len}-token prompt, cached step {j + 1} (new token at "
            f"position {position}) gives logits that differ from a full forward pass over the "
            f"same {position + 1} tokens by {d:.3e}"
        )


@FAST
@given(seed=seeds, batch=batches, prompt_len=prompt_lengths, n_new=st.integers(2, 6))
def test_greedy_generation_with_cache_equals_without_cache(seed, batch, prompt_len, n_new):
    config, params = make_model(seed)
    prompt = random_tokens(seed, batch, prompt_len)
    cached = decoder.generate(config, params, prompt, n_new, use_cache=True)
    uncached = decoder.generate(config, params, prompt, n_new, use_cache=False)
    assert cached.shape == uncached.shape, (
        f"generate returned shape {tuple(cached.shape)} with the cache and "
        f"{tuple(uncached.shape)} without"
    )
    differs = (cached != uncached).any(dim=0).nonzero()
    if len(differs):
        col = int(differs[0])
        row = int((cached[:, col] != uncached[:, col]).nonzero()[0])
        raise AssertionError(
            f"greedy generation with and without the KV cache diverges at position {col} "
            f"(generated token {col - prompt_len + 1} of {n_new}, sequence {row}, prompt length "
            f"{prompt_len}): cached {cached[row].tolist()} vs uncached {uncached[row].tolist()}"
        )


@FAST
@given(seed=seeds, batch=batches, prompt_len=st.integers(1, 6))
def test_prefill_matches_full_forward(seed, batch, prompt_len):
    config, params = make_model(seed)
    prompt = random_tokens(seed, batch, prompt_len)
    prefilled = decoder.prefill(config, params, prompt)
    logits, cache = prefilled["logits"], prefilled["cache"]
    expected = decoder.forward(config, params, prompt)[:, -1]
    d = max_diff(logits, expected)
    assert d <= TOL, (
        f"prefill logits for a {prompt_len}-token prompt differ from the full forward pass by "
        f"{d:.3e}"
    )
    length = cache["length"]  # len(cache)
    assert length == prompt_len, f"cache length {length} after a {prompt_len}-token prompt"
    for layer, keys in enumerate(cache["keys"]):
        assert keys.shape[2] == prompt_len, (
            f"layer {layer} caches {keys.shape[2]} key positions after a {prompt_len}-token prompt"
        )


@FAST
@given(seed=seeds, batch=batches, prompt_len=prompt_lengths, n_steps=st.integers(1, 4))
def test_each_step_extends_every_layer_cache_by_one_position(seed, batch, prompt_len, n_steps):
    config, params = make_model(seed)
    tokens = random_tokens(seed, batch, prompt_len + n_steps)
    prompt, fed = tokens[:, :prompt_len], tokens[:, prompt_len:]
    steps = decoder.prefill_then_step(config, params, prompt, fed)["steps"]
    for position in range(prompt_len, prompt_len + n_steps):
        cache = steps[position - prompt_len]["cache"]  # right after the step for `position`
        cached = position + 1
        assert cache["length"] == cached, (
            f"after feeding {cached} tokens the cache reports length {cache['length']}"
        )
        for layer in range(config["n_layers"]):
            sizes = (cache["keys"][layer].shape[2], cache["values"][layer].shape[2])
            assert sizes == (cached, cached), (
                f"after feeding {cached} tokens ({prompt_len} prefilled, then one per step), "
                f"layer {layer} caches {sizes[0]} keys and {sizes[1]} values; a KV cache "
                f"must hold one entry per position fed"
            )


@FAST
@given(seed=seeds, length=st.integers(2, 8), data=st.data())
def test_full_forward_is_causal(seed, length, data):
    cut = data.draw(st.integers(1, length - 1), label="first changed position")
    config, params = make_model(seed)
    tokens = random_tokens(seed, 2, length)
    changed = tokens.clone()
    changed[:, cut:] = (changed[:, cut:] + 1) % VOCAB
    logits = decoder.forward(config, params, tokens)
    logits_changed = decoder.forward(config, params, changed)
    diffs = (logits - logits_changed)[:, :cut].abs().amax(dim=(0, 2)).tolist()
    t = next((t for t, d in enumerate(diffs) if not d <= TOL), None)
    assert t is None, (
        f"logits at position {t} changed by {diffs[t]:.3e} when only tokens from position {cut} "
        f"on were changed (length {length})"
    )


@FAST
@given(seed=seeds, length=st.integers(1, 8))
def test_forward_places_the_first_token_at_position_zero(seed, length):
    config, params = make_model(seed)
    tokens = random_tokens(seed, 2, length)
    # Random (not constant) nudges: the pre-norm blocks cannot see a constant shift.
    nudge = torch.randn(MAX_LEN, 16, generator=torch.Generator().manual_seed(seed + 2))
    before = decoder.forward(config, params, tokens)
    params["pos_emb.weight"][length:] += nudge[length:].double()
    unused = max_diff(decoder.forward(config, params, tokens), before)
    params["pos_emb.weight"][0] += nudge[0].double()
    first = max_diff(decoder.forward(config, params, tokens)[:, 0], before[:, 0])
    assert unused <= TOL, (
        f"a {length}-token forward pass changed by {unused:.3e} when only the position "
        f"embeddings of positions >= {length} were changed; it should use positions "
        f"0..{length - 1}"
    )
    assert first > 1e-6, (
        f"changing the position-0 embedding left the logits of the first token unchanged "
        f"(|diff| = {first:.3e}); the first token should sit at position 0"
    )


@FAST
@given(seed=seeds, batch=batches, prompt_len=prompt_lengths, n_new=st.integers(1, 6))
def test_generate_returns_prompt_followed_by_new_tokens(seed, batch, prompt_len, n_new):
    config, params = make_model(seed)
    prompt = random_tokens(seed, batch, prompt_len)
    for use_cache in (True, False):
        out = decoder.generate(config, params, prompt, n_new, use_cache=use_cache)
        assert tuple(out.shape) == (batch, prompt_len + n_new), (
            f"generate(use_cache={use_cache}) returned shape {tuple(out.shape)}, expected "
            f"{(batch, prompt_len + n_new)}"
        )
        assert torch.equal(out[:, :prompt_len], prompt), (
            f"generate(use_cache={use_cache}) does not start with the prompt"
        )
        assert bool(((out >= 0) & (out < VOCAB)).all()), (
            f"generate(use_cache={use_cache}) produced ids outside [0, {VOCAB})"
        )
