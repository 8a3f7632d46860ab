"""`kata publish` and `kata leaderboard`: turn an untrusted grade report into a PR comment
and a leaderboard entry."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from grader.usage import EXIT_OK, UsageError

if TYPE_CHECKING:
    from grader.board.leaderboard import PushOutcome

EXIT_REFUSED = 1


def cmd_publish(args: argparse.Namespace) -> int:
    from grader.board.publish import (
        Context,
        OtherPullRequest,
        PublishError,
        publish,
        read_artifact,
        read_runs,
        refusal_comment,
        report_artifact,
    )
    from grader.catalogue.katas import load_catalogue
    from grader.grading.gitdata import GitError, Repo

    try:
        repo = Repo.discover(Path(args.repo))
    except GitError as exc:
        raise UsageError(str(exc)) from None
    catalogue = load_catalogue(repo.path)
    comment = Path(args.comment) if args.comment else None
    context = None
    try:
        context = Context(
            pr=args.pr,
            user=args.user,
            run_id=args.run_id,
            repository=args.repository,
            server_url=args.server_url.rstrip("/"),
            leaderboard_branch=args.leaderboard_branch,
        )
        artifact = (
            read_artifact(Path(args.artifact))
            if args.artifact
            else report_artifact(Path(args.report))
        )
        runs = read_runs(Path(args.runs)) if args.runs else None
        leaderboard = Path(args.leaderboard) if args.leaderboard else None
        if leaderboard:
            leaderboard.mkdir(parents=True, exist_ok=True)
        publication = publish(
            artifact,
            repo,
            catalogue,
            context,
            head_sha=args.head_sha,
            trusted_base=args.base,
            runs=runs,
            leaderboard=leaderboard,
            require_server_clock=args.require_server_clock,
            hidden_report=_hidden_report(args.hidden_report),
        )
    except (PublishError, OSError) as exc:
        if comment and not isinstance(exc, OtherPullRequest):
            comment.parent.mkdir(parents=True, exist_ok=True)
            comment.write_text(refusal_comment(str(exc), context))
        print(f"kata publish: refused: {_log_line(str(exc))}", file=sys.stderr)
        print("kata publish: nothing was recorded on the leaderboard", file=sys.stderr)
        return EXIT_REFUSED
    if comment:
        comment.parent.mkdir(parents=True, exist_ok=True)
        comment.write_text(publication.comment)
    if not publication.sections:
        print(f"kata publish: #{args.pr}: {artifact.outcome}; no result recorded")
    for section in publication.sections:
        result = section.result
        rank = f", rank {section.rank[0]} of {section.rank[1]}" if section.rank else ""
        ranked = "ranked" if result["ranked"] else "unranked"
        print(f"kata publish: {result['kata']}: {result['status']}, {ranked}{rank}")
        for reason in result["unranked_reasons"]:
            print(f"  - {_log_line(reason)}")
    return EXIT_OK


def _hidden_report(path: str | None) -> dict | None:
    """The report of the publish workflow's own grade run with the cohort's key; None when
    that run wrote none (no key, a wrong key, a failure: the result does not rank)."""
    from grader.board.publish import PublishError
    from grader.grading.report import ReportError, read_report

    if not path or not (Path(path).exists() or Path(path).is_symlink()):
        return None
    try:
        return read_report(Path(path))
    except ReportError as exc:
        raise PublishError(f"hidden report: {exc}") from None


def _log_line(text: str) -> str:
    """Text from the artifact (reasons, refusals quoting it) as one log line: under GitHub
    Actions never a workflow command, and kept on one line anywhere."""
    from grader.grading.report import log_safe

    return log_safe(text)


def _board_command(command: str, action: Callable[[], PushOutcome]) -> PushOutcome | None:
    """Run a leaderboard push or render, reporting its error or skipped files."""
    from grader.board.leaderboard import LeaderboardError

    try:
        outcome = action()
    except LeaderboardError as exc:
        print(f"kata leaderboard {command}: {exc}", file=sys.stderr)
        return None
    for problem in outcome.skipped:
        print(f"kata leaderboard {command}: skipped {problem}", file=sys.stderr)
    return outcome


def _resolved_remote(remote: str) -> str:
    """``--remote`` as the temporary repository that pushes can reach it (a remote name of
    the repository we run in, a URL or a path)."""
    from grader.board.leaderboard import LeaderboardError, resolve_remote

    try:
        return resolve_remote(remote, Path.cwd())
    except LeaderboardError as exc:
        raise UsageError(str(exc)) from None


def cmd_leaderboard_push(args: argparse.Namespace) -> int:
    from grader.board.leaderboard import push, record

    folder = Path(args.dir)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: pass the leaderboard folder to --dir")
    remote = _resolved_remote(args.remote)
    if args.no_render:
        outcome = _board_command("push", lambda: record(folder, remote, args.branch))
    else:
        outcome = _board_command(
            "push",
            lambda: push(
                folder,
                remote,
                args.branch,
                catalogue=_catalogue_or_none(),
                attempts=args.attempts,
                page_url=args.page_url,
            ),
        )
    if outcome is None:
        return EXIT_REFUSED
    if outcome.commit is None:
        print(f"kata leaderboard push: {args.branch} already holds every result")
    elif args.no_render:
        print(
            f"kata leaderboard push: {outcome.added} result(s) recorded in {args.branch}'s "
            "inbox, for the next `kata leaderboard render --remote`"
        )
    else:
        print(
            f"kata leaderboard push: {outcome.added} result(s) added to {args.branch} "
            f"as {outcome.commit[:12]} (attempt {outcome.attempts})"
        )
    return EXIT_OK


def cmd_leaderboard_render(args: argparse.Namespace) -> int:
    from grader.board.leaderboard import load_results, render_branch, rendered_files, write_rendered

    if args.remote:
        remote = _resolved_remote(args.remote)
        outcome = _board_command(
            "render",
            lambda: render_branch(
                remote,
                args.branch,
                catalogue=_catalogue_or_none(),
                attempts=args.attempts,
                page_url=args.page_url,
            ),
        )
        if outcome is None:
            return EXIT_REFUSED
        if outcome.commit is None:
            print(f"kata leaderboard render: {args.branch} is already rendered")
        else:
            print(
                f"kata leaderboard render: {outcome.added} result(s) merged from the inbox, "
                f"{args.branch} rendered as {outcome.commit[:12]} (attempt {outcome.attempts})"
            )
        return EXIT_OK
    folder = Path(args.dir)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder: pass the leaderboard folder to --dir")
    results, problems = load_results(folder)
    files = rendered_files(results, _catalogue_or_none(), problems, args.page_url)
    written = write_rendered(folder, files)
    print(
        f"kata leaderboard render: {len(results)} results -> {folder / 'README.md'}, "
        f"{folder / 'index.html'} ({written} of {len(files)} files changed)"
    )
    for problem in problems:
        print(f"  skipped {problem}", file=sys.stderr)
    return EXIT_OK


def _catalogue_or_none():
    """The catalogue of the repository we run in, for kata titles and topic totals."""
    from grader.catalogue.katas import CatalogueError, find_root, load_catalogue

    try:
        return load_catalogue(find_root())
    except CatalogueError:
        return None


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this module's subcommands on the `kata` parser."""
    p = sub.add_parser(
        "publish",
        help="check a grade artifact against git and write the PR comment and results",
        description="What the publish workflow runs, on trusted code: read the grade run's "
        "artifact (untrusted: size-bounded, schema-checked), check it against the pull "
        "request's commits fetched into --repo (touched paths, start marker, diff, hints, "
        "commit clock), add GitHub's server clock from --runs, and write the PR comment "
        "(--comment) and one result per kata into the leaderboard folder (--leaderboard). "
        "Exit 0 published, 1 refused (a refusal comment is still written), 2 bad usage.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--artifact", metavar="DIR", help="the grade run's artifact folder")
    source.add_argument("--report", metavar="FILE", help="a report.json alone (local use)")
    p.add_argument("--pr", type=int, required=True, help="the pull request GitHub's event names")
    p.add_argument("--user", required=True, help="the pull request author's login")
    p.add_argument(
        "--head-sha",
        help="the head commit GitHub's event names; the report must match it "
        "(default: the report's own head, for local use only)",
    )
    p.add_argument(
        "--repo",
        default=".",
        help="trusted checkout of the base repository with the PR head fetched as data (.)",
    )
    p.add_argument("--base", default="HEAD", help="the base repository's branch in --repo (HEAD)")
    p.add_argument(
        "--runs",
        metavar="FILE",
        help="grade workflow runs from the GitHub API (id, head_sha, "
        "created_at; a JSON array or one object per line): gives the server clock",
    )
    p.add_argument("--run-id", type=int, default=0, help="the grade run's id (names the result)")
    p.add_argument("--repository", metavar="OWNER/NAME", help="for links in the comment")
    p.add_argument("--server-url", default="https://github.com", help="for links in the comment")
    p.add_argument("--leaderboard", metavar="DIR", help="leaderboard folder to add results to")
    p.add_argument("--leaderboard-branch", default="leaderboard", help="for the comment's link")
    p.add_argument("--comment", metavar="PATH", help="write the PR comment (markdown) here")
    p.add_argument(
        "--require-server-clock",
        action="store_true",
        help="cohorts: a green result without a server time is unranked",
    )
    p.add_argument(
        "--hidden-report",
        metavar="FILE",
        help="cohorts: the report of the publish workflow's own grade run with the key "
        "(trusted); a sealed cohort's result ranks only with its hidden tests from here "
        "(a missing file: that run wrote none, and the result is recorded unranked)",
    )
    p.set_defaults(func=cmd_publish)

    board = sub.add_parser("leaderboard", help="push or render the leaderboard")
    actions = board.add_subparsers(dest="leaderboard_action", required=True, metavar="ACTION")
    p = actions.add_parser(
        "push",
        help="add a folder's results to the leaderboard branch (retries), and re-render",
        description="Fetch the branch tip (or start the branch as an orphan), add every "
        "result file of --dir, re-render README, badges and the page from all results, "
        "and push one commit without force; a push that lost a race starts over from the "
        "new tip, up to --attempts times, so no result is lost. With --no-render (what "
        "each publish runs at cohort scale) it only records the results in the branch's "
        "inbox instead: one small commit per graded run, pushed to a ref of its own "
        "(<branch>-inbox/pr<N>-run<RUN>), which never races; `kata leaderboard render "
        "--remote` merges the inbox into the branch.",
    )
    p.add_argument("--dir", required=True, help="leaderboard folder holding results/")
    p.add_argument(
        "--remote",
        required=True,
        help="a remote of the repository you run in (origin), a URL, or a path",
    )
    p.add_argument("--branch", default="leaderboard", help="the leaderboard branch (leaderboard)")
    p.add_argument("--attempts", type=int, default=30, help="pushes to try before giving up (30)")
    p.add_argument(
        "--no-render",
        action="store_true",
        help="only record the results in the branch's inbox (no fetch, no race)",
    )
    _page_url_argument(p)
    p.set_defaults(func=cmd_leaderboard_push)
    p = actions.add_parser(
        "render",
        help="regenerate README.md, badges and the page of a folder or of the branch",
        description="With --dir: regenerate README.md, badges/ and the page (index.html, "
        "users/, charts/) of a leaderboard folder from its results/, writing only the files "
        "that changed. With --remote: merge the results recorded in the branch's inbox into "
        "the branch tip, render it the same way, commit and push when anything changed "
        "(retried like push), then delete the merged records: the aggregating job of the "
        "publish workflow.",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--dir", help="leaderboard folder holding results/")
    where.add_argument("--remote", help="git remote name or URL: render the branch there")
    p.add_argument("--branch", default="leaderboard", help="with --remote (leaderboard)")
    p.add_argument("--attempts", type=int, default=30, help="with --remote: pushes to try (30)")
    _page_url_argument(p)
    p.set_defaults(func=cmd_leaderboard_render)


def _page_url_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--page-url",
        metavar="URL",
        help="where GitHub Pages serves the page (https://...), for the README's link "
        "(default: index.html on the branch)",
    )
