"""Build small, torch-free kata repositories in temporary folders for the tests."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}

BUGGY_MODULE = '''\
"""Summary statistics."""


def mean(values: list[float]) -> float:
    """Arithmetic mean of a non-empty list."""
    return sum(values) / (len(values) - 1)


def spread(values: list[float]) -> float:
    return max(values) - min(values)
'''

VISIBLE_TESTS = """\
import math

from grader.grading.boundary import candidate

stats = candidate("{module}")


def test_mean_of_four():
    got = stats.mean([1.0, 2.0, 3.0, 6.0])
    assert math.isclose(got, 3.0), f"mean of [1, 2, 3, 6] is 3, got {{got}}"


def test_spread():
    assert stats.spread([1.0, 4.0]) == 3.0, "spread of [1, 4] is 3"
"""

HOLDOUT_TESTS = """\
from grader.grading.boundary import candidate

stats = candidate("{module}")


def test_mean_of_other_lengths():
    for n in (1, 2, 3, 5, 8):
        got = stats.mean([2.0] * n)
        assert got == 2.0, f"mean of {{n}} twos is 2, got {{got}}"
"""

KATA_TOML = """\
id = "{kata_id}"
title = "Averages come out a little too large"
topic = "metrics"
difficulty = 1
budget_minutes = 5
files = ["{module}.py"]
hint_count = 1

[tests]
fail_to_pass = ["test_{module}.py::test_mean_of_four"]
pass_to_pass = ["test_{module}.py::test_spread"]
"""


def patch_text(kind: str, module: str, source: str, old: str, new: str) -> str:
    import difflib

    after = source.replace(old, new)
    diff = difflib.unified_diff(
        source.splitlines(keepends=True),
        after.splitlines(keepends=True),
        f"a/{module}.py",
        f"b/{module}.py",
    )
    return f"{kind}: replaces one line.\n\n" + "".join(diff)


REFERENCE = "    return sum(values) / len(values)"
LIBRARY_MEAN = (
    "    import statistics; return statistics.fmean(values)"  # correct, written differently
)
TUNED_DECOY = "    return sum(values) / 4"  # passes the visible test, not the holdout
WRONG_DECOY = "    return sum(values) / (len(values) + 1)"
HALVED_DECOY = "    return sum(values) / len(values) / 2"
QUESTIONS_TOML = """\
[[questions]]
question = "Why were the averages too big?"
answer = "The sum was divided by one less than the count."

