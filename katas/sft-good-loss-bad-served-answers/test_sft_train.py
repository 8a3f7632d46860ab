"""The training step (``sft_train.py``): the loss, gradient accumulation and the AdamW groups.

Each test drives one piece with inputs it builds itself: the trainer gets hand-made
batches (labels already masked) and a small float64 model rebuilt in the subject from a
list of ``torch.nn`` layers, and is compared with one forward/backward pass over the
whole batch computed here; the optimizer groups are read off ``build_optimizer`` and
``param_groups`` for TinyLM and for other layer stacks.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from grader.grading.boundary import candidate

sft = candidate("harness")  # trainer and optimizer, built and run in the subject process
lm = candidate("sft_train")  # the loss: tensors in, tensors out

IGNORE_INDEX = -100  # data.IGNORE_INDEX
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**31 - 1)
VOCAB = 7
TINY_LM = {"vocab_size": 11, "max_seq_len": 8, "d_model": 8, "n_heads": 2, "n_layers": 2}


class Stack(nn.Sequential):
    """A float64 stack of ``torch.nn`` layers described as plain data (name, class,
    arguments), so that the subject can rebuild the same model (``harness._stack``)."""

    def __init__(self, layers: list[tuple[str, str, tuple]], seed: int) -> None:
        super().__init__(OrderedDict((name, getattr(nn, kind)(*a)) for name, kind, a in layers))
        self.layers = layers
        self.double()
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))


def token_model(seed: int, dim: int = 3) -> Stack:
    """Embedding -> tanh -> linear head over VOCAB tokens."""
    layers = [
        ("embed", "Embedding", (VOCAB, dim)),
        ("act", "Tanh", ()),
        ("head", "Linear", (dim, VOCAB)),
    ]
    return Stack(layers, seed)


LAYOUTS = st.sampled_from(["response-at-end", "scattered"])


def make_batch(seed: int, counts: list[int], seq_len: int, layout: str) -> dict:
    """Random ids; row i has ``counts[i]`` target tokens (labels among positions 1..T-1,
    the ones ``causal_lm_loss`` scores) placed by ``layout``.  "scattered" may also put a
    label at position 0, which has no logits before it and is never a target."""
    g = torch.Generator().manual_seed(seed)
    rows = len(counts)
    input_ids = torch.randint(0, VOCAB, (rows, seq_len), generator=g)
    labels = torch.full((rows, seq_len), IGNORE_INDEX)
    for i, n in enumerate(counts):
        if layout == "response-at-end":
            where = torch.arange(seq_len - n, seq_len)
        else:
            where = 1 + torch.randperm(seq_len - 1, generator=g)[:n]
            if torch.rand((), generator=g) < 0.5:
                labels[i, 0] = int(input_ids[i, 0])
        labels[i, where] = input_ids[i, where]
    return {"input_ids": input_ids, "labels": labels, "attention_mask": torch.ones_like(labels)}


def ragged_counts(seed: int, rows: int, seq_len: int) -> list[int]:
    """Targets per row, 1 to T-1, never all equal (the first row 1, the last T-1)."""
    g = torch.Generator().manual_seed(seed + 1)
    counts = torch.randint(1, seq_len, (rows,), generator=g).tolist()
    counts[0], counts[-1] = 1, seq_len - 1
    return counts


def full_batch(model: nn.Module, batch: dict) -> tuple[float, list[torch.Tensor]]:
    """Oracle: one pass of the mean next-token cross-entropy over every target token."""
    model.zero_grad(set_to_none=True)
    logits = model(batch["input_ids"])
    loss = F.cross_entropy(
        logits[:, :-1].reshape(-1, VOCAB),
        batch["labels"][:, 1:].reshape(-1),
        ignore_index=IGNORE_INDEX,
    )
    loss.backward()
    return loss.item(), [p.grad.clone() for p in model.parameters()]


def targets_per_micro_batch(batch: dict, micro_batch_size: int) -> list[int]:
    per_row = (batch["labels"][:, 1:] != IGNORE_INDEX).sum(dim=1)
    return [int(chunk.sum()) for chunk in per_row.split(micro_batch_size)]


def accumulated(model: Stack, batch: dict, micro_batch_size: int):
    got = sft.accumulate_gradients(model.layers, model.state_dict(), batch, micro_batch_size)
    grads = []
    for name, p in model.named_parameters():
        grad = got["grads"].get(name)
        assert grad is not None and grad.shape == p.shape, (
            f"accumulate_gradients left no gradient (or a wrongly shaped one) on '{name}'"
        )
        grads.append(grad)
    return got["loss"], got["num_tokens"], grads


def grad_gap(model: nn.Module, got: list[torch.Tensor], want: list[torch.Tensor]):
    """Largest entry-wise gap relative to the largest reference entry, and where."""
    scale = max(float(w.abs().max()) for w in want)
    gaps = [
        (float((a - b).abs().max()) / scale, name)
        for (name, _), a, b in zip(model.named_parameters(), got, want, strict=True)
    ]
    return max(gaps, key=lambda gap: (math.isnan(gap[0]), gap[0]))


# --- the loss (pass to pass) -------------------------------------------------------------


@FAST
@given(seed=SEEDS, rows=st.integers(1, 4), seq_len=st.integers(2, 6), layout=LAYOUTS)
def test_causal_lm_loss_scores_each_label_from_the_previous_position(seed, rows, seq_len, layout):
    batch = make_batch(seed, ragged_counts(seed, rows, seq_len), seq_len, layout)
    g = torch.Generator().manual_seed(seed + 2)
    logits = 3.0 * torch.randn(rows, seq_len, VOCAB, generator=g, dtype=torch.float64)
    for reduction in ("mean", "sum"):
        got = float(lm.causal_lm_loss(logits, batch["labels"], reduction))
        want = float(
            F.cross_entropy(
                logits[:, :-1].reshape(-1, VOCAB),
                batch["labels"][:, 1:].reshape(-1),
                ignore_index=IGNORE_INDEX,
                reduction=reduction,
            )
        )
        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12), (
            f"reduction={reduction!r}: causal_lm_loss gave {got:.9f}, the cross-entropy of "
            f"logits[:, t] against labels[:, t + 1] is {want:.9f}"
        )


# --- gradient-accumulation ---------------------------------------------------------------


@FAST
@given(seed=SEEDS, rows=st.integers(2, 5), seq_len=st.integers(3, 6), layout=LAYOUTS)
def test_gradient_does_not_depend_on_micro_batch_size(seed, rows, seq_len, layout):
    batch = make_batch(seed, ragged_counts(seed, rows, seq_len), seq_len, layout)
    model = token_model(seed)
    _, _, whole = accumulated(model, batch, rows)
    for micro_batch_size in range(1, rows):
        _, _, grads = accumulated(model, batch, micro_batch_size)
        gap, name = grad_gap(model, grads, whole)
        assert gap <= 1e-12, (
            f"{rows} rows with target tokens per micro-batch "
            f"{targets_per_micro_batch(batch, micro_batch_size)}: micro_batch_size="
            f"{micro_batch_size} and {rows} give gradients of '{name}' that differ by "
            f"{gap:.3e} (relative to the largest entry)"
        )


@FAST
@given(seed=SEEDS, rows=st.integers(2, 5), seq_len=st.integers(3, 6), layout=LAYOUTS)
def test_gradient_is_that_of_the_mean_over_every_target_token(seed, rows, seq_len, layout):
    batch = make_batch(seed, ragged_counts(seed, rows, seq_len), seq_len, layout)
    model = token_model(seed)
    _, want = full_batch(model, batch)
    for micro_batch_size in range(1, rows + 1):
        _, _, grads = accumulated(model, batch, micro_batch_size)
        gap, name = grad_gap(model, grads, want)
        assert gap <= 1e-12, (
            f"micro_batch_size={micro_batch_size} (target tokens per micro-batch "
            f"{targets_per_micro_batch(batch, micro_batch_size)}): the gradient of '{name}' "
            f"is {gap:.3e} (relative) away from that of the mean loss over all target tokens"
        )


@FAST
@given(seed=SEEDS, rows=st.integers(2, 5), seq_len=st.integers(3, 6), layout=LAYOUTS)
def test_reported_loss_and_count_are_those_of_the_whole_batch(seed, rows, seq_len, layout):
    batch = make_batch(seed, ragged_counts(seed, rows, seq_len), seq_len, layout)
    model = token_model(seed)
    want, _ = full_batch(model, batch)
    total = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    for micro_batch_size in range(1, rows + 1):
        loss, num_tokens, _ = accumulated(model, batch, micro_batch_size)
        assert num_tokens == total, (
            f"micro_batch_size={micro_batch_size}: reported {num_tokens} target tokens, the "
            f"batch has {total} (labels at positions 1..T-1 that are not ignored)"
        )
        assert math.isclose(loss, want, rel_tol=1e-12, abs_tol=1e-12), (
            f"micro_batch_size={micro_batch_size} (target tokens per micro-batch "
            f"{targets_per_micro_batch(batch, micro_batch_size)}): reported loss {loss:.9f}, "
            f"the mean cross-entropy over all {total} target tokens is {want:.9f}"
        )


@FAST
@given(seed=SEEDS, micro_batch_size=st.integers(1, 3), num_micro=st.integers(1, 3),
       seq_len=st.integers(3, 6), layout=LAYOUTS)  # fmt: skip
def test_micro_batches_with_equal_target_counts_already_agree(
    seed, micro_batch_size, num_micro, seq_len, layout
):
    rows = micro_batch_size * num_micro
    batch = make_batch(seed, [1 + seed % (seq_len - 1)] * rows, seq_len, layout)
    model = token_model(seed)
    want_loss, want = full_batch(model, batch)
    loss, _, grads = accumulated(model, batch, micro_batch_size)
    gap, name = grad_gap(model, grads, want)
    assert gap <= 1e-12 and math.isclose(loss, want_loss, rel_tol=1e-12), (
        f"every micro-batch has {targets_per_micro_batch(batch, micro_batch_size)[0]} target "
        f"tokens, yet '{name}' is {gap:.3e} off the full-batch gradient (loss {loss:.9f} vs "
        f"{want_loss:.9f})"
    )


# --- weight-decay ------------------------------------------------------------------------

TRAIN_CONFIG = {"lr": 0.01, "weight_decay": 0.1, "betas": [0.9, 0.95]}


def decay_of(described: dict) -> dict[str, list[float]]:
    """The weight decay each parameter gets, by name (a list: once per group it is in)."""
    decay: dict[str, list[float]] = {}
    for group in described["groups"]:
        for name in group["names"]:
            decay.setdefault(name, []).append(group["weight_decay"])
    return decay


def expected_decay(shape: list[int], weight_decay: float) -> float:
    return weight_decay if len(shape) >= 2 else 0.0


def check_decay_by_shape(described: dict, weight_decay: float, what: str) -> None:
    decay = decay_of(described)
    for name in described["trainable"]:
        shape = described["shapes"][name]
        want = expected_decay(shape, weight_decay)
        assert decay.get(name, [want]) == [want], (
            f"{what}: '{name}' (shape {tuple(shape)}) gets weight decay {decay[name]}, "
            f"expected {want}: matrices and embeddings are decayed, vectors and scalars not"
        )


STACK_LAYERS = st.sampled_from(
    [
        [("emb", "Embedding", (5, 4)), ("norm", "LayerNorm", (4,)), ("out", "Linear", (4, 3))],
        [("emb", "Embedding", (5, 4)), ("norm", "RMSNorm", (4,)), ("out", "Linear", (4, 3))],
        [("fc", "Linear", (4, 4)), ("act", "GELU", ()), ("norm", "LayerNorm", (4,))],
    ]
)


@FAST
@given(weight_decay=st.sampled_from([0.01, 0.1, 0.3]), n_layers=st.integers(1, 2),
       layers=STACK_LAYERS)  # fmt: skip
def test_each_parameter_is_decayed_according_to_its_shape(weight_decay, n_layers, layers):
    config = {**TINY_LM, "n_layers": n_layers}
    described = sft.tiny_lm_optimizer(config, {**TRAIN_CONFIG, "weight_decay": weight_decay})
    check_decay_by_shape(described, weight_decay, f"TinyLM with {n_layers} block(s)")
    stack = sft.stack_param_groups(layers, weight_decay)
    kinds = " -> ".join(kind for _, kind, _ in layers)
    check_decay_by_shape(stack, weight_decay, f"param_groups of {kinds}")


@FAST
@given(seed=SEEDS, lr=st.sampled_from([1e-3, 0.01, 0.1]),
       weight_decay=st.sampled_from([0.05, 0.1, 0.5]))  # fmt: skip
def test_a_step_on_zero_gradients_only_shrinks_the_matrices(seed, lr, weight_decay):
    train_config = {**TRAIN_CONFIG, "lr": lr, "weight_decay": weight_decay}
    got = sft.tiny_lm_step_on_zero_gradients(TINY_LM, seed, train_config)
    for name, before in got["before"].items():
        after = got["after"][name]
        factor = 1 - lr * weight_decay if before.dim() >= 2 else 1.0
        err = float((after - factor * before).abs().max())
        assert err <= 1e-12, (
            f"lr={lr}, weight_decay={weight_decay}: one AdamW step with zero gradients moved "
            f"'{name}' (shape {tuple(before.shape)}) {err:.3e} away from {factor:g} times "
            f"its value"
        )


FROZEN = st.sampled_from([(), ("emb.weight",), ("norm.weight",)])


@FAST
@given(n_layers=st.integers(1, 2), lr=st.sampled_from([1e-3, 3e-3]), layers=STACK_LAYERS,
       frozen=FROZEN)  # fmt: skip
def test_optimizer_holds_each_trainable_parameter_once(n_layers, lr, layers, frozen):
    train_config = {**TRAIN_CONFIG, "lr": lr}
    described = sft.tiny_lm_optimizer({**TINY_LM, "n_layers": n_layers}, train_config)
    for group in described["groups"]:
        assert group["lr"] == lr and group["betas"] == [0.9, 0.95], (
            f"a group has lr {group['lr']} and betas {group['betas']}, the config says "
            f"{lr} and [0.9, 0.95]"
        )
    stack = sft.stack_param_groups(layers, 0.1, frozen)
    for what, got in (("TinyLM", described), ("a layer stack", stack)):
        listed = sorted(name for group in got["groups"] for name in group["names"])
        assert listed == sorted(got["trainable"]), (
            f"{what}: the groups list {len(listed)} tensors, the model has "
            f"{len(got['trainable'])} trainable ones; each must be in exactly one group"
        )
