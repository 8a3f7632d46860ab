"""The leaderboard: ranking rule, rendering, result files, and pushes that race."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import pytest
from kata_factory import GIT_ENV

from grader.board.badges import shields_url, svg
from grader.board.leaderboard import (
    LeaderboardError,
    load_results,
    overall,
    push,
    record,
    render,
    render_branch,
    render_readme,
    standing,
    write_result,
)

KATA_BIN = Path(sys.executable).parent / "kata"


def result(user: str, **changes) -> dict:
    base = {
        "schema_version": 1,
        "kata": "good",
        "topic": "metrics",
        "user": user,
        "pr": 1,
        "run_id": 1,
        "head": "a" * 40,
        "status": "green",
        "ranked": True,
        "unranked_reasons": [],
        "tests_passed": 3,
        "tests_total": 3,
        "hints_used": 0,
        "attempts": 1,
        "diff": {"added": 1, "removed": 1, "total": 2, "tokens": 4, "reference_total": 2},
        "commit_time_s": 300,
        "server_time_s": None,
        "grade_runs": None,
        "clock": "commit",
    }
    diff = changes.pop("diff", {})
    return {**base, **changes, "diff": {**base["diff"], **diff}}


def users(results: list[dict]) -> list[str]:
    return [r["user"] for r in results]


# --- ranking --------------------------------------------------------------------------


def test_green_first_then_time_then_tokens():
    results = [
        result("red-fast", status="red", commit_time_s=None, clock=None, pr=2),
        result("slow", commit_time_s=900, pr=3),
        result("fast-big", commit_time_s=100, diff={"tokens": 40}, pr=4),
        result("fast-small", commit_time_s=100, diff={"tokens": 4}, pr=5),
        result("untimed", commit_time_s=None, clock=None, pr=6),
    ]
    board = standing(results, "good")
    assert users(board.ranked) == ["fast-small", "fast-big", "slow", "untimed", "red-fast"]
    assert board.rank_of("slow") == 3 and board.rank_of("nobody") is None


def test_the_server_clock_ranks_when_measured():
    results = [
        result("honest", commit_time_s=500, server_time_s=520, clock="server", pr=1),
        result("clock-skew", commit_time_s=10, server_time_s=700, clock="server", pr=2),
    ]
    assert users(standing(results, "good").ranked) == ["honest", "clock-skew"]


def test_each_user_counts_once_with_their_best_ranked_result():
    results = [
        result("alice", status="red", commit_time_s=None, clock=None, run_id=1),
        result("alice", commit_time_s=600, run_id=2),
        result("alice", commit_time_s=400, run_id=3),
        result("alice", commit_time_s=10, run_id=4, ranked=False, unranked_reasons=["x"]),
        result("bob", commit_time_s=500, pr=2),
    ]
    board = standing(results, "good")
    assert [(r["user"], r["run_id"]) for r in board.ranked] == [("alice", 3), ("bob", 1)]
    assert [(r["user"], r["run_id"]) for r in board.unranked] == [("alice", 4)]


def test_overall_counts_green_ranked_katas_then_median_time():
    results = [
        result("alice", kata="good", commit_time_s=100),
        result("alice", kata="other", topic="training", commit_time_s=300),
        result("bob", kata="good", commit_time_s=50),
        result("bob", kata="other", status="red", commit_time_s=None, clock=None),
        result("carol", kata="good", commit_time_s=60, ranked=False, unranked_reasons=["x"]),
    ]
    table = overall(results)
    assert [(row.user, len(row.solved), row.median_s) for row in table] == [
        ("alice", 2, 200),
        ("bob", 1, 50),
    ]


# --- rendering ------------------------------------------------------------------------


def test_readme_lists_ranked_and_unranked_results_with_escaped_reasons():
    results = [
        result("alice", commit_time_s=125),
        result(
            "mallory",
            pr=9,
            ranked=False,
            unranked_reasons=["changed katas/good/test_x.py <img src=x> @org/team"],
        ),
    ]
    readme = render_readme(results)
    assert "| 1 | alice | ✅ green | 2m 05s | commit |" in readme
    assert "Unranked (latest per user):" in readme
    row = next(line for line in readme.splitlines() if line.startswith("| mallory"))
    assert "&lt;img src=x&gt;" in row and "\\@<!-- -->org/team" in row and "<img" not in row
    assert "green first" in readme and "commit clock" in readme


def test_badges_are_well_formed_svg_with_escaped_text():
    image = svg('a<b>&"c"', "1 < 2", "blue")
    root = ET.fromstring(image)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts == ['a<b>&"c"', "1 < 2"]
    with pytest.raises(ValueError):
        svg("x", "y", "#fff")


def test_shields_urls_escape_dashes_underscores_and_everything_else():
    url = shields_url("rank on mean-off_by-one", "1/2 (a) ?#", "blue")
    path = url.removeprefix("https://img.shields.io/badge/")
    assert "/" not in path and "?" not in path and "#" not in path and " " not in path
    label, message, color = path.rsplit("-", 2)
    assert unquote(label) == "rank on mean--off__by--one"
    assert unquote(message) == "1/2 (a) ?#"
    assert color == "blue"


def test_render_skips_invalid_or_misplaced_result_files(tmp_path):
    write_result(tmp_path, result("alice"))
    misplaced = tmp_path / "results" / "good" / "pr9-run9.json"
    misplaced.write_text(json.dumps(result("bob")))  # says pr1-run1
    (tmp_path / "results" / "good" / "pr3-run3.json").write_text("{not json")
    (tmp_path / "results" / "Bad Name").mkdir()
    results = render(tmp_path)
    assert users(results) == ["alice"]
    _, problems = load_results(tmp_path)
    assert len(problems) == 3
    readme = (tmp_path / "README.md").read_text()
    assert "## Skipped files" in readme
    assert (tmp_path / "badges" / "kata-good.svg").is_file()
    assert (tmp_path / "badges" / "user-alice.svg").is_file()


def test_write_result_refuses_a_record_that_is_not_schema_valid(tmp_path):
    with pytest.raises(LeaderboardError):
        write_result(tmp_path, result("alice", kata="../../x"))
    with pytest.raises(LeaderboardError):
        write_result(tmp_path, result("alice", commit_time_s=-1))
    assert not (tmp_path / "results").exists()


# --- pushing --------------------------------------------------------------------------


def bare(tmp_path: Path) -> Path:
    remote = tmp_path / "upstream.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    return remote


def on_branch(remote: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(remote), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def test_push_starts_an_orphan_branch_then_adds_and_is_idempotent(tmp_path):
    remote = bare(tmp_path)
    first = tmp_path / "first"
    write_result(first, result("alice"))
    outcome = push(first, str(remote))
    assert (outcome.added, outcome.attempts) == (1, 1)
    assert on_branch(remote, "rev-list", "--count", "leaderboard").strip() == "1"
    second = tmp_path / "second"
    write_result(second, result("bob", pr=2))
    assert push(second, str(remote)).added == 1
    again = push(second, str(remote))
    assert (again.added, again.commit) == (0, None)
    files = on_branch(remote, "ls-tree", "-r", "--name-only", "leaderboard").split()
    assert "results/good/pr1-run1.json" in files and "results/good/pr2-run1.json" in files
    readme = on_branch(remote, "show", "leaderboard:README.md")
    assert "| 1 | alice |" in readme and "| 2 | bob |" in readme


def test_push_skips_invalid_files_and_stops_on_errors_that_retrying_cannot_fix(tmp_path):
    folder = tmp_path / "board"
    write_result(folder, result("alice"))
    (folder / "results" / "good" / "pr2-run2.json").write_text('{"schema_version": 2}')
    remote = bare(tmp_path)
    outcome = push(folder, str(remote))
    assert (outcome.added, len(outcome.skipped)) == (1, 1)
    files = on_branch(remote, "ls-tree", "-r", "--name-only", "leaderboard").split()
    assert "results/good/pr2-run2.json" not in files
    good = tmp_path / "good"
    write_result(good, result("alice"))
    slept = []
    with pytest.raises(LeaderboardError, match="git fetch"):
        push(good, str(tmp_path / "no-such-remote.git"), sleep=slept.append)
    assert slept == []
    with pytest.raises(LeaderboardError, match="branch"):
        push(good, str(bare(tmp_path / "x")), "../main")


def race(commands: list[list[str]], home: Path) -> list[tuple[int, str]]:
    """``kata leaderboard COMMAND`` for each command, all at once: (exit code, stderr)."""
    env = {**GIT_ENV, "PATH": "/usr/bin:/bin", "HOME": str(home)}
    racers = [
        subprocess.Popen(
            [str(KATA_BIN), "leaderboard", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for command in commands
    ]
    errors = [racer.communicate(timeout=300)[1] for racer in racers]
    return [(racer.returncode, err) for racer, err in zip(racers, errors, strict=True)]


def test_twenty_publishes_racing_to_one_repository_lose_nothing(tmp_path):
    remote = bare(tmp_path)
    folders = []
    for number in range(20):
        folder = tmp_path / f"publish-{number}"
        write_result(folder, result(f"user{number}", pr=number + 1, run_id=1000 + number))
        folders.append(folder)
    outcomes = race([["push", "--dir", str(f), "--remote", str(remote)] for f in folders], tmp_path)
    assert [code for code, _ in outcomes] == [0] * 20, [err for _, err in outcomes]
    files = on_branch(remote, "ls-tree", "-r", "--name-only", "leaderboard").split()
    results = sorted(f for f in files if f.startswith("results/"))
    assert results == sorted(f"results/good/pr{n + 1}-run{1000 + n}.json" for n in range(20))
    readme = on_branch(remote, "show", "leaderboard:README.md")
    assert all(f"| user{n} |" in readme for n in range(20))
    history = on_branch(remote, "rev-list", "--count", "leaderboard").strip()
    assert history == "20"  # one commit per publish, none overwritten by another


def test_push_takes_a_remote_name_or_a_relative_path_of_the_repository_it_runs_in(tmp_path):
    """README's local command: `kata leaderboard push --dir board --remote origin`."""
    remote = bare(tmp_path)
    clone = tmp_path / "clone"
    clone.mkdir()
    env = {**GIT_ENV, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for args in (["init", "-q"], ["remote", "add", "origin", "../upstream.git"]):
        subprocess.run(["git", *args], cwd=clone, env=env, check=True)
    write_result(clone / "board", result("alice"))
    write_result(clone / "other", result("bob", pr=2))

    def push_from_clone(folder: str, remote_arg: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(KATA_BIN), "leaderboard", "push", "--dir", folder, "--remote", remote_arg],
            cwd=clone,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )

    by_name = push_from_clone("board", "origin")
    assert by_name.returncode == 0, by_name.stderr
    by_path = push_from_clone("other", "../upstream.git")
    assert by_path.returncode == 0, by_path.stderr
    files = on_branch(remote, "ls-tree", "-r", "--name-only", "leaderboard").split()
    assert {"results/good/pr1-run1.json", "results/good/pr2-run1.json"} <= set(files)

    unknown = push_from_clone("board", "upstream")
    assert unknown.returncode == 2
    assert "'upstream' is neither a remote of" in unknown.stderr
    assert "git remote -v" in unknown.stderr


