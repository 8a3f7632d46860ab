"""Holdout checks for gradient accumulation (not shown to the candidate)."""

import copy
import math

import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from test_grad_accumulation import FAST, SEEDS, Layers, TokenBatch, _grads
from torch import nn

from grader.grading.boundary import candidate

trainer = candidate("harness")

VOCAB, CLASSES = 9, 4  # deliberately not the visible test's 7, 5: a different model and data


class Net(Layers):
    """Embedding -> LayerNorm -> MLP head, float64."""

    def __init__(self, seed: int, dim: int = 4) -> None:
        layers = [
            ("embed", "Embedding", (VOCAB, dim)),
            ("norm", "LayerNorm", (dim,)),
            ("hidden", "Linear", (dim, dim)),
            ("act", "GELU", ()),
            ("head", "Linear", (dim, CLASSES)),
        ]
        super().__init__(layers, seed)


def _batch(seed: int, lengths: list[int], seq_len: int, ignore_index: int) -> TokenBatch:
    g = torch.Generator().manual_seed(seed)
    rows = len(lengths)
    input_ids = torch.randint(0, VOCAB, (rows, seq_len), generator=g)
    labels = torch.randint(0, CLASSES, (rows, seq_len), generator=g)
    for i, n in enumerate(lengths):
        labels[i, torch.randperm(seq_len, generator=g)[n:]] = ignore_index
    return TokenBatch(input_ids, labels)


def _full_batch(model: nn.Module, batch: TokenBatch, ignore_index: int):
    model.zero_grad(set_to_none=True)
    logits = model(batch.input_ids)
    loss = F.cross_entropy(
        logits.reshape(-1, CLASSES), batch.labels.reshape(-1), ignore_index=ignore_index
    )
    loss.backward()
    return loss.item(), [p.grad.clone() for p in model.parameters()]


def _accumulated(model: Layers, batch: TokenBatch, mbs: int, ignore_index: int):
    got = trainer.accumulate_gradients(
        model.layers, model.state_dict(), batch.tensors, mbs, ignore_index=ignore_index
    )
    grads = _grads(model, got["grads"], "accumulate_gradients")
    return got["loss"], got["num_tokens"], grads


def _check_all_splits(model, batch, ignore_index, what):
    want_loss, want = _full_batch(model, batch, ignore_index)
    scale = max(float(w.abs().max()) for w in want)
    total = int((batch.labels != ignore_index).sum())
    for mbs in range(1, len(batch) + 1):
        loss, num_tokens, grads = _accumulated(model, batch, mbs, ignore_index)
        for (name, _), a, b in zip(model.named_parameters(), grads, want, strict=True):
            gap = float((a - b).abs().max()) / scale
            assert math.isfinite(gap) and gap <= 1e-12, (
                f"{what}, micro_batch_size={mbs}: gradient of '{name}' differs from the "
                f"full-batch token-mean gradient by {gap:.3e} (relative)"
            )
        assert num_tokens == total and abs(loss - want_loss) <= 1e-12 * max(1, abs(want_loss)), (
            f"{what}, micro_batch_size={mbs}: reported loss {loss} over {num_tokens} tokens, "
            f"expected {want_loss} over {total}"
        )


@FAST
@given(seed=SEEDS, rows=st.integers(2, 6), seq_len=st.integers(1, 5))
def test_fully_masked_sequences_contribute_nothing(seed, rows, seq_len):
    g = torch.Generator().manual_seed(seed + 1)
    lengths = torch.randint(0, seq_len + 1, (rows,), generator=g).tolist()
    lengths[0], lengths[-1] = 0, max(lengths[-1], 1)
    batch = _batch(seed, lengths, seq_len, -100)
    _check_all_splits(Net(seed), batch, -100, f"real tokens per sequence {lengths}")


@FAST
@given(seed=SEEDS, rows=st.integers(2, 6), seq_len=st.integers(2, 5))
def test_custom_ignore_index(seed, rows, seq_len):
    g = torch.Generator().manual_seed(seed + 1)
    lengths = torch.randint(1, seq_len + 1, (rows,), generator=g).tolist()
    lengths[0], lengths[-1] = 1, seq_len
    batch = _batch(seed, lengths, seq_len, -1)
    _check_all_splits(Net(seed), batch, -1, f"ignore_index=-1, real tokens {lengths}")


