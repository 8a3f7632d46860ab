"""What the commands share: the console, finding the kata a command names, and the
pieces of output that several commands print (a verdict, a first green, a brief, a hint,
the kata table).

The command modules import this module, never each other or the entry point.
"""

from __future__ import annotations

from pathlib import Path

from grader.catalogue.katas import Kata, closest_ids, find_root, kata_ids, load_catalogue, load_kata
from grader.usage import UsageError

STATUS_STYLE = {"green": "green", "in progress": "yellow"}


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def catalogue() -> tuple[Path, list[Kata]]:
    root = find_root()
    return root, load_catalogue(root)


def unknown_kata(wanted: str, ids: list[str]) -> UsageError:
    close = closest_ids(wanted, ids)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return UsageError(f"unknown kata {wanted!r}: {hint}`kata list` shows them all")


def pick(katas: list[Kata], ids: list[str]) -> list[Kata]:
    by_id = {kata.id: kata for kata in katas}
    for wanted in ids:
        if wanted not in by_id:
            raise unknown_kata(wanted, list(by_id))
    return [by_id[wanted] for wanted in ids]


def one_kata(kata_id: str) -> tuple[Path, Kata]:
    """Load just one kata: a problem in another kata's files does not block this one."""
    root = find_root()
    ids = kata_ids(root)
    if kata_id not in ids:
        raise unknown_kata(kata_id, ids)
    return root, load_kata(root / "katas" / kata_id)


def kata_in_progress(root: Path) -> str:
    """The kata ``kata test``/``watch``/``hint`` mean when no id is given."""
    from grader.loop import state
    from grader.loop.progress import History

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


def target(kata_id: str | None) -> tuple[Path, Kata]:
    """The kata named, or the one in progress."""
    return one_kata(kata_id or kata_in_progress(find_root()))


def kata_rows(root: Path, katas: list[Kata]) -> list[dict]:
    """One row per kata for ``kata list`` (its JSON form too)."""
    from grader.loop import state
    from grader.loop.progress import History

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
    return rows


def print_kata_table(out, rows: list[dict]) -> None:
    from rich import box
    from rich.table import Table

    from grader.grading.report import format_duration

    table = Table(title=f"{len(rows)} katas", title_justify="left", box=box.SIMPLE_HEAD)
    # ids are what people type, and statuses are read at a glance: never wrapped
    table.add_column("id", no_wrap=True, min_width=max((len(r["id"]) for r in rows), default=2))
    table.add_column("topic", overflow="fold")
    table.add_column("level", no_wrap=True)
    table.add_column("budget", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("best", no_wrap=True)
    for row in rows:
        style = STATUS_STYLE.get(row["status"], "")
        table.add_row(
            row["id"],
            row["topic"],
            "●" * row["difficulty"] + "○" * (3 - row["difficulty"]),
            f"{row['budget_minutes']} min",
            f"[{style}]{row['status']}[/]" if style else row["status"],
            format_duration(row["best_s"]),
        )
    out.print(table)


def humanize(test_id: str) -> str:
    name = test_id.split("::", 1)[-1].removeprefix("test_")
    return name.replace("_", " ")


def print_verdict(out, kata: Kata, run, lines: int = 8) -> bool:
    """Print each test as passed or failed (with its property sentence); True when green."""
    for error in run.collection_errors:
        out.print(f"[red]could not load the tests:[/] {error.strip()}")
    failing = 0
    for test_id in kata.test_ids:
        result = run.results.get(test_id)
        if result and result.outcome == "passed":
            out.print(f"  [green]✓[/] {humanize(test_id)}")
            continue
        failing += 1
        out.print(f"  [red]✗[/] {humanize(test_id)}")
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


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def announce_first_green(out, root: Path, kata: Kata, attempt) -> None:
    """The first green after a start: time, change size next to the reference, commit."""
    from grader.grading.report import format_duration
    from grader.loop import state
    from grader.loop.progress import green_report

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
        reference = "—" if report.reference_lines is None else count(report.reference_lines, "line")
        out.print(
            f"  your change: {count(report.lines, 'line')} / {count(report.tokens, 'token')}; "
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


def show_brief(out, kata: Kata) -> None:
    from rich.markdown import Markdown
    from rich.rule import Rule

    out.print(Rule(f"{kata.id} · {kata.topic} · budget {kata.budget_minutes} min"))
    out.print(Markdown((kata.path / "README.md").read_text()))
    files = ", ".join(str(kata.path / f) for f in kata.files)
    out.print(Rule())
    out.print(f"Edit: [bold]{files}[/] (the tests are the contract: leave them as they are).")


def print_hint(out, root: Path, kata: Kata) -> None:
    from grader.loop.progress import next_hint

    number, text, new = next_hint(root, kata)
    total = kata.hint_count
    if new:
        out.print(f"[bold]hint {number}/{total}[/] (recorded: the grade report counts hints)")
    else:
        out.print(f"[bold]all {total} hints used[/]; the last one again:")
    out.print(f"  {text}", markup=False)
