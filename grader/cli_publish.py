"""`kata publish` and `kata leaderboard`: turn an untrusted grade report into a PR comment
and a leaderboard entry."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this module's subcommands on the `kata` parser."""
