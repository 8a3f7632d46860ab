"""A candidate's progress: what git tells (start, hint and give-up marker commits) joined
with what only the local state knows (last verdicts, personal bests).

Markers are commits so that the grader, which sees only git, counts the same hints and
give-ups as the candidate's terminal did.  Nothing here imports torch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from grader.catalogue.katas import Kata
from grader.grading.gitdata import (
    GIVE_UP_TRAILER,
    HINT_FAULT_TRAILER,
    HINT_TRAILER,
    START_TRAILER,
    Commit,
    GitError,
    Repo,
)
from grader.usage import UsageError


# Named tuples rather than frozen dataclasses: defining one costs a tenth as much, and
# `kata list` imports this module.
class Attempt(NamedTuple):
    """The current attempt at one kata: from its newest start marker in HEAD's history."""

    kata_id: str
    start: Commit | None
    hints: int
    gave_up: bool

    @property
    def started(self) -> bool:
        return self.start is not None

    def elapsed_s(self, now: float | None = None) -> int | None:
        return None if self.start is None else max(0, int((now or time.time()) - self.start.time))


class History:
    """The kata markers of HEAD's history, read with one ``git log``."""

    def __init__(self, markers: list[tuple[Commit, dict[str, list[str]]]]):
        self.markers = markers  # newest first

    @classmethod
    def read(cls, root: Path) -> History:
        """Empty, not an error, outside a repository or before its first commit."""
        try:
            return cls(Repo(root).markers(["HEAD"]))
        except GitError:
            return cls([])

    @classmethod
    def read_in_background(cls, root: Path) -> Callable[[], History]:
        """``read``, run while the caller does other work (``git log`` is a process of
        its own, on the other core): call the result for the history."""
        box: list[History] = []
        thread = threading.Thread(target=lambda: box.append(cls.read(root)), daemon=True)
        thread.start()

        def result() -> History:
            thread.join()
            return box[0] if box else cls([])

        return result

    def attempt(self, kata_id: str) -> Attempt:
        hints, gave_up = 0, False
        for commit, ids in self.markers:
            if kata_id in ids[START_TRAILER]:
                return Attempt(kata_id, commit, hints, gave_up)
            hints += kata_id in ids[HINT_TRAILER]
            gave_up = gave_up or kata_id in ids[GIVE_UP_TRAILER]
        return Attempt(kata_id, None, 0, False)

    def fault_hints(self, kata_id: str, fault: str) -> int:
        """Hints taken on one fault of a capstone in the current attempt."""
        taken = 0
        for _, ids in self.markers:
            if kata_id in ids[START_TRAILER]:
                break
            taken += kata_id in ids[HINT_TRAILER] and fault in ids[HINT_FAULT_TRAILER]
        return taken

    def newest_start(self) -> tuple[Commit | None, list[str]]:
        """The newest start marker and its katas (one, or a mock round's)."""
        for commit, ids in self.markers:
            if ids[START_TRAILER]:
                return commit, list(ids[START_TRAILER])
        return None, []

    def in_progress(self) -> list[str]:
        """The katas of the newest start marker (one, or a mock round's)."""
        return self.newest_start()[1]


class KataProgress(NamedTuple):
    """What every command says about one kata, read in one place (``progress``):
    ``kata list``, ``status``, ``solution``, ``start``, ``hint``, ``watch`` and ``mock``
    agree because they all read this."""

    kata_id: str
    status: str  # this checkout's files: untouched / in progress / green / solved
    solved: bool  # green here, or went green before (on another branch, before a reset)
    best_s: int | None  # the personal best: a local fact, the same on every branch
    attempt: Attempt  # the newest start marker in HEAD's history, hints and give-up

    @property
    def solution_is_free(self) -> bool:
        """Green here, or solved and no later attempt running: the reference fix shows
        nothing the candidate has not found already."""
        from grader.loop.state import GREEN, SOLVED

        return self.status in (GREEN, SOLVED) or (self.solved and not self.attempt.started)


def progress(
    root: Path, katas: list[Kata], history: History | None = None
) -> dict[str, KataProgress]:
    """Each kata's progress, from one read of the state and one ``git log`` (``history``,
    when the caller has read it)."""
    from grader.loop import state

    data, history = state.load(root), history or History.read(root)
    found = {}
    for kata in katas:
        attempt = history.attempt(kata.id)
        status = state.status_of(kata, data, attempt.started)
        solved = status == state.GREEN or state.went_green(data, kata.id)
        found[kata.id] = KataProgress(
            kata.id, status, solved, state.best_seconds(data, kata.id), attempt
        )
    return found


def marker_message(title: str, trailer: str, kata_ids: list[str], extra: str = "") -> str:
    lines = "\n".join(f"{trailer}: {kata_id}" for kata_id in kata_ids)
    return f"{title}\n\n{extra}{lines}\n"


def repo_with_commits(root: Path) -> Repo:
    """The repository holding ``root``, which must have a first commit to mark on."""
    repo = Repo.discover(root)
    try:
        repo.resolve("HEAD")
    except GitError:
        raise GitError(
            f"{repo.path} has no commit yet: commit the template first (`git add -A && "
            "git commit -m template`), then start"
        ) from None
    return repo


