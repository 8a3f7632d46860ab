"""The calls the tests make into the batched decoder, in the subject process.

The tests cannot send a model or an ``LMConfig`` across the boundary, so each function here
builds ``TinyLM(LMConfig(**config))`` in float64 and eval mode, loads the state dict of
weights the test drew, calls the module, and returns plain data.  Nothing here checks
anything: every check, and every reference computation, is in the tests.  ``left_pad``
takes and returns plain data, so the tests call it in ``batched_generation`` directly.
"""

from __future__ import annotations

import torch
from batched_generation import LMConfig, TinyLM
from batched_generation import generate as _generate
from torch import Tensor


def _model(config: dict, params: dict[str, Tensor]) -> TinyLM:
    model = TinyLM(LMConfig(**config)).double().eval()
    model.load_state_dict(params)
    return model


def generate(
    config: dict, params: dict[str, Tensor], prompts: list[list[int]], max_new_tokens: int
) -> list[list[int]]:
    """``generate(model, prompts, max_new_tokens)``."""
    return _generate(_model(config, params), prompts, max_new_tokens)


def forward(
    config: dict, params: dict[str, Tensor], tokens: Tensor, positions: Tensor, mask: Tensor
) -> Tensor:
    """``model(tokens, positions, mask)``: logits (B, T, vocab)."""
    with torch.no_grad():
        return _model(config, params)(tokens, positions, mask)
