"""`kata watch` driven like a candidate drives it: save files, press keys, read output."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
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
from grader.loop.workers import TestTimes, Workers, longest_first

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


def hint_markers(root: Path) -> int:
    return len(git(root, "log", "--format=%H", "--grep=Kata-Hint: good").split())


def test_h_asks_before_it_takes_a_hint_since_a_hint_counts(repo):
    git(repo, "commit", "-q", "--allow-empty", "-m", "Start\n\nKata-Start: good")
    watch = Watch(repo, "good")
    try:
        watch.until("red: 1 of 2 tests fail")
        watch.until("h next hint")  # the check is over
        watch.key("h")
        asked = watch.until("y takes it")
        assert "hint 1 of 2 for good counts" in "\n".join(asked)
        watch.key("n")
        watch.until("no hint taken")
        assert hint_markers(repo) == 0
        watch.key("h")
        watch.until("y takes it")
        watch.key("y")
        watch.until("hint 1/2 (recorded")
        watch.until("Count the values.")
        assert hint_markers(repo) == 1
    finally:
        assert watch.close() == 0


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
            assert workers.wait_ready(WAIT_S)  # a check splits across the workers warm now
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


TIMED_TESTS = """
import json
import os
import time

SLEEPS = {sleeps!r}


def _take(name):
    with open(SLEEPS) as handle:
        time.sleep(json.load(handle).get(name, 0.0))
    print(os.getpid())


def test_w():
    _take("w")


def test_x():
    _take("x")


def test_y():
    _take("y")


def test_z():
    _take("z")
"""


def test_a_free_worker_takes_the_next_test_so_two_slow_ones_run_side_by_side(tmp_path):
    """Which tests are slow changes as the candidate edits: planned on the last check's
    times, this check's two slow tests went to one worker.  Workers take the tests one at
    a time instead, whichever is free first."""
    sleeps = tmp_path / "sleeps.json"
    folder = write_kata(
        tmp_path, "timed", "timed_stats", extra_visible=TIMED_TESTS.format(sleeps=str(sleeps))
    )
    toml = folder / "kata.toml"
    added = ", ".join(f'"test_timed_stats.py::test_{name}"' for name in "wxyz")
    toml.write_text(toml.read_text().replace('test_spread"]', f'test_spread", {added}]'))
    (kata,) = load_catalogue(tmp_path)
    with tempfile.TemporaryDirectory() as tmp:
        workers = Workers(Path(tmp), parallel=2)
        try:
            sleeps.write_text(json.dumps({"w": 0.6, "z": 0.4}))
            workers.check(kata)
            workers.prepare(kata)
            assert workers.wait_ready(WAIT_S)
            sleeps.write_text(json.dumps({"x": 1.0, "y": 1.0}))
            run = workers.check(kata)
            assert len(run.results) == 6
            ran_by = {
                t.split("::test_")[1]: r.output.split()[0]
                for t, r in run.results.items()
                if t.split("::test_")[1] in "wxyz"
            }
            assert ran_by["x"] != ran_by["y"], ran_by
        finally:
            workers.close()


def test_a_test_seen_failing_fast_is_expected_to_take_as_long_as_passing_ones():
    """A red check's failing tests stop at their first bad example; when the fix lands
    they run every example.  Ordered by the red check's times, all four failing tests
    came after the cheap passing one, and the check ended on a long test started last."""
    from grader.grading.runner import TestResult

    times = TestTimes()
    red = {"a": ("passed", 0.3), "b": ("passed", 0.1)}
    red |= {t: ("failed", 0.01) for t in "cdef"}
    times.record([TestResult(t, outcome, duration_s=s) for t, (outcome, s) in red.items()])
    tests = tuple("abcdef")
    assert longest_first(tests, times.estimates(tests)) == list("acdefb")

    # once a test has passed, its passing time is what counts, red or green
    times.record([TestResult("c", "passed", duration_s=0.5)])
    times.record([TestResult("c", "failed", duration_s=0.01)])
    assert times.estimates(("c",)) == {"c": 0.5}


# --- a watch that keeps listening -------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")
CLEAR = "\x1b[2J"
# The candidate's save: start a child process (as a data loader or the runner might),
# note its pid, then never return.
LOOPING = (
    "    import pathlib, subprocess, time; child = subprocess.Popen(['sleep', '600']); "
    "pathlib.Path(__file__).with_name(f'child-{child.pid}.pid').touch(); time.sleep(600)"
)


class PtyWatch:
    """`kata watch` on a pseudo-terminal, as a candidate runs it: single keys (no Enter),
    the screen redrawn for each check."""

    def __init__(self, root: Path, *args: str):
        import fcntl
        import pty
        import struct
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        env = {**env, **GIT_ENV, "KATA_ROOT": str(root), "NO_COLOR": "1", "TERM": "xterm"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", "watch", *args],
            cwd=root,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.raw = ""
        self.seen = 0  # how much of the (plain) output ``until`` has read
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.raw += data.decode(errors="replace")

    @property
    def plain(self) -> str:
        with self.lock:
            return ANSI.sub("", self.raw)

    def until(self, text: str) -> str:
        """The output from where the last call stopped up to the next ``text``."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            plain = self.plain
            found = plain.find(text, self.seen)
            if found >= 0:
                got, self.seen = plain[self.seen : found + len(text)], found + len(text)
                return got
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} within {WAIT_S} s; saw:\n{self.plain[self.seen :]}")

    def key(self, key: str) -> None:
        os.write(self.master, key.encode())

    def close(self) -> int:
        if self.proc.poll() is None:
            self.key("q")
        try:
            return self.proc.wait(timeout=WAIT_S)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            os.close(self.master)


