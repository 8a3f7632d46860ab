"""Property tests for the repetition penalties (float64 logits from a seeded generator).

The oracle is the CTRL definition written with NumPy: a token occurring in the context has
its logit divided by the penalty if positive, multiplied by it if negative, once.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

penalties = candidate("penalties")  # called in the subject process
configured = candidate("harness")  # apply_penalties, with the config built from a dict

TOL = 1e-12
# Agreement with the oracle is relative: a fix that computes its factor in float32 is fine.
REL = 1e-6
penalty_values = st.sampled_from([1.1, 1.2, 1.5, 2.0, 3.0])


@st.composite
def steps(draw, max_batch: int = 3, max_vocab: int = 12, max_len: int = 8):
    """(logits (B, V) float64, context (B, L) int64 with -1 as padding)."""
    seed = draw(st.integers(0, 2**31 - 1))
    batch = draw(st.integers(1, max_batch))
    vocab = draw(st.integers(2, max_vocab))
    length = draw(st.integers(1, max_len))
    scale = draw(st.sampled_from([0.5, 1.0, 3.0]))
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, vocab, generator=gen, dtype=torch.float64) * scale
    context = torch.randint(vocab, (batch, length), generator=gen)
    n_pad = torch.randint(0, length, (batch,), generator=gen)
    padding = torch.arange(length)[None, :] < n_pad[:, None]
    return logits, torch.where(padding, -1, context)


def seen_sets(context: torch.Tensor) -> list[set[int]]:
    return [{int(t) for t in row if t >= 0} for row in context]


def ctrl_oracle(logits: torch.Tensor, context: torch.Tensor, penalty: float) -> np.ndarray:
    out = logits.numpy().copy()
    for b, seen in enumerate(seen_sets(context)):
        for t in seen:
            x = out[b, t]
            out[b, t] = x / penalty if x > 0 else x * penalty
    return out


@given(step=steps(), penalty=penalty_values)
def test_matches_the_ctrl_definition(step, penalty):
    logits, context = step
    got = penalties.repetition_penalty(logits, context, penalty).numpy()
    want = ctrl_oracle(logits, context, penalty)
    err = np.abs(got - want) / (1.0 + np.abs(want))
    b, t = np.unravel_index(int(np.argmax(err)), err.shape)
    assert err[b, t] <= REL, (
        f"penalty={penalty}: row {b}, token {t} (logit {float(logits[b, t]):.4f}, "
        f"{'in' if t in seen_sets(context)[b] else 'not in'} the context) became "
        f"{got[b, t]:.4f}, expected {want[b, t]:.4f}"
    )


@given(step=steps(), penalty=penalty_values)
def test_seen_tokens_never_gain_on_unseen_tokens(step, penalty):
    logits, context = step
    out = penalties.repetition_penalty(logits, context, penalty)
    for b, seen in enumerate(seen_sets(context)):
        unseen = set(range(logits.shape[1])) - seen
        for t in seen:
            gain = float(out[b, t] - logits[b, t])
            for u in unseen:
                change = gain - float(out[b, u] - logits[b, u])
                assert change <= TOL, (
                    f"penalty={penalty}, row {b}: token {t} occurs in the context but its "
                    f"logit rose from {float(logits[b, t]):.4f} to {float(out[b, t]):.4f} "
                    f"relative to unseen token {u}"
                )


@given(step=steps(), penalty=penalty_values)
def test_seen_logits_never_increase(step, penalty):
    logits, context = step
    out = penalties.repetition_penalty(logits, context, penalty)
    for b, seen in enumerate(seen_sets(context)):
        for t in sorted(seen):
            before, after = float(logits[b, t]), float(out[b, t])
            assert after <= before + TOL, (
                f"penalty={penalty}, row {b}: token {t} occurs in the context and its logit "
                f"went up from {before:.4f} to {after:.4f}"
            )


@given(step=steps(), penalty=penalty_values)
def test_unseen_tokens_are_untouched(step, penalty):
    logits, context = step
    out = penalties.repetition_penalty(logits, context, penalty)
    for b, seen in enumerate(seen_sets(context)):
        for u in sorted(set(range(logits.shape[1])) - seen):
            assert out[b, u] == logits[b, u], (
                f"penalty={penalty}, row {b}: token {u} does not occur in the context "
                f"(padding ignored) but its logit changed from {float(logits[b, u]):.4f} "
                f"to {float(out[b, u]):.4f}"
            )


@given(step=steps(), penalty=penalty_values)
def test_positive_logits_of_seen_tokens_are_divided_by_the_penalty(step, penalty):
    logits, context = step
    out = penalties.repetition_penalty(logits, context, penalty)
    for b, seen in enumerate(seen_sets(context)):
        for t in sorted(seen):
            x = float(logits[b, t])
            if x > 0:
                assert abs(float(out[b, t]) - x / penalty) <= REL * (1 + x / penalty), (
                    f"penalty={penalty}, row {b}: seen token {t} with logit {x:.4f} became "
                    f"{float(out[b, t]):.4f}, expected {x / penalty:.4f}"
                )


@given(step=steps(), repeats=st.integers(2, 4), penalty=penalty_values)
def test_repeating_the_context_changes_nothing(step, repeats, penalty):
    logits, context = step
    once = penalties.repetition_penalty(logits, context, penalty)
    many = penalties.repetition_penalty(logits, context.repeat(1, repeats), penalty)
    d = (once - many).abs().max().item()
    assert d <= TOL, (
        f"penalty={penalty}: repeating the context {repeats} times changed the penalised "
        f"logits by {d:.3e}; the CTRL penalty applies once per distinct token"
    )


@given(step=steps())
def test_penalty_one_changes_nothing(step):
    logits, context = step
    out = configured.apply_penalties(logits, context, {"repetition_penalty": 1.0})
    assert torch.equal(out, logits), "repetition_penalty=1.0 changed the logits"


@given(step=steps(), presence=st.sampled_from([0.0, 0.5]), frequency=st.sampled_from([0.0, 0.3]))
def test_presence_and_frequency_penalties_are_additive(step, presence, frequency):
    logits, context = step
    config = {"presence_penalty": presence, "frequency_penalty": frequency}
    out = configured.apply_penalties(logits, context, config)
    counts = np.zeros(logits.shape)
    for b, row in enumerate(context.tolist()):
        for t in row:
            if t >= 0:
                counts[b, t] += 1
    want = logits.numpy() - frequency * counts - presence * (counts > 0)
    err = float(np.abs(out.numpy() - want).max())
    assert err <= TOL, (
        f"presence={presence}, frequency={frequency}: logits are {err:.3e} away from "
        f"logit - frequency * count - presence * (count > 0)"
    )


@given(step=steps(max_batch=4), penalty=penalty_values)
def test_rows_are_penalised_independently(step, penalty):
    logits, context = step
    batched = penalties.repetition_penalty(logits, context, penalty)
    for b in range(logits.shape[0]):
        alone = penalties.repetition_penalty(logits[b : b + 1], context[b : b + 1], penalty)[0]
        d = (alone - batched[b]).abs().max().item()
        assert d <= TOL, f"row {b} is penalised differently alone than in the batch ({d:.3e})"


def test_config_rejects_a_non_positive_penalty():
    logits, context = torch.zeros(1, 3, dtype=torch.float64), torch.tensor([[0]])
    for bad in (0.0, -1.2):
        with pytest.raises(ValueError):
            configured.apply_penalties(logits, context, {"repetition_penalty": bad})
