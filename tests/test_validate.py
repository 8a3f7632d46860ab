"""`kata validate` on small torch-free katas built to pass or to break each check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kata_factory import (
    HALVED_DECOY,
    LIBRARY_MEAN,
    QUESTIONS_TOML,
    REFERENCE,
    WRONG_DECOY,
    git,
    run_kata,
    write_kata,
)

from grader.authoring.validate import CAUGHT_FILE, KataValidation, validate
from grader.catalogue import questions
from grader.catalogue.katas import CatalogueError, load_catalogue
from grader.catalogue.pristine import write_seal

# Wrong on the first call, right afterwards (a marker outside the run's folder, since each
# run imports a fresh copy of the module): the two runs of the buggy kata disagree
# whichever worker runs first (the marker is created atomically).
FLAKY_BUG = """\
    import os
    marker = os.path.join(MARKER_FOLDER, "called-before")
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return sum(values) / len(values)
    return sum(values) / (len(values) - 1)"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, KataValidation]:
    root = tmp_path_factory.mktemp("repo")
    write_kata(root, "good", "good_stats", alternatives={"library": LIBRARY_MEAN})
    write_kata(root, "rejected", "rejected_stats", alternatives={"off-by-one": WRONG_DECOY})
    write_kata(
        root,
        "missed-decoy",
        "missed_stats",
        decoys={"same": REFERENCE, "p": WRONG_DECOY, "h": HALVED_DECOY},
    )
    write_kata(root, "loud", "loud_stats", bug_line="    return sum(values) / values.count(None)")
    flaky = FLAKY_BUG.replace("MARKER_FOLDER", repr(str(root)))
    write_kata(root, "flaky", "flaky_stats", bug_line=flaky)
    results = validate(load_catalogue(root), repeat=2, jobs=2, preload=())
    return {r.kata_id: r for r in results}


def failed_checks(result: KataValidation) -> list[str]:
    return [check.name for check in result.checks if not check.ok]


def test_a_fair_kata_is_valid_and_its_fix_size_recorded(outcomes):
    good = outcomes["good"]
    assert failed_checks(good) == []
    assert good.reference_lines == 2
    assert good.decoys_caught_by == {  # a decoy run stops at its first failing test
        "halved": ["test_good_stats.py::test_mean_of_four"],
        "plus-one": ["test_good_stats.py::test_mean_of_four"],
        "tuned": ["test_good_stats_holdout.py::test_mean_of_other_lengths"],
    }
    assert good.alternatives_passed == {"library": True}


def test_a_correct_fix_written_differently_that_fails_makes_the_kata_invalid(outcomes):
    # Here the "alternative" is wrong, so the check is seen to fail: the tests (or the
    # alternative) need another look before the kata ships.
    rejected = outcomes["rejected"]
    assert failed_checks(rejected) == [
        "alternative off-by-one: every visible and holdout test passes"
    ]
    assert rejected.alternatives_passed == {"off-by-one": False}


def test_a_decoy_that_passes_every_test_makes_the_kata_invalid(outcomes):
    assert failed_checks(outcomes["missed-decoy"]) == ["decoy same: caught"]


def test_a_bug_that_raises_is_not_silent(outcomes):
    loud = outcomes["loud"]
    assert failed_checks(loud) == ["buggy: the bug is silent (assertion failures only)"]
    (detail,) = [c.detail for c in loud.checks if not c.ok]
    assert "ZeroDivisionError" in detail


def test_verdicts_that_change_between_runs_are_caught(outcomes):
    assert "buggy: same verdicts on 2 runs" in failed_checks(outcomes["flaky"])


def test_only_the_buggy_module_and_the_reference_fix_are_run_again(outcomes):
    """Determinism is the kata's tests' property, seen on the kata as shipped and as
    fixed; alternatives (like decoys) are checked once, so validation does not pay twice."""
    repeated = [c.name for c in outcomes["good"].checks if "same verdicts" in c.name]
    assert repeated == ["buggy: same verdicts on 2 runs", "reference: same verdicts on 2 runs"]


def test_the_report_says_what_each_variant_cost(outcomes):
    """Authors see where validation's time goes: each variant's kind, runs, tests run and
    seconds (a decoy stops at its first failing test, so it runs fewer tests)."""
    runs = {entry["variant"]: entry for entry in outcomes["good"].as_dict()["runs"]}
    assert {name: (e["kind"], e["runs"]) for name, e in runs.items()} == {
        "buggy": ("buggy", 2),
        "reference": ("reference", 2),
        "halved": ("decoy", 1),
        "plus-one": ("decoy", 1),
        "tuned": ("decoy", 1),
        "alternative library": ("alternative", 1),
    }
    assert all(e["seconds"] > 0 for e in runs.values())
    assert runs["reference"]["tests"] == 2 * 3  # two visible tests and one hidden, twice
    assert runs["halved"]["tests"] == 1
    assert runs["tuned"]["tests"] == 3  # passes both visible tests, fails the hidden one


