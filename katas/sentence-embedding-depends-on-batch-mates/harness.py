"""The calls the tests make into ``sentence_embedding``, in the subject process.

An encoder cannot cross the boundary, so each function here builds one from plain data (its
config as a dict and a seed: the default initialisation under ``torch.manual_seed(seed)``,
then every parameter moved by ``0.2 * randn`` in float64, so that biases and norm gains are
not at their initial values, as in a trained model), in float64 unless told otherwise, runs
it on the token ids and masks the test sends, and returns tensors.  Nothing here checks
anything.
"""

from __future__ import annotations

import torch
from sentence_embedding import (
    EncoderConfig,
    SentenceEncoder,
    cosine_similarity_matrix,
    embed,
    mean_pool,
)


def _encoder(config: dict, seed: int, dtype: torch.dtype) -> SentenceEncoder:
    torch.manual_seed(seed)
    encoder = SentenceEncoder(EncoderConfig(**config)).double().eval()
    with torch.no_grad():
        for p in encoder.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return encoder.to(dtype)


def encode(
    config: dict,
    seed: int,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    dtype: torch.dtype = torch.float64,
) -> dict[str, torch.Tensor]:
    """``hidden``: the encoder's final hidden states; ``pooled``: ``mean_pool`` of them;
    ``embedding``: ``embed(encoder, input_ids, attention_mask)``."""
    encoder = _encoder(config, seed, dtype)
    with torch.no_grad():
        hidden = encoder(input_ids, attention_mask)
        return {
            "hidden": hidden,
            "pooled": mean_pool(hidden, attention_mask),
            "embedding": embed(encoder, input_ids, attention_mask),
        }


def similarity(
    config: dict,
    seed: int,
    queries: tuple[torch.Tensor, torch.Tensor],
    documents: tuple[torch.Tensor, torch.Tensor],
) -> torch.Tensor:
    """Cosine similarities between the embeddings of two batches, each ``(input_ids, mask)``."""
    encoder = _encoder(config, seed, torch.float64)
    return cosine_similarity_matrix(embed(encoder, *queries), embed(encoder, *documents))
