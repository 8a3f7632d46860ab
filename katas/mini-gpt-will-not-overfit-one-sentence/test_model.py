"""Property tests for model.py, one component at a time, in float64 with weights drawn here.

The attention layer is run on its own (no embeddings, no loss), the embedding stage through
``GPT.embed`` (no attention), and the loss on hand-built logits or on whatever logits the
model returns: a fault in one component cannot decide a test of another.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

gpt = candidate("harness")  # model.py's pieces, built and run in the subject process

TOL = 1e-10
IGNORE = -1  # model.IGNORE_INDEX
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
seeds = st.integers(0, 2**16)


def _randn(gen: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=gen, dtype=torch.float64)


def attention_weights(seed: int, n_embd: int, bias: bool = True) -> dict[str, torch.Tensor]:
    """A ``CausalSelfAttention`` state dict with scores of order one."""
    gen = torch.Generator().manual_seed(seed)
    params = {
        "c_attn.weight": _randn(gen, 3 * n_embd, n_embd, scale=0.6),
        "c_proj.weight": _randn(gen, n_embd, n_embd, scale=n_embd**-0.5),
    }
    if bias:
        params["c_attn.bias"] = _randn(gen, 3 * n_embd, scale=0.3)
        params["c_proj.bias"] = _randn(gen, n_embd, scale=0.3)
    return params


def gpt_weights(config: dict, seed: int) -> dict[str, torch.Tensor]:
    """A full ``GPT`` state dict for ``config`` (bias=True); the head is tied to ``wte``."""
    gen = torch.Generator().manual_seed(seed)
    c, v = config["n_embd"], config["vocab_size"]
    params = {
        "transformer.wte.weight": _randn(gen, v, c),
        "transformer.wpe.weight": _randn(gen, config["block_size"], c),
    }
    for i in range(config["n_layer"]):
        block = {
            "ln_1.weight": 1 + _randn(gen, c, scale=0.1),
            "ln_1.bias": _randn(gen, c, scale=0.1),
            **{f"attn.{k}": w for k, w in attention_weights(seed + 1 + i, c).items()},
            "ln_2.weight": 1 + _randn(gen, c, scale=0.1),
            "ln_2.bias": _randn(gen, c, scale=0.1),
            "mlp.c_fc.weight": _randn(gen, 4 * c, c, scale=c**-0.5),
            "mlp.c_fc.bias": _randn(gen, 4 * c, scale=0.1),
            "mlp.c_proj.weight": _randn(gen, c, 4 * c, scale=(4 * c) ** -0.5),
            "mlp.c_proj.bias": _randn(gen, c, scale=0.1),
        }
        params.update({f"transformer.h.{i}.{k}": w for k, w in block.items()})
    params["transformer.ln_f.weight"] = 1 + _randn(gen, c, scale=0.1)
    params["transformer.ln_f.bias"] = _randn(gen, c, scale=0.1)
    params["lm_head.weight"] = params["transformer.wte.weight"]
    return params


def tokens(seed: int, batch: int, seq_len: int, vocab: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed + 2)
    return torch.randint(0, vocab, (batch, seq_len), generator=gen)


def hidden(seed: int, batch: int, seq_len: int, n_embd: int) -> torch.Tensor:
    return _randn(torch.Generator().manual_seed(seed + 3), batch, seq_len, n_embd)


def attention_oracle(params: dict, x: torch.Tensor, n_head: int, causal: bool = True):
    """Multi-head attention written out in float64: softmax of the scaled scores with the
    keys after each query at -inf (when ``causal``), times the values, heads merged."""
    batch, seq_len, c = x.shape
    qkv = F.linear(x, params["c_attn.weight"], params.get("c_attn.bias"))
    q, k, v = (t.view(batch, seq_len, n_head, -1).transpose(1, 2) for t in qkv.split(c, dim=-1))
    scores = q @ k.transpose(-2, -1) / math.sqrt(c // n_head)
    if causal:
        future = torch.ones(seq_len, seq_len, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    out = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(batch, seq_len, c)
    return F.linear(out, params["c_proj.weight"], params.get("c_proj.bias"))


def attention_config(n_head: int, head_dim: int, block_size: int = 16) -> dict:
    return {"n_embd": n_head * head_dim, "n_head": n_head, "block_size": block_size}


def worst_position(diff: torch.Tensor) -> tuple[int, float]:
    """(position, max |difference| there) of a (B, T, ...) difference; NaN counts as worst."""
    per_t = diff.abs().flatten(2).amax(dim=(0, 2)).nan_to_num(nan=math.inf)
    t = int(per_t.argmax())
    return t, float(per_t[t])


# --- attention -----------------------------------------------------------------------


@FAST
@given(seed=seeds, n_head=st.sampled_from([1, 2, 4]), seq_len=st.integers(2, 9), data=st.data())
def test_attention_output_ignores_later_tokens(seed, n_head, seq_len, data):
    cut = data.draw(st.integers(1, seq_len - 1), label="first changed position")
    config = attention_config(n_head, 4)
    params = attention_weights(seed, config["n_embd"])
    x = hidden(seed, 2, seq_len, config["n_embd"])
    changed = x.clone()
    changed[:, cut:] += 2.0 * hidden(seed + 7, 2, seq_len - cut, config["n_embd"])
    before = gpt.attention(config, params, x)[:, :cut]
    after = gpt.attention(config, params, changed)[:, :cut]
    t, d = worst_position(before - after)
    assert d <= TOL, (
        f"T={seq_len}, n_head={n_head}: changing the tokens from position {cut} on moved the "
        f"attention output at position {t} (< {cut}) by {d:.3e}; it must depend on 0..{t} only"
    )


@FAST
@given(seed=seeds, n_head=st.sampled_from([1, 2, 4]), head_dim=st.sampled_from([2, 4, 8]),
       seq_len=st.integers(2, 9), bias=st.booleans())  # fmt: skip
def test_attention_matches_masked_softmax_oracle(seed, n_head, head_dim, seq_len, bias):
    config = {**attention_config(n_head, head_dim), "bias": bias}
    params = attention_weights(seed, config["n_embd"], bias)
    x = hidden(seed, 2, seq_len, config["n_embd"])
    got = gpt.attention(config, params, x)
    t, d = worst_position(got - attention_oracle(params, x, n_head))
    assert d <= TOL, (
        f"T={seq_len}, n_head={n_head}, head_dim={head_dim}: at position {t} the layer is "
        f"{d:.3e} away from softmax(q k^T / sqrt(head_dim), later keys at -inf) v"
    )


@FAST
@given(seed=seeds, n_head=st.sampled_from([1, 2]), seq_len=st.integers(1, 9))
def test_attention_last_position_sees_the_whole_sequence(seed, n_head, seq_len):
    config = attention_config(n_head, 4)
    params = attention_weights(seed, config["n_embd"])
    x = hidden(seed, 2, seq_len, config["n_embd"])
    got = gpt.attention(config, params, x)[:, -1]
    want = attention_oracle(params, x, n_head, causal=False)[:, -1]
    d = float((got - want).abs().max())
    assert d <= TOL, (
        f"T={seq_len}: the last position attends to every token, yet differs by {d:.3e} from "
        f"plain softmax attention over the whole sequence"
    )


@FAST
@given(seed=seeds, seq_len=st.integers(1, 8))
def test_attention_rows_of_a_batch_are_independent(seed, seq_len):
    config = attention_config(2, 4)
    params = attention_weights(seed, config["n_embd"])
    x = hidden(seed, 3, seq_len, config["n_embd"])
    together = gpt.attention(config, params, x)
    alone = gpt.attention(config, params, x[1:2])
    d = float((together[1:2] - alone).abs().max())
    assert d <= TOL, f"T={seq_len}: row 1 changes by {d:.3e} when rows 0 and 2 are in the batch"


# --- embeddings ----------------------------------------------------------------------


def gpt_config(vocab: int, block_size: int, n_layer: int = 1, n_embd: int = 8) -> dict:
    return {"vocab_size": vocab, "block_size": block_size, "n_layer": n_layer,
            "n_head": 2, "n_embd": n_embd}  # fmt: skip


@FAST
@given(seed=seeds, vocab=st.integers(3, 12), seq_len=st.integers(2, 12), batch=st.integers(1, 3))
def test_embedding_is_token_embedding_plus_position_embedding(seed, vocab, seq_len, batch):
    config = gpt_config(vocab, block_size=12)
    params = gpt_weights(config, seed)
    idx = tokens(seed, batch, seq_len, vocab)
    got = gpt.embed(config, params, idx)
    want = params["transformer.wte.weight"][idx] + params["transformer.wpe.weight"][:seq_len]
    t, d = worst_position(got - want)
    assert d <= TOL, (
        f"T={seq_len}, vocab={vocab}: the embedding at position {t} is {d:.3e} away from "
        f"wte[token] + wpe[{t}]"
    )


@FAST
@given(seed=seeds, vocab=st.integers(2, 10), seq_len=st.integers(2, 10))
def test_model_without_blocks_reads_token_and_position(seed, vocab, seq_len):
    config = gpt_config(vocab, block_size=10, n_layer=0)
    params = gpt_weights(config, seed)
    idx = tokens(seed, 2, seq_len, vocab)
    logits = gpt.gpt_forward(config, params, idx)["logits"]
    wte = params["transformer.wte.weight"]
    h = wte[idx] + params["transformer.wpe.weight"][:seq_len]
    h = F.layer_norm(
        h, (h.size(-1),), params["transformer.ln_f.weight"], params["transformer.ln_f.bias"]
    )
    t, d = worst_position(logits - h @ wte.T)
    assert d <= TOL, (
        f"n_layer=0, T={seq_len}: logits at position {t} are {d:.3e} away from "
        f"ln_f(wte[token] + wpe[{t}]) @ wte^T"
    )


@FAST
@given(seed=seeds, vocab=st.integers(2, 10), seq_len=st.integers(2, 10), data=st.data())
def test_embedding_of_a_prefix_is_the_prefix_of_the_embedding(seed, vocab, seq_len, data):
    k = data.draw(st.integers(1, seq_len - 1), label="prefix length")
    config = gpt_config(vocab, block_size=10)
    params = gpt_weights(config, seed)
    idx = tokens(seed, 2, seq_len, vocab)
    full = gpt.embed(config, params, idx)[:, :k]
    prefix = gpt.embed(config, params, idx[:, :k])
    t, d = worst_position(full - prefix)
    assert d <= TOL, (
        f"the first {k} of {seq_len} tokens embed differently on their own: position {t} "
        f"moves by {d:.3e}"
    )


# --- loss ------------------------------------------------------------------------------


def logits_and_targets(seed: int, batch: int, seq_len: int, vocab: int, ignored: float):
    gen = torch.Generator().manual_seed(seed + 4)
    logits = _randn(gen, batch, seq_len, vocab, scale=2.0)
    targets = torch.randint(0, vocab, (batch, seq_len), generator=gen)
    drop = torch.rand(batch, seq_len, generator=gen) < ignored
    drop[0, 0] = False  # at least one scored position
    return logits, targets.masked_fill(drop, IGNORE)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the non-ignored positions of -log softmax(logits[b, t])[targets[b, t]]."""
    flat = logits.reshape(-1, logits.size(-1))
    return F.cross_entropy(flat, targets.reshape(-1), ignore_index=IGNORE)


