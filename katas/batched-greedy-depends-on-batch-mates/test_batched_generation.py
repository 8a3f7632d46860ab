"""Property tests for batched greedy decoding with left padding (float64, small random models).

The reference decodes one prompt at a time with a forward pass written here from the
weights (positions 0..n-1, causal attention, no padding at all).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

lm = candidate("harness")  # the model and generate, built and run in the subject process
left_pad = candidate("batched_generation").left_pad

VOCAB, MAX_LEN, PAD = 13, 24, 0
LN_EPS = 1e-5  # nn.LayerNorm's default
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile

seeds = st.integers(0, 2**16)


def make_model(seed: int, n_layers: int = 2, n_heads: int = 2, d_model: int = 16):
    """An LMConfig (as a dict) and float64 weights for it, drawn from ``seed``."""
    config = {
        "vocab_size": VOCAB,
        "d_model": d_model,
        "n_heads": n_heads,
        "n_layers": n_layers,
        "max_len": MAX_LEN,
        "pad_id": PAD,
    }
    d = d_model
    shapes = {"tok_emb.weight": (VOCAB, d), "pos_emb.weight": (MAX_LEN, d)}
    for i in range(n_layers):
        block = {
            "ln1.weight": (d,),
            "ln1.bias": (d,),
            "qkv.weight": (3 * d, d),
            "qkv.bias": (3 * d,),
            "proj.weight": (d, d),
            "proj.bias": (d,),
            "ln2.weight": (d,),
            "ln2.bias": (d,),
            "mlp.0.weight": (4 * d, d),
            "mlp.0.bias": (4 * d,),
            "mlp.2.weight": (d, 4 * d),
            "mlp.2.bias": (d,),
        }
        shapes.update({f"blocks.{i}.{name}": shape for name, shape in block.items()})
    shapes.update({"ln_f.weight": (d,), "ln_f.bias": (d,), "lm_head.weight": (VOCAB, d)})
    gen = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in shapes.items():
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


def reference_logits(config: dict, params: dict, tokens: list[int]) -> torch.Tensor:
    """Logits (n, vocab) of one unpadded sequence at positions 0..n-1."""
    d, n_heads = config["d_model"], config["n_heads"]
    n = len(tokens)

    def norm(x, name):
        return F.layer_norm(x, (d,), params[f"{name}.weight"], params[f"{name}.bias"], LN_EPS)

    def linear(x, name):
        return F.linear(x, params[f"{name}.weight"], params.get(f"{name}.bias"))

    x = params["tok_emb.weight"][torch.tensor(tokens)] + params["pos_emb.weight"][:n]
    for i in range(config["n_layers"]):
        b = f"blocks.{i}"
        q, k, v = (t.view(n, n_heads, -1).transpose(0, 1)
                   for t in linear(norm(x, f"{b}.ln1"), f"{b}.qkv").split(d, -1))  # fmt: skip
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + linear(a.transpose(0, 1).reshape(n, d), f"{b}.proj")
        x = x + linear(F.gelu(linear(norm(x, f"{b}.ln2"), f"{b}.mlp.0")), f"{b}.mlp.2")
    return linear(norm(x, "ln_f"), "lm_head")


def reference_generate(config: dict, params: dict, prompt: list[int], n_new: int) -> list[int]:
    out = list(prompt)
    for _ in range(n_new):
        out.append(int(reference_logits(config, params, out)[-1].argmax()))
    return out


@st.composite
def prompt_batches(draw, min_size: int = 2, max_size: int = 4, max_len: int = 6):
    """Prompts of at least two different lengths (so that some rows are padded)."""
    lengths = draw(st.lists(st.integers(1, max_len), min_size=min_size, max_size=max_size))
    if len(set(lengths)) == 1:
        lengths[0] = lengths[0] % max_len + 1
    return [draw(st.lists(st.integers(1, VOCAB - 1), min_size=n, max_size=n)) for n in lengths]


@FAST
@given(seed=seeds, prompts=prompt_batches(), n_new=st.integers(2, 6))
def test_each_row_continues_as_its_prompt_does_alone(seed, prompts, n_new):
    config, params = make_model(seed)
    batched = lm.generate(config, params, prompts, n_new)
    for row, prompt in enumerate(prompts):
        alone = lm.generate(config, params, [prompt], n_new)[0]
        assert batched[row] == alone, (
            f"prompt {row} ({len(prompt)} tokens, batch lengths {[len(p) for p in prompts]}) "
            f"continues as {batched[row][len(prompt) :]} in the batch but as "
            f"{alone[len(prompt) :]} alone"
        )


@FAST
@given(seed=seeds, prompts=prompt_batches(), n_new=st.integers(2, 6))
def test_batched_generation_matches_reference_greedy_decoding(seed, prompts, n_new):
    config, params = make_model(seed)
    batched = lm.generate(config, params, prompts, n_new)
    for row, prompt in enumerate(prompts):
        want = reference_generate(config, params, prompt, n_new)
        assert batched[row] == want, (
            f"prompt {row} ({len(prompt)} tokens, batch lengths {[len(p) for p in prompts]}) "
            f"continues as {batched[row][len(prompt) :]}; greedy decoding of it alone from the "
            f"weights gives {want[len(prompt) :]}"
        )


@FAST
@given(seed=seeds, n_prompts=st.integers(1, 3), length=st.integers(1, 6), n_new=st.integers(1, 6),
       data=st.data())  # fmt: skip
def test_equal_length_prompts_match_reference_greedy_decoding(seed, n_prompts, length, n_new, data):
    config, params = make_model(seed)
    row = st.lists(st.integers(1, VOCAB - 1), min_size=length, max_size=length)
    prompts = data.draw(st.lists(row, min_size=n_prompts, max_size=n_prompts), label="prompts")
    got = lm.generate(config, params, prompts, n_new)
    for i, prompt in enumerate(prompts):
        want = reference_generate(config, params, prompt, n_new)
        assert got[i] == want, (
            f"unpadded prompt {i} continues as {got[i][length:]}, the reference gives "
            f"{want[length:]}"
        )


@FAST
@given(seed=seeds, prompts=prompt_batches(), n_new=st.integers(0, 5))
def test_returns_each_prompt_followed_by_max_new_tokens(seed, prompts, n_new):
    config, params = make_model(seed)
    out = lm.generate(config, params, prompts, n_new)
    assert len(out) == len(prompts), f"{len(out)} rows returned for {len(prompts)} prompts"
    for row, prompt in enumerate(prompts):
        assert out[row][: len(prompt)] == prompt, f"row {row} does not start with its prompt"
        assert len(out[row]) == len(prompt) + n_new, (
            f"row {row}: {len(out[row]) - len(prompt)} new tokens, expected {n_new}"
        )
        assert all(0 <= t < VOCAB for t in out[row]), f"row {row} has ids outside the vocabulary"


@FAST
@given(seed=seeds, prompts=prompt_batches())
def test_forward_ignores_what_the_pad_slots_hold(seed, prompts):
    config, params = make_model(seed)
    tokens, mask = left_pad(prompts, PAD)
    positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
    junk = torch.randint(VOCAB, tokens.shape, generator=torch.Generator().manual_seed(seed))
    a = lm.forward(config, params, tokens, positions, mask)
    b = lm.forward(config, params, torch.where(mask, tokens, junk), positions, mask)
    d = max((a[i][mask[i]] - b[i][mask[i]]).abs().max().item() for i in range(len(prompts)))
    assert d <= 1e-10, (
        f"changing the token ids in pad slots changed real tokens' logits by {d:.3e} "
        f"(prompt lengths {[len(p) for p in prompts]})"
    )


@given(prompts=prompt_batches(min_size=1))
def test_left_pad_right_aligns_prompts(prompts):
    tokens, mask = left_pad(prompts, PAD)
    width = max(len(p) for p in prompts)
    assert tuple(tokens.shape) == (len(prompts), width), f"tokens shape {tuple(tokens.shape)}"
    for row, prompt in enumerate(prompts):
        pad = width - len(prompt)
        assert tokens[row, pad:].tolist() == prompt and mask[row].tolist() == [False] * pad + [
            True
        ] * len(prompt), f"row {row} ({len(prompt)} tokens of {width}) is not right-aligned"


def test_empty_prompt_is_rejected():
    config, params = make_model(0)
    with pytest.raises(ValueError):
        lm.generate(config, params, [[1, 2], []], 2)
