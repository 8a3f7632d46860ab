"""Calibration metrics for the classifier eval loop: reliability bins and the expected
calibration error (ECE) of Guo et al. (2017), "On Calibration of Modern Neural Networks".

A sample's *confidence* is the largest softmax probability and it is *correct* when that
class is the label.  Confidences are grouped into ``n_bins`` equal-width bins over
``[0, 1]``: bin ``b`` holds the confidences ``c`` with ``b / n_bins <= c < (b + 1) / n_bins``,
and the last bin also holds ``c == 1`` (a confidence on an inner edge belongs to the upper
bin).  With ``n_b`` samples in bin ``b`` out of ``N``,

    ECE = sum_b (n_b / N) * |accuracy_b - mean_confidence_b|,

summed over non-empty bins.  :class:`CalibrationMeter` accumulates the bin statistics over
the eval batches, so its result is the ECE of the whole eval set, whatever the batching.
"""

from __future__ import annotations

import numpy as np
import torch


def bin_statistics(
    confidences: np.ndarray, correct: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin ``(counts, sum of confidences, number correct)``, each of shape ``(n_bins,)``."""
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if confidences.shape != correct.shape or confidences.ndim != 1:
        raise ValueError(
            f"expected two 1-d arrays of one length, got {confidences.shape}, {correct.shape}"
        )
    if ((confidences < 0) | (confidences > 1)).any():
        raise ValueError("confidences must lie in [0, 1]")
    counts, _ = np.histogram(confidences, bins=n_bins)
    confidence_sums, _ = np.histogram(confidences, bins=n_bins, weights=confidences)
    correct_sums, _ = np.histogram(confidences, bins=n_bins, weights=correct)
    return counts.astype(np.float64), confidence_sums, correct_sums


def calibration_error(
    counts: np.ndarray, confidence_sums: np.ndarray, correct_sums: np.ndarray
) -> float:
    """ECE from per-bin statistics (see the module docstring)."""
    total = counts.sum()
    if total == 0:
        raise ValueError("no samples")
    filled = counts > 0
    gaps = np.abs(correct_sums[filled] - confidence_sums[filled]) / counts[filled]
    return float((counts[filled] / total * gaps).sum())


def expected_calibration_error(
    confidences: np.ndarray, correct: np.ndarray, n_bins: int = 15
) -> float:
    """ECE of one set of predictions, given each sample's confidence and correctness."""
    return calibration_error(*bin_statistics(confidences, correct, n_bins))


class CalibrationMeter:
    """Accumulates reliability-bin statistics over eval batches.

    Call :meth:`update` (logits and labels) or :meth:`update_confidences` once per batch,
    then :meth:`compute` for the ECE and :meth:`reliability` for the diagram.
    """

    def __init__(self, n_bins: int = 15) -> None:
        if n_bins < 1:
            raise ValueError(f"n_bins must be positive, got {n_bins}")
        self.n_bins = n_bins
        self.reset()

    def reset(self) -> None:
        self.counts = np.zeros(self.n_bins)
        self.confidence_sums = np.zeros(self.n_bins)
        self.correct_sums = np.zeros(self.n_bins)

    @torch.no_grad()
    def update(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """Add a batch of ``(batch, n_classes)`` logits and ``(batch,)`` integer labels."""
        probs = logits.detach().to(torch.float64).softmax(dim=-1)
        confidences, predictions = probs.max(dim=-1)
        correct = predictions == labels
        self.update_confidences(confidences.cpu().numpy(), correct.cpu().numpy())

    def update_confidences(self, confidences: np.ndarray, correct: np.ndarray) -> None:
        """Add a batch of per-sample confidences in ``[0, 1]`` and correctness flags."""
        counts, confidence_sums, correct_sums = bin_statistics(confidences, correct, self.n_bins)
        self.counts += counts
        self.confidence_sums += confidence_sums
        self.correct_sums += correct_sums

    def compute(self) -> float:
        """ECE over everything added since the last :meth:`reset`."""
        return calibration_error(self.counts, self.confidence_sums, self.correct_sums)

    def reliability(self) -> dict[str, np.ndarray]:
        """Per-bin ``counts``, mean ``confidence`` and ``accuracy`` (NaN for empty bins), and
        the bin ``edges`` (``n_bins + 1`` values from 0 to 1), for a reliability diagram."""
        with np.errstate(invalid="ignore", divide="ignore"):
            confidence = np.where(self.counts > 0, self.confidence_sums / self.counts, np.nan)
            accuracy = np.where(self.counts > 0, self.correct_sums / self.counts, np.nan)
        edges = np.linspace(0.0, 1.0, self.n_bins + 1)
        return {
            "counts": self.counts.copy(),
            "confidence": confidence,
            "accuracy": accuracy,
            "edges": edges,
        }
