"""``kata publish``: turn a grade run's artifact into a PR comment and leaderboard results.

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

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from grader import attempt
from grader.badges import shields_url
from grader.catalogue import CatalogueError, Kata
from grader.gitdata import Commit, GitError, Repo
from grader.report import (
    ReportError,
    code_block,
    escape_text,
    format_duration,
    loads_strict,
    read_report,
)

MARKER = "<!-- kata-grade: one comment per pull request, updated on every push -->"
LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?$")
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
SERVER_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
SHA = re.compile(r"^[0-9a-f]{40}$")
ARTIFACT_FILES = frozenset({"report.json", "pr-number", "outcome"})
OUTCOMES = ("graded", "nothing-to-grade", "error")
MAX_SMALL_FILE = 64
MAX_RUNS_BYTES = 5_000_000
MAX_RUNS = 10_000
MAX_REASONS = 20
MAX_REASON_CHARS = 300
MAX_TEST_ROWS = 30


class PublishError(Exception):
    """The artifact (or what it claims) is refused; nothing is recorded."""


# --- untrusted inputs ---------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    outcome: str  # graded | nothing-to-grade | error
    pr: int | None  # the PR number the grade run wrote; None when only a report was given
    report: dict | None


def _small_text(path: Path) -> str:
    if path.is_symlink() or not path.is_file():
        raise PublishError(f"artifact: {path.name} is missing or not a regular file")
    with path.open("rb") as handle:
        data = handle.read(MAX_SMALL_FILE + 1)
    if len(data) > MAX_SMALL_FILE:
        raise PublishError(f"artifact: {path.name} is longer than {MAX_SMALL_FILE} bytes")
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise PublishError(f"artifact: {path.name} is not ASCII text") from None


def read_artifact(folder: Path) -> Artifact:
    """The grade run's artifact folder: ``pr-number``, ``outcome`` and, when graded,
    ``report.json``; anything else is refused."""
    if folder.is_symlink() or not folder.is_dir():
        raise PublishError(f"artifact: {folder} is not a folder (did the grade run upload it?)")
    names = sorted(p.name for p in folder.iterdir())
    unexpected = [n for n in names if n not in ARTIFACT_FILES]
    if unexpected:
        shown = ", ".join(repr(n[:60]) for n in unexpected[:5])
        raise PublishError(f"artifact: unexpected entries {shown}")
    number = _small_text(folder / "pr-number")
    if not re.fullmatch(r"[1-9]\d{0,8}", number):
        raise PublishError(f"artifact: pr-number {number[:20]!r} is not a pull request number")
    outcome = _small_text(folder / "outcome")
    if outcome not in OUTCOMES:
        raise PublishError(f"artifact: outcome {outcome[:20]!r} is not one of {OUTCOMES}")
    report_path = folder / "report.json"
    report = None
    if report_path.exists() or report_path.is_symlink():
        if report_path.is_symlink() or not report_path.is_file():
            raise PublishError("artifact: report.json is not a regular file")
        try:
            report = read_report(report_path)
        except ReportError as exc:
            raise PublishError(str(exc).replace(str(folder), "artifact")) from None
    if (outcome == "graded") != (report is not None):
        raise PublishError(
            f"artifact: outcome {outcome!r} but report.json is {'' if report else 'not '}there"
        )
    return Artifact(outcome, int(number), report)


def report_artifact(path: Path) -> Artifact:
    """A bare report file (local use, or a workflow that uploads only the report)."""
    try:
        return Artifact("graded", None, read_report(path))
    except ReportError as exc:
        raise PublishError(str(exc)) from None


@dataclass(frozen=True)
class GradeRun:
    id: int
    head_sha: str
    created_at: datetime


def _timestamp(value: object, where: str) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise PublishError(f"{where}: created_at is not a timestamp")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise PublishError(f"{where}: created_at {value[:40]!r} is not ISO 8601") from None
    if when.tzinfo is None:
        raise PublishError(f"{where}: created_at {value!r} has no time zone")
    return when.astimezone(UTC)


def read_runs(path: Path) -> list[GradeRun]:
    """Grade workflow runs as the GitHub API lists them (``id``, ``head_sha``,
    ``created_at``): a JSON array or one object per line.  Checked, not trusted."""
    if path.stat().st_size > MAX_RUNS_BYTES:
        raise PublishError(f"{path.name}: larger than {MAX_RUNS_BYTES} bytes")
    text = path.read_text(encoding="utf-8", errors="strict")
    try:
        if text.lstrip().startswith("["):
            items = loads_strict(text)
        else:
            items = [loads_strict(line) for line in text.splitlines() if line.strip()]
    except ValueError as exc:
        raise PublishError(f"{path.name}: not valid JSON: {exc}") from None
    if not isinstance(items, list) or len(items) > MAX_RUNS:
        raise PublishError(f"{path.name}: expected a list of at most {MAX_RUNS} runs")
    runs = []
    for number, item in enumerate(items, 1):
        where = f"{path.name}: run {number}"
        if not isinstance(item, dict):
            raise PublishError(f"{where}: not an object")
        run_id, sha = item.get("id"), item.get("head_sha")
        if not isinstance(run_id, int) or isinstance(run_id, bool) or run_id < 1:
            raise PublishError(f"{where}: id is not a positive integer")
        if not isinstance(sha, str) or not SHA.match(sha):
            raise PublishError(f"{where}: head_sha is not a commit id")
        runs.append(GradeRun(run_id, sha, _timestamp(item.get("created_at"), where)))
    return runs


# --- git checks ---------------------------------------------------------------------


def _is_commit(repo: Repo, sha: str) -> bool:
    return bool(SHA.match(sha)) and _succeeds(repo, "cat-file", "-e", f"{sha}^{{commit}}")


def _is_ancestor(repo: Repo, ancestor: str, descendant: str) -> bool:
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
    ours = [
        r for r in runs if _is_commit(repo, r.head_sha) and _is_ancestor(repo, r.head_sha, head)
    ]
    saw_start = sorted(
        (r for r in ours if _is_ancestor(repo, start, r.head_sha)),
        key=lambda r: (r.created_at, r.id),
    )
    if not saw_start:
        return ServerClock(None, None, None, None, "no grade run saw the start marker")
    first = saw_start[0]
    if green is None:
        return ServerClock(None, None, first.created_at, None, None)
    saw_green = [r for r in saw_start if _is_ancestor(repo, green, r.head_sha)]
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


def check_kata(repo: Repo, kata: Kata, entry: dict, head: str, fork_point: str) -> Checked:
    """Recompute start, attempts, hints, give-up, commit clock and diff from git."""
    start = repo.find_start(head, kata.id)
    origin = start.sha if start else fork_point
    green = None
    if entry["status"] == "green":
        sha = entry["green_commit"]
        if sha is None or not _is_commit(repo, sha):
            raise PublishError(f"{kata.id}: green, but the green commit is not in the repository")
        if not (_is_ancestor(repo, origin, sha) and _is_ancestor(repo, sha, head)):
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
    measures = attempt.measure(repo, kata, origin, green.sha if green else head)
    size, hints, gave_up = measures.diff, measures.hints_used, measures.gave_up
    commit_time = green.time - start.time if green and start else None
    reasons = []
    if commit_time is not None and commit_time < 0:
        reasons.append("the green commit is dated before the start marker")
        commit_time = None
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
    if gave_up and not any(r.startswith("gave up") for r in entry["unranked_reasons"]):
        reasons.append("gave up: the reference fix was shown before green")
    fixed = {**entry, **ours, "diff": {**entry["diff"], **git_diff}}
    return Checked(kata, fixed, start, green, reasons)


# --- publishing ---------------------------------------------------------------------


@dataclass
class Section:
    checked: Checked
    result: dict
    clock: ServerClock
    rank: tuple[int, int] | None  # (position, of) among ranked users; None if not ranked


@dataclass
class Publication:
    comment: str
    results: list[dict]
    sections: list[Section]


@dataclass(frozen=True)
class Context:
    """Where the comment points: trusted values from the workflow, all checked."""

    pr: int
    user: str
    run_id: int = 0
    repository: str | None = None
    server_url: str = "https://github.com"
    leaderboard_branch: str = "leaderboard"

    def __post_init__(self):
        if not LOGIN.match(self.user):
            raise PublishError(f"user {self.user[:60]!r} is not a GitHub login")
        if not 1 <= self.pr <= 999_999_999:
            raise PublishError(f"pull request number {self.pr} is out of range")
        if not 0 <= self.run_id <= 999_999_999_999_999:
            raise PublishError(f"run id {self.run_id} is out of range")
        if self.repository is not None and not REPOSITORY.match(self.repository):
            raise PublishError(f"repository {self.repository[:100]!r} is not OWNER/NAME")
        if not SERVER_URL.match(self.server_url):
            raise PublishError(f"server URL {self.server_url[:100]!r} is not a plain http(s) host")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}", self.leaderboard_branch):
            raise PublishError(f"branch {self.leaderboard_branch[:100]!r} is not a branch name")

    @property
    def run_url(self) -> str | None:
        if not (self.repository and self.run_id):
            return None
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    @property
    def leaderboard_url(self) -> str | None:
        if not self.repository:
            return None
        return f"{self.server_url}/{self.repository}/blob/{self.leaderboard_branch}/README.md"


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
) -> Publication:
    """Check the artifact against git and GitHub's event, and build comment and results.

    ``head_sha`` is the head GitHub's event names (required in CI); ``trusted_base`` is
    the base repository's branch in ``repo``, into which the PR head was fetched as data.
    Results are added to ``leaderboard`` (a folder) when given.
    """
    from grader import leaderboard as boards

    if artifact.pr is not None and artifact.pr != context.pr:
        raise PublishError(
            f"artifact: pr-number {artifact.pr} differs from pull request #{context.pr}, "
            "the one GitHub's event names"
        )
    if artifact.report is None:
        return Publication(_status_comment(artifact.outcome, context), [], [])
    report = artifact.report
    head = head_sha or report["head"]
    if not SHA.match(head):
        raise PublishError(f"head {head[:50]!r} is not a commit id")
    if report["head"] != head:
        raise PublishError(
            f"report: head {report['head'][:12]} is not {head[:12]}, the head this run graded"
        )
    if not _is_commit(repo, head):
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
    fork_point = merge_base
    if _is_commit(repo, report["base"]) and _is_ancestor(repo, report["base"], base):
        fork_point = repo.merge_base(report["base"], head)
    else:
        common.append(
            f"graded against base {report['base'][:12]}, which is not on the base repository's "
            "branch"
        )
    touched = repo.changed_paths(merge_base, head)
    editable = {f"katas/{i}/{name}" for i in ids for name in by_id[i].files}
    protected = [path for path in touched if path not in editable]
    sections = []
    for entry in report["katas"]:
        kata = by_id[entry["id"]]
        checked = check_kata(repo, kata, entry, head, fork_point)
        mine = ", ".join(f"katas/{kata.id}/{name}" for name in kata.files)
        reasons = list(entry["unranked_reasons"]) + common + checked.reasons
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
            "ranked": not capped,
            "unranked_reasons": capped,
            "tests_passed": sum(1 for t in tests if t["status"] == "pass"),
            "tests_total": len(tests),
            "hints_used": checked.entry["hints_used"],
            "attempts": checked.entry["attempts"],
            "diff": {
                **{k: checked.entry["diff"][k] for k in ("added", "removed", "total", "tokens")},
                "reference_total": _reference_total(kata, entry),
            },
            "commit_time_s": checked.entry["time_to_green_s"],
            "server_time_s": clock.seconds,
            "grade_runs": clock.runs if clock.seconds is not None else None,
            "clock": which,
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
    return Publication(_comment(sections, context, leaderboard is not None), results, sections)


def _reference_total(kata: Kata, entry: dict) -> int | None:
    """The reference fix's size measured on the trusted, pristine kata (display only);
    the report's number when the trusted checkout cannot measure it."""
    import tempfile

    from grader import patches

    try:
        with tempfile.TemporaryDirectory(prefix="kata-publish-") as tmp:
            size = patches.reference_size(kata, Path(tmp))
    except (CatalogueError, OSError):  # e.g. a seal whose blobs are not here: only shown
        size = None
    return size if size is not None else entry["diff"]["reference_total"]


