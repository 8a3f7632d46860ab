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
from grader.usage import EXIT_OK, EXIT_USAGE, UsageError

EXIT_BROKEN_PIPE = 128 + 13  # as if killed by SIGPIPE, like other tools in a pipeline
START_HERE = (
    "Start here: kata list (the katas), kata start ID (the clock and the brief), "
    "kata watch (the tests on every save)."
)


class _Version(argparse.Action):
    """``--version``, read from the installed metadata only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest=dest, nargs=0, help="print the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("ml-debug-katas")
        except PackageNotFoundError:
            number = "unknown (not installed)"
        print(f"kata {number}")
        parser.exit()


class _Elsewhere:
    """Stands in for the parser of a command that is not the one being run: whatever is
    asked of it, it does nothing (building all twenty costs `kata list` a tenth of its
    time)."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: self


class _OnlyCommand:
    def __init__(self, sub, wanted: str):
        self.sub, self.wanted, self.found = sub, wanted, False

    def add_parser(self, name: str, **kwargs):
        if name != self.wanted:
            return _Elsewhere()
        self.found = True
        return self.sub.add_parser(name, **kwargs)


def build_parser(only: str | None = None) -> argparse.ArgumentParser | None:
    """The whole parser, or with ``only`` the parser of that one command (None when there
    is no such command)."""
    parser = argparse.ArgumentParser(
        prog="kata",
        description="Practise the ML debugging interview: find and fix the silent bug in a kata.",
        epilog="Exit status: 0 green/ok, 1 red/invalid, 2 bad usage. "
        "The catalogue is the katas/ folder of the repository you run in ($KATA_ROOT overrides).",
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    if only is not None:
        sub = _OnlyCommand(sub, only)
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
    return None if only is not None and not sub.found else parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:  # `kata status --json | head`: the reader has gone, so stop
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more reaches the pipe at exit
        return EXIT_BROKEN_PIPE


def _run(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv and not argv[0].startswith("-") else None
    parser = (command and build_parser(only=command)) or build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `kata` alone: what there is, and where to start
        parser.print_help()
        print(f"\n{START_HERE}")
        return EXIT_OK
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
