"""``kata grade``: grade the commits of ``base..head`` with tests taken from ``base`` only.

Trust comes from construction, not from inspection.  Each run has two folders: the
trusted one is the kata as it is at the base commit (tests, ``kata.toml``, holdout tests
from base's private material), read by the trusted test process only; the subject's holds
the kata's modules from base (its harness) with the editable files taken from the commit
being graded, and is all the subject process ever sees (``grader.grading.boundary``).  No
conftest, pytest configuration or test file from the candidate's commits ever reaches a
run, and no candidate code runs where an assertion does.  Changes outside the editable
files are still reported, and make the result unranked.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grader.catalogue import faults
from grader.catalogue.katas import Kata, load_catalogue, test_functions
from grader.catalogue.renames import current_id
from grader.grading import attempt, diffsize, fault_diff, sealed, timeouts
from grader.grading.attempt import NEGATIVE_TIME_NOTE
from grader.grading.boundary import LOAD_ERROR_ID, default_isolation
from grader.grading.gitdata import Commit, Repo
from grader.grading.sandbox import Sandbox, SandboxRun
from grader.grading.scan import source_text_problems

__all__ = [
    "NEGATIVE_TIME_NOTE",
    "GradeUsageError",
    "Limits",
    "grade",
    "hidden_paths",
    "source_text_problems",
]

SCHEMA_VERSION = 1
MAX_STATES = 50  # distinct versions of a kata's files graded in one range
_PYTEST_EXIT = {
    2: ": interrupted",
    3: ": internal error, e.g. SystemExit raised while importing the code",
    5: ": nothing collected",
}


class GradeUsageError(Exception):
    """Bad input (unknown ref or kata, nothing to grade): one line, exit 2."""


@dataclass(frozen=True)
class Limits:
    test_timeout_s: float = timeouts.FLOOR_S  # one test, at least (see grading.timeouts)
    reference_factor: float = timeouts.REFERENCE_FACTOR
    run_timeout_s: float = 180.0  # one version of the files: a whole pytest session
    total_timeout_s: float = 1200.0  # looking for the first green commit stops after this
    profile: str = "grade"  # derandomized, whatever $KATA_HYPOTHESIS_PROFILE says
    isolation: str | None = None  # None: full when the grader runs as root, else process

    def per_test(self, reference_s: dict[str, float]) -> dict[str, float]:
        """Each test's limit: the floor, or a multiple of what the reference fix took."""
        return timeouts.per_test(reference_s, self.test_timeout_s, self.reference_factor)


@dataclass(frozen=True)
class ExpectedTest:
    nodeid: str
    file: str  # repository path to point annotations at
    line: int
    code: str  # the test's source, or "" for hidden (holdout) tests
    hidden: bool


@dataclass
class Evaluation:
    status: str  # green | red | error
    message: str
    tests: list[dict]


def _test_sources(path: Path) -> dict[str, tuple[int, str]]:
    """Each top-level test function's line and source (decorators included)."""
    import ast

    source = path.read_text()
    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            found[node.name] = (node.lineno, "\n".join(lines[first - 1 : node.end_lineno]))
    return found


def _expected_tests(kata: Kata, holdout: list[Path]) -> list[ExpectedTest]:
    """The tests that must run, in file order: visible first, then holdout."""
    expected = []
    for name in kata.test_files:
        for function, (line, code) in _test_sources(kata.path / name).items():
            nodeid = f"{name}::{function}"
            expected.append(ExpectedTest(nodeid, f"katas/{kata.id}/{name}", line, code, False))
    for path in holdout:
        for function, _ in test_functions(path):
            target = f"katas/{kata.id}/{kata.files[0]}"
            expected.append(ExpectedTest(f"{path.name}::{function}", target, 1, "", True))
    return expected


