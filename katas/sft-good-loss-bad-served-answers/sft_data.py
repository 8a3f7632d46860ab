"""Instruction data for supervised fine-tuning: tokenizer, toy tasks and the collator.

A training row is the prompt followed by the response and EOS, encoded exactly as the
prompt is encoded at inference (``tokenizer.encode(prompt)``, see ``sft_evaluate.py``) so
that the model is fine-tuned on the inputs it will be served.  Only the response and its
EOS are supervised: the loss ignores the prompt and the padding.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
IGNORE_INDEX = -100  # label of a position the loss ignores (torch's cross-entropy default)
ALPHABET = "abcdefghijklmnopqrstuvwxyz :\n"


class CharTokenizer:
    """Character tokenizer with the special tokens of Llama-style vocabularies.

    Ids 0, 1, 2 are PAD, BOS and EOS; ``alphabet[i]`` has id ``3 + i``.  Like a
    sentencepiece tokenizer with ``add_bos=True``, ``encode`` starts the ids with BOS
    unless told otherwise, and never appends EOS.  ``decode`` skips special tokens.
    """

    pad_id, bos_id, eos_id = PAD_ID, BOS_ID, EOS_ID

    def __init__(self, alphabet: str = ALPHABET) -> None:
        if len(set(alphabet)) != len(alphabet):
            raise ValueError("alphabet has repeated characters")
        self.alphabet = alphabet
        self._ids = {char: 3 + i for i, char in enumerate(alphabet)}

    @property
    def vocab_size(self) -> int:
        return 3 + len(self.alphabet)

    def encode(self, text: str, add_bos: bool = True) -> list[int]:
        ids = [self._ids[char] for char in text]
        return [self.bos_id, *ids] if add_bos else ids

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.alphabet[i - 3] for i in ids if i >= 3)


@dataclass(frozen=True)
class Example:
    prompt: str  # already formatted with PROMPT_TEMPLATE
    response: str


PROMPT_TEMPLATE = "{task}: {word}\n"
TASKS = {
    "reverse": lambda word: word[::-1],
    "sort": lambda word: "".join(sorted(word)),
    "double": lambda word: "".join(char * 2 for char in word),
}


def make_examples(n: int, seed: int, letters: str = "abcdefgh") -> list[Example]:
    """``n`` random examples of the toy tasks on words of 1-8 letters."""
    rng = random.Random(seed)
    examples = []
    for _ in range(n):
        task = rng.choice(sorted(TASKS))
        word = "".join(rng.choice(letters) for _ in range(rng.randint(1, 8)))
        examples.append(Example(PROMPT_TEMPLATE.format(task=task, word=word), TASKS[task](word)))
    return examples


@dataclass
class Batch:
    """A right-padded batch; every tensor is ``(batch, seq)`` int64.

    ``labels`` are aligned with ``input_ids`` (the loss shifts them): the token itself
    at the response and EOS positions, ``IGNORE_INDEX`` at the prompt and the padding.
    ``attention_mask`` is 1 on real tokens and 0 on padding.
    """

    input_ids: Tensor
    labels: Tensor
    attention_mask: Tensor

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def split(self, size: int) -> list[Batch]:
        """Consecutive micro-batches of at most ``size`` rows (padding kept as is)."""
        parts = (t.split(size) for t in (self.input_ids, self.labels, self.attention_mask))
        return [Batch(*tensors) for tensors in zip(*parts, strict=True)]


class SFTCollator:
    """Turns examples into a ``Batch``, padded on the right to its longest row.

    A row is ``tokenizer.encode(prompt) + tokenizer.encode(response, add_bos=False) +
    [EOS]``, cut to its first ``max_length`` tokens when it is longer.
    """

    def __init__(self, tokenizer: CharTokenizer, max_length: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length

    def encode(self, example: Example) -> tuple[list[int], int]:
        """The row's token ids, and how many of them belong to the prompt."""
        prompt = [self.tokenizer.bos_id, *self.tokenizer.encode(example.prompt)]
        response = self.tokenizer.encode(example.response, add_bos=False)
        ids = [*prompt, *response, self.tokenizer.eos_id]
        if self.max_length is not None:
            ids = ids[: self.max_length]
        return ids, min(len(prompt), len(ids))

    def __call__(self, examples: Sequence[Example]) -> Batch:
        rows = [self.encode(example) for example in examples]
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), width), self.tokenizer.pad_id, dtype=torch.long)
        supervised = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, (ids, num_prompt) in enumerate(rows):
            input_ids[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            supervised[i, num_prompt : len(ids)] = True
        labels = input_ids.clone()
        labels.masked_fill(~supervised, IGNORE_INDEX)
        attention_mask = (input_ids != self.tokenizer.pad_id).long()
        return Batch(input_ids, labels, attention_mask)
