"""Local progress, kept in ``.kata/state.json`` at the repository root (git-ignored).

Only what git cannot tell is stored: the verdict of the last ``kata test`` of each
kata, with a fingerprint of the edited files it was run on, so that a later edit
makes the stored verdict stale instead of wrong.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

STATE_DIR = ".kata"
STATE_FILE = "state.json"


def state_path(root: Path) -> Path:
    return root / STATE_DIR / STATE_FILE


def load(root: Path) -> dict:
    """The stored state; an unreadable file is treated as empty, never as an error."""
    try:
        data = json.loads(state_path(root).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"katas": {}}
    return data if isinstance(data.get("katas"), dict) else {"katas": {}}


def save(root: Path, data: dict) -> None:
    """Write atomically so an interrupted run never leaves a half-written file."""
    path = state_path(root)
    path.parent.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


def record_test(root: Path, kata_id: str, status: str, fingerprint: str) -> None:
    data = load(root)
    data["katas"][kata_id] = {
        "status": status,
        "fingerprint": fingerprint,
        "tested_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    save(root, data)


def status_of(kata, data: dict) -> str:
    """``green``/``red`` from the last test of the current files; an untouched kata is red
    (its shipped bug is validated); anything else is ``edited`` (not tested since)."""
    from grader import pristine

    entry = data["katas"].get(kata.id)
    if entry and entry.get("fingerprint") == pristine.fingerprint(kata):
        return str(entry.get("status"))
    if pristine.is_untouched(kata) is not False:
        return "red"
    return "edited"
