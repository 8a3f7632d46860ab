"""A capstone's faults: which tests belong to which fault, and partial credit.

A capstone (``kind = "capstone"``) plants several interacting faults in a small codebase.
Each fault owns a group of tests that pass only once that fault is fixed, whatever the
state of the others: its visible tests (``[[faults]] tests`` in kata.toml) and its hidden
ones (``grader/private/<id>/holdout/test_<fault>_holdout.py``, the fault's name with
``_`` for ``-``).  A fault counts as fixed when every test of its group that ran passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from grader.catalogue.katas import Kata


def holdout_file(fault: str) -> str:
    """The hidden test file of ``fault``."""
    return f"test_{fault.replace('-', '_')}_holdout.py"


def fault_of(kata: Kata, test_id: str) -> str | None:
    """The fault whose group holds ``test_id`` (``file.py::name``), or None."""
    file_name = test_id.split("::", 1)[0]
    for fault in kata.faults:
        if test_id in fault.tests or file_name == holdout_file(fault.name):
            return fault.name
    return None


def groups(kata: Kata, test_ids: Iterable[str]) -> dict[str, list[str]]:
    """``test_ids`` by fault, in the faults' order (tests of no fault are left out)."""
    found: dict[str, list[str]] = {fault.name: [] for fault in kata.faults}
    for test_id in test_ids:
        name = fault_of(kata, test_id)
        if name is not None:
            found[name].append(test_id)
    return found


def fixed(kata: Kata, outcomes: Mapping[str, str]) -> dict[str, bool]:
    """Per fault: whether it is fixed, given each test's outcome ("passed" or anything
    else).  A fault none of whose tests ran is not fixed."""
    by_fault = groups(kata, outcomes)
    return {
        name: bool(tests) and all(outcomes[t] == "passed" for t in tests)
        for name, tests in by_fault.items()
    }


def fixed_in_report(kata: Kata, tests: list[dict]) -> dict[str, bool]:
    """``fixed`` from a grade report's test entries (status "pass" or not)."""
    return fixed(
        kata, {t["name"]: "passed" if t["status"] == "pass" else t["status"] for t in tests}
    )


def summary(fixed_by_fault: Mapping[str, bool]) -> str:
    """``2 of 4 faults fixed``."""
    return f"{sum(fixed_by_fault.values())} of {len(fixed_by_fault)} faults fixed"
