"""Ranking metrics for the binary and multi-class evaluation reports.

NumPy only, so the eval workers do not need scikit-learn; names and conventions follow
``sklearn.metrics`` so the numbers can be compared across reports:

* labels are ``0``/``1`` (or booleans) for the binary functions, class indices for
  :func:`one_vs_rest_auc`; scores are any real numbers, larger meaning "more positive";
* :func:`roc_auc_score` is the probability that a randomly drawn positive example scores
  higher than a randomly drawn negative one, a tie counting one half (the Mann-Whitney U
  statistic divided by ``n_pos * n_neg``).  It equals the trapezoidal area under
  :func:`roc_curve`, so it does not depend on the order of the examples, and an
  uninformative constant score gets exactly 0.5;
* a metric that is undefined because one class is absent raises ``ValueError``.
"""

from __future__ import annotations

import numpy as np


def _binary_inputs(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_true.shape != y_score.shape or y_true.ndim != 1:
        raise ValueError(
            f"expected two 1-d arrays of one length, got {y_true.shape}, {y_score.shape}"
        )
    if not np.isin(y_true, (0, 1)).all():
        raise ValueError("binary labels must be 0/1 or booleans")
    y_true = y_true.astype(bool)
    if y_true.all() or not y_true.any():
        raise ValueError("ROC AUC is undefined when only one class is present")
    return y_true, y_score


def roc_curve(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct score used as a threshold.

    Returns ``(fpr, tpr, thresholds)``: the point ``i`` classifies ``y_score >=
    thresholds[i]`` as positive; the curve starts at ``(0, 0)`` with threshold ``+inf`` and
    ends at ``(1, 1)``.  Examples with equal scores enter the curve together, as one
    diagonal segment.
    """
    y_true, y_score = _binary_inputs(y_true, y_score)
    order = np.argsort(-y_score, kind="stable")
    sorted_scores, sorted_true = y_score[order], y_true[order]
    last_of_each_score = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(sorted_scores) - 1]
    tps = np.cumsum(sorted_true)[last_of_each_score]
    fps = last_of_each_score + 1 - tps
    fpr = np.r_[0.0, fps / fps[-1]]
    tpr = np.r_[0.0, tps / tps[-1]]
    return fpr, tpr, np.r_[np.inf, sorted_scores[last_of_each_score]]


def roc_auc_score(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve, from the rank-sum (Mann-Whitney) form: O(n log n)."""
    y_true, y_score = _binary_inputs(y_true, y_score)
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    ranks = np.empty(len(y_score), dtype=np.float64)
    ranks[np.argsort(y_score, kind="stable")] = np.arange(1, len(y_score) + 1)
    u_statistic = ranks[y_true].sum() - n_pos * (n_pos + 1) / 2
    return float(u_statistic / (n_pos * n_neg))


def one_vs_rest_auc(y_true: np.ndarray, y_score: np.ndarray, average: str = "macro") -> float:
    """Multi-class AUC: each class against all others, from ``(n, n_classes)`` scores.

    ``average="macro"`` is the plain mean over classes, ``"weighted"`` weights each class by
    its number of examples.  Every class must occur in ``y_true``.
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_score.ndim != 2 or y_score.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"expected (n, n_classes) scores for {y_true.shape[0]} labels, got {y_score.shape}"
        )
    n_classes = y_score.shape[1]
    per_class = np.array([roc_auc_score(y_true == c, y_score[:, c]) for c in range(n_classes)])
    if average == "macro":
        return float(per_class.mean())
    if average == "weighted":
        support = np.bincount(y_true, minlength=n_classes)
        return float((per_class * support).sum() / support.sum())
    raise ValueError(f"unknown average {average!r}")
