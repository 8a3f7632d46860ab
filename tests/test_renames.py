"""Katas renamed to name the symptom: the old ids keep working for one release.

The CLI accepts an old id with a note; a start, hint or give-up marker that names an old id
counts for today's kata (whichever id the base has); leaderboard results and local state
recorded under an old id are read under today's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kata_factory import git, run_kata, two_kata_repo, write_kata
from test_grade import LIMITS, MODULE, T0, change, fixed
from test_leaderboard import result

from grader.board.leaderboard import load_results, write_result
from grader.catalogue import renames
from grader.catalogue.katas import find_root, kata_ids
from grader.grading.gitdata import Repo
from grader.grading.grade import grade
from grader.grading.sandbox import Sandbox
from grader.loop import state

ROOT = find_root(Path(__file__).parent)


def test_every_old_id_names_a_kata_of_today_and_is_no_longer_a_folder():
    ids = set(kata_ids(ROOT))
    assert set(renames.RENAMED.values()) <= ids
    assert not set(renames.RENAMED) & ids
    assert len(set(renames.RENAMED.values())) == len(renames.RENAMED)


def test_the_cli_takes_an_old_id_with_a_note(tmp_path):
    old, new = "layernorm-variance", "layernorm-drifts-on-narrow-layers"
    write_kata(tmp_path, new, "good_stats")
    done = run_kata(tmp_path, "test", old)
    assert f"note: kata {old!r} is now {new!r}" in done.stderr
    assert done.returncode == 1, done.stderr  # today's kata ran: red, as shipped
    assert done.stdout.rstrip().endswith("red: 1 of 2 tests fail")


@pytest.fixture
def renamed(monkeypatch) -> str:
    """The factory's ``good`` kata, once called ``old-good``."""
    monkeypatch.setitem(renames.RENAMED, "old-good", "good")
    return "old-good"


def test_a_start_marker_naming_the_old_id_starts_the_clock(tmp_path, renamed):
    root = two_kata_repo(tmp_path)
    git(root, "checkout", "-qb", "attempt")
    git(root, "commit", "-q", "--allow-empty", "-m", f"Start\n\nKata-Start: {renamed}", when=T0)
    git(root, "commit", "-q", "--allow-empty", "-m", f"Hint\n\nKata-Hint: {renamed}", when=T0 + 1)
    change(root, T0 + 300, {MODULE: fixed()})
    report = grade(Repo(root), "main", "HEAD", [renamed], sandbox=Sandbox(), limits=LIMITS)
    (kata,) = report["katas"]
    assert (kata["id"], kata["status"], kata["time_to_green_s"]) == ("good", "green", 300)
    assert kata["hints_used"] == 1


def test_leaderboard_results_and_local_state_under_an_old_id_read_as_today(tmp_path, renamed):
    write_result(tmp_path, result("alice", kata=renamed))
    write_result(tmp_path, result("bob", kata="good", pr=2))
    results, problems = load_results(tmp_path)
    assert problems == []
    assert sorted((r["user"], r["kata"]) for r in results) == [("alice", "good"), ("bob", "good")]

    (tmp_path / state.STATE_DIR).mkdir()
    state.state_path(tmp_path).write_text(json.dumps({"katas": {renamed: {"best_s": 61}}}))
    assert state.load(tmp_path)["katas"] == {"good": {"best_s": 61}}