# --- at cohort scale: record, then render ------------------------------------------------


def refs(remote: Path) -> list[str]:
    return on_branch(remote, "for-each-ref", "--format=%(refname)").split()


def test_records_wait_in_the_inbox_and_a_render_merges_them_all(tmp_path):
    remote = bare(tmp_path)
    for number, user in enumerate(["alice", "bob"], 1):
        folder = tmp_path / f"publish-{number}"
        write_result(folder, result(user, pr=number, run_id=10 + number))
        write_result(folder, result(user, kata="other", pr=number, run_id=10 + number))
        outcome = record(folder, str(remote))
        assert (outcome.added, outcome.attempts) == (2, 1)
    assert refs(remote) == [
        "refs/heads/leaderboard-inbox/pr1-run11",
        "refs/heads/leaderboard-inbox/pr2-run12",
    ]  # one small commit per graded run, on a ref of its own: no branch yet, no race
    record(folder, str(remote))  # a re-run of the same run replaces its own record
    rendered = render_branch(str(remote))
    assert (rendered.added, rendered.skipped) == (4, [])
    assert refs(remote) == ["refs/heads/leaderboard"]  # the inbox is emptied
    files = on_branch(remote, "ls-tree", "-r", "--name-only", "leaderboard").split()
    assert {
        "results/good/pr1-run11.json",
        "results/other/pr2-run12.json",
        "index.html",
        "users/alice.html",
        "charts/good.svg",
        "badges/user-bob.svg",
    } <= set(files)
    readme = on_branch(remote, "show", "leaderboard:README.md")
    assert "| 1 | alice |" in readme and "| 2 | bob |" in readme
    assert render_branch(str(remote)).commit is None  # nothing new: no commit
    with pytest.raises(LeaderboardError, match="nothing to render"):
        render_branch(str(bare(tmp_path / "empty")))


