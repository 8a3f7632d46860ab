"""Holdout properties: saturated confidences, one sample per batch, logits against the
definition, a single bin, and bin counts the visible tests do not use."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from test_calibration import eval_sets, off_the_edges, oracle_ece, oracle_reliability

from grader.grading.boundary import candidate

calibration = candidate("calibration")
meters = candidate("harness")


@given(eval_sets(max_n=120), st.floats(0.1, 0.6))
def test_saturated_confidences_stay_in_the_last_bin(case, share):
    confidences, correct, n_bins = case
    rng = np.random.default_rng(len(confidences))
    confidences = np.where(rng.uniform(size=len(confidences)) < share, 1.0, confidences)
    got = meters.meter_on_confidences([(confidences, correct)], n_bins)
    want = oracle_reliability(confidences, correct.astype(np.float64), n_bins)["counts"]
    assert np.array_equal(got["reliability"]["counts"], want), (
        f"{int((confidences == 1.0).sum())} of {len(confidences)} confidences are exactly 1.0: "
        f"bin counts {got['reliability']['counts'].astype(int).tolist()}, expected "
        f"{want.astype(int).tolist()}"
    )
    ece = oracle_ece(confidences, correct, n_bins)
    assert abs(got["ece"] - ece) < 1e-12, f"ECE {got['ece']:.6f}, expected {ece:.6f}"


@given(eval_sets(max_n=60))
def test_one_sample_per_batch(case):
    confidences, correct, n_bins = case
    singles = [(confidences[i : i + 1], correct[i : i + 1]) for i in range(len(confidences))]
    got = meters.meter_on_confidences(singles, n_bins)["ece"]
    want = oracle_ece(confidences, correct, n_bins)
    assert abs(got - want) < 1e-12, (
        f"{len(confidences)} samples fed one at a time: ECE {got:.6f}, the definition gives "
        f"{want:.6f}"
    )


@given(st.integers(0, 2**32 - 1), st.integers(2, 10), st.sampled_from([7, 10, 15]))
def test_logits_meter_matches_the_definition(seed, n_classes, n_bins):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(90, n_classes, generator=gen, dtype=torch.float64) * 3
    labels = torch.randint(0, n_classes, (90,), generator=gen)
    confidences, predictions = logits.softmax(-1).max(-1)
    confidences = confidences.numpy()
    assume(off_the_edges(confidences, n_bins))
    correct = (predictions == labels).numpy()
    batches = [(logits[i : i + 16], labels[i : i + 16]) for i in range(0, 90, 16)]
    got = meters.meter_on_logits(batches, n_bins)["ece"]
    want = oracle_ece(confidences, correct, n_bins)
    assert abs(got - want) < 1e-12, (
        f"{n_classes} classes, 90 samples in batches of 16: ECE {got:.6f}, the definition "
        f"gives {want:.6f}"
    )


@given(eval_sets())
def test_a_single_bin_gives_the_overall_gap(case):
    confidences, correct, _ = case
    ece = calibration.expected_calibration_error(confidences, correct, 1)
    gap = abs(float(correct.mean()) - float(confidences.mean()))
    assert abs(ece - gap) < 1e-12, (
        f"with one bin ECE is {ece:.6f}, |accuracy - confidence| is {gap:.6f}"
    )


@given(eval_sets(), st.integers(2, 40), st.integers(0, 2**32 - 1))
def test_other_bin_counts(case, n_bins, seed):
    confidences, correct, _ = case
    assume(off_the_edges(confidences, n_bins))
    split = np.array_split(np.random.default_rng(seed).permutation(len(confidences)), 3)
    got = meters.meter_on_confidences([(confidences[s], correct[s]) for s in split], n_bins)
    want = oracle_ece(confidences, correct, n_bins)
    assert abs(got["ece"] - want) < 1e-12, (
        f"{n_bins} bins, three shuffled batches: ECE {got['ece']:.6f}, the definition gives "
        f"{want:.6f}"
    )
