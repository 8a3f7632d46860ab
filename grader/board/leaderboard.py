"""The leaderboard: one JSON file per graded run; a README, badges and a web page rendered
from them; and pushes that never lose a result when many publishes race.

Layout of the leaderboard folder (and of the ``leaderboard`` branch)::

    results/<kata-id>/pr<N>-run<RUN>.json   one graded run (schemas/result.schema.json)
    README.md                               rendered: overall, by topic, per kata
    badges/kata-<id>.svg, badges/user-<login>.svg
    index.html, users/, charts/, ...        rendered: the page (grader/board/page.py)

Result files are only ever added, each under a name no other run uses, so concurrent
writers never touch the same file.  Publishing is split in two so that it scales: each
publish *records* its results (``record``): one small commit holding only its result
files, pushed to a ref no other run writes, ``<branch>-inbox/pr<N>-run<RUN>``: no fetch,
no checkout, no race, so nothing waits or retries however many publishes run at once.
One aggregating job *renders* (``render_branch``): it merges the inbox into the branch,
renders README, badges and page from all results, pushes, and only then deletes the
records it merged; one render runs at a time.  ``push`` does both in one commit on the
branch (for local use and small setups), retrying when it loses a race.  Ranking lives
in ``grader.board.ranking``.

Every result is checked against the schema once when it is read, by a compiled validator
(fastjsonschema, about 10 µs a result); only an invalid one goes through the full
validator, to say what is wrong.  Files on the branch are checked on read rather than
trusted because people with write access edit the branch by hand (to remove a result),
and one bad file must be skipped, never rendered and never block a publish.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import fastjsonschema

from grader.board.badges import svg
from grader.board.page import duration, render_page, user_file
from grader.board.ranking import (
    Overall,
    Standing,
    overall,
    ranking_time,
    sort_key,
    standing,
    standings,
    status_label,
)
from grader.catalogue.katas import TOPICS, Kata
from grader.catalogue.renames import current_id
from grader.grading.report import STATUS_MARK, escape_text, loads_strict

__all__ = [
    "LeaderboardError",
    "Overall",
    "PushOutcome",
    "Standing",
    "load_results",
    "overall",
    "push",
    "ranking_time",
    "render",
    "render_branch",
    "render_readme",
    "sort_key",
    "standing",
    "standings",
    "validate_result",
    "write_result",
]

SCHEMA_PATH = Path(__file__).parent.parent / "schemas" / "result.schema.json"
MAX_RESULT_BYTES = 64_000
KATA_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
PAGE_URL = re.compile(r"^https://[A-Za-z0-9.-]+(/[A-Za-z0-9._~/-]*)?$")
DEFAULT_BRANCH = "leaderboard"
BOT_NAME = "kata leaderboard"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
RENDERED_DIRS = ("badges", "users", "charts")  # wholly rendered: stale files are removed
MAX_PAUSE_S = 10.0  # the longest pause between two attempts to push
_RETRYABLE_PUSH = re.compile(
    r"\[rejected\]|non-fast-forward|fetch first|cannot lock ref|failed to update ref|"
    r"incorrect old value|stale info|unable to create .*\.lock",
    re.IGNORECASE,
)


class LeaderboardError(Exception):
    """A result file is invalid, or the leaderboard could not be pushed."""


@cache
def _compiled_check() -> Callable[[object], object]:
    return fastjsonschema.compile(json.loads(SCHEMA_PATH.read_text()))


def validate_result(result: object, where: str = "result") -> None:
    """Raise ``LeaderboardError`` (``where: field: problem``) unless ``result`` is valid."""
    try:
        _compiled_check()(result)
    except fastjsonschema.JsonSchemaException as exc:
        from grader.grading.report import schema_problems

        # the full validator words the problem; the compiled one is a little stricter
        # (its pattern `$` does not match before a final newline), so fall back to it
        problems = schema_problems(SCHEMA_PATH, result, where, limit=1)
        raise LeaderboardError(problems[0] if problems else f"{where}: {exc}") from None


def _path_of(result: dict) -> Path:
    return Path("results") / result["kata"] / f"pr{result['pr']}-run{result['run_id']}.json"


def result_path(result: dict) -> Path:
    """Where a result lives, relative to the leaderboard folder: built only from
    schema-checked fields (a kata id pattern and integers), never from free text."""
    validate_result(result)
    return _path_of(result)


def dump_result(result: dict) -> str:
    return json.dumps(result, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_result(folder: Path, result: dict) -> Path:
    path = folder / result_path(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_result(result))
    return path


def parse_result(data: bytes, where: str) -> dict:
    """A result file's bytes, checked: size-bounded, strict JSON, schema-valid, and
    stored under the name (``where``, relative to the leaderboard) its own fields give."""
    if len(data) > MAX_RESULT_BYTES:
        raise LeaderboardError(f"{where}: larger than {MAX_RESULT_BYTES} bytes")
    try:
        result = loads_strict(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LeaderboardError(f"{where}: not valid JSON: {exc}") from None
    validate_result(result, where)
    expected = f"results/{result['kata']}/pr{result['pr']}-run{result['run_id']}.json"
    if where != expected:
        raise LeaderboardError(f"{where}: its fields say it belongs at {expected}")
    return result


def _as_today(result: dict) -> dict:
    """A result recorded under a renamed kata's old id, read under today's id."""
    kata = current_id(result["kata"])
    return result if kata == result["kata"] else {**result, "kata": kata}


def load_results(root: Path) -> tuple[list[dict], list[str]]:
    """Every result under ``root/results`` and a problem line for each file skipped.

    One ``scandir`` per folder and one read per file (no separate stat): a cohort's
    10,000 results load in a fraction of a second."""
    results, problems = [], []
    folder = root / "results"
    if not folder.is_dir():
        return [], []
    for kata_dir in sorted(os.scandir(folder), key=lambda entry: entry.name):
        where = f"results/{kata_dir.name}"
        if not kata_dir.is_dir(follow_symlinks=False) or not KATA_ID.match(kata_dir.name):
            problems.append(f"{where}: not a kata folder")
            continue
        for entry in sorted(os.scandir(kata_dir.path), key=lambda entry: entry.name):
            name = f"{where}/{entry.name}"
            try:
                if not entry.is_file(follow_symlinks=False):
                    raise LeaderboardError(f"{name}: not a regular file")
                with open(entry.path, "rb") as handle:
                    data = handle.read(MAX_RESULT_BYTES + 1)
                results.append(_as_today(parse_result(data, name)))
            except LeaderboardError as exc:
                problems.append(str(exc))
    return results, problems


# --- rendering ----------------------------------------------------------------------


def _diff_cell(result: dict) -> str:
    ref = result["diff"]["reference_total"]
    return f"{result['diff']['total']}" + (f" (ref {ref})" if ref is not None else "")


def _kata_order(katas: set[str] | dict, catalogue: list[Kata] | None) -> list[str]:
    known = [k.id for k in catalogue or [] if k.id in katas]
    return known + sorted(set(katas) - set(known))


RANKING_RULE = (
    "On each kata, every user's best ranked result counts: **green first**, then "
    "**time to green**, then **diff tokens** (Python tokens changed; hints and the PR "
    "number only break ties); a capstone ranks by **faults fixed** first (partial credit), "
    "an implementation kata by tests passed, without the diff. Overall: katas solved (green "
    "and ranked), then the median time to green, then total diff tokens. A result is "
    "*unranked*, and listed apart with "
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
    results: list[dict],
    catalogue: list[Kata] | None = None,
    problems: list[str] = (),
    *,
    boards: dict[str, Standing] | None = None,
    table: list[Overall] | None = None,
    page_url: str | None = None,
) -> str:
    """The branch's README.  ``boards`` and ``table``: the standings and the overall
    table when already computed (``standings``, ``overall``)."""
    boards = standings(results) if boards is None else boards
    table = overall(results, boards) if table is None else table
    titles = {k.id: k.title for k in catalogue or []}
    page = page_url if page_url and PAGE_URL.match(page_url) else "index.html"
    lines = [
        "# Kata leaderboard",
        "",
        "Rendered by `kata leaderboard render` from the files in `results/` (one per graded "
        "run); edits to this file are overwritten.",
        "",
        f"**[The leaderboard page]({page})**: the same tables, sortable, with each kata's "
        "time-to-green distribution and a page per user (served by GitHub Pages when the "
        "repository enables it).",
        "",
        RANKING_RULE,
        "",
        CLOCK_RULE,
        "",
        "## Overall",
        "",
    ]
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
                f"| {len(row.solved)} | {duration(row.median_s)} "
                f"| {row.diff_lines}{f' ({ref})' if ref is not None else ''} "
                f"| {row.tokens} | {row.hints} |"
            )
        lines += ["", "### By topic", ""]
        totals = {t: sum(1 for k in catalogue or [] if k.topic == t) for t in TOPICS}
        seen = {r["topic"] for r in results}
        topics = [t for t in TOPICS if totals[t] or t in seen]
        lines.append("| user | " + " | ".join(topics) + " |")
        lines.append("|---|" + "---|" * len(topics))
        for row in table:
            done = {t: 0 for t in topics}
            for r in row.solved:
                if r["topic"] in done:
                    done[r["topic"]] += 1
            cells = [f"{done[t]}/{totals[t]}" if totals[t] else str(done[t]) for t in topics]
            lines.append(f"| {escape_text(row.user)} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Each user's badge is `badges/user-<login>.svg` on this branch, and each kata's "
            "`badges/kata-<id>.svg`.",
        ]
    else:
        lines.append("No kata solved yet.")
    for kata in _kata_order(boards, catalogue):
        ranks = boards[kata]
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
                    f"| {STATUS_MARK[r['status']]} {status_label(r)} "
                    f"| {duration(ranking_time(r))} | {r['clock'] or '—'} | {_diff_cell(r)} "
                    f"| {r['diff']['tokens']} | {r['hints_used']} "
                    f"| {r['grade_runs'] if r['grade_runs'] is not None else '—'} | #{r['pr']} |"
                )
        if ranks.unranked:
            lines += ["", "Unranked (latest per user):", ""]
            lines += ["| user | status | PR | why |", "|---|---|---|---|"]
            for r in ranks.unranked:
                why = "; ".join(escape_text(reason) for reason in r["unranked_reasons"])
                lines.append(
                    f"| {escape_text(r['user'])} | {STATUS_MARK[r['status']]} {status_label(r)} "
                    f"| #{r['pr']} | {why or '—'} |"
                )
    if problems:
        lines += ["", "## Skipped files", ""]
        lines += [f"- {escape_text(problem)}" for problem in problems]
    return "\n".join(lines) + "\n"


def render_badges(
    results: list[dict],
    boards: dict[str, Standing] | None = None,
    table: list[Overall] | None = None,
) -> dict[str, str]:
    """``badges/<name>`` -> SVG text: one per kata with results, one per user solving."""
    boards = standings(results) if boards is None else boards
    table = overall(results, boards) if table is None else table
    badges = {}
    for kata, board in boards.items():
        color = "brightgreen" if board.solvers else "lightgrey"
        badges[f"kata-{kata}.svg"] = svg(kata, f"solved by {board.solvers}", color)
    for row in table:
        count = len(row.solved)
        badges[f"user-{user_file(row.user)}.svg"] = svg(
            row.user, f"{count} kata{'s' if count != 1 else ''} solved", "blue"
        )
    return badges


def rendered_files(
    results: list[dict],
    catalogue: list[Kata] | None = None,
    problems: list[str] = (),
    page_url: str | None = None,
) -> dict[str, str]:
    """Every rendered file (README, badges, page), by path relative to the folder."""
    boards = standings(results)
    table = overall(results, boards)
    order = _kata_order(boards, catalogue)
    out = {
        "README.md": render_readme(
            results, catalogue, problems, boards=boards, table=table, page_url=page_url
        )
    }
    for name, text in render_badges(results, boards, table).items():
        out[f"badges/{name}"] = text
    out.update(render_page(results, boards, table, catalogue, order, problems))
    return out


def _clear(path: Path) -> None:
    """Remove whatever is at ``path`` (a hand-made symlink or folder included)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def write_rendered(folder: Path, files: dict[str, str]) -> int:
    """Make ``folder`` hold ``files``: write a file only when its text changed, and remove
    stale files from the wholly rendered folders (a symlink anywhere on the way is
    replaced, never followed).  Returns how many files were written."""
    regular: dict[str, set[str]] = {}  # folder ("" for the top) -> its regular files
    for name in RENDERED_DIRS:
        path = folder / name
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            _clear(path)
        path.mkdir(parents=True, exist_ok=True)
        wanted = {n.split("/", 1)[1] for n in files if n.startswith(f"{name}/")}
        regular[name] = set()
        for entry in os.scandir(path):
            if entry.name in wanted and entry.is_file(follow_symlinks=False):
                regular[name].add(entry.name)
            else:
                _clear(Path(entry.path))
    written = 0
    for name, text in files.items():
        head, _, base = name.rpartition("/")
        if head not in regular:
            where = folder / head
            if where.is_symlink() or (where.exists() and not where.is_dir()):
                _clear(where)
            where.mkdir(parents=True, exist_ok=True)
            regular[head] = {e.name for e in os.scandir(where) if e.is_file(follow_symlinks=False)}
        target = os.path.join(folder, name)
        data = text.encode()
        if base in regular[head]:
            with open(target, "rb") as handle:
                if handle.read(len(data) + 1) == data:
                    continue
        elif os.path.lexists(target):
            _clear(Path(target))
        with open(target, "wb") as handle:
            handle.write(data)
        written += 1
    return written


