"""Commands for kata authors: ``kata new`` and ``kata catalogue``.

Imports stay inside the commands: ``kata list`` builds this parser too and must stay fast.
"""

from __future__ import annotations

import argparse

from grader.catalogue import TOPICS, find_root

DEFAULT_TITLE = "TODO: the symptom, in one line"


def cmd_new(args: argparse.Namespace) -> int:
    from grader import scaffold
    from grader.cli import EXIT_OK, UsageError

    root = find_root()
    kata = scaffold.NewKata(
        id=args.id,
        topic=args.topic,
        title=args.title,
        difficulty=args.difficulty,
        budget_minutes=args.budget,
        module=args.module or scaffold.default_module(args.id),
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
    from grader import catalogue_table as table
    from grader.catalogue import load_catalogue
    from grader.cli import EXIT_OK, EXIT_RED, UsageError

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


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this module's subcommands on the `kata` parser."""
    p = sub.add_parser(
        "new",
        help="authors: scaffold a kata (folder, kata.toml, brief, module, tests, private files)",
        description="Create katas/ID and grader/private/ID with placeholders that load with "
        "the catalogue; `kata validate ID` then lists what is left to write.",
    )
    p.add_argument("id", help="lower-case words joined by '-', e.g. label-smoothing-loss")
    p.add_argument("--topic", required=True, choices=TOPICS)
    p.add_argument("--title", default=DEFAULT_TITLE, help="one line on the symptom")
    p.add_argument("--difficulty", type=int, choices=(1, 2, 3), default=1)
    p.add_argument("--budget", type=int, default=15, metavar="MINUTES", help="time budget (15)")
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