def _test_entry(
    test: ExpectedTest, run: SandboxRun, limits: Limits, reference_s: dict[str, float]
) -> dict:
    result = run.results.get(test.nodeid)
    entry = {
        "name": test.nodeid,
        "status": "error",
        "message": "",
        "output": result.output if result else "",
        "test_code": test.code,
        "hidden": test.hidden,
        "file": test.file,
        "line": test.line,
    }
    if result is None:
        if (load_error := _load_error(run)) is not None:
            entry["message"] = f"{load_error} (raised while the code under test was imported)"
        elif run.timed_out:
            entry["message"] = f"timed out: the run was stopped after {limits.run_timeout_s:g} s"
        elif run.collection_errors:
            entry["message"] = "not run: the tests could not be imported (see the kata message)"
        elif not run.completed:
            entry["message"] = (
                f"not run: the test process ended (exit status {run.process_exit}) "
                "before reporting this test"
            )
        else:
            entry["message"] = "not run: the test was not collected; a test that does not run fails"
    elif result.outcome == "passed":
        entry["status"] = "pass"
    elif result.outcome == "skipped":
        entry.update(status="fail", message="skipped: a skipped test counts as failed")
    elif "TestTimeout" in result.exceptions:
        limit = limits.per_test(reference_s).get(test.nodeid, limits.test_timeout_s)
        entry["message"] = timeouts.timed_out_message(limit, reference_s.get(test.nodeid))
    elif result.outcome == "failed" and set(result.exceptions) == {"AssertionError"}:
        entry.update(status="fail", message=result.message)
    else:
        entry["message"] = result.message or result.outcome
    return entry


def _load_error(run: SandboxRun) -> str | None:
    """The exception the candidate's modules raised when imported (its last line), if any:
    the candidate's failure (red), unlike tests that cannot be imported (an error)."""
    for error in run.collection_errors:
        if error.startswith(f"{LOAD_ERROR_ID}: "):
            text = error.removeprefix(f"{LOAD_ERROR_ID}: ").strip()
            return text.splitlines()[-1].removeprefix("E ").strip()[:500]
    return None


def _evaluate(
    run: SandboxRun, expected: list[ExpectedTest], limits: Limits, reference_s: dict[str, float]
) -> Evaluation:
    tests = [_test_entry(test, run, limits, reference_s) for test in expected]
    failing = [t for t in tests if t["status"] != "pass"]
    if run.timed_out:
        return Evaluation("error", f"timed out: the run exceeded {limits.run_timeout_s:g} s", tests)
    load_error = _load_error(run)
    if load_error is not None:
        return Evaluation("red", f"the code under test does not load: {load_error}", tests)
    if run.collection_errors:
        first = run.collection_errors[0].strip().splitlines()
        return Evaluation(
            "error", "the tests could not be imported: " + " | ".join(first[-3:]), tests
        )
    if not run.completed:
        message = (
            f"the test process exited (status {run.process_exit}) before reporting a result; "
            "does the code call sys.exit or os._exit?"
        )
        return Evaluation("error", message, tests)
    if not run.results:
        why = _PYTEST_EXIT.get(run.exit_code, "")
        return Evaluation("error", f"no tests ran (pytest exit status {run.exit_code}{why})", tests)
    if failing:
        return Evaluation("red", f"{len(failing)} of {len(tests)} tests fail", tests)
    if run.exit_code != 0:
        message = f"every expected test passed but pytest exited with status {run.exit_code}"
        return Evaluation("error", message, tests)
    return Evaluation("green", f"all {len(tests)} tests pass", tests)