def render(
    folder: Path, catalogue: list[Kata] | None = None, page_url: str | None = None
) -> list[dict]:
    """Regenerate README.md, badges/ and the page in ``folder`` from its results; returns
    them (problems with files are listed in the README and on the page)."""
    results, problems = load_results(folder)
    write_rendered(folder, rendered_files(results, catalogue, problems, page_url))
    return results


# --- pushing ------------------------------------------------------------------------


@dataclass
class PushOutcome:
    added: int  # result files new or changed on the branch
    attempts: int
    commit: str | None  # None when the branch already held every result (and rendering)
    skipped: list[str] = field(default_factory=list)  # invalid files of the folder, not pushed


def _git(cwd: Path, *args: str, env: dict | None = None, stdin: str | None = None):
    """Git with hooks and signing off, and English messages (they are matched below)."""
    command = ["git", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        input=stdin,
        check=False,
        env={**os.environ, "LC_ALL": "C", "LANGUAGE": "", **(env or {})},
    )


def _checked(done: subprocess.CompletedProcess, what: str) -> str:
    if done.returncode != 0:
        raise LeaderboardError(f"{what}: {done.stderr.strip()}")
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
    """The branch's tip, fetched without its history; None when the remote has no such
    branch yet."""
    ref = f"refs/kata/{branch}"
    done = _git(
        work, "fetch", "-q", "--no-tags", "--depth=1", remote, f"+refs/heads/{branch}:{ref}"
    )
    if done.returncode != 0 and "couldn't find remote ref" in done.stderr:
        return None
    _checked(done, "git fetch")
    return _checked(_git(work, "rev-parse", ref), "git rev-parse").strip()