# --- the comment --------------------------------------------------------------------


def _badge(label: str, message: str, color: str) -> str:
    return f"![{escape_text(f'{label}: {message}')}]({shields_url(label, message, color)})"


def _badges(section: Section, ranked_board: bool) -> str:
    result, kata = section.result, section.checked.kata
    status_color = {"green": "brightgreen", "red": "red", "error": "orange"}[result["status"]]
    badges = [_badge("status", result["status"], status_color)]
    seconds = _time(result)
    if seconds is None:
        badges.append(
            _badge(
                "time to green",
                "not timed" if result["status"] == "green" else "not green yet",
                "lightgrey",
            )
        )
    else:
        color = "brightgreen" if seconds <= kata.budget_minutes * 60 else "yellow"
        badges.append(
            _badge("time to green", f"{format_duration(seconds)} ({result['clock']} clock)", color)
        )
    total, ref = result["diff"]["total"], result["diff"]["reference_total"]
    if ref is None:
        badges.append(_badge("diff", f"{total} lines", "blue"))
    else:
        color = "brightgreen" if total <= ref else "yellow" if total <= 3 * ref else "orange"
        badges.append(_badge("diff vs reference", f"{total} vs {ref} lines", color))
    hints = result["hints_used"]
    badges.append(_badge("hints", str(hints), "brightgreen" if hints == 0 else "yellow"))
    if ranked_board:
        if section.rank:
            position, of = section.rank
            badges.append(_badge(f"rank on {kata.id}", f"{position} of {of}", "blue"))
        else:
            badges.append(_badge(f"rank on {kata.id}", "unranked", "lightgrey"))
    return " ".join(badges)


