"""Holdout checks of the training-step fault (never shown to the candidate): longer runs
with clipping on every step, the same batch again and again, the reported losses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_train import BATCH, DEFAULTS, FAST, batches, reference_training, run, seeds


def _compare(got: list, want: list, what: str) -> None:
    for step, (g, w) in enumerate(zip(got, want, strict=True)):
        assert abs(g["loss"] - w["loss"]) <= 1e-9 * max(1.0, w["loss"]), (
            f"{what}: step {step} reports loss {g['loss']:.6f}, expected {w['loss']:.6f}"
        )
        for name, p in w["params"].items():
            d = float((g["params"][name] - p).abs().max())
            assert d <= 1e-9, f"{what}: after step {step} '{name}' is {d:.3e} off the reference"


@FAST
@given(seed=seeds, accum=st.sampled_from([1, 2, 4]))
def test_long_run_clipped_at_every_step(seed, accum):
    cfg = {**DEFAULTS, "learning_rate": 0.1, "min_lr": 0.0, "warmup_steps": 3,
           "weight_decay": 0.3, "grad_clip": 0.05, "grad_accum_steps": accum,
           "batch_size": BATCH}  # fmt: skip
    data = batches(seed, 7)
    _compare(run(seed, data, cfg), reference_training(seed, data, cfg),
             f"7 steps, grad_clip 0.05, grad_accum_steps={accum}")  # fmt: skip


@FAST
@given(seed=seeds, accum=st.sampled_from([1, 2]), n_steps=st.integers(4, 8))
def test_the_same_batch_over_and_over(seed, accum, n_steps):
    cfg = {**DEFAULTS, "learning_rate": 0.05, "warmup_steps": 0, "grad_accum_steps": accum,
           "batch_size": BATCH}  # fmt: skip
    data = batches(seed, 1) * n_steps
    _compare(run(seed, data, cfg), reference_training(seed, data, cfg),
             f"one batch repeated {n_steps} times, grad_accum_steps={accum}")  # fmt: skip


@FAST
@given(seed=seeds, n_steps=st.integers(2, 5))
def test_grad_norm_without_clipping_and_without_decay(seed, n_steps):
    cfg = {**DEFAULTS, "learning_rate": 0.02, "warmup_steps": 1, "weight_decay": 0.0,
           "grad_clip": 0.0, "grad_accum_steps": 2, "batch_size": BATCH}  # fmt: skip
    data = batches(seed, n_steps)
    got, want = run(seed, data, cfg), reference_training(seed, data, cfg)
    for step, (g, w) in enumerate(zip(got, want, strict=True)):
        assert abs(g["grad_norm"] - w["grad_norm"]) <= 1e-8 * max(1.0, w["grad_norm"]), (
            f"step {step}: grad norm {g['grad_norm']:.6f}, expected {w['grad_norm']:.6f}"
        )
