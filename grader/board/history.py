"""What publish has seen before: git history is the candidate's to rewrite, so each result
on the leaderboard carries what the publishes of its pull request saw (graded heads, start
markers, give-ups, the first server start), and the next publish checks the pull request
against it instead of believing the history it is shown now.

* a head that no longer contains an earlier graded head: "history rewritten", unranked
  (a force push can drop a give-up, a hint, an early start marker or work before it, and
  what is gone cannot be checked again; an honest candidate has no need to rewrite a
  pushed attempt, and the reason says why the result does not rank);
* a give-up once seen stays, for the user on that kata, in any later pull request;
* the server clock keeps the first start GitHub was seen to time for the pull request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from grader.board.recompute import is_ancestor, is_commit
from grader.grading.gitdata import Repo

MAX_HEADS = 100  # the newest graded heads kept per pull request
MAX_MARKERS = 20
MAX_LISTED = 3


@dataclass
class Seen:
    heads: list[str] = field(default_factory=list)
    start_commits: list[str] = field(default_factory=list)
    give_ups: list[str] = field(default_factory=list)
    server_started_at: datetime | None = None


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def seen_before(results: list[dict], kata: str, pr: int, user: str, run_id: int) -> Seen:
    """What earlier publishes recorded: of this pull request (heads, start markers, server
    start) and of this user on this kata in any pull request (give-ups)."""
    seen = Seen()
    earlier = [
        r
        for r in sorted(results, key=lambda r: (r["pr"], r["run_id"]))
        if r["kata"] == kata and not (r["pr"] == pr and r["run_id"] == run_id)
    ]
    for result in earlier:
        kept = result.get("history", {})
        if result["user"] == user:
            seen.give_ups += kept.get("give_ups", [])
        if result["pr"] != pr:
            continue
        seen.heads += [*kept.get("heads", []), result["head"]]
        seen.start_commits += kept.get("start_commits", [])
        started = _when(kept.get("server_started_at"))
        if started and (seen.server_started_at is None or started < seen.server_started_at):
            seen.server_started_at = started
    seen.heads = list(dict.fromkeys(seen.heads))
    seen.start_commits = list(dict.fromkeys(seen.start_commits))
    seen.give_ups = list(dict.fromkeys(seen.give_ups))
    return seen


def _listed(shas: list[str]) -> str:
    more = f" and {len(shas) - MAX_LISTED} more" if len(shas) > MAX_LISTED else ""
    return ", ".join(sha[:12] for sha in shas[:MAX_LISTED]) + more


def reasons(repo: Repo, seen: Seen, head: str, give_ups_now: list[str]) -> list[str]:
    """Why the pull request at ``head`` does not rank, given what was seen before."""
    found = []
    gone = [h for h in seen.heads if not (is_commit(repo, h) and is_ancestor(repo, h, head))]
    if gone:
        found.append(
            f"history rewritten: {_listed(gone)} (graded earlier) is no longer in the pull "
            "request's history, so what it held cannot be checked again"
        )
    if seen.give_ups and not give_ups_now:
        found.append(
            f"gave up earlier: give-up marker {_listed(seen.give_ups)} was seen by an earlier "
            "publish (the reference fix was shown); a give-up stays"
        )
    return found


def recorded(
    seen: Seen,
    head: str,
    start_commits: list[str],
    give_ups: list[str],
    server_started_at: datetime | None,
) -> dict:
    """The ``history`` a new result carries: what was seen before and what is seen now."""
    started = min(filter(None, [seen.server_started_at, server_started_at]), default=None)
    return {
        "heads": list(dict.fromkeys([*seen.heads, head]))[-MAX_HEADS:],
        "start_commits": list(dict.fromkeys([*seen.start_commits, *start_commits]))[:MAX_MARKERS],
        "give_ups": list(dict.fromkeys([*seen.give_ups, *give_ups]))[:MAX_MARKERS],
        "server_started_at": iso(started),
    }
