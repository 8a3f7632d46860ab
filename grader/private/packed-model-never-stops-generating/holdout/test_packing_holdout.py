"""Holdout checks for the packed attention inputs (not shown to the candidate)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_packing import EOS, IGNORE, PAD, VOCAB, ToyLM, _inputs, _pack

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)


@FAST
@given(seed=SEEDS, rows=st.integers(1, 4), seq_len=st.integers(24, 48), head=st.booleans())
def test_segment_and_position_ids_follow_the_documents(seed, rows, seq_len, head):
    batch, docs = _pack(seed, rows, seq_len, head)
    got = _inputs(batch)
    for r, row_docs in enumerate(docs):
        for d, (start, tokens) in enumerate(row_docs):
            span = slice(start, start + len(tokens))
            segments = got["segment_ids"][r, span].tolist()
            assert segments == [d] * len(tokens), (
                f"row {r}: document {d} (with its EOS) has segment ids {segments}"
            )
            positions = got["position_ids"][r, span].tolist()
            assert positions == list(range(len(tokens))), (
                f"row {r}: document {d} has position ids {positions}, expected 0..{len(tokens) - 1}"
            )


@FAST
@given(seed=SEEDS, rows=st.integers(1, 3), seq_len=st.integers(24, 40))
def test_rows_filled_to_the_last_token(seed, rows, seq_len):
    batch, docs = _pack(seed, rows, seq_len, head=True)
    for r, row_docs in enumerate(docs):  # close the row with one more document, no padding
        start = row_docs[-1][0] + len(row_docs[-1][1])
        if start < seq_len:
            tokens = torch.full((seq_len - start,), 5)
            tokens[-1] = EOS
            batch[r, start:] = tokens
            row_docs.append((start, tokens))
    assert not bool((batch == PAD).any())
    got = _inputs(batch)
    model = ToyLM(seed + 3, max_len=64)
    logits = model(batch, got["position_ids"], got["attention_mask"])
    for r, row_docs in enumerate(docs):
        for d, (start, tokens) in enumerate(row_docs):
            err = float((logits[r, start : start + len(tokens)] - model.alone(tokens)).abs().max())
            assert err <= 1e-10, (
                f"row {r} filled to the last token: document {d} differs from the document run "
                f"alone by {err:.3e}"
            )


@FAST
@given(seed=SEEDS, seq_len=st.integers(8, 24), head=st.booleans())
def test_the_last_position_of_a_row_never_has_a_label(seed, seq_len, head):
    """Rows that end without padding: one document running across the row (no EOS), one
    document whose EOS is the row's last token, and packed documents followed by a document
    cut off at the row's end.  The last position never has a next token in its row."""
    g = torch.Generator().manual_seed(seed)
    packed, docs = _pack(seed, 1, seq_len, head)
    cut = int((packed[0] != PAD).sum())
    packed[0, cut:] = torch.randint(2, VOCAB, (seq_len - cut,), generator=g)
    running = torch.randint(2, VOCAB, (seq_len,), generator=g)
    ending = torch.randint(2, VOCAB, (seq_len,), generator=g)
    ending[-1] = EOS
    batch = torch.stack([running, ending, packed[0]])
    spans = [[(0, running)], [(0, ending)], [*docs[0], (cut, packed[0, cut:])]]
    labels = _inputs(batch)["labels"]
    for r, row_spans in enumerate(spans):
        want = torch.full((seq_len,), IGNORE)
        for start, tokens in row_spans:
            want[start : start + len(tokens) - 1] = tokens[1:]
        bad = [i for i in range(seq_len) if int(labels[r, i]) != int(want[i])]
        assert not bad, (
            f"row {r} (no padding, tokens {batch[r].tolist()}): labels at positions {bad} are "
            f"{labels[r, bad].tolist()}, expected {want[bad].tolist()}"
        )
