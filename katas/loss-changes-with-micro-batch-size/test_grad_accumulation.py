"""Checks that accumulating over micro-batches is the same as one step on the whole batch."""

from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from grader.grading.boundary import candidate

trainer = candidate("harness")  # AccumulatingTrainer, run on a copy of the model in the subject

IGNORE_INDEX = -100  # grad_accumulation.IGNORE_INDEX, the trainer's default
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)
LAYOUTS = st.sampled_from(["right-padded", "prompt-masked", "scattered"])
VOCAB, CLASSES = 7, 5


class Layers(nn.Sequential):
    """A stack of ``torch.nn`` layers, float64, deterministic initialisation.

    ``layers`` describes it as plain data (name, class, arguments), so that the trainer
    under test can run on the same model rebuilt in the subject process (``harness``).
    """

    def __init__(self, layers: list[tuple[str, str, tuple]], seed: int) -> None:
        super().__init__(OrderedDict((name, getattr(nn, kind)(*a)) for name, kind, a in layers))
        self.layers = layers
        g = torch.Generator().manual_seed(seed)
        self.double()
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))


class Tagger(Layers):
    """Embedding -> tanh -> linear head."""

    def __init__(self, seed: int, dim: int = 3) -> None:
        layers = [
            ("embed", "Embedding", (VOCAB, dim)),
            ("act", "Tanh", ()),
            ("head", "Linear", (dim, CLASSES)),
        ]
        super().__init__(layers, seed)


@dataclass
class TokenBatch:
    """``input_ids`` and ``labels`` of shape (batch, seq_len), as the trainer's batches hold
    them; they cross the boundary as the tuple ``tensors``."""

    input_ids: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    @property
    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.input_ids, self.labels


def _batch(seed: int, lengths: list[int], seq_len: int, layout: str) -> TokenBatch:
    """Random tokens; row i has exactly lengths[i] labelled positions, placed by ``layout``."""
    g = torch.Generator().manual_seed(seed)
    rows = len(lengths)
    input_ids = torch.randint(0, VOCAB, (rows, seq_len), generator=g)
    labels = torch.randint(0, CLASSES, (rows, seq_len), generator=g)
    for i, n in enumerate(lengths):
        if layout == "right-padded":
            masked = torch.arange(n, seq_len)
        elif layout == "prompt-masked":
            masked = torch.arange(0, seq_len - n)
        else:
            masked = torch.randperm(seq_len, generator=g)[n:]
        labels[i, masked] = IGNORE_INDEX
    return TokenBatch(input_ids, labels)


def _ragged_lengths(seed: int, rows: int, seq_len: int) -> list[int]:
    """Real-token counts per row, at least one each, never all equal (first 1, last seq_len)."""
    g = torch.Generator().manual_seed(seed + 1)
    lengths = torch.randint(1, seq_len + 1, (rows,), generator=g).tolist()
    lengths[0], lengths[-1] = 1, seq_len
    return lengths


def _full_batch(model: nn.Module, batch: TokenBatch) -> tuple[float, list[torch.Tensor]]:
    """Oracle: one forward/backward of the mean cross-entropy over all real tokens."""
    model.zero_grad(set_to_none=True)
    logits = model(batch.input_ids)
    loss = F.cross_entropy(
        logits.reshape(-1, CLASSES), batch.labels.reshape(-1), ignore_index=IGNORE_INDEX
    )
    loss.backward()
    return loss.item(), [p.grad.clone() for p in model.parameters()]


def _grads(model: nn.Module, grads: dict, after: str) -> list[torch.Tensor]:
    """The gradients the subject reported, by name, in ``model.parameters()`` order."""
    ordered = []
    for name, p in model.named_parameters():
        grad = grads.get(name)
        assert grad is not None and grad.shape == p.shape, (
            f"no gradient (or a wrongly shaped one) for '{name}' after {after}"
        )
        ordered.append(grad)
    return ordered


def _accumulated(model: Layers, batch: TokenBatch, micro_batch_size: int):
    """``accumulate_gradients`` on a copy of ``model`` with no gradients yet."""
    got = trainer.accumulate_gradients(
        model.layers, model.state_dict(), batch.tensors, micro_batch_size
    )
    grads = _grads(model, got["grads"], "accumulate_gradients")
    return got["loss"], got["num_tokens"], grads