def save(root: Path, line: str) -> None:
    path = root / MODULE
    text = path.read_text()
    current = next(x for x in text.splitlines() if x.startswith("    return sum") or "sleep" in x)
    path.write_text(text.replace(current, line))


def children_started(root: Path, seen: set[int]) -> set[int]:
    """The pids the looping saves noted, waiting for one not seen yet."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        pids = {int(p.name[6:-4]) for p in (root / "katas" / "good").glob("child-*.pid")}
        if pids - seen:
            return pids - seen
        time.sleep(0.05)
    raise AssertionError("the looping save never started its child")


def dead(pid: int) -> bool:
    """Gone, or a zombie waiting for a parent that reaps nothing (as PID 1 may not)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_a_save_or_r_cancels_a_running_check_and_kills_what_it_started(repo):
    git(repo, "commit", "-q", "--allow-empty", "-m", "Start\n\nKata-Start: good")
    watch = PtyWatch(repo)
    try:
        watch.until("red: 1 of 2 tests fail")
        save(repo, LOOPING)
        watch.until("good: checking …")
        (first,) = children_started(repo, set())

        watch.key("r")  # re-run: the running check is cancelled, a new one starts
        screen = watch.until("good: checking …")
        assert "watching good — h next hint" in screen  # a redrawn screen: header first
        assert dead(first), "the cancelled check's child process outlived it"
        (second,) = children_started(repo, {first})

        save(repo, REFERENCE)  # a save cancels the running check too, and is answered
        watch.until("green: all 2 tests pass")
        assert dead(second)
        last_screen = watch.raw.rsplit(CLEAR, 1)[1]  # what the candidate sees now
        assert "green: all 2 tests pass" in ANSI.sub("", last_screen)
        assert "red: 1 of 2" not in ANSI.sub("", last_screen)
    finally:
        assert watch.close() == 0


def test_q_quits_at_once_while_a_check_runs(repo):
    watch = PtyWatch(repo, "good")
    try:
        watch.until("red: 1 of 2 tests fail")
        save(repo, LOOPING)
        watch.until("good: checking …")
        (child,) = children_started(repo, set())
        watch.key("q")
        assert watch.proc.wait(timeout=WAIT_S) == 0
        assert dead(child)
    finally:
        watch.close()