def test_an_invalid_record_is_skipped_and_never_reaches_the_branch(tmp_path):
    remote = bare(tmp_path)
    good = tmp_path / "good"
    write_result(good, result("alice"))
    record(good, str(remote))
    bad = tmp_path / "bad"
    write_result(bad, result("mallory", pr=2))
    path = bad / "results" / "good" / "pr2-run1.json"
    path.write_text(path.read_text().replace('"pr": 2', '"pr": 3'))  # misplaced now
    forged = record(bad, str(remote))
    assert (forged.added, len(forged.skipped)) == (0, 1)  # record checks what it sends
    rendered = render_branch(str(remote))
    assert rendered.added == 1 and "| mallory |" not in on_branch(
        remote, "show", "leaderboard:README.md"
    )


def test_records_racing_renders_lose_nothing(tmp_path):
    remote = bare(tmp_path)
    commands = []
    for number in range(10):
        folder = tmp_path / f"publish-{number}"
        write_result(folder, result(f"user{number}", pr=number + 1, run_id=2000 + number))
        commands.append(["push", "--dir", str(folder), "--remote", str(remote), "--no-render"])
    commands[3:3] = [["render", "--remote", str(remote)]]
    commands[8:8] = [["render", "--remote", str(remote)]]
    outcomes = race(commands, tmp_path)
    # a render that starts before any record finds nothing: that is its only failure
    assert all(code == 0 or "nothing to render" in err for code, err in outcomes), outcomes
    render_branch(str(remote))  # the render that follows the last record
    readme = on_branch(remote, "show", "leaderboard:README.md")
    assert all(f"| user{n} |" in readme for n in range(10))
    files = on_branch(remote, "ls-tree", "-r", "--name-only", "leaderboard").split()
    assert len([f for f in files if f.startswith("results/")]) == 10
    assert refs(remote) == ["refs/heads/leaderboard"]


