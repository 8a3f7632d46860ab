"""What the commands share: the console, finding the kata a command names, and the
pieces of output that several commands print (a verdict, a first green, a brief, a hint,
the kata table).

The command modules import this module, never each other or the entry point.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from grader.catalogue.katas import Kata, closest_ids, find_root, kata_ids, load_catalogue, load_kata
from grader.usage import UsageError

STATUS_STYLE = {"green": "green", "in progress": "yellow", "solved": "cyan"}


def escape(text: str) -> str:
    """Text shown as written where rich reads markup (``[bold]``, ``groups[order]``)."""
    from rich.markup import escape as rich_escape

    return rich_escape(str(text))


def console(stderr: bool = False):
    from rich.console import Console

    class KataConsole(Console):
        def on_broken_pipe(self) -> None:
            """`kata list | head`: leave it to ``main``, which stops every command alike."""
            self.quiet = True
            raise BrokenPipeError

    # emoji=False: text is shown as written (":name:" stays), and rich's emoji table
    # (2 ms of every command) is never loaded
    return KataConsole(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)


def catalogue() -> tuple[Path, list[Kata]]:
    root = find_root()
    return root, load_catalogue(root)


def unknown_kata(wanted: str, ids: list[str]) -> UsageError:
    close = closest_ids(wanted, ids)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return UsageError(f"unknown kata {wanted!r}: {hint}`kata list` shows them all")


def current_ids(ids: list[str]) -> list[str]:
    """``ids`` with old (renamed) ids replaced by today's, saying so on stderr."""
    from grader.catalogue.renames import RENAMED, current_id, renamed_note

    for old in dict.fromkeys(wanted for wanted in ids if wanted in RENAMED):
        print(renamed_note(old), file=sys.stderr)
    return [current_id(wanted) for wanted in ids]


def pick(katas: list[Kata], ids: list[str]) -> list[Kata]:
    by_id = {kata.id: kata for kata in katas}
    ids = current_ids(ids)
    for wanted in ids:
        if wanted not in by_id:
            raise unknown_kata(wanted, list(by_id))
    return [by_id[wanted] for wanted in ids]


def one_kata(kata_id: str) -> tuple[Path, Kata]:
    """Load just one kata: a problem in another kata's files does not block this one."""
    root = find_root()
    ids = kata_ids(root)
    [kata_id] = current_ids([kata_id])
    if kata_id not in ids:
        raise unknown_kata(kata_id, ids)
    return root, load_kata(root / "katas" / kata_id)


def kata_in_progress(root: Path) -> str:
    """The kata ``kata test``/``watch``/``hint`` mean when no id is given."""
    from grader.loop import mock, state
    from grader.loop.progress import History, progress

    marker, current = History.read(root).newest_start()
    round_ = mock.latest(root)
    if marker and round_ and round_.marker == marker.sha and not round_.is_open():
        raise UsageError(
            "the mock round is over (`kata mock --summary` shows it): name a kata, "
            "or start one with `kata start ID`"
        )
    if len(current) > 1:  # a mock round: the one not yet green, if only one is left
        katas = [kata for kata in load_catalogue(root) if kata.id in current]
        open_ = [k for k, p in progress(root, katas).items() if p.status != state.GREEN]
        current = open_ if len(open_) == 1 else current
    if len(current) == 1:
        return current[0]
    if current:
        raise UsageError(f"the round has several katas ({', '.join(current)}): name one")
    raise UsageError("no kata in progress: name one, or start one with `kata start ID`")


def target(kata_id: str | None) -> tuple[Path, Kata]:
    """The kata named, or the one in progress."""
    return one_kata(kata_id or kata_in_progress(find_root()))


def kata_rows(root: Path, katas: list[Kata], history=None) -> list[dict]:
    """One row per kata for ``kata list`` (its JSON form too); ``history``: HEAD's
    markers, if the caller read them (``progress``)."""
    from grader.loop.progress import progress

    known = progress(root, katas, history)
    return [
        {
            "id": kata.id,
            "title": kata.title,
            "topic": kata.topic,
            "kind": kata.kind,
            "difficulty": kata.difficulty,
            "budget_minutes": kata.budget_minutes,
            "status": known[kata.id].status,
            "solved": known[kata.id].solved,
            "best_s": known[kata.id].best_s,
            "hints_used": known[kata.id].attempt.hints,
        }
        for kata in katas
    ]


