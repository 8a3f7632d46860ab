"""Checks for the distillation loss against a float64 NumPy oracle and its own contract."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

kd = candidate("harness")  # DistillationLoss, run in the subject process

IGNORE = -100
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)
TEMPERATURES = st.sampled_from([0.5, 1.0, 2.0, 4.0])
ALPHAS = st.sampled_from([0.0, 0.3, 0.5, 1.0])


def _inputs(seed: int, batch: int, seq: int, vocab: int, scale: float = 3.0, dtype=torch.float64):
    """Student and teacher logits (independent, teacher sharper), labels with some ignored;
    the first position is always labelled."""
    g = torch.Generator().manual_seed(seed)
    student = scale * torch.randn(batch, seq, vocab, generator=g, dtype=torch.float64)
    teacher = 1.5 * scale * torch.randn(batch, seq, vocab, generator=g, dtype=torch.float64)
    labels = torch.randint(0, vocab, (batch, seq), generator=g)
    ignored = torch.rand(batch, seq, generator=g) < 0.3
    ignored[0, 0] = False
    labels[ignored] = IGNORE
    return student.to(dtype), teacher.to(dtype), labels


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _oracle(student, teacher, labels, temperature: float) -> tuple[float, float]:
    """float64 NumPy: T**2 * KL(teacher_T || student_T) and the hard-label cross-entropy,
    each averaged over the labelled positions."""
    vocab = student.shape[-1]
    s = student.double().numpy().reshape(-1, vocab)
    t = teacher.double().numpy().reshape(-1, vocab)
    y = labels.numpy().reshape(-1)
    keep = y != IGNORE
    log_q = _log_softmax(s / temperature)[keep]
    log_p = _log_softmax(t / temperature)[keep]
    kl = (np.exp(log_p) * (log_p - log_q)).sum(axis=-1)
    ce = -_log_softmax(s)[keep][np.arange(keep.sum()), y[keep]]
    n = max(int(keep.sum()), 1)
    return float(temperature**2 * kl.sum() / n), float(ce.sum() / n)


def _config(temperature: float, alpha: float = 0.5) -> dict:
    return {"temperature": temperature, "alpha": alpha, "ignore_index": IGNORE}


SHAPES = {
    "batch": st.integers(1, 3),
    "seq": st.integers(1, 4),
    "vocab": st.integers(3, 12),
}


@FAST
@given(seed=SEEDS, temperature=TEMPERATURES, **SHAPES)
def test_soft_term_matches_forward_kl_oracle(seed, temperature, batch, seq, vocab):
    student, teacher, labels = _inputs(seed, batch, seq, vocab)
    got = float(kd.terms(student, teacher, labels, _config(temperature))["soft"])
    want, _ = _oracle(student, teacher, labels, temperature)
    assert abs(got - want) <= 1e-9 * max(1.0, abs(want)), (
        f"T={temperature:g}, vocab={vocab}: soft term is {got:.9f}, but T^2 * KL(teacher || "
        f"student) averaged over the {int((labels != IGNORE).sum())} labelled positions is "
        f"{want:.9f}"
    )


@FAST
@given(seed=SEEDS, temperature=TEMPERATURES, **SHAPES)
def test_soft_gradient_is_temperature_times_probability_gap(seed, temperature, batch, seq, vocab):
    student, teacher, labels = _inputs(seed, batch, seq, vocab)
    grad = kd.gradients(student, teacher, labels, _config(temperature), "soft")["student"]
    labelled = (labels != IGNORE).unsqueeze(-1)
    gap = F.softmax(student / temperature, -1) - F.softmax(teacher / temperature, -1)
    want = temperature * gap * labelled / labelled.sum()
    assert grad is not None and grad.shape == student.shape, (
        "no gradient (or a wrongly shaped one) of the soft term w.r.t. the student logits"
    )
    err = float((grad - want).abs().max())
    scale = float(want.abs().max())
    assert err <= 1e-10 * (1.0 + scale), (
        f"T={temperature:g}: d(soft)/d(student logits) should be T * (p_student - p_teacher) / "
        f"n_labelled; it is off by {err:.3e} (largest expected entry {scale:.3e})"
    )


@FAST
@given(seed=SEEDS, temperature=TEMPERATURES, shift=st.floats(-5.0, 5.0), **SHAPES)
def test_soft_term_is_zero_at_the_teacher_and_positive_elsewhere(
    seed, temperature, shift, batch, seq, vocab
):
    student, teacher, labels = _inputs(seed, batch, seq, vocab)
    cfg = _config(temperature)
    at_teacher = float(kd.terms(teacher + shift, teacher, labels, cfg)["soft"])
    grad = kd.gradients(teacher + shift, teacher, labels, cfg, "soft")["student"]
    elsewhere = float(kd.terms(student, teacher, labels, cfg)["soft"])
    assert abs(at_teacher) <= 1e-12, (
        f"T={temperature:g}: student logits equal to the teacher's (shifted by {shift:.3f}) "
        f"give a soft term of {at_teacher:.3e}, expected 0"
    )
    assert grad is not None and float(grad.abs().max()) <= 1e-12, (
        f"T={temperature:g}: at the teacher's logits the soft term's gradient is not zero"
    )
    assert elsewhere > 0.0, (
        f"T={temperature:g}: soft term {elsewhere:.3e} for a student that differs from the "
        f"teacher, expected > 0"
    )


@FAST
@given(seed=SEEDS, temperature=TEMPERATURES, alpha=ALPHAS, **SHAPES)
def test_hard_term_and_mix(seed, temperature, alpha, batch, seq, vocab):
    student, teacher, labels = _inputs(seed, batch, seq, vocab)
    out = kd.terms(student, teacher, labels, _config(temperature, alpha))
    want = F.cross_entropy(student.reshape(-1, vocab), labels.reshape(-1), ignore_index=IGNORE)
    hard, soft, loss = float(out["hard"]), float(out["soft"]), float(out["loss"])
    assert abs(hard - float(want)) <= 1e-10 * max(1.0, float(want)), (
        f"hard term {hard:.10f} differs from F.cross_entropy(ignore_index={IGNORE}) "
        f"{float(want):.10f}"
    )
    mix = alpha * soft + (1.0 - alpha) * hard
    assert abs(loss - mix) <= 1e-12 * max(1.0, abs(mix)), (
        f"alpha={alpha:g}: loss {loss:.12f} is not alpha * soft + (1 - alpha) * hard = {mix:.12f}"
    )


@FAST
@given(seed=SEEDS, temperature=TEMPERATURES, alpha=ALPHAS, **SHAPES)
def test_ignored_positions_do_not_matter(seed, temperature, alpha, batch, seq, vocab):
    student, teacher, labels = _inputs(seed, batch, seq, vocab)
    ignored = (labels == IGNORE).unsqueeze(-1)
    g = torch.Generator().manual_seed(seed + 1)
    noise = 20.0 * torch.randn(student.shape, generator=g, dtype=torch.float64)
    cfg = _config(temperature, alpha)
    base = kd.terms(student, teacher, labels, cfg)
    other = kd.terms(student + noise * ignored, teacher - noise * ignored, labels, cfg)
    for name in ("loss", "soft", "hard"):
        a, b = float(base[name]), float(other[name])
        assert a == b, (
            f"changing the logits at the {int(ignored.sum())} ignored positions changed the "
            f"{name} term from {a:.12f} to {b:.12f}"
        )
    grad = kd.gradients(student, teacher, labels, cfg)["student"]
    leak = float((grad * ignored).abs().max())
    assert leak == 0.0, f"the loss has a gradient of up to {leak:.3e} at ignored positions"


def test_no_labelled_position_gives_zero_loss_and_gradient():
    student, teacher, labels = _inputs(0, 2, 3, 5)
    labels = torch.full_like(labels, IGNORE)
    out = kd.terms(student, teacher, labels, _config(2.0))
    values = {name: float(out[name]) for name in ("loss", "soft", "hard")}
    assert values == {"loss": 0.0, "soft": 0.0, "hard": 0.0}, (
        f"every label is ignore_index, expected all terms 0, got {values}"
    )
    grad = kd.gradients(student, teacher, labels, _config(2.0))["student"]
    assert grad is None or float(grad.abs().max()) == 0.0, (
        "every label is ignore_index, yet the student logits get a nonzero gradient"
    )


@FAST
@given(seed=SEEDS, temperature=TEMPERATURES)
def test_teacher_gets_no_gradient(seed, temperature):
    student, teacher, labels = _inputs(seed, 2, 3, 6)
    grad = kd.gradients(student, teacher, labels, _config(temperature))["teacher"]
    assert grad is None or float(grad.abs().max()) == 0.0, (
        f"T={temperature:g}: the teacher logits received a gradient of up to "
        f"{float(grad.abs().max()):.3e}; they should be treated as constants"
    )
