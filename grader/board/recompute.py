"""What publish recomputes from git instead of believing the report: start marker, green
commit, attempts, hints, give-up, diff, the commit clock, and the server clock from GitHub's
own timestamps of the grade runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grader.board.artifact import SHA, GradeRun, PublishError
from grader.catalogue import faults
from grader.catalogue.katas import CatalogueError, Kata
from grader.grading import attempt
from grader.grading.attempt import NEGATIVE_TIME_NOTE
from grader.grading.gitdata import Commit, GitError, Repo


def is_commit(repo: Repo, sha: str) -> bool:
    return bool(SHA.match(sha)) and _succeeds(repo, "cat-file", "-e", f"{sha}^{{commit}}")


def is_ancestor(repo: Repo, ancestor: str, descendant: str) -> bool:
    return _succeeds(repo, "merge-base", "--is-ancestor", ancestor, descendant)


def _succeeds(repo: Repo, *args: str) -> bool:
    try:
        repo.git(*args)
    except GitError:
        return False
    return True


@dataclass(frozen=True)
class ServerClock:
    seconds: int | None
    runs: int | None  # grade runs from the first that saw the start to the first green
    started: datetime | None
    greened: datetime | None
    note: str | None


def server_clock(
    repo: Repo, runs: list[GradeRun], head: str, start: str | None, green: str | None
) -> ServerClock:
    """Time to green on GitHub's clock: from the creation of the first grade run whose
    head contains the start marker to that of the first whose head contains the green
    commit.  Only runs of this pull request's history count (their heads are ancestors
    of its head)."""
    if start is None:
        return ServerClock(None, None, None, None, "no start marker")
    ours = [r for r in runs if is_commit(repo, r.head_sha) and is_ancestor(repo, r.head_sha, head)]
    saw_start = sorted(
        (r for r in ours if is_ancestor(repo, start, r.head_sha)),
        key=lambda r: (r.created_at, r.id),
    )
    if not saw_start:
        return ServerClock(None, None, None, None, "no grade run saw the start marker")
    first = saw_start[0]
    if green is None:
        return ServerClock(None, None, first.created_at, None, None)
    saw_green = [r for r in saw_start if is_ancestor(repo, green, r.head_sha)]
    if not saw_green:
        return ServerClock(None, None, first.created_at, None, "no grade run saw the green commit")
    done = saw_green[0]
    if done.id == first.id or done.head_sha == first.head_sha:
        return ServerClock(
            None,
            1,
            first.created_at,
            done.created_at,
            "the start marker reached GitHub in the same push as the fix: "
            "push the start marker on its own to be timed by the server",
        )
    seconds = int((done.created_at - first.created_at).total_seconds())
    if seconds < 0:  # impossible for runs GitHub ordered; refuse rather than rank on it
        raise PublishError("grade runs: the green run was created before the start run")
    count = len({r.id for r in saw_start if r.created_at <= done.created_at})
    return ServerClock(seconds, count, first.created_at, done.created_at, None)


@dataclass
class Checked:
    """One kata's report entry with every number git can give recomputed."""

    kata: Kata
    entry: dict  # the report's entry, numbers replaced by git's
    start: Commit | None
    green: Commit | None
    reasons: list[str]  # unranked reasons found by publish
    clock: attempt.Clock  # the start markers
    give_ups: list[str]  # give-up markers before green (or head)


