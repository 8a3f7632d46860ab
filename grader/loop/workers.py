"""Warm test workers for ``kata watch``: each answers one check, then a fresh one takes over.

Why the workers look the way they do.  Importing torch, pytest and hypothesis costs more
than a whole check should take, so that cost is paid once, in a *zygote*: a
``forkserver`` process that imports them (and ``torch._dynamo``, which any
``torch.optim`` optimizer pulls in) and then never runs a torch op, never starts a
thread and never imports a kata file.  Forking is only safe in that state (OpenMP and
other thread pools do not survive a fork), and ``tests/test_watch.py`` checks the zygote
stays single-threaded.

Every worker is a fresh child of the zygote, so candidate code never shares a process
with an earlier check.  A worker pins torch to one thread (workers run side by side, one
per core), warms up by running the kata's tests once on a pristine copy, with a couple of
examples each (first-call setup: lazy imports, hypothesis, torch dispatch), says
``ready``, answers exactly one check on the real files (taking its tests one at a time
with the check's other worker, ``Claims``), streaming each test's result as it
finishes, and exits.  The
next workers warm up while the candidate reads the verdict.  A worker leads its own
process group, so cancelling a check (a new save, ``r``, ``q``) kills whatever the
check started too; its output goes to a log file, never to the watch's terminal.

Messages on the pipe are JSON bytes, decoded with ``json`` only (the worker runs
candidate code).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import queue
import signal
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.catalogue.katas import Kata

USED_KEPT = 8  # workers that answered, kept to be stopped at the end; older ones released
TEST_TIMEOUT_S = 30.0  # an endless loop in the candidate's code ends as a failed test
TIMEOUT_EXCEPTION = "TestTimeout"  # grader.grading.runner.TestTimeout, by name
_MAX_MESSAGE = 8_000_000


def zygote_imports(extra: tuple[str, ...] = ()) -> list[str]:
    """What the zygote imports: the cost every check would pay, paid once per watch
    (``extra``: the caller's main module, which every forked child imports again)."""
    from grader.grading.runner import WARM_IMPORTS

    return [*WARM_IMPORTS, "torch._dynamo", *extra, "grader.loop.workers", "grader.loop.zygote"]


def _send(conn, kind: str, payload: object = None) -> None:
    conn.send_bytes(json.dumps([kind, payload]).encode())


def _serve(conn, log: str, test_timeout_s: float, zygote=None) -> None:
    """Worker process: say ``ready``; warm up when asked (then ``ready`` again, warm);
    answer one check; exit.  ``zygote``: a connection to the watch's subject zygote."""
    os.setpgid(0, 0)  # its own process group: a cancel kills what the check started too
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for `kata watch` to answer
    output = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(output, 1)  # pytest's own complaints and what candidate code prints
    os.dup2(output, 2)
    import torch

    from grader.grading import boundary
    from grader.grading.runner import run_tests

    torch.set_num_threads(1)  # workers run side by side, one per core
    if zygote is not None:  # its subjects are forked there (killed there when it ends)
        boundary.attach_zygote(zygote)
    try:
        _send(conn, "ready", {"warm": False})
        while True:
            kind, (folder, test_ids) = json.loads(conn.recv_bytes(_MAX_MESSAGE))
            if kind == "check":
                break
            # bounded too: a kata as shipped never loops, but if it did; a couple of
            # examples per test pay its first-call setup (the verdict is not read)
            run_tests(Path(folder), test_ids, test_timeout_s=test_timeout_s, profile="warm")
            # the check's subject: started now, it has imported torch when a save comes
            boundary.prewarm(Path(folder))
            _send(conn, "ready", {"warm": True})
    except (EOFError, OSError):  # `kata watch` is gone (or dropped this worker)
        return

    def on_result(result) -> None:
        _send(conn, "test", asdict(result))

    def claim(test_id: str) -> bool:  # the watch answers at once (``Claims``)
        _send(conn, "claim", test_id)
        return json.loads(conn.recv_bytes(_MAX_MESSAGE)) is True

    run = run_tests(
        Path(folder), test_ids, test_timeout_s=test_timeout_s, on_result=on_result, claim=claim
    )
    _send(
        conn,
        "done",
        {
            "exit_code": run.exit_code,
            "collection_errors": run.collection_errors,
            "results": [asdict(result) for result in run.results.values()],
        },
    )


class Worker:
    """One forked worker and the thread that turns its messages into events:
    ``(kind, worker, payload)`` with kind ``ready``, ``test``, ``done`` or ``gone``."""

    def __init__(self, context, log: Path, events: queue.Queue, test_timeout_s: float, zygote=None):
        self.conn, child = context.Pipe()
        self.log = log
        self.zygote = zygote  # the worker's connection to the subject zygote, passed on start
        self.process = context.Process(
            target=_serve, args=(child, str(log), test_timeout_s, zygote), daemon=True
        )
        self.claims: Claims | None = None  # the tests of the check it answers
        self.ready = False  # it can take a check now
        self.warm = False  # it has run a kata's tests once (first-call setup done)
        self.warming = False  # it is doing so: that takes a while; a fork is ready at once
        self.started = self.stopped = False
        threading.Thread(target=self._start, args=(child, events), daemon=True).start()

    def _start(self, child, events: queue.Queue) -> None:
        """Start the process off the caller's thread (the first start waits for the zygote
        to import torch: seconds, during which ``kata watch`` keeps answering keys), then
        turn its messages into events."""
        try:
            self.process.start()
        except Exception:  # the zygote is gone (the watch is closing)
            events.put(("gone", self, None))
            return
        finally:
            child.close()
            if self.zygote is not None:  # the worker holds it now
                self.zygote.close()
        self.started = True
        if self.stopped:  # stopped while starting: ``stop`` could not kill it yet
            self._kill()
        try:
            while True:
                kind, payload = json.loads(self.conn.recv_bytes(_MAX_MESSAGE))
                if kind == "claim":
                    granted = self.claims is not None and self.claims.take(str(payload), self)
                    self.conn.send_bytes(json.dumps(granted).encode())
                    continue
                events.put((kind, self, payload))
                if kind == "done":
                    return
        except (EOFError, OSError, ValueError):
            events.put(("gone", self, None))

    def send(self, folder: Path, test_ids: list[str], kind: str = "check") -> None:
        self.conn.send_bytes(json.dumps([kind, [str(folder), test_ids]]).encode())
        self.ready, self.warming = False, kind == "warm"

    def log_tail(self, lines: int = 5) -> list[str]:
        try:
            return self.log.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return []

    def release(self) -> None:
        """Free what the watch holds of a worker that has answered (or was stopped)."""
        self.stop()
        self.conn.close()
        with contextlib.suppress(ValueError):  # still running after the kill: left to gc
            if self.started:
                self.process.join(timeout=5)
                self.process.close()

    def stop(self) -> None:
        """Kill the worker's whole process group (what its check started dies too); it is
        reaped later (``release``), so a cancel does not wait for it."""
        self.stopped = True
        if self.started:
            self._kill()

    def _kill(self) -> None:
        # The check's subject process leads a session of its own: stop the worker first
        # (it starts nothing more), then kill every group below it, then its own.
        # ProcessLookupError: not leading its group yet (so it started nothing), or gone
        with contextlib.suppress(ProcessLookupError, PermissionError, TypeError):
            os.killpg(self.process.pid, signal.SIGSTOP)
        for group in _groups_below(self.process.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError, TypeError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(ValueError):
            if self.process.is_alive():
                self.process.kill()


def _groups_below(pid: int | None) -> set[int]:
    """The process groups of ``pid``'s descendants (from /proc), never the caller's."""
    from grader.grading.subject import descendants

    if pid is None:
        return set()
    groups = set()
    for child in descendants(pid):
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(child))
    return groups - {os.getpgrp(), pid}


class TestTimes:
    """What each test is expected to take in the next check.  A check's long case is the
    green one, where every test runs all its examples; a test seen failing stopped at its
    first bad example, so until it has passed it is expected to take at least what a
    typical passing test of the kata takes (the median of those seen), not its failing
    time.  A test that has passed keeps its last passing time."""

    __test__ = False  # not a pytest class, whatever its name

    def __init__(self) -> None:
        self.passed: dict[str, float] = {}
        self.failed: dict[str, float] = {}

    def record(self, results) -> None:
        for result in results:
            if result.outcome == "passed":
                self.passed[result.nodeid] = result.duration_s
                self.failed.pop(result.nodeid, None)
            else:
                self.failed[result.nodeid] = result.duration_s

    def estimates(self, test_ids: tuple[str, ...]) -> dict[str, float]:
        typical = statistics.median(self.passed.values()) if self.passed else 0.0
        return {
            test_id: self.passed.get(test_id, max(self.failed.get(test_id, 0.0), typical))
            for test_id in test_ids
        }


def longest_first(test_ids: tuple[str, ...], estimates: dict[str, float]) -> list[str]:
    """The order a check's workers take its tests in: the long ones first, so that the
    last to start are short and the workers finish together."""
    return sorted(test_ids, key=lambda test_id: -estimates.get(test_id, 0.0))


class Claims:
    """The tests of one check, taken one at a time by whichever of its workers asks first
    (each asks just before it runs one).  A plan made in advance from the last check's
    times goes wrong as the candidate edits (a fix makes a failing test run all its
    examples); taking tests as workers come free does not."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.owner: dict[str, Worker] = {}

    def take(self, test_id: str, worker: Worker) -> bool:
        with self.lock:
            return self.owner.setdefault(test_id, worker) is worker

    def of(self, worker: Worker) -> list[str]:
        with self.lock:
            return [test_id for test_id, owner in self.owner.items() if owner is worker]


@dataclass
class Check:
    """One check of one kata, its tests taken one at a time by its workers; results
    stream in."""

    kata: Kata
    assigned: tuple[Worker, ...]  # each asks for every test, in one order, and takes some
    claims: Claims = field(default_factory=Claims)
    started: float = field(default_factory=time.monotonic)
    progressed: float = field(default_factory=time.monotonic)  # when a test last finished
    results: dict = field(default_factory=dict)
    collection_errors: list[str] = field(default_factory=list)
    exit_code: int = 0
    finished: set[Worker] = field(default_factory=set)
    failure: str | None = None  # a worker stopped before it answered

    def take(self, kind: str, worker: Worker, payload) -> bool:
        """Take one event of this check's workers; True once the check is complete."""
        from grader.grading.runner import TestResult

        if worker not in self.assigned:
            return False
        if kind == "test":
            result = TestResult(**{**payload, "exceptions": tuple(payload["exceptions"])})
            self.results[result.nodeid] = result
            self.progressed = time.monotonic()
        elif kind == "done":
            for raw in payload["results"]:
                self.results.setdefault(
                    raw["nodeid"], TestResult(**{**raw, "exceptions": tuple(raw["exceptions"])})
                )
            self.collection_errors += [
                e for e in payload["collection_errors"] if e not in self.collection_errors
            ]
            self.exit_code = self.exit_code or payload["exit_code"]
            self.finished.add(worker)
        elif kind == "gone":
            worker.process.join(timeout=5)
            tail = "\n".join(worker.log_tail())
            self.failure = (
                f"the test worker stopped (exit code {worker.process.exitcode}) before it "
                "answered" + (f"; its last output:\n{tail}" if tail else "")
            )
        return self.complete

    @property
    def complete(self) -> bool:
        return self.failure is not None or self.finished == set(self.assigned)

    def timed_out(self) -> str | None:
        """The first test that ran past its time limit, if one did."""
        for test_id, result in self.results.items():
            if TIMEOUT_EXCEPTION in result.exceptions:
                return test_id
        return None

    def running(self) -> list[str]:
        """The tests running now: each busy worker's claimed test without a result."""
        found = []
        for worker in self.assigned:
            if worker not in self.finished:
                found += [t for t in self.claims.of(worker) if t not in self.results][:1]
        return found

    def run(self):
        from grader.grading.runner import RunResult

        return RunResult(self.exit_code, dict(self.results), list(self.collection_errors))


class Workers:
    """Forked workers, one per core for each check and as many waiting beside it: forked
    idle (ready for a check at once, cold), warmed up once a verdict is out, then each
    answers one check.  ``events`` receives every worker's messages; without one, ``check``
    waits for the answer itself."""

    def __init__(
        self,
        tmp: Path,
        parallel: int | None = None,
        events: queue.Queue | None = None,
        test_timeout_s: float = TEST_TIMEOUT_S,
        preload: tuple[str, ...] = (),
        subject_warm: tuple[str, ...] | None = None,
    ):
        self.tmp = tmp
        self.subject_warm = subject_warm
        self.parallel = parallel or max(1, min(2, os.cpu_count() or 1))
        self.events: queue.Queue = events if events is not None else queue.Queue()
        self.test_timeout_s = test_timeout_s
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(zygote_imports(preload))
        self.warm_copies: dict[str, Path] = {}
        self.times = TestTimes()
        self.forked = 0
        self.warm_on: Kata | None = None  # set by ``prepare`` until the next check starts
        self.waiting: list[Worker] = []
        self.used: list[Worker] = []
        self.fork()  # the first check pays the cold start in one process: no warm-up to share

    def fork(self) -> Worker:
        """A new idle worker from the zygote, waiting."""
        self.forked += 1
        log = self.tmp / f"worker-{self.forked}.log"
        worker = Worker(self.context, log, self.events, self.test_timeout_s, self._zygote())
        self.waiting.append(worker)
        return worker

    def _zygote(self):
        """A connection to the one zygote every worker's subjects are forked from (it
        imports ``subject_warm`` once, not once per worker: workers come and go with
        every check); None without ``subject_warm`` (each worker starts its own)."""
        if self.subject_warm is None:
            return None
        from grader.grading import boundary

        return boundary.zygote_connection(self.subject_warm)

    def _spares(self, count: int) -> None:
        while len(self.waiting) < count:
            self.fork()

    def warm_copy(self, kata: Kata) -> tuple[Path, list[str]]:
        """The kata as shipped, in a folder of its own: what workers warm up on."""
        from grader.catalogue import pristine

        if kata.id not in self.warm_copies:
            folder = self.tmp / kata.id
            pristine.materialize(kata, folder)
            self.warm_copies[kata.id] = folder
        return self.warm_copies[kata.id], list(kata.test_files)

    def mark(self, kind: str, worker: Worker, payload=None) -> None:
        """Note what a worker said: ``ready`` (warm or not), or gone while waiting.  A
        worker that turns up ready but cold while warming up is in order (``prepare``)
        starts its warm-up too."""
        if kind == "ready":
            worker.ready, worker.warming = True, False
            worker.warm = bool(payload and payload.get("warm"))
            if self.warm_on is not None and not worker.warm and worker in self.waiting:
                worker.send(*self.warm_copy(self.warm_on), kind="warm")
        elif kind == "gone" and worker in self.waiting:
            self.waiting.remove(worker)
            worker.stop()

    def dispatch(self, kata: Kata) -> Check | None:
        """Start a check on the workers that can take it now, warm ones first; it does not
        wait for one still warming up.  None while none can: the next ``ready`` is the
        moment to ask again."""
        if not self.waiting:
            self._spares(self.parallel)
        ready = sorted((w for w in self.waiting if w.ready), key=lambda w: not w.warm)
        forking = any(not w.ready and not w.warming for w in self.waiting)
        if not ready or (forking and len(ready) < self.parallel):
            return None  # a fork is ready in a moment: it takes its share
        self.warm_on = None  # no warm-up beside a check: it would take the check's cores
        order = longest_first(kata.test_ids, self.times.estimates(kata.test_ids))
        chosen = ready[: min(len(ready), self.parallel, len(order))]
        self.waiting = [w for w in self.waiting if w not in chosen]
        self.used += chosen
        for old in self.used[:-USED_KEPT]:  # the pipe and the process's handle are fds
            old.release()
        self.used = self.used[-USED_KEPT:]
        check = Check(kata, tuple(chosen))
        for worker in chosen:
            worker.claims = check.claims
            worker.send(kata.path, order)
        # no fork or warm-up beside the check (it would take the check's cores): the idle
        # workers ``prepare`` left (one per core) answer a save that cancels it
        return check

    def finish(self, check: Check) -> None:
        """After a check: remember how long its tests took, kill what is still running."""
        self.times.record(check.results.values())
        for worker in check.assigned:
            if worker not in check.finished:
                worker.stop()

    def prepare(self, kata: Kata) -> None:
        """Two workers per core waiting, each warming up on ``kata`` as shipped (call it
        once a verdict is out: warming up takes both cores).  A check takes one per core,
        and the other half stays warm and idle beside it: a save that cancels the check is
        answered by warm workers too (an idle worker shares most of its memory with the
        zygote)."""
        self.warm_on = kata
        self._spares(2 * self.parallel)
        for worker in self.waiting:
            if worker.ready and not worker.warm:
                worker.send(*self.warm_copy(kata), kind="warm")

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every waiting worker is ready and none is warming up (when nothing
        else reads ``events``)."""
        deadline = time.monotonic() + timeout
        while not all(w.ready for w in self.waiting):
            try:
                kind, worker, payload = self.events.get(
                    timeout=max(0.0, deadline - time.monotonic())
                )
            except queue.Empty:
                return False
            self.mark(kind, worker, payload)
        return True

    def check(self, kata: Kata):
        """One check, waiting for its answer (call ``prepare`` afterwards for the next)."""
        check = None
        while True:
            check = check or self.dispatch(kata)
            kind, worker, payload = self.events.get()
            self.mark(kind, worker, payload)
            if check is not None and check.take(kind, worker, payload):
                self.finish(check)
                if check.failure:
                    raise RuntimeError(check.failure)
                return check.run()

    def close(self) -> None:
        for worker in self.used + self.waiting:
            worker.stop()
        for worker in self.used + self.waiting:
            with contextlib.suppress(ValueError, AssertionError):
                if worker.started:
                    worker.process.join(timeout=5)
