"""The candidate's loop end to end: start, test, hint, solution, reset, status, mock.

Each test runs `kata` in subprocesses on a temporary git repository holding two
torch-free katas from different topics, with real commits and real file edits.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kata_factory import MODULE, fix, git, run_kata, two_kata_repo, write_kata

kata = run_kata


@pytest.fixture
def repo(tmp_path) -> Path:
    return two_kata_repo(tmp_path)


def trailers(root: Path) -> list[str]:
    """Each commit's subject and trailers, newest first."""
    out = git(root, "log", "--format=%s|%(trailers:only,unfold,separator=%x2C)")
    return out.splitlines()


def listed(root: Path) -> dict[str, dict]:
    result = kata(root, "list", "--json")
    assert result.returncode == 0, result.stderr
    return {row["id"]: row for row in json.loads(result.stdout)}


# --- start ---------------------------------------------------------------------------


def test_start_commits_the_marker_shows_the_brief_and_keeps_staged_work_out(repo):
    (repo / "notes.md").write_text("staged, not part of the marker\n")
    git(repo, "add", "notes.md")
    result = kata(repo, "start", "good")
    assert result.returncode == 0, result.stderr
    assert "Averages look too big." in result.stdout  # the brief, rendered
    assert f"Edit: {repo / MODULE}" in result.stdout
    assert "budget 5 min" in result.stdout
    assert trailers(repo)[0] == "Start kata good|Kata-Start: good"
    assert git(repo, "diff", "--cached", "--name-only") == "notes.md"
    assert listed(repo)["good"]["status"] == "in progress"
    assert listed(repo)["other"]["status"] == "untouched"


def test_start_refuses_a_dirty_kata_an_unknown_id_and_a_folder_without_git(repo, tmp_path_factory):
    (repo / MODULE).write_text((repo / MODULE).read_text() + "\n")
    dirty = kata(repo, "start", "good")
    assert dirty.returncode == 2
    assert "has uncommitted changes: commit or `git stash` them" in dirty.stderr
    assert len(trailers(repo)) == 1  # no marker written

    unknown = kata(repo, "start", "godo")
    assert unknown.returncode == 2
    assert "unknown kata 'godo': did you mean good?" in unknown.stderr

    plain = tmp_path_factory.mktemp("no-git")
    write_kata(plain, "good", "good_stats")
    no_repo = kata(plain, "start", "good")
    assert no_repo.returncode == 2
    assert "is not inside a git repository" in no_repo.stderr

    git(plain, "init", "-q")
    no_commit = kata(plain, "start", "good")
    assert no_commit.returncode == 2
    assert "has no commit yet: commit the template first" in no_commit.stderr


def test_start_refuses_a_kata_already_green(repo):
    fix(repo)
    assert kata(repo, "test", "good").returncode == 0
    result = kata(repo, "start", "good")
    assert result.returncode == 2
    assert "good is already green: `kata reset good` restores the shipped bug" in result.stderr


# --- test ----------------------------------------------------------------------------


def test_first_green_reports_time_diff_and_commit_prompt_once(repo):
    assert kata(repo, "start", "good").returncode == 0
    red = kata(repo, "test")  # no id: the kata in progress
    assert red.returncode == 1
    assert red.stdout.startswith("good — testing good_stats.py")

    fix(repo)
    green = kata(repo, "test")
    assert green.returncode == 0, green.stdout
    assert "time since `kata start`: 0m 0" in green.stdout
    assert "personal best 0m 0" in green.stdout
    assert "your change: 2 lines / 4 tokens; reference fix: 2 lines" in green.stdout
    assert f'commit it: git commit -m "Fix good" {repo / MODULE}' in green.stdout

    # then what the interviewer asks next, the answers only on request
    assert "follow-up questions" in green.stdout
    assert "  1. Why were the averages too big?\n  2. What test would have caught it?" in (
        green.stdout
    )
    assert "divided by one less" not in green.stdout
    assert "model answers: kata questions good --answers" in green.stdout

    again = kata(repo, "test")
    assert again.returncode == 0
    assert "time since" not in again.stdout and "commit it" not in again.stdout
    assert "follow-up" not in again.stdout
    row = listed(repo)["good"]
    assert (row["status"], isinstance(row["best_s"], int)) == ("green", True)


# --- hint ----------------------------------------------------------------------------


