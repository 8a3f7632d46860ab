"""What a publish run is given: the grade run's artifact and GitHub's list of grade runs,
both written by a run that executed pull-request code, so read as untrusted data (known
files only, sizes bounded, schema-checked); and the workflow's own context, checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from grader.grading.report import ReportError, loads_strict, read_report

LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?$")
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
SERVER_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$")
SHA = re.compile(r"^[0-9a-f]{40}$")
ARTIFACT_FILES = frozenset({"report.json", "pr-number", "outcome"})
OUTCOMES = ("graded", "nothing-to-grade", "error")
MAX_SMALL_FILE = 64
MAX_RUNS_BYTES = 5_000_000
MAX_RUNS = 10_000


class PublishError(Exception):
    """The artifact (or what it claims) is refused; nothing is recorded."""


class OtherPullRequest(PublishError):
    """The artifact is another pull request's (one with the same head): nothing is
    recorded, and the event's pull request keeps its comment."""


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
