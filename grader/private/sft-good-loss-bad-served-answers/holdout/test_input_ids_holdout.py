"""Holdout checks of the collated input ids (not shown to the candidate): the tokenizer's
own default encoding, truncation, empty prompts and responses, other alphabets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from test_sft_data import ALPHABET, BOS, FAST, PAD, example_batches, serving_ids, sft, show


@FAST
@given(examples=example_batches(max_rows=3))
def test_rows_begin_with_the_tokenizers_own_encoding_of_the_prompt(examples):
    input_ids = sft.collate(ALPHABET, examples)["input_ids"]
    for i, (prompt, _) in enumerate(examples):
        served = sft.encode(ALPHABET, prompt)
        want = serving_ids(prompt, "")[:-1]
        assert served == want, (
            f"tokenizer.encode({prompt!r}) with its defaults gives {show(served)}, "
            f"expected {show(want)} (BOS, then the characters): that is how prompts are served"
        )
        row = input_ids[i, : len(served)].tolist()
        assert row == served, (
            f"row {i} begins {show(row)}, but tokenizer.encode({prompt!r}) is {show(served)}"
        )


@FAST
@given(examples=example_batches(max_rows=3, min_prompt=0, min_response=0), data=st.data())
def test_truncated_rows_are_the_first_max_length_tokens(examples, data):
    rows = [serving_ids(p, r) for p, r in examples]
    max_length = data.draw(st.integers(1, max(len(row) for row in rows)), label="max_length")
    batch = sft.collate(ALPHABET, examples, max_length)
    assert batch["input_ids"].shape[1] == min(max_length, max(len(row) for row in rows)), (
        f"max_length={max_length}: the batch is {batch['input_ids'].shape[1]} tokens wide"
    )
    for i, row in enumerate(rows):
        want = row[:max_length]
        got = batch["input_ids"][i].tolist()
        want_padded = want + [PAD] * (len(got) - len(want))
        assert got == want_padded, (
            f"max_length={max_length}: row {i} is {show(got)}, expected the first "
            f"{len(want)} tokens of {show(row)} then padding"
        )


@st.composite
def alphabets(draw) -> str:
    chars = draw(st.lists(st.sampled_from("abcdefghijklmnopqrstuvwxyz :\n.,?"), min_size=3,
                          max_size=12, unique=True))  # fmt: skip
    return "".join(chars)


@FAST
@given(alphabet=alphabets(), data=st.data())
def test_other_alphabets_and_empty_texts(alphabet, data):
    text = st.text(alphabet=alphabet, max_size=6)
    examples = data.draw(st.lists(st.tuples(text, text), min_size=1, max_size=3), label="examples")
    batch = sft.collate(alphabet, examples)
    for i, (prompt, response) in enumerate(examples):
        want = serving_ids(prompt, response, alphabet)
        got = batch["input_ids"][i][batch["attention_mask"][i].bool()].tolist()
        assert got == want and got.count(BOS) == 1, (
            f"alphabet {alphabet!r}: row {i} (prompt {prompt!r}, response {response!r}) is "
            f"{show(got)}, expected {show(want)}"
        )
