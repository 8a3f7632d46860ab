"""A sealed cohort, the whole path: the workflows' own shell steps on local bare
repositories, a stand-in ``gh`` and the cohort's key from the environment (see
``test_simulation`` for the world they run in).

The template's answers are sealed (``kata cohort seal``) before the cohort's upstream is
made.  A candidate pushes the start marker alone, then a tuned decoy (it passes the
visible tests, not the hidden ones), then the fix.  The grade workflow, which holds no
key, runs the visible tests and marks the hidden ones pending; the publish workflow's
hidden job unseals the hidden tests with the key and runs them against the pull request's
head, and publish ranks a result only with that job's report.  The fix is also published
with a wrong key, and with a grade report that claims hidden tests the hidden job never
ran: neither ranks.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
from test_simulation import KATA, World, branch_file

pytestmark = pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("base64") is None,
    reason="the publish workflow's shell steps need jq and base64",
)

HOLDOUT = "test_mean_stats_holdout.py::test_mean_of_other_lengths"
NOT_RUN = "hidden tests not run"


def forged(artifact: Path, into: Path) -> Path:
    """The grade artifact with its report claiming that the hidden tests ran and passed."""
    shutil.copytree(artifact, into)
    report = json.loads((into / "report.json").read_text())
    (kata,) = report["katas"]
    visible = kata["tests"][0]
    kata["tests"].append({**visible, "name": HOLDOUT, "hidden": True, "test_code": ""})
    kata.update(hidden_tests="ran", message=f"all {len(kata['tests'])} tests pass")
    kata["notes"] = [n for n in kata["notes"] if "hidden tests pending" not in n]
    (into / "report.json").write_text(json.dumps(report))
    return into


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> dict:
    import pyrage

    world = World(tmp_path_factory.mktemp("cohort"))
    key = world.publish_template(cohort=True)
    chapters = [{"head": head, "grade": grade} for head, grade in world.candidate_story()]
    fix = chapters[2]
    wrong = str(pyrage.x25519.Identity.generate())
    variants = {
        "wrong key": world.publish_run(
            fix["grade"]["artifact"], fix["head"], 3, key=wrong, label="-wrong", record=False
        ),
        "forged": world.publish_run(
            forged(fix["grade"]["artifact"], world.tmp / "forged-artifact"),
            fix["head"],
            3,
            key=None,  # the hidden job produced nothing: the secret is not set
            label="-forged",
            record=False,
        ),
    }
    for number, chapter in enumerate(chapters, 1):
        chapter.update(
            world.publish_run(chapter["grade"]["artifact"], chapter["head"], number, key=key)
        )
    return {"world": world, "key": key, "chapters": chapters, "variants": variants}


def result_of(published: dict) -> dict:
    assert list(published["results"]) == [KATA], published["stderr"]
    return published["results"][KATA]


def test_the_start_marker_alone_is_nothing_to_grade_for_the_hidden_job_too(story):
    first = story["chapters"][0]
    assert first["cohort"] == "true"
    hidden = first["hidden"]
    assert "failed" not in hidden and hidden["report"] is None
    assert "nothing to grade" in hidden["Run the hidden tests"].stdout
    assert (first["status"], first["recorded"]) == ("0", "false")
    assert "nothing to grade" in first["comment"]


def test_the_grade_workflow_holds_no_key_and_marks_the_hidden_tests_pending(story):
    decoy = story["chapters"][1]
    report = json.loads((decoy["grade"]["artifact"] / "report.json").read_text())
    (kata,) = report["katas"]
    assert (kata["status"], kata["hidden_tests"]) == ("green", "pending")  # visible only
    assert not [t for t in kata["tests"] if t["hidden"]]
    assert "`kata grade` ran the visible tests only" in decoy["grade"]["stdout"]


def test_the_hidden_job_finds_the_decoy_red_and_publish_takes_its_verdict(story):
    decoy = story["chapters"][1]
    report = json.loads(decoy["hidden"]["report"].read_text())
    (kata,) = report["katas"]
    assert (report["isolation"], kata["hidden_tests"], kata["status"]) == ("full", "ran", "red")
    assert [t["status"] for t in kata["tests"] if t["hidden"]] == ["fail"]
    result = result_of(decoy)
    assert (result["status"], result["tests_total"], result["tests_passed"]) == ("red", 3, 2)
    assert (
        "test\\_mean\\_stats\\_holdout.py::test\\_mean\\_of\\_other\\_lengths (hidden) | ❌ fail"
        in (decoy["comment"])
    )


def test_with_the_key_the_fix_runs_its_hidden_tests_and_ranks(story):
    world, fix = story["world"], story["chapters"][2]
    assert "failed" not in fix["hidden"], fix["hidden"]
    result = json.loads(branch_file(world, f"results/{KATA}/pr1-run1003.json"))
    assert (result["status"], result["ranked"]) == ("green", True), result["unranked_reasons"]
    assert (result["tests_total"], result["tests_passed"]) == (3, 3)
    assert (result["server_time_s"], result["clock"]) == (405, "server")
    assert result["diff"]["reference_total"] == 2  # the seal's public number
    assert "(hidden) | ✅ pass" in fix["comment"]
    assert "Ranked, rank 1 of 1" in fix["comment"]


def test_a_wrong_key_is_refused_with_a_clear_message_and_nothing_ranks(story):
    wrong = story["variants"]["wrong key"]
    hidden = wrong["hidden"]
    assert (hidden["failed"], hidden["report"]) == ("Unseal the hidden tests", None)
    unseal = hidden["Unseal the hidden tests"]
    assert "kata cohort unseal: refused: the key in $KATA_COHORT_KEY does not open " in (
        unseal.stderr
    )
    assert not (
        hidden_checkout(story, "-wrong") / "grader/private/mean-off-by-one/holdout"
    ).exists()
    result = result_of(wrong)
    assert (result["status"], result["ranked"]) == ("green", False)
    assert any(r.startswith(NOT_RUN) for r in result["unranked_reasons"])
    assert NOT_RUN in wrong["comment"]


def test_a_report_claiming_hidden_tests_the_hidden_job_never_ran_does_not_rank(story):
    forged_run = story["variants"]["forged"]
    assert forged_run["hidden"]["failed"] == "Unseal the hidden tests"
    assert "::error title=No cohort key::" in forged_run["hidden"]["Unseal the hidden tests"].stdout
    result = result_of(forged_run)
    assert result["ranked"] is False
    assert any(r.startswith(NOT_RUN) for r in result["unranked_reasons"])


def hidden_checkout(story: dict, label: str = "") -> Path:
    return story["world"].tmp / f"publish-3{label}" / "hidden" / "workspace" / "trusted"


def test_the_unsealed_answers_are_their_owners_only_and_the_key_is_never_printed(story):
    private = hidden_checkout(story) / "grader" / "private" / KATA
    for path in (private / "reference.patch", private / "holdout"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    logs = [
        text
        for published in [*story["chapters"], *story["variants"].values()]
        for text in [published["stdout"], published["stderr"], published["comment"]]
        + [
            getattr(step, stream)
            for step in published.get("hidden", {}).values()
            if hasattr(step, "stdout")
            for stream in ("stdout", "stderr")
        ]
    ]
    assert logs and not any(story["key"] in text for text in logs)
