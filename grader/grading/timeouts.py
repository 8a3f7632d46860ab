"""How long one test may take: a generous floor, or a multiple of what the reference fix
took on it (measured by ``kata validate --timings`` and stored with the private material).

A limit must never flip an honest verdict on a busy two-core machine, so the floor is
far above what any kata's test takes with one torch thread, and the multiple leaves room
for a fix slower than the reference.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.catalogue.katas import Kata

FLOOR_S = 20.0
REFERENCE_FACTOR = 10.0
TIMINGS_FILE = "timings.json"


def reference_timings(kata: Kata) -> dict[str, float]:
    """Seconds each test took on the reference fix; empty when not measured."""
    try:
        data = json.loads((kata.private_dir / TIMINGS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    tests = data.get("tests") if isinstance(data, dict) else None
    if not isinstance(tests, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in tests.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 3600
    }


def write_reference_timings(kata: Kata, seconds: dict[str, float]) -> Path:
    path = kata.private_dir / TIMINGS_FILE
    data = {
        "note": "seconds each test took on the reference fix (kata validate --timings)",
        "tests": {k: round(v, 3) for k, v in sorted(seconds.items())},
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def per_test(
    reference_s: dict[str, float], floor_s: float = FLOOR_S, factor: float = REFERENCE_FACTOR
) -> dict[str, float]:
    return {nodeid: max(floor_s, factor * seconds) for nodeid, seconds in reference_s.items()}


def timed_out_message(limit_s: float, reference_s: float | None) -> str:
    reference = f" (the reference takes {reference_s:.1f} s)" if reference_s is not None else ""
    return f"timed out after {limit_s:g} s{reference}: does the code loop?"
