"""``kata grade``: what CI runs on a pull request, runnable locally."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from grader.cli import present
from grader.usage import EXIT_OK, EXIT_RED, UsageError

if TYPE_CHECKING:
    from rich.console import Console


def cmd_grade(args: argparse.Namespace) -> int:
    import os

    from grader.grading import report as reports
    from grader.grading.gitdata import GitError, Repo
    from grader.grading.grade import GradeUsageError, Limits, grade

    _prepare_output()
    try:
        repo = Repo.discover(Path(args.repo))
        result = grade(
            repo,
            args.base,
            args.head,
            args.kata or None,
            limits=Limits(
                test_timeout_s=args.test_timeout,
                run_timeout_s=args.run_timeout,
                total_timeout_s=args.total_timeout,
            ),
            private=Path(args.private) if args.private else None,
        )
    except GradeUsageError as exc:
        unseen = _uncommitted(repo, args.head).items()
        raise UsageError(
            f"{exc}{''.join(_commit_first(k, paths) for k, paths in unseen)}"
        ) from None
    except GitError as exc:
        raise UsageError(str(exc)) from None
    summary = reports.markdown(result)
    if args.json:
        reports.write_report(result, Path(args.json))
    else:
        reports.validate_report(result)
    if args.markdown:
        Path(args.markdown).write_text(summary)
    in_actions = os.environ.get("GITHUB_ACTIONS") == "true"
    if in_actions:
        for line in reports.annotations(result):
            print(line)
        if step_summary := os.environ.get("GITHUB_STEP_SUMMARY"):
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(summary)
        # every candidate string escaped, and the whole table checked line by line: no
        # line of it is ever a workflow command
        out = present.console()
        with out.capture() as captured:
            _print_grade_table(result, reports.log_safe, out)
        print(reports.command_safe(captured.get()), end="")
    else:
        _print_grade_table(result, str, present.console())
    graded = {kata["id"] for kata in result["katas"]}
    for kata_id in _uncommitted(repo, args.head):
        what = "graded as committed, without them" if kata_id in graded else "not graded"
        note = f"note: katas/{kata_id} has uncommitted changes: {what} (kata grade reads commits)"
        print(reports.command_safe(reports.log_safe(note)) if in_actions else note)
    ok = all(k["status"] == "green" and k["ranked"] for k in result["katas"])
    return EXIT_OK if ok else EXIT_RED


def _prepare_output() -> None:
    """Import what the report's check and the table need (about 0.15 s) in a thread,
    while the grader waits for the tests, not after them."""
    import threading

    def prepare() -> None:
        from grader.grading import report

        report._validator(report.SCHEMA_PATH)
        import rich.console  # noqa: F401

    threading.Thread(target=prepare, daemon=True).start()


def _uncommitted(repo, head: str) -> dict[str, list[str]]:
    """Kata files with changes git tracks but HEAD does not hold yet, by kata id (none
    when grading another commit than HEAD: the work tree is not its future)."""
    from grader.grading.gitdata import GitError

    if head != "HEAD":
        return {}
    try:
        status = str(repo.git("status", "--porcelain", "--untracked-files=no", "--", "katas"))
    except GitError:
        return {}
    found: dict[str, list[str]] = {}
    for line in status.splitlines():
        path = line[3:].split(" -> ")[-1]
        parts = path.split("/")
        if len(parts) > 2:
            found.setdefault(parts[1], []).append(path)
    return found


def _commit_first(kata_id: str, paths: list[str]) -> str:
    return (
        f"; katas/{kata_id} has uncommitted changes, and kata grade reads commits only: "
        f'commit them (git commit -m "Fix {kata_id}" {" ".join(paths)}), then grade again'
    )


KATA_COLUMN = 26  # a line of an id ends at a hyphen: 27 wide; the table then fits 80 columns


def _broken_at_hyphens(kata_id: str, width: int) -> str:
    """A long (symptom) id on as many lines as it needs, each ending at a hyphen."""
    lines = [""]
    for part in kata_id.split("-"):
        piece = part if not lines[-1] else f"-{part}"
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines[-1] += "-"
            lines.append(part)
        else:
            lines[-1] += piece
    return "\n".join(lines)


def _print_grade_table(result: dict, safe: Callable[[str], str], out: Console) -> None:
    from rich import box
    from rich.table import Table

    from grader.grading.report import fault_rows, faults_fixed, format_duration

    # Whole at 80 columns (a pipe, a CI log) with the longest kata id: one space between
    # columns, no outer edge, and "tries" for attempts, spelled out in the caption.
    table = Table(
        title=f"kata grade {result['base'][:10]}..{result['head'][:10]}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=0,  # the box already puts one space between columns
    )
    for column in ("kata", "status", "tests", "time", "tries", "hints", "diff", "ref", "ranked"):
        table.add_column(column, no_wrap=True)
    for kata in result["katas"]:
        passed = sum(1 for t in kata["tests"] if t["status"] == "pass")
        style = {"green": "green", "red": "red"}.get(kata["status"], "yellow")
        score = faults_fixed(kata)
        status = f"{score[0]}/{score[1]}" if score and kata["status"] == "red" else kata["status"]
        if score and score[0] and kata["status"] == "red":
            style = "yellow"
        table.add_row(
            _broken_at_hyphens(kata["id"], KATA_COLUMN),
            f"[{style}]{status}[/]",
            f"{passed}/{len(kata['tests'])}",
            format_duration(kata["time_to_green_s"]),
            str(kata["attempts"]),
            str(kata["hints_used"]),
            f"{kata['diff']['total']} / {kata['diff']['tokens']}",
            str(kata["diff"]["reference_total"]),
            "yes" if kata["ranked"] else "no",
        )
    out.print(table)
    out.print("tries: commits that change the kata's files until green (attempts)", style="dim")
    out.print("diff: lines / tokens changed; ref: the reference fix's lines", style="dim")
    if any(faults_fixed(kata) for kata in result["katas"]):
        out.print("status n/m: a capstone with n of its m faults fixed", style="dim")
    for kata in result["katas"]:
        out.print(f"{kata['id']}: {safe(kata['message'])}", markup=False)
        if score := faults_fixed(kata):
            out.print(f"  {score[0]} of {score[1]} faults fixed:", markup=False)
            for name, fixed, tests, took, lines in fault_rows(kata):
                out.print(
                    f"    {fixed:<11} {safe(name)}  tests {tests}  time {took}  "
                    f"lines {lines} (its fix)",
                    markup=False,
                )
        for reason in kata["unranked_reasons"] + kata["notes"]:
            out.print(f"  - {safe(reason)}", markup=False)
        for test in kata["tests"]:
            if test["status"] != "pass":
                first = (test["message"].strip().splitlines() or [""])[0]
                out.print(f"  ✗ {safe(test['name'])}: {safe(first)}", markup=False)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "grade",
        help="grade the commits of BASE..HEAD with tests from BASE (what CI runs on a PR)",
        description="Grade each kata touched by BASE..HEAD (or those named with --kata). "
        "Tests, test configuration and hidden tests come from BASE only; only the kata's "
        "editable files come from your commits. Changes to anything else, or suspicious "
        "code, make the result unranked. Exit 0 when every graded kata is green and "
        "ranked, 1 otherwise, 2 on bad usage.",
    )
    p.add_argument("--base", required=True, help="the commit to trust (e.g. origin/main)")
    p.add_argument(
        "--repo",
        default=".",
        help="the git repository to grade (default: the current directory); CI points this "
        "at a checkout of the pull request so the grader itself never runs from it",
    )
    p.add_argument("--head", default="HEAD", help="the last commit to grade (default HEAD)")
    p.add_argument("--kata", action="append", metavar="ID", help="grade this kata (repeatable)")
    p.add_argument("--json", metavar="PATH", help="write the report (schema-checked JSON)")
    p.add_argument("--markdown", metavar="PATH", help="write a markdown summary")
    p.add_argument("--test-timeout", type=float, default=10.0, help="seconds per test (10)")
    p.add_argument("--run-timeout", type=float, default=180.0, help="seconds per run (180)")
    p.add_argument(
        "--total-timeout",
        type=float,
        default=1200.0,
        help="seconds spent looking for the first green commit (1200)",
    )
    p.add_argument(
        "--private",
        metavar="DIR",
        help="cohorts: take the private material (hidden tests, reference) from this trusted "
        "folder, e.g. grader/private of a checkout unsealed with `kata cohort unseal`",
    )
    p.set_defaults(func=cmd_grade)