def test_a_long_check_says_which_test_runs_and_a_test_past_its_limit_asks_about_a_loop(repo):
    watch = Watch(repo, "good", "--test-timeout", "8")
    try:
        watch.until("red: 1 of 2 tests fail")
        save(repo, "    while True:\n        pass")
        watch.until("good: checking …")
        notice = watch.until("still running after")[-1]
        assert notice == (
            "  still running after 5 s: mean of four — does the code loop? (a save or r "
            "restarts the check, q quits; a test stops at 8 s)"
        )
        verdict = watch.until("red: ")  # spread passes, or never ran if it came after
        where = verdict.index("  ✗ mean of four")
        assert re.fullmatch(
            r"      ran past the 8 s limit per test \(stopped after 8\.\d s\): "
            r"does the code loop\?",
            verdict[where + 1],
        ), verdict
    finally:
        assert watch.close() == 0


def test_a_module_that_does_not_load_is_said_once_and_briefly(repo):
    watch = Watch(repo, "good")
    try:
        watch.until("red: 1 of 2 tests fail")
        path = repo / MODULE
        path.write_text(path.read_text().replace("def mean(", "def mean(("))
        watch.until("good: checking …")
        verdict = watch.until("red: 2 of 2 tests fail")
        shown = "\n".join(verdict)
        assert verdict[0].startswith("could not load the tests: SyntaxError")
        assert "good_stats.py" in shown and "def mean((values" in shown
        for noise in ("found no collectors", "???", "importlib", "site-packages", str(repo)):
            assert noise not in shown
        assert verdict[-4:] == [
            "  ✗ mean of four",
            "      did not run (see the errors above)",
            "  ✗ 1 more test did not run either",
            "red: 2 of 2 tests fail",
        ]
        assert len(verdict) <= 10
        assert "found no collectors" not in "\n".join(watch.seen)  # not on stderr either
    finally:
        assert watch.close() == 0
    assert "found no collectors" not in watch.proc.stderr.read()


def test_watch_takes_the_lines_it_suggests(repo):
    watch = Watch(repo, "good", "--lines", "1")
    try:
        watch.until("red: 1 of 2 tests fail")
        save(repo, "    raise ValueError('first\\nsecond\\nthird')")
        verdict = watch.until("red: 1 of 2 tests fail")
        where = verdict.index("  ✗ mean of four")
        assert verdict[where + 1 : where + 3] == [
            "      ValueError: first",
            # second, third, and where the candidate's code raised it (a note, one frame)
            "      … 4 more lines (--lines N shows more)",
        ]
    finally:
        assert watch.close() == 0


def test_a_second_watch_in_the_same_copy_is_refused(repo):
    first = Watch(repo, "good")
    try:
        first.until("red: 1 of 2 tests fail")
        second = run_kata(repo, "watch", "other", stdin="q\n")
        assert second.returncode == 2
        assert f"another `kata watch` (pid {first.proc.pid}) is already watching" in (second.stderr)
        mock = run_kata(repo, "mock", "--minutes", "10")
        assert mock.returncode == 2
        assert "another `kata watch` is running in this copy" in mock.stderr
        assert git(repo, "log", "-1", "--format=%s") == "template"  # no round started
    finally:
        assert first.close() == 0
    again = Watch(repo, "other")  # the lock goes with the watch that held it
    try:
        again.until("red: 1 of 2 tests fail")
    finally:
        assert again.close() == 0


