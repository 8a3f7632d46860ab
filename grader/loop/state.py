"""Local progress, kept in ``.kata/state.json`` at the repository root (git-ignored).

Only what git cannot tell is stored: the verdict of the last ``kata test`` of each
kata, with a fingerprint of the edited files it was run on (so that a later edit makes
the stored verdict stale instead of wrong), the fingerprints of the versions that
tested green (so a branch switch back to a fix reads green again), the start marker
each kata first went green after, personal best times, and the mock rounds.  Starts, hints and
give-ups are marker commits in git (see ``grader.loop.progress``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from grader.catalogue.renames import RENAMED
from grader.usage import UsageError

STATE_DIR = ".kata"
STATE_FILE = "state.json"
WATCH_LOCK = "watch.lock"


def state_path(root: Path) -> Path:
    return root / STATE_DIR / STATE_FILE


def load(root: Path) -> dict:
    """The stored state; an unreadable file is treated as empty, never as an error."""
    try:
        data = json.loads(state_path(root).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"katas": {}}
    if not isinstance(data.get("katas"), dict):
        return {"katas": {}}
    for old in [k for k in data["katas"] if k in RENAMED]:  # kept under a renamed kata's old id
        data["katas"].setdefault(RENAMED[old], data["katas"].pop(old))
    return data


def save(root: Path, data: dict) -> None:
    """Write atomically so an interrupted run never leaves a half-written file."""
    import tempfile

    path = state_path(root)
    path.parent.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


GREEN_VERSIONS_KEPT = 20


def record_test(root: Path, kata_id: str, status: str, fingerprint: str) -> None:
    """The verdict on these files; a green one is remembered with its fingerprint, so a
    branch holding those files reads green again without a new test."""
    data = load(root)
    entry = data["katas"].setdefault(kata_id, {})
    greens = [f for f in entry.get("green_versions", []) if f != fingerprint]
    if status == GREEN:
        greens = [*greens, fingerprint][-GREEN_VERSIONS_KEPT:]
    entry.update(
        status=status,
        fingerprint=fingerprint,
        tested_at=datetime.now(UTC).isoformat(timespec="seconds"),
        green_versions=greens,
    )
    save(root, data)


def record_green(root: Path, kata_id: str, start_sha: str, seconds: int | None) -> bool:
    """Note that the kata went green after the start marker ``start_sha``; return True
    the first time for that marker.  ``seconds`` (time since the marker) may set a new
    personal best."""
    data = load(root)
    entry = data["katas"].setdefault(kata_id, {})
    if entry.get("green_after") == start_sha:
        return False
    entry["green_after"] = start_sha
    entry["last_green_s"] = seconds
    entry["green_at"] = int(time.time())
    if seconds is not None and seconds < entry.get("best_s", float("inf")):
        entry["best_s"] = seconds
    save(root, data)
    return True


UNTOUCHED, IN_PROGRESS, GREEN, SOLVED = "untouched", "in progress", "green", "solved"


def status_of(kata, data: dict, started: bool = False) -> str:
    """The one reading of a kata's status, in this checkout (other branches hold other
    files):

    - ``green``: the editable files are a version that tested green;
    - ``in progress``: an attempt is started in HEAD's history, or the files are edited;
    - ``solved``: neither, but the kata went green before (on another branch, or before
      a reset): a local fact, like the personal best;
    - ``untouched``: none of these."""
    from grader.catalogue import pristine

    entry = data["katas"].get(kata.id, {})
    blobs = pristine.current_blobs(kata, kata.files)  # read once, for both questions
    current = pristine.fingerprint(kata, blobs)
    if current in entry.get("green_versions", ()) or (
        entry.get("status") == GREEN and entry.get("fingerprint") == current
    ):
        return GREEN
    if started or pristine.is_untouched(kata, blobs) is False:
        return IN_PROGRESS
    return SOLVED if went_green(data, kata.id) else UNTOUCHED


def went_green(data: dict, kata_id: str) -> bool:
    """Whether the kata ever tested green here (the first green of each attempt is
    recorded, with or without a start marker)."""
    entry = data["katas"].get(kata_id, {})
    return "green_after" in entry or entry.get("best_s") is not None


def best_seconds(data: dict, kata_id: str) -> int | None:
    return data["katas"].get(kata_id, {}).get("best_s")


@contextmanager
def only_watch(root: Path) -> Iterator[None]:
    """Hold the watch lock of this copy for as long as one ``kata watch`` runs: two
    would put four test workers on two cores and answer each save twice.  The lock is
    the kernel's (``flock``), so a watch that died leaves nothing stale behind."""
    import fcntl

    path = root / STATE_DIR / WATCH_LOCK
    path.parent.mkdir(exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise UsageError(
                f"another `kata watch` (pid {holder}) is already watching this copy: one is "
                "enough (it answers every save, and two share the cores between four test "
                "workers); quit the other one (q) or use it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def watch_running(root: Path) -> bool:
    try:
        with only_watch(root):
            return False
    except UsageError:
        return True
