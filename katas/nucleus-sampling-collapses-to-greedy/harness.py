"""The calls the tests make into the sampler that need objects, in the subject process.

``filter_logits`` and ``sample`` take a ``SamplingConfig`` (a dataclass) and ``sample`` a
``torch.Generator``, neither of which can cross the boundary: the functions here build
them from plain data (the config's fields as a dict, the generator's seed), call the
module, and return its tensors.  Nothing here checks anything: every check, and every
reference computation, is in the tests.  ``top_p_filter`` takes and returns tensors, so
the tests call it in ``nucleus_sampling`` directly.
"""

from __future__ import annotations

import nucleus_sampling
import torch
from torch import Tensor


def filter_logits(logits: Tensor, config: dict) -> Tensor:
    """``filter_logits(logits, SamplingConfig(**config))``."""
    return nucleus_sampling.filter_logits(logits, nucleus_sampling.SamplingConfig(**config))


def sample(logits: Tensor, config: dict, seed: int) -> Tensor:
    """``sample(logits, SamplingConfig(**config), generator)`` with a fresh generator
    seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return nucleus_sampling.sample(logits, nucleus_sampling.SamplingConfig(**config), generator)
