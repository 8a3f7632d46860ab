"""Commands for kata authors: ``kata new`` and ``kata catalogue``.

Imports stay inside the commands: ``kata list`` builds this parser too and must stay fast.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grader.catalogue.katas import TOPICS, find_root
from grader.cli import present
from grader.usage import EXIT_OK, EXIT_RED, UsageError

DEFAULT_TITLE = "TODO: the symptom, in one line"


def cmd_new(args: argparse.Namespace) -> int:
    from grader.authoring import scaffold

    root = find_root()
    kata = scaffold.NewKata(
        id=args.id,
        topic=args.topic,
        title=args.title,
        difficulty=args.difficulty,
        budget_minutes=args.budget or (45 if args.kind == "capstone" else 15),
        module=args.module or scaffold.default_module(args.id),
        kind=args.kind,
    )
    try:
        written = scaffold.create(root, kata)
    except scaffold.ScaffoldError as exc:
        raise UsageError(
            f"cannot create kata {args.id!r}:\n  " + "\n  ".join(exc.problems)
        ) from None
    print(f"Created kata {kata.id} ({kata.topic}); `kata list` shows it:")
    for path in written:
        print(f"  {path.relative_to(root)}")
    print("\nNext (`kata validate` fails it, listing what is left, until all are done):")
    for number, step in enumerate(scaffold.next_steps(kata), 1):
        print(f"  {number}. {step}")
    return EXIT_OK


def cmd_catalogue(args: argparse.Namespace) -> int:
    from grader.authoring import catalogue_table as table
    from grader.catalogue.katas import load_catalogue

    root = find_root()
    rendered = table.render(load_catalogue(root))
    if not (args.write_readme or args.check):
        print(rendered, end="")
        return EXIT_OK
    readme_path = root / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    try:
        updated = table.splice(readme, rendered)
    except ValueError as exc:
        raise UsageError(f"{readme_path}: {exc}") from None
    if updated == readme:
        print(f"{readme_path.name}: the kata table is up to date")
        return EXIT_OK
    if args.check:
        print(f"{readme_path.name}: the kata table is stale; run `kata catalogue --write-readme`")
        return EXIT_RED
    readme_path.write_text(updated, encoding="utf-8")
    print(f"{readme_path.name}: kata table rewritten from {rendered.count('](katas/')} katas")
    return EXIT_OK


def _at_least_one(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text}: not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text}: at least 1")
    return number


def cmd_validate(args: argparse.Namespace) -> int:
    from grader.authoring.validate import validate

    _, katas = present.catalogue()
    chosen = present.pick(katas, args.ids) if args.ids else katas
    out = present.console()
    out.print(f"validating {len(chosen)} kata(s), {args.repeat} run(s) of each variant …")
    profile = "explore" if args.explore else None
    results = validate(chosen, repeat=args.repeat, jobs=args.jobs, profile=profile)
    for result in results:
        mark = "[green]✓[/]" if result.ok else "[red]✗[/]"
        caught = sum(1 for tests in result.decoys_caught_by.values() if tests)
        out.print(
            f"{mark} [bold]{result.kata_id}[/]  reference fix: {result.reference_lines} lines, "
            f"decoys caught: {caught}/{len(result.decoys_caught_by)}, "
            f"alternatives green: {sum(result.alternatives_passed.values())}"
            f"/{len(result.alternatives_passed)}"
        )
        for note in result.notes:
            out.print(f"    note: {note}", markup=False)
        for check in result.checks:
            if not check.ok or args.verbose:
                flag = "ok  " if check.ok else "FAIL"
                out.print(f"    {flag} {check.name}: {check.detail}", markup=False)
    if args.timings:
        from grader.authoring.validate import write_caught_first_by
        from grader.grading.timeouts import write_reference_timings

        by_id = {kata.id: kata for kata in chosen}
        for result in results:
            if result.ok:
                kata = by_id[result.kata_id]
                path = write_reference_timings(kata, result.reference_timings)
                caught = write_caught_first_by(kata, result.decoys_caught_by)
                out.print(f"wrote {path} and {caught.name}", markup=False)
    if args.json:
        Path(args.json).write_text(json.dumps([r.as_dict() for r in results], indent=2) + "\n")
    bad = [r.kata_id for r in results if not r.ok]
    elapsed = max((r.seconds for r in results), default=0.0)
    summary = f"{len(results) - len(bad)}/{len(results)} valid in {elapsed:.1f} s"
    out.print(f"[bold]{summary}[/]" + (f"; invalid: {', '.join(bad)}" if bad else ""))
    return EXIT_RED if bad else EXIT_OK


def cmd_seal(args: argparse.Namespace) -> int:
    from grader.catalogue import pristine

    _, katas = present.catalogue()
    chosen = katas if args.all else present.pick(katas, args.ids)
    if not chosen:
        raise UsageError("name the katas to seal, or pass --all")
    for kata in chosen:
        blobs = pristine.write_seal(kata)
        print(f"sealed {kata.id}: {len(blobs)} files -> {pristine.seal_path(kata)}")
    return EXIT_OK


def add_validate(sub: argparse._SubParsersAction) -> None:
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
        "--repeat",
        type=_at_least_one,
        default=2,
        help="runs of the buggy and of the fixed kata (default 2)",
    )
    p.add_argument(
        "--jobs", type=_at_least_one, default=None, help="worker processes (default: cores)"
    )
    p.add_argument(
        "--explore",
        action="store_true",
        help="authors: random hypothesis examples (profile 'explore') instead of derandomized",
    )
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument(
        "--timings",
        action="store_true",
        help="authors: store what each test takes on the reference fix "
        "(grader/private/ID/timings.json; per-test time limits scale with it) and which "
        "test caught each decoy first (decoys-caught-by.json; validation runs it first)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show passing checks too")
    p.set_defaults(func=cmd_validate)


def add_seal(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "seal", help="authors: record a kata's files as its pristine (shipped) version"
    )
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="seal every kata")
    p.set_defaults(func=cmd_seal)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this module's subcommands on the `kata` parser."""
    p = sub.add_parser(
        "new",
        help="authors: scaffold a kata (folder, kata.toml, brief, module, tests, private "
        "files); --kind capstone|implementation for the other kinds",
        description="Create katas/ID and grader/private/ID with placeholders that load with "
        "the catalogue; `kata validate ID` then lists what is left to write.",
    )
    p.add_argument("id", help="lower-case words joined by '-', e.g. label-smoothing-loss")
    p.add_argument("--topic", required=True, choices=TOPICS)
    p.add_argument("--title", default=DEFAULT_TITLE, help="one line on the symptom")
    p.add_argument("--difficulty", type=int, choices=(1, 2, 3), default=1)
    p.add_argument("--budget", type=int, metavar="MINUTES", help="time budget (15; a capstone: 45)")
    p.add_argument(
        "--kind",
        choices=("bug", "capstone", "implementation"),
        default="bug",
        help="bug: one silent bug (default); capstone: 3-5 interacting faults in a small "
        "codebase, scored per fault; implementation: a stub to implement from its contract",
    )
    p.add_argument(
        "--module", metavar="NAME", help="module name (default: the id with '_' for '-')"
    )
    p.set_defaults(func=cmd_new)

    p = sub.add_parser(
        "catalogue",
        help="authors: the README's kata table, generated from the kata.toml files",
        description="Print the markdown table of katas; --write-readme puts it in README.md "
        "between the <!-- catalogue:start --> and <!-- catalogue:end --> markers.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write-readme", action="store_true", help="rewrite README.md's table")
    mode.add_argument("--check", action="store_true", help="exit 1 when README.md's table is stale")
    p.set_defaults(func=cmd_catalogue)
