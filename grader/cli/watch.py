"""``kata watch``: re-run a kata's tests on every save, answering from warm workers (see
``grader.loop.workers`` for why the workers look the way they do).

One loop reads every event — a save, a key, a worker's message, the clock — so the
watch keeps listening while a check runs: a new save of the same kata or ``r`` cancels
the running check (its workers are killed, process group and all) and starts the new
one, ``q`` quits at once, and a check that runs long says which test is running and
asks whether the code loops.  In a terminal each check redraws the screen, so the
latest verdict is the one in view; in a pipe or a log the output is appended.
"""

from __future__ import annotations

import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from grader.catalogue.katas import Kata
from grader.cli import present
from grader.usage import UsageError

STEP_MS = 30  # a save is reported once no further change arrives for this long
POLL_MS = 100
IDLE_S = 0.5  # how often the loop looks at the clock when nothing happens
COUNTDOWN_S = 60.0  # a mock round's time left, printed this often
SLOW_NOTICE_S = 5.0  # a check running this long says which test runs
MAX_LOST = 3
STALL_GRACE_S = 5.0  # past the per-test limit, for what runs around the tests
KEYS = "h next hint · r re-run · l list · q quit"


def _watch_files(paths: list[Path], events: queue.Queue, stop: threading.Event, poll: bool):
    from watchfiles import watch as watch_changes

    for changes in watch_changes(
        *paths,
        stop_event=stop,
        step=STEP_MS,
        force_polling=True if poll else None,  # None: watchfiles polls by itself on WSL
        poll_delay_ms=POLL_MS,
        raise_interrupt=False,
    ):
        names = sorted({Path(p) for _, p in changes if p.endswith((".py", ".toml"))})
        if names:
            events.put(("change", None, names))


def _read_keys(events: queue.Queue) -> None:
    """Single keys on a terminal (cbreak mode); the first letter of each line otherwise."""
    if sys.stdin.isatty():
        while key := sys.stdin.read(1):
            events.put(("key", None, key.lower()))
    else:
        for line in sys.stdin:
            if line.strip():
                events.put(("key", None, line.strip()[0].lower()))
    events.put(("key", None, "eof"))


@contextmanager
def _single_keys() -> Iterator[None]:
    if not sys.stdin.isatty():
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(sys.stdin)
    try:
        tty.setcbreak(sys.stdin.fileno())
        yield
    finally:
        termios.tcsetattr(sys.stdin, termios.TCSADRAIN, saved)


def _left(deadline: float) -> str:
    seconds = max(0, int(deadline - time.time()))
    return f"{seconds // 60}:{seconds % 60:02d} left in the round"


