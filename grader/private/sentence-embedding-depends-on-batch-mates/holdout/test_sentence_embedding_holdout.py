"""Holdout properties for sentence_embedding, never shown to the candidate: they catch fixes tuned
to the visible tests (other shapes, extreme values, a permuted batch, ...).
TODO (kata new placeholder): properties the reference fix passes and decoys fail.
"""

from __future__ import annotations

from hypothesis import given
from test_sentence_embedding import inputs

from grader.grading.boundary import candidate

sentence_embedding = candidate("sentence_embedding")


@given(x=inputs(max_rows=16, max_cols=64))
def test_rows_are_transformed_independently(x):
    batched = sentence_embedding.transform(x)
    for i in range(x.size(0)):
        err = (sentence_embedding.transform(x[i : i + 1])[0] - batched[i]).abs().max().item()
        assert err < 1e-9, f"row {i} changes by {err:.3e} when transformed on its own"
