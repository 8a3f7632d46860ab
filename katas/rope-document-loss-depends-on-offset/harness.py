"""The calls the tests make into the rotary attention module, in the subject process.

The tests cannot send a module or an ``AttentionConfig`` across the boundary, so each
function here builds ``RotaryEmbedding`` or ``RotarySelfAttention`` from plain data (its
constructor arguments, a config dict, a state dict of weights the test drew), calls it, and
returns tensors.  Nothing here checks anything: every check, and every reference
computation, is in the tests.
"""

from __future__ import annotations

import torch
from rotary_attention import AttentionConfig, RotaryEmbedding, RotarySelfAttention, apply_rotary
from torch import Tensor


def rotate(
    x: Tensor, positions: Tensor, head_dim: int, base: float = 10000.0, max_seq_len: int = 128
) -> Tensor:
    """``apply_rotary(x, *RotaryEmbedding(head_dim, base, max_seq_len)(positions, x.dtype))``:
    ``x`` (..., T, head_dim) rotated for ``positions`` (T,)."""
    rope = RotaryEmbedding(head_dim, base, max_seq_len)
    cos, sin = rope(positions, x.dtype)
    return apply_rotary(x, cos, sin)


def cos_sin(
    positions: Tensor, head_dim: int, base: float = 10000.0, max_seq_len: int = 128
) -> tuple[Tensor, Tensor]:
    """``RotaryEmbedding(head_dim, base, max_seq_len)(positions, torch.float64)``."""
    return RotaryEmbedding(head_dim, base, max_seq_len)(positions, torch.float64)


def attention(
    config: dict, params: dict[str, Tensor], x: Tensor, positions: Tensor | None = None
) -> Tensor:
    """``RotarySelfAttention(AttentionConfig(**config))`` holding ``params``, in ``x``'s dtype
    and eval mode, applied to ``x`` (with ``positions`` unless None)."""
    layer = RotarySelfAttention(AttentionConfig(**config)).to(x.dtype).eval()
    layer.load_state_dict(params)
    with torch.no_grad():
        if positions is None:
            return layer(x)
        return layer(x, positions)
