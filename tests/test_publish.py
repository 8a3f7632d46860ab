"""`kata publish` on real git: an honest report is published; untrusted artifacts are
refused or escaped, and a refused one leaves the leaderboard untouched.

Reports here are written by hand to match the git history (no tests are run), then
bent the ways a rewritten grade workflow could bend them.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from kata_factory import BUGGY_MODULE, OLD_LINE, REFERENCE, git, write_kata

from grader.board.publish import (
    MARKER,
    Context,
    GradeRun,
    PublishError,
    read_runs,
    server_clock,
)
from grader.catalogue.katas import load_catalogue
from grader.catalogue.pristine import write_seal
from grader.cli.main import main
from grader.grading.gitdata import Repo

T0 = 1_700_000_000
MODULE = "katas/good/good_stats.py"
TESTS = [
    ("test_good_stats.py::test_mean_of_four", False),
    ("test_good_stats.py::test_spread", False),
    ("test_good_stats_holdout.py::test_mean_of_other_lengths", True),
]


@pytest.fixture
def repo(tmp_path) -> Path:
    """main: the template; branch attempt: start marker at T0, the fix at T0 + 300."""
    root = tmp_path / "repo"
    write_kata(root, "good", "good_stats")
    (kata,) = load_catalogue(root)
    write_seal(kata)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "template", when=T0 - 1000)
    git(root, "checkout", "-qb", "attempt")
    git(root, "commit", "-q", "--allow-empty", "-m", "Start\n\nKata-Start: good", when=T0)
    (root / MODULE).write_text(BUGGY_MODULE.replace(OLD_LINE, REFERENCE))
    git(root, "commit", "-qam", "fix", when=T0 + 300)
    git(root, "checkout", "-q", "main")  # the trusted checkout: the default branch
    return root


def sha(root: Path, ref: str) -> str:
    return git(root, "rev-parse", ref)


def honest_report(root: Path) -> dict:
    tests = [
        {
            "name": name,
            "status": "pass",
            "message": "",
            "output": "",
            "test_code": "",
            "hidden": hidden,
            "file": "katas/good/test_good_stats.py",
            "line": 1,
        }
        for name, hidden in TESTS
    ]
    kata = {
        "id": "good",
        "status": "green",
        "message": "all 3 tests pass",
        "ranked": True,
        "unranked_reasons": [],
        "notes": [],
        "tests": tests,
        "start_commit": sha(root, "attempt~1"),
        "green_commit": sha(root, "attempt"),
        "time_to_green_s": 300,
        "clock": "commit",
        "attempts": 1,
        "hints_used": 0,
        "diff": {"added": 1, "removed": 1, "total": 2, "tokens": 4, "reference_total": 2},
        "lint": [],
    }
    return {
        "schema_version": 1,
        "base": sha(root, "main"),
        "head": sha(root, "attempt"),
        "isolation": "full",
        "katas": [kata],
    }


def artifact(folder: Path, report: dict | str | None, pr: str = "5", outcome: str = "graded"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pr-number").write_text(pr + "\n")
    (folder / "outcome").write_text(outcome + "\n")
    if report is not None:
        text = report if isinstance(report, str) else json.dumps(report)
        (folder / "report.json").write_text(text)
    return folder


def publish(root: Path, folder: Path, *extra: str, user: str = "alice", head: str | None = None):
    """Run `kata publish` as the workflow does; return (exit, comment, result files)."""
    board, comment = root.parent / "board", root.parent / "comment.md"
    code = main(
        [
            "publish",
            "--artifact",
            str(folder),
            "--pr",
            "5",
            "--user",
            user,
            "--head-sha",
            head or sha(root, "attempt"),
            "--repo",
            str(root),
            "--run-id",
            "42",
            "--repository",
            "cohort/katas",
            "--leaderboard",
            str(board),
            "--comment",
            str(comment),
            *extra,
        ]
    )
    results = sorted(board.glob("results/*/*.json"))
    return code, comment.read_text() if comment.exists() else "", results


def test_an_honest_report_is_published_ranked_with_badges_and_a_test_table(repo):
    code, comment, results = publish(repo, artifact(repo.parent / "a", honest_report(repo)))
    assert code == 0
    assert [p.relative_to(repo.parent / "board").as_posix() for p in results] == [
        "results/good/pr5-run42.json"
    ]
    result = json.loads(results[0].read_text())
    assert (result["status"], result["ranked"], result["user"], result["pr"]) == (
        "green",
        True,
        "alice",
        5,
    )
    assert (result["commit_time_s"], result["clock"], result["attempts"]) == (300, "commit", 1)
    assert comment.startswith(MARKER)
    for badge in ("status-green-brightgreen", "hints-0-brightgreen", "rank%20on%20good-1%20of%201"):
        assert f"https://img.shields.io/badge/{badge}" in comment
    assert comment.count("✅ pass") == 3
    assert "(hidden)" in comment
    assert "https://github.com/cohort/katas/actions/runs/42" in comment
    assert (repo.parent / "board" / "README.md").is_file()


def test_nothing_to_grade_writes_a_note_and_records_nothing(repo):
    folder = artifact(repo.parent / "a", None, outcome="nothing-to-grade")
    code, comment, results = publish(repo, folder)
    assert (code, results) == (0, [])
    assert "nothing to grade" in comment


# --- refused: nothing reaches the leaderboard -------------------------------------------


def refused(repo: Path, folder: Path, *extra: str, **kwargs) -> str:
    code, comment, results = publish(repo, folder, *extra, **kwargs)
    assert code == 1
    assert results == []
    assert "not published" in comment and comment.startswith(MARKER)
    return comment


def test_malformed_json_is_refused(repo, capsys):
    refused(repo, artifact(repo.parent / "a", '{"schema_version": 1, "katas": ['))
    assert "not valid JSON" in capsys.readouterr().err


def test_a_wrong_schema_version_is_refused(repo, capsys):
    report = honest_report(repo) | {"schema_version": 2}
    refused(repo, artifact(repo.parent / "a", report))
    assert "schema_version" in capsys.readouterr().err


def test_a_50_mb_report_is_refused_without_reading_it(repo, capsys):
    folder = artifact(repo.parent / "a", None)
    with (folder / "report.json").open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB on paper, nothing to read
    refused(repo, folder)
    assert "more than the 5000000 allowed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("time_to_green_s", -5, "less than the minimum"),
        ("time_to_green_s", float("nan"), "NaN is not allowed"),
        ("time_to_green_s", float("inf"), "Infinity is not allowed"),
        ("hints_used", -1, "less than the minimum"),
    ],
)
def test_negative_or_non_finite_numbers_are_refused(repo, capsys, field, value, why):
    report = honest_report(repo)
    report["katas"][0][field] = value
    text = json.dumps(report)  # json writes NaN and Infinity as bare constants
    refused(repo, artifact(repo.parent / "a", text))
    assert why in capsys.readouterr().err


@pytest.mark.parametrize("kata_id", ["../../x", "good/../../etc", "Good", "unknown-kata"])
def test_path_like_or_unknown_kata_ids_are_refused(repo, kata_id):
    report = honest_report(repo)
    report["katas"][0]["id"] = kata_id
    refused(repo, artifact(repo.parent / "a", report))
    assert not (repo.parent / "board" / "results").exists()


@pytest.mark.parametrize(
    "user", ["<img src=x onerror=alert(1)>", "a](javascript:alert(1))", "@org/team", "a\nb", "`x`"]
)
def test_a_user_that_is_not_a_github_login_is_refused(repo, user):
    refused(repo, artifact(repo.parent / "a", honest_report(repo)), user=user)


def test_a_run_of_another_pull_request_publishes_nothing_and_leaves_the_comment(repo, capsys):
    # a second PR of the same head (anyone can open one from a public branch): its grade
    # run names its own number; the event's PR keeps its result and its comment
    code, comment, results = publish(repo, artifact(repo.parent / "a", honest_report(repo), pr="6"))
    assert (code, comment, results) == (1, "", [])
    assert "differs from pull request #5" in capsys.readouterr().err


@pytest.mark.parametrize("pr", ["five", "-5", "5; rm -rf /", "0", "1" * 20])
def test_a_pr_number_that_is_not_a_number_is_refused(repo, pr):
    refused(repo, artifact(repo.parent / "a", honest_report(repo), pr=pr))


def test_unexpected_files_and_symlinks_in_the_artifact_are_refused(repo, tmp_path):
    folder = artifact(repo.parent / "a", honest_report(repo))
    (folder / "run-me.sh").write_text("echo pwned\n")
    refused(repo, folder)
    folder = artifact(repo.parent / "b", None)
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps(honest_report(repo)))
    (folder / "report.json").symlink_to(secret)
    refused(repo, folder)


def test_a_report_for_another_head_is_refused(repo, capsys):
    refused(repo, artifact(repo.parent / "a", honest_report(repo)), head=sha(repo, "attempt~1"))
    assert "is not" in capsys.readouterr().err


def test_a_green_commit_outside_the_pull_request_is_refused(repo, capsys):
    report = honest_report(repo)
    report["katas"][0]["green_commit"] = sha(repo, "main")
    refused(repo, artifact(repo.parent / "a", report))
    assert "not between the start and the head" in capsys.readouterr().err


def test_a_refusal_reason_cannot_break_out_of_its_code_block(repo):
    report = honest_report(repo)
    report["katas"][0]["id"] = "x" * 90 + "```<img src=x>"
    comment = refused(repo, artifact(repo.parent / "a", report))
    fence = re.search(r"^(`{3,})text$", comment, re.MULTILINE).group(1)
    body = comment.split(f"{fence}text\n", 1)[1].split(f"\n{fence}", 1)[0]
    assert "```" in body and len(fence) > 3


# --- escaped: hostile text is shown inert -----------------------------------------------

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "cc @org/team and @alice",
    "``` closing fence\n## injected heading",
    "line one\nline two | with a pipe",
]


def test_hostile_test_names_messages_and_reasons_are_escaped(repo):
    report = honest_report(repo)
    kata = report["katas"][0]
    kata["message"] = HOSTILE[0]
    kata["notes"] = HOSTILE[1:3]
    kata["unranked_reasons"] = HOSTILE[3:]
    kata["ranked"] = False
    for test, text in zip(kata["tests"], HOSTILE, strict=False):
        test["name"] = text
        test["status"] = "fail"
        test["message"] = text
    kata["status"], kata["green_commit"], kata["time_to_green_s"] = "red", None, None
    kata["attempts"] = 0
    code, comment, results = publish(repo, artifact(repo.parent / "a", report))
    assert code == 0
    assert "<img" not in comment and "&lt;img src=x onerror=alert\\(1\\)&gt;" in comment
    assert "](javascript:" not in comment
    assert not re.search(r"(?<!\\)@(org|alice)", comment)
    assert "\n## injected" not in comment and "```" not in comment
    table = [line for line in comment.splitlines() if line.startswith("| ") and "fail" in line]
    assert len(table) == 3  # each test one row: newlines folded, pipes escaped
    assert all(line.count(" | ") == 1 for line in table)
    readme = (repo.parent / "board" / "README.md").read_text()
    assert "\n## injected" not in readme and not re.search(r"(?<!\\)@org", readme)
    assert json.loads(results[0].read_text())["unranked_reasons"] == HOSTILE[3:]


# --- recomputed from git --------------------------------------------------------------


def test_a_report_that_lies_about_time_and_diff_is_unranked_with_git_numbers(repo):
    report = honest_report(repo)
    kata = report["katas"][0]
    kata["time_to_green_s"], kata["diff"]["tokens"], kata["attempts"] = 5, 1, 9
    code, comment, results = publish(repo, artifact(repo.parent / "a", report))
    assert code == 0
    result = json.loads(results[0].read_text())
    assert not result["ranked"]
    assert (result["commit_time_s"], result["diff"]["tokens"], result["attempts"]) == (300, 4, 1)
    (reason,) = result["unranked_reasons"]
    assert reason.startswith("the grade report disagrees with git on time_to_green_s")
    assert "Unranked" in comment


def test_touching_a_protected_path_is_unranked_even_if_the_report_says_ranked(repo):
    report = honest_report(repo)  # green at the fix; then the tests are "relaxed"
    git(repo, "checkout", "-q", "attempt")
    test_file = repo / "katas" / "good" / "test_good_stats.py"
    test_file.write_text(test_file.read_text() + "\n# relaxed\n")
    git(repo, "commit", "-qam", "tests", when=T0 + 400)
    git(repo, "checkout", "-q", "main")
    report["head"] = sha(repo, "attempt")
    code, _, results = publish(repo, artifact(repo.parent / "a", report))
    result = json.loads(results[0].read_text())
    assert (code, result["ranked"]) == (0, False)
    assert result["unranked_reasons"] == [
        "changed katas/good/test_good_stats.py: only katas/good/good_stats.py may change"
    ]


def test_green_for_a_kata_whose_files_did_not_change_is_unranked(repo):
    report = honest_report(repo)
    kata = report["katas"][0]
    kata["green_commit"] = kata["start_commit"]  # "green" before any fix
    kata["time_to_green_s"], kata["attempts"] = 0, 0
    kata["diff"].update(added=0, removed=0, total=0, tokens=0)
    code, _, results = publish(repo, artifact(repo.parent / "a", report))
    result = json.loads(results[0].read_text())
    assert (code, result["ranked"]) == (0, False)
    assert result["unranked_reasons"] == [
        "green without a change to the kata's files: nothing was fixed"
    ]


# --- the server clock -----------------------------------------------------------------


def runs_file(path: Path, runs: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in runs) + "\n")
    return path


def test_the_server_clock_spans_the_first_runs_that_saw_start_and_green(repo):
    start, fix = sha(repo, "attempt~1"), sha(repo, "attempt")
    runs = runs_file(
        repo.parent / "runs.jsonl",
        [
            {"id": 3, "head_sha": fix, "created_at": "2023-11-14T22:30:00Z"},
            {"id": 1, "head_sha": start, "created_at": "2023-11-14T22:14:00Z"},
            {"id": 2, "head_sha": fix, "created_at": "2023-11-14T22:19:30+00:00"},
            {"id": 9, "head_sha": "e" * 40, "created_at": "2023-11-14T22:00:00Z"},
        ],
    )
    folder = artifact(repo.parent / "a", honest_report(repo))
    code, comment, results = publish(repo, folder, "--runs", str(runs), "--require-server-clock")
    result = json.loads(results[0].read_text())
    assert (code, result["ranked"], result["clock"]) == (0, True, "server")
    assert (result["server_time_s"], result["grade_runs"]) == (330, 2)
    assert "**5m 30s** on the server clock" in comment


def test_start_and_fix_in_one_push_have_no_server_time(repo):
    runs = runs_file(
        repo.parent / "runs.jsonl",
        [{"id": 1, "head_sha": sha(repo, "attempt"), "created_at": "2023-11-14T22:14:00Z"}],
    )
    folder = artifact(repo.parent / "a", honest_report(repo))
    code, comment, results = publish(repo, folder, "--runs", str(runs))
    result = json.loads(results[0].read_text())
    assert (code, result["ranked"], result["clock"], result["server_time_s"]) == (
        0,
        True,
        "commit",
        None,
    )
    assert "same push as the fix" in comment
    folder = artifact(repo.parent / "b", honest_report(repo))
    code, _, results = publish(repo, folder, "--runs", str(runs), "--require-server-clock")
    result = json.loads(results[0].read_text())
    assert not result["ranked"]
    assert result["unranked_reasons"][0].startswith("not timed by the server clock")


@pytest.mark.parametrize(
    "line",
    [
        '{"id": 1, "head_sha": "abc", "created_at": "2023-11-14T22:14:00Z"}',
        '{"id": -1, "head_sha": "' + "a" * 40 + '", "created_at": "2023-11-14T22:14:00Z"}',
        '{"id": 1, "head_sha": "' + "a" * 40 + '", "created_at": "yesterday"}',
        '{"id": 1, "head_sha": "' + "a" * 40 + '", "created_at": "2023-11-14T22:14:00"}',
        '{"id": 1, "head_sha": "' + "a" * 40 + '", "created_at": NaN}',
        "[1, 2",
    ],
)
def test_malformed_grade_runs_are_refused(tmp_path, line):
    path = tmp_path / "runs.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(PublishError):
        read_runs(path)


def test_runs_outside_the_pull_request_history_do_not_count(repo):
    from datetime import UTC, datetime

    start, fix = sha(repo, "attempt~1"), sha(repo, "attempt")
    when = datetime(2023, 11, 14, 22, 0, tzinfo=UTC)
    runs = [GradeRun(7, sha(repo, "main"), when), GradeRun(8, "d" * 40, when)]
    clock = server_clock(Repo(repo), runs, fix, start, fix)
    assert (clock.seconds, clock.note) == (None, "no grade run saw the start marker")


def test_context_checks_every_value_it_puts_in_a_link():
    for bad in (
        {"repository": "a/b/c"},
        {"repository": "a/b) [x](javascript:1"},
        {"server_url": "javascript:alert(1)"},
        {"server_url": "https://x.y/path"},
        {"run_id": -1},
        {"leaderboard_branch": "../../main"},
    ):
        with pytest.raises(PublishError):
            Context(pr=1, user="alice", **bad)


def test_a_hand_made_report_matches_what_the_schema_requires(repo):
    from grader.grading.report import validate_report

    report = copy.deepcopy(honest_report(repo))
    validate_report(report)


def test_a_report_graded_without_full_isolation_is_unranked(repo):
    report = honest_report(repo) | {"isolation": "process"}
    code, comment, results = publish(repo, artifact(repo.parent / "a", report))
    result = json.loads(results[0].read_text())
    assert (code, result["status"], result["ranked"]) == (0, "green", False)
    (reason,) = result["unranked_reasons"]
    assert reason.startswith("graded with isolation 'process': a pull request ranks only when")
    assert "Unranked" in comment


# --- the clock, recomputed: markers are evidence ---------------------------------------


def test_a_fix_before_the_start_marker_is_unranked_whatever_the_report_says(repo):
    git(repo, "checkout", "-q", "-b", "early", "main")
    (repo / MODULE).write_text(BUGGY_MODULE.replace(OLD_LINE, REFERENCE + " * 1"))
    git(repo, "commit", "-qam", "nearly", when=T0 - 5400)
    git(repo, "commit", "-q", "--allow-empty", "-m", "Start\n\nKata-Start: good", when=T0)
    (repo / MODULE).write_text(BUGGY_MODULE.replace(OLD_LINE, REFERENCE))
    git(repo, "commit", "-qam", "fix", when=T0 + 60)
    git(repo, "checkout", "-q", "main")
    report = honest_report(repo)
    report["head"] = sha(repo, "early")
    kata = report["katas"][0]
    kata.update(start_commit=sha(repo, "early~1"), green_commit=sha(repo, "early"))
    kata.update(time_to_green_s=60, attempts=1)
    kata["diff"].update(added=1, removed=1, total=2, tokens=2)  # measured from the marker
    code, _, results = publish(repo, artifact(repo.parent / "a", report), head=sha(repo, "early"))
    result = json.loads(results[0].read_text())
    assert (code, result["status"], result["ranked"]) == (0, "green", False)
    assert result["diff"]["tokens"] == 4  # git's number, from base
    assert any(r.startswith("work before the start marker") for r in result["unranked_reasons"])


def test_a_second_start_marker_does_not_restart_the_clock(repo):
    git(repo, "checkout", "-q", "attempt")
    (repo / MODULE).write_text(BUGGY_MODULE)
    git(repo, "commit", "-qam", "undo", when=T0 + 400)
    git(repo, "commit", "-q", "--allow-empty", "-m", "Again\n\nKata-Start: good", when=T0 + 5400)
    (repo / MODULE).write_text(BUGGY_MODULE.replace(OLD_LINE, REFERENCE))
    git(repo, "commit", "-qam", "fix again", when=T0 + 5460)
    git(repo, "checkout", "-q", "main")
    report = honest_report(repo)  # as if graded from the second marker
    report["head"] = sha(repo, "attempt")
    report["katas"][0].update(
        start_commit=sha(repo, "attempt~1"), green_commit=sha(repo, "attempt"), time_to_green_s=60
    )
    code, _, results = publish(repo, artifact(repo.parent / "a", report))
    result = json.loads(results[0].read_text())
    assert (code, result["ranked"], result["commit_time_s"]) == (0, False, 5460)
    assert "the grade report disagrees with git on start_commit" in result["unranked_reasons"][0]


def test_grade_and_publish_agree_on_a_green_commit_dated_before_the_marker(repo):
    from grader.board.comment import escape_text
    from grader.grading.grade import NEGATIVE_TIME_NOTE, Limits, grade

    git(repo, "checkout", "-q", "attempt")
    git(repo, "commit", "-q", "--amend", "--no-edit", when=T0 - 100)  # dated before start
    git(repo, "checkout", "-q", "main")
    report = grade(Repo(repo), "main", "attempt", None, limits=Limits(run_timeout_s=60.0))
    report["isolation"] = "full"  # whatever this machine allows: the clock is the point
    (kata,) = report["katas"]
    assert (kata["status"], kata["ranked"], kata["time_to_green_s"]) == ("green", True, None)
    assert NEGATIVE_TIME_NOTE in kata["notes"]
    code, comment, results = publish(repo, artifact(repo.parent / "a", report))
    result = json.loads(results[0].read_text())
    assert (code, result["ranked"], result["commit_time_s"]) == (0, True, None), result
    assert f"- Note: {escape_text(NEGATIVE_TIME_NOTE)}" in comment
    # the note is git's: a report that leaves it out gets it back
    kata["notes"] = []
    code, comment, _ = publish(repo, artifact(repo.parent / "b", report))
    assert code == 0 and f"- Note: {escape_text(NEGATIVE_TIME_NOTE)}" in comment


# --- the scan, recomputed: a report without its findings does not rank -----------------


def attempt_with(repo: Path, module_text: str) -> None:
    """Replace the attempt's fix commit with one whose module is ``module_text``."""
    git(repo, "checkout", "-q", "attempt")
    (repo / MODULE).write_text(module_text)
    git(repo, "commit", "-q", "--amend", "-am", "fix", when=T0 + 300)
    git(repo, "checkout", "-q", "main")


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("\nimport inspect\n", "suspicious code at katas/good/good_stats.py:12"),
        ("\nimport os\n\nDEBUG = os.environ.get('CI')\n", "suspicious code at"),
    ],
)
def test_a_report_without_its_scan_findings_is_unranked(repo, extra, reason):
    attempt_with(repo, BUGGY_MODULE.replace(OLD_LINE, REFERENCE) + extra)
    report = honest_report(repo)  # doctored: ranked, no findings
    report["katas"][0]["green_commit"] = sha(repo, "attempt")
    code, _, results = publish(repo, artifact(repo.parent / "a", report))
    result = json.loads(results[0].read_text())
    assert (code, result["status"], result["ranked"]) == (0, "green", False)
    assert any(r.startswith(reason) for r in result["unranked_reasons"])
    assert any("disagrees with git on the scan" in r for r in result["unranked_reasons"])


