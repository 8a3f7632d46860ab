"""The leaderboard: one JSON file per graded run, a README and badges rendered from them,
and a push that never loses a result when several publishes race.

Layout of the leaderboard folder (and of the ``leaderboard`` branch)::

    results/<kata-id>/pr<N>-run<RUN>.json   one graded run (schemas/result.schema.json)
    README.md                               rendered: overall, by topic, per kata
    badges/kata-<id>.svg, badges/user-<login>.svg

Result files are only ever added, each under a name no other run uses, so concurrent
writers never touch the same file; README and badges are regenerated from all results
after every fetch, so they never conflict either.  Ranking on a kata: green first, then
time to green (the server clock when measured, else the commit clock), then diff tokens;
each user appears once, with their best ranked result.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from grader.board.badges import svg
from grader.catalogue.katas import TOPICS, Kata
from grader.grading.report import STATUS_MARK, escape_text, format_duration, loads_strict

SCHEMA_PATH = Path(__file__).parent.parent / "schemas" / "result.schema.json"
MAX_RESULT_BYTES = 64_000
RESULT_NAME = re.compile(r"^pr(\d{1,9})-run(\d{1,15})\.json$")
KATA_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
DEFAULT_BRANCH = "leaderboard"
BOT_NAME = "kata leaderboard"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
_RETRYABLE_PUSH = re.compile(
    r"\[rejected\]|non-fast-forward|fetch first|cannot lock ref|failed to update ref|"
    r"incorrect old value|stale info|unable to create .*\.lock",
    re.IGNORECASE,
)


class LeaderboardError(Exception):
    """A result file is invalid, or the leaderboard could not be pushed."""


def validate_result(result: object, where: str = "result") -> None:
    from grader.grading.report import schema_problems

    problems = schema_problems(SCHEMA_PATH, result, where, limit=1)
    if problems:
        raise LeaderboardError(problems[0])


def result_path(result: dict) -> Path:
    """Where a result lives, relative to the leaderboard folder: built only from
    schema-checked fields (a kata id pattern and integers), never from free text."""
    validate_result(result)
    return Path("results") / result["kata"] / f"pr{result['pr']}-run{result['run_id']}.json"


def dump_result(result: dict) -> str:
    return json.dumps(result, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_result(folder: Path, result: dict) -> Path:
    path = folder / result_path(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_result(result))
    return path


def read_result(path: Path, root: Path) -> dict:
    """A result file, checked: a regular file, size-bounded, schema-valid, and stored
    under the name its own fields give."""
    where = str(path.relative_to(root))
    if path.is_symlink() or not path.is_file():
        raise LeaderboardError(f"{where}: not a regular file")
    if path.stat().st_size > MAX_RESULT_BYTES:
        raise LeaderboardError(f"{where}: larger than {MAX_RESULT_BYTES} bytes")
    try:
        data = loads_strict(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise LeaderboardError(f"{where}: not valid JSON: {exc}") from None
    validate_result(data, where)
    expected = result_path(data)
    if path.relative_to(root) != expected:
        raise LeaderboardError(f"{where}: its fields say it belongs at {expected}")
    return data


def load_results(root: Path) -> tuple[list[dict], list[str]]:
    """Every result under ``root/results`` and a problem line for each file skipped."""
    results, problems = [], []
    folder = root / "results"
    if not folder.is_dir():
        return [], []
    for kata_dir in sorted(folder.iterdir()):
        if not kata_dir.is_dir() or kata_dir.is_symlink() or not KATA_ID.match(kata_dir.name):
            problems.append(f"{kata_dir.relative_to(root)}: not a kata folder")
            continue
        for path in sorted(kata_dir.iterdir()):
            try:
                results.append(read_result(path, root))
            except LeaderboardError as exc:
                problems.append(str(exc))
    return results, problems


# --- ranking ------------------------------------------------------------------------


def ranking_time(result: dict) -> int | None:
    """The time that ranks a result: the clock it names (server when measured)."""
    if result["clock"] == "server":
        return result["server_time_s"]
    if result["clock"] == "commit":
        return result["commit_time_s"]
    return None


def sort_key(result: dict) -> tuple:
    """Green first, then time to green (untimed last), then diff tokens; hints and
    the PR number only break ties, so the order is total and stable."""
    seconds = ranking_time(result)
    return (
        result["status"] != "green",
        seconds is None,
        seconds or 0,
        result["diff"]["tokens"],
        result["hints_used"],
        result["pr"],
        result["run_id"],
    )


@dataclass
class Standing:
    kata: str
    ranked: list[dict] = field(default_factory=list)  # each user's best ranked result
    unranked: list[dict] = field(default_factory=list)  # each user's latest unranked one

    def rank_of(self, user: str) -> int | None:
        for position, result in enumerate(self.ranked, 1):
            if result["user"] == user:
                return position
        return None


def standing(results: list[dict], kata: str) -> Standing:
    best: dict[str, dict] = {}
    latest_unranked: dict[str, dict] = {}
    for result in results:
        if result["kata"] != kata:
            continue
        user = result["user"]
        if result["ranked"]:
            if user not in best or sort_key(result) < sort_key(best[user]):
                best[user] = result
        elif user not in latest_unranked or (result["pr"], result["run_id"]) > (
            latest_unranked[user]["pr"],
            latest_unranked[user]["run_id"],
        ):
            latest_unranked[user] = result
    return Standing(
        kata,
        sorted(best.values(), key=sort_key),
        sorted(latest_unranked.values(), key=lambda r: (r["user"], r["pr"], r["run_id"])),
    )


@dataclass
class Overall:
    user: str
    solved: list[dict]  # the user's best green ranked result per kata

    @property
    def median_s(self) -> float | None:
        times = [t for t in map(ranking_time, self.solved) if t is not None]
        return statistics.median(times) if times else None

    @property
    def diff_lines(self) -> int:
        return sum(r["diff"]["total"] for r in self.solved)

    @property
    def reference_lines(self) -> int | None:
        refs = [r["diff"]["reference_total"] for r in self.solved]
        return None if not refs or None in refs else sum(refs)

    @property
    def tokens(self) -> int:
        return sum(r["diff"]["tokens"] for r in self.solved)

    @property
    def hints(self) -> int:
        return sum(r["hints_used"] for r in self.solved)

    def key(self) -> tuple:
        median = self.median_s
        return (-len(self.solved), median is None, median or 0, self.tokens, self.user)


def overall(results: list[dict]) -> list[Overall]:
    """Users by katas solved (green and ranked), then median time, then total tokens."""
    solved: dict[str, list[dict]] = {}
    for kata in sorted({r["kata"] for r in results}):
        for result in standing(results, kata).ranked:
            if result["status"] == "green":
                solved.setdefault(result["user"], []).append(result)
    return sorted((Overall(user, rs) for user, rs in solved.items()), key=Overall.key)


# --- rendering ----------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    return format_duration(None if seconds is None else round(seconds))


def _diff_cell(result: dict) -> str:
    ref = result["diff"]["reference_total"]
    return f"{result['diff']['total']}" + (f" (ref {ref})" if ref is not None else "")


def _user_file(user: str) -> str:
    return "user-" + re.sub(r"[^A-Za-z0-9-]", "_", user) + ".svg"


def _kata_order(katas: set[str], catalogue: list[Kata] | None) -> list[str]:
    known = [k.id for k in catalogue or [] if k.id in katas]
    return known + sorted(katas - set(known))


RANKING_RULE = (
    "On each kata, every user's best ranked result counts: **green first**, then "
    "**time to green**, then **diff tokens** (Python tokens changed; hints and the PR "
    "number only break ties). Overall: katas solved (green and ranked), then the median "
    "time to green, then total diff tokens. A result is *unranked*, and listed apart with "
    "its reasons, when the pull request changed anything but the kata's editable files, "
    "added suspicious code, gave up before green, or disagreed with what git shows."
)
CLOCK_RULE = (
    "Time to green is ranked on the **server clock** when it was measured: GitHub's "
    "creation time of the first grade run that saw the `Kata-Start` marker to that of the "
    "first grade run that saw the first green commit (so push the start marker before you "
    "start). Otherwise the **commit clock** ranks it: committer times, which the "
    "committer's own clock sets (self-reported). The *clock* column says which."
)


def render_readme(
    results: list[dict], catalogue: list[Kata] | None = None, problems: list[str] = ()
) -> str:
    titles = {k.id: k.title for k in catalogue or []}
    lines = [
        "# Kata leaderboard",
        "",
        "Rendered by `kata leaderboard push` from the files in `results/` (one per graded "
        "run); edits to this file are overwritten.",
        "",
        RANKING_RULE,
        "",
        CLOCK_RULE,
        "",
        "## Overall",
        "",
    ]
    table = overall(results)
    if table:
        lines += [
            "| rank | user | katas solved | median time to green | diff lines (reference) "
            "| diff tokens | hints |",
            "|---|---|---|---|---|---|---|",
        ]
        for position, row in enumerate(table, 1):
            ref = row.reference_lines
            lines.append(
                f"| {position} | {escape_text(row.user)} "
                f"| {len(row.solved)} | {_duration(row.median_s)} "
                f"| {row.diff_lines}{f' ({ref})' if ref is not None else ''} "
                f"| {row.tokens} | {row.hints} |"
            )
        lines += ["", "### By topic", ""]
        totals = {t: sum(1 for k in catalogue or [] if k.topic == t) for t in TOPICS}
        topics = [t for t in TOPICS if totals[t] or any(r["topic"] == t for r in results)]
        lines.append("| user | " + " | ".join(topics) + " |")
        lines.append("|---|" + "---|" * len(topics))
        for row in table:
            cells = []
            for topic in topics:
                done = sum(1 for r in row.solved if r["topic"] == topic)
                cells.append(f"{done}/{totals[topic]}" if totals[topic] else str(done))
            lines.append(f"| {escape_text(row.user)} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Each user's badge is `badges/user-<login>.svg` on this branch, and each kata's "
            "`badges/kata-<id>.svg`.",
        ]
    else:
        lines.append("No kata solved yet.")
    for kata in _kata_order({r["kata"] for r in results}, catalogue):
        ranks = standing(results, kata)
        title = f": {escape_text(titles[kata])}" if kata in titles else ""
        lines += ["", f"## {escape_text(kata)}{title}", "", f"![{kata}](badges/kata-{kata}.svg)"]
        if ranks.ranked:
            lines += [
                "",
                "| rank | user | status | time to green | clock | diff lines | diff tokens "
                "| hints | grade runs | PR |",
                "|---|---|---|---|---|---|---|---|---|---|",
            ]
            for position, r in enumerate(ranks.ranked, 1):
                lines.append(
                    f"| {position} | {escape_text(r['user'])} "
                    f"| {STATUS_MARK[r['status']]} {r['status']} "
                    f"| {_duration(ranking_time(r))} | {r['clock'] or '—'} | {_diff_cell(r)} "
                    f"| {r['diff']['tokens']} | {r['hints_used']} "
                    f"| {r['grade_runs'] if r['grade_runs'] is not None else '—'} | #{r['pr']} |"
                )
        if ranks.unranked:
            lines += ["", "Unranked (latest per user):", ""]
            lines += ["| user | status | PR | why |", "|---|---|---|---|"]
            for r in ranks.unranked:
                why = "; ".join(escape_text(reason) for reason in r["unranked_reasons"])
                lines.append(
                    f"| {escape_text(r['user'])} | {STATUS_MARK[r['status']]} {r['status']} "
                    f"| #{r['pr']} | {why or '—'} |"
                )
    if problems:
        lines += ["", "## Skipped files", ""]
        lines += [f"- {escape_text(problem)}" for problem in problems]
    return "\n".join(lines) + "\n"


def render_badges(results: list[dict]) -> dict[str, str]:
    """``badges/<name>`` -> SVG text: one per kata with results, one per user solving."""
    badges = {}
    for kata in sorted({r["kata"] for r in results}):
        solvers = sum(1 for r in standing(results, kata).ranked if r["status"] == "green")
        color = "brightgreen" if solvers else "lightgrey"
        badges[f"kata-{kata}.svg"] = svg(kata, f"solved by {solvers}", color)
    for row in overall(results):
        count = len(row.solved)
        badges[_user_file(row.user)] = svg(
            row.user, f"{count} kata{'s' if count != 1 else ''} solved", "blue"
        )
    return badges


def render(folder: Path, catalogue: list[Kata] | None = None) -> list[dict]:
    """Regenerate README.md and badges/ in ``folder`` from its results; returns them."""
    results, problems = load_results(folder)
    (folder / "README.md").write_text(render_readme(results, catalogue, problems))
    badge_dir = folder / "badges"
    if badge_dir.is_dir() and not badge_dir.is_symlink():
        shutil.rmtree(badge_dir)
    elif badge_dir.exists() or badge_dir.is_symlink():
        badge_dir.unlink()
    badge_dir.mkdir()
    for name, text in render_badges(results).items():
        (badge_dir / name).write_text(text)
    return results


# --- pushing ------------------------------------------------------------------------


@dataclass
class PushOutcome:
    added: int  # result files new or changed on the branch
    attempts: int
    commit: str | None  # None when the branch already held every result
    skipped: list[str] = field(default_factory=list)  # invalid files of the folder, not pushed


def _git(cwd: Path, *args: str, env: dict | None = None, binary: bool = False):
    """Git with hooks and signing off, and English messages (they are matched below)."""
    command = ["git", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=not binary,
        check=False,
        env={**os.environ, "LC_ALL": "C", "LANGUAGE": "", **(env or {})},
    )


def _checked(done: subprocess.CompletedProcess, what: str):
    if done.returncode != 0:
        stderr = done.stderr if isinstance(done.stderr, str) else done.stderr.decode()
        raise LeaderboardError(f"{what}: {stderr.strip()}")
    return done.stdout


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^[^/:]+@[^/:]+:")  # scheme:// or user@host:


def resolve_remote(remote: str, cwd: Path) -> str:
    """What ``push`` can reach from its own temporary repository: a URL as it is, a path
    made absolute, or the URL of a remote *name* of the repository holding ``cwd``
    (``origin``), whose relative URL is relative to that repository."""
    if _URL.match(remote):
        return remote
    if (cwd / remote).exists():
        return str((cwd / remote).resolve())
    url = _git(cwd, "remote", "get-url", "--", remote)
    if url.returncode == 0:
        url_text = url.stdout.strip()
        if _URL.match(url_text) or Path(url_text).is_absolute():
            return url_text
        top = _git(cwd, "rev-parse", "--show-toplevel").stdout.strip()
        return str((Path(top) / url_text).resolve())
    where = _git(cwd, "rev-parse", "--show-toplevel").stdout.strip() or str(cwd)
    raise LeaderboardError(
        f"--remote {remote!r} is neither a remote of {where} nor a URL or an existing path "
        "(`git remote -v` lists the remotes)"
    )


def _fetch_tip(work: Path, remote: str, branch: str) -> str | None:
    """The branch's tip, fetched; None when the remote has no such branch yet."""
    ref = f"refs/kata/{branch}"
    done = _git(work, "fetch", "-q", "--no-tags", remote, f"+refs/heads/{branch}:{ref}")
    if done.returncode != 0 and "couldn't find remote ref" in done.stderr:
        return None
    _checked(done, "git fetch")
    return _checked(_git(work, "rev-parse", ref), "git rev-parse").strip()


