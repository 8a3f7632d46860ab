"""Property tests for reliability bins and the expected calibration error.

Confidences are drawn from a seeded NumPy generator over part of [0, 1], with a
calibration gap that changes sign along the confidence axis (as after temperature scaling),
and split into eval batches at random points.  The oracle bins every confidence in float64
by the documented rule, b / M <= c < (b + 1) / M with 1.0 in the last bin; random examples
with a confidence within 1e-9 of an inner edge are skipped (there the bin is decided by
rounding), and the edge tests use bin counts whose edges k / M are exact in binary.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

calibration = candidate("calibration")  # the module's functions, called in the subject process
meters = candidate("harness")  # CalibrationMeter fed batch by batch in the subject process

EDGE = 1e-9


def oracle_bins(confidences: np.ndarray, n_bins: int) -> np.ndarray:
    return np.minimum(np.floor(confidences * n_bins), n_bins - 1).astype(np.int64)


def oracle_reliability(confidences: np.ndarray, correct: np.ndarray, n_bins: int) -> dict:
    """float64 brute force: per-bin counts, mean confidence and accuracy (NaN if empty)."""
    bins = oracle_bins(confidences, n_bins)
    counts = np.array([(bins == b).sum() for b in range(n_bins)], dtype=np.float64)
    confidence = np.array(
        [confidences[bins == b].mean() if c else np.nan for b, c in enumerate(counts)]
    )
    accuracy = np.array([correct[bins == b].mean() if c else np.nan for b, c in enumerate(counts)])
    return {"counts": counts, "confidence": confidence, "accuracy": accuracy}


def oracle_ece(confidences: np.ndarray, correct: np.ndarray, n_bins: int) -> float:
    r = oracle_reliability(confidences, correct.astype(np.float64), n_bins)
    filled = r["counts"] > 0
    weights = r["counts"][filled] / len(confidences)
    return float((weights * np.abs(r["accuracy"][filled] - r["confidence"][filled])).sum())


def off_the_edges(confidences: np.ndarray, n_bins: int) -> bool:
    scaled = confidences * n_bins
    inner = (scaled > 0.5) & (scaled < n_bins - 0.5)
    return bool(np.all(np.abs(scaled[inner] - np.round(scaled[inner])) > EDGE * n_bins))


@st.composite
def eval_sets(draw, max_n: int = 200):
    """(confidences, correct, n_bins): confidences over [lo, hi] inside [0, 1], correctness
    drawn from a confidence-dependent accuracy that is over- and under-confident in turn."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(20, max_n))
    lo, hi = draw(st.floats(0.0, 0.5)), draw(st.floats(0.6, 1.0))
    confidences = rng.uniform(lo, hi, size=n)
    wiggle = draw(st.floats(0.05, 0.25)) * np.sin(draw(st.floats(1.0, 4.0)) * np.pi * confidences)
    correct = rng.uniform(size=n) < np.clip(confidences + wiggle, 0.0, 1.0)
    n_bins = draw(st.sampled_from([5, 10, 15, 20]))
    assume(off_the_edges(confidences, n_bins))
    return confidences, correct, n_bins


def random_split(rng: np.random.Generator, n: int, max_batches: int = 8) -> list[slice]:
    cuts = np.sort(
        rng.choice(
            np.arange(1, n), size=min(n - 1, int(rng.integers(1, max_batches))), replace=False
        )
    )
    bounds = np.r_[0, cuts, n]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def batches_of(confidences, correct, split):
    return [(confidences[s], correct[s]) for s in split]


@given(eval_sets())
def test_ece_matches_the_float64_definition(case):
    confidences, correct, n_bins = case
    got = calibration.expected_calibration_error(confidences, correct, n_bins)
    want = oracle_ece(confidences, correct, n_bins)
    assert abs(got - want) < 1e-12, (
        f"{len(confidences)} samples, confidences in [{confidences.min():.3f}, "
        f"{confidences.max():.3f}], {n_bins} bins over [0, 1]: ECE = {got:.6f}, the definition "
        f"gives {want:.6f}"
    )