[[questions]]
question = "What test would have caught it?"
answer = "The mean of a constant list is that constant."
"""
OLD_LINE = "    return sum(values) / (len(values) - 1)"


def write_kata(
    root: Path,
    kata_id: str,
    module: str,
    *,
    bug_line: str = OLD_LINE,
    decoys: dict[str, str] | None = None,
    alternatives: dict[str, str] | None = None,
    extra_visible: str = "",
) -> Path:
    """A complete kata (public folder and private material) under ``root``.

    ``bug_line`` replaces the buggy line of the mean; patches are written against it.
    """
    buggy_module = BUGGY_MODULE.replace(OLD_LINE, bug_line)
    folder = root / "katas" / kata_id
    folder.mkdir(parents=True)
    (folder / "kata.toml").write_text(KATA_TOML.format(kata_id=kata_id, module=module))
    (folder / "README.md").write_text("Averages look too big.\n")
    (folder / f"{module}.py").write_text(buggy_module)
    tests = VISIBLE_TESTS.format(module=module) + textwrap.dedent(extra_visible)
    (folder / f"test_{module}.py").write_text(tests)
    private = root / "grader" / "private" / kata_id
    (private / "decoys").mkdir(parents=True)
    (private / "holdout").mkdir()
    (private / "reference.patch").write_text(
        patch_text("Fix", module, buggy_module, bug_line, REFERENCE)
    )
    if decoys is None:
        decoys = {"tuned": TUNED_DECOY, "plus-one": WRONG_DECOY, "halved": HALVED_DECOY}
    if alternatives is None:
        alternatives = {"library": LIBRARY_MEAN}
    for name, line in decoys.items():
        (private / "decoys" / f"{name}.patch").write_text(
            patch_text("Decoy", module, buggy_module, bug_line, line)
        )
    for name, line in alternatives.items():
        (private / "alternatives").mkdir(exist_ok=True)
        (private / "alternatives" / f"{name}.patch").write_text(
            patch_text("Alternative", module, buggy_module, bug_line, line)
        )
    (private / "holdout" / f"test_{module}_holdout.py").write_text(
        HOLDOUT_TESTS.format(module=module)
    )
    (private / "hints.toml").write_text('hints = ["Count the values."]\n')
    (private / "questions.toml").write_text(QUESTIONS_TOML)
    return folder


def git(root: Path, *args: str, when: int | None = None) -> str:
    """Run git in ``root``; ``when`` sets author and committer time (epoch seconds)."""
    import os

    dates = {"GIT_AUTHOR_DATE": f"@{when} +0000", "GIT_COMMITTER_DATE": f"@{when} +0000"}
    done = subprocess.run(
        ["git", *args],
        cwd=root,
        env={**os.environ, **GIT_ENV, **(dates if when is not None else {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


MODULE = Path("katas/good/good_stats.py")


def two_kata_repo(root: Path) -> Path:
    """A git repository (one "template" commit) with two sealed katas: ``good`` (metrics,
    two hints) and ``other`` (data-and-leakage)."""
    from grader.catalogue.katas import load_catalogue
    from grader.catalogue.pristine import write_seal

    write_kata(root, "good", "good_stats")
    write_kata(root, "other", "other_stats")
    good = root / "katas" / "good" / "kata.toml"
    good.write_text(good.read_text().replace("hint_count = 1", "hint_count = 2"))
    (root / "grader" / "private" / "good" / "hints.toml").write_text(
        'hints = ["Count the values.", "Divide by how many there are."]\n'
    )
    other = root / "katas" / "other" / "kata.toml"
    other.write_text(other.read_text().replace('"metrics"', '"data-and-leakage"'))
    for loaded in load_catalogue(root):
        write_seal(loaded)
    (root / ".gitignore").write_text(".kata/\n__pycache__/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "template")
    return root


def fix(root: Path, module: Path = MODULE) -> None:
    """Apply the reference fix to the ``good`` kata's module in the work tree."""
    path = root / module
    path.write_text(path.read_text().replace(OLD_LINE, REFERENCE))


def run_kata(
    root: Path,
    *args: str,
    stdin: str | None = None,
    columns: int | None = 160,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``kata ARGS`` in a subprocess on the catalogue at ``root`` (git identity set);
    ``columns=None``: no COLUMNS, as in a pipe or a CI log (80 columns)."""
    chosen = {"KATA_ROOT": str(root), **({"COLUMNS": str(columns)} if columns else {})}
    return run_cli(list(args), cwd=root, env={**chosen, **(env or {})}, stdin=stdin)


def run_cli(
    args: list[str], *, cwd: Path, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m grader.cli ARGS`` with this environment minus what says where the
    catalogue is or how wide the terminal is, plus the git identity and ``env``."""
    import os
    import sys

    base = {k: v for k, v in os.environ.items() if k not in ("KATA_ROOT", "COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *args],
        env={**base, **GIT_ENV, "NO_COLOR": "1", **env},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def attempt_repo(root: Path, started_at: int | None = None, template_at: int = 0) -> Path:
    """A repository with the sealed ``good`` kata committed as "template" on ``main``, and
    an ``attempt`` branch checked out (with a ``Kata-Start`` marker at ``started_at``)."""
    from grader.catalogue.katas import load_catalogue
    from grader.catalogue.pristine import write_seal

    write_kata(root, "good", "good_stats")
    (kata,) = load_catalogue(root)
    write_seal(kata)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "template", when=template_at)
    git(root, "checkout", "-qb", "attempt")
    if started_at is not None:
        git(
            root,
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "Start\n\nKata-Start: good",
            when=started_at,
        )
    return root
