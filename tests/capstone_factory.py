"""A small torch-free capstone (three faults in one module) for the tests."""

from __future__ import annotations

from pathlib import Path

from kata_factory import QUESTIONS_TOML, patch_text

MODULE = "pipeline"

SHIPPED = '''\
"""A tiny summary-statistics pipeline."""


def mean(values: list[float]) -> float:
    """Arithmetic mean of a non-empty list."""
    return sum(values) / (len(values) - 1)


def spread(values: list[float]) -> float:
    """Largest minus smallest value."""
    return max(values) - min(values) + 1


def middle(values: list[float]) -> float:
    """The middle value of an odd-length list."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2 + 1]


def count(values: list[float]) -> int:
    return len(values)
'''

# fault name -> (shipped line, fixed line)
FIXES = {
    "averages": (
        "    return sum(values) / (len(values) - 1)",
        "    return sum(values) / len(values)",
    ),
    "ranges": ("    return max(values) - min(values) + 1", "    return max(values) - min(values)"),
    "medians": (
        "    return ordered[len(ordered) // 2 + 1]",
        "    return ordered[len(ordered) // 2]",
    ),
}
DECOYS = {  # fault -> name -> replacement of the fault's shipped line
    "averages": {"plus-one": "    return sum(values) / (len(values) + 1)"},
    "ranges": {"tuned-to-pairs": "    return max(values) - min(values) + (len(values) != 2)"},
    "medians": {"last": "    return ordered[-1]"},
}
ALTERNATIVE = {
    "averages": "    import statistics; return statistics.fmean(values)",
    "ranges": "    ordered = sorted(values); return ordered[-1] - ordered[0]",
    "medians": "    import statistics; return statistics.median_low(ordered)",
}

VISIBLE = """\
from grader.grading.boundary import candidate

stats = candidate("pipeline")


def test_mean_of_four():
    got = stats.mean([1.0, 2.0, 3.0, 6.0])
    assert got == 3.0, f"mean of [1, 2, 3, 6] is 3, got {got}"


def test_spread_of_two():
    got = stats.spread([1.0, 4.0])
    assert got == 3.0, f"spread of [1, 4] is 3, got {got}"


def test_middle_of_three():
    got = stats.middle([3.0, 1.0, 2.0])
    assert got == 2.0, f"middle of [3, 1, 2] is 2, got {got}"


def test_count():
    assert stats.count([1.0, 2.0]) == 2
"""

HOLDOUT = {
    "averages": """\
from grader.grading.boundary import candidate

stats = candidate("pipeline")


def test_mean_of_twos():
    for n in (1, 2, 5):
        got = stats.mean([2.0] * n)
        assert got == 2.0, f"mean of {n} twos is 2, got {got}"
""",
    "ranges": """\
from grader.grading.boundary import candidate

stats = candidate("pipeline")


def test_spread_of_equal_values():
    got = stats.spread([5.0, 5.0, 5.0])
    assert got == 0.0, f"spread of equal values is 0, got {got}"
""",
    "medians": """\
from grader.grading.boundary import candidate

stats = candidate("pipeline")


def test_middle_of_five():
    got = stats.middle([5.0, 1.0, 4.0, 2.0, 3.0])
    assert got == 3.0, f"middle of 1..5 is 3, got {got}"
""",
}

KATA_TOML = """\
id = "{kata_id}"
title = "Summary statistics are all slightly off"
topic = "metrics"
kind = "capstone"
difficulty = 3
budget_minutes = 45
files = ["pipeline.py"]
hint_count = 3

[tests]
fail_to_pass = [
  "test_pipeline.py::test_mean_of_four",
  "test_pipeline.py::test_spread_of_two",
  "test_pipeline.py::test_middle_of_three",
]
pass_to_pass = ["test_pipeline.py::test_count"]

[[faults]]
name = "averages"
tests = ["test_pipeline.py::test_mean_of_four"]
hint_count = 1

[[faults]]
name = "ranges"
tests = ["test_pipeline.py::test_spread_of_two"]
hint_count = 1

[[faults]]
name = "medians"
tests = ["test_pipeline.py::test_middle_of_three"]
hint_count = 1
"""

HINTS = """\
[faults.averages]
hints = ["Count what the sum is divided by."]

[faults.ranges]
hints = ["What is the spread of one repeated value?"]

[faults.medians]
hints = ["Which index is the middle of three?"]
"""


def fixed(source: str, faults: list[str] | tuple[str, ...]) -> str:
    """``source`` with the fixes of ``faults`` applied."""
    for fault in faults:
        old, new = FIXES[fault]
        source = source.replace(old, new)
    return source


def write_capstone(root: Path, kata_id: str = "stats-capstone") -> Path:
    """A complete capstone (public folder and private material) under ``root``."""
    folder = root / "katas" / kata_id
    folder.mkdir(parents=True)
    (folder / "kata.toml").write_text(KATA_TOML.format(kata_id=kata_id))
    (folder / "README.md").write_text("Every summary statistic is a little off.\n")
    (folder / f"{MODULE}.py").write_text(SHIPPED)
    (folder / f"test_{MODULE}.py").write_text(VISIBLE)
    private = root / "grader" / "private" / kata_id
    (private / "holdout").mkdir(parents=True)
    (private / "faults").mkdir()
    everything = fixed(SHIPPED, list(FIXES))
    (private / "reference.patch").write_text(
        patch_text("Fix", MODULE, SHIPPED, SHIPPED, everything)
    )
    for fault, (old, new) in FIXES.items():
        (private / "faults" / f"{fault}.patch").write_text(
            patch_text("Fix", MODULE, SHIPPED, old, new)
        )
        (private / "holdout" / f"test_{fault}_holdout.py").write_text(HOLDOUT[fault])
        (private / "decoys" / fault).mkdir(parents=True)
        for name, line in DECOYS[fault].items():
            (private / "decoys" / fault / f"{name}.patch").write_text(
                patch_text("Decoy", MODULE, SHIPPED, old, line)
            )
    alternative = SHIPPED
    for fault, line in ALTERNATIVE.items():
        alternative = alternative.replace(FIXES[fault][0], line)
    (private / "alternatives").mkdir()
    (private / "alternatives" / "library.patch").write_text(
        patch_text("Alternative", MODULE, SHIPPED, SHIPPED, alternative)
    )
    (private / "hints.toml").write_text(HINTS)
    (private / "questions.toml").write_text(QUESTIONS_TOML)
    return folder
