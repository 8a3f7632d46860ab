"""``kata validate``: the SWE-bench-style check that a kata is a fair exercise.

A kata is valid when, on a pristine copy of it:
  * with the buggy module every fail-to-pass test fails, every pass-to-pass test passes,
    and the failures are assertion failures (the bug is silent) unless the kata says otherwise;
  * with the reference fix every visible and holdout test passes;
  * each decoy (a plausible wrong fix) fails at least one visible or holdout test;
  * each alternative (a correct fix written differently: a library equivalent, another
    valid algorithm) passes every visible and holdout test, as the reference does;
  * the buggy and the fixed kata give the same verdicts when run again (in separate
    worker processes);
  * for a capstone, each fault's group of tests passes only when that fault is fixed,
    whatever the state of the others: with its fix alone its group passes and every other
    group still fails; with every fix but its own only its group fails; each decoy of a
    fault leaves that fault's group failing.

Runs go to a pool of warm worker processes that import torch once; each worker's
subjects (where the kata's code runs) are forked from one zygote that did the same
(``boundary``).  The pool's results come back pickled, which is safe only because a
worker is trusted: it runs pytest and the tests, never a kata module (those run in
its subjects, which answer over the plain-data wire).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grader.catalogue import faults, patches, pristine
from grader.catalogue.katas import Kata
from grader.grading import diffsize
from grader.grading.runner import WARM_IMPORTS, RunResult, freeze_imported_heap, run_tests

BUGGY = "buggy"
MAX_MESSAGE_LINE = 300
DUMPS = ("tensor(", "array(", "Mismatched elements")
REFERENCE = "reference"
DECOY = "decoy"
ALTERNATIVE = "alternative"
FAULT_ALONE = "fault alone"  # a capstone: one fault's fix applied alone
ALL_BUT = "all but"  # a capstone: every fault's fix but one
# which test caught each decoy first (``kata validate --timings``), so that it runs first:
# private material (a decoy's name is an answer), sealed with it in a cohort
CAUGHT_FILE = "decoys-caught-by.json"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class KataValidation:
    kata_id: str
    checks: list[Check] = field(default_factory=list)
    reference_lines: int | None = None
    decoys_caught_by: dict[str, list[str]] = field(default_factory=dict)
    alternatives_passed: dict[str, bool] = field(default_factory=dict)
    reference_timings: dict[str, float] = field(default_factory=dict)  # slowest run, per test
    runs: list[dict] = field(default_factory=list)  # per variant: kind, runs, tests, seconds
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, ok, detail))

    def as_dict(self) -> dict:
        return {
            "id": self.kata_id,
            "ok": self.ok,
            "reference_lines": self.reference_lines,
            "decoys_caught_by": self.decoys_caught_by,
            "alternatives_passed": self.alternatives_passed,
            "checks": [check.__dict__ for check in self.checks],
            "runs": self.runs,
            "notes": self.notes,
            "seconds": round(self.seconds, 2),
        }


def _warm_worker(preload: tuple[str, ...]) -> None:
    """Pay the import cost once per worker; one thread each so two workers share two cores."""
    import importlib

    for name in preload:
        importlib.import_module(name)
    if "torch" in preload:
        import torch

        torch.set_num_threads(1)
    freeze_imported_heap()


def _run_in_worker(
    folder: str, profile: str, max_failures: int | None, tests: list[str] | None = None
) -> tuple[RunResult, float]:
    """The run's result and its wall time in the worker (subject start and collection too)."""
    started = time.perf_counter()
    result = run_tests(Path(folder), tests, profile=profile, max_failures=max_failures)
    return result, time.perf_counter() - started


def _fault_tests(kata: Kata, fault: str, folder: Path) -> list[str]:
    """The group of ``fault``: its visible tests and its hidden file (see ``faults``)."""
    (visible,) = [f.tests for f in kata.faults if f.name == fault]
    hidden = faults.holdout_file(fault)
    return [*visible, *([hidden] if (folder / hidden).is_file() else [])]


