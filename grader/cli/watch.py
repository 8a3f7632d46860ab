"""``kata watch``: re-run a kata's tests on every save, answering from a warm worker
(see ``grader.loop.workers`` for why the workers look the way they do)."""

from __future__ import annotations

import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.catalogue.katas import Kata
from grader.cli import present
from grader.usage import UsageError

STEP_MS = 30  # a save is reported once no further change arrives for this long
POLL_MS = 100
TICK_S = 60.0
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


def watch(
    root: Path,
    katas: list[Kata],
    deadline: float | None = None,
    poll: bool = False,
    lines: int = 4,
) -> None:
    """Check the katas once, then on every change to their folders until ``q``, end of
    input, the deadline, or (with a deadline) every kata green."""
    from grader.catalogue import pristine
    from grader.catalogue.katas import load_catalogue
    from grader.loop import state
    from grader.loop.progress import History
    from grader.loop.workers import Workers

    out = present.console()
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
        ok = present.print_verdict(out, kata, run, lines=lines)
        out.print(f"  ({time.perf_counter() - started:.2f} s)", style="dim")
        state.record_test(root, kata.id, "green" if ok else "red", pristine.fingerprint(kata))
        green[kata.id] = ok
        if ok:
            present.announce_first_green(out, root, kata, History.read(root).attempt(kata.id))
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
                        present.print_kata_table(out, present.kata_rows(root, load_catalogue(root)))
                    elif value == "h":
                        try:
                            present.print_hint(out, root, current)
                        except UsageError as exc:
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