@given(eval_sets())
def test_reliability_bins_match_the_definition(case):
    confidences, correct, n_bins = case
    got = meters.meter_on_confidences([(confidences, correct)], n_bins)["reliability"]
    want = oracle_reliability(confidences, correct.astype(np.float64), n_bins)
    for key in ("counts", "confidence", "accuracy"):
        same = np.allclose(got[key], want[key], rtol=0, atol=1e-12, equal_nan=True)
        assert same, (
            f"{n_bins} bins over [0, 1], confidences in [{confidences.min():.3f}, "
            f"{confidences.max():.3f}]: reliability()['{key}'] is "
            f"{np.round(got[key], 3).tolist()}, expected {np.round(want[key], 3).tolist()}"
        )
    assert np.allclose(got["edges"], np.linspace(0, 1, n_bins + 1)), "edges are not 0..1"


@given(eval_sets(), st.integers(0, 2**32 - 1))
def test_ece_does_not_depend_on_how_the_eval_set_is_batched(case, seed):
    confidences, correct, n_bins = case
    split = random_split(np.random.default_rng(seed), len(confidences))
    whole = meters.meter_on_confidences([(confidences, correct)], n_bins)["ece"]
    batched = meters.meter_on_confidences(batches_of(confidences, correct, split), n_bins)["ece"]
    assert abs(whole - batched) < 1e-12, (
        f"{len(confidences)} samples, {n_bins} bins: ECE {whole:.6f} in one batch but "
        f"{batched:.6f} in {len(split)} batches of sizes {[int(s.stop - s.start) for s in split]}"
    )


@given(st.integers(0, 2**32 - 1), st.sampled_from([2, 4, 8, 16]))
def test_confidence_on_a_bin_edge_belongs_to_the_upper_bin(seed, n_bins):
    rng = np.random.default_rng(seed)
    n = 40
    confidences = rng.integers(1, n_bins + 1, size=n) / n_bins  # inner edges and 1.0, exact
    correct = rng.uniform(size=n) < 0.6
    got = meters.meter_on_confidences([(confidences, correct)], n_bins)["reliability"]["counts"]
    want = oracle_reliability(confidences, correct.astype(np.float64), n_bins)["counts"]
    assert np.array_equal(got, want), (
        f"confidences k/{n_bins} sit on bin edges: bin counts {got.astype(int).tolist()}, "
        f"expected {want.astype(int).tolist()} (b/M <= c < (b+1)/M, and 1.0 in the last bin)"
    )


@given(st.integers(0, 2**32 - 1), st.sampled_from([5, 10, 15]))
def test_calibrated_groups_give_zero_ece(seed, n_bins):
    rng = np.random.default_rng(seed)
    confidences, correct = [], []
    for tenths in rng.choice(np.arange(1, 10), size=4, replace=False):
        k = int(rng.integers(1, 6))
        confidences += [tenths / 10] * 10 * k
        correct += [True] * int(tenths) * k + [False] * int(10 - tenths) * k
    confidences, correct = np.array(confidences), np.array(correct)
    ece = calibration.expected_calibration_error(confidences, correct, n_bins)
    assert abs(ece) < 1e-12, (
        f"every group of equal confidence c has accuracy exactly c, yet ECE = {ece:.3e}"
    )


@given(eval_sets())
def test_ece_lies_in_zero_one(case):
    confidences, correct, n_bins = case
    ece = calibration.expected_calibration_error(confidences, correct, n_bins)
    assert 0.0 <= ece <= 1.0, f"ECE = {ece:.6f} is outside [0, 1]"
    perfect = calibration.expected_calibration_error(np.ones(10), np.ones(10, dtype=bool), n_bins)
    assert perfect == 0.0, f"ten correct predictions at confidence 1.0 give ECE {perfect:.3e}"


@given(st.integers(0, 2**32 - 1), st.integers(2, 6), st.sampled_from([10, 15]))
def test_logits_give_the_same_bins_as_their_confidences(seed, n_classes, n_bins):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(60, n_classes, generator=gen, dtype=torch.float64) * 2
    labels = torch.randint(0, n_classes, (60,), generator=gen)
    confidences, predictions = logits.softmax(-1).max(-1)
    correct = (predictions == labels).numpy()
    batches = [(logits[:25], labels[:25]), (logits[25:], labels[25:])]
    a = meters.meter_on_logits(batches, n_bins)
    b = meters.meter_on_confidences(
        [(confidences[:25].numpy(), correct[:25]), (confidences[25:].numpy(), correct[25:])], n_bins
    )
    assert abs(a["ece"] - b["ece"]) < 1e-12, (
        f"update(logits, labels) gives ECE {a['ece']:.6f}, update_confidences on the softmax "
        f"confidences of the same logits gives {b['ece']:.6f}"
    )


def test_no_samples_raises():
    with pytest.raises(ValueError):
        meters.meter_on_confidences([], 15)