class _KataGrader:
    """Grades one kata over a range, running each distinct version of its files once."""

    def __init__(
        self, repo: Repo, kata: Kata, sandbox: Sandbox, limits: Limits, tmp: Path, isolation: str
    ):
        self.repo, self.kata, self.sandbox, self.limits, self.tmp = repo, kata, sandbox, limits, tmp
        self.isolation = isolation
        # Everything trusted is read once, here, before any candidate code has run: runs
        # are written from this snapshot, never from a folder a run could have reached.
        self.reference_s = timeouts.reference_timings(kata)
        self.paths = attempt.kata_paths(kata)
        self.holdout = sorted((kata.private_dir / "holdout").glob("test_*.py"))
        self.expected = _expected_tests(kata, self.holdout)
        self.snapshot = _snapshot(kata, self.holdout)
        self.sealed = sealed.is_sealed(kata)
        self.reference_size = sealed.reference_size(kata, tmp)  # sealed: the public one
        self.cache: dict[str, Evaluation] = {}
        self.started = time.monotonic()
        # a capstone's fault fixes: the regions of the shipped code each one changes
        self.fault_regions = (
            fault_diff.fix_regions(kata, tmp) if kata.is_capstone and not self.sealed else {}
        )

    def files_at(self, commit: str) -> dict[str, str | None]:
        return attempt.files_at(self.repo, self.paths, commit)

    def evaluate(self, commit: str) -> Evaluation:
        # the committed bytes: the subject's interpreter reads what git holds, not a
        # decoded copy (a file that is not UTF-8 is refused there as it would be anywhere)
        files = {name: self.repo.read_bytes(commit, path) for name, path in self.paths.items()}
        named = {name: data.hex() if data is not None else None for name, data in files.items()}
        key = hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()
        if key not in self.cache:
            folder = self.tmp / f"{self.kata.id}-run-{len(self.cache)}"
            modules = self.tmp / f"{self.kata.id}-modules-{len(self.cache)}"
            for name, data in self.snapshot.items():
                for target in (folder, modules) if "/" not in name else (folder,):
                    if target is modules and (name.startswith("test_") or not name.endswith(".py")):
                        continue
                    (target / name).parent.mkdir(parents=True, exist_ok=True)
                    (target / name).write_bytes(data)
            modules.mkdir(exist_ok=True)
            for name, data in files.items():
                if data is None:
                    (modules / name).unlink(missing_ok=True)
                else:
                    (modules / name).write_bytes(data)
            run = self.sandbox.run(
                folder,
                test_timeout_s=self.limits.test_timeout_s,
                total_timeout_s=self.limits.run_timeout_s,
                profile=self.limits.profile,
                subject_from=modules,
                isolation=self.isolation,
                hide=hidden_paths(),
                timeouts=self.limits.per_test(self.reference_s),
            )
            self.cache[key] = _evaluate(run, self.expected, self.limits, self.reference_s)
        return self.cache[key]

    def reference_total(self) -> int | None:
        return self.reference_size

    def grade(self, fork_point: str, head: Commit, protected: list[str]) -> dict:
        kata, repo = self.kata, self.repo
        clock = attempt.clock(repo, kata, fork_point, head.sha)
        start = clock.start
        origin = start.sha if start else fork_point  # the first green is looked for after it
        notes = clock.notes(kata.id)
        if self.sealed:
            notes.append(f"hidden tests pending: {sealed.hidden_tests_note(kata.id, 'kata grade')}")
        if start is None:
            notes.append(
                f"no `Kata-Start: {kata.id}` commit before head: time-to-green is not measured "
                f"(run `kata start {kata.id}` before you begin)"
            )
        final = self.evaluate(head.sha)
        green: Commit | None = None
        attempts = 0
        # a capstone scores the faults fixed at head: its clock stops at the first commit
        # that fixes all of them (for a kata without faults: the first green commit)
        wanted = {n for n, ok in self._fixed(final).items() if ok} if kata.is_capstone else set()
        first_fixed: dict[str, Commit] = {}
        if final.status == "green" or wanted:
            for commit in attempt.versions(repo, self.paths, origin, head.sha):
                if len(self.cache) >= MAX_STATES:
                    notes.append(
                        f"stopped looking for the first green commit after {MAX_STATES} "
                        "versions; time-to-green is measured to head"
                    )
                    break
                if time.monotonic() - self.started > self.limits.total_timeout_s:
                    notes.append(
                        "stopped looking for the first green commit after "
                        f"{self.limits.total_timeout_s:g} s; time-to-green is measured to head"
                    )
                    break
                attempts += 1
                evaluation = self.evaluate(commit.sha)
                fixed_now = {n for n, ok in self._fixed(evaluation).items() if ok}
                for name in sorted(fixed_now - set(first_fixed)):
                    first_fixed[name] = commit
                if evaluation.status == "green" or (wanted and wanted <= fixed_now):
                    green = commit
                    break
            green = green or head
        before = self.files_at(fork_point)  # measured from base, never from the marker
        measures = attempt.measure(repo, kata, fork_point, (green or head).sha)
        head_files = self.files_at(head.sha)
        lint = diffsize.new_lint_violations(
            attempt.texts(before, self.paths), attempt.texts(head_files, self.paths)
        )
        reasons = [
            f"changed {path}: only {', '.join(self.paths.values())} may change"
            for path in protected
        ]
        reasons += clock.reasons(kata.id)
        reasons += attempt.scan_reasons(repo, kata, fork_point, [head.sha, (green or head).sha])
        if measures.gave_up:
            reasons.append("gave up: the reference fix was shown (`kata solution --give-up`)")
        time_to_green = green.time - start.time if green and start else None
        if time_to_green is not None and time_to_green < 0:
            notes.append(NEGATIVE_TIME_NOTE)
            time_to_green = None
        extra = {}
        if kata.is_capstone:
            extra["faults"] = fault_diff.fault_entries(
                kata,
                final.tests,
                first_fixed,
                start,
                self.fault_regions,
                before,
                self.files_at((green or head).sha),
            )
        return {
            "id": kata.id,
            "status": final.status,
            "message": final.message,
            "ranked": not reasons,
            "unranked_reasons": reasons,
            "notes": notes,
            "tests": final.tests,
            "start_commit": start.sha if start else None,
            "green_commit": green.sha if green else None,
            "time_to_green_s": time_to_green,
            "clock": "commit",
            "attempts": attempts,
            "hints_used": measures.hints_used,
            "diff": {
                "added": measures.diff.added,
                "removed": measures.diff.removed,
                "total": measures.diff.total,
                "tokens": measures.diff.tokens,
                "reference_total": self.reference_total(),
            },
            "lint": [
                {"path": v.path, "line": v.line, "code": v.code, "message": v.message} for v in lint
            ],
            "hidden_tests": "pending" if self.sealed else "ran",
            **extra,
        }

    def _fixed(self, evaluation: Evaluation) -> dict[str, bool]:
        return faults.fixed_in_report(self.kata, evaluation.tests)