def test_hints_need_a_start_are_recorded_in_git_and_stop_at_the_last(repo):
    not_started = kata(repo, "hint", "good")
    assert not_started.returncode == 2
    assert "good is not started: hints are counted from the start marker" in not_started.stderr

    assert kata(repo, "start", "good").returncode == 0
    (repo / MODULE).write_text((repo / MODULE).read_text() + "\n# work in progress\n")
    first = kata(repo, "hint")
    assert first.returncode == 0
    assert "hint 1/2" in first.stdout and "Count the values." in first.stdout
    second = kata(repo, "hint", "good")
    assert "hint 2/2" in second.stdout and "Divide by how many there are." in second.stdout
    third = kata(repo, "hint", "good")
    assert "all 2 hints used" in third.stdout and "Divide by how many" in third.stdout
    assert trailers(repo)[:3] == [
        "Hint 2 for kata good|Kata-Hint: good",
        "Hint 1 for kata good|Kata-Hint: good",
        "Start kata good|Kata-Start: good",
    ]
    assert "# work in progress" in (repo / MODULE).read_text()  # the edit stays uncommitted
    assert git(repo, "status", "--porcelain") == f"M {MODULE}"
    assert listed(repo)["good"]["hints_used"] == 2

    fix(repo)
    assert kata(repo, "test", "good").returncode == 0
    green = kata(repo, "hint", "good")
    assert green.returncode == 2
    assert "good is already green: no hint needed" in green.stderr


# --- solution --------------------------------------------------------------------------


def test_solution_is_refused_before_green_unless_giving_up_which_is_recorded(repo):
    assert kata(repo, "start", "good").returncode == 0
    refused = kata(repo, "solution", "good")
    assert refused.returncode == 2
    assert "good is not green yet" in refused.stderr and "--give-up" in refused.stderr
    assert "Kata-Give-Up" not in "\n".join(trailers(repo))

    given_up = kata(repo, "solution", "good", "--give-up")
    assert given_up.returncode == 0
    assert "recorded: you gave up on this attempt; it is unranked" in given_up.stdout
    assert "+    return sum(values) / len(values)" in given_up.stdout
    assert trailers(repo)[0] == "Give up kata good|Kata-Give-Up: good"


def test_solution_when_green_is_free(repo):
    assert kata(repo, "start", "good").returncode == 0
    fix(repo)
    assert kata(repo, "test", "good").returncode == 0
    shown = kata(repo, "solution", "good")
    assert shown.returncode == 0
    assert "Root cause" in shown.stdout and "gave up" not in shown.stdout
    assert trailers(repo)[0] == "Start kata good|Kata-Start: good"
    assert "1. Why were the averages too big?" in shown.stdout


def test_follow_up_questions_come_after_the_fix_and_answers_on_request(repo):
    assert kata(repo, "start", "good").returncode == 0
    refused = kata(repo, "questions")
    assert refused.returncode == 2
    assert "good is not green yet" in refused.stderr and "name the bug" in refused.stderr
    assert "Why were" not in refused.stdout

    fix(repo)
    assert kata(repo, "test").returncode == 0
    asked = kata(repo, "questions")
    assert asked.returncode == 0, asked.stderr
    assert "1. Why were the averages too big?" in asked.stdout
    assert "divided by one less" not in asked.stdout
    answered = kata(repo, "questions", "good", "--answers")
    assert answered.returncode == 0, answered.stderr
    assert "  1. Why were the averages too big?\n     The sum was divided by one less" in (
        answered.stdout
    )
    assert "2. What test would have caught it?\n     The mean of a constant list" in (
        answered.stdout
    )


def test_follow_up_questions_after_giving_up_and_when_sealed(repo):
    assert kata(repo, "start", "good").returncode == 0
    assert kata(repo, "solution", "good", "--give-up").returncode == 0
    assert kata(repo, "questions", "good").returncode == 0

    # a cohort's copy: the answers are sealed away, and the command says so
    private = repo / "grader" / "private" / "good"
    (private / "questions.toml").unlink()
    (private / "reference.patch").unlink()
    (repo / "grader" / "sealed").mkdir()
    (repo / "grader" / "sealed" / "private.age").write_bytes(b"sealed")
    sealed = kata(repo, "questions", "good")
    assert sealed.returncode == 2
    assert "sealed in this cohort (grader/sealed/private.age)" in sealed.stderr


# --- reset -----------------------------------------------------------------------------


def test_reset_asks_keeps_a_backup_and_restores_the_shipped_files(repo):
    shipped = (repo / MODULE).read_text()
    fix(repo)
    mine = (repo / MODULE).read_text()

    unconfirmed = kata(repo, "reset", "good", stdin="")
    assert unconfirmed.returncode == 2
    assert "pass --yes" in unconfirmed.stderr
    assert (repo / MODULE).read_text() == mine

    done = kata(repo, "reset", "good", "--yes")
    assert done.returncode == 0, done.stderr
    assert (repo / MODULE).read_text() == shipped
    (backup,) = (repo / ".kata" / "backups").iterdir()
    assert (backup / "good_stats.py").read_text() == mine
    assert listed(repo)["good"]["status"] == "untouched"

    nothing = kata(repo, "reset", "good", "--yes")
    assert "already as shipped; nothing to reset" in nothing.stdout


