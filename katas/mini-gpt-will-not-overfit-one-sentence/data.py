"""Character-level data for the mini-GPT: a tokenizer and a sampler of training windows.

A corpus is one string.  ``CharTokenizer`` maps each distinct character to an id (ids in
sorted character order), and ``WindowSampler`` cuts random windows out of the encoded
corpus in the layout ``GPT.forward`` expects: inputs ``x`` and next-token targets ``y``
with ``y[b, t] == x[b, t + 1]`` inside the window and ``y[b, T - 1]`` the token right
after it in the corpus.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


class CharTokenizer:
    """Characters <-> ids; the vocabulary is the sorted set of the corpus's characters."""

    def __init__(self, corpus: str) -> None:
        if not corpus:
            raise ValueError("cannot build a vocabulary from an empty corpus")
        self.chars = sorted(set(corpus))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``; raises ``ValueError`` on a character outside the vocabulary."""
        try:
            return [self.stoi[ch] for ch in text]
        except KeyError as exc:
            raise ValueError(f"{exc.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[i] for i in ids)


class WindowSampler:
    """Random ``(x, y)`` training batches of ``block_size`` tokens from one token stream.

    Every window starts at a uniformly drawn offset ``i`` with ``x = tokens[i : i + T]``
    and ``y = tokens[i + 1 : i + T + 1]``, where ``T = min(block_size, len(tokens) - 1)``:
    a corpus shorter than a block (a single sentence, say) gives the whole corpus as one
    window, at offset 0.  Offsets come from the sampler's own generator, so a seeded
    sampler gives the same batches on every run.
    """

    def __init__(self, tokens: Sequence[int], block_size: int, batch_size: int, seed: int = 0):
        if len(tokens) < 2:
            raise ValueError("need at least two tokens to make an (input, target) pair")
        if block_size < 1 or batch_size < 1:
            raise ValueError(f"block_size {block_size} and batch_size {batch_size} must be >= 1")
        self.tokens = torch.as_tensor(tokens, dtype=torch.long)
        self.block_size = min(block_size, len(tokens) - 1)
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def num_windows(self) -> int:
        """How many distinct windows there are (offsets ``0..num_windows - 1``)."""
        return len(self.tokens) - self.block_size

    def window(self, offset: int) -> tuple[Tensor, Tensor]:
        """The ``(x, y)`` pair of the window at ``offset``, each of shape ``(T,)``."""
        chunk = self.tokens[offset : offset + self.block_size + 1]
        return chunk[:-1], chunk[1:]

    def __call__(self) -> tuple[Tensor, Tensor]:
        """A batch: ``x`` and ``y`` of shape ``(batch_size, T)``."""
        offsets = torch.randint(self.num_windows, (self.batch_size,), generator=self.generator)
        pairs = [self.window(int(i)) for i in offsets]
        x = torch.stack([p[0] for p in pairs])
        y = torch.stack([p[1] for p in pairs])
        return x, y