@dataclass
class _Variant:
    name: str  # as checks name it: "buggy", "reference", a decoy's, "alternative <name>"
    kind: str  # BUGGY, REFERENCE, DECOY, ALTERNATIVE, FAULT_ALONE or ALL_BUT
    folder: Path
    fault: str = ""  # FAULT_ALONE, ALL_BUT, a capstone's DECOY: the fault it is about
    futures: list[Future] = field(default_factory=list)


def caught_first_by(kata: Kata) -> dict[str, str]:
    """Each decoy's recorded first catching test (node id); empty when none is recorded."""
    try:
        data = json.loads((kata.private_dir / CAUGHT_FILE).read_text())
    except (OSError, ValueError):
        return {}
    decoys = data.get("decoys") if isinstance(data, dict) else None
    if not isinstance(decoys, dict):
        return {}
    return {str(k): v for k, v in decoys.items() if isinstance(v, str) and "::" in v}


def write_caught_first_by(kata: Kata, caught: dict[str, list[str]]) -> Path:
    path = kata.private_dir / CAUGHT_FILE
    data = {
        "note": "the test that caught each decoy first (kata validate --timings); "
        "validation runs it before the others",
        "decoys": {name: tests[0] for name, tests in sorted(caught.items()) if tests},
    }
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def _decoy_tests(variant: _Variant, group: list[str] | None, first: str | None) -> list[str] | None:
    """What a decoy runs: its fault's group (a capstone's) or every test, the recorded
    first catching test first.  A decoy stops at its first failure, so a record that
    still holds makes it a one-test run; a stale one only costs time."""
    if first is None or not (variant.folder / first.split("::", 1)[0]).is_file():
        return group
    if group is not None and first.split("::", 1)[0] not in group:
        return group  # another fault's test would fail first: the group never ran
    return [first, *(group or ["."])]


def _prepare_variants(kata: Kata, workdir: Path, result: KataValidation) -> list[_Variant]:
    """Pristine copies of the kata: buggy (visible tests), then fixed and decoys (+ holdout)."""
    pristine_dir = workdir / "pristine"
    if not pristine.materialize(kata, pristine_dir):
        result.notes.append(
            f"not sealed: validated the working copy (seal with `kata seal {kata.id}`)"
        )
    elif pristine.is_untouched(kata) is False:
        result.notes.append(
            "working copy differs from the sealed kata: validated the sealed one "
            f"(authors: `kata seal {kata.id}` after editing)"
        )
    private = patches.PrivateMaterial.load(kata)
    result.add(
        "private material",
        not private.problems,
        "; ".join(private.problems)
        or f"{len(private.decoys)} decoys, {len(private.alternatives)} alternatives, "
        f"{len(private.holdout)} holdout",
    )
    variants = [_Variant(BUGGY, BUGGY, pristine_dir)]
    fixes = private.fault_fixes
    named: list[tuple[str, str, list[Path], str]] = [
        (REFERENCE, REFERENCE, [private.reference] if private.reference else [], ""),
        *(
            # a capstone's decoy is named "<fault>/<name>": it is about that fault
            (name, DECOY, [patch], name.split("/", 1)[0] if kata.is_capstone else "")
            for name, patch in sorted(private.decoys.items())
        ),
        *(
            (f"{ALTERNATIVE} {name}", ALTERNATIVE, [patch], "")
            for name, patch in sorted(private.alternatives.items())
        ),
    ]
    if len(fixes) == len(kata.faults):  # a capstone with every fault's fix
        for fault in fixes:
            others = [patch for name, patch in fixes.items() if name != fault]
            named.append((f"fix {fault} alone", FAULT_ALONE, [fixes[fault]], fault))
            named.append((f"every fix but {fault}", ALL_BUT, others, fault))
    for name, kind, patch_list, fault in named:
        if not patch_list:
            continue
        folder = workdir / f"variant-{name.replace(' ', '-').replace('/', '--')}"
        shutil.copytree(pristine_dir, folder)
        for holdout in private.holdout:
            shutil.copy2(holdout, folder / holdout.name)
        problems = [
            applied.stderr.strip()
            for patch in patch_list
            if (applied := patches.apply(patch, folder)).returncode != 0
        ]
        result.add(f"{name} patch applies", not problems, "; ".join(problems))
        if not problems:
            variants.append(_Variant(name, kind, folder, fault))
            if name == REFERENCE:
                result.reference_lines = diffsize.fix_size(pristine_dir, folder, kata.files)
    return variants


