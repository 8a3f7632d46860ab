"""Property tests for ROC AUC against a pairwise brute force.

Scores are drawn from a seeded NumPy generator, either continuous (no ties) or rounded to a
few levels, the way rule-based baselines, calibrated buckets and low-precision logits come
out, so that positives and negatives share scores.  The oracle compares every positive with
every negative in float64: 1 if the positive scores higher, 1/2 for a tie, 0 otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.grading.boundary import candidate

metrics = candidate("ranking_metrics")  # the module's functions, called in the subject process


def labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """n 0/1 labels with both classes present."""
    y = (rng.uniform(size=n) < rng.uniform(0.2, 0.8)).astype(np.int64)
    y[rng.choice(n, size=2, replace=False)] = [0, 1]
    return y


@st.composite
def tied_scores(draw, max_n: int = 40):
    """(y, scores): scores on 1 to 5 levels, so positives and negatives share scores."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(4, max_n))
    y = labels(rng, n)
    levels = draw(st.integers(2, 5))
    signal = draw(st.sampled_from([0.0, 0.5, 1.5]))
    scores = np.round((rng.normal(size=n) + signal * y) * levels / 3) / levels
    return y, scores


@st.composite
def distinct_scores(draw, max_n: int = 40):
    """(y, scores): continuous scores, all distinct."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(2, max_n))
    y = labels(rng, n)
    return y, rng.normal(size=n) + draw(st.sampled_from([0.0, 1.0])) * y


def pairwise_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """float64 brute force: P(positive > negative) + P(tie) / 2 over all pairs."""
    pos, neg = scores[y == 1][:, None], scores[y == 0][None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


def n_tied_pairs(y: np.ndarray, scores: np.ndarray) -> int:
    return int((scores[y == 1][:, None] == scores[y == 0][None, :]).sum())


@given(distinct_scores())
def test_matches_pairwise_bruteforce_without_ties(case):
    y, scores = case
    got, want = metrics.roc_auc_score(y, scores), pairwise_auc(y, scores)
    assert abs(got - want) < 1e-12, (
        f"{len(y)} examples, all scores distinct: roc_auc_score = {got:.6f}, pairwise "
        f"comparison gives {want:.6f}"
    )


@given(distinct_scores(), st.sampled_from(["exp", "affine", "cube"]))
def test_invariant_to_increasing_transforms_of_the_scores(case, transform):
    y, scores = case
    moved = {"exp": np.exp(scores), "affine": 3.0 * scores - 7.0, "cube": scores**3}[transform]
    a, b = metrics.roc_auc_score(y, scores), metrics.roc_auc_score(y, moved)
    assert abs(a - b) < 1e-12, f"AUC {a:.6f} became {b:.6f} under the increasing map {transform}"


@given(tied_scores())
def test_roc_curve_is_monotone_from_origin_to_one_one(case):
    y, scores = case
    fpr, tpr, thresholds = metrics.roc_curve(y, scores)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0), (
        f"the ROC curve runs from ({fpr[0]}, {tpr[0]}) to ({fpr[-1]}, {tpr[-1]}), "
        f"expected (0, 0) to (1, 1)"
    )
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0), "the ROC curve goes back"
    assert len(thresholds) == len(np.unique(scores)) + 1, (
        f"{len(thresholds)} thresholds for {len(np.unique(scores))} distinct scores"
    )


def test_one_class_only_raises():
    for present in (0, 1):
        with pytest.raises(ValueError):
            metrics.roc_auc_score(np.full(6, present), np.arange(6.0))


@given(tied_scores())
def test_matches_pairwise_bruteforce_with_ties(case):
    y, scores = case
    got, want = metrics.roc_auc_score(y, scores), pairwise_auc(y, scores)
    assert abs(got - want) < 1e-12, (
        f"{len(y)} examples on {len(np.unique(scores))} distinct scores "
        f"({n_tied_pairs(y, scores)} tied positive-negative pairs): roc_auc_score = "
        f"{got:.6f}, pairwise comparison with ties = 1/2 gives {want:.6f}"
    )


@given(tied_scores(), st.integers(0, 2**32 - 1))
def test_invariant_to_shuffling_the_examples(case, seed):
    y, scores = case
    perm = np.random.default_rng(seed).permutation(len(y))
    a, b = metrics.roc_auc_score(y, scores), metrics.roc_auc_score(y[perm], scores[perm])
    assert abs(a - b) < 1e-12, (
        f"{len(y)} examples on {len(np.unique(scores))} distinct scores: AUC {a:.6f} "
        f"became {b:.6f} when the examples were shuffled"
    )


@given(st.integers(0, 2**32 - 1), st.integers(2, 40), st.floats(-5, 5))
def test_constant_scores_give_one_half(seed, n, value):
    y = labels(np.random.default_rng(seed), n)
    auc = metrics.roc_auc_score(y, np.full(n, value))
    assert abs(auc - 0.5) < 1e-12, (
        f"a constant score for {n} examples ({int(y.sum())} positive) gets AUC {auc:.6f}; "
        f"an uninformative score must get 0.5"
    )