def write_marker(root: Path, title: str, trailer: str, kata_ids: list[str]) -> str:
    """Commit a marker on HEAD; staged and unstaged work stays out of it, untouched."""
    repo = repo_with_commits(root)
    return repo.marker_commit(marker_message(title, trailer, kata_ids))


def files_at_start(root: Path, kata: Kata, attempt: Attempt) -> dict[str, str]:
    """The editable files as they were at the start marker (pristine without one)."""
    if attempt.start is not None:
        from grader.grading.attempt import files_at

        repo = Repo.discover(root)
        prefix = kata.path.resolve().relative_to(repo.path.resolve()).as_posix()
        texts = files_at(repo, {n: f"{prefix}/{n}" for n in kata.files}, attempt.start.sha)
        if all(text is not None for text in texts.values()):
            return {name: str(text) for name, text in texts.items()}
    import tempfile

    from grader.catalogue import pristine

    with tempfile.TemporaryDirectory(prefix="kata-pristine-") as tmp:
        pristine.materialize(kata, Path(tmp))
        return {name: (Path(tmp) / name).read_text() for name in kata.files}


class GreenReport(NamedTuple):
    elapsed_s: int | None
    lines: int | None  # None when the starting version cannot be recovered
    tokens: int | None
    reference_lines: int | None


def green_report(
    root: Path, kata: Kata, attempt: Attempt, elapsed_s: int | None = None
) -> GreenReport:
    """What ``kata test`` says the first time a kata goes green: time since the start
    marker (``elapsed_s`` when the caller has read the clock already), and the change
    since then next to the reference fix, measured as the grader measures them.  Sizes
    are left out where the shipped files are not in git's objects (a copy without
    history)."""
    import tempfile

    from grader.catalogue.katas import CatalogueError
    from grader.grading import diffsize, sealed

    after = {name: (kata.path / name).read_text() for name in kata.files}
    try:
        size = diffsize.diff_size(files_at_start(root, kata, attempt), after)
        lines, tokens = size.total, size.tokens
    except CatalogueError:
        lines = tokens = None
    try:
        with tempfile.TemporaryDirectory(prefix="kata-reference-") as tmp:
            reference = sealed.reference_size(kata, Path(tmp))
    except CatalogueError:
        reference = None
    elapsed = attempt.elapsed_s() if elapsed_s is None else elapsed_s
    return GreenReport(elapsed, lines, tokens, reference)


def _fault_hints(kata: Kata, fault: str | None) -> tuple[str, ...]:
    """The hints ``kata hint`` draws from: a capstone's are per fault (``fault``)."""
    names = [f.name for f in kata.faults]
    if kata.is_capstone and fault not in names:
        raise UsageError(
            f"{kata.id} is a capstone: its hints are per fault; name one with --fault "
            f"({', '.join(names)})"
        )
    if fault is not None and not kata.is_capstone:
        raise UsageError(f"{kata.id} has no faults: its hints are for the one bug (drop --fault)")
    return kata.hints_by_fault.get(fault or "", ()) if fault else kata.hints


def hint_to_come(root: Path, kata: Kata, fault: str | None = None) -> tuple[int, bool]:
    """What ``next_hint`` would show, without recording it: (its number, whether it is
    new, so counted).  Refuses (UsageError) as ``next_hint`` does."""
    number, new, _ = _hint_to_come(root, kata, fault)
    return number, new


def _hint_to_come(root: Path, kata: Kata, fault: str | None) -> tuple[int, bool, tuple[str, ...]]:
    from grader.grading import sealed

    if sealed.is_sealed(kata):
        raise UsageError(sealed.hints_sealed(kata.id))
    history = History.read(root)
    attempt = history.attempt(kata.id)
    if not attempt.started:
        raise UsageError(
            f"{kata.id} is not started: hints are counted from the start marker, "
            f"so run `kata start {kata.id}` first"
        )
    if progress(root, [kata])[kata.id].status == "green":
        raise UsageError(
            f"{kata.id} is already green: no hint needed; `kata solution {kata.id}` "
            "shows the reference fix"
        )
    hints = _fault_hints(kata, fault)
    if not hints:
        raise UsageError(f"{kata.id} has no hints")
    taken = history.fault_hints(kata.id, fault) if fault else attempt.hints
    if taken >= len(hints):
        return len(hints), False, hints
    return taken + 1, True, hints


def next_hint(root: Path, kata: Kata, fault: str | None = None) -> tuple[int, str, bool]:
    """Show-and-record the next hint: (its number, its text, whether it is new).  A
    capstone's hints are per fault: ``fault`` names which.

    Refuses (UsageError) when the kata is not started or already green."""
    number, new, hints = _hint_to_come(root, kata, fault)
    if not new:
        return number, hints[-1], False
    title = f"Hint {number} for kata {kata.id}" + (f" (fault {fault})" if fault else "")
    extra = f"{HINT_FAULT_TRAILER}: {fault}\n" if fault else ""
    try:
        repo_with_commits(root).marker_commit(marker_message(title, HINT_TRAILER, [kata.id], extra))
    except GitError as exc:
        raise UsageError(str(exc)) from None
    return number, hints[number - 1], True
