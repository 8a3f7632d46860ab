"""``kata publish``: turn a grade run's artifact into a PR comment and leaderboard results.

Its parts: ``artifact`` reads the untrusted inputs, ``recompute`` answers from git what git
can answer, ``comment`` renders; this module joins them.

It runs in the trusted publish workflow, on the base repository's own code.  The artifact
comes from a run that executed pull-request code (and, for a fork, possibly a rewritten
grade workflow), so it is data to check, never to believe:

* the folder holds only known, size-bounded files; the report is schema-checked and its
  PR number and head must match what GitHub's own event says;
* everything git can answer is recomputed from the pull request's commits, fetched as
  data: which paths it touched, the start marker, the diff, attempts, hints, the commit
  clock; a report that disagrees is unranked, one that names commits outside the pull
  request is refused;
* GitHub's timestamps of the grade runs give a server clock the committer cannot set;
* all text is escaped for markdown and HTML when rendered.

What git cannot answer, the test verdict, comes from the grader run; a pull request
that changed anything the grade run is built from (workflows, grader, tests) is unranked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from grader.board.artifact import (
    SHA,
    Artifact,
    Context,
    GradeRun,
    OtherPullRequest,
    PublishError,
    read_artifact,
    read_runs,
    report_artifact,
)
from grader.board.comment import MARKER, Section, comment, refusal_comment, status_comment
from grader.board.recompute import (
    ServerClock,
    check_kata,
    is_ancestor,
    is_commit,
    reference_total,
    server_clock,
)
from grader.catalogue.katas import Kata
from grader.grading.gitdata import GitError, Repo

__all__ = [
    "MARKER",
    "Artifact",
    "Context",
    "GradeRun",
    "OtherPullRequest",
    "Publication",
    "PublishError",
    "publish",
    "read_artifact",
    "read_runs",
    "refusal_comment",
    "report_artifact",
    "server_clock",
]

MAX_REASONS = 20
MAX_REASON_CHARS = 300


@dataclass
class Publication:
    comment: str
    results: list[dict]
    sections: list[Section]


def _cap_reasons(reasons: list[str]) -> list[str]:
    unique = list(dict.fromkeys(reasons))
    if len(unique) > MAX_REASONS:
        unique = [*unique[: MAX_REASONS - 1], f"… and {len(unique) - MAX_REASONS + 1} more"]
    return [r if len(r) <= MAX_REASON_CHARS else r[: MAX_REASON_CHARS - 1] + "…" for r in unique]


def publish(
    artifact: Artifact,
    repo: Repo,
    catalogue: list[Kata],
    context: Context,
    *,
    head_sha: str | None = None,
    trusted_base: str = "HEAD",
    runs: list[GradeRun] | None = None,
    leaderboard: Path | None = None,
    require_server_clock: bool = False,
    hidden_report: dict | None = None,
) -> Publication:
    """Check the artifact against git and GitHub's event, and build comment and results.

    ``head_sha`` is the head GitHub's event names (required in CI); ``trusted_base`` is
    the base repository's branch in ``repo``, into which the PR head was fetched as data.
    Results are added to ``leaderboard`` (a folder) when given.
    """
    from grader.board import history
    from grader.board import leaderboard as boards

    if artifact.pr is not None and artifact.pr != context.pr:
        raise OtherPullRequest(
            f"artifact: pr-number {artifact.pr} differs from pull request #{context.pr}, "
            "the one GitHub's event names"
        )
    if artifact.report is None:
        return Publication(status_comment(artifact.outcome, context), [], [])
    report = artifact.report
    head = head_sha or report["head"]
    if not SHA.match(head):
        raise PublishError(f"head {head[:50]!r} is not a commit id")
    if report["head"] != head:
        raise PublishError(
            f"report: head {report['head'][:12]} is not {head[:12]}, the head this run graded"
        )
    if not is_commit(repo, head):
        raise PublishError(f"the pull request head {head[:12]} is not in {repo.path}: fetch it")
    by_id = {kata.id: kata for kata in catalogue}
    ids = [k["id"] for k in report["katas"]]
    if not ids or len(set(ids)) != len(ids):
        raise PublishError("report: no kata, or the same kata twice")
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise PublishError(f"report: unknown kata {unknown[0]!r}")
    try:
        base = repo.resolve(trusted_base)
        merge_base = repo.merge_base(base, head)
    except GitError as exc:
        raise PublishError(f"cannot relate the pull request to {trusted_base}: {exc}") from None
    common = []
    if report["isolation"] != "full":
        common.append(
            f"graded with isolation {report['isolation']!r}: a pull request ranks only when "
            "the candidate's code ran fully isolated (another user, no network), as the grade "
            "workflow runs it"
        )
    fork_point = merge_base
    if is_commit(repo, report["base"]) and is_ancestor(repo, report["base"], base):
        fork_point = repo.merge_base(report["base"], head)
    else:
        common.append(
            f"graded against base {report['base'][:12]}, which is not on the base repository's "
            "branch"
        )
    touched = repo.changed_paths(merge_base, head)
    editable = {f"katas/{i}/{name}" for i in ids for name in by_id[i].files}
    protected = [path for path in touched if path not in editable]
    earlier = boards.load_results(leaderboard)[0] if leaderboard is not None else []
    sections = []
    for entry in report["katas"]:
        kata = by_id[entry["id"]]
        entry, hidden_reasons = _hidden_verdict(kata, entry, head, hidden_report)
        checked = check_kata(repo, kata, entry, head, fork_point)
        seen = history.seen_before(earlier, kata.id, context.pr, context.user, context.run_id)
        mine = ", ".join(f"katas/{kata.id}/{name}" for name in kata.files)
        reasons = list(entry["unranked_reasons"]) + common + checked.reasons + hidden_reasons
        reasons += [f"changed {path}: only {mine} may change" for path in protected]
        if not entry["ranked"] and not reasons:
            reasons.append("unranked by the grader")
        green = checked.green
        if green is not None and checked.entry["diff"]["total"] == 0:
            reasons.append("green without a change to the kata's files: nothing was fixed")
        if runs is None:
            clock = ServerClock(None, None, None, None, "no grade runs given")
        else:
            start = checked.start.sha if checked.start else None
            clock = server_clock(repo, runs, head, start, green.sha if green else None)
        reasons += history.reasons(repo, seen, head, checked.give_ups)
        clock = _first_start(clock, seen.server_started_at)
        if require_server_clock and green and clock.seconds is None:
            reasons.append(f"not timed by the server clock: {clock.note}")
        which = None
        if green is not None:
            which = (
                "server"
                if clock.seconds is not None
                else ("commit" if checked.entry["time_to_green_s"] is not None else None)
            )
        tests = entry["tests"]
        capped = _cap_reasons(reasons)
        result = {
            "schema_version": 1,
            "kata": kata.id,
            "topic": kata.topic,
            "user": context.user,
            "pr": context.pr,
            "run_id": context.run_id,
            "head": head,
            "status": entry["status"],
            "kind": kata.kind,
            **_score(checked.entry),
            "ranked": not capped,
            "unranked_reasons": capped,
            "tests_passed": sum(1 for t in tests if t["status"] == "pass"),
            "tests_total": len(tests),
            "hints_used": checked.entry["hints_used"],
            "attempts": checked.entry["attempts"],
            "diff": {
                **{k: checked.entry["diff"][k] for k in ("added", "removed", "total", "tokens")},
                "reference_total": reference_total(kata, entry),
            },
            "commit_time_s": checked.entry["time_to_green_s"],
            "server_time_s": clock.seconds,
            "grade_runs": clock.runs if clock.seconds is not None else None,
            "clock": which,
            "history": history.recorded(
                seen,
                head,
                [c.sha for c in filter(None, [checked.clock.start, *checked.clock.later])],
                checked.give_ups,
                clock.started,
            ),
        }
        boards.validate_result(result, f"result for {kata.id}")
        sections.append(Section(checked, result, clock, None))
    results = [s.result for s in sections]
    if leaderboard is not None:
        for result in results:
            boards.write_result(leaderboard, result)
        everything = boards.render(leaderboard, catalogue)
        for section in sections:
            board = boards.standing(everything, section.result["kata"])
            position = board.rank_of(context.user) if section.result["ranked"] else None
            section.rank = (position, len(board.ranked)) if position else None
    return Publication(comment(sections, context, leaderboard is not None), results, sections)


def _score(entry: dict) -> dict:
    """A capstone's faults fixed and planted, as recomputed (``check_kata``)."""
    if "faults" not in entry:
        return {}
    return {
        "faults_fixed": sum(f["fixed"] for f in entry["faults"]),
        "faults_total": len(entry["faults"]),
    }


