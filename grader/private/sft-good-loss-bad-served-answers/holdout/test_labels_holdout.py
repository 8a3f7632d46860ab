"""Holdout checks of the collated labels (not shown to the candidate): truncation, empty
responses, rows left with no response at all, the count of supervised tokens."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_sft_data import ALPHABET, FAST, IGNORE_INDEX, example_batches, sft


@FAST
@given(examples=example_batches(max_rows=3, min_prompt=0, min_response=0), data=st.data())
def test_truncation_keeps_supervising_what_is_left_of_the_response(examples, data):
    full = sft.collate(ALPHABET, examples)
    lengths = full["attention_mask"].sum(dim=1).tolist()
    max_length = data.draw(st.integers(1, max(lengths)), label="max_length")
    batch = sft.collate(ALPHABET, examples, max_length)
    for i, (prompt, response) in enumerate(examples):
        start = lengths[i] - (len(response) + 1)  # the response and EOS end the full row
        end = min(lengths[i], max_length)
        for t in range(batch["labels"].shape[1]):
            want = int(batch["input_ids"][i, t]) if start <= t < end else IGNORE_INDEX
            assert int(batch["labels"][i, t]) == want, (
                f"max_length={max_length}, row {i} (prompt {prompt!r}, response {response!r}, "
                f"{lengths[i]} tokens before truncation): the label at position {t} is "
                f"{int(batch['labels'][i, t])}, expected {want}"
            )


@FAST
@given(examples=example_batches(max_rows=4, min_response=0))
def test_supervised_tokens_are_the_responses_and_their_eos(examples):
    labels = sft.collate(ALPHABET, examples)["labels"]
    got = int((labels != IGNORE_INDEX).sum())
    want = sum(len(response) + 1 for _, response in examples)
    assert got == want, (
        f"{len(examples)} examples with responses of {[len(r) for _, r in examples]} "
        f"characters: {got} supervised labels, expected {want} (each response and its EOS)"
    )
