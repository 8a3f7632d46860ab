"""A capstone's change, fault by fault: the lines a diff changes, attributed to the faults
whose fixes touch the same functions.

Each fault's fix (``grader/private/<id>/faults/<fault>.patch``) changes some functions of
the shipped code; the lines a candidate changed inside those functions count for that
fault, the rest as "elsewhere".  Blank and comment-only lines are left out, as
``diffsize`` leaves them out, but a trailing comment counts here: the figures are for
comparison with the fault's own fix, not an exact split of the total.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from difflib import SequenceMatcher
from pathlib import Path

from grader.catalogue import faults
from grader.catalogue.katas import Kata
from grader.grading.gitdata import Commit

ELSEWHERE = "elsewhere"

Region = tuple[str, str]  # (file, qualified function name or "<module>")


def _spans(source: str) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function, outermost first."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                if not isinstance(child, ast.ClassDef):
                    spans.append((first, child.end_lineno or child.lineno, name))
                visit(child, f"{name}.")

    visit(tree, "")
    return spans


def _region(spans: list[tuple[int, int, str]], line: int) -> str:
    inside = [s for s in spans if s[0] <= line <= s[1]]
    return inside[-1][2] if inside else "<module>"


def _code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line without whitespace) of each line holding code."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        squeezed = "".join(line.split())
        if squeezed and not squeezed.startswith("#"):
            found.append((number, squeezed))
    return found


def changed_lines(
    before: Mapping[str, str | None], after: Mapping[str, str | None]
) -> dict[Region, int]:
    """Lines removed + added per region of ``before`` (insertions count for the region of
    the line they follow)."""
    counts: dict[Region, int] = {}
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path) or "", after.get(path) or ""
        if old == new:
            continue
        spans = _spans(old)
        a, b = _code_lines(old), _code_lines(new)
        matcher = SequenceMatcher(None, [s for _, s in a], [s for _, s in b], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            # lines removed or replaced: where the first of them was; an insertion: after
            # the line before it
            anchor = a[i1][0] if i2 > i1 else (a[i1 - 1][0] if i1 else 1)
            region = (path, _region(spans, anchor))
            counts[region] = counts.get(region, 0) + (i2 - i1) + (j2 - j1)
    return counts


def by_fault(
    candidate: Mapping[Region, int], fixes: Mapping[str, Mapping[Region, int]]
) -> dict[str, int]:
    """The candidate's changed lines per fault (the regions its fix touches; a region two
    fixes touch counts for the first), the rest under ``ELSEWHERE``."""
    owner: dict[Region, str] = {}
    for fault, regions in fixes.items():
        for region in regions:
            owner.setdefault(region, fault)
    counts = {fault: 0 for fault in fixes} | {ELSEWHERE: 0}
    for region, lines in candidate.items():
        counts[owner.get(region, ELSEWHERE)] += lines
    return counts


def fix_regions(kata: Kata, tmp: Path) -> dict[str, tuple[dict[Region, int], int]]:
    """Per fault of a capstone: the regions of the shipped code its fix changes, and the
    lines it changes ({} for a fault whose fix is missing or does not apply)."""
    import shutil

    from grader.catalogue import patches, pristine

    shipped = tmp / f"{kata.id}-shipped"
    pristine.materialize(kata, shipped)  # the working copy when not sealed
    read = {name: (shipped / name).read_text() for name in kata.files}
    found = {}
    for fault in kata.faults:
        patch = kata.private_dir / "faults" / f"{fault.name}.patch"
        fixed = tmp / f"{kata.id}-fault-{fault.name}"
        shutil.copytree(shipped, fixed)
        if not patch.is_file() or patches.apply(patch, fixed).returncode != 0:
            continue
        regions = changed_lines(read, {n: (fixed / n).read_text() for n in kata.files})
        found[fault.name] = (regions, sum(regions.values()))
    return found


def fault_entries(
    kata: Kata,
    tests: list[dict],
    first_fixed: Mapping[str, Commit],
    start: Commit | None,
    regions: Mapping[str, tuple[dict[Region, int], int]],
    before: Mapping[str, str | None],
    after: Mapping[str, str | None],
) -> list[dict]:
    """A capstone's faults as the grade report and the comment show them: fixed (every
    test of its group passed, from ``tests``, a report's entries), its tests, when it was
    first fixed (``first_fixed``, timed from ``start``), and the lines ``before`` ->
    ``after`` changed in the functions its own fix touches (``regions``, ``fix_regions``)
    next to that fix's."""
    fixed = faults.fixed_in_report(kata, tests)
    mine = by_fault(changed_lines(before, after), {n: r for n, (r, _) in regions.items()})
    groups = faults.groups(kata, [t["name"] for t in tests])
    passed = {t["name"] for t in tests if t["status"] == "pass"}
    entries = []
    for name, ok in fixed.items():
        commit = first_fixed.get(name) if ok else None
        seconds = commit.time - start.time if commit and start else None
        entries.append(
            {
                "name": name,
                "fixed": ok,
                "tests_passed": sum(t in passed for t in groups[name]),
                "tests_total": len(groups[name]),
                "fixed_commit": commit.sha if commit else None,
                "time_to_fixed_s": seconds if seconds is None or seconds >= 0 else None,
                "diff_lines": mine[name] if regions else None,
                "reference_lines": regions[name][1] if name in regions else None,
            }
        )
    return entries