def test_a_check_starts_on_the_first_warm_worker_without_waiting_for_the_others(tmp_path):
    write_kata(tmp_path, "good", "good_stats")
    (kata,) = load_catalogue(tmp_path)
    slow = tmp_path / "slow-warm-up"
    slow.mkdir()
    (slow / "test_slow.py").write_text("import time\n\ndef test_wait():\n    time.sleep(600)\n")
    with tempfile.TemporaryDirectory() as tmp:
        workers = Workers(Path(tmp), parallel=2, test_timeout_s=600)
        try:
            workers.check(kata)  # the cold start
            workers.prepare(kata)  # two workers warm up on the kata ...
            assert workers.wait_ready(WAIT_S)
            warming = workers.waiting[0]  # ... and one of them again, for ten minutes
            warming.warm = False
            warming.send(slow, ["test_slow.py"], kind="warm")
            run = workers.check(kata)
            assert run.verdicts() == {
                "test_good_stats.py::test_mean_of_four": "failed",
                "test_good_stats.py::test_spread": "passed",
            }
            assert warming in workers.waiting and not warming.ready
            assert warming.process.is_alive()
        finally:
            workers.close()


def test_the_zygote_stays_single_threaded_so_forking_it_is_safe(tmp_path):
    from multiprocessing import forkserver

    write_kata(tmp_path, "good", "good_stats")
    (kata,) = load_catalogue(tmp_path)
    with tempfile.TemporaryDirectory() as tmp:
        workers = Workers(Path(tmp), parallel=1)
        try:
            workers.check(kata)
            pid = forkserver._forkserver._forkserver_pid
            assert len(os.listdir(f"/proc/{pid}/task")) == 1
            modules = Path(f"/proc/{pid}/maps").read_text()
            assert "libtorch" in modules  # it did import torch: what forking saves
        finally:
            workers.close()


def test_a_module_that_loops_when_imported_stops_the_check_too(repo):
    """The per-test limit only runs while a test does; loading the module is not one, so
    the run bounds it by the same limit, and says so before any test runs."""
    watch = Watch(repo, "good", "--test-timeout", "2")
    try:
        watch.until("red: 1 of 2 tests fail")
        path = repo / MODULE
        path.write_text(path.read_text() + "\nwhile True:\n    pass\n")
        watch.until("good: checking …")
        stopped = watch.until("does the code loop when it is imported?")[-1]
        assert stopped == (
            "could not load the tests: TimeoutError: importing the kata's modules did not "
            "finish in 2 s: does the code loop when it is imported?"
        ), stopped
        watch.until("h next hint")  # the check is over: the watch listens for the next save
        fix(repo)
        path.write_text(path.read_text().replace("\nwhile True:\n    pass\n", ""))
        watch.until("green: all 2 tests pass")
    finally:
        assert watch.close() == 0


def test_workers_that_turn_up_after_a_verdict_warm_up_too(tmp_path):
    """Spares forked beside a check were left cold when they were not ready yet at the
    verdict: the next save then paid their first-call setup."""
    write_kata(tmp_path, "good", "good_stats")
    (kata,) = load_catalogue(tmp_path)
    with tempfile.TemporaryDirectory() as tmp:
        workers = Workers(Path(tmp), parallel=2)
        try:
            workers.prepare(kata)  # at once: no worker is ready yet (the zygote is starting)
            assert workers.wait_ready(WAIT_S)
            assert len(workers.waiting) == 4  # two per core: a check takes two
            assert all(w.warm for w in workers.waiting)
        finally:
            workers.close()


COUNTED_EXAMPLES = """

from pathlib import Path

from hypothesis import given, strategies as st


@given(st.integers(0, 10**6))
def test_spread_is_never_negative(n):
    with open(Path(__file__).with_name("examples.log"), "a") as log:
        log.write(f"{n}\\n")
    assert stats.spread([float(n), 1.0]) >= 0
"""


