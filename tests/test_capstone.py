"""Capstones: several faults in one kata, each with its own group of tests, scored by
faults fixed (partial credit)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from capstone_factory import SHIPPED, fixed, write_capstone

from grader.authoring.validate import validate
from grader.catalogue import faults
from grader.catalogue.katas import CatalogueError, load_catalogue, load_kata

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pr-comment-capstone.md"


def failed_checks(result) -> list[str]:
    return [f"{check.name}: {check.detail}" for check in result.checks if not check.ok]


@pytest.fixture
def capstone(tmp_path) -> Path:
    return write_capstone(tmp_path)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def test_a_capstone_loads_with_its_faults_and_groups_its_tests(capstone):
    kata = load_kata(capstone)
    assert kata.kind == "capstone" and kata.silent
    assert [f.name for f in kata.faults] == ["averages", "ranges", "medians"]
    assert kata.hints_by_fault["ranges"] == ("What is the spread of one repeated value?",)
    assert faults.groups(
        kata,
        [
            "test_pipeline.py::test_mean_of_four",
            "test_pipeline.py::test_count",
            "test_medians_holdout.py::test_middle_of_five",
        ],
    ) == {
        "averages": ["test_pipeline.py::test_mean_of_four"],
        "ranges": [],
        "medians": ["test_medians_holdout.py::test_middle_of_five"],
    }
    outcomes = {
        "test_pipeline.py::test_mean_of_four": "passed",
        "test_pipeline.py::test_spread_of_two": "failed",
        "test_pipeline.py::test_middle_of_three": "passed",
        "test_medians_holdout.py::test_middle_of_five": "failed",
    }
    found = faults.fixed(kata, outcomes)
    assert found == {"averages": True, "ranges": False, "medians": False}
    assert faults.summary(found) == "1 of 3 faults fixed"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'tests = ["test_pipeline.py::test_spread_of_two"]',
            'tests = ["test_pipeline.py::test_count"]',
            "'test_pipeline.py::test_count' is not in tests.fail_to_pass",
        ),
        (
            'tests = ["test_pipeline.py::test_spread_of_two"]',
            'tests = ["test_pipeline.py::test_mean_of_four"]',
            "'test_pipeline.py::test_spread_of_two' belongs to no fault",
        ),
        ("hint_count = 3", "hint_count = 4", "is not the sum of the faults' hint_count"),
        ('kind = "capstone"', 'kind = "bug"', "only a capstone"),
    ],
)
def test_fault_tables_that_do_not_share_out_the_tests_and_hints_are_named(
    capstone, old, new, problem
):
    edit(capstone / "kata.toml", old, new)
    with pytest.raises(CatalogueError) as error:
        load_kata(capstone)
    assert any(problem in p for p in error.value.problems), error.value.problems


def test_a_fair_capstone_validates_fault_by_fault(tmp_path, capstone):
    (result,) = validate(load_catalogue(tmp_path), repeat=1, jobs=2, preload=())
    assert failed_checks(result) == []
    names = {check.name for check in result.checks}
    for fault in ("averages", "ranges", "medians"):
        assert f"fix {fault} alone: fault {fault}'s group passes alone" in names
        assert f"every fix but {fault}: fault {fault}'s group fails alone" in names
    caught = result.decoys_caught_by
    assert sorted(caught) == ["averages/plus-one", "medians/last", "ranges/tuned-to-pairs"]
    kata = load_kata(capstone)
    for decoy, tests in caught.items():  # caught by its own fault's tests, not another's
        assert tests and {faults.fault_of(kata, t) for t in tests} == {decoy.split("/")[0]}
    # tuned to the visible example: only the hidden test of its fault catches it
    assert caught["ranges/tuned-to-pairs"] == [
        "test_ranges_holdout.py::test_spread_of_equal_values"
    ]
    assert result.alternatives_passed == {"library": True}


def test_tests_that_need_two_faults_fixed_make_the_capstone_invalid(tmp_path, capstone):
    # the averages group now also depends on the ranges fault: not independent
    edit(
        capstone / "test_pipeline.py",
        'assert got == 3.0, f"mean of [1, 2, 3, 6] is 3, got {got}"',
        'assert got == 3.0 == stats.spread([0.0, 3.0]), f"mean of [1, 2, 3, 6] is 3, got {got}"',
    )
    # and a decoy that is in fact the fix of its fault is not caught
    private = tmp_path / "grader" / "private" / "stats-capstone"
    (private / "decoys" / "medians" / "real-fix.patch").write_text(
        (private / "faults" / "medians.patch").read_text().replace("Fix:", "Decoy:", 1)
    )
    (result,) = validate(load_catalogue(tmp_path), repeat=1, jobs=2, preload=())
    failed = failed_checks(result)
    assert any(
        f.startswith("fix averages alone: fault averages's group passes alone: its own tests fail")
        for f in failed
    ), failed
    assert any(f.startswith("every fix but ranges:") and "averages" in f for f in failed), failed
    assert "decoy medians/real-fix: caught: every test of fault medians passes" in failed


def test_missing_fault_material_is_named(tmp_path, capstone):
    private = tmp_path / "grader" / "private" / "stats-capstone"
    (private / "faults" / "ranges.patch").unlink()
    (private / "holdout" / "test_medians_holdout.py").rename(
        private / "holdout" / "test_middle_holdout.py"
    )
    (result,) = validate(load_catalogue(tmp_path), repeat=1, jobs=1, preload=())
    (material,) = [c for c in result.checks if c.name == "private material"]
    assert f"{private / 'faults' / 'ranges.patch'}: missing" in material.detail
    assert f"{private / 'holdout' / 'test_medians_holdout.py'}: missing" in material.detail
    assert "test_middle_holdout.py: names no fault" in material.detail


def test_the_shipped_and_fixed_sources_differ_fault_by_fault():
    assert fixed(SHIPPED, []) == SHIPPED
    assert fixed(SHIPPED, ["averages"]) != fixed(SHIPPED, ["ranges"])


def sealed_capstone(root: Path) -> Path:
    from grader.catalogue.pristine import write_seal

    folder = write_capstone(root)
    for kata in load_catalogue(root):
        write_seal(kata)
    return folder


def test_kata_test_shows_each_fault_fixed_or_not_and_partial_credit(tmp_path):
    from kata_factory import run_kata

    folder = sealed_capstone(tmp_path)
    red = run_kata(tmp_path, "test", "stats-capstone")
    assert red.returncode == 1
    assert red.stdout.rstrip().endswith("red: 0 of 3 faults fixed; 3 of 4 tests fail")

    (folder / "pipeline.py").write_text(fixed(SHIPPED, ["ranges"]))
    partial = run_kata(tmp_path, "test", "stats-capstone")
    assert partial.returncode == 1
    assert "  fault ranges: ✓ fixed\n    ✓ spread of two\n" in partial.stdout
    assert "  fault medians: ✗ not fixed\n    ✗ middle of three\n" in partial.stdout
    assert "  other tests:\n    ✓ count\n" in partial.stdout
    assert partial.stdout.rstrip().endswith("partial: 1 of 3 faults fixed; 2 of 4 tests fail")

    (folder / "pipeline.py").write_text(fixed(SHIPPED, ["averages", "ranges", "medians"]))
    green = run_kata(tmp_path, "test", "stats-capstone")
    assert green.returncode == 0, green.stdout
    assert "green: 3 of 3 faults fixed; all 4 tests pass" in green.stdout


T0 = 1_700_000_000
CAPSTONE_MODULE = "katas/stats-capstone/pipeline.py"


@pytest.fixture
def attempt(tmp_path) -> Path:
    """main: the template; attempt: a start marker at T0, the ranges fault fixed at +100,
    an unrelated line at +200, the averages fault fixed at +300 (medians never)."""
    from kata_factory import git
    from test_grade import change

    root = tmp_path / "repo"
    sealed_capstone(root)
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "template", when=T0 - 1000)
    git(root, "checkout", "-qb", "attempt")
    git(root, "commit", "-q", "--allow-empty", "-m", "Start\n\nKata-Start: stats-capstone", when=T0)
    change(root, T0 + 100, {CAPSTONE_MODULE: fixed(SHIPPED, ["ranges"])})
    change(root, T0 + 200, {CAPSTONE_MODULE: fixed(SHIPPED, ["ranges"]) + "\n\nTRIES = 2\n"})
    both = fixed(SHIPPED, ["ranges", "averages"]) + "\n\nTRIES = 2\n"
    change(root, T0 + 300, {CAPSTONE_MODULE: both})
    return root


def graded(root: Path) -> dict:
    from grader.grading.gitdata import Repo
    from grader.grading.grade import Limits, grade
    from grader.grading.report import validate_report
    from grader.grading.sandbox import Sandbox

    # generous limits: a busy machine must not turn a slow test into an error here
    limits = Limits(test_timeout_s=30.0, run_timeout_s=300.0)
    report = grade(Repo(root), "main", "HEAD", None, sandbox=Sandbox(), limits=limits)
    validate_report(report)
    return report


def test_grade_scores_faults_fixed_with_a_time_and_a_diff_per_fault(attempt):
    (kata,) = graded(attempt)["katas"]
    assert kata["status"] == "red"  # not every fault: partial credit, below
    assert kata["time_to_green_s"] == 300  # the clock stops when the final score is reached
    by_name = {f["name"]: f for f in kata["faults"]}
    assert [f["name"] for f in kata["faults"]] == ["averages", "ranges", "medians"]
    assert (by_name["ranges"]["fixed"], by_name["ranges"]["time_to_fixed_s"]) == (True, 100)
    assert (by_name["averages"]["fixed"], by_name["averages"]["time_to_fixed_s"]) == (True, 300)
    assert (by_name["medians"]["fixed"], by_name["medians"]["time_to_fixed_s"]) == (False, None)
    assert by_name["medians"]["tests_passed"] == 0 and by_name["medians"]["tests_total"] == 2
    assert by_name["ranges"]["tests_passed"] == by_name["ranges"]["tests_total"] == 2
    # each fault's changed lines next to its own fix's; the constant counts elsewhere
    assert [(f["diff_lines"], f["reference_lines"]) for f in kata["faults"]] == [
        (2, 2),
        (2, 2),
        (0, 2),
    ]
    assert kata["diff"]["total"] == 5


def test_publish_ranks_partial_credit_and_the_comment_shows_each_fault(attempt):
    import os
    import textwrap

    from kata_factory import git
    from test_publish import artifact, publish

    report = graded(attempt)
    git(attempt, "checkout", "-q", "main")  # publish's trusted checkout
    code, comment, results = publish(attempt, artifact(attempt.parent / "a", report))
    assert code == 0, comment
    result = json.loads(results[0].read_text())
    assert (result["kind"], result["status"], result["ranked"]) == ("capstone", "red", True)
    assert (result["faults_fixed"], result["faults_total"]) == (2, 3)
    assert (result["commit_time_s"], result["clock"]) == (300, "commit")
    assert "https://img.shields.io/badge/status-2%2F3%20faults-yellow" in comment
    assert "**2 of 3 faults fixed**" in comment
    assert "| averages | ✓ fixed | 2/2 | 5m 00s | 2 / 2 |" in comment
    assert "| medians | ✗ not fixed | 0/2 | — | 0 / 2 |" in comment
    assert "Time to 2/3 faults: **5m 00s** on the commit clock" in comment
    if os.environ.get("KATA_UPDATE_EXAMPLES") == "1":
        EXAMPLE.write_text(comment)
    assert EXAMPLE.read_text() == comment, textwrap.dedent(
        """\
        examples/pr-comment-capstone.md is not what kata publish writes now; if the change
        is intended: KATA_UPDATE_EXAMPLES=1 .venv/bin/python -m pytest tests/test_capstone.py"""
    )


def test_a_report_claiming_a_fault_its_tests_do_not_show_gains_nothing(attempt):
    from kata_factory import git
    from test_publish import artifact, publish

    report = graded(attempt)
    (kata,) = report["katas"]
    for fault in kata["faults"]:  # a doctored report: every fault "fixed"
        fault["fixed"] = True
    git(attempt, "checkout", "-q", "main")
    code, comment, results = publish(attempt, artifact(attempt.parent / "a", report))
    assert code == 0, comment
    result = json.loads(results[0].read_text())
    assert result["faults_fixed"] == 2  # recomputed from the tests, not the claim


def test_a_capstones_hints_are_per_fault_and_recorded(tmp_path):
    from kata_factory import git, run_kata

    sealed_capstone(tmp_path)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "template")
    assert run_kata(tmp_path, "start", "stats-capstone").returncode == 0
    which = run_kata(tmp_path, "hint")
    assert which.returncode == 2
    assert "its hints are per fault; name one with --fault (averages, ranges, medians)" in (
        which.stderr
    )
    first = run_kata(tmp_path, "hint", "--fault", "ranges")
    assert first.returncode == 0, first.stderr
    assert "hint 1/1 on fault ranges" in first.stdout
    assert "What is the spread of one repeated value?" in first.stdout
    again = run_kata(tmp_path, "hint", "--fault", "ranges")
    assert "all 1 hints on fault ranges used" in again.stdout
    other = run_kata(tmp_path, "hint", "stats-capstone", "--fault", "averages")
    assert "hint 1/1 on fault averages" in other.stdout
    log = git(tmp_path, "log", "--format=%s|%(trailers:only,unfold,separator=%x2C)")
    assert log.splitlines()[:2] == [
        "Hint 1 for kata stats-capstone (fault averages)|Kata-Hint-Fault: averages,"
        "Kata-Hint: stats-capstone",
        "Hint 1 for kata stats-capstone (fault ranges)|Kata-Hint-Fault: ranges,"
        "Kata-Hint: stats-capstone",
    ]
    listed = json.loads(run_kata(tmp_path, "list", "--json").stdout)
    assert listed[0]["hints_used"] == 2


def test_mock_pairs_an_implementation_with_a_debugging_kata_or_takes_a_capstone(tmp_path):
    from kata_factory import git, run_kata, write_kata

    from grader.catalogue.pristine import write_seal

    write_capstone(tmp_path)
    write_kata(tmp_path, "good", "good_stats")  # a debugging kata, 5 min
    build = write_kata(tmp_path, "build-a-mean", "build_stats")
    toml = build / "kata.toml"
    toml.write_text(
        toml.read_text().replace(
            'topic = "metrics"\n', 'topic = "metrics"\nkind = "implementation"\n'
        )
    )
    for kata in load_catalogue(tmp_path):
        write_seal(kata)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "template")

    paired = run_kata(tmp_path, "mock", "--seed", "1", "--no-watch")
    assert paired.returncode == 0, paired.stderr
    assert "Mock round: 2 katas, 10 minutes" in paired.stdout  # the two budgets summed
    subject = git(tmp_path, "log", "-1", "--format=%s|%(trailers:only,unfold,separator=%x2C)")
    assert subject == "Start mock round (10 min)|Kata-Start: build-a-mean,Kata-Start: good"

    capstone = run_kata(tmp_path, "mock", "--format", "capstone", "--no-watch")
    assert capstone.returncode == 0, capstone.stderr
    assert "Mock round: 1 kata, 45 minutes" in capstone.stdout
    short = run_kata(tmp_path, "mock", "--format", "capstone", "--minutes", "30", "--no-watch")
    assert short.returncode == 2
    assert "cannot pick a capstone within 30 min" in short.stderr
