"""The calls the tests make into the penalties that need a config, in the subject process.

``apply_penalties`` takes a ``PenaltyConfig`` (a dataclass), which cannot cross the
boundary: the function here builds it from a dict of its fields and returns the module's
tensor.  Nothing here checks anything: every check is in the tests.  The other functions
take and return tensors, so the tests call them in ``penalties`` directly.
"""

from __future__ import annotations

from penalties import PenaltyConfig
from penalties import apply_penalties as _apply_penalties
from torch import Tensor


def apply_penalties(logits: Tensor, context: Tensor, config: dict) -> Tensor:
    """``apply_penalties(logits, context, PenaltyConfig(**config))``."""
    return _apply_penalties(logits, context, PenaltyConfig(**config))