def _time(result: dict) -> int | None:
    if result["clock"] == "server":
        return result["server_time_s"]
    if result["clock"] == "commit":
        return result["commit_time_s"]
    return None


def _first_line(text: str, limit: int = 120) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return escape_text(line if len(line) <= limit else line[: limit - 1] + "…")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def _section_lines(section: Section, ranked_board: bool, context: Context) -> list[str]:
    result, entry, kata = section.result, section.checked.entry, section.checked.kata
    clock = section.clock
    lines = [
        f"### {escape_text(kata.id)}: {escape_text(kata.title)}",
        "",
        _badges(section, ranked_board),
        "",
        f"**{result['status']}**: {escape_text(entry['message'])} · topic "
        f"{escape_text(kata.topic)} · budget {kata.budget_minutes} min",
        "",
        "| test | result |",
        "|---|---|",
    ]
    tests = entry["tests"]
    failing_first = sorted(tests, key=lambda t: t["status"] == "pass")
    for test in failing_first[:MAX_TEST_ROWS]:
        name = escape_text(test["name"]) + (" (hidden)" if test["hidden"] else "")
        if test["status"] == "pass":
            lines.append(f"| {name} | ✅ pass |")
        else:
            message = _first_line(test["message"])
            lines.append(f"| {name} | ❌ {test['status']}{': ' + message if message else ''} |")
    if len(tests) > MAX_TEST_ROWS:
        lines.append(f"| … {len(tests) - MAX_TEST_ROWS} more | |")
    lines.append("")
    if result["status"] == "green":
        commit = format_duration(result["commit_time_s"])
        if clock.seconds is not None:
            lines.append(
                f"- Time to green: **{format_duration(clock.seconds)}** on the server clock "
                f"(GitHub saw the start marker at {_when(clock.started)} and the green commit "
                f"at {_when(clock.greened)}; {clock.runs} grade "
                f"run{'s' if clock.runs != 1 else ''} until green). "
                f"Commit clock (self-reported): {commit}."
            )
        else:
            why = f" ({escape_text(clock.note)})" if clock.note else ""
            lines.append(
                f"- Time to green: **{commit}** on the commit clock (self-reported); "
                f"no server time{why}."
            )
    diff = result["diff"]
    ref = diff["reference_total"]
    lines.append(
        f"- Diff: {diff['total']} lines ({diff['added']} added, {diff['removed']} removed), "
        f"{diff['tokens']} tokens"
        + (f"; the reference fix is {ref} lines." if ref is not None else ".")
        + f" Attempts: {result['attempts']}. Hints: {result['hints_used']}."
    )
    if result["ranked"]:
        where = f" on {escape_text(kata.id)}" if section.rank else ""
        rank = f", rank {section.rank[0]} of {section.rank[1]}{where}" if section.rank else ""
        lines.append(f"- Ranked{rank}.")
    else:
        lines.append("- **Unranked**:")
        lines += [f"  - {escape_text(reason)}" for reason in result["unranked_reasons"]]
    for note in entry["notes"]:
        lines.append(f"- Note: {escape_text(note)}")
    return lines


