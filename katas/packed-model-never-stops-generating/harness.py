"""The call the tests make into the packing utilities, in the subject process.

``packed_attention_inputs`` returns a ``PackedInputs`` dataclass, which cannot cross the
boundary; this returns its fields as a dict.  Nothing here checks anything: every check
(and the toy model the tests score documents with) is in the tests.
"""

from __future__ import annotations

import dataclasses

import torch
from packing import packed_attention_inputs


def attention_inputs(input_ids: torch.Tensor, eos_id: int, pad_id: int) -> dict[str, torch.Tensor]:
    """``packed_attention_inputs(input_ids, eos_id, pad_id)`` as a dict of its fields."""
    return dataclasses.asdict(packed_attention_inputs(input_ids, eos_id, pad_id))
