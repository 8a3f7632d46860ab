"""`kata grade` on real git repositories: honest fixes and an adversarial suite.

Each case is a branch off a "template" commit holding one torch-free kata; commits carry
controlled timestamps so time-to-green is exact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kata_factory import BUGGY_MODULE, OLD_LINE, REFERENCE, attempt_repo, git, write_kata

from grader.grading.gitdata import Repo
from grader.grading.grade import GradeUsageError, Limits, grade
from grader.grading.report import annotations, markdown, read_report, validate_report
from grader.grading.sandbox import Sandbox

T0 = 1_700_000_000
MODULE = "katas/good/good_stats.py"
LIMITS = Limits(test_timeout_s=2.0, run_timeout_s=30.0)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
def repo(tmp_path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    return attempt_repo(tmp_path, template_at=T0 - 1000)


def start(root: Path, when: int = T0) -> None:
    git(root, "commit", "-q", "--allow-empty", "-m", "Start\n\nKata-Start: good", when=when)


def change(root: Path, when: int, files: dict[str, str | None], message: str = "work") -> None:
    for path, text in files.items():
        target = root / path
        if text is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", message, when=when)


def buggy_with(line: str) -> str:
    """The shipped module with its buggy line replaced."""
    return BUGGY_MODULE.replace(OLD_LINE, line)


def fixed() -> str:
    return buggy_with(REFERENCE)


def graded(root: Path, sandbox: Sandbox, kata_ids: list[str] | None = None) -> dict:
    report = grade(Repo(root), "main", "HEAD", kata_ids, sandbox=sandbox, limits=LIMITS)
    validate_report(report)
    (kata,) = report["katas"]
    return kata


def statuses(kata: dict) -> dict[str, str]:
    return {t["name"]: t["status"] for t in kata["tests"]}


ALL_PASS = {
    "test_good_stats.py::test_mean_of_four": "pass",
    "test_good_stats.py::test_spread": "pass",
    "test_good_stats_holdout.py::test_mean_of_other_lengths": "pass",
}


# --- honest attempts ------------------------------------------------------------------


def test_honest_fix_is_green_ranked_timed_and_sized(repo, sandbox):
    start(repo)
    change(repo, T0 + 300, {MODULE: fixed()})
    kata = graded(repo, sandbox)
    assert (kata["status"], kata["ranked"], kata["unranked_reasons"]) == ("green", True, [])
    assert statuses(kata) == ALL_PASS
    assert kata["time_to_green_s"] == 300
    assert kata["attempts"] == 1
    assert kata["diff"] == {
        "added": 1,
        "removed": 1,
        "total": 2,
        "tokens": 4,
        "reference_total": 2,
    }
    assert kata["lint"] == []
    assert kata["clock"] == "commit"
    assert kata["green_commit"] == git(repo, "rev-parse", "HEAD")


def test_time_is_measured_to_the_first_green_commit(repo, sandbox):
    start(repo)
    change(repo, T0 + 60, {MODULE: buggy_with("    return sum(values) / 4")})
    change(repo, T0 + 120, {MODULE: buggy_with("    return 0.0")})
    change(repo, T0 + 400, {MODULE: fixed()}, "the fix")
    green = git(repo, "rev-parse", "HEAD")
    change(repo, T0 + 900, {MODULE: fixed() + "\n# tidy\n"}, "tidy")
    kata = graded(repo, sandbox)
    assert kata["status"] == "green"
    assert (kata["time_to_green_s"], kata["attempts"], kata["green_commit"]) == (400, 3, green)


def marker(root: Path, when: int, trailer: str, kata_id: str = "good") -> None:
    git(root, "commit", "-q", "--allow-empty", "-m", f"marker\n\n{trailer}: {kata_id}", when=when)


def test_hints_are_counted_from_base_to_the_first_green_commit(repo, sandbox):
    marker(repo, T0 - 500, "Kata-Hint")  # before the start marker: seen all the same
    start(repo)
    marker(repo, T0 + 10, "Kata-Hint")
    marker(repo, T0 + 20, "Kata-Hint", "another-kata")
    marker(repo, T0 + 30, "Kata-Hint")
    change(repo, T0 + 300, {MODULE: fixed()})
    marker(repo, T0 + 400, "Kata-Hint")  # after green: the fix did not need it
    kata = graded(repo, sandbox)
    assert (kata["status"], kata["ranked"], kata["hints_used"]) == ("green", True, 3)
    assert (kata["time_to_green_s"], kata["attempts"]) == (300, 1)  # markers are no attempts


def test_giving_up_before_green_makes_the_result_unranked(repo, sandbox):
    start(repo)
    marker(repo, T0 + 10, "Kata-Give-Up")
    change(repo, T0 + 300, {MODULE: fixed()})
    kata = graded(repo, sandbox)
    assert (kata["status"], kata["ranked"]) == ("green", False)
    assert [r for r in kata["unranked_reasons"] if r.startswith("gave up")]


def test_looking_at_the_solution_after_green_costs_nothing(repo, sandbox):
    start(repo)
    change(repo, T0 + 300, {MODULE: fixed()})
    marker(repo, T0 + 400, "Kata-Give-Up")
    kata = graded(repo, sandbox)
    assert (kata["status"], kata["ranked"], kata["hints_used"]) == ("green", True, 0)


def test_the_search_for_the_first_green_commit_is_bounded(repo, sandbox):
    start(repo)
    change(repo, T0 + 60, {MODULE: buggy_with("    return 0.0")})
    change(repo, T0 + 400, {MODULE: fixed()})
    limits = Limits(test_timeout_s=2.0, run_timeout_s=30.0, total_timeout_s=0.0)
    report = grade(Repo(repo), "main", "HEAD", None, sandbox=sandbox, limits=limits)
    (kata,) = report["katas"]
    assert kata["status"] == "green"
    assert kata["time_to_green_s"] == 400  # measured to head: never shorter than the truth
    assert kata["notes"] == [
        "stopped looking for the first green commit after 0 s; time-to-green is measured to head"
    ]


def test_red_head_has_no_time_and_names_the_failing_tests(repo, sandbox):
    start(repo)
    change(repo, T0 + 60, {MODULE: buggy_with("    return sum(values) / 4")})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert kata["message"] == "1 of 3 tests fail"
    assert statuses(kata)["test_good_stats_holdout.py::test_mean_of_other_lengths"] == "fail"
    (hidden,) = [t for t in kata["tests"] if t["hidden"]]
    assert hidden["test_code"] == ""  # hidden tests stay hidden
    assert hidden["message"] == "mean of 1 twos is 2, got 0.5"
    assert (kata["time_to_green_s"], kata["green_commit"]) == (None, None)


def test_without_a_start_marker_time_is_not_measured(repo, sandbox):
    change(repo, T0 + 300, {MODULE: fixed()})
    kata = graded(repo, sandbox)
    assert kata["status"] == "green"
    assert kata["time_to_green_s"] is None
    assert kata["notes"] == [
        "no `Kata-Start: good` commit before head: time-to-green is not measured "
        "(run `kata start good` before you begin)"
    ]


# --- adversarial: each attempt is graded, and never green and ranked -------------------

VISIBLE = "katas/good/test_good_stats.py"


def assert_unranked_for(kata: dict, *paths: str) -> None:
    assert kata["ranked"] is False
    for path in paths:
        assert any(reason.startswith(f"changed {path}:") for reason in kata["unranked_reasons"]), (
            kata["unranked_reasons"]
        )


def test_edited_visible_tests_are_replaced_by_base(repo, sandbox):
    weakened = (repo / VISIBLE).read_text().replace("math.isclose(got, 3.0)", "True")
    change(repo, T0, {VISIBLE: weakened})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert statuses(kata)["test_good_stats.py::test_mean_of_four"] == "fail"
    assert_unranked_for(kata, VISIBLE)


def test_deleted_tests_still_run_from_base(repo, sandbox):
    change(repo, T0, {VISIBLE: None})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert_unranked_for(kata, VISIBLE)


def test_a_conftest_that_skips_everything_is_never_used(repo, sandbox):
    conftest = "import pytest\n\ndef pytest_collection_modifyitems(items):\n    items.clear()\n"
    change(repo, T0, {"katas/good/conftest.py": conftest, "conftest.py": conftest})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert_unranked_for(kata, "conftest.py", "katas/good/conftest.py")


def test_pytest_ini_in_the_kata_folder_is_ignored(repo, sandbox):
    change(repo, T0, {"katas/good/pytest.ini": "[pytest]\naddopts = -k spread\n"})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert statuses(kata)["test_good_stats.py::test_mean_of_four"] == "fail"
    assert_unranked_for(kata, "katas/good/pytest.ini")


def test_pyproject_addopts_are_ignored(repo, sandbox):
    change(repo, T0, {"pyproject.toml": '[tool.pytest.ini_options]\naddopts = "-k spread"\n'})
    kata = graded(repo, sandbox, ["good"])
    assert kata["status"] == "red"
    assert_unranked_for(kata, "pyproject.toml")


def test_a_new_test_file_does_not_count(repo, sandbox):
    change(repo, T0, {"katas/good/test_mine.py": "def test_ok():\n    pass\n"})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert "test_mine.py::test_ok" not in statuses(kata)
    assert_unranked_for(kata, "katas/good/test_mine.py")


def test_sys_exit_at_import_fails_every_test_and_is_flagged(repo, sandbox):
    change(repo, T0, {MODULE: "import sys\n\nsys.exit(0)\n" + fixed()})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert {t["status"] for t in kata["tests"]} == {"error"}
    assert all(t["message"].startswith("CandidateError: SystemExit: 0") for t in kata["tests"])
    assert kata["ranked"] is False
    assert any(
        "suspicious code at katas/good/good_stats.py:3" in r for r in kata["unranked_reasons"]
    )


def test_os_exit_at_import_fails_every_test_and_is_flagged(repo, sandbox):
    change(repo, T0, {MODULE: "import os\n\nos._exit(0)\n" + fixed()})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert all(
        t["status"] == "error"
        and "the process running the code under test ended (exit status 0)" in t["message"]
        for t in kata["tests"]
    )
    assert kata["ranked"] is False


def test_monkeypatching_the_oracle_cannot_reach_the_tests(repo, sandbox):
    # Written through a helper the scan cannot resolve: the patch lands in the subject
    # process, and the tests' math.isclose (in the trusted process) is untouched.
    cheat = "def _patch(m):\n    m.isclose = lambda *a, **k: True\n\n\n_patch(__import__('math'))\n"
    change(repo, T0, {MODULE: buggy_with("    return 0.0") + cheat})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert statuses(kata)["test_good_stats.py::test_mean_of_four"] == "fail"
    messages = {t["name"]: t["message"] for t in kata["tests"]}
    assert messages["test_good_stats.py::test_mean_of_four"] == "mean of [1, 2, 3, 6] is 3, got 0.0"


def test_a_plain_monkeypatch_is_flagged_by_the_scan(repo, sandbox):
    cheat = "\n\nimport math\n\nmath.isclose = lambda *a, **k: True\n"
    change(repo, T0, {MODULE: BUGGY_MODULE + cheat})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert any(
        r.startswith("suspicious code at katas/good/good_stats.py:15")
        for r in kata["unranked_reasons"]
    )


def test_skipping_from_the_module_counts_as_failing_and_is_flagged(repo, sandbox):
    skip = "import pytest\n\npytest.skip('not today', allow_module_level=True)\n"
    change(repo, T0, {MODULE: skip + fixed()})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert all(
        t["status"] == "error" and t["message"].startswith("CandidateError: Skipped: not today")
        for t in kata["tests"]
    )
    assert kata["ranked"] is False
    assert any("good_stats.py:1" in r for r in kata["unranked_reasons"])


def test_an_infinite_loop_times_out_as_a_test_error(repo, sandbox):
    change(repo, T0, {MODULE: buggy_with("    while True:\n        pass")})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert statuses(kata)["test_good_stats.py::test_mean_of_four"] == "error"
    messages = {t["name"]: t["message"] for t in kata["tests"]}
    assert messages["test_good_stats.py::test_mean_of_four"] == (
        "timed out after 2 s: does the code loop?"
    )


def test_printing_a_fake_pytest_summary_changes_nothing(repo, sandbox):
    fake = "print('3 passed in 0.01s')\nprint('::notice::all green')\n"
    change(repo, T0, {MODULE: BUGGY_MODULE + fake})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert kata["ranked"] is True  # honest (if useless) code: red, but nothing to flag


def test_an_edited_grader_makes_a_green_fix_unranked(repo, sandbox):
    start(repo)
    change(repo, T0 + 60, {MODULE: fixed(), "grader/grading/runner.py": "VERDICT = 'green'\n"})
    kata = graded(repo, sandbox)
    assert kata["status"] == "green"
    assert_unranked_for(kata, "grader/grading/runner.py")


def test_editing_the_hidden_tests_changes_nothing(repo, sandbox):
    holdout = "grader/private/good/holdout/test_good_stats_holdout.py"
    change(repo, T0, {holdout: "def test_mean_of_other_lengths():\n    pass\n"})
    change(repo, T0 + 1, {MODULE: buggy_with("    return sum(values) / 4")})
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    assert statuses(kata)["test_good_stats_holdout.py::test_mean_of_other_lengths"] == "fail"
    assert_unranked_for(kata, holdout)


# --- report, summary, usage ------------------------------------------------------------


def test_markdown_and_annotations_escape_and_bound(repo, sandbox):
    change(repo, T0, {MODULE: buggy_with("    return sum(values) / 4")})
    report = grade(Repo(repo), "main", "HEAD", ["good"], sandbox=sandbox, limits=LIMITS)
    report["katas"][0]["message"] = "<img src=x onerror=alert(1)> | @org/team"
    summary = markdown(report)
    assert (
        "<img" not in summary
        and "&lt;img src=x onerror=alert\\(1\\)&gt; \\| \\@<!-- -->org/team" in summary
    )
    (line,) = annotations(report)
    assert line.startswith(
        "::error file=katas/good/good_stats.py,line=1,"
        "title=good%3A test_good_stats_holdout.py%3A%3A"
    )


def cli(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *args],
        cwd=root,
        env={**os.environ, "KATA_ROOT": str(root), "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_writes_a_valid_report_summary_and_annotations(repo, tmp_path):
    start(repo)
    change(repo, T0 + 90, {MODULE: fixed()})
    summary = tmp_path / "summary.md"
    result = cli(
        repo,
        "grade",
        "--base",
        "main",
        "--json",
        str(tmp_path / "report.json"),
        env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = read_report(tmp_path / "report.json")
    assert report["katas"][0]["time_to_green_s"] == 90
    assert "| good | ✅ green | 3/3 | 1m 30s | 1 | 0 | 2 / 4 | 2 | yes |" in summary.read_text()
    assert "::error" not in result.stdout


def test_cli_exit_1_on_red_with_annotations(repo):
    change(repo, T0, {MODULE: buggy_with("    return 0.0")})
    result = cli(repo, "grade", "--base", "main", env={"GITHUB_ACTIONS": "true"})
    assert result.returncode == 1
    assert result.stdout.count("::error file=") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base", "nope"], "kata: unknown ref 'nope': give a branch, tag or commit"),
        (["--base", "main", "--kata", "bad"], "kata: unknown kata 'bad' at base"),
        (["--base", "HEAD"], "kata: no kata changed in HEAD..HEAD: name one with --kata ID"),
    ],
)
def test_cli_usage_errors(repo, args, message):
    result = cli(repo, "grade", *args)
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr


def test_cli_outside_a_repository(tmp_path):
    write_kata(tmp_path, "good", "good_stats")
    result = cli(tmp_path, "grade", "--base", "main")
    assert result.returncode == 2
    assert "is not inside a git repository" in result.stderr


def test_start_refuses_a_dirty_kata_and_writes_the_marker(repo):
    (repo / MODULE).write_text(fixed())
    refused = cli(repo, "start", "good")
    assert refused.returncode == 2
    assert "has uncommitted changes" in refused.stderr
    git(repo, "checkout", "--", MODULE)
    started = cli(repo, "start", "good", env={"GIT_CONFIG_GLOBAL": "/dev/null"} | GIT_IDENTITY)
    assert started.returncode == 0, started.stderr
    assert git(repo, "log", "-1", "--format=%(trailers:key=Kata-Start,valueonly)") == "good"


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "c",
    "GIT_AUTHOR_EMAIL": "c@example.invalid",
    "GIT_COMMITTER_NAME": "c",
    "GIT_COMMITTER_EMAIL": "c@example.invalid",
}


def test_reading_an_invalid_report_is_refused(tmp_path):
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps({"schema_version": 2}))
    with pytest.raises(Exception, match="schema_version"):
        read_report(bad)
    bad.write_text('{"schema_version": NaN}')
    with pytest.raises(Exception, match="not valid JSON"):
        read_report(bad)


def test_grading_is_refused_for_an_unknown_kata_in_python(repo, sandbox):
    with pytest.raises(GradeUsageError):
        grade(Repo(repo), "main", "HEAD", ["nope"], sandbox=sandbox)


def test_cli_says_when_the_work_it_cannot_see_is_uncommitted(repo):
    start(repo)
    (repo / MODULE).write_text(fixed())  # the fix, not committed yet
    nothing = cli(repo, "grade", "--base", "main")
    assert nothing.returncode == 2
    assert nothing.stderr == (
        "kata: no kata changed in main..HEAD: name one with --kata ID; "
        "katas/good has uncommitted changes, and kata grade reads commits only: "
        'commit them (git commit -m "Fix good" katas/good/good_stats.py), then grade again\n'
    )

    git(repo, "commit", "-qam", "fix")
    (repo / MODULE).write_text(fixed() + "\n# still thinking\n")
    graded = cli(repo, "grade", "--base", "main")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert (
        "note: katas/good has uncommitted changes: graded as committed, without them "
        "(kata grade reads commits)\n" in graded.stdout
    )


# --- the clock: markers are evidence, checked against each other -----------------------


def test_a_fix_committed_before_the_start_marker_is_unranked_and_sized_from_base(repo, sandbox):
    # nearly the fix before the marker, then one token after it
    change(repo, T0 - 5400, {MODULE: buggy_with("    return sum(values) / len(values) * 1")})
    start(repo)
    change(repo, T0 + 60, {MODULE: fixed()})
    kata = graded(repo, sandbox)
    assert (kata["status"], kata["ranked"]) == ("green", False)
    assert any(r.startswith("work before the start marker") for r in kata["unranked_reasons"])
    assert kata["diff"]["tokens"] == 4  # from base, not the 2 tokens after the marker
    assert kata["attempts"] == 1


def test_a_fix_made_and_undone_before_the_start_marker_is_unranked(repo, sandbox):
    change(repo, T0 - 600, {MODULE: fixed()}, "found it")
    change(repo, T0 - 500, {MODULE: BUGGY_MODULE}, "hide it")
    start(repo)
    change(repo, T0 + 30, {MODULE: fixed()})
    kata = graded(repo, sandbox)
    assert (kata["status"], kata["ranked"]) == ("green", False)
    assert any(r.startswith("work before the start marker") for r in kata["unranked_reasons"])


def test_the_oldest_start_marker_starts_the_clock_and_later_ones_are_noted(repo, sandbox):
    start(repo)
    change(repo, T0 + 600, {MODULE: buggy_with("    return 0.0")})
    start(repo, T0 + 5400)  # "started" again once the fix is known
    change(repo, T0 + 5460, {MODULE: fixed()})
    kata = graded(repo, sandbox)
    first = git(repo, "rev-list", "--reverse", "HEAD", "^main").splitlines()[0]
    assert (kata["status"], kata["ranked"]) == ("green", True)
    assert (kata["start_commit"], kata["time_to_green_s"]) == (first, 5460)
    assert any("later `Kata-Start: good` marker" in note for note in kata["notes"])


def test_a_green_commit_dated_before_the_marker_has_no_time_and_a_note(repo, sandbox, tmp_path):
    start(repo)
    change(repo, T0 - 100, {MODULE: fixed()})
    report = grade(Repo(repo), "main", "HEAD", None, sandbox=sandbox, limits=LIMITS)
    from grader.grading.report import write_report

    write_report(report, tmp_path / "report.json")  # a valid report, no crash
    (kata,) = report["katas"]
    assert (kata["status"], kata["time_to_green_s"]) == ("green", None)
    assert any("dated before the start marker" in note for note in kata["notes"])


def test_a_start_marker_that_also_changes_the_kata_is_work_before_the_start(repo, sandbox):
    (repo / MODULE).write_text(fixed())
    git(repo, "commit", "-qam", "Start\n\nKata-Start: good", when=T0)
    change(repo, T0 + 5, {MODULE: fixed() + "\n"})
    kata = graded(repo, sandbox)
    assert kata["ranked"] is False
    assert any(r.startswith("work before the start marker") for r in kata["unranked_reasons"])


def test_a_hint_taken_before_the_start_marker_counts(repo, sandbox):
    marker(repo, T0 - 500, "Kata-Hint")
    start(repo)
    change(repo, T0 + 300, {MODULE: fixed()})
    kata = graded(repo, sandbox)
    assert (kata["status"], kata["ranked"], kata["hints_used"]) == ("green", True, 1)


# --- nothing a candidate writes becomes a workflow command ------------------------------


def command_lines(text: str) -> list[str]:
    """Lines the Actions runner would take as a command: `::cmd::` at the start of a line
    (leading whitespace ignored), or the legacy `##[cmd]` anywhere in it."""
    return [line for line in text.splitlines() if line.lstrip().startswith("::") or "##[" in line]


def test_file_names_and_output_never_become_workflow_commands(repo):
    start(repo)
    hostile = "x\n::warning file=a::pwned %0A\n##[error]pwned\r::add-mask::y"
    noisy = "print('::warning::printed')\nprint('##[error]printed')\n"
    change(repo, T0 + 60, {MODULE: buggy_with("    return 0.0") + noisy, f"katas/{hostile}": "x"})
    result = cli(repo, "grade", "--base", "main", env={"GITHUB_ACTIONS": "true"})
    assert result.returncode == 1, result.stderr
    ours = [line for line in command_lines(result.stdout) if line.startswith("::error file=")]
    assert len(ours) == 2  # the two failing tests' annotations
    assert command_lines(result.stdout) == ours
    assert command_lines(result.stderr) == []
    assert "pwned %250A" in result.stdout  # shown, escaped


@pytest.mark.parametrize(
    "text",
    ["::warning::x", "  ::error::x", "a\n::warning::x", "a\r::notice::x", "a ##[error]x", "%0A"],
)
def test_log_safe_text_is_one_line_that_is_no_command(text):
    from grader.grading.report import log_safe

    safe = log_safe(text)
    assert command_lines(safe) == [] and "\n" not in safe and "\r" not in safe
    assert log_safe("%0A") == "%250A"  # `%` itself is escaped: nothing decodes to a newline
