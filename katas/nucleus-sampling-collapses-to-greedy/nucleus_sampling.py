"""Logit filtering and sampling for autoregressive decoding.

The generation loop calls :func:`sample` once per step with the logits of the last
position, shape ``(batch, vocab)``.  Filters are applied in the usual order:
temperature, then top-k, then nucleus (top-p) filtering (Holtzman et al., 2020,
"The Curious Case of Neural Text Degeneration").  Filtered tokens get a logit of
``-inf``, so the softmax gives them exactly zero probability.

``top_k_filter`` and ``top_p_filter`` take ``(..., vocab)`` logits of any floating
dtype and return a tensor of the same shape and dtype in which each kept logit is
unchanged and every other one is ``-inf``.  Rows are filtered independently, and logits
of any magnitude are fine: a row's probabilities, and so what is kept, do not change when
a constant is added to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

FILTER_VALUE = float("-inf")


@dataclass(frozen=True)
class SamplingConfig:
    """Decoding hyper-parameters; ``top_k=0`` and ``top_p=1.0`` disable those filters."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    min_tokens_to_keep: int = 1

    def __post_init__(self) -> None:
        if self.temperature <= 0.0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.min_tokens_to_keep < 1:
            raise ValueError(f"min_tokens_to_keep must be >= 1, got {self.min_tokens_to_keep}")


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Sharpen (``temperature < 1``) or flatten (``temperature > 1``) the distribution."""
    return logits / temperature


def top_k_filter(logits: torch.Tensor, top_k: int, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Keep the ``top_k`` largest logits of each row (ties at the k-th value are kept)."""
    if top_k <= 0:
        return logits
    k = min(max(top_k, min_tokens_to_keep), logits.size(-1))
    kth_largest = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_largest, FILTER_VALUE)


def top_p_filter(logits: torch.Tensor, top_p: float, min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Nucleus filtering over the last dimension.

    Keeps, in each row, the smallest set of most likely tokens whose total probability
    is at least ``top_p`` (and never fewer than ``min_tokens_to_keep`` tokens); every
    other logit is set to ``-inf``.  Leading dimensions are treated as a batch.

    Probabilities are the softmax of the row, so logits that are already ``-inf`` (from
    top-k) count as zero and stay removed, and the most likely token is always kept.
    Tokens of equal probability are interchangeable: when a tie straddles the cut, the
    kept set still has the size of the smallest such set, and which of the tied tokens
    make it in is unspecified.  ``top_p=1.0`` keeps the whole row.
    """
    if top_p >= 1.0:
        return logits
    sorted_logits, sorted_indices = torch.sort(logits, dim=-1, descending=True)
    cumulative_probs = sorted_logits.softmax(dim=-1).cumsum(dim=-1)

    sorted_to_remove = cumulative_probs > top_p
    sorted_to_remove[..., :min_tokens_to_keep] = False

    # Undo the sort: position sorted_indices[j] receives the decision made for rank j.
    to_remove = sorted_to_remove.scatter(-1, sorted_indices, sorted_to_remove)
    return logits.masked_fill(to_remove, FILTER_VALUE)


def filter_logits(logits: torch.Tensor, config: SamplingConfig) -> torch.Tensor:
    """Apply temperature, top-k and top-p (in that order) to ``(..., vocab)`` logits."""
    logits = apply_temperature(logits, config.temperature)
    logits = top_k_filter(logits, config.top_k, config.min_tokens_to_keep)
    return top_p_filter(logits, config.top_p, config.min_tokens_to_keep)


def sample(
    logits: torch.Tensor,
    config: SamplingConfig,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token id per row of ``(batch, vocab)`` logits; returns ``(batch,)`` int64."""
    if logits.dim() != 2:
        raise ValueError(f"expected (batch, vocab) logits, got shape {tuple(logits.shape)}")
    probs = filter_logits(logits, config).softmax(dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)


class Sampler:
    """Stateful wrapper used by the generation loop: one config, one reproducible RNG."""

    def __init__(self, config: SamplingConfig, seed: int | None = None) -> None:
        self.config = config
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        return sample(logits, self.config, self.generator)