def _first_start(clock: ServerClock, first: datetime | None) -> ServerClock:
    """The server clock from the first start GitHub was seen to time for the pull request,
    when an earlier publish saw one before what the grade runs listed now show."""
    if first is None or (clock.started is not None and clock.started <= first):
        return clock
    if clock.greened is None:
        return replace(clock, started=first)
    return ServerClock(
        int((clock.greened - first).total_seconds()),
        None,
        first,
        clock.greened,
        None,
    )


def _hidden_verdict(
    kata: Kata, entry: dict, head: str, hidden_report: dict | None
) -> tuple[dict, list[str]]:
    """A sealed cohort's verdict: the hidden tests never come from the grade run (which
    has no key), only from the publish workflow's own run with the key (``hidden_report``,
    written by trusted code); without it the result does not rank."""
    from grader.grading import sealed

    if not sealed.is_sealed(kata):
        return entry, []
    if hidden_report is None:
        return entry, [
            "hidden tests not run: this cohort's hidden tests are sealed and run only in the "
            "publish workflow's hidden job, with the key; it wrote no report for this head "
            "(its log says why: the key missing or wrong, or the run failed)"
        ]
    if hidden_report["isolation"] != "full":
        return entry, [
            f"hidden tests not run fully isolated (isolation {hidden_report['isolation']!r}): "
            "the candidate's code could have read the unsealed answers"
        ]
    if hidden_report["head"] != head:
        return entry, [
            f"hidden tests not run: the hidden run graded {hidden_report['head'][:12]}, "
            f"not {head[:12]}"
        ]
    ran = next((k for k in hidden_report["katas"] if k["id"] == kata.id), None)
    if (
        ran is None
        or ran.get("hidden_tests") != "ran"
        or not any(t["hidden"] for t in ran["tests"])
    ):
        return entry, [f"hidden tests not run: the hidden run has no hidden tests of {kata.id}"]
    # the trusted run's report (visible and hidden tests, green commit, reasons) replaces
    # the untrusted one, and is checked against git like it
    return ran, []