# --- status ----------------------------------------------------------------------------


def test_status_shows_progress_by_topic(repo):
    fix(repo)
    assert kata(repo, "test", "good").returncode == 0
    rows = {row["topic"]: row for row in json.loads(kata(repo, "status", "--json").stdout)}
    assert (rows["metrics"]["solved"], rows["metrics"]["total"]) == (1, 1)
    assert (rows["data-and-leakage"]["solved"], rows["data-and-leakage"]["total"]) == (0, 1)
    shown = kata(repo, "status")
    assert "1/2 katas solved" in shown.stdout
    assert "metrics           ██████████ 1/1" in shown.stdout
    assert "data-and-leakage  ░░░░░░░░░░ 0/1" in shown.stdout
    assert "Nothing solved yet in: data-and-leakage" in shown.stdout


# --- mock ------------------------------------------------------------------------------


def test_mock_round_starts_katas_of_different_topics_in_one_marker(repo):
    result = kata(repo, "mock", "--minutes", "10", "--seed", "1", "--no-watch")
    assert result.returncode == 0, result.stderr
    assert "Mock round: 2 katas, 10 minutes" in result.stdout
    subject, markers = trailers(repo)[0].split("|")
    assert subject == "Start mock round (10 min)"
    assert sorted(markers.split(",")) == ["Kata-Start: good", "Kata-Start: other"]
    state = json.loads((repo / ".kata" / "state.json").read_text())
    assert sorted(state["mock"]["katas"]) == ["good", "other"]

    ambiguous = kata(repo, "test")
    assert ambiguous.returncode == 2
    assert "the round has several katas" in ambiguous.stderr
    fix(repo)
    assert kata(repo, "test", "good").returncode == 0
    only_other_left = kata(repo, "test")
    assert only_other_left.stdout.startswith("other — testing")

    summary = kata(repo, "mock", "--summary")
    assert summary.returncode == 1  # not every kata of the round is green
    assert "good: green, time 0m 0" in summary.stdout
    assert "other: not green" in summary.stdout
    assert "1/2 green" in summary.stdout


def test_mock_refuses_when_two_topics_do_not_fit(repo):
    too_short = kata(repo, "mock", "--minutes", "5", "--no-watch")
    assert too_short.returncode == 2
    assert "cannot pick two debugging katas from different topics within 5 min" in (
        too_short.stderr
    )
    one_topic = kata(repo, "mock", "--topics", "metrics", "--no-watch")
    assert one_topic.returncode == 2
    bad_topic = kata(repo, "mock", "--topics", "vision", "--no-watch")
    assert "unknown topic 'vision'" in bad_topic.stderr
    assert len(trailers(repo)) == 1  # nothing started


def test_solution_prints_square_brackets_as_written(repo):
    patch = repo / "grader" / "private" / "good" / "reference.patch"
    patch.write_text(
        patch.read_text().replace(
            "Fix: replaces one line.",
            "Fix: the mean divides by len(values[1:]) [bold]not[/bold] n.",
        )
    )
    git(repo, "commit", "-qam", "reference with brackets")
    fix(repo)
    assert kata(repo, "test", "good").returncode == 0
    shown = kata(repo, "solution", "good")
    assert shown.returncode == 0, shown.stderr
    assert "Root cause: the mean divides by len(values[1:]) [bold]not[/bold] n." in shown.stdout


def test_the_brief_keeps_long_code_lines_whole_in_a_pipe(repo):
    long_line = (
        "print(torch.bincount(sampler(logits.expand(1000, -1)), minlength=3))  # [1000, 0, 0]"
    )
    brief = repo / "katas" / "good" / "README.md"
    brief.write_text(f"Averages look too big.\n\n```python\n{long_line}\n```\n")
    git(repo, "commit", "-qam", "a brief with code")
    done = run_kata(repo, "start", "good", columns=None)
    assert done.returncode == 0, done.stderr
    assert long_line in done.stdout.splitlines()


def test_time_to_green_and_the_personal_best_it_sets_are_one_reading_of_the_clock(
    repo, monkeypatch
):
    """They once disagreed by a second: the clock was read twice, before and after
    measuring the change."""
    import io
    import itertools
    import time

    from rich.console import Console

    from grader.catalogue.katas import load_catalogue
    from grader.cli import present
    from grader.loop.progress import History

    git(repo, "commit", "-q", "--allow-empty", "-m", "Start\n\nKata-Start: good", when=1_000_000)
    fix(repo)
    ticks = itertools.count(1_000_100.4, 0.7)  # every reading of the clock is 0.7 s later
    monkeypatch.setattr(time, "time", lambda: next(ticks))
    good = next(k for k in load_catalogue(repo) if k.id == "good")
    out = Console(file=io.StringIO(), width=200)
    present.announce_first_green(out, repo, good, History.read(repo).attempt("good"))
    shown = out.file.getvalue()
    assert "time since `kata start`: 1m 40s (budget 5 min, personal best 1m 40s)" in shown