def _first_line(result) -> str:
    return result.message.strip().splitlines()[0] if result and result.message.strip() else ""


def _judge(kata: Kata, plan: _Variant, runs: list[RunResult], result: KataValidation) -> None:
    variant = plan.name
    first = runs[0]
    differing = [i + 1 for i, run in enumerate(runs[1:], 1) if run.verdicts() != first.verdicts()]
    if len(runs) > 1:
        result.add(
            f"{variant}: same verdicts on {len(runs)} runs",
            not differing,
            f"run(s) {differing} differ from run 1" if differing else "",
        )
    if first.collection_errors:
        result.add(f"{variant}: tests collect", False, first.collection_errors[0][:500])
        return
    if plan.kind == BUGGY:
        visible = set(kata.test_ids)
        extra = sorted(set(first.results) - visible)
        result.add(
            "buggy: every visible test is declared",
            not extra,
            f"not in kata.toml: {', '.join(extra)}" if extra else "",
        )
        wrong_f2p = [t for t in kata.fail_to_pass if first.outcome(t) != "failed"]
        result.add(
            "buggy: fail-to-pass tests fail",
            not wrong_f2p,
            ", ".join(f"{t} {first.outcome(t)}" for t in wrong_f2p),
        )
        wrong_p2p = [t for t in kata.pass_to_pass if first.outcome(t) != "passed"]
        result.add(
            "buggy: pass-to-pass tests pass",
            not wrong_p2p,
            ", ".join(f"{t} {first.outcome(t)}" for t in wrong_p2p),
        )
        unreadable = [
            f"{t}: {first_line!r}"
            for t in kata.fail_to_pass
            if (first_line := _first_line(first.results.get(t)))
            and (len(first_line) > MAX_MESSAGE_LINE or any(d in first_line for d in DUMPS))
        ] + [
            f"{t}: no message"
            for t in kata.fail_to_pass
            if _first_line(first.results.get(t)) in ("", "AssertionError")
        ]
        if kata.kind != "implementation":  # a stub's failures are NotImplementedError
            result.add(
                "buggy: failures say which property broke (short message, no tensor dump)",
                not unreadable,
                "; ".join(unreadable),
            )
        if kata.silent:
            loud = [
                f"{nodeid} raised {', '.join(sorted(set(r.exceptions) - {'AssertionError'}))}"
                for nodeid, r in first.results.items()
                if r.outcome in ("failed", "error") and set(r.exceptions) - {"AssertionError"}
            ]
            result.add(
                "buggy: the bug is silent (assertion failures only)", not loud, "; ".join(loud)
            )
        return
    not_run = [t for t in kata.test_ids if t not in first.results]
    failing = sorted(nodeid for nodeid, r in first.results.items() if r.outcome != "passed")
    if plan.fault:
        _judge_fault(kata, plan, first, failing, result)
    elif plan.kind == ALTERNATIVE:
        passed = not failing and not not_run and first.exit_code == 0
        result.alternatives_passed[variant.removeprefix(f"{ALTERNATIVE} ")] = passed
        result.add(
            f"{variant}: every visible and holdout test passes",
            passed,
            ", ".join(failing + [f"{t} missing" for t in not_run]),
        )
    elif plan.kind == REFERENCE:
        result.reference_timings = {
            nodeid: max(run.results[nodeid].duration_s for run in runs if nodeid in run.results)
            for nodeid in first.results
        }
        result.add(
            "reference: every visible and holdout test passes",
            not failing and not not_run and first.exit_code == 0,
            ", ".join(failing + [f"{t} missing" for t in not_run]),
        )
    else:
        result.decoys_caught_by[variant] = failing
        result.add(
            f"decoy {variant}: caught",
            bool(failing),
            f"by {', '.join(failing)}" if failing else "every test passes: the tests miss it",
        )