def print_kata_table(out, rows: list[dict]) -> None:
    """The katas as aligned columns, each cell whole on one line.  When the rows do not fit
    the width (80 columns in a pipe or a CI log; long symptom ids), the topic becomes a
    heading above its katas instead of a column (tests/test_cli.py checks the catalogue
    fits).  Laid out by hand rather than with rich's Table: importing and measuring that
    costs ``kata list`` a tenth of its time."""
    from grader.grading.report import format_duration

    header = ("id", "topic", "level", "budget", "status", "best")
    cells = [
        (
            row["id"],
            row["topic"],
            "●" * row["difficulty"] + "○" * (3 - row["difficulty"]),
            f"{row['budget_minutes']} min",
            row["status"],
            format_duration(row["best_s"]),
        )
        for row in rows
    ]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    by_topic = sum(widths) + len(widths) - 1 > out.width
    shown = [i for i in range(len(header)) if not (by_topic and header[i] == "topic")]

    def line(values, status_style: str = "") -> str:
        padded = {i: escape(values[i].ljust(widths[i])) for i in shown}
        if status_style:  # the status cell alone is coloured
            padded[4] = f"[{status_style}]{padded[4]}[/]"
        return " ".join(padded[i] for i in shown).rstrip()

    lines = [
        f"{len(rows)} katas",
        f"[bold]{line(header)}[/]",
        "─" * (sum(widths[i] for i in shown) + len(shown) - 1),
    ]
    topic = None
    for row, values in zip(rows, cells, strict=True):
        if by_topic and row["topic"] != topic:
            topic = row["topic"]
            lines.append(f"[bold]{escape(topic)}[/]")
        lines.append(line(values, STATUS_STYLE.get(row["status"], "")))
    out.print("\n".join(lines))


def humanize(test_id: str) -> str:
    name = test_id.split("::", 1)[-1].removeprefix("test_")
    return name.replace("_", " ")


def print_verdict(out, kata: Kata, run, lines: int = 8, not_run: str | None = None) -> bool:
    """Print each test as passed or failed (with its property sentence); True when green.

    Tests that did not run are shown once, with ``not_run`` (or the load errors) as the
    reason, then counted: when the module does not load, no test says anything new."""
    problems = load_problems(run.collection_errors, kata.path)
    for problem in problems:
        out.print(f"[red]could not load the tests:[/] {escape(problem[0])}")
        for line in problem[1:]:
            out.print(f"    {line}", markup=False)
    if not_run is None:
        not_run = "did not run (see the errors above)" if problems else "did not run"
    failing, missing = 0, []

    def show(test_id: str, indent: str = "  ") -> None:
        nonlocal failing
        result = run.results.get(test_id)
        if result and result.outcome == "passed":
            out.print(f"{indent}[green]✓[/] {escape(humanize(test_id))}")
            return
        failing += 1
        if result is None:
            missing.append(test_id)
            if len(missing) > 1:
                return
        out.print(f"{indent}[red]✗[/] {escape(humanize(test_id))}")
        message = result.message if result else not_run
        shown = message.strip().splitlines() or [result.outcome]
        for line in shown[:lines]:
            out.print(f"{indent}    {line}", markup=False)
        if len(shown) > lines:
            out.print(f"{indent}    … {len(shown) - lines} more lines (--lines N shows more)")

    fixed = _fault_sections(out, kata, run, show) if kata.is_capstone else None
    if fixed is None:
        for test_id in kata.test_ids:
            show(test_id)
    if len(missing) > 1:
        out.print(f"  [red]✗[/] {count(len(missing) - 1, 'more test')} did not run either")
    total = len(kata.test_ids)
    green = failing == 0 and run.exit_code == 0
    if fixed is not None:
        from grader.catalogue.faults import summary

        style = "bold green" if green else "bold yellow" if any(fixed.values()) else "bold red"
        word = "green" if green else "partial" if any(fixed.values()) else "red"
        tests = f"all {total} tests pass" if green else f"{failing} of {total} tests fail"
        out.print(f"[{style}]{word}[/]: {summary(fixed)}; {tests}")
        return green
    if green:
        out.print(f"[bold green]green[/]: all {total} tests pass")
        return True
    out.print(f"[bold red]red[/]: {failing} of {total} tests fail")
    return False


def _fault_sections(out, kata: Kata, run, show) -> dict[str, bool]:
    """A capstone's tests under a heading per fault (fixed or not), then the others;
    returns which faults are fixed."""
    from grader.catalogue.faults import fixed, groups

    outcomes = {t: (r.outcome if (r := run.results.get(t)) else "not run") for t in kata.test_ids}
    done = fixed(kata, outcomes)
    for name, tests in groups(kata, kata.test_ids).items():
        mark = "[green]✓ fixed[/]" if done[name] else "[red]✗ not fixed[/]"
        out.print(f"  fault [bold]{escape(name)}[/]: {mark}")
        for test_id in tests:
            show(test_id, "    ")
    if kata.pass_to_pass:
        out.print("  other tests:")
        for test_id in kata.pass_to_pass:
            show(test_id, "    ")
    return done


_FRAME = re.compile(r"^(?P<file>\S.*?):(?P<line>\d+): in (?P<function>.+)$")