def _tokens_per_micro_batch(batch: TokenBatch, micro_batch_size: int) -> list[int]:
    real = (batch.labels != IGNORE_INDEX).sum(dim=1)
    return [int(chunk.sum()) for chunk in real.split(micro_batch_size)]


def _grad_gap(model: nn.Module, got: list[torch.Tensor], want: list[torch.Tensor]):
    """Largest entry-wise gap relative to the largest reference entry, and where."""
    worst = (0.0, "")
    scale = max(float(w.abs().max()) for w in want)
    for (name, _), a, b in zip(model.named_parameters(), got, want, strict=True):
        gap = float((a - b).abs().max()) / scale
        worst = max(worst, (gap, name))
    return worst


@FAST
@given(seed=SEEDS, rows=st.integers(2, 5), seq_len=st.integers(2, 5), layout=LAYOUTS)
def test_gradient_does_not_depend_on_micro_batch_size(seed, rows, seq_len, layout):
    batch = _batch(seed, _ragged_lengths(seed, rows, seq_len), seq_len, layout)
    model = Tagger(seed)
    _, _, whole = _accumulated(model, batch, micro_batch_size=rows)
    for mbs in range(1, rows):
        _, _, grads = _accumulated(model, batch, mbs)
        gap, name = _grad_gap(model, grads, whole)
        assert gap <= 1e-12, (
            f"batch of {rows} sequences: micro_batch_size={mbs} (real tokens per micro-batch "
            f"{_tokens_per_micro_batch(batch, mbs)}) and micro_batch_size={rows} (one "
            f"micro-batch) give different gradients: '{name}' differs by {gap:.3e} "
            f"relative to the largest gradient entry"
        )


@FAST
@given(seed=SEEDS, rows=st.integers(2, 5), seq_len=st.integers(2, 5), layout=LAYOUTS)
def test_gradient_matches_full_batch_token_mean(seed, rows, seq_len, layout):
    batch = _batch(seed, _ragged_lengths(seed, rows, seq_len), seq_len, layout)
    model = Tagger(seed)
    _, want = _full_batch(model, batch)
    total = int((batch.labels != IGNORE_INDEX).sum())
    for mbs in range(1, rows + 1):
        _, _, grads = _accumulated(model, batch, mbs)
        gap, name = _grad_gap(model, grads, want)
        assert gap <= 1e-12, (
            f"micro_batch_size={mbs} (real tokens per micro-batch "
            f"{_tokens_per_micro_batch(batch, mbs)}): accumulated gradient of '{name}' differs "
            f"from the gradient of the full-batch loss (mean over all {total} real tokens, one "
            f"pass) by {gap:.3e} relative to the largest gradient entry"
        )


@FAST
@given(seed=SEEDS, rows=st.integers(2, 5), seq_len=st.integers(2, 5), layout=LAYOUTS)
def test_reported_loss_is_the_full_batch_token_mean(seed, rows, seq_len, layout):
    batch = _batch(seed, _ragged_lengths(seed, rows, seq_len), seq_len, layout)
    model = Tagger(seed)
    want, _ = _full_batch(model, batch)
    total = int((batch.labels != IGNORE_INDEX).sum())
    for mbs in range(1, rows + 1):
        loss, num_tokens, _ = _accumulated(model, batch, mbs)
        assert num_tokens == total, (
            f"micro_batch_size={mbs}: reported {num_tokens} real tokens, the batch has {total}"
        )
        assert abs(loss - want) <= 1e-12 * max(1.0, abs(want)), (
            f"micro_batch_size={mbs} (real tokens per micro-batch "
            f"{_tokens_per_micro_batch(batch, mbs)}): reported loss {loss:.12f}, but the mean "
            f"cross-entropy over all {total} real tokens is {want:.12f}"
        )


