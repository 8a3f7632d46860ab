"""Temperature, top-k and top-p (nucleus) sampling for the decoding loop.

The generation loop calls :func:`sample` once per step with the logits of the last
position.  Logits are ``(..., vocab)``: leading dimensions are a batch and every row is
filtered on its own.  The contract callers rely on:

* the filters run in this order: temperature (``logits / temperature``), then top-k, then
  top-p, where top-p looks at the distribution that top-k left, renormalised;
* top-k keeps a token when fewer than ``top_k`` tokens have a strictly larger logit: every
  token tied with the k-th largest is kept, so a row may keep more than ``top_k`` tokens;
  ``top_k = 0`` (or ``top_k >= vocab``) disables it;
* top-p keeps a token when the total probability of the tokens strictly more likely than
  it is below ``top_p``: the smallest set of most likely tokens whose probability reaches
  ``top_p``, plus every token tied with the least likely of them (tied tokens are kept or
  removed together); ``top_p = 1.0`` disables it;
* so at least one token, the most likely (with its ties), is always kept;
* removed tokens get a logit of ``-inf``, and a logit that is already ``-inf`` (a token
  banned upstream) stays ``-inf``; kept tokens keep ``logits / temperature`` up to a
  constant per row, so the softmax of the result is the filtered distribution;
* the result has the shape and dtype of the input; ``temperature > 0``, ``top_k >= 0``
  and ``0 < top_p <= 1``, else ValueError.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

NEG_INF = float("-inf")


def check_params(top_k: int, top_p: float, temperature: float) -> None:
    """Raise ValueError unless the parameters are in the ranges of the module docstring."""
    if not temperature > 0.0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if int(top_k) != top_k or top_k < 0:
        raise ValueError(f"top_k must be a non-negative integer, got {top_k}")
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")


def filter_logits(
    logits: Tensor, top_k: int = 0, top_p: float = 1.0, temperature: float = 1.0
) -> Tensor:
    """Tempered logits of ``(..., vocab)`` rows with the tokens outside the top-k and the
    top-p sets at ``-inf`` (see the module docstring for the exact rules)."""
    raise NotImplementedError


def sample(
    logits: Tensor,
    top_k: int = 0,
    top_p: float = 1.0,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw one token id per row of ``(..., vocab)`` logits from the distribution that
    :func:`filter_logits` leaves; returns int64 ids of shape ``(...)``.

    All randomness comes from ``generator`` (the global generator when None): the same
    generator state gives the same draws.  A removed token is never drawn.
    """
    raise NotImplementedError


def greedy(logits: Tensor) -> Tensor:
    """The most likely token of every row (the lowest id among ties)."""
    return logits.argmax(dim=-1)


@dataclass(frozen=True)
class SamplingParams:
    """Decoding settings as the serving config spells them."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    do_sample: bool = True

    def __post_init__(self) -> None:
        check_params(self.top_k, self.top_p, self.temperature)

    @classmethod
    def from_dict(cls, config: dict) -> SamplingParams:
        known = {k: v for k, v in config.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_dict(self) -> dict:
        return asdict(self)


class Sampler:
    """One decoding run's sampling: fixed params and a private, seeded generator, so a run
    is reproducible whatever else uses the global RNG."""

    def __init__(self, params: SamplingParams, seed: int | None = None) -> None:
        self.params = params
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    def __call__(self, logits: Tensor) -> Tensor:
        p = self.params
        if not p.do_sample:
            return greedy(logits)
        return sample(logits, p.top_k, p.top_p, p.temperature, generator=self.generator)

    def kept_counts(self, logits: Tensor) -> Tensor:
        """How many tokens each row keeps after filtering (for the decoding dashboards)."""
        p = self.params
        filtered = filter_logits(logits, p.top_k, p.top_p, p.temperature)
        return torch.isfinite(filtered).sum(dim=-1)
