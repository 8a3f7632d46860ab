"""The calls the tests make into ``token_sampling`` that need a generator, in the subject
process.

A ``torch.Generator`` cannot cross the boundary: each function here seeds a fresh one with
the seed the test sends and calls :func:`token_sampling.sample` with it.  Nothing here
checks anything: every check, and every reference computation, is in the tests.
``filter_logits`` takes and returns tensors and numbers, so the tests call it directly.
"""

from __future__ import annotations

import token_sampling
import torch
from torch import Tensor


def sample_one(logits: Tensor, top_k: int, top_p: float, temperature: float, seed: int) -> Tensor:
    """``sample(logits, ...)`` with a fresh generator seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return token_sampling.sample(logits, top_k, top_p, temperature, generator=generator)


def sample_many(
    logits: Tensor, n: int, top_k: int, top_p: float, temperature: float, seed: int
) -> Tensor:
    """``n`` draws for every row of ``(batch, vocab)`` logits in one call: ``sample`` of the
    ``(batch, n, vocab)`` tensor that repeats each row ``n`` times; returns ``(batch, n)``."""
    generator = torch.Generator().manual_seed(seed)
    repeated = logits.unsqueeze(1).expand(logits.size(0), n, logits.size(-1))
    return token_sampling.sample(repeated, top_k, top_p, temperature, generator=generator)
