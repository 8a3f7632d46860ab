"""What git says about one attempt at a kata, shared by ``kata grade`` (which also runs
the tests) and ``kata publish`` (which re-derives the grader's numbers from git alone):
the versions of the kata's files, the diff, the hints taken and whether the candidate
gave up.  Everything is read from the object database; nothing is run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from grader.catalogue.katas import Kata
from grader.catalogue.renames import current_id
from grader.grading import diffsize, scan
from grader.grading.gitdata import GIVE_UP_TRAILER, HINT_TRAILER, START_TRAILER, Commit, Repo

MAX_LISTED = 3  # commits named in one reason or note
# what `kata grade` and `kata publish` both say of a green commit dated before the marker
NEGATIVE_TIME_NOTE = (
    "time to green not measured: the green commit is dated before the start marker "
    "(commit times are set by the committer's clock)"
)


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
class Clock:
    """Where the clock starts, read from the markers of ``base..head``."""

    start: Commit | None  # the oldest `Kata-Start` marker for the kata
    later: list[Commit]  # every other start marker for the kata: noted, never used
    work_before: list[str]  # commits that changed the kata's files before (or beside) it

    def notes(self, kata_id: str) -> list[str]:
        if not (self.start and self.later):
            return []
        shown = ", ".join(c.sha[:12] for c in self.later[:MAX_LISTED])
        more = f" and {len(self.later) - MAX_LISTED} more" if len(self.later) > MAX_LISTED else ""
        return [
            f"later `{START_TRAILER}: {kata_id}` marker {shown}{more} ignored: the clock "
            f"starts at the oldest one, {self.start.sha[:12]}"
        ]

    def reasons(self, kata_id: str) -> list[str]:
        if not (self.start and self.work_before):
            return []
        shown = ", ".join(sha[:12] for sha in self.work_before[:MAX_LISTED])
        more = (
            f" and {len(self.work_before) - MAX_LISTED} more"
            if len(self.work_before) > MAX_LISTED
            else ""
        )
        return [
            f"work before the start marker: {shown}{more} changed the kata's files before "
            f"(or beside) `{START_TRAILER}: {kata_id}` {self.start.sha[:12]}, so the clock "
            "never saw that work"
        ]


def clock(repo: Repo, kata: Kata, base: str, head: str) -> Clock:
    """The oldest start marker in ``base..head`` (in topological order: commit dates are
    the committer's to set) starts the clock; later markers are noted.  The kata's files
    must be as at ``base`` until the marker: every commit of the range that changed them
    and does not descend from the marker (the marker included) is work the clock missed."""
    found = [
        commit
        for commit, ids in reversed(repo.markers(["--topo-order", f"{base}..{head}"]))
        if current_id(kata.id) in ids[START_TRAILER]
    ]
    if not found:
        return Clock(None, [], [])
    start, later = found[0], found[1:]
    paths = list(kata_paths(kata).values())
    touching = str(repo.git("rev-list", "--full-history", f"{base}..{head}", "--", *paths))
    after = set(str(repo.git("rev-list", "--ancestry-path", f"{start.sha}..{head}")).split())
    before = [sha for sha in reversed(touching.split()) if sha not in after]
    if not before and files_at(repo, kata_paths(kata), start.sha) != files_at(
        repo, kata_paths(kata), base
    ):
        before = [start.sha]  # e.g. a merge that brought the work in
    return Clock(start, later, before)


@dataclass(frozen=True)
class Measures:
    diff: diffsize.DiffSize
    hints_used: int
    give_ups: list[str]  # the kata's Kata-Give-Up markers in the range

    @property
    def gave_up(self) -> bool:
        return bool(self.give_ups)


def measure(repo: Repo, kata: Kata, origin: str, end: str) -> Measures:
    """The change from ``origin`` to ``end`` and the hint and give-up markers between them.
    ``origin`` is the base (the fork point), never the start marker: a hint taken or a
    solution shown before the clock started was still seen."""
    paths = kata_paths(kata)
    diff = diffsize.diff_size(
        texts(files_at(repo, paths, origin)), texts(files_at(repo, paths, end))
    )
    markers = list(reversed(repo.markers(["--topo-order", f"{origin}..{end}"])))
    kata_id = current_id(kata.id)  # the base may predate a rename
    return Measures(
        diff,
        sum(kata_id in ids[HINT_TRAILER] for _, ids in markers),
        [commit.sha for commit, ids in markers if kata_id in ids[GIVE_UP_TRAILER]],
    )


def scan_reasons(repo: Repo, kata: Kata, base: str, commits: list[str]) -> list[str]:
    """Unranked reasons from the scan of the kata's files at ``commits`` (what the change
    from ``base`` added) and from their source text: what ``kata grade`` reports and
    ``kata publish`` recomputes."""
    paths = kata_paths(kata)
    before = files_at(repo, paths, base)
    checked = {sha: files_at(repo, paths, sha) for sha in dict.fromkeys(commits)}
    findings = sorted(
        {
            finding
            for files in checked.values()
            for name, text in files.items()
            if text is not None
            for finding in scan.new_findings(before[name] or "", text, paths[name])
        },
        key=lambda f: (f.path, f.line, f.rule),
    )
    reasons = [f"suspicious code at {f.path}:{f.line}: {f.message}" for f in findings]
    reasons += [  # the committed bytes, as the interpreter reads them
        problem
        for sha in checked
        for name, path in paths.items()
        if (data := repo.read_bytes(sha, path)) is not None
        for problem in scan.source_text_problems(data, path)
    ]
    return list(dict.fromkeys(reasons))
