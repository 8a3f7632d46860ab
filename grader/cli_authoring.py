"""Commands for kata authors: `kata new`."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this module's subcommands on the `kata` parser."""