def test_a_report_without_its_encoding_problem_is_unranked(repo):
    attempt_with(repo, "# -*- coding: latin-1 -*-\n" + BUGGY_MODULE.replace(OLD_LINE, REFERENCE))
    report = honest_report(repo)
    report["katas"][0]["green_commit"] = sha(repo, "attempt")
    code, _, results = publish(repo, artifact(repo.parent / "a", report))
    result = json.loads(results[0].read_text())
    assert (code, result["ranked"]) == (0, False)
    assert any("declares the source encoding 'latin-1'" in r for r in result["unranked_reasons"])


def test_a_report_without_its_non_utf8_bytes_is_unranked(repo):
    fixed = BUGGY_MODULE.replace(OLD_LINE, REFERENCE).encode()
    git(repo, "checkout", "-q", "attempt")
    (repo / MODULE).write_bytes(fixed + b'NOTE = "caf\xe9"\n')
    git(repo, "commit", "-q", "--amend", "-am", "fix", when=T0 + 300)
    git(repo, "checkout", "-q", "main")
    report = honest_report(repo)  # doctored: ranked, no encoding problem
    report["katas"][0]["green_commit"] = sha(repo, "attempt")
    code, _, results = publish(repo, artifact(repo.parent / "a", report))
    result = json.loads(results[0].read_text())
    assert (code, result["ranked"]) == (0, False)
    offset = len(fixed) + len(b'NOTE = "caf')
    assert f"katas/good/good_stats.py is not UTF-8 (byte {offset})" in " ".join(
        result["unranked_reasons"]
    ), result["unranked_reasons"]
    assert any("disagrees with git on the scan" in r for r in result["unranked_reasons"])


