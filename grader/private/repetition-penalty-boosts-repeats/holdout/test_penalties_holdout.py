"""Holdout properties for the repetition penalties, never shown to the candidate: the full
pipeline (CTRL then additive), float32, wide vocabularies, extreme logits, all-padding rows."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from test_penalties import REL, configured, ctrl_oracle, penalties, penalty_values, steps


@given(step=steps(), penalty=penalty_values, presence=st.sampled_from([0.0, 0.4]),
       frequency=st.sampled_from([0.0, 0.2]))  # fmt: skip
def test_pipeline_applies_ctrl_then_the_additive_penalties(step, penalty, presence, frequency):
    logits, context = step
    config = {"repetition_penalty": penalty, "presence_penalty": presence,
              "frequency_penalty": frequency}  # fmt: skip
    out = configured.apply_penalties(logits, context, config).numpy()
    counts = np.zeros(logits.shape)
    for b, row in enumerate(context.tolist()):
        for t in row:
            if t >= 0:
                counts[b, t] += 1
    want = ctrl_oracle(logits, context, penalty) - frequency * counts - presence * (counts > 0)
    err = float((np.abs(out - want) / (1 + np.abs(want))).max())
    assert err <= REL, (
        f"penalty={penalty}, presence={presence}, frequency={frequency}: off by {err:.3e} "
        f"from CTRL followed by the additive penalties"
    )


@given(step=steps(max_vocab=64, max_len=32), penalty=penalty_values)
def test_float32_and_wide_vocabularies_match_ctrl(step, penalty):
    logits, context = step
    out = penalties.repetition_penalty(logits.float(), context, penalty)
    assert out.dtype == torch.float32, f"float32 logits came back as {out.dtype}"
    err = float(np.abs(out.double().numpy() - ctrl_oracle(logits, context, penalty)).max())
    assert err <= 1e-5, f"penalty={penalty}, float32, vocab {logits.shape[1]}: off by {err:.3e}"


@given(seed=st.integers(0, 2**16), penalty=penalty_values)
def test_large_negative_and_positive_logits(seed, penalty):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 10, generator=gen, dtype=torch.float64) * 30.0
    context = torch.randint(10, (2, 6), generator=gen)
    out = penalties.repetition_penalty(logits, context, penalty).numpy()
    want = ctrl_oracle(logits, context, penalty)
    err = float((np.abs(out - want) / (1 + np.abs(want))).max())
    assert err <= REL, f"penalty={penalty}, logits up to |30|: off the CTRL oracle by {err:.3e}"


@given(step=steps(), penalty=penalty_values)
def test_a_row_of_padding_only_is_left_alone(step, penalty):
    logits, context = step
    context = context.clone()
    context[0] = -1
    out = penalties.repetition_penalty(logits, context, penalty)
    assert torch.equal(out[0], logits[0]), "a context row that is all padding changed its logits"
    want = ctrl_oracle(logits, context, penalty)
    err = float((np.abs(out.numpy() - want) / (1 + np.abs(want))).max())
    assert err <= REL, f"penalty={penalty}: off the CTRL oracle by {err:.3e}"


@given(step=steps(), penalty=st.sampled_from([0.5, 0.8]))
def test_penalty_below_one_rewards_seen_tokens_by_the_same_rule(step, penalty):
    logits, context = step
    out = penalties.repetition_penalty(logits, context, penalty).numpy()
    want = ctrl_oracle(logits, context, penalty)
    err = float((np.abs(out - want) / (1 + np.abs(want))).max())
    assert err <= REL, f"penalty={penalty} (< 1): off the CTRL oracle by {err:.3e}"