def _extract(work: Path, commit: str, dest: Path) -> None:
    data = _checked(_git(work, "archive", "--format=tar", commit, binary=True), "git archive")
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(dest, filter="data")


def _commit_tree(work: Path, tree_dir: Path, parent: str | None, message: str) -> str | None:
    """A commit of ``tree_dir`` on top of ``parent``; None when nothing changed."""
    index = {
        "GIT_DIR": str(work / ".git"),
        "GIT_WORK_TREE": str(tree_dir),
        "GIT_INDEX_FILE": str(work / "kata-index"),
    }
    (work / "kata-index").unlink(missing_ok=True)
    _checked(_git(tree_dir, "add", "-A", ".", env=index), "git add")
    tree = _checked(_git(tree_dir, "write-tree", env=index), "git write-tree").strip()
    if parent:
        old = _checked(_git(work, "rev-parse", f"{parent}^{{tree}}"), "git rev-parse").strip()
        if old == tree:
            return None
    identity = {
        "GIT_AUTHOR_NAME": BOT_NAME,
        "GIT_AUTHOR_EMAIL": BOT_EMAIL,
        "GIT_COMMITTER_NAME": BOT_NAME,
        "GIT_COMMITTER_EMAIL": BOT_EMAIL,
    }
    parents = ["-p", parent] if parent else []
    done = _git(work, "commit-tree", tree, *parents, "-m", message, env=identity)
    return _checked(done, "git commit-tree").strip()


