"""ROC AUC and the evaluation report (risk_metrics.py) against float64 brute force: every
(positive, negative) pair counted, a pair scored higher for the positive counting 1 and a
tied pair counting one half."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

metrics = candidate("risk_metrics")  # plain arrays in, numbers out: called directly

FAST = settings(deadline=None)  # first calls can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)
TOL = 1e-12


def pairwise_auc(y: np.ndarray, s: np.ndarray) -> float:
    """Brute force over all (positive, negative) pairs, float64."""
    pos, neg = s[y == 1].astype(np.float64), s[y == 0].astype(np.float64)
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def labels(rng: np.random.Generator, n: int) -> np.ndarray:
    y = (rng.random(n) < rng.uniform(0.15, 0.85)).astype(np.int64)
    y[:2] = [0, 1]
    return y[rng.permutation(n)]


def risk_levels(seed: int, n: int, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """0/1 labels and integer scores 0..levels-1 that lean towards the label: many ties."""
    rng = np.random.default_rng(seed)
    y = labels(rng, n)
    s = np.clip(np.round(rng.normal(y * levels / 3, levels / 3)), 0, levels - 1)
    return y, s


def tied_pairs(y: np.ndarray, s: np.ndarray) -> float:
    return float((s[y == 1][:, None] == s[y == 0][None, :]).mean())


@FAST
@given(seed=SEEDS, n=st.integers(4, 300), levels=st.integers(2, 6))
def test_auc_matches_the_pairwise_count_with_tied_scores(seed, n, levels):
    y, s = risk_levels(seed, n, levels)
    got, want = metrics.roc_auc(y, s), pairwise_auc(y, s)
    assert abs(got - want) <= TOL, (
        f"{n} rows scored on {levels} levels ({tied_pairs(y, s):.0%} of positive-negative pairs "
        f"tied): roc_auc is {got:.6f}, counting the pairs gives {want:.6f}"
    )


@FAST
@given(seed=SEEDS, n=st.integers(2, 300), value=st.sampled_from([0.0, 0.3, 1.0, 7.0]))
def test_constant_scores_give_one_half(seed, n, value):
    y = labels(np.random.default_rng(seed), n)
    got = metrics.roc_auc(y, np.full(n, value))
    assert abs(got - 0.5) <= TOL, (
        f"{int(y.sum())} positive and {n - int(y.sum())} negative rows, every score {value:g}: "
        f"roc_auc is {got:.6f}, an uninformative score must get 0.5"
    )


@FAST
@given(seed=SEEDS, n=st.integers(4, 300), levels=st.integers(2, 6))
def test_negating_the_scores_gives_one_minus_the_auc(seed, n, levels):
    y, s = risk_levels(seed, n, levels)
    up, down = metrics.roc_auc(y, s), metrics.roc_auc(y, -s)
    assert abs(up + down - 1.0) <= TOL, (
        f"{n} rows on {levels} score levels: roc_auc is {up:.6f} for the scores and "
        f"{down:.6f} for their negation; the two must add up to 1"
    )


@FAST
@given(seed=SEEDS, n=st.integers(2, 300))
def test_auc_matches_the_pairwise_count_without_ties(seed, n):
    rng = np.random.default_rng(seed)
    y = labels(rng, n)
    s = rng.normal(y * rng.uniform(0, 2), 1.0)
    got, want = metrics.roc_auc(y, s), pairwise_auc(y, s)
    assert abs(got - want) <= TOL, f"{n} distinct scores: roc_auc {got:.6f}, pairs {want:.6f}"


@FAST
@given(seed=SEEDS, n=st.integers(4, 300), levels=st.integers(2, 6))
def test_auc_ignores_the_order_of_the_rows(seed, n, levels):
    y, s = risk_levels(seed, n, levels)
    order = np.random.default_rng(seed + 1).permutation(n)
    by_label = np.argsort(-y, kind="stable")
    a, b, c = (metrics.roc_auc(y[o], s[o]) for o in (np.arange(n), order, by_label))
    assert abs(a - b) <= TOL and abs(a - c) <= TOL, (
        f"the same {n} rows give roc_auc {a:.6f} in table order, {b:.6f} shuffled and "
        f"{c:.6f} sorted positives first"
    )


@FAST
@given(seed=SEEDS, n=st.integers(4, 300), levels=st.integers(2, 8))
def test_auc_is_unchanged_by_increasing_transforms(seed, n, levels):
    y, s = risk_levels(seed, n, levels)
    a = metrics.roc_auc(y, s)
    for name, t in (("exp", np.exp(s)), ("3s - 1", 3 * s - 1), ("sigmoid", 1 / (1 + np.exp(-s)))):
        b = metrics.roc_auc(y, t)
        assert abs(a - b) <= TOL, f"roc_auc is {a:.6f} for the scores, {b:.6f} for {name}(scores)"


@FAST
@given(seed=SEEDS, n=st.integers(2, 200), levels=st.integers(2, 8))
def test_roc_curve_steps_from_origin_to_one_one_at_each_distinct_score(seed, n, levels):
    y, s = risk_levels(seed, n, levels)
    fpr, tpr, thresholds = metrics.roc_curve(y, s)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0), (
        f"the curve runs from ({fpr[0]}, {tpr[0]}) to ({fpr[-1]}, {tpr[-1]})"
    )
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0), "the curve goes backwards"
    distinct = np.unique(s)[::-1]
    assert np.array_equal(thresholds[1:], distinct), (
        f"thresholds {thresholds[1:].tolist()} are not the distinct scores {distinct.tolist()}"
    )
    for k, t in enumerate(thresholds[1:], start=1):
        want_tpr = (s[y == 1] >= t).mean()
        want_fpr = (s[y == 0] >= t).mean()
        assert abs(tpr[k] - want_tpr) <= TOL and abs(fpr[k] - want_fpr) <= TOL, (
            f"at threshold {t:g}: ({fpr[k]:.4f}, {tpr[k]:.4f}), expected "
            f"({want_fpr:.4f}, {want_tpr:.4f})"
        )


def test_one_class_only_raises():
    for y in (np.zeros(5, dtype=np.int64), np.ones(5, dtype=np.int64)):
        with pytest.raises(ValueError):
            metrics.roc_auc(y, np.arange(5.0))


@FAST
@given(seed=SEEDS, n=st.integers(4, 200))
def test_report_has_every_scores_auc_and_the_log_loss_of_probabilities(seed, n):
    rng = np.random.default_rng(seed)
    y = labels(rng, n)
    prob = 1 / (1 + np.exp(-rng.normal(y - 0.5, 1.0)))
    level = rng.integers(0, 5, n).astype(np.float64)
    level[0] = 4.0
    report = metrics.evaluation_report(y, {"model": prob, "rule": level})
    assert sorted(report) == ["model", "rule"], f"report has entries {sorted(report)}"
    assert sorted(report["model"]) == ["auc", "log_loss"] and sorted(report["rule"]) == ["auc"], (
        f"model entry {sorted(report['model'])}, rule entry {sorted(report['rule'])}"
    )
    for name, score in (("model", prob), ("rule", level)):
        auc = metrics.roc_auc(y, score)
        assert report[name]["auc"] == auc, f"{name}: report AUC {report[name]['auc']} != {auc}"
    want = -np.mean(y * np.log(prob) + (1 - y) * np.log(1 - prob))
    got = report["model"]["log_loss"]
    assert abs(got - want) <= 1e-12, f"log loss {got:.12f}, expected {want:.12f}"
