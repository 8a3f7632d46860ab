"""The ``kata`` command.  A thin shell: gather inputs, call the core, print, exit.

Exit codes: 0 success / green, 1 red or invalid, 2 bad usage or bad catalogue.
Nothing here imports torch at module level, so ``kata list`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grader.catalogue import (
    TOPICS,
    CatalogueError,
    Kata,
    closest_ids,
    find_root,
    kata_ids,
    load_catalogue,
    load_kata,
)
from grader.usage import UsageError

EXIT_OK, EXIT_RED, EXIT_USAGE = 0, 1, 2
_STATUS_STYLE = {"green": "green", "in progress": "yellow"}


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _catalogue() -> tuple[Path, list[Kata]]:
    root = find_root()
    return root, load_catalogue(root)


def _unknown(wanted: str, ids: list[str]) -> UsageError:
    close = closest_ids(wanted, ids)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return UsageError(f"unknown kata {wanted!r}: {hint}`kata list` shows them all")


def _pick(katas: list[Kata], ids: list[str]) -> list[Kata]:
    by_id = {kata.id: kata for kata in katas}
    for wanted in ids:
        if wanted not in by_id:
            raise _unknown(wanted, list(by_id))
    return [by_id[wanted] for wanted in ids]


def _one_kata(kata_id: str) -> tuple[Path, Kata]:
    """Load just one kata: a problem in another kata's files does not block this one."""
    root = find_root()
    ids = kata_ids(root)
    if kata_id not in ids:
        raise _unknown(kata_id, ids)
    return root, load_kata(root / "katas" / kata_id)


def _humanize(test_id: str) -> str:
    name = test_id.split("::", 1)[-1].removeprefix("test_")
    return name.replace("_", " ")