def _index_env(work: Path, tree_dir: Path) -> dict[str, str]:
    return {
        "GIT_DIR": str(work / ".git"),
        "GIT_WORK_TREE": str(tree_dir),
        "GIT_INDEX_FILE": str(work / "kata-index"),
    }


def _checkout(work: Path, tree_dir: Path, parent: str | None) -> None:
    """The index and the files of ``tree_dir`` as of ``parent`` (empty when None)."""
    (work / "kata-index").unlink(missing_ok=True)
    tree_dir.mkdir(parents=True, exist_ok=True)
    if parent:
        args = ["read-tree", "--reset", "-u", parent]
        _checked(_git(tree_dir, *args, env=_index_env(work, tree_dir)), "git read-tree")


def _commit_index(work: Path, tree_dir: Path, parent: str | None, message: str) -> str | None:
    """A commit of the index on top of ``parent``; None when nothing changed."""
    env = _index_env(work, tree_dir)
    tree = _checked(_git(tree_dir, "write-tree", env=env), "git write-tree").strip()
    if parent:
        old = _checked(_git(work, "rev-parse", f"{parent}^{{tree}}"), "git rev-parse").strip()
        if old == tree:
            return None
    return _commit_tree(work, tree, parent, message)


def _commit_tree(work: Path, tree: str, parent: str | None, message: str) -> str:
    """A commit of ``tree`` by the leaderboard bot."""
    identity = {
        "GIT_AUTHOR_NAME": BOT_NAME,
        "GIT_AUTHOR_EMAIL": BOT_EMAIL,
        "GIT_COMMITTER_NAME": BOT_NAME,
        "GIT_COMMITTER_EMAIL": BOT_EMAIL,
    }
    parents = ["-p", parent] if parent else []
    done = _git(work, "commit-tree", tree, *parents, "-m", message, env=identity)
    return _checked(done, "git commit-tree").strip()