def check_kata(repo: Repo, kata: Kata, entry: dict, head: str, fork_point: str) -> Checked:
    """Recompute start, attempts, hints, give-up, commit clock and diff from git."""
    clock = attempt.clock(repo, kata, fork_point, head)
    start = clock.start
    origin = start.sha if start else fork_point
    green = None
    score = faults.fixed_in_report(kata, entry["tests"]) if kata.is_capstone else {}
    if entry["status"] == "green" or any(score.values()):  # a capstone: its final score
        sha = entry["green_commit"]
        if sha is None or not is_commit(repo, sha):
            raise PublishError(f"{kata.id}: green, but the green commit is not in the repository")
        if not (is_ancestor(repo, origin, sha) and is_ancestor(repo, sha, head)):
            raise PublishError(
                f"{kata.id}: green commit {sha[:12]} is not between the start and the head "
                "of the pull request"
            )
        green = repo.commit(sha)
    attempts = 0
    if green is not None and green.sha != origin:
        attempts = sum(
            1 for _ in attempt.versions(repo, attempt.kata_paths(kata), origin, green.sha)
        )
    measures = attempt.measure(repo, kata, fork_point, green.sha if green else head)
    size, hints, gave_up = measures.diff, measures.hints_used, measures.gave_up
    commit_time = green.time - start.time if green and start else None
    reasons = clock.reasons(kata.id)
    notes = list(entry["notes"])
    if commit_time is not None and commit_time < 0:
        # as `kata grade` says it: no time (ranked after every timed result), a note
        commit_time = None
        if NEGATIVE_TIME_NOTE not in notes:
            notes.append(NEGATIVE_TIME_NOTE)
    ours = {
        "start_commit": start.sha if start else None,
        "green_commit": green.sha if green else None,
        "time_to_green_s": commit_time,
        "attempts": attempts,
        "hints_used": hints,
    }
    git_diff = {
        "added": size.added,
        "removed": size.removed,
        "total": size.total,
        "tokens": size.tokens,
    }
    disagree = [
        f"{name} (report {str(entry[name])[:12]}, git {str(value)[:12]})"
        for name, value in ours.items()
        if entry[name] != value
    ] + [
        f"diff {name} (report {entry['diff'][name]}, git {value})"
        for name, value in git_diff.items()
        if entry["diff"][name] != value
    ]
    if disagree:
        reasons.append("the grade report disagrees with git on " + ", ".join(disagree))
    scanned = attempt.scan_reasons(repo, kata, fork_point, [head, *([green.sha] if green else [])])
    missing = [r for r in scanned if r not in entry["unranked_reasons"]]
    if missing:
        reasons += missing
        reasons.append(
            f"the grade report disagrees with git on the scan: it leaves out {len(missing)} "
            f"finding{'s' if len(missing) != 1 else ''} that the scan of the pull request's "
            "files makes"
        )
    if gave_up and not any(r.startswith("gave up") for r in entry["unranked_reasons"]):
        reasons.append("gave up: the reference fix was shown before green")
    fixed = {**entry, **ours, "notes": notes, "diff": {**entry["diff"], **git_diff}}
    if kata.is_capstone:
        fixed["faults"] = _faults(repo, kata, entry, score, origin, head, start, fork_point, green)
    return Checked(kata, fixed, start, green, reasons, clock, measures.give_ups)


def _faults(
    repo: Repo,
    kata: Kata,
    entry: dict,
    score: dict[str, bool],
    origin: str,
    head: str,
    start: Commit | None,
    fork_point: str,
    green: Commit | None,
) -> list[dict]:
    """A capstone's faults as the comment shows them, from git and the trusted kata: fixed
    from the tests, each first-fixed commit the report names checked to lie between the
    start and the head (else dropped) and timed by git, the lines per fault measured again."""
    import tempfile

    from grader.grading import fault_diff

    claimed = {
        f.get("name"): f.get("fixed_commit")
        for f in entry.get("faults") or []
        if isinstance(f, dict)
    }
    first_fixed = {}
    for name, ok in score.items():
        sha = claimed.get(name) if ok else None
        if (
            isinstance(sha, str)
            and is_commit(repo, sha)
            and is_ancestor(repo, origin, sha)
            and is_ancestor(repo, sha, head)
        ):
            first_fixed[name] = repo.commit(sha)
    with tempfile.TemporaryDirectory(prefix="kata-publish-faults-") as tmp:
        try:
            regions = fault_diff.fix_regions(kata, Path(tmp))
        except (CatalogueError, OSError):
            regions = {}
    paths = attempt.kata_paths(kata)
    return fault_diff.fault_entries(
        kata,
        entry["tests"],
        first_fixed,
        start,
        regions,
        attempt.files_at(repo, paths, fork_point),
        attempt.files_at(repo, paths, green.sha if green else head),
    )


def reference_total(kata: Kata, entry: dict) -> int | None:
    """The reference fix's size measured on the trusted, pristine kata (display only);
    the report's number when the trusted checkout cannot measure it."""
    import tempfile

    from grader.grading import sealed

    try:
        with tempfile.TemporaryDirectory(prefix="kata-publish-") as tmp:
            size = sealed.reference_size(kata, Path(tmp))
    except (CatalogueError, OSError):  # e.g. a seal whose blobs are not here: only shown
        size = None
    return size if size is not None else entry["diff"]["reference_total"]