@FAST
@given(seed=SEEDS, rows=st.integers(3, 7), seq_len=st.integers(3, 8))
def test_longer_batches(seed, rows, seq_len):
    g = torch.Generator().manual_seed(seed + 1)
    lengths = torch.randint(1, seq_len + 1, (rows,), generator=g).tolist()
    batch = _batch(seed, lengths, seq_len, -100)
    _check_all_splits(Net(seed), batch, -100, f"real tokens {lengths}")


@FAST
@given(seed=SEEDS, rows=st.integers(2, 6), seq_len=st.integers(2, 5), mbs=st.integers(1, 3))
def test_clipped_adamw_training_matches_full_batch(seed, rows, seq_len, mbs):
    model = Net(seed)
    twin = copy.deepcopy(model)
    batches = []
    for step in range(3):
        g = torch.Generator().manual_seed(seed + 10 * step)
        lengths = torch.randint(1, seq_len + 1, (rows,), generator=g).tolist()
        lengths[-1] = seq_len
        batches.append(_batch(seed + step, lengths, seq_len, -100))
    steps = trainer.train(
        model.layers,
        model.state_dict(),
        [batch.tensors for batch in batches],
        mbs,
        optimizer="AdamW",
        lr=0.05,
        max_grad_norm=0.05,
    )
    reference = torch.optim.AdamW(twin.parameters(), lr=0.05)
    for step, (batch, result) in enumerate(zip(batches, steps, strict=True)):
        want_loss, _ = _full_batch(twin, batch, -100)
        want_norm = float(nn.utils.clip_grad_norm_(twin.parameters(), 0.05))
        reference.step()
        grad_norm, loss = result["grad_norm"], result["loss"]
        assert abs(grad_norm - want_norm) <= 1e-10 * max(1.0, want_norm), (
            f"step {step + 1}: grad_norm {grad_norm} != full-batch {want_norm}"
        )
        assert abs(loss - want_loss) <= 1e-12 * max(1.0, abs(want_loss)), (
            f"step {step + 1}: loss {loss} != full-batch {want_loss}"
        )
        for name, q in twin.named_parameters():
            err = float((result["params"][name] - q.detach()).abs().max())
            assert err <= 1e-10, (
                f"clipped AdamW, micro_batch_size={mbs}, step {step + 1}: '{name}' is {err:.3e} "
                f"away from full-batch training"
            )


@FAST
@given(seed=SEEDS, rows=st.integers(2, 5), seq_len=st.integers(2, 5), mbs=st.integers(1, 3))
def test_two_batches_accumulate_into_the_sum_of_their_gradients(seed, rows, seq_len, mbs):
    model = Net(seed)
    batches = []
    for k in range(2):
        g = torch.Generator().manual_seed(seed + 7 * k + 1)
        lengths = torch.randint(1, seq_len + 1, (rows + k,), generator=g).tolist()
        batches.append(_batch(seed + k, lengths, seq_len, -100))
    want = [torch.zeros_like(p) for p in model.parameters()]
    losses = []
    for batch in batches:
        loss, grads = _full_batch(model, batch, -100)
        losses.append(loss)
        want = [w + g for w, g in zip(want, grads, strict=True)]
    got = trainer.accumulate_batches(
        model.layers, model.state_dict(), [batch.tensors for batch in batches], mbs
    )
    grads = _grads(model, got["grads"], "accumulate_gradients on two batches")
    scale = max(float(w.abs().max()) for w in want)
    for (name, _), a, b in zip(model.named_parameters(), grads, want, strict=True):
        gap = float((a - b).abs().max()) / scale
        assert gap <= 1e-12, (
            f"accumulate_gradients on two batches in a row (micro_batch_size={mbs}): '{name}' "
            f"differs from the sum of their token-mean gradients by {gap:.3e} (relative); "
            f".grad must be added to, not rescaled"
        )
    for k, ((loss, _), want_loss) in enumerate(zip(got["reported"], losses, strict=True)):
        assert abs(loss - want_loss) <= 1e-12 * max(1.0, abs(want_loss)), (
            f"batch {k + 1} of 2: reported loss {loss} != its token mean {want_loss}"
        )