def _add_texts(tree_dir: Path, texts: dict[str, bytes]) -> list[str]:
    """Write ``texts`` into ``tree_dir``; the paths whose text is new or changed."""
    changed = []
    for rel, data in texts.items():
        target = tree_dir / rel
        for folder in reversed(target.relative_to(tree_dir).parents[:-1]):
            if (tree_dir / folder).is_symlink():  # a hand-made link: replaced, not followed
                _clear(tree_dir / folder)
        if target.is_file() and not target.is_symlink() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            _clear(target)
        target.write_bytes(data)
        changed.append(rel)
    return changed


# A change to the branch: given the work repository, the tip (None: no branch yet) and an
# empty folder to build in, a commit to push (None: nothing to do) and a count to report.
Change = Callable[[Path, str | None, Path], tuple[str | None, int]]


def _check_branch(branch: str) -> None:
    if not BRANCH.match(branch) or ".." in branch:
        raise LeaderboardError(f"branch {branch!r}: use letters, digits, '.', '-', '_' or '/'")


def _update_branch(
    work: Path,
    remote: str,
    branch: str,
    change: Change,
    attempts: int,
    sleep: Callable[[float], None],
) -> tuple[str | None, int, int]:
    """Apply ``change`` to the tip of ``branch`` and push without force; a push that lost
    a race starts over from the new tip after a random pause (exponential backoff with
    full jitter, in units of the attempt's own duration, at most ``MAX_PAUSE_S``), up to
    ``attempts`` times; any other failure stops at once.  Returns (commit, count,
    attempts used)."""
    last_error = ""
    for attempt in range(1, attempts + 1):
        started = time.monotonic()
        parent = _fetch_tip(work, remote, branch)
        tree_dir = work.parent / f"tree-{attempt}"
        commit, count = change(work, parent, tree_dir)
        if commit is None:
            return None, 0, attempt
        done = _git(work, "push", "-q", remote, f"{commit}:refs/heads/{branch}")
        if done.returncode == 0:
            return commit, count, attempt
        last_error = done.stderr.strip()
        if not _RETRYABLE_PUSH.search(last_error):
            raise LeaderboardError(f"git push: {last_error}")
        shutil.rmtree(tree_dir, ignore_errors=True)
        # back off in units of what an attempt takes here, so that writers on a slow
        # machine spread out instead of colliding again
        unit = max(0.05, time.monotonic() - started)
        sleep(random.uniform(0, min(MAX_PAUSE_S, unit * 2 ** min(attempt - 1, 5))))
    raise LeaderboardError(
        f"gave up after {attempts} attempts: every push lost a race; last error: {last_error}"
    )