def test_a_warm_up_runs_few_examples_and_a_check_every_one(tmp_path):
    """A warm-up only has to take each test's first-call setup; every example it runs is
    CPU taken from the candidate's next save (four warm-ups of a heavy kata kept both
    cores busy for seconds).  The check itself runs every example the grader runs."""
    from hypothesis import settings

    import grader.grading.hypothesis_profiles  # noqa: F401  (registers the profiles)

    folder = write_kata(tmp_path, "good", "good_stats", extra_visible=COUNTED_EXAMPLES)
    toml = folder / "kata.toml"
    toml.write_text(
        toml.read_text().replace(
            '"test_good_stats.py::test_spread"]',
            '"test_good_stats.py::test_spread", '
            '"test_good_stats.py::test_spread_is_never_negative"]',
        )
    )
    (kata,) = load_catalogue(tmp_path)
    assert "test_good_stats.py::test_spread_is_never_negative" in kata.test_ids
    with tempfile.TemporaryDirectory() as tmp:
        workers = Workers(Path(tmp), parallel=2)
        try:
            workers.check(kata)  # cold: on the real files
            checked = (folder / "examples.log").read_text().split()
            (folder / "examples.log").unlink()  # not copied into what the workers warm on
            workers.prepare(kata)
            assert workers.wait_ready(WAIT_S)
            warmed = (workers.warm_copies[kata.id] / "examples.log").read_text().split()
            workers.check(kata)  # by warm workers: every example again
            checked_warm = (folder / "examples.log").read_text().split()
        finally:
            workers.close()
    assert len(checked) == settings.get_profile("grade").max_examples
    assert checked_warm == checked
    assert 0 < len(warmed) <= 4 * settings.get_profile("warm").max_examples  # four workers


def test_a_check_leaves_warm_workers_idle_beside_it_and_forks_nothing_meanwhile(tmp_path):
    """A save that cancels a check is answered by warm workers; forking or warming up
    beside a check would take its cores."""
    write_kata(tmp_path, "good", "good_stats")
    (kata,) = load_catalogue(tmp_path)
    with tempfile.TemporaryDirectory() as tmp:
        workers = Workers(Path(tmp), parallel=2)
        try:
            workers.check(kata)
            workers.prepare(kata)
            assert workers.wait_ready(WAIT_S)
            forked = workers.forked
            check = workers.dispatch(kata)
            assert check is not None and len(check.assigned) == 2
            assert len(workers.waiting) == 2
            assert all(w.ready and w.warm for w in workers.waiting)
            workers.finish(check)  # cancelled by a save: its workers are killed ...
            again = workers.dispatch(kata)  # ... and the save's check takes the warm ones
            assert again is not None and all(w.warm for w in again.assigned)
            assert workers.forked == forked  # nothing forked beside either check
        finally:
            workers.close()


def _subject_zygotes() -> list[int]:
    """Subject zygotes below this process (the watch's, or its workers' own), not the
    subjects they forked (which share their command line)."""
    from grader.grading.subject import descendants

    def zygote_like(pid: int) -> bool:
        try:
            return b"grader.grading.subject\0--zygote" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    def parent(pid: int) -> int:
        try:
            return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError):
            return 0

    return [p for p in descendants(os.getpid()) if zygote_like(p) and not zygote_like(parent(p))]


