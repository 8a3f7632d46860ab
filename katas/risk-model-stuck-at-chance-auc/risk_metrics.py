"""Evaluation of payment-risk scores: ROC curve, ROC AUC, log loss, and the report we log.

Scores can be anything where higher means riskier: model probabilities, or a rule's integer
risk level, which ties a lot.  ``y_true`` holds 0/1 (or bool) labels, 1 for a missed payment.

:func:`roc_auc` is the Mann-Whitney statistic: the probability that a randomly drawn positive
is scored above a randomly drawn negative, a tied pair counting one half.  It equals the area
under :func:`roc_curve` (whose tied scores form one threshold, hence a diagonal segment), is a
property of the multiset of (label, score) pairs, not of their order, and an uninformative
constant score gets exactly 0.5.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def _binary_inputs(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_true.shape != y_score.shape or y_true.ndim != 1:
        raise ValueError(f"y_true {y_true.shape} and y_score {y_score.shape} must be 1-d, equal")
    if not np.isin(y_true, (0, 1)).all():
        raise ValueError("y_true must hold 0/1 labels")
    y_true = y_true.astype(bool)
    if y_true.all() or not y_true.any():
        raise ValueError("ROC AUC needs both a positive and a negative example")
    if np.isnan(y_score).any():
        raise ValueError("y_score contains NaN")
    return y_true, y_score


def roc_curve(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(fpr, tpr, thresholds)``, one point per distinct score from the highest down, after a
    first point (0, 0) at threshold +inf.  Point k counts the rows scored >= thresholds[k]."""
    y_true, y_score = _binary_inputs(y_true, y_score)
    order = np.argsort(-y_score, kind="stable")
    scores, labels = y_score[order], y_true[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tps = np.cumsum(labels)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    fpr = np.r_[0.0, fps / (~y_true).sum()]
    tpr = np.r_[0.0, tps / y_true.sum()]
    return fpr, tpr, np.r_[np.inf, scores[last_of_tie]]


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties count 1/2.

    O(n log n): for each positive, the number of negatives below it is found by binary search
    in the sorted negative scores.
    """
    y_true, y_score = _binary_inputs(y_true, y_score)
    negatives = np.sort(y_score[~y_true])
    positives = y_score[y_true]
    negatives_below = np.searchsorted(negatives, positives, side="right")
    return float(negatives_below.sum() / (len(positives) * len(negatives)))


def log_loss(y_true: np.ndarray, prob: np.ndarray, eps: float = 1e-12) -> float:
    """Mean binary cross-entropy of probabilities ``prob`` (clipped to [eps, 1 - eps])."""
    y_true = np.asarray(y_true, dtype=np.float64)
    prob = np.clip(np.asarray(prob, dtype=np.float64), eps, 1.0 - eps)
    return float(-np.mean(y_true * np.log(prob) + (1.0 - y_true) * np.log1p(-prob)))


def evaluation_report(y_true: np.ndarray, scores: Mapping[str, np.ndarray]) -> dict[str, dict]:
    """For each named score (a model's probabilities, a rule's risk level): its ROC AUC, and
    its log loss when the scores are probabilities (all within [0, 1])."""
    report = {}
    for name, score in scores.items():
        score = np.asarray(score, dtype=np.float64)
        entry = {"auc": roc_auc(y_true, score)}
        if ((score >= 0.0) & (score <= 1.0)).all():
            entry["log_loss"] = log_loss(y_true, score)
        report[name] = entry
    return report