def _work_repo(tmp: str) -> Path:
    work = Path(tmp) / "repo"
    work.mkdir()
    _checked(_git(work, "init", "-q"), "git init")
    return work


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def inbox_prefix(branch: str) -> str:
    """Where records wait for the next render: ``refs/heads/<branch>-inbox/``."""
    return f"refs/heads/{branch}-inbox/"


INBOX_NAME = re.compile(r"^pr\d{1,9}-run\d{1,15}$")


def record(folder: Path, remote: str, branch: str = DEFAULT_BRANCH) -> PushOutcome:
    """Record every valid result of ``folder`` in the branch's inbox, for the next
    ``render_branch`` to merge: one small commit per graded run (holding only its result
    files), pushed to a ref of its own, ``<branch>-inbox/pr<N>-run<RUN>``.  No fetch, no
    checkout, and no race: no other run writes that ref, so a record never waits or
    retries, however many publishes run at once (a re-run of the same run replaces its
    own record).  ``added`` counts the result files recorded."""
    _check_branch(branch)
    results, skipped = load_results(folder)
    runs: dict[str, dict[str, str]] = {}
    for r in results:
        name = f"pr{r['pr']}-run{r['run_id']}"
        runs.setdefault(name, {})[_path_of(r).as_posix()] = dump_result(r)
    if not runs:
        return PushOutcome(0, 1, None, skipped)
    with tempfile.TemporaryDirectory(prefix="kata-leaderboard-") as tmp:
        work = _work_repo(tmp)
        refspecs, commit = [], None
        for name, texts in runs.items():
            index = {"GIT_INDEX_FILE": str(work / f"index-{name}")}
            lines = ""
            for path, text in texts.items():
                blob = _checked(_git(work, "hash-object", "-w", "--stdin", stdin=text), "blob")
                lines += f"100644 {blob.strip()}\t{path}\n"
            _checked(_git(work, "update-index", "--index-info", env=index, stdin=lines), "index")
            tree = _checked(_git(work, "write-tree", env=index), "git write-tree").strip()
            message = f"Leaderboard: {_plural(len(texts), 'result')} of {name} recorded"
            commit = _commit_tree(work, tree, None, message)
            refspecs.append(f"+{commit}:{inbox_prefix(branch)}{name}")
        _checked(_git(work, "push", "-q", remote, *refspecs), "git push")
    return PushOutcome(sum(len(t) for t in runs.values()), 1, commit, skipped)


