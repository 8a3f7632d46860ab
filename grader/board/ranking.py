"""Ranking leaderboard results: per kata, and overall.

On a kata: green first, then time to green (the server clock when measured, else the
commit clock), then diff tokens; hints and the PR number only break ties.  A capstone ranks
by faults fixed first (partial credit), its time being the time to that score; an
implementation kata by tests passed after green, and its diff does not rank.  Each user
appears once, with their best ranked result; their latest unranked one is listed apart.
Overall: katas solved (green and ranked), then the median time to green, then total diff
tokens.  Pure functions of the results: the README, the badges, the page and the PR
comment all rank from here.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field


def ranking_time(result: dict) -> int | None:
    """The time that ranks a result: the clock it names (server when measured)."""
    if result["clock"] == "server":
        return result["server_time_s"]
    if result["clock"] == "commit":
        return result["commit_time_s"]
    return None


def sort_key(result: dict) -> tuple:
    """Green first (a capstone: most faults fixed first; an implementation: then most
    tests passed), then time (untimed last), then diff tokens (not for an implementation);
    hints and the PR number only break ties, so the order is total and stable."""
    seconds = ranking_time(result)
    kind = result.get("kind", "bug")
    if kind == "capstone":
        first: tuple = (-result.get("faults_fixed", 0),)
    elif kind == "implementation":
        first = (result["status"] != "green", -result["tests_passed"])
    else:
        first = (result["status"] != "green",)
    return (
        first,
        seconds is None,
        seconds or 0,
        0 if kind == "implementation" else result["diff"]["tokens"],
        result["hints_used"],
        result["pr"],
        result["run_id"],
    )


def status_label(result: dict) -> str:
    """``green``, ``red``, ``error``; a capstone not green: ``2/4 faults``."""
    if result.get("kind") == "capstone" and result["status"] == "red":
        return f"{result.get('faults_fixed', 0)}/{result.get('faults_total', '?')} faults"
    return result["status"]


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

    @property
    def solvers(self) -> int:
        return sum(1 for r in self.ranked if r["status"] == "green")


def _standing_of(kata: str, results: list[dict]) -> Standing:
    """The standing of one kata's results (all of ``results`` are on ``kata``)."""
    best: dict[str, dict] = {}
    best_key: dict[str, tuple] = {}
    latest_unranked: dict[str, dict] = {}
    for result in results:
        user = result["user"]
        if result["ranked"]:
            key = sort_key(result)
            if user not in best or key < best_key[user]:
                best[user], best_key[user] = result, key
        elif user not in latest_unranked or (result["pr"], result["run_id"]) > (
            latest_unranked[user]["pr"],
            latest_unranked[user]["run_id"],
        ):
            latest_unranked[user] = result
    return Standing(
        kata,
        [best[user] for user in sorted(best, key=best_key.__getitem__)],
        sorted(latest_unranked.values(), key=lambda r: (r["user"], r["pr"], r["run_id"])),
    )


def standing(results: list[dict], kata: str) -> Standing:
    return _standing_of(kata, [r for r in results if r["kata"] == kata])


def standings(results: list[dict]) -> dict[str, Standing]:
    """Every kata's standing, from one pass over the results, by kata id."""
    by_kata: dict[str, list[dict]] = {}
    for result in results:
        by_kata.setdefault(result["kata"], []).append(result)
    return {kata: _standing_of(kata, by_kata[kata]) for kata in sorted(by_kata)}


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


def overall(results: list[dict], boards: dict[str, Standing] | None = None) -> list[Overall]:
    """Users by katas solved (green and ranked), then median time, then total tokens.
    ``boards``: the katas' standings when already computed (``standings(results)``)."""
    solved: dict[str, list[dict]] = {}
    for board in (boards if boards is not None else standings(results)).values():
        for result in board.ranked:
            if result["status"] == "green":
                solved.setdefault(result["user"], []).append(result)
    return sorted((Overall(user, rs) for user, rs in solved.items()), key=Overall.key)