def _footer(context: Context) -> list[str]:
    links = []
    if context.run_url:
        links.append(f"[grade run]({context.run_url})")
    if context.leaderboard_url:
        links.append(f"[leaderboard]({context.leaderboard_url})")
    tail = " · ".join(links)
    return [
        "",
        "<sub>One comment per pull request, updated on every push. "
        "Ranking: green first, then time to green, then diff tokens."
        + (f" {tail}" if tail else "")
        + "</sub>",
    ]


def _comment(sections: list[Section], context: Context, ranked_board: bool) -> str:
    head = sections[0].result["head"][:12] if sections else ""
    lines = [MARKER, f"## Kata grade for `{head}`"]
    for section in sections:
        lines += ["", *_section_lines(section, ranked_board, context)]
    return "\n".join(lines + _footer(context)) + "\n"


def _status_comment(outcome: str, context: Context) -> str:
    if outcome == "nothing-to-grade":
        body = [
            "## Kata grade: nothing to grade",
            "",
            "No kata's files changed in this pull request. Run `kata start ID`, push the "
            "start marker, then commit your fix to the kata's files and push: this comment "
            "will show the result.",
        ]
    else:
        body = [
            "## Kata grade: the grader could not run",
            "",
            "The grade run ended without a report; its log says why. Push again to retry.",
        ]
    return "\n".join([MARKER, *body, *_footer(context)]) + "\n"


def refusal_comment(reason: str, context: Context | None) -> str:
    """The comment for a refused artifact: the reason in a code block, nothing ranked."""
    body = [
        MARKER,
        "## Kata grade: not published",
        "",
        "The grade run's artifact was refused, so nothing was recorded on the leaderboard:",
        "",
        code_block(reason[:2000]),
        "",
        "A pull request that changes the workflows or the grader cannot publish results; "
        "otherwise, push again to re-run the grader.",
    ]
    return "\n".join(body + (_footer(context) if context else [])) + "\n"
