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


def test_the_catalogue_covers_every_topic_at_every_level():
    assert len(KATAS) >= 28, f"only {len(KATAS)} katas"
    per_topic = {topic: sum(kata.topic == topic for kata in KATAS) for topic in TOPICS}
    thin = {topic: n for topic, n in per_topic.items() if n < 4}
    assert not thin, f"topics with fewer than four katas: {thin}"
    level_3 = sum(kata.difficulty == 3 for kata in KATAS)
    assert 3 * level_3 >= len(KATAS), f"{level_3} of {len(KATAS)} katas at level 3"


@pytest.mark.parametrize("kata_id", sorted(BY_ID))
def test_kata_is_valid(kata_id, validations):
    result = validations[kata_id]
    failed = [f"{check.name}: {check.detail}" for check in result.checks if not check.ok]
    assert not failed, "\n".join(failed)
    assert result.notes == [], result.notes
    assert result.reference_lines is not None and result.reference_lines >= 1
    assert len(result.decoys_caught_by) >= 3
    assert len(result.alternatives_passed) >= 1 and all(result.alternatives_passed.values())


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


@pytest.fixture(scope="module")
def grading_sandbox():
    from grader.grading.sandbox import Sandbox

    return Sandbox()


def _attempt_repo(tmp_path: Path, kata_id: str) -> Path:
    """A cohort-like repository holding this kata as shipped, with `kata start` done."""
    import shutil

    from kata_factory import git

    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "katas" / kata_id, repo / "katas" / kata_id)
    shutil.copytree(ROOT / "grader" / "private" / kata_id, repo / "grader" / "private" / kata_id)
    for cache in repo.rglob("__pycache__"):
        shutil.rmtree(cache)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "template", when=1_700_000_000)
    git(repo, "checkout", "-qb", "attempt")
    git(
        repo,
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        f"Start\n\nKata-Start: {kata_id}",
        when=1_700_000_060,
    )
    return repo


@pytest.mark.parametrize("kata_id", sorted(BY_ID))
def test_kata_grade_ranks_the_reference_fix_green_and_the_shipped_bug_red(
    kata_id, tmp_path, grading_sandbox
):
    """The path CI takes: `kata grade` on the reference fix committed after `kata start`."""
    from kata_factory import git

    from grader.catalogue import patches
    from grader.grading.gitdata import Repo
    from grader.grading.grade import grade

    repo = _attempt_repo(tmp_path, kata_id)
    (buggy,) = grade(Repo(repo), "main", "HEAD", [kata_id], sandbox=grading_sandbox)["katas"]
    assert buggy["status"] == "red", buggy["message"]
    applied = patches.apply(
        repo / "grader/private" / kata_id / "reference.patch", repo / "katas" / kata_id
    )
    assert applied.returncode == 0, applied.stderr
    git(repo, "commit", "-qam", "Fix", when=1_700_000_660)
    report = grade(Repo(repo), "main", "HEAD", None, sandbox=grading_sandbox)
    (fixed,) = report["katas"]
    failing = [
        f"{t['name']}: {t['message'][:200]}" for t in fixed["tests"] if t["status"] != "pass"
    ]
    assert (fixed["status"], failing) == ("green", []), fixed["message"]
    assert fixed["ranked"], fixed["unranked_reasons"]
    assert fixed["time_to_green_s"] == 600
    assert fixed["diff"]["total"] == fixed["diff"]["reference_total"]
