"""Property tests for TinyDecoder: incremental decoding with the KV cache must reproduce the
full forward pass exactly (float64, small random models)."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from kv_cache_decoder import DecoderConfig, TinyDecoder

TOL = 1e-10
VOCAB, MAX_LEN = 11, 16
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile

seeds = st.integers(0, 2**16)
batches = st.integers(1, 2)
prompt_lengths = st.integers(1, 4)

_MODELS: dict[tuple[int, int, int], TinyDecoder] = {}


def make_model(seed: int, n_layers: int = 2, n_heads: int = 2, d_model: int = 16):
    cfg = DecoderConfig(
        vocab_size=VOCAB, d_model=d_model, n_heads=n_heads, n_layers=n_layers, max_len=MAX_LEN
    )
    # One instance per shape, every weight redrawn from ``seed`` on each call (building
    # modules dominates the run time otherwise): embeddings ~ N(0, 1), matrices
    # ~ N(0, 1/fan_in), norm gains ~ 1 + N(0, 0.1^2), biases ~ N(0, 0.1^2).
    key = (n_layers, n_heads, d_model)
    if key not in _MODELS:
        _MODELS[key] = TinyDecoder(cfg).double().eval()
    model = _MODELS[key]
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen, dtype=param.dtype)
            if "emb" in name:
                param.copy_(noise)
            elif param.dim() == 2:
                param.copy_(noise / param.shape[1] ** 0.5)
            elif name.endswith("weight"):
                param.copy_(1.0 + 0.1 * noise)
            else:
                param.copy_(0.1 * noise)
    return model


def random_tokens(seed: int, batch: int, length: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed + 1)
    return torch.randint(VOCAB, (batch, length), generator=gen)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b|, NaN if either side has one (so `d <= tol` rejects it)."""
    return (a - b).abs().max().item()


@FAST
@given(seed=seeds, batch=batches, prompt_len=prompt_lengths, n_steps=st.integers(1, 4))
def test_step_logits_match_full_forward_at_every_step(seed, batch, prompt_len, n_steps):
    model = make_model(seed)
    tokens = random_tokens(seed, batch, prompt_len + n_steps)
    _, cache = model.prefill(tokens[:, :prompt_len])
    for j in range(n_steps):
        position = prompt_len + j
        logits = model.step(tokens[:, position], cache)
        with torch.no_grad():
            expected = model(tokens[:, : position + 1])[:, -1]
        d = max_diff(logits, expected)
        assert d <= TOL, (
            f"after prefilling a {prompt_len}-token prompt, cached step {j + 1} (new token at "
            f"position {position}) gives logits that differ from a full forward pass over the "
            f"same {position + 1} tokens by {d:.3e}"
        )


@FAST
@given(seed=seeds, batch=batches, prompt_len=prompt_lengths, n_new=st.integers(2, 6))
def test_greedy_generation_with_cache_equals_without_cache(seed, batch, prompt_len, n_new):
    model = make_model(seed)
    prompt = random_tokens(seed, batch, prompt_len)
    cached = model.generate(prompt, n_new, use_cache=True)
    uncached = model.generate(prompt, n_new, use_cache=False)
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
    model = make_model(seed)
    prompt = random_tokens(seed, batch, prompt_len)
    logits, cache = model.prefill(prompt)
    with torch.no_grad():
        expected = model(prompt)[:, -1]
    d = max_diff(logits, expected)
    assert d <= TOL, (
        f"prefill logits for a {prompt_len}-token prompt differ from the full forward pass by "
        f"{d:.3e}"
    )
    assert len(cache) == prompt_len, f"cache length {len(cache)} after a {prompt_len}-token prompt"
    for layer, keys in enumerate(cache.keys):
        assert keys.shape[2] == prompt_len, (
            f"layer {layer} caches {keys.shape[2]} key positions after a {prompt_len}-token prompt"
        )


@FAST
@given(seed=seeds, batch=batches, prompt_len=prompt_lengths, n_steps=st.integers(1, 4))
def test_each_step_extends_every_layer_cache_by_one_position(seed, batch, prompt_len, n_steps):
    model = make_model(seed)
    tokens = random_tokens(seed, batch, prompt_len + n_steps)
    _, cache = model.prefill(tokens[:, :prompt_len])
    for position in range(prompt_len, prompt_len + n_steps):
        model.step(tokens[:, position], cache)
        cached = position + 1
        assert len(cache) == cached, (
            f"after feeding {cached} tokens the cache reports length {len(cache)}"
        )
        for layer in range(model.cfg.n_layers):
            sizes = (cache.keys[layer].shape[2], cache.values[layer].shape[2])
            assert sizes == (cached, cached), (
                f"after feeding {cached} tokens ({prompt_len} prefilled, then one per step), "
                f"layer {layer} caches {sizes[0]} keys and {sizes[1]} values; a KV cache "
                f"must hold one entry per position fed"
            )


@FAST
@given(seed=seeds, length=st.integers(2, 8), data=st.data())
def test_full_forward_is_causal(seed, length, data):
    cut = data.draw(st.integers(1, length - 1), label="first changed position")
    model = make_model(seed)
    tokens = random_tokens(seed, 2, length)
    changed = tokens.clone()
    changed[:, cut:] = (changed[:, cut:] + 1) % VOCAB
    with torch.no_grad():
        diffs = (model(tokens) - model(changed))[:, :cut].abs().amax(dim=(0, 2)).tolist()
    t = next((t for t, d in enumerate(diffs) if not d <= TOL), None)
    assert t is None, (
        f"logits at position {t} changed by {diffs[t]:.3e} when only tokens from position {cut} "
        f"on were changed (length {length})"
    )


@FAST
@given(seed=seeds, length=st.integers(1, 8))
def test_forward_places_the_first_token_at_position_zero(seed, length):
    model = make_model(seed)
    tokens = random_tokens(seed, 2, length)
    # Random (not constant) nudges: the pre-norm blocks cannot see a constant shift.
    nudge = torch.randn(MAX_LEN, 16, generator=torch.Generator().manual_seed(seed + 2))
    with torch.no_grad():
        before = model(tokens)
        model.pos_emb.weight[length:] += nudge[length:].double()
        unused = max_diff(model(tokens), before)
        model.pos_emb.weight[0] += nudge[0].double()
        first = max_diff(model(tokens)[:, 0], before[:, 0])
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
    model = make_model(seed)
    prompt = random_tokens(seed, batch, prompt_len)
    for use_cache in (True, False):
        out = model.generate(prompt, n_new, use_cache=use_cache)
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
