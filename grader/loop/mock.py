"""Mock rounds: two or three katas against one clock, kept in ``.kata/state.json``.

A round is open until every kata of it has gone green or its time is up; then it is
closed for good: its end and its results are written once and never recomputed, so a
later branch switch, a re-test of the buggy files or a plain ``kata watch`` cannot
change (or resume) it.  A kata counts as green in the round when its first green after
the round's start marker came before the round ended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from grader.loop import state


@dataclass(frozen=True)
class KataResult:
    kata_id: str
    green: bool
    seconds: int | None  # time to green from the round's start, when green
    hints: int


@dataclass(frozen=True)
class Round:
    katas: tuple[str, ...]
    started_at: int
    minutes: int
    marker: str | None  # the start marker's commit (rounds before it was kept: None)
    ended_at: int | None = None
    reason: str | None = None  # why it ended: "every kata green" or "time is up"
    results: tuple[KataResult, ...] = ()

    @property
    def deadline(self) -> int:
        return self.started_at + self.minutes * 60

    def is_open(self, now: float | None = None) -> bool:
        return self.ended_at is None and (now or time.time()) < self.deadline

    def elapsed_s(self, now: float | None = None) -> int:
        end = self.ended_at if self.ended_at is not None else min(now or time.time(), self.deadline)
        return max(0, int(end) - self.started_at)


def _from_state(data: dict) -> Round | None:
    raw = data.get("mock")
    if not isinstance(raw, dict):
        return None
    return Round(
        katas=tuple(raw["katas"]),
        started_at=int(raw["started_at"]),
        minutes=int(raw["minutes"]),
        marker=raw.get("marker"),
        ended_at=raw.get("ended_at"),
        reason=raw.get("reason"),
        results=tuple(KataResult(**r) for r in raw.get("results", ())),
    )


def latest(root: Path) -> Round | None:
    """The last round started here, as stored (open or closed)."""
    return _from_state(state.load(root))


def start(root: Path, katas: list[str], minutes: int, marker: str) -> Round:
    data = state.load(root)
    data["mock"] = {
        "katas": katas,
        "started_at": int(time.time()),
        "minutes": minutes,
        "marker": marker,
    }
    state.save(root, data)
    return _from_state(data)


def results(root: Path, round_: Round, now: float | None = None) -> list[KataResult]:
    """Each kata's result so far: its first green after the start marker, if that came
    before the round's end (or before now, in an open round)."""
    from grader.loop.progress import History

    if round_.results:
        return list(round_.results)
    data, history = state.load(root), History.read(root)
    end = round_.ended_at or min(int(now or time.time()), round_.deadline)
    found = []
    for kata_id in round_.katas:
        attempt = history.attempt(kata_id)
        marker = round_.marker or (attempt.start.sha if attempt.start else None)
        entry = data["katas"].get(kata_id, {})
        seconds = entry.get("last_green_s")
        green_at = entry.get("green_at", round_.started_at + (seconds or 0))
        green = marker is not None and entry.get("green_after") == marker and green_at <= end
        found.append(KataResult(kata_id, green, seconds if green else None, attempt.hints))
    return found


def close(root: Path, reason: str, now: float | None = None) -> Round:
    """End the round for good (at its deadline when time is up) with its results frozen;
    a round already closed stays as it was."""
    round_ = latest(root)
    if round_ is None or round_.ended_at is not None:
        return round_
    ended_at = min(int(now or time.time()), round_.deadline)
    closed = Round(**{**round_.__dict__, "ended_at": ended_at, "reason": reason})
    frozen = results(root, closed)
    data = state.load(root)
    data["mock"].update(
        ended_at=ended_at, reason=reason, results=[result.__dict__ for result in frozen]
    )
    state.save(root, data)
    return _from_state(data)


def settle(root: Path, now: float | None = None) -> Round | None:
    """The latest round, closed if it is over: every kata green, or its time up."""
    round_ = latest(root)
    if round_ is None or round_.ended_at is not None:
        return round_
    if (now or time.time()) >= round_.deadline:
        return close(root, "time is up", now)
    if all(result.green for result in results(root, round_, now)):
        return close(root, "every kata green", now)
    return round_
