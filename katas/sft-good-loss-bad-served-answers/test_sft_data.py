"""The tokenizer and the collator (``sft_data.py``) against the contract in their docstrings.

The oracle is the serving encoding written out: BOS, then ``3 + alphabet.index(c)`` for
each character of the prompt and of the response, then EOS.  Examples are drawn by
hypothesis over a small alphabet; rows of a batch always differ in length, so every
batch has padding.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from grader.grading.boundary import candidate

sft = candidate("harness")  # tokenizer and collator, built and run in the subject process

PAD, BOS, EOS = 0, 1, 2  # data.PAD_ID, BOS_ID, EOS_ID
IGNORE_INDEX = -100  # data.IGNORE_INDEX
ALPHABET = "abcdefgh :\n"
FAST = settings(deadline=None)  # first calls into torch can be slow; phases come from the profile


def texts(min_size: int, max_size: int, alphabet: str = ALPHABET) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)


@st.composite
def example_batches(draw, max_rows: int = 4, min_prompt: int = 1, min_response: int = 1):
    """1-``max_rows`` (prompt, response) pairs; with two rows or more the last is longer
    than the first, so the first is padded."""
    rows = draw(st.integers(1, max_rows))
    examples = [(draw(texts(min_prompt, 8)), draw(texts(min_response, 6))) for _ in range(rows)]
    if rows > 1:
        prompt, response = examples[-1]
        longest = max(len(p) + len(r) for p, r in examples)
        examples[-1] = (prompt, response + "a" * (longest + 1 - len(prompt) - len(response)))
    return examples


def serving_ids(prompt: str, response: str, alphabet: str = ALPHABET) -> list[int]:
    """Oracle: the row the collator must produce for ``(prompt, response)``."""
    return [BOS, *(3 + alphabet.index(c) for c in prompt + response), EOS]


def show(ids: list[int], limit: int = 12) -> str:
    return str(ids[:limit])[:-1] + (", ...]" if len(ids) > limit else "]")


# --- tokenizer (pass to pass) ------------------------------------------------------------


@FAST
@given(text=texts(0, 10))
def test_tokenizer_encodes_characters_after_a_bos_and_decodes_back(text):
    ids = sft.encode(ALPHABET, text)
    want = [BOS, *(3 + ALPHABET.index(c) for c in text)]
    assert ids == want, f"encode({text!r}) gave {show(ids)}, expected {show(want)}"
    plain = sft.encode(ALPHABET, text, add_bos=False)
    assert plain == want[1:], f"encode({text!r}, add_bos=False) gave {show(plain)}"
    decoded = sft.decode(ALPHABET, [PAD, *ids, EOS])
    assert decoded == text, f"decode of {text!r}'s ids with PAD/EOS around gave {decoded!r}"


# --- input-ids ---------------------------------------------------------------------------


@FAST
@given(examples=example_batches())
def test_rows_are_the_serving_encoding_of_prompt_then_response(examples):
    batch = sft.collate(ALPHABET, examples)
    input_ids, attention_mask = batch["input_ids"], batch["attention_mask"]
    for i, (prompt, response) in enumerate(examples):
        want = serving_ids(prompt, response)
        got = input_ids[i][attention_mask[i].bool()].tolist()
        assert got == want, (
            f"row {i} (prompt {prompt!r}, response {response!r}) holds {show(got)}; the "
            f"serving encoding of prompt + response + EOS is {show(want)}"
        )


@FAST
@given(examples=example_batches())
def test_each_row_starts_with_a_single_bos(examples):
    input_ids = sft.collate(ALPHABET, examples)["input_ids"]
    for i in range(len(examples)):
        row = input_ids[i].tolist()
        where = [t for t, token in enumerate(row) if token == BOS]
        assert where == [0], (
            f"row {i} has BOS (id {BOS}) at positions {where}; a row starts with exactly "
            f"one BOS, as tokenizer.encode(prompt) does at inference"
        )


# --- labels ------------------------------------------------------------------------------


@FAST
@given(examples=example_batches())
def test_only_the_response_and_eos_are_supervised(examples):
    batch = sft.collate(ALPHABET, examples)
    input_ids, labels = batch["input_ids"], batch["labels"]
    for i, (prompt, response) in enumerate(examples):
        length = int(batch["attention_mask"][i].sum())
        start = length - (len(response) + 1)  # the response and EOS end the row
        for t in range(input_ids.shape[1]):
            want = int(input_ids[i, t]) if start <= t < length else IGNORE_INDEX
            where = "padding" if t >= length else "response" if t >= start else "prompt"
            assert int(labels[i, t]) == want, (
                f"row {i} (prompt {prompt!r}, response {response!r}): the label at position "
                f"{t} ({where}) is {int(labels[i, t])}, expected {want}"
            )


@FAST
@given(examples=example_batches(max_rows=3))
def test_padding_adds_no_targets(examples):
    together = sft.collate(ALPHABET, examples)["labels"]
    for i, example in enumerate(examples):
        alone = sft.collate(ALPHABET, [example])["labels"][0]
        in_batch = int((together[i] != IGNORE_INDEX).sum())
        by_itself = int((alone != IGNORE_INDEX).sum())
        assert in_batch == by_itself, (
            f"row {i} has {by_itself} supervised labels when collated alone but {in_batch} "
            f"in a batch padded to {together.shape[1]} tokens"
        )