@FAST
@given(seed=seeds, batch=st.integers(1, 3), seq_len=st.integers(2, 8), vocab=st.integers(2, 9),
       ignored=st.sampled_from([0.0, 0.3]))  # fmt: skip
def test_loss_scores_each_position_against_its_own_target(seed, batch, seq_len, vocab, ignored):
    logits, targets = logits_and_targets(seed, batch, seq_len, vocab, ignored)
    got = float(gpt.lm_loss(logits, targets)["loss"])
    want = float(cross_entropy(logits, targets))
    assert abs(got - want) <= TOL * max(1.0, abs(want)), (
        f"B={batch}, T={seq_len}: lm_loss is {got:.6f}, but the mean cross-entropy of "
        f"logits[:, t] against targets[:, t] is {want:.6f}"
    )


@FAST
@given(seed=seeds, vocab=st.integers(3, 10), seq_len=st.integers(2, 10), n_layer=st.integers(0, 1))
def test_model_loss_is_the_cross_entropy_of_its_own_logits(seed, vocab, seq_len, n_layer):
    config = gpt_config(vocab, block_size=10, n_layer=n_layer)
    params = gpt_weights(config, seed)
    idx = tokens(seed, 2, seq_len, vocab)
    targets = tokens(seed + 9, 2, seq_len, vocab)
    out = gpt.gpt_forward(config, params, idx, targets)
    got, want = float(out["loss"]), float(cross_entropy(out["logits"], targets))
    assert abs(got - want) <= TOL * max(1.0, abs(want)), (
        f"T={seq_len}: GPT returned loss {got:.6f}, but the cross-entropy of the logits it "
        f"returned against the targets it was given is {want:.6f}"
    )
