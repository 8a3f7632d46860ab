"""Holdout checks of gradient accumulation (not shown to the candidate): micro-batches
without any target, SGD training with clipping, a deeper model and longer rows."""

from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st
from test_sft_train import (
    FAST,
    IGNORE_INDEX,
    SEEDS,
    VOCAB,
    Stack,
    accumulated,
    full_batch,
    grad_gap,
    make_batch,
    ragged_counts,
    sft,
    targets_per_micro_batch,
    token_model,
)


@FAST
@given(seed=SEEDS, micro_batch_size=st.integers(1, 2), seq_len=st.integers(3, 6))
def test_micro_batches_without_targets_contribute_nothing(seed, micro_batch_size, seq_len):
    counts = [0] * micro_batch_size + ragged_counts(seed, 3, seq_len)
    batch = make_batch(seed, counts, seq_len, "response-at-end")
    model = token_model(seed)
    want_loss, want = full_batch(model, batch)
    loss, _, grads = accumulated(model, batch, micro_batch_size)
    gap, name = grad_gap(model, grads, want)
    assert gap <= 1e-12 and math.isclose(loss, want_loss, rel_tol=1e-12), (
        f"the first micro-batch has no target token (targets per micro-batch "
        f"{targets_per_micro_batch(batch, micro_batch_size)}): loss {loss}, gradient of "
        f"'{name}' {gap:.3e} (relative) away from the full-batch one (loss {want_loss:.9f})"
    )


def deep_model(seed: int, dim: int = 4) -> Stack:
    layers = [
        ("embed", "Embedding", (VOCAB, dim)),
        ("norm", "LayerNorm", (dim,)),
        ("hidden", "Linear", (dim, dim)),
        ("act", "GELU", ()),
        ("head", "Linear", (dim, VOCAB)),
    ]
    return Stack(layers, seed)


@FAST
@given(seed=SEEDS, rows=st.integers(3, 8), seq_len=st.integers(8, 16),
       micro_batch_size=st.integers(1, 3))  # fmt: skip
def test_deeper_model_and_longer_rows(seed, rows, seq_len, micro_batch_size):
    batch = make_batch(seed, ragged_counts(seed, rows, seq_len), seq_len, "scattered")
    model = deep_model(seed)
    want_loss, want = full_batch(model, batch)
    loss, num_tokens, grads = accumulated(model, batch, micro_batch_size)
    gap, name = grad_gap(model, grads, want)
    total = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    assert gap <= 1e-12 and num_tokens == total and math.isclose(loss, want_loss, rel_tol=1e-12), (
        f"micro_batch_size={micro_batch_size}, targets per micro-batch "
        f"{targets_per_micro_batch(batch, micro_batch_size)}: loss {loss:.9f} over {num_tokens} "
        f"tokens vs {want_loss:.9f} over {total}; '{name}' is {gap:.3e} off the full batch"
    )


CLIPPING = st.sampled_from([0.05, 1.0, 1e6])


@FAST
@given(seed=SEEDS, rows=st.integers(2, 6), seq_len=st.integers(3, 6),
       micro_batch_size=st.integers(1, 3), max_grad_norm=CLIPPING)  # fmt: skip
def test_sgd_training_with_clipping_matches_full_batch_training(
    seed, rows, seq_len, micro_batch_size, max_grad_norm
):
    lr = 0.5
    model, twin = token_model(seed), token_model(seed)
    batches = [
        make_batch(seed + s, ragged_counts(seed + s, rows, seq_len), seq_len, "response-at-end")
        for s in range(3)
    ]
    steps = sft.sgd_train(
        model.layers, model.state_dict(), batches, micro_batch_size, lr, max_grad_norm
    )
    for step, (batch, result) in enumerate(zip(batches, steps, strict=True)):
        want_loss, grads = full_batch(twin, batch)
        norm = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
        assert math.isclose(result["grad_norm"], norm, rel_tol=1e-9), (
            f"step {step + 1}: reported grad_norm {result['grad_norm']:.9f}, the full-batch "
            f"gradient's norm is {norm:.9f}"
        )
        assert math.isclose(result["loss"], want_loss, rel_tol=1e-12), (
            f"step {step + 1}: reported loss {result['loss']:.9f}, expected {want_loss:.9f}"
        )
        scale = min(1.0, max_grad_norm / (norm + 1e-6))
        with torch.no_grad():
            for p, g in zip(twin.parameters(), grads, strict=True):
                p -= lr * scale * g
        for name, q in twin.named_parameters():
            err = float((result["params"][name] - q.detach()).abs().max())
            assert err <= 1e-9, (
                f"after SGD step {step + 1} (max_grad_norm={max_grad_norm}, micro_batch_size="
                f"{micro_batch_size}): '{name}' is {err:.3e} away from full-batch training"
            )