def _fetch_inbox(work: Path, remote: str, branch: str) -> dict[str, str]:
    """The records waiting in the branch's inbox: ref -> commit, fetched."""
    listed = _git(work, "ls-remote", "--refs", remote, f"{inbox_prefix(branch)}*")
    names = []
    for line in _checked(listed, "git ls-remote").splitlines():
        name = line.split("\t", 1)[1].removeprefix(inbox_prefix(branch))
        if INBOX_NAME.match(name):
            names.append(name)
    if not names:
        return {}
    refspecs = [f"+{inbox_prefix(branch)}{n}:refs/kata/inbox/{n}" for n in names]
    done = _git(work, "fetch", "-q", "--no-tags", "--depth=1", remote, *refspecs)
    _checked(done, "git fetch")
    local = _git(work, "for-each-ref", "--format=%(refname) %(objectname)", "refs/kata/inbox/")
    fetched = dict(line.split() for line in _checked(local, "git for-each-ref").splitlines())
    return {f"{inbox_prefix(branch)}{n}": fetched[f"refs/kata/inbox/{n}"] for n in names}


def _list_tree(work: Path, commit: str | None) -> dict[str, tuple[str, str]]:
    """Every file of ``commit``: path -> (mode, blob id); empty for None."""
    if commit is None:
        return {}
    listed = _checked(_git(work, "ls-tree", "-r", "-z", "--full-tree", commit), "git ls-tree")
    entries = {}
    for item in filter(None, listed.split("\0")):
        info, path = item.split("\t", 1)
        mode, _, blob = info.split()
        entries[path] = (mode, blob)
    return entries


