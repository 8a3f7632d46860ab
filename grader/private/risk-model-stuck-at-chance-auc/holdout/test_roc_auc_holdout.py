"""Holdout checks of ROC AUC (never shown to the candidate): the area under roc_curve,
rare positives on a few levels, saturated probabilities, bool labels, float32 scores."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from test_risk_metrics import FAST, SEEDS, TOL, metrics, pairwise_auc, risk_levels


@FAST
@given(seed=SEEDS, n=st.integers(4, 400), levels=st.integers(2, 5))
def test_auc_is_the_area_under_the_roc_curve(seed, n, levels):
    y, s = risk_levels(seed, n, levels)
    fpr, tpr, _ = metrics.roc_curve(y, s)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    got = metrics.roc_auc(y, s)
    assert abs(got - area) <= 1e-12, f"roc_auc {got:.6f}, area under roc_curve {area:.6f}"


@FAST
@given(seed=SEEDS, n=st.integers(200, 2000), rate=st.sampled_from([0.01, 0.05]))
def test_rare_positives_on_few_levels(seed, n, rate):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(np.int64)
    y[:2] = [0, 1]
    s = rng.poisson(0.3 + y).astype(np.float64)
    got, want = metrics.roc_auc(y, s), pairwise_auc(y, s)
    assert abs(got - want) <= TOL, f"{int(y.sum())} positives in {n}: {got:.6f} vs {want:.6f}"


@FAST
@given(seed=SEEDS, n=st.integers(4, 300))
def test_saturated_probabilities_bool_labels_float32_scores(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    y[:2] = [False, True]
    p = 1 / (1 + np.exp(-rng.normal(4 * y - 2, 3.0)))
    p[rng.random(n) < 0.3] = 1.0
    p[rng.random(n) < 0.2] = 0.0
    p = p.astype(np.float32)
    got, want = metrics.roc_auc(y, p), pairwise_auc(y.astype(np.int64), p)
    assert abs(got - want) <= TOL, (
        f"bool labels, float32 probabilities with ties at 0 and 1: {got:.6f} vs {want:.6f}"
    )


@FAST
@given(seed=SEEDS, n=st.integers(4, 300), levels=st.integers(2, 6))
def test_nearly_equal_scores_are_ranked_not_tied(seed, n, levels):
    y, s = risk_levels(seed, n, levels)
    a = metrics.roc_auc(y, s)
    # a confident model's float64 probabilities: distinct, but within 1e-9 of 1 or of 0
    for name, z in (("near 1", 16.0 + 3.0 * s), ("near 0", 3.0 * s - 16.0 - 3.0 * levels)):
        p = 1 / (1 + np.exp(-z))
        got, want = metrics.roc_auc(y, p), pairwise_auc(y, p)
        assert abs(got - want) <= TOL and abs(got - a) <= TOL, (
            f"probabilities {name} (sigmoid of logits {z.min():g}..{z.max():g}), distinct for "
            f"distinct scores: roc_auc {got:.6f}, counting the pairs gives {want:.6f}, and the "
            f"scores themselves get {a:.6f}"
        )
