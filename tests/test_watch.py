"""`kata watch` driven like a candidate drives it: save files, press keys, read output."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from kata_factory import (
    GIT_ENV,
    MODULE,
    OLD_LINE,
    REFERENCE,
    fix,
    git,
    run_kata,
    two_kata_repo,
    write_kata,
)

from grader.catalogue.katas import load_catalogue
from grader.loop.workers import Workers, split

WAIT_S = 90.0


@pytest.fixture
def repo(tmp_path) -> Path:
    return two_kata_repo(tmp_path)


class Watch:
    """`kata watch` in a subprocess; output lines arrive on a queue as they are printed."""

    def __init__(self, root: Path, *args: str):
        env = {**os.environ, **GIT_ENV, "KATA_ROOT": str(root), "NO_COLOR": "1", "COLUMNS": "160"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "watch", *args],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, text: str) -> list[str]:
        """Lines up to and including the first one containing ``text``."""
        got = []
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            got.append(line)
            self.seen.append(line)
            if text in line:
                return got
        raise AssertionError(f"no line with {text!r} within {WAIT_S} s; saw:\n" + "\n".join(got))

    def key(self, key: str) -> None:
        self.proc.stdin.write(key + "\n")
        self.proc.stdin.flush()

    def close(self) -> int:
        if self.proc.poll() is None:
            self.key("q")
        code = self.proc.wait(timeout=WAIT_S)
        self.seen += list(self.proc.stdout)
        return code


def test_watch_answers_each_save_and_each_key(repo):
    assert git(repo, "log", "-1", "--format=%s") == "template"
    git(repo, "commit", "-q", "--allow-empty", "-m", "Start\n\nKata-Start: good")
    watch = Watch(repo)  # no id: the kata in progress
    try:
        first = watch.until("red: 1 of 2 tests fail")
        assert first[0] == "watching good — h next hint · r re-run · l list · q quit"
        assert "good: checking …" in first

        watch.until("h next hint")  # the footer: the check is over
        fix(repo)
        watch.until("good: checking …")
        watch.until("green: all 2 tests pass")
        watch.until("your change: 2 lines / 4 tokens; reference fix: 2 lines")

        watch.key("h")
        watch.until("good is already green: no hint needed")
        watch.key("l")
        watch.until("good ")
        watch.key("r")
        rerun = watch.until("green: all 2 tests pass")
        assert "your change" not in "\n".join(rerun)  # the first green is announced once

        path = repo / MODULE
        path.write_text(path.read_text().replace(REFERENCE, OLD_LINE))
        watch.until("red: 1 of 2 tests fail")
    finally:
        assert watch.close() == 0
    state = json.loads((repo / ".kata" / "state.json").read_text())
    assert state["katas"]["good"]["status"] == "red"


def test_watch_polls_when_asked(repo):
    watch = Watch(repo, "good", "--poll")
    try:
        watch.until("red: 1 of 2 tests fail")
        fix(repo)
        watch.until("green: all 2 tests pass")
    finally:
        assert watch.close() == 0


def test_watch_in_a_mock_round_counts_down_and_ends_with_the_summary(repo):
    started = kata_mock(repo)
    state_file = repo / ".kata" / "state.json"
    state = json.loads(state_file.read_text())
    # a round that ends a few seconds from now
    state["mock"]["started_at"] = int(time.time()) - state["mock"]["minutes"] * 60 + 6
    state_file.write_text(json.dumps(state))
    watch = Watch(repo)
    try:
        checked = watch.until("left in the round")
        assert any(line.startswith(("good: checking", "other: checking")) for line in checked)
        watch.until("time is up")
        summary = watch.until("green")
        assert "Mock round" in "\n".join(watch.seen)
        assert any(f"{kata_id}: not green" in line for kata_id in started for line in summary)
    finally:
        assert watch.close() == 1  # not every kata of the round is green


def kata_mock(root: Path) -> list[str]:
    done = run_kata(root, "mock", "--minutes", "10", "--no-watch")
    assert "Mock round: 2 katas" in done.stdout, done.stderr
    return ["good", "other"]


def test_watch_without_a_kata_in_progress_is_a_usage_error(repo):
    done = run_kata(repo, "watch")
    assert done.returncode == 2
    assert "no kata in progress" in done.stderr


def test_each_worker_answers_one_check_and_exits(tmp_path):
    write_kata(tmp_path, "good", "good_stats")
    (kata,) = load_catalogue(tmp_path)
    with tempfile.TemporaryDirectory() as tmp:
        workers = Workers(Path(tmp), parallel=2)
        try:
            first = workers.check(kata)
            workers.prepare(kata)
            second = workers.check(kata)
            assert (
                first.verdicts()
                == second.verdicts()
                == {
                    "test_good_stats.py::test_mean_of_four": "failed",
                    "test_good_stats.py::test_spread": "passed",
                }
            )
            processes = [worker.process for worker in workers.used]
            assert len({p.pid for p in processes}) == len(processes) == 3  # 1 cold, then 2
            for process in processes:
                process.join(timeout=WAIT_S)
                assert process.exitcode == 0
        finally:
            workers.close()


@pytest.mark.parametrize("parts", [1, 2, 3])
def test_split_balances_known_durations_and_keeps_every_test(parts):
    tests = ("a", "b", "c", "d", "e")
    durations = {"a": 0.5, "b": 0.1, "c": 0.3, "d": 0.2, "e": 0.2}
    groups = split(tests, parts, durations)
    assert sorted(t for group in groups for t in group) == list(tests)
    assert len(groups) == min(parts, len(tests))
    loads = [sum(durations[t] for t in group) for group in groups]
    assert max(loads) <= sum(durations.values()) / len(groups) + max(durations.values())
