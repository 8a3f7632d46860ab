"""Synthetic, schema-valid leaderboard results for the benchmarks and the screenshot.

Deterministic for a seed: about one user per five results, spread over the catalogue's
katas; most results green and ranked, some red, unranked or untimed, as a cohort's
branch holds them.  Run ids are unique, so every result has a file of its own.
"""

from __future__ import annotations

import random

from grader.catalogue.katas import Kata

REASONS = (
    "changed katas/{kata}/test_x.py: only the kata's editable files may change",
    "not timed by the server clock: the start marker was pushed with the fix",
    "gave up before green (Kata-Give-Up)",
)


def synthetic_results(count: int, katas: list[Kata], seed: int = 14) -> list[dict]:
    rng = random.Random(seed)
    users = [f"user{n:05d}" for n in range(max(1, count // 5))]
    results = []
    for number in range(count):
        kata = rng.choice(katas)
        status = rng.choices(["green", "red", "error"], weights=[75, 20, 5])[0]
        ranked = rng.random() < 0.9
        reasons = [] if ranked else [rng.choice(REASONS).format(kata=kata.id)]
        commit_s = server_s = runs = clock = None
        if status == "green":
            commit_s = int(rng.lognormvariate(6.8, 0.7))  # median ~15 min
            if rng.random() < 0.6:
                server_s, runs, clock = commit_s + rng.randint(5, 60), rng.randint(2, 9), "server"
            else:
                clock = "commit"
        added, removed = rng.randint(1, 12), rng.randint(0, 8)
        results.append(
            {
                "schema_version": 1,
                "kata": kata.id,
                "topic": kata.topic,
                "user": rng.choice(users),
                "pr": 1 + number // 2,
                "run_id": 10_000_000 + number,
                "head": f"{rng.getrandbits(160):040x}",
                "status": status,
                "ranked": ranked,
                "unranked_reasons": reasons,
                "tests_passed": 9 if status == "green" else rng.randint(0, 8),
                "tests_total": 9,
                "hints_used": rng.choices([0, 1, 2, 3], weights=[60, 20, 12, 8])[0],
                "attempts": rng.randint(1, 8),
                "diff": {
                    "added": added,
                    "removed": removed,
                    "total": added + removed,
                    "tokens": (added + removed) * rng.randint(2, 6),
                    "reference_total": 2,
                },
                "commit_time_s": commit_s,
                "server_time_s": server_s,
                "grade_runs": runs,
                "clock": clock,
            }
        )
    return results
