"""Holdout properties: one-vs-rest averages, reversed scores, a large eval set on three
levels, boolean labels, and agreement with the trapezoid under the brute-force ROC curve."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from test_ranking_metrics import labels, n_tied_pairs, pairwise_auc, tied_scores

from grader.grading.boundary import candidate

metrics = candidate("ranking_metrics")


@st.composite
def multiclass(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_classes = draw(st.integers(3, 5))
    n = draw(st.integers(2 * n_classes, 40))
    y = np.concatenate([np.arange(n_classes), rng.integers(n_classes, size=n - n_classes)])
    y = y[rng.permutation(n)]
    scores = np.round(rng.normal(size=(n, n_classes)) + np.eye(n_classes)[y], 1)
    return y, scores


@given(multiclass(), st.sampled_from(["macro", "weighted"]))
def test_one_vs_rest_matches_per_class_bruteforce(case, average):
    y, scores = case
    n_classes = scores.shape[1]
    per_class = np.array(
        [pairwise_auc((y == c).astype(int), scores[:, c]) for c in range(n_classes)]
    )
    weights = np.bincount(y, minlength=n_classes) if average == "weighted" else np.ones(n_classes)
    want = float((per_class * weights).sum() / weights.sum())
    got = metrics.one_vs_rest_auc(y, scores, average=average)
    assert abs(got - want) < 1e-12, (
        f"{len(y)} examples, {n_classes} classes, scores rounded to 0.1: one_vs_rest_auc "
        f"({average}) = {got:.6f}, per-class pairwise comparison gives {want:.6f}"
    )


@given(tied_scores())
def test_reversed_scores_give_one_minus_the_auc(case):
    y, scores = case
    a, b = metrics.roc_auc_score(y, scores), metrics.roc_auc_score(y, -scores)
    assert abs(a + b - 1.0) < 1e-12, (
        f"AUC(scores) = {a:.6f} and AUC(-scores) = {b:.6f} sum to {a + b:.6f}, not 1"
    )


@given(st.integers(0, 2**32 - 1))
def test_large_eval_set_on_three_levels(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    y = labels(rng, n)
    scores = rng.integers(0, 3, size=n) + (rng.uniform(size=n) < 0.3) * y
    got, want = metrics.roc_auc_score(y, scores.astype(np.float64)), pairwise_auc(y, scores)
    assert abs(got - want) < 1e-9, (
        f"{n} examples scored 0..3: roc_auc_score = {got:.6f}, pairwise gives {want:.6f}"
    )


@given(tied_scores())
def test_boolean_labels_and_float32_scores(case):
    y, scores = case
    scores32 = scores.astype(np.float32)
    got = metrics.roc_auc_score(y.astype(bool), scores32)
    want = pairwise_auc(y, scores32.astype(np.float64))
    assert abs(got - want) < 1e-12, (
        f"boolean labels, float32 scores: roc_auc_score = {got:.6f}, pairwise gives {want:.6f}"
    )


def trapezoid_under_roc(y: np.ndarray, scores: np.ndarray) -> float:
    """float64 brute force: the ROC point at every distinct threshold, then trapezoids."""
    thresholds = np.r_[np.inf, np.unique(scores)[::-1]]
    tpr = np.array([(scores[y == 1] >= t).mean() for t in thresholds])
    fpr = np.array([(scores[y == 0] >= t).mean() for t in thresholds])
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


@given(tied_scores())
def test_equals_the_area_under_the_roc_curve(case):
    y, scores = case
    got, want = metrics.roc_auc_score(y, scores), trapezoid_under_roc(y, scores)
    assert abs(got - want) < 1e-12, (
        f"roc_auc_score = {got:.6f}, the trapezoidal area under the ROC curve is {want:.6f}"
    )


@given(st.integers(0, 2**32 - 1), st.integers(4, 40), st.sampled_from(["saturated", "jittered"]))
def test_nearly_equal_scores_are_not_ties(seed, n, kind):
    """Only exactly equal scores tie: 0.9999990 against 0.9999995 is a win, not one half."""
    rng = np.random.default_rng(seed)
    y = labels(rng, n)
    if kind == "saturated":  # probabilities of a confident model, 1e-8 to 1e-5 below 1
        scores = 1.0 - 10.0 ** -rng.uniform(5, 8, size=n) * (1 + y)
    else:  # a few levels, most scores 1e-9 to 8e-9 off their level, some exactly on it
        scores = rng.integers(0, 3, size=n) + rng.integers(0, 4, size=n) * 1e-9 * (1 + y)
    got, want = metrics.roc_auc_score(y, scores), pairwise_auc(y, scores)
    assert abs(got - want) < 1e-12, (
        f"{len(y)} {kind} scores ({len(np.unique(scores))} distinct, {n_tied_pairs(y, scores)} "
        f"exactly tied pairs): roc_auc_score = {got:.6f}, pairwise gives {want:.6f}; scores "
        f"that differ, however little, are not ties"
    )