def test_one_subject_zygote_serves_every_worker_and_a_cancel_kills_the_subject(tmp_path):
    """Workers come and go with every check: had each its own subject zygote, each would
    import torch again (seconds of CPU beside the candidate's next save).  The subjects
    are the zygote's children, so a cancelled worker's subject must go with it."""
    write_kata(tmp_path, "good", "good_stats")
    (kata,) = load_catalogue(tmp_path)
    from grader.grading import boundary

    before = set(_subject_zygotes())
    alive = boundary._ZYGOTE is not None and boundary._ZYGOTE.alive()
    earlier = set(descendants_of(boundary._ZYGOTE.process.pid)) if alive else set()
    with tempfile.TemporaryDirectory() as tmp:
        workers = Workers(Path(tmp), parallel=2, subject_warm=("numpy",))
        try:
            workers.check(kata)
            workers.prepare(kata)
            assert workers.wait_ready(WAIT_S)  # four workers warm, each with a spare subject
            zygote = boundary._ZYGOTE.process.pid  # this process's (maybe an earlier test's)
            assert set(_subject_zygotes()) - before <= {zygote}  # none of the workers' own
            # a worker asks for its spare without waiting for the zygote's answer: the
            # zygote may fork the last one just after the worker said it was ready
            assert _subjects_once(zygote, earlier, lambda n: n >= 4) >= 4
            check = workers.dispatch(kata)
            assert check is not None
            workers.finish(check)  # cancelled: its workers are killed, and their subjects
            for worker in check.assigned:
                worker.process.join(timeout=WAIT_S)
            assert _subjects_once(zygote, earlier, lambda n: n <= 2) == 2  # the idle ones' spares
            assert set(_subject_zygotes()) - before <= {zygote}
        finally:
            workers.close()


def _subjects_once(zygote: int, earlier: set[int], settled) -> int:
    """How many live subjects the zygote has beyond ``earlier`` (earlier tests' may live
    on), once that count is ``settled`` (or ``WAIT_S`` has passed): the zygote forks and
    reaps in its own time."""
    deadline = time.monotonic() + WAIT_S
    while not settled(count := len(set(descendants_of(zygote)) - earlier)):
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return count


def descendants_of(pid: int) -> list[int]:
    from grader.grading.subject import descendants

    return [p for p in descendants(pid) if dead_or_alive(p)]


def dead_or_alive(pid: int) -> bool:
    """Alive (not a zombie waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class _IdleWorkers:
    """Stands in for ``Workers``: records what the session asks, runs nothing
    (``on_dispatch``: what happens while a check is handed to the workers)."""

    def __init__(self, on_dispatch=lambda: None):
        self.asked: list[str] = []
        self.on_dispatch = on_dispatch

    def dispatch(self, kata):
        from grader.loop.workers import Check

        self.asked.append(f"dispatch {kata.id}")
        self.on_dispatch()
        return Check(kata, ())

    def finish(self, check):
        self.asked.append("finish")

    def prepare(self, kata):
        self.asked.append(f"prepare {kata.id}")


@pytest.mark.parametrize("lands", ["while the check runs", "while the check starts"])
def test_a_verdict_on_files_that_changed_during_its_check_is_neither_shown_nor_recorded(
    tmp_path, lands
):
    """A save written in two steps (an editor truncating, then writing) can start a check
    on a half-written file.  When that check ends before the second write's event
    arrives, its verdict is for files that no longer exist: showing it is wrong, and
    recording it (against the files as they are now) marks the new version red, or
    green.  The watch checks again instead.  The version a check is for is read before
    the workers are told: a busy watch that read it afterwards could read the whole
    save while the tests had read half of it."""
    import io

    from rich.console import Console

    from grader.cli.watch import _Session
    from grader.grading.runner import TestResult

    write_kata(tmp_path, "good", "good_stats")
    (kata,) = load_catalogue(tmp_path)
    screen = io.StringIO()
    session = _Session(tmp_path, [kata], None, 4, 30.0, Console(file=screen, width=120))
    starting = lands == "while the check starts"
    session.workers = _IdleWorkers(lambda: fix(tmp_path) if starting else None)
    session.pending = [kata]
    session.dispatch()
    if not starting:
        fix(tmp_path)  # the rest of the save lands while the check runs on the first part
    for test_id in kata.test_ids:
        session.check.results[test_id] = TestResult(test_id, "failed", "half a file")
    session.finish()
    shown = screen.getvalue()
    assert "red:" not in shown and "green:" not in shown
    assert "good changed during the check: checking again" in shown
    assert session.workers.asked == ["dispatch good", "finish", "dispatch good"]
    assert not (tmp_path / ".kata" / "state.json").exists()
