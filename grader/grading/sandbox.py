"""Run untrusted kata code's tests in a fresh process, and hear the verdict over a pipe.

Each run is a new process forked from a warm ``forkserver`` that has imported torch,
numpy, hypothesis and pytest but never run a torch op (forking after parallel ops can
hang).  So one commit's code never shares a process with another's, and a run costs
the lazy first-call setup, not the imports.

The verdict is what the child sends over a pipe from pytest's report hooks; what the
code under test prints cannot forge it, and a child that exits early (``os._exit``,
``sys.exit`` at import) or hangs simply never reports ``done``.  After the session the
child compares the functions of the modules the tests trust (torch, numpy, pytest,
hypothesis, builtins, ...) with a snapshot taken before any kata code was imported, so
monkeypatching an oracle is seen and reported, not believed.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from grader.grading.runner import WARM_IMPORTS, TestResult

PRELOAD = [*WARM_IMPORTS, "grader.grading.sandbox"]
TRUSTED_MODULES = (
    "builtins",
    "math",
    "numpy",
    "numpy.linalg",
    "numpy.testing",
    "torch",
    "torch.nn",
    "torch.nn.functional",
    "torch.testing",
    "torch.optim",
    "hypothesis",
    "hypothesis.strategies",
    "pytest",
    "_pytest.runner",
    "_pytest.python",
    "_pytest.reports",
    "_pytest.main",
    "grader.grading.runner",
)
TRUSTED_CLASSES = (("torch", "Tensor"), ("numpy", "ndarray"))
_MAX_MESSAGES = 10_000


@dataclass
class SandboxRun:
    results: dict[str, TestResult] = field(default_factory=dict)
    collection_errors: list[str] = field(default_factory=list)
    exit_code: int | None = None
    completed: bool = False  # the child reported the end of its session
    timed_out: bool = False  # the run was killed at the total time bound
    tampered: list[str] = field(default_factory=list)
    process_exit: int | None = None
    seconds: float = 0.0


def _snapshot() -> dict[str, int]:
    import importlib
    import sys

    seen: dict[str, int] = {}
    for name in TRUSTED_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attr, value in list(vars(module).items()):
            if callable(value):
                seen[f"{name}.{attr}"] = id(value)
    for module_name, class_name in TRUSTED_CLASSES:
        cls = getattr(sys.modules.get(module_name), class_name, None)
        for attr, value in list(vars(cls).items()) if cls is not None else []:
            seen[f"{module_name}.{class_name}.{attr}"] = id(value)
    return seen


def _tampered(before: dict[str, int]) -> list[str]:
    after = _snapshot()
    return sorted(name for name, ident in before.items() if after.get(name) != ident)


def _child(folder: str, conn: Connection, test_timeout_s: float, profile: str | None) -> None:
    import os

    from grader.grading.runner import run_tests

    # Nothing the code under test prints reaches the grader's own output (where a CI
    # log would read it as workflow commands); pytest captures what each test prints.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    before = _snapshot()

    def send_result(result: TestResult) -> None:
        conn.send(("test", asdict(result)))

    run = run_tests(
        Path(folder), profile=profile, test_timeout_s=test_timeout_s, on_result=send_result
    )
    conn.send(
        (
            "done",
            {
                "exit_code": run.exit_code,
                "collection_errors": run.collection_errors,
                "tampered": _tampered(before),
            },
        )
    )
    conn.close()


class Sandbox:
    """Fresh-process test runs from a warm fork server."""

    def __init__(self, preload: list[str] | None = None):
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD if preload is None else preload)

    def run(
        self,
        folder: Path,
        *,
        test_timeout_s: float = 10.0,
        total_timeout_s: float = 120.0,
        profile: str | None = None,
    ) -> SandboxRun:
        started = time.monotonic()
        receiver, sender = self.context.Pipe(duplex=False)
        child = self.context.Process(
            target=_child, args=(str(folder), sender, test_timeout_s, profile), daemon=True
        )
        child.start()
        sender.close()
        run = SandboxRun()
        deadline = started + total_timeout_s
        for _ in range(_MAX_MESSAGES):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not receiver.poll(remaining):
                run.timed_out = remaining <= 0 or child.is_alive()
                break
            try:
                kind, payload = receiver.recv()
            except (EOFError, OSError, ValueError, TypeError):
                break  # the child ended (or sent something that is not a message)
            if kind == "test" and isinstance(payload, dict):
                result = TestResult(**payload)
                run.results[result.nodeid] = result
            elif kind == "done" and isinstance(payload, dict):
                run.exit_code = int(payload["exit_code"])
                run.collection_errors = [str(e) for e in payload["collection_errors"]]
                run.tampered = [str(t) for t in payload["tampered"]]
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
