"""Multi-head attention for the encoder-decoder stack, with causal and key-padding masks.

Semantics follow ``torch.nn.MultiheadAttention(batch_first=True)`` and
``torch.nn.functional.scaled_dot_product_attention``, so that checkpoints and masks move
between this module and PyTorch's without surprises:

* inputs are ``(batch, seq, d_model)``; the query length may differ from the key length
  (cross-attention), the key and value lengths are equal;
* each head attends with scores ``q . k / sqrt(head_dim)`` and a softmax over the keys it
  may attend to;
* ``key_padding_mask`` is a bool ``(batch, kv_len)`` tensor, ``True`` at padding keys: no
  query attends to them;
* ``causal=True`` lets query ``i`` attend only to keys ``j <= i`` (top-left aligned, as
  ``scaled_dot_product_attention(..., is_causal=True)``), combined with the padding mask;
* a query that may attend to no key at all (every key is padding, or every key it may
  see under the causal mask is) gets all-zero attention weights and a zero attended value,
  so its output is ``out_proj.bias`` (zeros without bias).  It is never NaN, in the
  forward or the backward pass (``nn.MultiheadAttention`` returns NaN there);
* no dropout; the output has the dtype and device of the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class AttentionConfig:
    """Width and number of heads; ``bias`` adds biases to all four projections."""

    d_model: int
    n_heads: int
    bias: bool = True

    def __post_init__(self) -> None:
        if self.d_model < 1 or self.n_heads < 1:
            raise ValueError(f"d_model and n_heads must be positive, got {self}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, allowed: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Attention of ``q`` ``(..., q_len, d)`` over ``k`` ``(..., kv_len, d)`` and ``v``
    ``(..., kv_len, d_v)``; leading dimensions (batch, heads) are a batch.

    ``allowed`` is a bool tensor broadcastable to ``(..., q_len, kv_len)``, ``True`` where
    query ``i`` may attend to key ``j``; ``None`` allows every pair.

    Returns ``(out, weights)``: ``weights`` ``(..., q_len, kv_len)`` is the softmax of
    ``q . k / sqrt(d)`` over the allowed keys of each query and exactly 0 on the others,
    and ``out = weights @ v`` ``(..., q_len, d_v)``.  A query with no allowed key gets
    all-zero weights and a zero output, never NaN (gradients included).
    """
    raise NotImplementedError


class MultiHeadAttention(nn.Module):
    """Multi-head attention with separate query, key, value and output projections."""

    def __init__(self, config: AttentionConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.q_proj = nn.Linear(d, d, bias=config.bias)
        self.k_proj = nn.Linear(d, d, bias=config.bias)
        self.v_proj = nn.Linear(d, d, bias=config.bias)
        self.out_proj = nn.Linear(d, d, bias=config.bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform projections and zero biases, as ``nn.MultiheadAttention``."""
        for proj in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            nn.init.xavier_uniform_(proj.weight)
            if proj.bias is not None:
                nn.init.zeros_(proj.bias)

    def _check_inputs(
        self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None
    ) -> None:
        """Raise ValueError unless the shapes follow the module docstring."""
        d = self.config.d_model
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.dim() != 3 or x.size(-1) != d:
                raise ValueError(f"{name}: expected (batch, seq, {d}), got {tuple(x.shape)}")
        if key.shape != value.shape or key.size(0) != query.size(0):
            raise ValueError(
                f"query {tuple(query.shape)}, key {tuple(key.shape)} and value "
                f"{tuple(value.shape)} do not agree"
            )
        mask = key_padding_mask
        if mask is not None and (mask.dtype != torch.bool or mask.shape != key.shape[:2]):
            raise ValueError(
                f"key_padding_mask: expected a bool tensor of shape {tuple(key.shape[:2])}, "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        *,
        key_padding_mask: Tensor | None = None,
        causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` ``(batch, q_len, d_model)`` to ``key``/``value``
        ``(batch, kv_len, d_model)`` (pass the same tensor three times for self-attention).

        Projects the inputs, splits ``d_model`` into ``n_heads`` heads of ``head_dim``
        (head ``h`` owns features ``h * head_dim`` to ``(h + 1) * head_dim - 1``), attends
        per head with the masks of the module docstring, concatenates the heads in that
        order and applies ``out_proj``.  Raises ValueError on shapes that do not agree
        (see ``_check_inputs``).

        Returns ``(output, weights)``: ``output`` ``(batch, q_len, d_model)`` and, when
        ``need_weights``, the attention weights of every head ``(batch, n_heads, q_len,
        kv_len)`` (else None).
        """
        raise NotImplementedError

    def extra_repr(self) -> str:
        c = self.config
        return f"d_model={c.d_model}, n_heads={c.n_heads}, head_dim={c.head_dim}, bias={c.bias}"


def attention_flops(batch: int, q_len: int, kv_len: int, config: AttentionConfig) -> int:
    """Multiply-adds of one forward pass (projections, scores, weighted sum), for logging."""
    d = config.d_model
    projections = batch * (2 * q_len + 2 * kv_len) * d * d
    return projections + 2 * batch * q_len * kv_len * d
