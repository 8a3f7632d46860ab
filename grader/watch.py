"""``kata watch``: re-run a kata's tests on every save, answering from a warm worker.

Why the worker looks the way it does: importing torch costs more than the whole check
should take, and a child forked from a parent that only *imported* torch still pays
for lazy imports and first-call setup; forking after torch ran ops can hang (OpenMP is
not fork-safe).  So each worker is a fresh *spawned* process that imports everything
and then runs the kata's tests once on a pristine copy (the warm-up).  It then answers
exactly one check on the real files and exits, so module state never leaks from one
check to the next; the next worker warms up in the background while the candidate
reads the verdict and edits.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.catalogue import Kata

STEP_MS = 30  # a save is reported once no further change arrives for this long
POLL_MS = 100
TICK_S = 60.0
TEST_TIMEOUT_S = 30.0  # an endless loop in the candidate's code ends as a failed test
KEYS = "h next hint · r re-run · l list · q quit"


def _serve(conn, warm: tuple[str, tuple[str, ...]] | None) -> None:
    """Worker process: import, warm up on the pristine copy, answer one check, exit."""
    import importlib
    import signal

    # Ctrl-C in the terminal reaches the whole process group: only `kata watch` answers it
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    from grader.runner import WARM_IMPORTS, run_tests

    for name in WARM_IMPORTS:
        importlib.import_module(name)
    import torch

    torch.set_num_threads(1)  # workers run side by side, one per core
    if warm is not None:
        run_tests(Path(warm[0]), warm[1])
    try:
        conn.send("ready")
        request = conn.recv()
    except (EOFError, BrokenPipeError):  # `kata watch` is gone: nothing to answer
        return
    if request is None:
        return
    folder, test_ids = request
    conn.send(run_tests(Path(folder), test_ids, test_timeout_s=TEST_TIMEOUT_S))


class Worker:
    def __init__(self, warm: tuple[str, tuple[str, ...]] | None):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, warm), daemon=True)
        self.process.start()
        child.close()

    def send(self, kata: Kata, test_ids: list[str]) -> None:
        """Ask for these tests (waits for the warm-up to finish if it has not)."""
        try:
            if self.conn.recv() != "ready":
                raise RuntimeError("the test worker did not start")
            self.conn.send((str(kata.path), test_ids))
        except EOFError:
            raise self._stopped() from None

    def result(self):
        try:
            return self.conn.recv()  # the worker exits by itself; reaped later
        except EOFError:
            raise self._stopped() from None

    def _stopped(self) -> RuntimeError:
        self.process.join(timeout=5)
        return RuntimeError(
            f"the test worker stopped (exit code {self.process.exitcode}) before it answered"
        )

    def stop(self) -> None:
        self.process.kill()
        self.process.join(timeout=5)


def split(test_ids: tuple[str, ...], parts: int, durations: dict[str, float]) -> list[list[str]]:
    """Longest first onto the least loaded part, so parts finish together."""
    groups: list[list[str]] = [[] for _ in range(parts)]
    loads = [0.0] * parts
    for test_id in sorted(test_ids, key=lambda t: -durations.get(t, 0.0)):
        lightest = loads.index(min(loads))
        groups[lightest].append(test_id)
        loads[lightest] += durations.get(test_id, 0.0) or 1e-3
    return [group for group in groups if group]


def merge(runs: list) -> object:
    from grader.runner import RunResult

    merged = RunResult(next((r.exit_code for r in runs if r.exit_code), 0))
    for run in runs:
        merged.results.update(run.results)
        merged.collection_errors += [
            e for e in run.collection_errors if e not in merged.collection_errors
        ]
    return merged


class Workers:
    """Warm workers always waiting, one per core; a check splits the kata's tests among
    them and each answers once, then fresh ones are spawned."""

    def __init__(self, tmp: Path, parallel: int | None = None):
        self.tmp = tmp
        self.parallel = parallel or max(1, min(2, os.cpu_count() or 1))
        self.warm_copies: dict[str, Path] = {}
        self.durations: dict[str, float] = {}
        # the first check pays the cold start in one process: no warm-up to share
        self.waiting: list[Worker] = [Worker(None)]
        self.used: list[Worker] = []

    def _warm_copy(self, kata: Kata) -> tuple[str, tuple[str, ...]]:
        from grader import pristine

        if kata.id not in self.warm_copies:
            folder = self.tmp / kata.id
            pristine.materialize(kata, folder)
            self.warm_copies[kata.id] = folder
        return str(self.warm_copies[kata.id]), kata.test_files

    def check(self, kata: Kata):
        """Answer from the waiting workers; call ``prepare`` afterwards for the next ones."""
        workers = self.waiting or [Worker(self._warm_copy(kata))]
        groups = split(kata.test_ids, len(workers), self.durations)
        workers, self.waiting = workers[: len(groups)], workers[len(groups) :]
        self.used += workers
        for worker, group in zip(workers, groups, strict=True):
            worker.send(kata, group)
        run = merge([worker.result() for worker in workers])
        self.durations.update({t: r.duration_s for t, r in run.results.items()})
        return run

    def prepare(self, kata: Kata) -> None:
        """Start warming the next workers (after the verdict is shown, not before)."""
        self.used = [w for w in self.used if w.process.is_alive()]
        while len(self.waiting) < self.parallel:
            self.waiting.append(Worker(self._warm_copy(kata)))

    def close(self) -> None:
        for worker in self.used + self.waiting:
            worker.stop()


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
            events.put(("change", names))


def _read_keys(events: queue.Queue) -> None:
    """Single keys on a terminal (cbreak mode); the first letter of each line otherwise."""
    if sys.stdin.isatty():
        while key := sys.stdin.read(1):
            events.put(("key", key.lower()))
    else:
        for line in sys.stdin:
            if line.strip():
                events.put(("key", line.strip()[0].lower()))
    events.put(("key", "eof"))


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


def _ticks(events: queue.Queue, stop: threading.Event) -> None:
    while not stop.wait(TICK_S):
        events.put(("tick", None))


def _left(deadline: float) -> str:
    seconds = max(0, int(deadline - time.time()))
    return f"{seconds // 60}:{seconds % 60:02d} left in the round"


def watch(root: Path, katas: list[Kata], deadline: float | None = None, poll: bool = False) -> None:
    """Check the katas once, then on every change to their folders until ``q``, end of
    input, the deadline, or (with a deadline) every kata green."""
    from grader import cli, pristine, state
    from grader.cli_loop import print_hint
    from grader.progress import History

    out = cli._console()
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    by_folder = {kata.path.resolve(): kata for kata in katas}
    green: dict[str, bool] = {}
    current = katas[0]

    def check(kata: Kata) -> None:
        out.print(f"[bold]{kata.id}[/]: checking …")
        started = time.perf_counter()
        try:
            run = workers.check(kata)
        except RuntimeError as exc:
            out.print(f"[red]{exc}[/]")
            workers.prepare(kata)
            return
        ok = cli.print_verdict(out, kata, run, lines=4)
        out.print(f"  ({time.perf_counter() - started:.2f} s)", style="dim")
        state.record_test(root, kata.id, "green" if ok else "red", pristine.fingerprint(kata))
        green[kata.id] = ok
        if ok:
            cli.announce_first_green(out, root, kata, History.read(root).attempt(kata.id))
        footer = KEYS + (f" · {_left(deadline)}" if deadline else "")
        out.print(footer, style="dim")
        workers.prepare(kata)

    with tempfile.TemporaryDirectory(prefix="kata-watch-") as tmp, _single_keys():
        workers = Workers(Path(tmp))
        threads = [
            threading.Thread(
                target=_watch_files,
                args=(list(by_folder), events, stop, poll or _polling_forced()),
                daemon=True,
            ),
            threading.Thread(target=_read_keys, args=(events,), daemon=True),
            threading.Thread(target=_ticks, args=(events, stop), daemon=True),
        ]
        for thread in threads:
            thread.start()
        out.print(f"watching {', '.join(k.id for k in katas)} — {KEYS}")
        try:
            for kata in katas:
                check(kata)
            while True:
                if deadline and all(green.get(k.id) for k in katas):
                    out.print("[bold green]all katas of the round are green[/]")
                    return
                timeout = None if deadline is None else max(0.0, deadline - time.time())
                try:
                    kind, value = events.get(timeout=timeout)
                except queue.Empty:
                    out.print("[bold]time is up[/]")
                    return
                if kind == "change":
                    changed = _changed_katas(value, by_folder)
                    pending = _drain_changes(events, by_folder)
                    for kata in [k for k in katas if k in changed | pending]:
                        current = kata
                        check(kata)
                elif kind == "tick" and deadline:
                    out.print(_left(deadline), style="dim")
                elif kind == "key":
                    if value in ("q", "eof"):
                        return
                    if value == "r":
                        check(current)
                    elif value == "l":
                        cli.cmd_list(argparse.Namespace(topic=None, json=False))
                    elif value == "h":
                        try:
                            print_hint(out, root, current)
                        except cli.UsageError as exc:
                            out.print(str(exc), markup=False)
        except KeyboardInterrupt:
            out.print("stopped")
        finally:
            stop.set()
            workers.close()


def _changed_katas(paths: list[Path], by_folder: dict[Path, Kata]) -> set[Kata]:
    return {
        kata
        for path in paths
        for folder, kata in by_folder.items()
        if path.resolve().is_relative_to(folder)
    }


def _drain_changes(events: queue.Queue, by_folder: dict[Path, Kata]) -> set[Kata]:
    """Changes that queued up while a check ran: one more check covers them all."""
    pending: set[Kata] = set()
    kept = []
    while True:
        try:
            kind, value = events.get_nowait()
        except queue.Empty:
            break
        if kind == "change":
            pending |= _changed_katas(value, by_folder)
        else:
            kept.append((kind, value))
    for item in kept:
        events.put(item)
    return pending


def _polling_forced() -> bool:
    return os.environ.get("KATA_WATCH_POLL", "") not in ("", "0")