def load_problems(errors: list[str], folder: Path) -> list[list[str]]:
    """Why the tests could not be loaded, each as a headline and a few lines: the frames
    in the kata's own files and the exception, without pytest's and importlib's frames
    (``???``), with paths relative to the kata; the same problem once."""
    prefix = str(folder.resolve()) + os.sep
    problems: list[list[str]] = []
    for error in errors:
        text = error.split(": ", 1)[-1].replace(prefix, "")
        kept, keep_source = [], False
        for line in text.splitlines():
            if line.startswith("E "):
                kept.append(line[1:].removeprefix("   ").rstrip())
                keep_source = False
            elif frame := _FRAME.match(line):
                file = frame["file"]
                keep_source = not (file.startswith(("/", "<")) or "site-packages" in file)
                if keep_source:
                    kept.append(f"{file}, line {frame['line']}, in {frame['function']}")
            elif keep_source and line.startswith(" ") and line.strip() != "???":
                kept.append(line.rstrip())
        problem = kept or text.strip().splitlines()[-3:] or ["(no details)"]
        headline = next((line for line in reversed(problem) if line and line[0] != " "), "")
        problem = [headline, *[line for line in problem if line != headline]]
        if problem not in problems:
            problems.append(problem)
    return problems


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def announce_first_green(out, root: Path, kata: Kata, attempt) -> None:
    """The first green after a start: time, change size next to the reference, commit."""
    from grader.grading.report import format_duration
    from grader.loop import state
    from grader.loop.progress import green_report

    marker = attempt.start.sha if attempt.start else "no start marker"
    elapsed = attempt.elapsed_s()  # one reading of the clock: the time shown is the best set
    if not state.record_green(root, kata.id, marker, elapsed):
        return  # announced before: skip measuring the change again
    report = green_report(root, kata, attempt, elapsed)
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
        f'  commit it: [bold]git commit -m "Fix {kata.id}" {escape(files)}[/], '
        "then push and open a pull request (or `kata grade --base main`)",
        markup=True,
    )
    offer_questions(out, kata)


def show_brief(out, kata: Kata) -> None:
    from rich.markdown import Markdown
    from rich.rule import Rule

    out.print(Rule(f"{kata.id} · {kata.topic} · budget {kata.budget_minutes} min"))
    text = (kata.path / "README.md").read_text()
    if out.is_terminal:  # rendered, code blocks wrapped rather than cut at the edge
        out.print(Markdown(text), soft_wrap=False)
    else:  # a pipe or a log: the markdown as written, no line cut at 80 columns
        out.print(text.rstrip(), markup=False, highlight=False)
    files = escape(", ".join(str(kata.path / f) for f in kata.files))
    out.print(Rule())
    out.print(f"Edit: [bold]{files}[/] (the tests are the contract: leave them as they are).")


def print_sealed_note(out, kata: Kata, command: str) -> None:
    """In a sealed cohort, that ``command`` ran the visible tests only, and why."""
    from grader.grading import sealed

    if sealed.is_sealed(kata):
        out.print(sealed.hidden_tests_note(kata.id, command), markup=False, style="yellow")


def print_hint(out, root: Path, kata: Kata, fault: str | None = None) -> None:
    from grader.loop.progress import next_hint

    number, text, new = next_hint(root, kata, fault)
    total = next((f.hint_count for f in kata.faults if f.name == fault), kata.hint_count)
    about = f" on fault {escape(fault)}" if fault else ""
    if new:
        out.print(
            f"[bold]hint {number}/{total}{about}[/] (recorded: the grade report counts hints)"
        )
    else:
        out.print(f"[bold]all {total} hints{about} used[/]; the last one again:")
    out.print(f"  {text}", markup=False)


def follow_up_questions(kata: Kata) -> tuple:
    """The kata's follow-up questions (empty when it has none); a UsageError saying why
    when they cannot be read (sealed in a cohort, or a malformed file)."""
    from grader.catalogue import questions
    from grader.grading import sealed

    if sealed.is_sealed(kata):
        raise UsageError(sealed.questions_sealed(kata.id))
    try:
        return questions.load(kata.private_dir) or ()
    except questions.QuestionsError as exc:
        raise UsageError(str(exc)) from None


def print_questions(out, kata: Kata, found: tuple, answers: bool) -> None:
    """Numbered questions; each model answer indented below it when ``answers``."""
    from rich.padding import Padding

    for number, item in enumerate(found, 1):
        out.print(f"  {number}. {item.question}", markup=False)
        if answers:
            out.print(Padding(item.answer, (0, 0, 1, 5)), markup=False)
    if not answers:
        out.print(f"  model answers: [bold]kata questions {kata.id} --answers[/]")


def offer_questions(out, kata: Kata) -> None:
    """After a first green or the solution: what the interviewer would ask next (the
    answers only on request).  Says nothing when there are none to show."""
    try:
        found = follow_up_questions(kata)
    except UsageError:
        return
    if found:
        out.print("[bold]The interviewer's follow-up questions[/] (say your answers out loud):")
        print_questions(out, kata, found, answers=False)