def test_a_report_that_carries_its_scan_findings_agrees(repo):
    attempt_with(repo, BUGGY_MODULE.replace(OLD_LINE, REFERENCE) + "\nimport inspect\n")
    from grader.grading.attempt import scan_reasons

    (kata,) = load_catalogue(repo)
    found = scan_reasons(Repo(repo), kata, sha(repo, "main"), [sha(repo, "attempt")])
    report = honest_report(repo)
    report["katas"][0].update(
        green_commit=sha(repo, "attempt"), ranked=False, unranked_reasons=found
    )
    code, _, results = publish(repo, artifact(repo.parent / "a", report))
    reasons = json.loads(results[0].read_text())["unranked_reasons"]
    assert code == 0 and reasons[: len(found)] == found
    assert not any("on the scan" in r for r in reasons)  # the report told the truth


# --- nothing a candidate writes becomes a workflow command ------------------------------


def command_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("::") or "##[" in line]


def test_report_text_never_becomes_a_workflow_command(repo, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    report = honest_report(repo)
    kata = report["katas"][0]
    kata["ranked"] = False
    kata["unranked_reasons"] = ["x\n::warning::pwned", "  ::add-mask::y", "a ##[error]b"]
    code, _, _ = publish(repo, artifact(repo.parent / "a", report))
    out = capsys.readouterr()
    assert code == 0
    assert command_lines(out.out) == [] and command_lines(out.err) == []
    assert "  - x%0A::warning::pwned" in out.out


def test_a_refusal_never_becomes_a_workflow_command(repo, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    report = honest_report(repo)
    report["katas"][0]["id"] = "##[error]x"
    refused(repo, artifact(repo.parent / "a", report))
    out = capsys.readouterr()
    assert "refused" in out.err
    assert command_lines(out.out) == [] and command_lines(out.err) == []


# --- rendering: no links, no hidden text, a comment GitHub accepts ----------------------

LINKY = [
    "see www.evil.example/x",
    "or https://evil.example/y",
    "mail a@evil.example",
    "ftp://evil.example",
]
HIDDEN = ["\u202eevil\u202c", "zero\u200bwidth\u2066x\u2069\ufeff"]
BIDI_AND_ZERO_WIDTH = re.compile(
    "[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


def gfm_links(markdown: str) -> list[str]:
    """Link targets in ``markdown`` as GitHub renders it (cmark-gfm, with autolinks)."""
    cmarkgfm = pytest.importorskip("cmarkgfm")
    html = cmarkgfm.github_flavored_markdown_to_html(markdown)
    return re.findall(r'<a href="([^"]*)"', html)


def test_links_and_bidi_or_zero_width_controls_from_the_report_are_neutralised(repo):
    report = honest_report(repo)
    kata = report["katas"][0]
    kata["ranked"], kata["unranked_reasons"] = False, LINKY + HIDDEN
    kata["notes"], kata["message"] = LINKY[:2], HIDDEN[0]
    code, comment, _ = publish(repo, artifact(repo.parent / "a", report))
    assert code == 0
    assert not [link for link in gfm_links(comment) if "evil" in link]
    assert not BIDI_AND_ZERO_WIDTH.search(comment)
    assert "U\\+202E" in comment  # shown (escaped for markdown), not hidden
    board = repo.parent / "board"
    readme = (board / "README.md").read_text()
    assert not [link for link in gfm_links(readme) if "evil" in link]
    assert not BIDI_AND_ZERO_WIDTH.search(readme)
    assert not BIDI_AND_ZERO_WIDTH.search((board / "index.html").read_text())


def test_a_comment_stays_under_githubs_limit(repo):
    report = honest_report(repo)
    kata = report["katas"][0]
    kata["notes"] = ["n" * 19_000 + f" {i}" for i in range(20)]
    kata["message"] = "m" * 20_000
    for test in kata["tests"]:
        test.update(name="t" * 300, status="fail", message="x" * 20_000)
    kata["ranked"], kata["unranked_reasons"] = False, ["r" * 20_000] * 20
    code, comment, _ = publish(repo, artifact(repo.parent / "a", report))
    assert code == 0
    assert len(comment) <= 65_536
    assert comment.rstrip().endswith("</sub>")  # the footer survives


def test_a_comment_too_long_for_github_is_cut_with_a_visible_notice():
    from grader.board.comment import MAX_COMMENT_CHARS, _within_limit

    lines = [f"- line {i}: " + "x" * 900 for i in range(200)]  # 100 katas' worth, say
    text = _within_limit(lines, ["", "<sub>footer</sub>"])
    assert len(text) <= MAX_COMMENT_CHARS
    assert "truncated" in text and "65,536" in text
    assert text.endswith("<sub>footer</sub>\n") and "- line 0:" in text


# --- history is evidence: what publish saw before stays -----------------------------------


def published(repo: Path, report: dict, run: int, *extra: str, pr: str = "5") -> dict:
    folder = artifact(repo.parent / f"a{run}", report, pr=pr)
    code, _, _ = publish(
        repo, folder, "--run-id", str(run), "--pr", pr, *extra, head=report["head"]
    )
    assert code == 0
    return json.loads(
        (repo.parent / "board" / "results" / "good" / f"pr{pr}-run{run}.json").read_text()
    )


def rewrite_attempt(repo: Path) -> None:
    """Force-push style: the attempt branch made again from its start marker."""
    git(repo, "checkout", "-q", "attempt")
    git(repo, "reset", "-q", "--hard", "attempt~1")
    (repo / MODULE).write_text(BUGGY_MODULE.replace(OLD_LINE, REFERENCE))
    git(repo, "commit", "-qam", "fix, written again", when=T0 + 301)
    git(repo, "checkout", "-q", "main")


def report_for_head(repo: Path, ref: str = "attempt") -> dict:
    report = honest_report(repo)
    report["head"] = sha(repo, ref)
    report["katas"][0].update(start_commit=sha(repo, f"{ref}~1"), green_commit=sha(repo, ref))
    report["katas"][0]["time_to_green_s"] = int(git(repo, "log", "-1", "--format=%ct", ref)) - T0
    return report


def test_each_result_keeps_what_publish_has_seen_of_the_pull_request(repo):
    first = published(repo, honest_report(repo), 41)
    assert first["history"]["heads"] == [sha(repo, "attempt")]
    assert first["history"]["start_commits"] == [sha(repo, "attempt~1")]
    assert first["history"]["give_ups"] == []


def test_a_head_without_an_earlier_graded_head_is_history_rewritten_and_unranked(repo):
    before = sha(repo, "attempt")
    assert published(repo, honest_report(repo), 41)["ranked"]
    rewrite_attempt(repo)
    result = published(repo, report_for_head(repo), 42)
    assert (result["status"], result["ranked"]) == ("green", False)
    assert any(
        r.startswith(f"history rewritten: {before[:12]}") for r in result["unranked_reasons"]
    )
    assert result["history"]["heads"] == [before, sha(repo, "attempt")]


def test_a_give_up_once_seen_stays_after_it_is_pushed_away(repo):
    git(repo, "checkout", "-q", "-b", "gave-up", "attempt~1")
    git(repo, "commit", "-q", "--allow-empty", "-m", "m\n\nKata-Give-Up: good", when=T0 + 100)
    git(repo, "checkout", "-q", "main")
    report = honest_report(repo)
    kata = report["katas"][0]
    kata.update(status="red", green_commit=None, time_to_green_s=None, attempts=0)
    kata.update(ranked=False, unranked_reasons=["gave up: the reference fix was shown"])
    kata["diff"].update(added=0, removed=0, total=0, tokens=0)
    report["head"] = sha(repo, "gave-up")
    seen = published(repo, report, 41)
    assert seen["history"]["give_ups"] == [sha(repo, "gave-up")]
    # the give-up pushed away, the fix pushed in a new pull request by the same user
    result = published(repo, honest_report(repo), 42, pr="6")
    assert (result["status"], result["ranked"]) == ("green", False)
    assert any(r.startswith("gave up earlier") for r in result["unranked_reasons"])
    assert result["history"]["give_ups"] == [sha(repo, "gave-up")]


def test_the_server_clock_keeps_the_first_start_it_saw(repo):
    start, fix = sha(repo, "attempt~1"), sha(repo, "attempt")
    first_runs = runs_file(
        repo.parent / "runs1.jsonl",
        [{"id": 1, "head_sha": start, "created_at": "2023-11-14T22:00:00Z"}],
    )
    red = honest_report(repo)
    red["head"] = start
    red["katas"][0].update(status="red", green_commit=None, time_to_green_s=None, attempts=0)
    red["katas"][0]["diff"].update(added=0, removed=0, total=0, tokens=0)
    assert published(repo, red, 41, "--runs", str(first_runs))["history"]["server_started_at"] == (
        "2023-11-14T22:00:00Z"
    )
    later_runs = runs_file(  # the first run is no longer listed
        repo.parent / "runs2.jsonl",
        [
            {"id": 2, "head_sha": start, "created_at": "2023-11-14T23:00:00Z"},
            {"id": 3, "head_sha": fix, "created_at": "2023-11-14T23:05:00Z"},
        ],
    )
    result = published(repo, honest_report(repo), 42, "--runs", str(later_runs))
    assert (result["clock"], result["server_time_s"]) == ("server", 65 * 60)
