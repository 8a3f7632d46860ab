"""A kata's private material: reference fix, decoys, alternatives, holdout tests, hints
and follow-up questions.

Layout under ``grader/private/<id>/``::

    reference.patch          "Fix: <root cause>" paragraph, blank line, unified diff
    decoys/<name>.patch      "Decoy: <why tempting, why wrong>", blank line, unified diff
    alternatives/<name>.patch  "Alternative: <another correct fix>", blank line, unified diff
    holdout/test_*.py        extra property tests, copied next to the visible ones
    hints.toml               the hints, in order (kata.toml only counts them)
    questions.toml           follow-up questions with model answers (grader.catalogue.questions)
    pristine.json            blob ids of the shipped kata (see grader.catalogue.pristine)

Diffs are relative to the kata folder (``--- a/module.py``), applied with ``git apply``.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from grader.catalogue import questions
from grader.catalogue.katas import Kata

MIN_DECOYS = 3  # plausible half-fixes, each caught by a test
MIN_ALTERNATIVES = 1  # a correct fix written differently, which must pass


def apply(patch: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """``git apply`` a private patch inside ``folder``, a copy of the kata.

    Git is kept from finding a repository above ``folder``: inside one, it reads the paths
    of a ``diff --git`` patch from the repository's root, skips them as outside the
    folder, and still succeeds."""
    import os

    return subprocess.run(
        ["git", "apply", "--whitespace=nowarn", str(patch)],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(Path(folder).resolve().parent)},
    )


def apply_reference(kata_id: str, private: Path, folder: Path) -> None:
    """Apply ``kata_id``'s reference fix (from the ``private`` folder) to ``folder``, a
    copy of the kata; ``RuntimeError`` with git's words when it does not apply (for the
    benchmark scripts, which must not time the shipped bug as the fix)."""
    patch = private / kata_id / "reference.patch"
    done = apply(patch, folder)
    if done.returncode != 0:
        raise RuntimeError(f"{patch} does not apply in {folder}: {done.stderr.strip()}")


def description(patch_text: str) -> str:
    """The paragraph that precedes the diff."""
    lines = []
    for line in patch_text.splitlines():
        if line.startswith(("--- ", "diff ")):
            break
        lines.append(line)
    return " ".join(" ".join(lines).split())


@dataclass
class PrivateMaterial:
    reference: Path | None
    decoys: dict[str, Path]
    holdout: list[Path]
    alternatives: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    fault_fixes: dict[str, Path] = field(default_factory=dict)  # a capstone's, each alone

    @classmethod
    def load(cls, kata: Kata) -> PrivateMaterial:
        folder = kata.private_dir
        reference = folder / "reference.patch"
        decoys = {p.stem: p for p in sorted((folder / "decoys").glob("*.patch"))}
        fault_fixes, fault_problems = _capstone(kata, folder)
        if kata.is_capstone:  # decoys/<fault>/<name>.patch
            decoys = {
                f"{p.parent.name}/{p.stem}": p for p in sorted(folder.glob("decoys/*/*.patch"))
            }
        holdout = sorted((folder / "holdout").glob("test_*.py"))
        alternatives = {p.stem: p for p in sorted((folder / "alternatives").glob("*.patch"))}
        problems = []
        if not reference.is_file():
            problems.append(f"{reference}: missing; write the reference fix as a patch")
        elif not description(reference.read_text()).startswith("Fix:"):
            problems.append(f"{reference}: start with a 'Fix:' paragraph giving the root cause")
        if len(decoys) < MIN_DECOYS:
            problems.append(f"{folder / 'decoys'}: {len(decoys)} decoy patches, need {MIN_DECOYS}")
        for name, path in decoys.items():
            if not description(path.read_text()).startswith("Decoy:"):
                problems.append(f"{path}: start with a 'Decoy:' paragraph ({name})")
        if len(alternatives) < MIN_ALTERNATIVES:
            problems.append(
                f"{folder / 'alternatives'}: {len(alternatives)} alternative patches, need "
                f"{MIN_ALTERNATIVES}: a correct fix written differently (e.g. the library "
                "equivalent), which every test must pass"
            )
        for name, path in alternatives.items():
            if not description(path.read_text()).startswith("Alternative:"):
                problems.append(f"{path}: start with an 'Alternative:' paragraph ({name})")
            if name in decoys:
                problems.append(f"{path}: named like a decoy ({name}); rename one of them")
        if not holdout:
            problems.append(f"{folder / 'holdout'}: no test_*.py holdout tests")
        problems += questions.problems(folder, kata.is_capstone) + fault_problems
        clashes = sorted({p.name for p in holdout} & set(kata.test_files))
        if clashes:
            problems.append(f"{folder / 'holdout'}: {clashes} shadow visible test files; rename")
        return cls(
            reference if reference.is_file() else None,
            decoys,
            holdout,
            alternatives,
            problems,
            fault_fixes,
        )


def _capstone(kata: Kata, folder: Path) -> tuple[dict[str, Path], list[str]]:
    """A capstone's fault fixes (``faults/<fault>.patch``, each applying alone to the
    shipped code) and what is missing or misplaced among them, its decoys
    (``decoys/<fault>/<name>.patch``) and its holdout files (one per fault)."""
    if not kata.is_capstone:
        return {}, []
    from grader.catalogue.faults import holdout_file

    names = [fault.name for fault in kata.faults]
    fixes = {name: folder / "faults" / f"{name}.patch" for name in names}
    problems = []
    for name, path in fixes.items():
        if not path.is_file():
            problems.append(f"{path}: missing; the fix of fault {name} alone, as a patch")
        elif not description(path.read_text()).startswith("Fix:"):
            problems.append(f"{path}: start with a 'Fix:' paragraph giving the root cause")
        if not list((folder / "decoys" / name).glob("*.patch")):
            problems.append(f"{folder / 'decoys' / name}: no decoy for fault {name}")
        if not (folder / "holdout" / holdout_file(name)).is_file():
            problems.append(f"{folder / 'holdout' / holdout_file(name)}: missing (fault {name})")
    for path in sorted((folder / "decoys").glob("*")):
        if path.is_dir() and path.name not in names:
            problems.append(f"{path}: names no fault of kata.toml ({', '.join(names)})")
        elif path.is_file():
            problems.append(f"{path}: a capstone's decoys go in decoys/<fault>/")
    wanted = sorted(holdout_file(name) for name in names)
    for path in sorted((folder / "holdout").glob("test_*.py")):
        if path.name not in wanted:
            problems.append(f"{path}: names no fault; hidden tests go in {', '.join(wanted)}")
    return {n: p for n, p in fixes.items() if p.is_file()}, problems
