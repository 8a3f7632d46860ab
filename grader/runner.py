"""Run a kata's tests in this process with a fully controlled pytest invocation.

Outcomes come from pytest's own report hooks, never from parsing output.  The
invocation ignores the environment and the tree around the kata: no plugin
autoloading, no ``PYTEST_ADDOPTS``, no conftest files, the grader's own ini file,
no cache.  Running in-process (rather than a fresh interpreter per run) lets a
warm worker answer in a fraction of the time it takes to import torch; modules the
run imported from the kata folder are dropped afterwards, so no state survives
into the next run.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

PYTEST_INI = Path(__file__).with_name("pytest.ini")
_ENV_DROPPED = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")
_MESSAGE_LIMIT = 4000


@dataclass
class TestResult:
    nodeid: str
    outcome: str  # passed | failed | error | skipped
    message: str = ""
    exceptions: tuple[str, ...] = ()  # exception class names, ExceptionGroups flattened
    duration_s: float = 0.0


@dataclass
class RunResult:
    exit_code: int
    results: dict[str, TestResult] = field(default_factory=dict)
    collection_errors: list[str] = field(default_factory=list)

    def outcome(self, nodeid: str) -> str:
        """A test that did not run at all counts as ``missing``."""
        result = self.results.get(nodeid)
        return result.outcome if result else "missing"

    def verdicts(self) -> dict[str, str]:
        return {nodeid: r.outcome for nodeid, r in sorted(self.results.items())}


def _leaf_exceptions(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaf_exceptions(sub)]
    return [exc]


def _describe(exc: BaseException) -> str:
    """The exception's message plus its notes (hypothesis puts the falsifying example there)."""
    parts = []
    for leaf in _leaf_exceptions(exc):
        text = str(leaf).strip() or type(leaf).__name__
        if not isinstance(leaf, AssertionError):
            text = f"{type(leaf).__name__}: {text}"
        notes = [n for n in getattr(leaf, "__notes__", []) if not n.startswith("You can reproduce")]
        parts.append("\n".join([text, *notes]))
    for note in getattr(exc, "__notes__", []) if isinstance(exc, BaseExceptionGroup) else []:
        parts.append(note)
    message = "\n".join(parts)
    return message if len(message) <= _MESSAGE_LIMIT else message[:_MESSAGE_LIMIT] + " [...]"


class _Collector:
    """Each test's outcome, fed from pytest's report hooks by the plugin below."""

    def __init__(self) -> None:
        self.results: dict[str, TestResult] = {}
        self.collection_errors: list[str] = []

    def record_collect(self, report) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid or '<session>'}: {report.longreprtext}")

    def _record(self, nodeid: str, outcome: str, call, duration: float) -> None:
        previous = self.results.get(nodeid)
        if previous and previous.outcome != "passed":
            return  # keep the first failure (e.g. a call failure before a teardown error)
        excinfo = getattr(call, "excinfo", None)
        exceptions: tuple[str, ...] = ()
        message = ""
        if excinfo is not None and outcome != "passed":
            exceptions = tuple(type(e).__name__ for e in _leaf_exceptions(excinfo.value))
            message = _describe(excinfo.value)
        total = duration + (previous.duration_s if previous else 0.0)
        self.results[nodeid] = TestResult(nodeid, outcome, message, exceptions, total)

    def record_report(self, report, call) -> None:
        if report.when == "call":
            outcome = {"passed": "passed", "failed": "failed", "skipped": "skipped"}[report.outcome]
            if hasattr(report, "wasxfail"):
                outcome = "skipped"
        elif report.failed:
            outcome = "error"
        elif report.skipped:
            outcome = "skipped"
        else:
            if report.nodeid not in self.results:
                self.results[report.nodeid] = TestResult(report.nodeid, "passed")
            return
        self._record(report.nodeid, outcome, call, report.duration)


def _make_plugin(collector: _Collector):
    import pytest

    class Plugin:
        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_makereport(self, item, call):
            report = yield
            collector.record_report(report, call)
            return report

        def pytest_collectreport(self, report) -> None:
            collector.record_collect(report)

    return Plugin()


def run_tests(
    folder: Path, targets: list[str] | None = None, *, profile: str | None = None
) -> RunResult:
    """Run the tests in ``folder`` (all ``test_*.py``, or the given node ids/files).

    Node ids in the result are relative to ``folder``.
    """
    folder = folder.resolve()
    saved_env = {name: os.environ.pop(name, None) for name in _ENV_DROPPED}
    saved_autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    saved_path = list(sys.path)
    saved_cwd = Path.cwd()
    try:
        import pytest

        from grader.hypothesis_profiles import load_profile

        load_profile(profile)
        collector = _Collector()
        args = [
            *(targets or [str(folder)]),
            "-c",
            str(PYTEST_INI),
            "--rootdir",
            str(folder),
            "--noconftest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:terminal",
            "--assert=plain",
            "-W",
            "ignore::pytest.PytestConfigWarning",
        ]
        os.chdir(folder)
        exit_code = int(pytest.main(args, plugins=[_make_plugin(collector)]))
        return RunResult(exit_code, collector.results, collector.collection_errors)
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        _forget_modules_under(folder)
        for name, value in saved_env.items():
            if value is not None:
                os.environ[name] = value
        if saved_autoload is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved_autoload


def _forget_modules_under(folder: Path) -> None:
    prefix = str(folder) + os.sep
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or ""
        if origin.startswith(prefix):
            del sys.modules[name]