def push(
    folder: Path,
    remote: str,
    branch: str = DEFAULT_BRANCH,
    *,
    catalogue: list[Kata] | None = None,
    attempts: int = 30,
    sleep: Callable[[float], None] = time.sleep,
) -> PushOutcome:
    """Add every valid result of ``folder`` to ``branch`` of ``remote`` and re-render.

    Invalid files in ``folder`` are skipped and listed in the outcome (they can only
    come from the branch itself, e.g. a hand edit: ``kata publish`` validates what it
    writes), so one bad file never blocks every later publish.
    Each attempt starts from the branch as it is now (an orphan branch if it does not
    exist yet), adds the results, renders README and badges from all results and pushes
    without force.  A push that lost a race is retried after a random, growing pause, up
    to ``attempts`` times; any other failure stops at once.
    """
    if not BRANCH.match(branch) or ".." in branch:
        raise LeaderboardError(f"branch {branch!r}: use letters, digits, '.', '-', '_' or '/'")
    new, skipped = load_results(folder)
    texts = {result_path(r): dump_result(r) for r in new}
    last_error = ""
    with tempfile.TemporaryDirectory(prefix="kata-leaderboard-") as tmp:
        work = Path(tmp) / "repo"
        work.mkdir()
        _checked(_git(work, "init", "-q"), "git init")
        for attempt in range(1, attempts + 1):
            parent = _fetch_tip(work, remote, branch)
            tree_dir = Path(tmp) / f"tree-{attempt}"
            tree_dir.mkdir()
            if parent:
                _extract(work, parent, tree_dir)
            added = 0
            for rel, text in texts.items():
                target = tree_dir / rel
                if not target.is_file() or target.read_text() != text:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(text)
                    added += 1
            render(tree_dir, catalogue)
            message = f"Leaderboard: {added} result{'s' if added != 1 else ''} added, re-rendered"
            commit = _commit_tree(work, tree_dir, parent, message)
            if commit is None:
                return PushOutcome(0, attempt, None, skipped)
            done = _git(work, "push", "-q", remote, f"{commit}:refs/heads/{branch}")
            if done.returncode == 0:
                return PushOutcome(added, attempt, commit, skipped)
            last_error = done.stderr.strip()
            if not _RETRYABLE_PUSH.search(last_error):
                raise LeaderboardError(f"git push: {last_error}")
            shutil.rmtree(tree_dir)
            sleep(random.uniform(0, min(2.0, 0.05 * 2 ** min(attempt, 6))))
    raise LeaderboardError(
        f"gave up after {attempts} attempts: every push lost a race; last error: {last_error}"
    )
