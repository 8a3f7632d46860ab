"""Run a kata's tests in this process with a fully controlled pytest invocation, and the
candidate's code in a subject process (``grader.grading.boundary``).

Outcomes come from pytest's own report hooks, never from parsing output.  The
invocation ignores the environment and the tree around the kata: no plugin
autoloading, no ``PYTEST_ADDOPTS``, no conftest files, the grader's own ini file,
no cache.  Running in-process (rather than a fresh interpreter per run) lets a
warm worker answer in a fraction of the time it takes to import torch; modules the
run imported from the kata folder are dropped afterwards, so no state survives
into the next run.

This process never imports a candidate's file: an import of any module of the kata
folder other than a test file is refused, and the tests reach the candidate's code only
through ``boundary.candidate``, whose subject process starts with the run so that it
imports torch while pytest collects.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PYTEST_INI = Path(__file__).with_name("pytest.ini")
# What a warm worker imports before it runs any kata: the cost every run would pay.
WARM_IMPORTS = ("torch", "numpy", "hypothesis", "pytest", "grader.grading.runner")
_ENV_DROPPED = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")
_MESSAGE_LIMIT = 4000
OUTPUT_LIMIT = 500
TRUNCATION_NOTICE = f"\n[output truncated to {OUTPUT_LIMIT} characters]"


@dataclass
class TestResult:
    nodeid: str
    outcome: str  # passed | failed | error | skipped
    message: str = ""
    exceptions: tuple[str, ...] = ()  # exception class names, ExceptionGroups flattened
    duration_s: float = 0.0
    output: str = ""  # what the test printed (stdout, then stderr), truncated


class TestTimeout(BaseException):
    """Raised in a test that exceeds its time; a BaseException so hypothesis does not
    retry and shrink a hanging example."""


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

    def __init__(self, on_result: Callable[[TestResult], None] | None = None) -> None:
        self.results: dict[str, TestResult] = {}
        self.collection_errors: list[str] = []
        self.on_result = on_result

    def record_collect(self, report) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid or '<session>'}: {report.longreprtext}")

    def _record(self, report, outcome: str, call) -> None:
        nodeid = report.nodeid
        previous = self.results.get(nodeid)
        if previous and previous.outcome != "passed":
            return  # keep the first failure (e.g. a call failure before a teardown error)
        excinfo = getattr(call, "excinfo", None)
        exceptions: tuple[str, ...] = ()
        message = ""
        if excinfo is not None and outcome != "passed":
            exceptions = tuple(type(e).__name__ for e in _leaf_exceptions(excinfo.value))
            message = _describe(excinfo.value)
        total = report.duration + (previous.duration_s if previous else 0.0)
        output = report.capstdout + report.capstderr
        if len(output) > OUTPUT_LIMIT:
            output = output[:OUTPUT_LIMIT] + TRUNCATION_NOTICE
        self.results[nodeid] = TestResult(nodeid, outcome, message, exceptions, total, output)

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
            if report.when == "teardown" and self.on_result:
                self.on_result(self.results[report.nodeid])
            return
        self._record(report, outcome, call)
        if report.when == "teardown" and self.on_result:
            self.on_result(self.results[report.nodeid])


def _relative(nodeid: str) -> str:
    return nodeid.rsplit("/", 1)[-1]


class _CandidateImportBlocker:
    """Refuses, in the trusted process, an import of a kata module that is not a test."""

    def __init__(self, folders: list[Path]) -> None:
        self.prefixes = [str(folder.resolve()) + os.sep for folder in folders]

    def find_spec(self, name, path=None, target=None):
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        origin = getattr(spec, "origin", None) or ""
        inside = any(origin.startswith(prefix) for prefix in self.prefixes)
        if inside and not Path(origin).name.startswith("test_"):
            raise ImportError(
                f"the tests imported {Path(origin).name}, a module of the kata: tests reach "
                "the code under test only through grader.grading.boundary.candidate"
            )
        return None


_FROZEN = False


def freeze_imported_heap() -> None:
    """Once per process, once torch is imported (by a warm worker, else by the first
    run's tests while they are collected): move the heap out of the garbage collector's
    sight.  Hypothesis's first
    test registers the global PRNGs with a full ``gc.collect()`` and a
    ``gc.get_referrers`` scan each, which walk torch's heap (about 0.15 s); so do the
    collector's occasional full passes during the tests, and the interpreter's own at
    exit (together about 0.6 s of a 4 s ``kata test``).  What is frozen is the imported
    modules and what they hold, which live as long as the process anyway (plus, the
    first time, that run's pytest session: once per process)."""
    global _FROZEN
    if not _FROZEN and "torch" in sys.modules:
        import gc

        gc.freeze()
        _FROZEN = True


def _exception_line(excinfo, style=None) -> str:
    """A failing test's report in pytest: the exception's line.  The collector reads the
    exception itself (``_describe``); pytest's traceback, which parses the source of
    every frame (~40 ms a failure), is never shown."""
    return excinfo.exconly()


def _make_plugin(
    collector: _Collector,
    test_timeout_s: float | None,
    test_timeouts: dict[str, float],
    reference_s: dict[str, float],
    claim: Callable[[str], bool] | None = None,
    order: list[str] | None = None,
):
    import pytest

    class Plugin:
        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_makereport(self, item, call):
            report = yield
            collector.record_report(report, call)
            return report

        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_call(self, item):
            nodeid = _relative(item.nodeid)
            limit = test_timeouts.get(nodeid, test_timeout_s)
            if not limit:
                return (yield)

            def _raise_timeout(signum, frame) -> None:
                from grader.grading.timeouts import timed_out_message

                raise TestTimeout(timed_out_message(limit, reference_s.get(nodeid)))

            previous = signal.signal(signal.SIGALRM, _raise_timeout)
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                return (yield)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)

        def pytest_collectreport(self, report) -> None:
            collector.record_collect(report)

        @pytest.hookimpl(trylast=True)
        def pytest_collection_modifyitems(self, session, config, items) -> None:
            """Wait for the subject to start and import the kata's modules, which is no
            test's time; when they do not load, no test runs and the run says why once."""
            from grader.grading import boundary

            freeze_imported_heap()
            bounds = [t for t in (test_timeout_s, *test_timeouts.values()) if t]
            problem = boundary.wait_for_subject(max(bounds) if bounds else None)
            if problem is not None:
                collector.collection_errors.append(f"{boundary.LOAD_ERROR_ID}: {problem}")
                items[:] = []
            # tests named by node id run first, in the order named (pytest collects a
            # folder named alongside them in its own order, and once)
            rank = {test_id: i for i, test_id in enumerate(order or ())}
            items.sort(key=lambda item: rank.get(_relative(item.nodeid), len(rank)))
            for item in items:
                item.repr_failure = _exception_line

    class Claiming(Plugin):
        @pytest.hookimpl(tryfirst=True)
        def pytest_runtestloop(self, session) -> bool | None:
            """Run only the tests ``claim`` grants, asked one at a time just before each
            (pytest's own loop, otherwise).  Each test is torn down as if the next in
            ``order`` followed; when another run took that one, what the test actually
            next does not share is torn down before it starts."""
            if session.testsfailed or session.config.option.collectonly:
                return None  # pytest's own loop says why
            rank = {test_id: i for i, test_id in enumerate(order or ())}
            last = len(rank)
            items = sorted(session.items, key=lambda i: rank.get(_relative(i.nodeid), last))
            mine = (item for item in items if claim(_relative(item.nodeid)))
            item = next(mine, None)
            while item is not None:
                guess = items[items.index(item) + 1] if item is not items[-1] else None
                item.config.hook.pytest_runtest_protocol(item=item, nextitem=guess)
                if session.shouldfail:
                    raise session.Failed(session.shouldfail)
                if session.shouldstop:
                    raise session.Interrupted(session.shouldstop)
                following = next(mine, None)
                if following is not guess:
                    session._setupstate.teardown_exact(following)
                item = following
            return True

    return Claiming() if claim is not None else Plugin()


def run_tests(
    folder: Path,
    test_files: list[str] | tuple[str, ...] | None = None,
    *,
    profile: str | None = None,
    test_timeout_s: float | None = None,
    test_timeouts: dict[str, float] | None = None,
    reference_s: dict[str, float] | None = None,
    on_result: Callable[[TestResult], None] | None = None,
    max_failures: int | None = None,
    subject_from: Path | None = None,
    isolation: str = "process",
    subject_limits=None,
    hide: tuple[Path, ...] = (),
    claim: Callable[[str], bool] | None = None,
) -> RunResult:
    """Run the tests in ``folder`` (every ``test_*.py``, or the named files in it).

    Node ids in the result are relative to ``folder``.  ``test_timeout_s`` bounds each
    test (main thread only, via SIGALRM), ``test_timeouts`` some tests (by node id)
    differently; ``on_result`` hears each test as it finishes;
    ``max_failures`` stops the session after that many failing tests.  Tests named by node
    id in ``test_files`` run first, in that order (``"."`` adds the folder's others);
    with ``claim``, only those ``claim`` grants run, asked just before each (runs in
    other processes take the others).  The candidate's code runs in a subject process
    that imports the kata's modules from ``subject_from`` (default ``folder``; a fresh
    copy of them in full isolation), isolated as ``isolation`` says.
    """
    from grader.grading import boundary

    if "torch" in sys.modules:  # oracles are small: one thread, so the subject gets a core
        sys.modules["torch"].set_num_threads(1)
    folder = folder.resolve()
    source = (subject_from or folder).resolve()
    # Full isolation: the subject owns a copy of the modules and can reach nothing else.
    # Otherwise the subject runs as the candidate, who can write the folder anyway, so it
    # imports from it: tracebacks and ``__file__`` name the candidate's own files.
    copy = isolation == "full"
    boundary.start_run(
        boundary.subject_folder(source, isolation) if copy else source,
        isolation=isolation,
        limits=subject_limits,
        hide=hide,
        owned=copy,
    )
    blocker = _CandidateImportBlocker([folder, source])
    sys.meta_path.insert(0, blocker)
    saved_env = {name: os.environ.pop(name, None) for name in _ENV_DROPPED}
    saved_autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    saved_path = list(sys.path)
    saved_cwd = Path.cwd()
    try:
        import pytest

        from grader.grading.hypothesis_profiles import load_profile

        load_profile(profile)
        collector = _Collector(on_result)
        args = [
            *([str(folder / name) for name in test_files] if test_files else [str(folder)]),
            "-c",
            str(PYTEST_INI),
            "--rootdir",
            str(folder),
            # collection starts at confcutdir: left to default, pytest lists the folder's
            # parents' entries (3,600 of them in a busy /tmp, ~2 s) to find conftests it
            # will not load anyway
            "--confcutdir",
            str(folder),
            "--noconftest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:terminal",
            # these two call gc.collect() around every session: ~0.2 s with torch loaded
            "-p",
            "no:unraisableexception",
            "-p",
            "no:threadexception",
            "--assert=plain",
            *([f"--maxfail={max_failures}"] if max_failures else []),
            "-W",
            "ignore::pytest.PytestConfigWarning",
        ]
        os.chdir(folder)
        plugin = _make_plugin(
            collector,
            test_timeout_s,
            dict(test_timeouts or {}),
            dict(reference_s or {}),
            claim,
            list(test_files or ()),
        )
        exit_code = int(pytest.main(args, plugins=[plugin]))
        return RunResult(exit_code, collector.results, collector.collection_errors)
    finally:
        boundary.stop_run()
        if blocker in sys.meta_path:
            sys.meta_path.remove(blocker)
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