@FAST
@given(
    seed=SEEDS,
    rows=st.integers(2, 6),
    seq_len=st.integers(2, 6),
    micro_batch_size=st.integers(1, 3),
    layout=LAYOUTS,
)
def test_sgd_training_matches_full_batch_training(seed, rows, seq_len, micro_batch_size, layout):
    lr = 0.5
    model, twin = Tagger(seed), Tagger(seed)
    batches = [
        _batch(seed + step, _ragged_lengths(seed + step, rows, seq_len), seq_len, layout)
        for step in range(3)
    ]
    steps = trainer.train(
        model.layers,
        model.state_dict(),
        [batch.tensors for batch in batches],
        micro_batch_size,
        optimizer="SGD",
        lr=lr,
    )
    for step, (batch, result) in enumerate(zip(batches, steps, strict=True)):
        _, grads = _full_batch(twin, batch)
        with torch.no_grad():
            for p, grad in zip(twin.parameters(), grads, strict=True):
                p -= lr * grad
        counts = batch.labels.ne(IGNORE_INDEX).sum(1).tolist()
        for name, q in twin.named_parameters():
            err = float((result["params"][name] - q.detach()).abs().max())
            assert err <= 1e-10, (
                f"after SGD step {step + 1} (lr={lr}, micro_batch_size={micro_batch_size}, "
                f"real tokens per sequence {counts}): "
                f"'{name}' is {err:.3e} away from full-batch training"
            )


@FAST
@given(
    seed=SEEDS,
    micro_batch_size=st.integers(1, 3),
    num_micro=st.integers(1, 3),
    seq_len=st.integers(2, 6),
    layout=LAYOUTS,
)
def test_equal_token_counts_already_match_full_batch(
    seed, micro_batch_size, num_micro, seq_len, layout
):
    rows = micro_batch_size * num_micro
    length = 1 + seed % seq_len
    batch = _batch(seed, [length] * rows, seq_len, layout)
    model = Tagger(seed)
    want_loss, want = _full_batch(model, batch)
    loss, _, grads = _accumulated(model, batch, micro_batch_size)
    gap, name = _grad_gap(model, grads, want)
    assert gap <= 1e-12, (
        f"equal real-token counts ({micro_batch_size * length} per micro-batch), yet the gradient "
        f"of '{name}' differs from the full-batch one by {gap:.3e} (relative)"
    )
    assert abs(loss - want_loss) <= 1e-12, (
        f"equal real-token counts ({micro_batch_size * length} per micro-batch), yet the loss "
        f"{loss:.12f} differs from the full-batch loss {want_loss:.12f}"
    )


@FAST
@given(seed=SEEDS, micro_batch_size=st.integers(1, 3), seq_len=st.integers(2, 6))
def test_step_starts_from_zero_gradients_and_reports_grad_norm(seed, micro_batch_size, seq_len):
    rows = 2 * micro_batch_size
    first = _batch(seed, [seq_len] * rows, seq_len, "scattered")
    second = _batch(seed + 1, [seq_len] * rows, seq_len, "scattered")

    def steps_on(model: Layers, batches: list[TokenBatch]) -> list[dict]:
        """SGD steps (lr 0, clipping at 1e6) on a copy of ``model``."""
        tensors = [batch.tensors for batch in batches]
        return trainer.train(
            model.layers,
            model.state_dict(),
            tensors,
            micro_batch_size,
            optimizer="SGD",
            lr=0.0,
            max_grad_norm=1e6,
        )

    model, fresh = Tagger(seed), Tagger(seed)
    result = steps_on(model, [first, second])[-1]
    got = _grads(model, result["grads"], "two steps")
    alone = _grads(fresh, steps_on(fresh, [second])[-1]["grads"], "one step")
    gap, name = _grad_gap(model, got, alone)
    assert gap <= 1e-12, (
        f"after steps on two batches, the gradient of '{name}' differs from that of a single "
        f"step on the second batch (relative gap {gap:.3e}): gradients carry over between steps"
    )
    want_loss, want = _full_batch(model, second)
    want_norm = float(torch.linalg.vector_norm(torch.stack([w.norm() for w in want])))
    grad_norm, loss, num_tokens = result["grad_norm"], result["loss"], result["num_tokens"]
    assert grad_norm is not None and abs(grad_norm - want_norm) <= 1e-10, (
        f"reported grad_norm {grad_norm} differs from the norm of the full-batch "
        f"gradient {want_norm:.12f}"
    )
    assert abs(loss - want_loss) <= 1e-12 and num_tokens == rows * seq_len, (
        f"step reported loss {loss:.12f} over {num_tokens} tokens, expected "
        f"{want_loss:.12f} over {rows * seq_len}"
    )
