"""Holdout checks for gradient accumulation (not shown to the candidate)."""

import copy
import math

import torch
import torch.nn.functional as F
from grad_accumulation import AccumulatingTrainer, TokenBatch
from hypothesis import given
from hypothesis import strategies as st
from test_grad_accumulation import FAST, SEEDS
from torch import nn

VOCAB, CLASSES = 9, 4  # deliberately not the visible test's 7, 5: a different model and data


class Net(nn.Module):
    """Embedding -> LayerNorm -> MLP head, float64."""

    def __init__(self, seed: int, dim: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, dim)
        self.norm = nn.LayerNorm(dim)
        self.hidden = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, CLASSES)
        g = torch.Generator().manual_seed(seed)
        self.double()
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.head(F.gelu(self.hidden(self.norm(self.embed(input_ids)))))


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


def _accumulated(model: nn.Module, batch: TokenBatch, mbs: int, ignore_index: int):
    model.zero_grad(set_to_none=True)
    trainer = AccumulatingTrainer(
        model, torch.optim.SGD(model.parameters(), lr=0.0), mbs, ignore_index=ignore_index
    )
    loss, num_tokens = trainer.accumulate_gradients(batch)
    return loss, num_tokens, [p.grad.clone() for p in model.parameters()]


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
    trainer = AccumulatingTrainer(
        model, torch.optim.AdamW(model.parameters(), lr=0.05), mbs, max_grad_norm=0.05
    )
    reference = torch.optim.AdamW(twin.parameters(), lr=0.05)
    for step in range(3):
        g = torch.Generator().manual_seed(seed + 10 * step)
        lengths = torch.randint(1, seq_len + 1, (rows,), generator=g).tolist()
        lengths[-1] = seq_len
        batch = _batch(seed + step, lengths, seq_len, -100)
        result = trainer.step(batch)
        want_loss, _ = _full_batch(twin, batch, -100)
        want_norm = float(nn.utils.clip_grad_norm_(twin.parameters(), 0.05))
        reference.step()
        assert abs(result.grad_norm - want_norm) <= 1e-10 * max(1.0, want_norm), (
            f"step {step + 1}: grad_norm {result.grad_norm} != full-batch {want_norm}"
        )
        assert abs(result.loss - want_loss) <= 1e-12 * max(1.0, abs(want_loss)), (
            f"step {step + 1}: loss {result.loss} != full-batch {want_loss}"
        )
        for (name, p), q in zip(model.named_parameters(), twin.parameters(), strict=True):
            err = float((p.detach() - q.detach()).abs().max())
            assert err <= 1e-10, (
                f"clipped AdamW, micro_batch_size={mbs}, step {step + 1}: '{name}' is {err:.3e} "
                f"away from full-batch training"
            )
