"""The ``kata`` command's entry point: the parser, with each group of commands registered by
its own module (``grader.cli.loop``, ``grading``, ``authoring``, ``publish``), and the one
place where bad input becomes a message and exit status 2.

Exit codes: 0 success / green, 1 red or invalid, 2 bad usage or bad catalogue.
Nothing here imports torch at module level, so ``kata list`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from grader.catalogue.katas import CatalogueError
from grader.cli import authoring, cohort, grading, loop, publish
from grader.usage import EXIT_USAGE, UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kata",
        description="Practise the ML debugging interview: find and fix the silent bug in a kata.",
        epilog="Exit status: 0 green/ok, 1 red/invalid, 2 bad usage. "
        "The catalogue is the katas/ folder of the repository you run in ($KATA_ROOT overrides).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # the order `kata --help` lists them in
    loop.add_first_commands(sub)
    authoring.add_validate(sub)
    loop.add_start(sub)
    grading.add_commands(sub)
    authoring.add_seal(sub)
    loop.add_commands(sub)
    publish.add_commands(sub)
    cohort.add_commands(sub)
    authoring.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    safe = _log_line if os.environ.get("GITHUB_ACTIONS") == "true" else str
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"kata: {safe(str(exc))}", file=sys.stderr)
    except CatalogueError as exc:
        print("kata: the catalogue has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {safe(problem)}", file=sys.stderr)
    return EXIT_USAGE


def _log_line(text: str) -> str:
    """Under GitHub Actions a message may quote a candidate's text (a path, a ref): it is
    printed as one line that is never a workflow command."""
    from grader.grading.report import log_safe

    return log_safe(text)


if __name__ == "__main__":
    sys.exit(main())
