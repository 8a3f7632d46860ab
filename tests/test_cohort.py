"""Cohort mode: the answers (reference fixes, decoys, hidden tests, hints) sealed into one
encrypted file; grading without the key marks the hidden tests pending, and publish does
not rank a result whose hidden tests did not run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kata_factory import BUGGY_MODULE, OLD_LINE, REFERENCE, attempt_repo, git, run_kata

from grader.catalogue.katas import load_catalogue

T0 = 1_700_000_000
MODULE = "katas/good/good_stats.py"
PRIVATE = Path("grader/private/good")
SECRET_FILES = ("reference.patch", "hints.toml", "decoys/tuned.patch", "holdout")


def sealed_repo(root: Path) -> tuple[Path, str]:
    """An attempt repository whose template was sealed; returns (root, key)."""
    attempt_repo(root, template_at=T0 - 1000)
    git(root, "checkout", "-q", "main")
    done = run_kata(root, "cohort", "seal")
    assert done.returncode == 0, done.stderr
    key = next(w for w in done.stdout.split() if w.startswith("AGE-SECRET-KEY-"))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "seal the cohort", when=T0 - 900)
    git(root, "checkout", "-q", "attempt")
    git(root, "rebase", "-q", "main")
    return root, key


@pytest.fixture
def cohort(tmp_path) -> tuple[Path, str]:
    return sealed_repo(tmp_path / "repo")


def test_seal_leaves_no_answer_in_the_repository_and_says_what_to_do(tmp_path):
    root = attempt_repo(tmp_path / "repo")
    git(root, "checkout", "-q", "main")
    done = run_kata(root, "cohort", "seal")
    assert done.returncode == 0, done.stderr
    for name in SECRET_FILES:
        assert not (root / PRIVATE / name).exists(), name
    assert (root / PRIVATE / "pristine.json").is_file()  # not an answer: stays
    assert (root / "grader/sealed/private.age").is_file()
    public = json.loads((root / "grader/sealed/public.json").read_text())
    assert public["katas"]["good"] == {"reference_total": 2, "hint_count": 1}
    assert public["recipient"].startswith("age1")
    assert "KATA_COHORT_KEY" in done.stdout  # the secret to set
    assert "Count the values." not in "".join(
        p.read_text(errors="replace")
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.parts
    )


def test_the_seal_keeps_hidden_test_names_out_of_the_public_timings(tmp_path):
    """A hidden test's name says what it checks (``test_mean_of_other_lengths``): the
    timings the grade job keeps public list the visible tests only, the record of which
    test catches each decoy is sealed, and unseal gives the publish job both back."""
    from grader.authoring.validate import CAUGHT_FILE
    from grader.grading.timeouts import TIMINGS_FILE, write_reference_timings

    root = attempt_repo(tmp_path / "repo")
    git(root, "checkout", "-q", "main")
    (kata,) = load_catalogue(root)
    measured = {
        "test_good_stats.py::test_mean_of_four": 0.5,
        "test_good_stats_holdout.py::test_mean_of_other_lengths": 0.25,
    }
    write_reference_timings(kata, measured)
    caught = '{"decoys": {"tuned": "test_good_stats_holdout.py::test_mean_of_other_lengths"}}'
    (root / PRIVATE / CAUGHT_FILE).write_text(caught)  # a decoy's name is an answer too
    done = run_kata(root, "cohort", "seal")
    assert done.returncode == 0, done.stderr
    public_text = "".join(
        p.read_text(errors="replace")
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.parts
    )
    assert "test_mean_of_other_lengths" not in public_text
    assert not (root / PRIVATE / CAUGHT_FILE).exists()
    public = json.loads((root / PRIVATE / TIMINGS_FILE).read_text())["tests"]
    assert public == {"test_good_stats.py::test_mean_of_four": 0.5}
    key = next(w for w in done.stdout.split() if w.startswith("AGE-SECRET-KEY-"))
    done = run_kata(root, "cohort", "unseal", env={"KATA_COHORT_KEY": key})
    assert done.returncode == 0, done.stderr
    assert json.loads((root / PRIVATE / TIMINGS_FILE).read_text())["tests"] == measured
    assert (root / PRIVATE / CAUGHT_FILE).read_text() == caught


ROOT = Path(__file__).resolve().parent.parent


def settings_the_workflows_read() -> set[str]:
    import re

    text = "".join(p.read_text() for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    return set(re.findall(r"\b(?:vars|secrets)\.(KATA_[A-Z_]+)", text))


def test_the_seal_names_only_settings_the_workflows_read(tmp_path):
    import re

    root = attempt_repo(tmp_path / "repo")
    git(root, "checkout", "-q", "main")
    done = run_kata(root, "cohort", "seal")
    assert done.returncode == 0, done.stderr
    named = set(re.findall(r"\bKATA_[A-Z_]+", done.stdout))
    assert "KATA_COHORT_KEY" in named
    assert named <= settings_the_workflows_read(), named - settings_the_workflows_read()
    assert "docs/cohorts.md" in done.stdout


def test_the_cohort_guide_names_only_settings_that_exist():
    import re

    guide = (ROOT / "docs" / "cohorts.md").read_text()
    code = "".join(
        p.read_text()
        for pattern in ("grader/**/*.py", "scripts/*.sh", ".github/workflows/*.yml")
        for p in ROOT.glob(pattern)
    )
    named = set(re.findall(r"\bKATA_[A-Z_]+", guide))
    assert {"KATA_COHORT_KEY", "KATA_REQUIRE_SERVER_CLOCK"} <= named
    assert {n for n in named if n not in code} == set()
    for setting in settings_the_workflows_read():  # every setting the workflows read
        assert setting in guide, setting


def test_unseal_with_the_key_restores_the_private_material(cohort):
    root, key = cohort
    done = run_kata(root, "cohort", "unseal", env={"KATA_COHORT_KEY": key})
    assert done.returncode == 0, done.stderr
    assert (root / PRIVATE / "reference.patch").read_text().startswith("Fix:")
    assert (root / PRIVATE / "hints.toml").read_text() == 'hints = ["Count the values."]\n'
    (kata,) = load_catalogue(root)
    assert kata.hints == ("Count the values.",)


def test_unseal_with_a_wrong_key_is_refused_and_writes_nothing(cohort):
    import pyrage

    root, _ = cohort
    wrong = str(pyrage.x25519.Identity.generate())
    done = run_kata(root, "cohort", "unseal", env={"KATA_COHORT_KEY": wrong})
    assert done.returncode == 1
    assert "does not open grader/sealed/private.age" in done.stderr
    assert not (root / PRIVATE / "reference.patch").exists()
    missing = run_kata(root, "cohort", "unseal", env={"KATA_COHORT_KEY": ""})
    assert missing.returncode == 2 and "KATA_COHORT_KEY" in missing.stderr


def test_without_the_key_grading_marks_the_hidden_tests_pending(cohort):
    from grader.grading.gitdata import Repo
    from grader.grading.grade import Limits, grade

    root, _ = cohort
    git(root, "commit", "-q", "--allow-empty", "-m", "Start\n\nKata-Start: good", when=T0)
    (root / MODULE).write_text(BUGGY_MODULE.replace(OLD_LINE, REFERENCE))
    git(root, "commit", "-qam", "fix", when=T0 + 60)
    report = grade(Repo(root), "main", "HEAD", None, limits=Limits(run_timeout_s=60.0))
    (kata,) = report["katas"]
    assert kata["status"] == "green"
    assert kata["hidden_tests"] == "pending"
    assert not [t for t in kata["tests"] if t["hidden"]]
    assert kata["diff"]["reference_total"] == 2  # a public number, still
    assert any("hidden tests pending" in note for note in kata["notes"])


# --- without the key: each command says what is sealed, and where it runs --------------

SEALED = "sealed in this cohort (grader/sealed/private.age)"


def no_traceback(done) -> None:
    assert "Traceback" not in done.stdout + done.stderr, done.stderr


def test_without_the_key_kata_test_says_it_ran_the_visible_tests_only(cohort):
    root, _ = cohort
    done = run_kata(root, "test", "good")
    no_traceback(done)
    assert done.returncode == 1  # the shipped bug: red
    assert f"the hidden tests of good are {SEALED}: they run in the publish job" in done.stdout
    assert "`kata test` ran the visible tests only" in done.stdout
    (root / MODULE).write_text(BUGGY_MODULE.replace(OLD_LINE, REFERENCE))
    green = run_kata(root, "test", "good")
    no_traceback(green)
    assert green.returncode == 0
    assert "reference fix: 2 lines" in green.stdout  # a public number, still


def test_without_the_key_kata_grade_says_it_ran_the_visible_tests_only(cohort):
    root, _ = cohort
    done = run_kata(root, "grade", "--base", "main", "--kata", "good")
    no_traceback(done)
    assert f"the hidden tests of good are {SEALED}: they run in the publish job" in done.stdout
    assert "`kata grade` ran the visible tests only" in done.stdout


@pytest.mark.parametrize("give_up", [False, True])
def test_without_the_key_kata_solution_says_the_fix_is_sealed_and_records_nothing(cohort, give_up):
    root, _ = cohort
    git(root, "commit", "-q", "--allow-empty", "-m", "Start\n\nKata-Start: good", when=T0)
    before = git(root, "rev-parse", "HEAD")
    done = run_kata(root, "solution", "good", *(["--give-up"] if give_up else []))
    no_traceback(done)
    assert done.returncode == 2
    assert f"the reference fix of good is {SEALED}" in done.stderr
    assert "kata solution cannot show it here" in done.stderr
    assert git(root, "rev-parse", "HEAD") == before  # no give-up marker


def test_without_the_key_kata_hint_says_the_hints_are_sealed_and_records_nothing(cohort):
    root, _ = cohort
    git(root, "commit", "-q", "--allow-empty", "-m", "Start\n\nKata-Start: good", when=T0)
    before = git(root, "rev-parse", "HEAD")
    done = run_kata(root, "hint", "good")
    no_traceback(done)
    assert done.returncode == 2
    assert f"the hints of good are {SEALED}" in done.stderr
    assert "no hint is shown or counted here" in done.stderr
    assert git(root, "rev-parse", "HEAD") == before  # no hint marker


# --- publish: a sealed cohort ranks a result only when its hidden tests ran -------------


def graded_attempt(root: Path) -> Path:
    git(root, "commit", "-q", "--allow-empty", "-m", "Start\n\nKata-Start: good", when=T0)
    (root / MODULE).write_text(BUGGY_MODULE.replace(OLD_LINE, REFERENCE))
    git(root, "commit", "-qam", "fix", when=T0 + 60)
    git(root, "checkout", "-q", "main")
    return root


def cohort_publish(root: Path, report: Path, *extra: str) -> tuple[int, dict]:
    from grader.cli.main import main

    folder = root.parent / "artifact"
    folder.mkdir(exist_ok=True)
    (folder / "pr-number").write_text("5\n")
    (folder / "outcome").write_text("graded\n")
    (folder / "report.json").write_text(report.read_text())
    board = root.parent / "board"
    head = git(root, "rev-parse", "attempt")
    code = main(
        ["publish", "--artifact", str(folder), "--pr", "5", "--user", "alice", "--head-sha", head,
         "--repo", str(root), "--run-id", "42", "--leaderboard", str(board), *extra]
    )  # fmt: skip
    return code, json.loads((board / "results/good/pr5-run42.json").read_text())


def kata_grade(root: Path, out: Path, *extra: str, env: dict | None = None):
    done = run_kata(
        root, "grade", "--base", "main", "--head", "attempt", "--json", str(out), *extra, env=env
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(out.read_text())


def test_a_sealed_cohort_ranks_only_with_its_hidden_tests_run(cohort, tmp_path):
    root, key = graded_attempt(cohort[0]), cohort[1]
    visible = tmp_path / "report.json"
    assert kata_grade(root, visible)["katas"][0]["hidden_tests"] == "pending"
    code, result = cohort_publish(root, visible)
    assert (code, result["status"], result["ranked"]) == (0, "green", False)
    assert any(r.startswith("hidden tests not run") for r in result["unranked_reasons"])
    # the publish side: a trusted copy unsealed with the key grades the hidden tests
    trusted = tmp_path / "trusted"
    git(tmp_path, "clone", "-q", str(root), str(trusted))
    opened = run_kata(trusted, "cohort", "unseal", env={"KATA_COHORT_KEY": key})
    assert opened.returncode == 0, opened.stderr
    hidden = tmp_path / "hidden.json"
    report = kata_grade(root, hidden, "--private", str(trusted / "grader" / "private"))
    assert [t["status"] for t in report["katas"][0]["tests"] if t["hidden"]] == ["pass"]
    code, result = cohort_publish(root, visible, "--hidden-report", str(hidden))
    assert (code, result["ranked"], result["tests_total"]) == (0, True, 3), result


def hidden_run(root: Path, key: str, tmp_path: Path) -> Path:
    """The publish workflow's hidden job, by hand: a trusted copy unsealed with the key
    grades the pull request's head with the hidden tests."""
    trusted = tmp_path / "trusted"
    git(tmp_path, "clone", "-q", str(root), str(trusted))
    opened = run_kata(trusted, "cohort", "unseal", env={"KATA_COHORT_KEY": key})
    assert opened.returncode == 0, opened.stderr
    hidden = tmp_path / "hidden.json"
    kata_grade(root, hidden, "--private", str(trusted / "grader" / "private"))
    return hidden