# --- one branch per kata ---------------------------------------------------------------


def test_one_branch_per_kata_list_status_and_solution_agree_across_switches(repo):
    """README advises a branch per kata; the same facts must read the same everywhere."""
    git(repo, "switch", "-qc", "fix/good")
    assert kata(repo, "start", "good").returncode == 0
    fix(repo)
    assert kata(repo, "test", "good").returncode == 0
    git(repo, "commit", "-qam", "Fix good")
    best = listed(repo)["good"]["best_s"]
    assert isinstance(best, int)

    git(repo, "switch", "-q", "main")  # the shipped bug is back in the work tree
    row = listed(repo)["good"]
    assert (row["status"], row["best_s"]) == ("solved", best)
    shown = kata(repo, "list")
    assert any(
        line.split()[:1] == ["good"] and " solved " in line for line in shown.stdout.splitlines()
    )
    topics = {r["topic"]: r for r in json.loads(kata(repo, "status", "--json").stdout)}
    assert (topics["metrics"]["solved"], topics["metrics"]["in_progress"]) == (1, 0)
    solution = kata(repo, "solution", "good")
    assert solution.returncode == 0, solution.stderr  # solved: free, no give-up marker
    assert "Kata-Give-Up" not in "\n".join(trailers(repo))

    git(repo, "switch", "-q", "fix/good")  # back where the fix is: green without a re-test
    assert listed(repo)["good"]["status"] == "green"
    assert "1/2 katas solved" in kata(repo, "status").stdout

    git(repo, "switch", "-qc", "again/good", "main")
    assert kata(repo, "start", "good").returncode == 0  # a new attempt at a solved kata
    row = listed(repo)["good"]
    assert (row["status"], row["best_s"]) == ("in progress", best)
    refused = kata(repo, "solution", "good")  # this attempt is not green: give up first
    assert refused.returncode == 2
    assert "good is not green yet" in refused.stderr
    assert "1/2 katas solved" in kata(repo, "status").stdout


def test_a_finished_mock_round_is_closed_for_good_and_its_summary_frozen(repo):
    import time

    other = Path("katas/other/other_stats.py")
    assert kata(repo, "mock", "--minutes", "10", "--no-watch").returncode == 0
    fix(repo)
    fix(repo, other)
    assert kata(repo, "test", "good").returncode == 0
    assert kata(repo, "test", "other").returncode == 0
    first = kata(repo, "mock", "--summary")  # every kata green: the round is over
    assert first.returncode == 0, first.stdout + first.stderr
    assert "2/2 green" in first.stdout
    assert "round over: every kata green" in first.stdout

    git(repo, "checkout", "--", "katas")  # the buggy files again, as on another branch
    time.sleep(1.5)
    again = kata(repo, "mock", "--summary")
    assert again.returncode == 0
    assert again.stdout == first.stdout  # frozen: same greens, same elapsed time

    resumed = kata(repo, "watch", stdin="q\n")  # never resumes a finished round
    assert resumed.returncode == 2
    assert "left in the round" not in resumed.stdout
    assert "the mock round is over (`kata mock --summary` shows it): name a kata" in (
        resumed.stderr
    )
    state = json.loads((repo / ".kata" / "state.json").read_text())
    assert state["katas"]["good"]["status"] == "green"  # nothing re-tested the buggy files


def test_a_mock_round_past_its_time_closes_at_its_deadline(repo):
    assert kata(repo, "mock", "--minutes", "10", "--no-watch").returncode == 0
    fix(repo)
    assert kata(repo, "test", "good").returncode == 0
    state_file = repo / ".kata" / "state.json"
    state = json.loads(state_file.read_text())
    state["mock"]["started_at"] -= 11 * 60  # all this happened 11 minutes ago:
    state["katas"]["good"]["green_at"] -= 11 * 60  # the round ended a minute ago
    state_file.write_text(json.dumps(state))
    summary = kata(repo, "mock", "--summary")
    assert summary.returncode == 1
    assert "Mock round: 10m 00s of 10 min" in summary.stdout
    assert "round over: time is up" in summary.stdout
    assert "1/2 green" in summary.stdout
    fix(repo, Path("katas/other/other_stats.py"))
    assert kata(repo, "test", "other").returncode == 0  # green after the round: not counted
    assert kata(repo, "mock", "--summary").stdout == summary.stdout
