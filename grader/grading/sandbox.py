"""Run a kata's tests in a fresh trusted process, and hear the verdict over a pipe.

Each run is a new process forked from a warm ``forkserver`` that has imported torch,
numpy, hypothesis and pytest but never run a torch op (forking after parallel ops can
hang).  That process runs pytest and every assertion; it never imports the candidate's
code, which runs in a subject process of its own (``grader.grading.boundary``) with the
isolation the grader asks for.  So nothing the candidate's code does can reach this
process's memory, its pipe or pytest.  Messages on the pipe are JSON bytes, read with
``json`` only; the child dies with the grader (``PR_SET_PDEATHSIG``), and its subject dies with it.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from grader.grading.runner import WARM_IMPORTS, TestResult

PRELOAD = [*WARM_IMPORTS, "grader.grading.sandbox"]
_MAX_MESSAGES = 10_000
_MAX_MESSAGE_BYTES = 1_000_000


@dataclass
class SandboxRun:
    results: dict[str, TestResult] = field(default_factory=dict)
    collection_errors: list[str] = field(default_factory=list)
    exit_code: int | None = None
    completed: bool = False  # the child reported the end of its session
    timed_out: bool = False  # the run was killed at the total time bound
    process_exit: int | None = None
    seconds: float = 0.0


class _Sender(Protocol):
    """The child's end of the pipe: it only ever sends JSON bytes (``send_bytes``); the
    parent reads raw bytes (``recv_bytes``) and decodes them with ``json`` alone."""

    def send_bytes(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def _child(
    folder: str,
    conn: _Sender,
    test_timeout_s: float,
    profile: str | None,
    subject_from: str | None,
    isolation: str,
    hide: list[str],
    timeouts: dict[str, float],
    zygote=None,
) -> None:
    import json
    import os

    from grader.grading import boundary, subject
    from grader.grading.runner import run_tests

    subject.die_with_parent(os.getppid())
    if zygote is not None:  # the grader's zygote forks this run's subjects
        boundary.attach_zygote(zygote)
    # Nothing printed here reaches the grader's own output (where a CI log would read it
    # as workflow commands); pytest captures what each test prints.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    def send(kind: str, payload: dict) -> None:
        conn.send_bytes(json.dumps([kind, payload]).encode())

    run = run_tests(
        Path(folder),
        profile=profile,
        test_timeout_s=test_timeout_s,
        test_timeouts=timeouts,
        on_result=lambda result: send("test", asdict(result)),
        subject_from=Path(subject_from) if subject_from else None,
        isolation=isolation,
        hide=tuple(Path(p) for p in hide),
    )
    send("done", {"exit_code": run.exit_code, "collection_errors": run.collection_errors})
    conn.close()


class Sandbox:
    """Fresh-process test runs from a warm fork server."""

    def __init__(self, preload: list[str] | None = None):
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD if preload is None else preload)

    def warm_up(self) -> None:
        """Start the fork server now (it imports torch, about 2 s, while the caller
        prepares the first run) rather than at the first run."""
        from multiprocessing import forkserver

        forkserver.ensure_running()

    def run(
        self,
        folder: Path,
        *,
        test_timeout_s: float = 10.0,
        total_timeout_s: float = 120.0,
        profile: str | None = None,
        subject_from: Path | None = None,
        isolation: str = "process",
        hide: tuple[Path, ...] = (),
        timeouts: dict[str, float] | None = None,
    ) -> SandboxRun:
        from grader.grading import boundary

        started = time.monotonic()
        receiver, sender = self.context.Pipe(duplex=False)
        # every run's subjects are forked from one zygote of this process's, started at the
        # first run (not beside the fork server: two imports of torch at once take nearly
        # as long as one after the other here), not from a new interpreter per run
        zygote = boundary.zygote_connection(boundary.warm_for(subject_from or folder))
        child = self.context.Process(
            target=_child,
            args=(
                str(folder),
                sender,
                test_timeout_s,
                profile,
                str(subject_from) if subject_from else None,
                isolation,
                [str(p) for p in hide],
                dict(timeouts or {}),
                zygote,
            ),
            daemon=True,
        )
        child.start()
        sender.close()
        if zygote is not None:
            zygote.close()
        run = SandboxRun()
        deadline = started + total_timeout_s
        for _ in range(_MAX_MESSAGES):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not receiver.poll(remaining):
                run.timed_out = remaining <= 0 or child.is_alive()
                break
            try:
                kind, payload = json.loads(receiver.recv_bytes(_MAX_MESSAGE_BYTES))
            except (EOFError, OSError, ValueError, TypeError):
                break  # the child ended (or sent something that is not a message)
            if kind == "test" and isinstance(payload, dict):
                payload["exceptions"] = tuple(payload.get("exceptions", ()))
                result = TestResult(**payload)
                run.results[result.nodeid] = result
            elif kind == "done" and isinstance(payload, dict):
                run.exit_code = int(payload["exit_code"])
                run.collection_errors = [str(e) for e in payload["collection_errors"]]
                run.completed = True
                break
        if child.is_alive():
            child.join(timeout=1.0 if run.completed else 0)
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
        run.process_exit = child.exitcode
        run.seconds = time.monotonic() - started
        return run