def test_when_the_hidden_job_wrote_no_report_the_result_is_recorded_unranked(cohort, tmp_path):
    root = graded_attempt(cohort[0])
    visible = tmp_path / "report.json"
    kata_grade(root, visible)
    code, result = cohort_publish(root, visible, "--hidden-report", str(tmp_path / "none.json"))
    assert (code, result["status"], result["ranked"]) == (0, "green", False)
    assert any(
        r.startswith("hidden tests not run") and "wrote no report" in r
        for r in result["unranked_reasons"]
    ), result["unranked_reasons"]


def test_a_hidden_run_without_full_isolation_does_not_rank(cohort, tmp_path):
    root, key = graded_attempt(cohort[0]), cohort[1]
    visible = tmp_path / "report.json"
    kata_grade(root, visible)
    hidden = hidden_run(root, key, tmp_path)
    report = json.loads(hidden.read_text())
    report["isolation"] = "process"  # the candidate's code could read the unsealed answers
    hidden.write_text(json.dumps(report))
    code, result = cohort_publish(root, visible, "--hidden-report", str(hidden))
    assert (code, result["ranked"]) == (0, False)
    assert any("hidden tests not run fully isolated" in r for r in result["unranked_reasons"])


def test_unsealed_answers_are_readable_by_their_owner_only(cohort):
    import stat

    root, key = cohort
    done = run_kata(root, "cohort", "unseal", env={"KATA_COHORT_KEY": key})
    assert done.returncode == 0, done.stderr
    for path in [root / PRIVATE / "reference.patch", root / PRIVATE / "holdout"]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path}: {oct(mode)}"