def grade(
    repo: Repo,
    base_ref: str,
    head_ref: str,
    kata_ids: list[str] | None,
    *,
    sandbox: Sandbox | None = None,
    limits: Limits | None = None,
    private: Path | None = None,
) -> dict:
    """The report for ``base_ref..head_ref`` (see ``grader/schemas/report.schema.json``).

    ``private``: a trusted folder of private material (a cohort's, unsealed by the publish
    workflow with the key) used instead of the base's, which a sealed cohort does not
    hold in plaintext."""
    from grader.grading.gitdata import GitError

    limits = limits or Limits()
    try:
        base, head = repo.resolve(base_ref), repo.commit(repo.resolve(head_ref))
    except GitError as exc:
        raise GradeUsageError(str(exc)) from None
    fork_point = repo.merge_base(base, head.sha)
    sandbox = sandbox or Sandbox()
    sandbox.warm_up()  # it imports torch while the base is exported and read
    with tempfile.TemporaryDirectory(prefix="kata-grade-") as tmp:
        trusted = Path(tmp) / "base"
        sealed_dir = sealed.SEALED_DIR.as_posix()
        parts = ["katas", "grader/private"]
        parts += [sealed_dir] if str(repo.git("ls-tree", base, sealed_dir)).strip() else []
        repo.export(base, parts, trusted)
        if private is not None:
            import shutil

            shutil.copytree(private, trusted / "grader" / "private", dirs_exist_ok=True)
            shutil.rmtree(trusted / sealed_dir, ignore_errors=True)
        katas = {kata.id: kata for kata in load_catalogue(trusted)}
        changed = repo.changed_paths(fork_point, head.sha)
        if kata_ids:
            # old and new ids of a renamed kata both name it, whichever the base has
            by_today = {current_id(k): kata for k, kata in katas.items()}
            unknown = [k for k in kata_ids if current_id(k) not in by_today]
            if unknown:
                raise GradeUsageError(
                    f"unknown kata {unknown[0]!r} at base {base[:12]}: `kata list` shows the ids"
                )
            picked = list({current_id(k): by_today[current_id(k)] for k in kata_ids}.values())
        else:
            picked = [
                k for k in katas.values() if any(p.startswith(f"katas/{k.id}/") for p in changed)
            ]
            if not picked:
                raise GradeUsageError(
                    f"no kata changed in {base_ref}..{head_ref}: name one with --kata ID"
                )
        editable = {f"katas/{k.id}/{name}" for k in picked for name in k.files}
        protected = [path for path in changed if path not in editable]
        isolation = limits.isolation or default_isolation()
        results = [
            _KataGrader(repo, kata, sandbox, limits, Path(tmp), isolation).grade(
                fork_point, head, protected
            )
            for kata in picked
        ]
    return {
        "schema_version": SCHEMA_VERSION,
        "base": base,
        "head": head.sha,
        "isolation": isolation,
        "katas": results,
    }


def _snapshot(kata: Kata, holdout: list[Path]) -> dict[str, bytes]:
    """The kata's files at base (and its holdout tests), checked against its seal."""
    from grader.catalogue import pristine

    files = {
        str(path.relative_to(kata.path)): path.read_bytes()
        for path in sorted(kata.path.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    for name, blob in (pristine.read_seal(kata) or {}).items():
        if name in files and pristine.blob_id(files[name]) != blob:
            raise GradeUsageError(
                f"katas/{kata.id}/{name} at the base commit differs from its seal: "
                f"the base is not a shipped version of the kata (`kata seal {kata.id}`)"
            )
    for path in holdout:
        files[path.name] = path.read_bytes()
    return files


def hidden_paths() -> tuple[Path, ...]:
    """What a fully isolated subject must not see even where others may read it: the
    private material of the grader it runs under."""
    return (Path(__file__).resolve().parents[1] / "private",)
