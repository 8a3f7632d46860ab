"""Checks that packed rows train each document as if it were alone."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

packing = candidate("harness")  # packed_attention_inputs, run in the subject process

FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile
SEEDS = st.integers(0, 2**32 - 1)
VOCAB, EOS, PAD, IGNORE = 11, 1, 0, -100


class ToyLM:
    """One attention layer with learned absolute positions, float64: enough to make the
    logits depend on what each position attends to and on its position id."""

    def __init__(self, seed: int, dim: int = 6, max_len: int = 64) -> None:
        g = torch.Generator().manual_seed(seed)

        def w(*shape: int) -> torch.Tensor:
            return torch.randn(*shape, generator=g, dtype=torch.float64)

        self.tok, self.pos = w(VOCAB, dim), w(max_len, dim)
        self.wq, self.wk, self.wv, self.out = w(dim, dim), w(dim, dim), w(dim, dim), w(dim, VOCAB)

    def __call__(self, ids, position_ids, mask) -> torch.Tensor:
        h = self.tok[ids] + self.pos[position_ids]
        q, k, v = h @ self.wq, h @ self.wk, h @ self.wv
        scores = (q @ k.transpose(-1, -2)).masked_fill(~mask, float("-inf"))
        return (torch.softmax(scores, dim=-1) @ v + h) @ self.out

    def alone(self, doc: torch.Tensor) -> torch.Tensor:
        n = len(doc)
        mask = torch.ones(n, n, dtype=torch.bool).tril()
        return self(doc[None], torch.arange(n)[None], mask[None])[0]


def _pack(seed: int, rows: int, seq_len: int, head: bool):
    """Random documents (content tokens 2..VOCAB-1, each + EOS) packed first-fit into rows;
    with ``head``, each row starts with the tail of a document begun in the previous row
    (its last tokens and its EOS).  Returns the rows and, per row, its documents as
    (start, tokens)."""
    g = torch.Generator().manual_seed(seed)
    batch = torch.full((rows, seq_len), PAD)
    docs: list[list[tuple[int, torch.Tensor]]] = []
    for r in range(rows):
        at, row_docs = 0, []
        if head:
            n = int(torch.randint(1, 4, (), generator=g))
            tail = torch.cat([torch.randint(2, VOCAB, (n,), generator=g), torch.tensor([EOS])])
            row_docs.append((0, tail))
            at = n + 1
        while True:
            n = int(torch.randint(1, 5, (), generator=g))
            if at + n + 1 > seq_len:
                break
            tokens = torch.cat([torch.randint(2, VOCAB, (n,), generator=g), torch.tensor([EOS])])
            row_docs.append((at, tokens))
            at += n + 1
        for start, tokens in row_docs:
            batch[r, start : start + len(tokens)] = tokens
        docs.append(row_docs)
    return batch, docs


def _inputs(batch: torch.Tensor) -> dict[str, torch.Tensor]:
    return packing.attention_inputs(batch, EOS, PAD)


@FAST
@given(seed=SEEDS, rows=st.integers(1, 3), seq_len=st.integers(6, 16), head=st.booleans())
def test_each_document_scores_as_if_alone(seed, rows, seq_len, head):
    batch, docs = _pack(seed, rows, seq_len, head)
    got = _inputs(batch)
    model = ToyLM(seed)
    logits = model(batch, got["position_ids"], got["attention_mask"])
    for r, row_docs in enumerate(docs):
        for d, (start, tokens) in enumerate(row_docs):
            want = model.alone(tokens)
            err = float((logits[r, start : start + len(tokens)] - want).abs().max())
            assert err <= 1e-10, (
                f"row {r}, document {d} (positions {start}..{start + len(tokens) - 1} of "
                f"{seq_len}): packed logits differ from the document run alone by {err:.3e}"
            )


@FAST
@given(seed=SEEDS, rows=st.integers(1, 3), seq_len=st.integers(6, 16), head=st.booleans())
def test_labels_are_next_tokens_of_the_same_document(seed, rows, seq_len, head):
    batch, docs = _pack(seed, rows, seq_len, head)
    labels = _inputs(batch)["labels"]
    want = torch.full_like(batch, IGNORE)
    for r, row_docs in enumerate(docs):
        for start, tokens in row_docs:
            want[r, start : start + len(tokens) - 1] = tokens[1:]
    for r in range(rows):
        bad = [i for i in range(seq_len) if int(labels[r, i]) != int(want[r, i])]
        assert not bad, (
            f"row {r}: labels at positions {bad} are {labels[r, bad].tolist()}, expected "
            f"{want[r, bad].tolist()} (next token of the same document); row tokens "
            f"{batch[r].tolist()}"
        )


@FAST
@given(seed=SEEDS, rows=st.integers(1, 3), seq_len=st.integers(6, 16), head=st.booleans())
def test_attention_never_crosses_a_document_boundary(seed, rows, seq_len, head):
    batch, docs = _pack(seed, rows, seq_len, head)
    mask = _inputs(batch)["attention_mask"]
    for r, row_docs in enumerate(docs):
        owner = torch.full((seq_len,), -1)
        for d, (start, tokens) in enumerate(row_docs):
            owner[start : start + len(tokens)] = d
        for i in range(seq_len):
            for j in range(seq_len):
                want = i == j if owner[i] < 0 else bool(owner[j] == owner[i]) and j <= i
                assert bool(mask[r, i, j]) == want, (
                    f"row {r}: attention_mask[{i}, {j}] is {bool(mask[r, i, j])}, expected {want} "
                    f"(position {i} is in document {int(owner[i])}, {j} in {int(owner[j])}, "
                    f"-1 = padding); row tokens {batch[r].tolist()}"
                )


@FAST
@given(seed=SEEDS, seq_len=st.integers(2, 16))
def test_row_without_boundaries_is_plain_causal(seed, seq_len):
    g = torch.Generator().manual_seed(seed)
    batch = torch.randint(2, VOCAB, (2, seq_len), generator=g)
    got = _inputs(batch)
    causal = torch.ones(seq_len, seq_len, dtype=torch.bool).tril().expand(2, -1, -1)
    assert torch.equal(got["attention_mask"], causal), (
        f"a row with no EOS and no padding (one document running past the row) should get a "
        f"plain causal mask of size {seq_len}"
    )
    positions = got["position_ids"]
    assert positions.tolist() == [list(range(seq_len))] * 2, (
        f"a row with no EOS and no padding should get positions 0..{seq_len - 1}, got "
        f"{positions[0].tolist()}"
    )
    assert got["labels"][:, :-1].tolist() == batch[:, 1:].tolist(), (
        "a row with no EOS and no padding: labels should be the next tokens"
    )


@FAST
@given(seed=SEEDS, rows=st.integers(1, 3), seq_len=st.integers(6, 16), head=st.booleans())
def test_padding_is_inert_and_outputs_have_the_promised_types(seed, rows, seq_len, head):
    batch, _ = _pack(seed, rows, seq_len, head)
    got = _inputs(batch)
    pad = batch == PAD
    for name in ("segment_ids", "position_ids", "labels"):
        t = got[name]
        assert t.shape == batch.shape and t.dtype == torch.int64, (
            f"{name} has shape {tuple(t.shape)} and dtype {t.dtype}, expected "
            f"{tuple(batch.shape)} int64"
        )
    mask = got["attention_mask"]
    assert mask.shape == (rows, seq_len, seq_len) and mask.dtype == torch.bool, (
        f"attention_mask has shape {tuple(mask.shape)} and dtype {mask.dtype}, expected "
        f"{(rows, seq_len, seq_len)} bool"
    )
    attended = int((mask & pad[:, None, :] & ~torch.eye(seq_len, dtype=torch.bool)).sum())
    assert attended == 0, f"{attended} (query, key) pairs attend to a padding position"
    assert bool((got["labels"][pad] == IGNORE).all()), "padding positions have labels"
    assert bool((got["position_ids"][pad] == 0).all()), "padding positions have nonzero positions"