def _read_blobs(work: Path, blobs: list[str]) -> list[bytes]:
    """The contents of ``blobs``, read by one ``git cat-file --batch``."""
    if not blobs:
        return []
    batch = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=work,
        input="".join(f"{blob}\n" for blob in blobs).encode(),
        capture_output=True,
        check=True,
    ).stdout
    contents, offset = [], 0
    for _ in blobs:
        header_end = batch.index(b"\n", offset)
        size = int(batch[offset:header_end].split()[2])
        contents.append(batch[header_end + 1 : header_end + 1 + size])
        offset = header_end + 1 + size + 1
    return contents


def _blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _write_blobs(work: Path, contents: list[bytes]) -> None:
    """Store ``contents`` as blobs in one ``git fast-import`` (their ids: ``_blob_id``)."""
    stream = b"".join(b"blob\ndata %d\n" % len(data) + data + b"\n" for data in contents)
    done = subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=work, input=stream, capture_output=True
    )
    if done.returncode != 0:
        raise LeaderboardError(f"git fast-import: {done.stderr.decode().strip()}")


def _results_in_tree(
    tree: dict[str, tuple[str, str]], contents: dict[str, bytes]
) -> tuple[list[dict], list[str]]:
    """The results of a commit's files, checked as ``load_results`` checks a folder's."""
    results, problems = [], []
    for path in sorted((p for p in tree if p.startswith("results/")), key=lambda p: p.split("/")):
        parts = path.split("/")
        where = f"results/{parts[1]}"
        if len(parts) != 3 or not KATA_ID.match(parts[1]):
            if f"{where}: not a kata folder" not in problems:
                problems.append(f"{where}: not a kata folder")
        elif tree[path][0] not in ("100644", "100755"):
            problems.append(f"{path}: not a regular file")
        else:
            try:
                results.append(_as_today(parse_result(contents[path], path)))
            except LeaderboardError as exc:
                problems.append(str(exc))
    return results, problems


def _inbox_files(work: Path, inbox: dict[str, str]) -> tuple[dict[str, bytes], list[str]]:
    """The result files the inbox's records hold, read in one batch and checked like any
    result file; a problem line for each one skipped."""
    entries = [
        (path, blob)
        for commit in inbox.values()
        for path, (_, blob) in _list_tree(work, commit).items()
    ]
    files, problems = {}, []
    for (path, _), data in zip(entries, _read_blobs(work, [b for _, b in entries]), strict=True):
        try:
            parse_result(data, path)
            files[path] = data
        except LeaderboardError as exc:
            problems.append(f"inbox: {exc}")
    return files, problems


def _empty_inbox(work: Path, remote: str, merged: dict[str, str]) -> list[str]:
    """Delete the merged records, each only if it still holds what was merged (a re-run
    may have replaced it: then the next render merges it again).  Problems, if any."""
    if not merged:
        return []
    leases = [f"--force-with-lease={ref}:{commit}" for ref, commit in merged.items()]
    done = _git(work, "push", "-q", *leases, remote, *(f":{ref}" for ref in merged))
    return [] if done.returncode == 0 else [f"inbox not emptied: {done.stderr.strip()}"]


def push(
    folder: Path,
    remote: str,
    branch: str = DEFAULT_BRANCH,
    *,
    catalogue: list[Kata] | None = None,
    attempts: int = 30,
    sleep: Callable[[float], None] = time.sleep,
    page_url: str | None = None,
) -> PushOutcome:
    """Add every valid result of ``folder`` to ``branch`` of ``remote`` and re-render
    README, badges and page from all results, in one commit on the branch (retried when
    it loses a race).  At cohort scale publishes ``record`` instead and one job runs
    ``render_branch``.

    Invalid files in ``folder`` are skipped and listed in the outcome (they can only
    come from the branch itself, e.g. a hand edit: ``kata publish`` validates what it
    writes), so one bad file never blocks every later publish.
    """
    _check_branch(branch)
    new, skipped = load_results(folder)
    texts = {_path_of(r).as_posix(): dump_result(r).encode() for r in new}

    def change(work: Path, parent: str | None, tree_dir: Path) -> tuple[str | None, int]:
        _checkout(work, tree_dir, parent)
        added = _add_texts(tree_dir, texts)
        render(tree_dir, catalogue, page_url)
        _checked(_git(tree_dir, "add", "-A", ".", env=_index_env(work, tree_dir)), "git add")
        message = f"Leaderboard: {_plural(len(added), 'result')} added, re-rendered"
        return _commit_index(work, tree_dir, parent, message), len(added)

    with tempfile.TemporaryDirectory(prefix="kata-leaderboard-") as tmp:
        work = _work_repo(tmp)
        commit, added, used = _update_branch(work, remote, branch, change, attempts, sleep)
    return PushOutcome(added, used, commit, skipped)