class _Session:
    """The watch's state, driven by one event at a time from ``run``."""

    def __init__(self, root: Path, katas: list[Kata], deadline, lines, test_timeout_s, out):
        self.root, self.katas, self.deadline = root, katas, deadline
        self.lines, self.test_timeout_s, self.out = lines, test_timeout_s, out
        self.by_folder = {kata.path.resolve(): kata for kata in katas}
        self.events: queue.Queue = queue.Queue()
        self.workers = None  # grader.loop.workers.Workers, started in ``run``
        self.check = None  # the running grader.loop.workers.Check
        self.pending: list[Kata] = []  # katas waiting for a check, in order
        self.current = katas[0]
        self.green: dict[str, bool] = {}
        self.noticed = False  # the running check has said it runs long
        self.lost = 0  # workers that stopped before they were ready
        self.first_checks = {kata.id for kata in katas}  # shown even when time is up
        self.countdown_at = time.monotonic() + COUNTDOWN_S
        self.asking: Kata | None = None  # `h` asked whether to take this kata's next hint
        self.checked_version = ""  # the fingerprint of the files the running check tests

    def header(self) -> str:
        return f"watching {', '.join(k.id for k in self.katas)} — {KEYS}"

    # --- checks -------------------------------------------------------------------------

    def request(self, kata: Kata) -> None:
        """Check ``kata`` next; a running check of the same kata is out of date: cancel it."""
        if self.check is not None and self.check.kata == kata:
            self.cancel()
        if kata in self.pending:
            self.pending.remove(kata)
        self.pending.insert(0, kata)
        self.dispatch()

    def cancel(self) -> None:
        self.workers.finish(self.check)  # kills its workers' process groups
        self.check = None

    def dispatch(self) -> None:
        if self.check is not None or not self.pending:
            return
        from grader.catalogue import pristine

        kata = self.pending[0]
        # read before the workers are told, so before the tests read the files: the
        # check's verdict is for this version (or for one written after it: see finish)
        version = pristine.fingerprint(kata)
        self.check = self.workers.dispatch(kata)  # None until a worker is warm
        if self.check is None:
            return
        self.checked_version = version
        self.pending.pop(0)
        self.current, self.noticed = kata, False
        if self.out.is_terminal:  # a new screen: the verdict in view is the latest
            self.out.clear()
            self.out.print(self.header(), style="dim")
        self.out.print(f"[bold]{present.escape(kata.id)}[/]: checking …")

    def on_worker(self, kind: str, worker, payload) -> None:
        waiting = worker in self.workers.waiting
        self.workers.mark(kind, worker, payload)
        check = self.check
        if check is not None and (check.take(kind, worker, payload) or check.timed_out()):
            self.finish()  # answered, or one test ran past its limit (the rest would too)
        elif kind == "gone" and waiting:
            self.lost += 1
            tail = "\n".join(worker.log_tail())
            self.out.print(f"a test worker stopped while warming up:\n{tail}", markup=False)
            if self.lost >= MAX_LOST:
                raise UsageError(f"{MAX_LOST} test workers stopped while warming up: giving up")
            self.dispatch()
        elif kind == "ready":
            self.lost = 0  # workers do start: an earlier loss was a passing problem
            self.dispatch()

    def finish(self) -> None:
        from grader.catalogue import pristine
        from grader.loop import state
        from grader.loop.progress import History

        check, self.check = self.check, None
        self.workers.finish(check)
        kata = check.kata
        version = pristine.fingerprint(kata)
        if not check.failure and version != self.checked_version:
            # A save in two writes (an editor truncating, then writing) can start a check
            # on half a file, which may end before the second write's event arrives: its
            # verdict is for files that no longer exist, so it is not shown or recorded.
            self.out.print(f"  {present.escape(kata.id)} changed during the check: checking again")
            self.request(kata)
            return
        self.first_checks.discard(kata.id)
        if check.failure:
            self.out.print(f"[red]{present.escape(check.failure)}[/]")
        else:
            run, not_run = self._explained(check)
            ok = present.print_verdict(self.out, kata, run, self.lines, not_run=not_run)
            self.out.print(f"  ({time.monotonic() - check.started:.2f} s)", style="dim")
            state.record_test(self.root, kata.id, "green" if ok else "red", version)
            self.green[kata.id] = ok
            if ok:
                attempt = History.read(self.root).attempt(kata.id)
                present.announce_first_green(self.out, self.root, kata, attempt)
        self.out.print(self.footer(), style="dim")
        self.dispatch()  # a check that waited takes the idle workers as they are
        self.workers.prepare(kata)  # the others warm up now: that takes both cores

    def _explained(self, check):
        """The run, with a test past its time limit said in words, and why the others
        did not run."""
        run = check.run()
        stopped = check.timed_out()
        if stopped is None:
            return run, None
        result = run.results[stopped]
        run.results[stopped] = replace(
            result,
            message=f"ran past the {self.test_timeout_s:g} s limit per test (stopped after "
            f"{result.duration_s:.1f} s): does the code loop?",
        )
        return run, f"not run: the check stopped when {present.humanize(stopped)!r} timed out"

    def footer(self) -> str:
        return KEYS + (f" · {_left(self.deadline)}" if self.deadline else "")

    def on_idle(self) -> None:
        """The clock: a check that runs long, a mock round's countdown."""
        now = time.monotonic()
        if (
            self.check is not None
            and not self.noticed
            and now - self.check.started >= SLOW_NOTICE_S
        ):
            self.noticed = True
            running = ", ".join(present.humanize(t) for t in self.check.running()) or "the tests"
            self.out.print(
                f"  still running after {now - self.check.started:.0f} s: {running} — does the "
                f"code loop? (a save or r restarts the check, q quits; a test stops at "
                f"{self.test_timeout_s:g} s)",
                markup=False,
            )
        check = self.check
        if check is not None and now - check.progressed > self.test_timeout_s + STALL_GRACE_S:
            # no test finished for longer than one may take: stuck before any test ran
            check.failure = (
                f"stopped: no test finished in {now - check.progressed:.0f} s (a test may take "
                f"{self.test_timeout_s:g} s): does the code loop when it is imported?"
            )
            self.finish()
        if self.deadline and now >= self.countdown_at:
            self.countdown_at = now + COUNTDOWN_S
            self.out.print(_left(self.deadline), style="dim")

    # --- the loop -----------------------------------------------------------------------

    def run(self, tmp: Path, poll: bool) -> None:
        from grader.catalogue.katas import load_catalogue
        from grader.loop.workers import Workers

        stop = threading.Event()
        self.workers = Workers(
            tmp,
            events=self.events,
            test_timeout_s=self.test_timeout_s,
            preload=("grader.cli.main",),  # what `kata`'s script imports, run by each child
            subject_warm=_subject_warm(self.katas),
        )
        threads = [
            threading.Thread(
                target=_watch_files,
                args=(list(self.by_folder), self.events, stop, poll),
                daemon=True,
            ),
            threading.Thread(target=_read_keys, args=(self.events,), daemon=True),
        ]
        for thread in threads:
            thread.start()
        if not self.out.is_terminal:
            self.out.print(self.header())
        self.pending = list(self.katas)
        try:
            self.dispatch()
            while True:
                if self.deadline and all(self.green.get(k.id) for k in self.katas):
                    self.out.print("[bold green]all katas of the round are green[/]")
                    return
                if self.deadline and time.time() >= self.deadline and not self.first_checks:
                    self.out.print("[bold]time is up[/]")
                    return
                try:
                    kind, worker, value = self.events.get(timeout=IDLE_S)
                except queue.Empty:
                    self.on_idle()
                    continue
                if kind == "change":
                    for kata in [k for k in self.katas if k in self._changed(value)]:
                        self.request(kata)
                elif kind == "key":
                    if value in ("q", "eof"):
                        return
                    self.on_key(value, load_catalogue)
                else:
                    self.on_worker(kind, worker, value)
                self.on_idle()
        except KeyboardInterrupt:
            self.out.print("stopped")
        finally:
            stop.set()
            self.workers.close()

    def on_key(self, key: str, load_catalogue) -> None:
        if self.asking is not None:  # the answer to "take the hint?": y, or anything else
            kata, self.asking = self.asking, None
            if key == "y":
                self._hint(kata)
            else:
                self.out.print("no hint taken")
            return
        if key == "r":
            self.request(self.current)
        elif key == "l":
            present.print_kata_table(
                self.out, present.kata_rows(self.root, load_catalogue(self.root))
            )
        elif key == "h":
            from grader.loop.progress import hint_to_come

            try:
                number, new = hint_to_come(self.root, self.current)
            except UsageError as exc:
                self.out.print(str(exc), markup=False)
                return
            if not new:  # the last one again: nothing is recorded
                self._hint(self.current)
                return
            self.asking = self.current
            self.out.print(
                f"hint {number} of {self.current.hint_count} for {self.current.id} counts "
                "(a Kata-Hint commit, shown in the grade report): y takes it, any other "
                "key goes back",
                markup=False,
            )

    def _hint(self, kata: Kata) -> None:
        try:
            present.print_hint(self.out, self.root, kata)
        except UsageError as exc:
            self.out.print(str(exc), markup=False)

    def _changed(self, paths: list[Path]) -> set[Kata]:
        return {
            kata
            for path in paths
            for folder, kata in self.by_folder.items()
            if path.resolve().is_relative_to(folder)
        }


def _subject_warm(katas: list[Kata]) -> tuple[str, ...]:
    """What the subject zygote imports: what the watched katas' modules use."""
    from grader.grading.boundary import warm_for

    return tuple(dict.fromkeys(name for kata in katas for name in warm_for(kata.path)))


def watch(
    root: Path,
    katas: list[Kata],
    deadline: float | None = None,
    poll: bool = False,
    lines: int = 4,
    test_timeout_s: float | None = None,
) -> None:
    """Check the katas once, then on every change to their folders until ``q``, end of
    input, the deadline, or (with a deadline) every kata green."""
    from grader.loop import state
    from grader.loop.workers import TEST_TIMEOUT_S

    with state.only_watch(root):
        session = _Session(
            root, katas, deadline, lines, test_timeout_s or TEST_TIMEOUT_S, present.console()
        )
        with tempfile.TemporaryDirectory(prefix="kata-watch-") as tmp, _single_keys():
            session.run(Path(tmp), poll or _polling_forced())


def _polling_forced() -> bool:
    return os.environ.get("KATA_WATCH_POLL", "") not in ("", "0")