def _judge_fault(
    kata: Kata, plan: _Variant, run: RunResult, failing: list[str], result: KataValidation
) -> None:
    """A capstone's variants about one fault: its fix alone, every fix but its own, a
    decoy of it.  Groups are the faults' visible and hidden tests."""
    by_fault = faults.groups(kata, run.results)
    broken = {name: [t for t in tests if t in failing] for name, tests in by_fault.items()}
    # a decoy's run holds its fault's group alone
    empty = [n for n, tests in by_fault.items() if not tests and plan.kind != DECOY]
    empty += [plan.fault] if not by_fault[plan.fault] else []
    if empty:
        result.add(f"{plan.name}: every fault has tests", False, f"none ran for {empty}")
        return
    own = broken[plan.fault]
    if plan.kind == DECOY:
        result.decoys_caught_by[plan.name] = own
        result.add(
            f"decoy {plan.name}: caught",
            bool(own),
            f"by {', '.join(own)}" if own else f"every test of fault {plan.fault} passes",
        )
        return
    others = {name: tests for name, tests in broken.items() if name != plan.fault}
    p2p = [t for t in kata.pass_to_pass if t in failing]
    if plan.kind == FAULT_ALONE:  # its group passes; every other still fails
        still = [name for name, tests in others.items() if not tests]
        problems = [f"its own tests fail: {', '.join(own)}"] if own else []
        problems += [f"fault {name}'s tests all pass without its fix" for name in still]
    else:  # ALL_BUT: only its group fails
        problems = [] if own else [f"every test of fault {plan.fault} passes without its fix"]
        problems += [
            f"fault {n}'s tests fail with its fix: {', '.join(t)}" for n, t in others.items() if t
        ]
    problems += [f"pass-to-pass fails: {t}" for t in p2p]
    what = "passes alone" if plan.kind == FAULT_ALONE else "fails alone"
    result.add(f"{plan.name}: fault {plan.fault}'s group {what}", not problems, "; ".join(problems))


def validate(
    katas: list[Kata],
    *,
    repeat: int = 2,
    jobs: int | None = None,
    profile: str | None = None,
    preload: tuple[str, ...] = WARM_IMPORTS,
) -> list[KataValidation]:
    """Validate ``katas``; runs from all katas share one pool of warm workers."""
    profile = profile or "grade"
    jobs = jobs or min(len(os.sched_getaffinity(0)), 4)
    results = [KataValidation(kata.id) for kata in katas]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kata-validate-") as tmp:
        plans: list[list[_Variant]] = []
        for kata, result in zip(katas, results, strict=True):
            plans.append(_prepare_variants(kata, Path(tmp) / kata.id, result))
        context = multiprocessing.get_context("spawn")  # torch is not fork-safe
        with ProcessPoolExecutor(
            jobs, mp_context=context, initializer=_warm_worker, initargs=(preload,)
        ) as pool:
            for kata, plan in zip(katas, plans, strict=True):
                recorded = caught_first_by(kata)
                for variant in plan:
                    # Determinism is seen on the kata as shipped and as fixed: only those
                    # two run ``repeat`` times.  A decoy only has to fail once: one run,
                    # stopped at its first failure; a capstone's decoy runs only its
                    # fault's group, which must fail.
                    decoy = variant.kind == DECOY
                    runs = repeat if variant.kind in (BUGGY, REFERENCE) else 1
                    tests = None
                    if decoy:
                        group = (
                            _fault_tests(kata, variant.fault, variant.folder)
                            if variant.fault
                            else None
                        )
                        tests = _decoy_tests(variant, group, recorded.get(variant.name))
                    variant.futures = [
                        pool.submit(
                            _run_in_worker,
                            str(variant.folder),
                            profile,
                            1 if decoy else None,
                            tests,
                        )
                        for _ in range(runs)
                    ]
            for kata, result, plan in zip(katas, results, plans, strict=True):
                for variant in plan:
                    runs, seconds = zip(*(f.result() for f in variant.futures), strict=True)
                    _judge(kata, variant, list(runs), result)
                    result.runs.append(
                        {
                            "variant": variant.name,
                            "kind": variant.kind,
                            "runs": len(runs),
                            "tests": sum(len(run.results) for run in runs),
                            "seconds": round(sum(seconds), 3),
                        }
                    )
                result.seconds = time.perf_counter() - started
    return results
