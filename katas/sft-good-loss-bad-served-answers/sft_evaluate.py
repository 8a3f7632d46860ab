"""Evaluation on the serving path: prompts are encoded as the inference server encodes
them, ``tokenizer.encode(prompt)``, and the model continues from there.

``response_nll`` scores a reference response under the model (teacher forcing, mean
negative log-likelihood per token of ``response + EOS``); ``generate`` decodes greedily
until EOS; ``evaluate_examples`` reports both over a list of examples.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from sft_data import CharTokenizer, Example
from torch import Tensor, nn


def _logits(model: nn.Module, ids: Sequence[int]) -> Tensor:
    """Logits ``(len(ids), vocab)`` of one unpadded row."""
    return model(torch.tensor([list(ids)], dtype=torch.long))[0]


@torch.no_grad()
def response_nll(model: nn.Module, tokenizer: CharTokenizer, prompt: str, response: str) -> float:
    """Mean negative log-likelihood per token of ``response`` and EOS after ``prompt``."""
    model.eval()
    context = tokenizer.encode(prompt)
    target = [*tokenizer.encode(response, add_bos=False), tokenizer.eos_id]
    logits = _logits(model, context + target[:-1])
    log_probs = logits[len(context) - 1 :].double().log_softmax(dim=-1)
    picked = log_probs.gather(-1, torch.tensor(target)[:, None])
    return float(-picked.mean())


@torch.no_grad()
def generate(
    model: nn.Module, tokenizer: CharTokenizer, prompt: str, max_new_tokens: int = 24
) -> str:
    """Greedy continuation of ``prompt``, stopped at EOS, decoded without special tokens."""
    model.eval()
    ids = tokenizer.encode(prompt)
    max_len = getattr(getattr(model, "cfg", None), "max_seq_len", None)
    new: list[int] = []
    for _ in range(max_new_tokens):
        if max_len is not None and len(ids) >= max_len:
            break
        next_id = int(_logits(model, ids)[-1].argmax())
        if next_id == tokenizer.eos_id:
            break
        ids.append(next_id)
        new.append(next_id)
    return tokenizer.decode(new)


def evaluate_examples(
    model: nn.Module, tokenizer: CharTokenizer, examples: Sequence[Example]
) -> dict[str, float | str]:
    """Serving-path metrics over ``examples``: ``response_nll`` per target token (each
    example weighted by its ``len(response) + 1`` tokens, like the training loss), the
    exact-match rate of greedy answers, and the first example's prompt and answer."""
    total_nll, total_tokens, matches = 0.0, 0, 0
    for example in examples:
        num_tokens = len(example.response) + 1
        total_nll += num_tokens * response_nll(model, tokenizer, example.prompt, example.response)
        total_tokens += num_tokens
        matches += generate(model, tokenizer, example.prompt) == example.response
    return {
        "response_nll": total_nll / total_tokens,
        "exact_match": matches / len(examples),
        "sample": examples[0].prompt + generate(model, tokenizer, examples[0].prompt),
    }