def render_branch(
    remote: str,
    branch: str = DEFAULT_BRANCH,
    *,
    catalogue: list[Kata] | None = None,
    attempts: int = 30,
    sleep: Callable[[float], None] = time.sleep,
    page_url: str | None = None,
) -> PushOutcome:
    """Merge the records waiting in the inbox into ``branch``, re-render README, badges
    and page from all results, push when anything changed, then delete the merged
    records.  The aggregating job: one runs at a time.  Nothing is checked out: the tip's
    files are listed and its results read in one batch, the rendering happens in memory,
    and only changed files become new blobs, so a render costs about what ``render --dir``
    does, whatever the size of the branch.  ``added`` counts the records'
    result files new on the branch; ``skipped`` lists invalid ones (and an inbox that
    could not be emptied: the next render merges those records again, which changes
    nothing)."""
    _check_branch(branch)
    merged: dict[str, str] = {}
    problems: list[str] = []

    def change(work: Path, parent: str | None, tree_dir: Path) -> tuple[str | None, int]:
        inbox = _fetch_inbox(work, remote, branch)
        if parent is None and not inbox:
            raise LeaderboardError(f"{remote} has no branch {branch} yet: nothing to render")
        files, skipped = _inbox_files(work, inbox)
        merged.clear()
        merged.update(inbox)
        held = _list_tree(work, parent)
        paths = [p for p in held if p.startswith("results/")]
        contents = dict(zip(paths, _read_blobs(work, [held[p][1] for p in paths]), strict=True))
        contents.update(files)
        tree = {**held, **{path: ("100644", _blob_id(data)) for path, data in files.items()}}
        results, found = _results_in_tree(tree, contents)
        problems[:] = [*skipped, *found]
        rendered = rendered_files(results, catalogue, found, page_url)
        wanted = {**files, **{name: text.encode() for name, text in rendered.items()}}
        changed = {
            path: data
            for path, data in wanted.items()
            if held.get(path) != ("100644", _blob_id(data))
        }
        parents = {"/".join(p.split("/")[:i]) for p in wanted for i in range(1, p.count("/") + 1)}
        stale = [
            p
            for p in held
            if (p.split("/", 1)[0] in RENDERED_DIRS and p not in rendered) or p in parents
        ]
        if not changed and not stale:
            return None, 0
        _write_blobs(work, list(changed.values()))
        index = {"GIT_INDEX_FILE": str(work / "kata-index")}
        (work / "kata-index").unlink(missing_ok=True)
        if parent:
            _checked(_git(work, "read-tree", parent, env=index), "git read-tree")
        lines = [f"0 {'0' * 40}\t{p}" for p in stale]
        lines += [f"100644 {_blob_id(data)}\t{p}" for p, data in changed.items()]
        info = "".join(f"{line}\0" for line in lines)
        _checked(_git(work, "update-index", "-z", "--index-info", env=index, stdin=info), "index")
        new_tree = _checked(_git(work, "write-tree", env=index), "git write-tree").strip()
        added = sum(1 for path in files if path in changed)
        what = f"{_plural(added, 'result')} added, " if added else ""
        message = f"Leaderboard: {what}rendered {len(results)} results"
        return _commit_tree(work, new_tree, parent, message), added

    with tempfile.TemporaryDirectory(prefix="kata-leaderboard-") as tmp:
        work = _work_repo(tmp)
        commit, added, used = _update_branch(work, remote, branch, change, attempts, sleep)
        problems += _empty_inbox(work, remote, merged)
    return PushOutcome(added, used, commit, problems)
