"""The calls the tests make into ``calibration`` that need a ``CalibrationMeter``, in the
subject process.

A meter cannot cross the boundary, so each function here builds one, feeds it the batches
the test sends, in order, and returns what it computed.  Nothing here checks anything:
every check and every reference computation is in the tests.
"""

from __future__ import annotations

import numpy as np
import torch
from calibration import CalibrationMeter


def meter_on_confidences(batches: list[tuple[np.ndarray, np.ndarray]], n_bins: int = 15) -> dict:
    """``update_confidences`` on each ``(confidences, correct)`` batch, then ``compute()``
    as ``"ece"`` and ``reliability()`` as ``"reliability"``."""
    meter = CalibrationMeter(n_bins)
    for confidences, correct in batches:
        meter.update_confidences(confidences, correct)
    return {"ece": meter.compute(), "reliability": meter.reliability()}


def meter_on_logits(batches: list[tuple[torch.Tensor, torch.Tensor]], n_bins: int = 15) -> dict:
    """``update`` on each ``(logits, labels)`` batch, then ``compute()`` and ``reliability()``."""
    meter = CalibrationMeter(n_bins)
    for logits, labels in batches:
        meter.update(logits, labels)
    return {"ece": meter.compute(), "reliability": meter.reliability()}