HOLDOUT_TEST = "test_good_stats_holdout.py::test_mean_of_other_lengths"


def test_a_decoy_runs_first_the_test_recorded_as_catching_it(tmp_path):
    """Authors record which test catches each decoy first (`kata validate --timings`);
    validation then runs that test before the others, so a decoy caught by a hidden test
    costs one test.  A record that no longer holds (the test passes now, or is gone)
    only costs time: the decoy still runs every test until one fails."""
    root = tmp_path / "repo"
    write_kata(root, "good", "good_stats")
    (kata,) = load_catalogue(root)
    done = run_kata(root, "validate", "--timings", "good")
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads((kata.private_dir / CAUGHT_FILE).read_text())["decoys"]
    assert record == {
        "halved": "test_good_stats.py::test_mean_of_four",
        "plus-one": "test_good_stats.py::test_mean_of_four",
        "tuned": HOLDOUT_TEST,
    }
    record.update({"halved": "test_good_stats.py::test_spread", "plus-one": "test_gone.py::t"})
    (kata.private_dir / CAUGHT_FILE).write_text(json.dumps({"decoys": record}))
    (result,) = validate([kata], repeat=1, jobs=1, preload=())
    assert failed_checks(result) == []
    runs = {entry["variant"]: entry["tests"] for entry in result.runs}
    assert runs["tuned"] == 1
    assert result.decoys_caught_by["tuned"] == [HOLDOUT_TEST]
    assert result.decoys_caught_by["halved"] == ["test_good_stats.py::test_mean_of_four"]
    assert result.decoys_caught_by["plus-one"] == ["test_good_stats.py::test_mean_of_four"]


def test_validation_uses_the_sealed_kata_after_the_candidate_fixed_it(tmp_path):
    folder = write_kata(tmp_path, "good", "good_stats")
    (kata,) = load_catalogue(tmp_path)
    write_seal(kata)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "template")
    module = folder / "good_stats.py"
    module.write_text(module.read_text().replace("(len(values) - 1)", "len(values)"))
    git(tmp_path, "commit", "-qam", "fix the mean")

    (result,) = validate([kata], repeat=1, jobs=1, preload=())

    assert failed_checks(result) == []
    assert result.notes == [
        "working copy differs from the sealed kata: validated the sealed one "
        "(authors: `kata seal good` after editing)"
    ]


def test_a_changed_kata_whose_sealed_version_is_lost_is_reported(tmp_path):
    folder = write_kata(tmp_path, "good", "good_stats")
    (kata,) = load_catalogue(tmp_path)
    write_seal(kata)
    (folder / "good_stats.py").write_text("def mean(values):\n    return 0.0\n")

    with pytest.raises(CatalogueError) as error:
        validate([kata], repeat=1, jobs=1, preload=())

    (problem,) = error.value.problems
    assert problem.startswith(str(folder / "good_stats.py"))
    assert "kata seal good" in problem


def test_missing_private_material_is_named(tmp_path):
    write_kata(tmp_path, "good", "good_stats", decoys={"only-one": WRONG_DECOY}, alternatives={})
    private = tmp_path / "grader" / "private" / "good"
    for holdout in (private / "holdout").iterdir():
        holdout.unlink()
    (private / "questions.toml").unlink()

    (result,) = validate(load_catalogue(tmp_path), repeat=1, jobs=1, preload=())

    (material,) = [c for c in result.checks if c.name == "private material"]
    assert not material.ok
    assert "1 decoy patches, need 3" in material.detail
    assert "0 alternative patches, need 1" in material.detail
    assert f"{private / 'questions.toml'}: missing" in material.detail
    assert f"{Path(private / 'holdout')}: no test_*.py holdout tests" in material.detail


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[questions]]\nquestion = "Why?"\nanswer = "Because."\n', "1 questions; write 2 to 3"),
        (
            '[[questions]]\nquestion = "Why?"\nanswer = "  "\n' * 2,
            "question 1: needs a non-empty `question` and `answer`",
        ),
        ('questions = "Why?"\n', "expected [[questions]] tables"),
        ("[[questions]\n", "not valid TOML"),
    ],
)
def test_follow_up_questions_must_be_two_or_three_with_answers(tmp_path, text, problem):
    (tmp_path / "questions.toml").write_text(text)
    (found,) = questions.problems(tmp_path)
    assert found.startswith(f"{tmp_path / 'questions.toml'}: ")
    assert problem in found
    (tmp_path / "questions.toml").write_text(QUESTIONS_TOML)
    assert questions.problems(tmp_path) == []
