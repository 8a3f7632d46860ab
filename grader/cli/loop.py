"""The candidate's loop: list, test, start, watch, hint, solution, reset, status, mock.

Hints and give-ups are marker commits (``Kata-Hint``/``Kata-Give-Up`` trailers), so the
grader counts what the terminal showed; verdicts and personal bests live in
``.kata/state.json``.  Nothing here imports torch: only ``watch``'s workers do.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from grader.catalogue.katas import TOPICS, Kata, find_root, load_catalogue
from grader.cli import present
from grader.usage import EXIT_OK, EXIT_RED, UsageError

DEFAULT_MOCK_MINUTES = 45


def cmd_list(args: argparse.Namespace) -> int:
    from grader.loop.progress import History

    root = find_root()
    history = History.read_in_background(root)  # git runs while the catalogue is read
    katas = load_catalogue(root)
    if args.topic:
        katas = [kata for kata in katas if kata.topic == args.topic]
    out = None if args.json else present.console()
    rows = present.kata_rows(root, katas, history())
    if out is None:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    present.print_kata_table(out, rows)
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    from grader.catalogue import pristine
    from grader.loop import state
    from grader.loop.progress import History

    root = find_root()
    kata_id = args.id or present.kata_in_progress(root)
    root, kata = present.one_kata(kata_id)
    out = present.console()
    out.print(f"[bold]{kata.id}[/] — testing {present.escape(', '.join(kata.files))} …")
    from grader.grading import timeouts
    from grader.grading.runner import run_tests

    reference = timeouts.reference_timings(kata)
    run = run_tests(
        kata.path,
        kata.test_files,
        test_timeout_s=timeouts.FLOOR_S,
        test_timeouts=timeouts.per_test(reference),
        reference_s=reference,
    )
    green = present.print_verdict(out, kata, run, args.lines)
    present.print_sealed_note(out, kata, "kata test")
    state.record_test(root, kata.id, "green" if green else "red", pristine.fingerprint(kata))
    if green:
        present.announce_first_green(out, root, kata, History.read(root).attempt(kata.id))
    return EXIT_OK if green else EXIT_RED


def cmd_start(args: argparse.Namespace) -> int:
    from grader.grading.gitdata import START_TRAILER, GitError
    from grader.loop.progress import progress, repo_with_commits, write_marker

    root, kata = present.one_kata(args.id)
    if progress(root, [kata])[kata.id].status == "green":
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
    out = present.console()
    present.show_brief(out, kata)
    out.print(
        "The clock started at this commit. `kata watch` re-runs the tests on every save; "
        "`kata hint` gives a hint (counted)."
    )
    return EXIT_OK


def cmd_hint(args: argparse.Namespace) -> int:
    root, kata = present.target(args.id)
    present.print_hint(present.console(), root, kata, args.fault)
    return 0


def cmd_solution(args: argparse.Namespace) -> int:
    from rich.syntax import Syntax

    from grader.catalogue import patches
    from grader.grading.gitdata import GIVE_UP_TRAILER, GitError
    from grader.loop.progress import progress, write_marker

    root, kata = present.one_kata(args.id)
    patch = kata.private_dir / "reference.patch"
    if not patch.is_file():
        from grader.grading import sealed

        if sealed.is_sealed(kata):
            raise UsageError(sealed.solution_sealed(kata.id))
        raise UsageError(f"{kata.id} has no reference fix ({patch} is missing)")
    out = present.console()
    if not progress(root, [kata])[kata.id].solution_is_free:
        if not args.give_up:
            raise UsageError(
                f"{kata.id} is not green yet (as of your last `kata test`): solve it first, "
                f"or `kata solution {kata.id} --give-up` (recorded in git; the attempt is "
                "then unranked)"
            )
        try:
            write_marker(root, f"Give up kata {kata.id}", GIVE_UP_TRAILER, [kata.id])
        except GitError as exc:
            raise UsageError(str(exc)) from None
        out.print("[yellow]recorded: you gave up on this attempt; it is unranked[/]")
    text = patch.read_text()
    cause = patches.description(text).removeprefix("Fix:").strip()
    out.print("[bold]Root cause[/]: " + present.escape(cause))
    out.print(Syntax(text[text.index("--- ") :], "diff", theme="ansi_dark"))
    present.offer_questions(out, kata)
    return 0


def cmd_questions(args: argparse.Namespace) -> int:
    from grader.loop.progress import progress

    root, kata = present.target(args.id)
    known = progress(root, [kata])[kata.id]
    if not (known.solution_is_free or known.attempt.gave_up):
        raise UsageError(
            f"{kata.id} is not green yet (as of your last `kata test`): its follow-up "
            "questions name the bug, so they come after the fix (or after "
            f"`kata solution {kata.id} --give-up`)"
        )
    found = present.follow_up_questions(kata)
    if not found:
        raise UsageError(f"{kata.id} has no follow-up questions yet")
    out = present.console()
    out.print(f"[bold]{kata.id}[/]: the interviewer's follow-up questions")
    present.print_questions(out, kata, found, answers=args.answers)
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    from grader.catalogue import pristine

    root, kata = present.one_kata(args.id)
    seal = pristine.read_seal(kata)
    if seal is None:
        raise UsageError(f"{kata.id} is not sealed, so there is no shipped version to restore")
    current = pristine.current_blobs(kata, list(seal))
    changed = [name for name, blob in seal.items() if current[name] != blob]
    out = present.console()
    if not changed:
        out.print(f"{kata.id} is already as shipped; nothing to reset")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("reset asks for confirmation: pass --yes to skip it")
        answer = input(f"Restore {', '.join(changed)} in {kata.path} to as shipped? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            out.print("nothing changed")
            return 1
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    backup = root / ".kata" / "backups" / f"{kata.id}-{stamp}"
    for name in changed:
        if (kata.path / name).is_file():
            (backup / name).parent.mkdir(parents=True, exist_ok=True)
            (backup / name).write_bytes((kata.path / name).read_bytes())
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kata-reset-") as tmp:
        pristine.materialize(kata, Path(tmp))
        for name in changed:
            (kata.path / name).parent.mkdir(parents=True, exist_ok=True)
            (kata.path / name).write_bytes((Path(tmp) / name).read_bytes())
    out.print(f"restored {', '.join(changed)}; your versions are kept in {backup}")
    out.print(f"`kata start {kata.id}` starts a new attempt (a new clock)")
    return 0


def topic_progress(root: Path, katas: list[Kata]) -> list[dict]:
    from grader.loop.progress import progress

    known = progress(root, katas)
    rows = []
    for topic in TOPICS:
        members = [known[k.id] for k in katas if k.topic == topic]
        if not members:
            continue
        rows.append(
            {
                "topic": topic,
                "solved": sum(1 for p in members if p.solved),
                "total": len(members),
                "in_progress": sum(1 for p in members if p.status == "in progress"),
                "best_s": {p.kata_id: p.best_s for p in members if p.best_s is not None},
            }
        )
    return rows


def _bar(done: int, total: int, width: int = 10) -> str:
    filled = round(width * done / total) if total else 0
    return "█" * filled + "░" * (width - filled)


def cmd_status(args: argparse.Namespace) -> int:
    from grader.grading.report import format_duration

    root = find_root()
    katas = load_catalogue(root)
    rows = topic_progress(root, katas)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    out = present.console()
    solved = sum(r["solved"] for r in rows)
    out.print(f"[bold]{solved}/{len(katas)} katas solved[/]")
    width = max(len(r["topic"]) for r in rows)
    for row in rows:
        bests = ", ".join(f"{k} {format_duration(v)}" for k, v in sorted(row["best_s"].items()))
        pending = f", {row['in_progress']} in progress" if row["in_progress"] else ""
        out.print(
            f"  {row['topic']:<{width}}  {_bar(row['solved'], row['total'])} "
            f"{row['solved']}/{row['total']}{pending}" + (f"  best: {bests}" if bests else ""),
            markup=False,
        )
    weakest = [r["topic"] for r in rows if r["solved"] == 0]
    if weakest:
        out.print(f"Nothing solved yet in: {', '.join(weakest)} (`kata list --topic TOPIC`)")
    return 0


def pick_mock(katas: list[Kata], known: dict, minutes: int, topics: list[str], rng) -> list[Kata]:
    """Two or three katas from different topics that fit in ``minutes``: never one green
    here; untouched first, then the others not solved, then solved ones again."""
    pool = [k for k in katas if (not topics or k.topic in topics) and known[k.id].status != "green"]
    rng.shuffle(pool)
    pool.sort(key=lambda k: (known[k.id].solved, known[k.id].status != "untouched"))  # stable
    chosen: list[Kata] = []
    for kata in pool:
        used = sum(k.budget_minutes for k in chosen)
        if len(chosen) == 3 or any(k.topic == kata.topic for k in chosen):
            continue
        if used + kata.budget_minutes <= minutes:
            chosen.append(kata)
    return chosen


def _candidates(pool: list[Kata], known: dict, rng) -> list[Kata]:
    """``pool`` shuffled, then untouched first, then the others not solved, then solved."""
    pool = [k for k in pool if known[k.id].status != "green"]
    rng.shuffle(pool)
    pool.sort(key=lambda k: (known[k.id].solved, known[k.id].status != "untouched"))  # stable
    return pool


def pick_round(
    katas: list[Kata], known: dict, fmt: str, minutes: int | None, topics: list[str], rng
) -> tuple[list[Kata], int]:
    """The round's katas and its length in minutes.  ``interview``: one implementation
    kata and one debugging kata, as the real round pairs them; ``capstone``: one capstone;
    ``katas``: two or three debugging katas of different topics.  The length is the
    budgets summed unless ``minutes`` is given (``katas``: 45 by default)."""
    pool = [k for k in katas if not topics or k.topic in topics]
    if fmt == "katas":
        bugs = [k for k in pool if k.kind == "bug"]
        length = minutes or DEFAULT_MOCK_MINUTES
        return pick_mock(bugs, known, length, [], rng), length
    if fmt == "capstone":
        chosen = _candidates([k for k in pool if k.is_capstone], known, rng)[:1]
    else:
        implement = _candidates([k for k in pool if k.kind == "implementation"], known, rng)
        debug = _candidates([k for k in pool if k.kind == "bug"], known, rng)
        chosen = [*implement[:1], *debug[:1]] if implement and debug else []
    budget = sum(k.budget_minutes for k in chosen)
    length = minutes or budget
    return (chosen, length) if budget <= length else ([], length)


def cmd_mock(args: argparse.Namespace) -> int:
    from grader.grading.gitdata import START_TRAILER, GitError
    from grader.loop import state
    from grader.loop.progress import progress, repo_with_commits, write_marker

    root = find_root()
    if args.summary:
        return print_round_summary(present.console(), root)
    katas = load_catalogue(root)
    unknown = [t for t in args.topics or [] if t not in TOPICS]
    if unknown:
        raise UsageError(f"unknown topic {unknown[0]!r}: choose from {', '.join(TOPICS)}")
    known = progress(root, katas)
    try:
        repo = repo_with_commits(root)
        dirty = {
            k.id for k in katas if str(repo.git("status", "--porcelain", "--", str(k.path))).strip()
        }
    except GitError as exc:
        raise UsageError(str(exc)) from None
    clean = [k for k in katas if k.id not in dirty]
    rng = random.Random(args.seed)
    fmt = args.format or (
        "interview" if {"implementation", "bug"} <= {k.kind for k in clean} else "katas"
    )
    chosen, args.minutes = pick_round(clean, known, fmt, args.minutes, args.topics or [], rng)
    if not chosen or (fmt == "katas" and len(chosen) < 2):
        wanted = {
            "katas": "two debugging katas from different topics",
            "interview": "an implementation kata and a debugging kata",
            "capstone": "a capstone",
        }[fmt]
        raise UsageError(
            f"cannot pick {wanted} within {args.minutes} min among the ones not green "
            "and without uncommitted changes: allow more minutes or topics, or `kata reset` "
            "a solved kata"
        )
    ids = [k.id for k in chosen]
    if not args.no_watch and state.watch_running(root):
        raise UsageError(
            "another `kata watch` is running in this copy: quit it (q) first, or start the "
            "round with --no-watch and watch it there"
        )
    try:
        marker = write_marker(root, f"Start mock round ({args.minutes} min)", START_TRAILER, ids)
    except GitError as exc:
        raise UsageError(str(exc)) from None
    from grader.loop import mock

    round_ = mock.start(root, ids, args.minutes, marker)
    out = present.console()
    out.print(f"[bold]Mock round: {present.count(len(ids), 'kata')}, {args.minutes} minutes[/]")
    for kata in chosen:
        present.show_brief(out, kata)
    if args.no_watch:
        out.print("`kata watch` shows the countdown; `kata mock --summary` ends the round")
        return 0
    from grader.cli.watch import watch

    watch(root, chosen, deadline=round_.deadline, poll=args.poll)
    return print_round_summary(out, root)


def print_round_summary(out, root: Path) -> int:
    """The round's summary; a round that is over is closed first, and from then on its
    summary is the same every time."""
    from grader.grading.report import format_duration
    from grader.loop import mock

    round_ = mock.settle(root)
    if round_ is None:
        raise UsageError("no mock round yet: `kata mock` starts one")
    elapsed = format_duration(round_.elapsed_s())
    out.print(f"[bold]Mock round[/]: {elapsed} of {round_.minutes} min")
    results = mock.results(root, round_)
    for result in results:
        mark = "[green]green[/]" if result.green else "[red]not green[/]"
        took = format_duration(result.seconds)
        out.print(f"  {result.kata_id}: {mark}, time {took}, hints {result.hints}")
    greens = sum(result.green for result in results)
    out.print(f"{greens}/{len(results)} green")
    if round_.reason:
        out.print(f"round over: {round_.reason}")
    else:
        out.print(f"the round goes on: {_left(round_.deadline)} (`kata watch` counts down)")
    return 0 if greens == len(results) else 1


def _left(deadline: float) -> str:
    seconds = max(0, int(deadline - time.time()))
    return f"{seconds // 60}:{seconds % 60:02d} left"


def cmd_watch(args: argparse.Namespace) -> int:
    from grader.cli.watch import watch
    from grader.loop import mock

    root = find_root()
    round_ = mock.settle(root)  # a round that is over is closed here, never resumed
    if args.id:
        chosen = [present.one_kata(args.id)[1]]
    elif round_ and round_.is_open():
        katas = {k.id: k for k in load_catalogue(root)}
        chosen = [katas[k] for k in round_.katas if k in katas]
    else:
        round_ = None
        chosen = [present.one_kata(present.kata_in_progress(root))[1]]
    deadline = round_.deadline if round_ and not args.id else None
    watch(
        root,
        chosen,
        deadline=deadline,
        poll=args.poll,
        lines=args.lines,
        test_timeout_s=args.test_timeout,
    )
    if deadline is not None:
        return print_round_summary(present.console(), root)
    return 0


def add_first_commands(sub: argparse._SubParsersAction) -> None:
    """``list`` and ``test``: the first commands ``kata --help`` shows."""
    p = sub.add_parser("list", help="the katas with topic, difficulty, time budget and status")
    p.add_argument("--topic", choices=TOPICS, help="only this topic")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("test", help="run a kata's visible tests (exit 0 green, 1 red)")
    p.add_argument("id", nargs="?", help="kata id (default: the kata in progress)")
    p.add_argument("--lines", type=int, default=8, help="message lines shown per failing test")
    p.set_defaults(func=cmd_test)


def add_start(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("start", help="start a kata: commit the start marker the grader times from")
    p.add_argument("id", help="kata id, as shown by `kata list`")
    p.set_defaults(func=cmd_start)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "watch",
        help="re-run a kata's tests on every save (keys: h hint, r re-run, l list, q quit)",
        description="Re-run the kata's visible tests each time one of its files is saved. "
        "Warm workers answer without importing torch again; a save or r while a check "
        "runs starts it over. Keys: h next hint, r re-run, l list, q quit. In a mock round, "
        "watches the round's katas with a countdown.",
    )
    p.add_argument("id", nargs="?", help="kata id (default: the kata in progress)")
    p.add_argument(
        "--poll",
        action="store_true",
        help="poll for changes instead of file events (chosen automatically when events "
        "do not arrive, as in some containers and WSL)",
    )
    p.add_argument("--lines", type=int, default=4, help="message lines shown per failing test")
    p.add_argument(
        "--test-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="a test running longer fails, and the check stops there (30)",
    )
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("hint", help="the next hint for a kata (recorded: the report counts hints)")
    p.add_argument("id", nargs="?", help="kata id (default: the kata in progress)")
    p.add_argument(
        "--fault",
        metavar="NAME",
        help="a capstone's hints are per fault: which one (see kata test)",
    )
    p.set_defaults(func=cmd_hint)

    p = sub.add_parser(
        "solution", help="the reference fix: when green, or with --give-up (unranks the attempt)"
    )
    p.add_argument("id", help="kata id")
    p.add_argument(
        "--give-up",
        action="store_true",
        help="show it before green; recorded as a Kata-Give-Up commit, the attempt is unranked",
    )
    p.set_defaults(func=cmd_solution)

    p = sub.add_parser(
        "questions",
        help="the interviewer's follow-up questions, once green (model answers: --answers)",
        description="After the fix the interviewer asks why: why the symptom looked as it "
        "did, what would have caught it sooner, where else the mistake appears. Shown once "
        "the kata is green (or given up); answer them out loud, then compare with the model "
        "answers.",
    )
    p.add_argument("id", nargs="?", help="kata id (default: the kata in progress)")
    p.add_argument("--answers", action="store_true", help="show the model answers too")
    p.set_defaults(func=cmd_questions)

    p = sub.add_parser("reset", help="restore a kata's files as shipped (your versions are kept)")
    p.add_argument("id", help="kata id")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_reset)

    p = sub.add_parser("status", help="progress by topic: solved / total, best times")
    p.add_argument("--json", action="store_true", help="print JSON instead of bars")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "mock",
        help="an interview-style round against the clock: implement + debug, a capstone, "
        "or 2-3 katas",
        description="Pick a round as the interview runs it (unsolved katas first): one "
        "implementation kata and one debugging kata, or one capstone, or two or three "
        "debugging katas from different topics; start them with one marker commit, show "
        "their briefs, then watch them with a countdown; the round ends when time is up or "
        "all are green, with a summary.",
    )
    p.add_argument(
        "--format",
        choices=("interview", "capstone", "katas"),
        help="interview: one implementation kata and one debugging kata (the default when "
        "the catalogue has both); capstone: one multi-fault capstone; katas: two or three "
        "debugging katas from different topics",
    )
    p.add_argument(
        "--minutes",
        type=int,
        help="round length (default: the katas' budgets summed; 45 for --format katas)",
    )
    p.add_argument("--topics", nargs="+", metavar="TOPIC", help=f"from: {', '.join(TOPICS)}")
    p.add_argument("--seed", type=int, help="make the pick repeatable")
    p.add_argument("--no-watch", action="store_true", help="start the round, do not watch")
    p.add_argument("--poll", action="store_true", help="as for `kata watch`")
    p.add_argument("--summary", action="store_true", help="the summary of the last round")
    p.set_defaults(func=cmd_mock)
