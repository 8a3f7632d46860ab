"""Every shipped kata is a fair exercise: validated, sealed, sized, unmarked.

Validation of the whole catalogue runs once per session in a pool of warm workers
(see grader.authoring.validate); each kata then gets its own test so a report names it.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from grader.authoring.validate import KataValidation, validate
from grader.catalogue.katas import TOPICS, load_catalogue
from grader.catalogue.pristine import current_blobs, kata_files, read_seal

ROOT = Path(__file__).resolve().parent.parent
KATAS = load_catalogue(ROOT)
BY_ID = {kata.id: kata for kata in KATAS}
GIVEAWAY = re.compile(r"\b(BUG|FIXME|TODO|XXX|HACK|wrong|intentional|off-by-one|should be)\b", re.I)


@pytest.fixture(scope="session")
def validations() -> dict[str, KataValidation]:
    return {result.kata_id: result for result in validate(KATAS, repeat=2)}


def test_the_catalogue_covers_every_topic():
    assert len(KATAS) >= 12, f"only {len(KATAS)} katas"
    missing = set(TOPICS) - {kata.topic for kata in KATAS}
    assert not missing, f"no kata for topics {sorted(missing)}"


@pytest.mark.parametrize("kata_id", sorted(BY_ID))
def test_kata_is_valid(kata_id, validations):
    result = validations[kata_id]
    failed = [f"{check.name}: {check.detail}" for check in result.checks if not check.ok]
    assert not failed, "\n".join(failed)
    assert result.notes == [], result.notes
    assert result.reference_lines is not None and result.reference_lines >= 1
    assert len(result.decoys_caught_by) >= 2


@pytest.mark.parametrize("kata_id", sorted(BY_ID))
def test_kata_is_sealed_as_shipped(kata_id):
    kata = BY_ID[kata_id]
    seal = read_seal(kata)
    assert seal is not None, f"run `kata seal {kata_id}`"
    files = kata_files(kata)
    assert sorted(seal) == files, "files added or removed since sealing: `kata seal` again"
    changed = [name for name, blob in current_blobs(kata, files).items() if seal[name] != blob]
    assert not changed, f"{changed} changed since sealing: validate, then `kata seal {kata_id}`"


def _code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not inside a docstring."""
    lines: set[int] = set()
    previous = tokenize.NEWLINE
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        is_docstring = token.type == tokenize.STRING and previous in (
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
        )
        if (
            token.type
            not in (
                tokenize.COMMENT,
                tokenize.NL,
                tokenize.NEWLINE,
                tokenize.INDENT,
                tokenize.DEDENT,
                tokenize.ENDMARKER,
            )
            and not is_docstring
        ):
            lines.update(range(token.start[0], token.end[0] + 1))
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            previous = token.type
    return len(lines)


@pytest.mark.parametrize("kata_id", sorted(BY_ID))
def test_module_is_realistic_in_size_and_unmarked(kata_id):
    kata = BY_ID[kata_id]
    for name in kata.files:
        source = (kata.path / name).read_text()
        size = _code_lines(source)
        assert 40 <= size <= 150, f"{name}: {size} lines of code, the bar is 40-150"
        comments = [
            token.string
            for token in tokenize.generate_tokens(io.StringIO(source).readline)
            if token.type == tokenize.COMMENT and GIVEAWAY.search(token.string)
        ]
        assert not comments, f"{name}: comments that give the bug away: {comments}"
