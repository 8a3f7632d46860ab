"""Attention inputs for packed pre-training rows.

The pre-training shards hold rows of ``seq_len`` token ids in which documents are packed
back to back, each terminated by ``eos_id``; the tail of a row that no document filled is
``pad_id``.  A row may start in the middle of a document (the rest of one that did not fit
in the previous row) and may end in the middle of one.  The shards carry no other
boundary information, so ``packed_attention_inputs`` recovers the documents from the EOS
tokens and builds what the model needs to train on each document as if it were alone:

* ``segment_ids`` (batch, seq_len), int64: index of the document each position belongs to
  within its row (0, 1, ...); a document's EOS belongs to that document;
* ``position_ids`` (batch, seq_len), int64: position within the document, restarting at
  0 at every document start (for a row that starts mid-document, at the row start); 0 on
  padding;
* ``attention_mask`` (batch, seq_len, seq_len), bool: ``mask[b, i, j]`` is True when
  position ``i`` may attend to ``j``: ``j <= i`` within the same document; a padding
  position attends only to itself, and nothing attends to padding;
* ``labels`` (batch, seq_len), int64: the next token of the same document (the last token
  before an EOS predicts the EOS), ``ignore_index`` where there is none in this row (an
  EOS, the last position of the row, padding).

Documents never contain ``eos_id`` or ``pad_id`` themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

IGNORE_INDEX = -100


@dataclass
class PackedInputs:
    input_ids: Tensor
    segment_ids: Tensor
    position_ids: Tensor
    attention_mask: Tensor
    labels: Tensor


def _segment_starts(segment_ids: Tensor) -> Tensor:
    """True where a new document starts (always at position 0)."""
    starts = torch.ones_like(segment_ids, dtype=torch.bool)
    starts[:, 1:] = segment_ids[:, 1:] != segment_ids[:, :-1]
    return starts


def _positions(starts: Tensor) -> Tensor:
    """Offset of every position from the most recent document start."""
    index = torch.arange(starts.shape[-1], device=starts.device).expand_as(starts)
    last_start = torch.where(starts, index, torch.zeros_like(index)).cummax(dim=-1).values
    return index - last_start


def packed_attention_inputs(
    input_ids: Tensor, eos_id: int, pad_id: int, ignore_index: int = IGNORE_INDEX
) -> PackedInputs:
    """Segment ids, position ids, block-causal mask and labels for packed rows."""
    if input_ids.ndim != 2:
        raise ValueError(f"expected (batch, seq_len) token ids, got {tuple(input_ids.shape)}")
    input_ids = input_ids.long()
    seq_len = input_ids.shape[1]
    is_pad = input_ids == pad_id
    is_eos = input_ids == eos_id

    segment_ids = torch.cumsum(is_eos.long(), dim=-1)
    position_ids = _positions(_segment_starts(segment_ids)).masked_fill(is_pad, 0)

    same_doc = segment_ids[:, :, None] == segment_ids[:, None, :]
    causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=input_ids.device).tril()
    attention_mask = same_doc & causal & ~is_pad[:, None, :]
    eye = torch.eye(seq_len, dtype=torch.bool, device=input_ids.device)
    attention_mask = attention_mask | (eye & is_pad[:, :, None])

    labels = torch.full_like(input_ids, ignore_index)
    same_next = segment_ids[:, 1:] == segment_ids[:, :-1]
    real_next = ~is_pad[:, 1:] & ~is_pad[:, :-1]
    labels[:, :-1] = torch.where(same_next & real_next, input_ids[:, 1:], ignore_index)
    return PackedInputs(input_ids, segment_ids, position_ids, attention_mask, labels)