# --- the compiled validator agrees with the schema ----------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("user", "<img src=x>"),
        ("user", "a" * 40),
        ("user", "bot[bot]"),
        ("kata", "../x"),
        ("kata", "Good"),
        ("pr", True),
        ("pr", -1),
        ("pr", 1.5),
        ("run_id", 10**16),
        ("head", "A" * 40),
        ("status", "purple"),
        ("clock", "wall"),
        ("clock", None),
        ("unranked_reasons", ["x" * 301]),
        ("unranked_reasons", ["x"] * 21),
        ("hints_used", 1001),
        ("commit_time_s", None),
        ("grade_runs", 0),
        ("schema_version", 2),
        ("extra", 1),
        ("diff", {"added": 1, "removed": 1, "total": 2, "tokens": 4}),
        ("diff", {"added": 1, "removed": 1, "total": 2, "tokens": 4, "reference_total": None}),
    ],
)
def test_the_compiled_validator_agrees_with_the_full_one(field, value):
    from jsonschema import Draft202012Validator

    from grader.board.leaderboard import SCHEMA_PATH, validate_result

    changed = {**result("alice"), field: value}
    full = Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    expected_valid = full.is_valid(changed)
    try:
        validate_result(changed)
        valid = True
    except LeaderboardError as exc:
        valid = False
        assert str(exc).startswith("result: ")
    assert valid == expected_valid


def test_the_compiled_validator_is_stricter_only_on_a_final_newline():
    """jsonschema's `$` (Python's) matches before a final newline; JSON Schema's (ECMA
    262's) does not.  The compiled validator follows the standard and refuses it."""
    from grader.board.leaderboard import validate_result

    with pytest.raises(LeaderboardError, match="user"):
        validate_result(result("alice\n"))


def test_render_reads_the_branch_in_bulk_and_skips_what_a_hand_edit_broke(tmp_path):
    remote = bare(tmp_path)
    folder = tmp_path / "board"
    write_result(folder, result("alice"))
    push(folder, str(remote))
    hand = tmp_path / "hand"
    env = {**GIT_ENV, "HOME": str(tmp_path)}
    subprocess.run(["git", "clone", "-q", "-b", "leaderboard", str(remote), str(hand)], env=env)
    (hand / "results" / "good" / "pr9-run9.json").write_text(json.dumps(result("bob")))
    shutil.rmtree(hand / "users")
    (hand / "users").symlink_to("/etc")  # a link where rendered files go
    shutil.rmtree(hand / "charts")
    (hand / "charts").write_text("a file where a folder goes")
    for command in (["add", "-A"], ["commit", "-qm", "hand edit"], ["push", "-q"]):
        subprocess.run(["git", *command], cwd=hand, env=env, check=True)
    outcome = render_branch(str(remote))
    assert outcome.skipped == [
        "results/good/pr9-run9.json: its fields say it belongs at results/good/pr1-run1.json"
    ]
    files = on_branch(remote, "ls-tree", "-r", "--name-only", "leaderboard").split()
    assert "users/alice.html" in files and "charts/good.svg" in files and "charts" not in files
    assert "results/good/pr9-run9.json" in files  # left for a person to delete
    readme = on_branch(remote, "show", "leaderboard:README.md")
    assert "## Skipped files" in readme and "| bob |" not in readme
