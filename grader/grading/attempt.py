"""What git says about one attempt at a kata, shared by ``kata grade`` (which also runs
the tests) and ``kata publish`` (which re-derives the grader's numbers from git alone):
the versions of the kata's files, the diff, the hints taken and whether the candidate
gave up.  Everything is read from the object database; nothing is run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from grader.catalogue.katas import Kata
from grader.grading import diffsize
from grader.grading.gitdata import GIVE_UP_TRAILER, HINT_TRAILER, Commit, Repo


def kata_paths(kata: Kata) -> dict[str, str]:
    """Each editable file of the kata, by its repository path."""
    return {name: f"katas/{kata.id}/{name}" for name in kata.files}


def files_at(repo: Repo, paths: dict[str, str], commit: str) -> dict[str, str | None]:
    return {name: repo.read(commit, path) for name, path in paths.items()}


def texts(files: dict[str, str | None], paths: dict[str, str] | None = None) -> dict[str, str]:
    """Missing files as empty text, keyed by name (or by repository path)."""
    return {(paths[name] if paths else name): text or "" for name, text in files.items()}


def versions(repo: Repo, paths: dict[str, str], origin: str, head: str) -> Iterator[Commit]:
    """The commits of ``origin..head``, oldest first, that change the kata's files: marker
    commits and work on other files are not new versions (nor attempts)."""
    previous = files_at(repo, paths, origin)
    for commit in repo.commits(origin, head):
        files = files_at(repo, paths, commit.sha)
        if files != previous:
            previous = files
            yield commit


@dataclass(frozen=True)
class Measures:
    diff: diffsize.DiffSize
    hints_used: int
    gave_up: bool


def measure(repo: Repo, kata: Kata, origin: str, end: str) -> Measures:
    """The change from ``origin`` to ``end`` and the hint and give-up markers between them."""
    paths = kata_paths(kata)
    diff = diffsize.diff_size(
        texts(files_at(repo, paths, origin)), texts(files_at(repo, paths, end))
    )
    markers = [ids for _, ids in repo.markers([f"{origin}..{end}"])]
    return Measures(
        diff,
        sum(kata.id in ids[HINT_TRAILER] for ids in markers),
        any(kata.id in ids[GIVE_UP_TRAILER] for ids in markers),
    )