def cmd_list(args: argparse.Namespace) -> int:
    from grader import state
    from grader.progress import History
    from grader.report import format_duration

    root, katas = _catalogue()
    if args.topic:
        katas = [kata for kata in katas if kata.topic == args.topic]
    data, history = state.load(root), History.read(root)
    rows = []
    for kata in katas:
        attempt = history.attempt(kata.id)
        rows.append(
            {
                "id": kata.id,
                "title": kata.title,
                "topic": kata.topic,
                "difficulty": kata.difficulty,
                "budget_minutes": kata.budget_minutes,
                "status": state.status_of(kata, data, attempt.started),
                "best_s": state.best_seconds(data, kata.id),
                "hints_used": attempt.hints,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    from rich import box
    from rich.table import Table

    table = Table(title=f"{len(rows)} katas", title_justify="left", box=box.SIMPLE_HEAD)
    # ids are what people type, and statuses are read at a glance: never wrapped
    table.add_column("id", no_wrap=True, min_width=max((len(r["id"]) for r in rows), default=2))
    table.add_column("topic", overflow="fold")
    table.add_column("level", no_wrap=True)
    table.add_column("budget", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("best", no_wrap=True)
    for row in rows:
        style = _STATUS_STYLE.get(row["status"], "")
        table.add_row(
            row["id"],
            row["topic"],
            "●" * row["difficulty"] + "○" * (3 - row["difficulty"]),
            f"{row['budget_minutes']} min",
            f"[{style}]{row['status']}[/]" if style else row["status"],
            format_duration(row["best_s"]),
        )
    _console().print(table)
    return EXIT_OK


def _kata_in_progress(root: Path) -> str:
    """The kata ``kata test``/``watch``/``hint`` mean when no id is given."""
    from grader import state
    from grader.progress import History

    current = History.read(root).in_progress()
    if len(current) > 1:  # a mock round: the one not yet green, if only one is left
        data = state.load(root)
        katas = {kata.id: kata for kata in load_catalogue(root)}
        open_ = [k for k in current if k in katas and state.status_of(katas[k], data) != "green"]
        current = open_ if len(open_) == 1 else current
    if len(current) == 1:
        return current[0]
    if current:
        raise UsageError(f"the round has several katas ({', '.join(current)}): name one")
    raise UsageError("no kata in progress: name one, or start one with `kata start ID`")


def cmd_test(args: argparse.Namespace) -> int:
    from grader import pristine, state
    from grader.progress import History

    root = find_root()
    kata_id = args.id or _kata_in_progress(root)
    root, kata = _one_kata(kata_id)
    out = _console()
    out.print(f"[bold]{kata.id}[/] — testing {', '.join(kata.files)} …")
    from grader.runner import run_tests

    run = run_tests(kata.path, kata.test_files)
    green = print_verdict(out, kata, run, args.lines)
    state.record_test(root, kata.id, "green" if green else "red", pristine.fingerprint(kata))
    if green:
        announce_first_green(out, root, kata, History.read(root).attempt(kata.id))
    return EXIT_OK if green else EXIT_RED


def print_verdict(out, kata: Kata, run, lines: int = 8) -> bool:
    """Print each test as passed or failed (with its property sentence); True when green."""
    for error in run.collection_errors:
        out.print(f"[red]could not load the tests:[/] {error.strip()}")
    failing = 0
    for test_id in kata.test_ids:
        result = run.results.get(test_id)
        if result and result.outcome == "passed":
            out.print(f"  [green]✓[/] {_humanize(test_id)}")
            continue
        failing += 1
        out.print(f"  [red]✗[/] {_humanize(test_id)}")
        message = result.message if result else "did not run (see the errors above)"
        shown = message.strip().splitlines() or [result.outcome if result else "missing"]
        for line in shown[:lines]:
            out.print(f"      {line}", markup=False)
        if len(shown) > lines:
            out.print(f"      … {len(shown) - lines} more lines (--lines N shows more)")
    total = len(kata.test_ids)
    if failing == 0 and run.exit_code == 0:
        out.print(f"[bold green]green[/]: all {total} tests pass")
        return True
    out.print(f"[bold red]red[/]: {failing} of {total} tests fail")
    return False


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def announce_first_green(out, root: Path, kata: Kata, attempt) -> None:
    """The first green after a start: time, change size next to the reference, commit."""
    from grader import state
    from grader.progress import green_report
    from grader.report import format_duration

    marker = attempt.start.sha if attempt.start else "no start marker"
    if not state.record_green(root, kata.id, marker, attempt.elapsed_s()):
        return  # announced before: skip measuring the change again
    report = green_report(root, kata, attempt)
    if attempt.start is None:
        out.print(f"  no start marker: time not measured (`kata start {kata.id}` starts the clock)")
    else:
        best = state.best_seconds(state.load(root), kata.id)
        out.print(
            f"  time since `kata start`: {format_duration(report.elapsed_s)} "
            f"(budget {kata.budget_minutes} min, personal best {format_duration(best)})"
        )
    if report.lines is not None:
        reference = (
            "—" if report.reference_lines is None else _count(report.reference_lines, "line")
        )
        out.print(
            f"  your change: {_count(report.lines, 'line')} / {_count(report.tokens, 'token')}; "
            f"reference fix: {reference}"
        )
    if attempt.hints or attempt.gave_up:
        given_up = "; you looked at the solution, so the attempt is unranked"
        out.print(f"  hints used: {attempt.hints}{given_up if attempt.gave_up else ''}")
    files = " ".join(str(kata.path / f) for f in kata.files)
    out.print(
        f'  commit it: [bold]git commit -m "Fix {kata.id}" {files}[/], '
        "then push and open a pull request (or `kata grade --base main`)",
        markup=True,
    )


def cmd_validate(args: argparse.Namespace) -> int:
    from grader.validate import validate

    _, katas = _catalogue()
    chosen = _pick(katas, args.ids) if args.ids else katas
    out = _console()
    out.print(f"validating {len(chosen)} kata(s), {args.repeat} run(s) of each variant …")
    profile = "explore" if args.explore else None
    results = validate(chosen, repeat=args.repeat, jobs=args.jobs, profile=profile)
    for result in results:
        mark = "[green]✓[/]" if result.ok else "[red]✗[/]"
        caught = sum(1 for tests in result.decoys_caught_by.values() if tests)
        out.print(
            f"{mark} [bold]{result.kata_id}[/]  reference fix: {result.reference_lines} lines, "
            f"decoys caught: {caught}/{len(result.decoys_caught_by)}"
        )
        for note in result.notes:
            out.print(f"    note: {note}", markup=False)
        for check in result.checks:
            if not check.ok or args.verbose:
                flag = "ok  " if check.ok else "FAIL"
                out.print(f"    {flag} {check.name}: {check.detail}", markup=False)
    if args.json:
        Path(args.json).write_text(json.dumps([r.as_dict() for r in results], indent=2) + "\n")
    bad = [r.kata_id for r in results if not r.ok]
    elapsed = max((r.seconds for r in results), default=0.0)
    summary = f"{len(results) - len(bad)}/{len(results)} valid in {elapsed:.1f} s"
    out.print(f"[bold]{summary}[/]" + (f"; invalid: {', '.join(bad)}" if bad else ""))
    return EXIT_RED if bad else EXIT_OK


def cmd_seal(args: argparse.Namespace) -> int:
    from grader import pristine

    _, katas = _catalogue()
    chosen = katas if args.all else _pick(katas, args.ids)
    if not chosen:
        raise UsageError("name the katas to seal, or pass --all")
    for kata in chosen:
        blobs = pristine.write_seal(kata)
        print(f"sealed {kata.id}: {len(blobs)} files -> {pristine.seal_path(kata)}")
    return EXIT_OK


def cmd_start(args: argparse.Namespace) -> int:
    from grader import state
    from grader.gitdata import START_TRAILER, GitError
    from grader.progress import repo_with_commits, write_marker

    root, kata = _one_kata(args.id)
    if state.status_of(kata, state.load(root)) == "green":
        raise UsageError(
            f"{kata.id} is already green: `kata reset {kata.id}` restores the shipped bug "
            "if you want to do it again"
        )
    try:
        repo = repo_with_commits(root)
        dirty = str(repo.git("status", "--porcelain", "--", str(kata.path))).strip()
        if dirty:
            raise UsageError(
                f"{kata.path} has uncommitted changes: commit or `git stash` them "
                f"(or `kata reset {kata.id}`), then start again"
            )
        write_marker(root, f"Start kata {kata.id}", START_TRAILER, [kata.id])
    except GitError as exc:
        raise UsageError(str(exc)) from None
    out = _console()
    show_brief(out, kata)
    out.print(
        "The clock started at this commit. `kata watch` re-runs the tests on every save; "
        "`kata hint` gives a hint (counted)."
    )
    return EXIT_OK


def show_brief(out, kata: Kata) -> None:
    from rich.markdown import Markdown
    from rich.rule import Rule

    out.print(Rule(f"{kata.id} · {kata.topic} · budget {kata.budget_minutes} min"))
    out.print(Markdown((kata.path / "README.md").read_text()))
    files = ", ".join(str(kata.path / f) for f in kata.files)
    out.print(Rule())
    out.print(f"Edit: [bold]{files}[/] (the tests are the contract: leave them as they are).")


def cmd_grade(args: argparse.Namespace) -> int:
    import os

    from grader import report as reports
    from grader.gitdata import GitError, Repo
    from grader.grade import GradeUsageError, Limits, grade

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
        )
    except (GitError, GradeUsageError) as exc:
        raise UsageError(str(exc)) from None
    summary = reports.markdown(result)
    if args.json:
        reports.write_report(result, Path(args.json))
    else:
        reports.validate_report(result)
    if args.markdown:
        Path(args.markdown).write_text(summary)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for line in reports.annotations(result):
            print(line)
        if step_summary := os.environ.get("GITHUB_STEP_SUMMARY"):
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(summary)
    _print_grade_table(result)
    ok = all(k["status"] == "green" and k["ranked"] for k in result["katas"])
    return EXIT_OK if ok else EXIT_RED


def _print_grade_table(result: dict) -> None:
    from rich import box
    from rich.table import Table

    from grader.report import format_duration

    table = Table(
        title=f"kata grade {result['base'][:10]}..{result['head'][:10]}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),  # fits an 80-column terminal
    )
    table.add_column("kata", no_wrap=True)
    for column in ("status", "tests", "time", "attempts", "hints", "diff", "ref", "ranked"):
        table.add_column(column, no_wrap=True)
    table.caption = "diff: lines / tokens changed; ref: the reference fix's lines"
    for kata in result["katas"]:
        passed = sum(1 for t in kata["tests"] if t["status"] == "pass")
        style = {"green": "green", "red": "red"}.get(kata["status"], "yellow")
        table.add_row(
            kata["id"],
            f"[{style}]{kata['status']}[/]",
            f"{passed}/{len(kata['tests'])}",
            format_duration(kata["time_to_green_s"]),
            str(kata["attempts"]),
            str(kata["hints_used"]),
            f"{kata['diff']['total']} / {kata['diff']['tokens']}",
            str(kata["diff"]["reference_total"]),
            "yes" if kata["ranked"] else "no",
        )
    out = _console()
    out.print(table)
    for kata in result["katas"]:
        out.print(f"{kata['id']}: {kata['message']}", markup=False)
        for reason in kata["unranked_reasons"] + kata["notes"]:
            out.print(f"  - {reason}", markup=False)
        for test in kata["tests"]:
            if test["status"] != "pass":
                first = (test["message"].strip().splitlines() or [""])[0]
                out.print(f"  ✗ {test['name']}: {first}", markup=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kata",
        description="Practise the ML debugging interview: find and fix the silent bug in a kata.",
        epilog="Exit status: 0 green/ok, 1 red/invalid, 2 bad usage. "
        "The catalogue is the katas/ folder of the repository you run in ($KATA_ROOT overrides).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="the katas with topic, difficulty, time budget and status")
    p.add_argument("--topic", choices=TOPICS, help="only this topic")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("test", help="run a kata's visible tests (exit 0 green, 1 red)")
    p.add_argument("id", nargs="?", help="kata id (default: the kata in progress)")
    p.add_argument("--lines", type=int, default=8, help="message lines shown per failing test")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser(
        "validate",
        help="check katas are fair: bug fails, reference fix passes, decoys are caught",
        description="Check each kata on a pristine copy: fail-to-pass tests fail and "
        "pass-to-pass tests pass on the buggy module, with assertion failures only; "
        "the reference fix passes all visible and holdout tests; every decoy fails at "
        "least one; verdicts repeat identically.",
    )
    p.add_argument("ids", nargs="*", metavar="ID", help="katas to validate (default: all)")
    p.add_argument(
        "--repeat", type=int, default=2, help="runs of the buggy and of the fixed kata (default 2)"
    )
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    p.add_argument(
        "--explore",
        action="store_true",
        help="authors: random hypothesis examples (profile 'explore') instead of derandomized",
    )
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="show passing checks too")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("start", help="start a kata: commit the start marker the grader times from")
    p.add_argument("id", help="kata id, as shown by `kata list`")
    p.set_defaults(func=cmd_start)

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
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser(
        "seal", help="authors: record a kata's files as its pristine (shipped) version"
    )
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="seal every kata")
    p.set_defaults(func=cmd_seal)

    from grader import cli_authoring, cli_loop, cli_publish

    cli_loop.add_commands(sub)
    cli_publish.add_commands(sub)
    cli_authoring.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"kata: {exc}", file=sys.stderr)
    except CatalogueError as exc:
        print("kata: the catalogue has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
