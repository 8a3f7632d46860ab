"""Warm test workers for ``kata watch``: each answers one check, then a fresh one takes over.

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

import multiprocessing
import os
from pathlib import Path

from grader.catalogue.katas import Kata

TEST_TIMEOUT_S = 30.0  # an endless loop in the candidate's code ends as a failed test


def _serve(conn, warm: tuple[str, tuple[str, ...]] | None) -> None:
    """Worker process: import, warm up on the pristine copy, answer one check, exit."""
    import importlib
    import signal

    # Ctrl-C in the terminal reaches the whole process group: only `kata watch` answers it
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    from grader.grading.runner import WARM_IMPORTS, run_tests

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
    from grader.grading.runner import RunResult

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
        from grader.catalogue import pristine

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
