"""Cohort mode: the answers out of the repository.

In a cohort's shared upstream, every candidate can read ``grader/private/``: the reference
fixes, the decoys, the hidden tests and the hints.  ``seal`` encrypts them into one file,
``grader/sealed/private.age`` (age, X25519: the ``pyrage`` bindings), and removes the
plaintext; what stays public is what is no answer: the seal of each kata's files
(``pristine.json``), the reference timings of the visible tests (a hidden test's name says
what it checks: its timing is sealed), and ``grader/sealed/public.json`` with the
numbers the grader shows (the reference fix's size, the hint count).  ``unseal`` needs the
key (an Actions secret of the cohort, ``KATA_COHORT_KEY``) and writes the material back;
only a trusted job that runs the candidate's code isolated ever holds it.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import tempfile
from pathlib import Path

from grader.catalogue.katas import Kata

KEY_ENV = "KATA_COHORT_KEY"
SEALED_DIR = Path("grader") / "sealed"
ARCHIVE = SEALED_DIR / "private.age"
PUBLIC = SEALED_DIR / "public.json"
# the answers, relative to grader/private/<id>/: everything but the seal and the timings
# (whose hidden tests' entries are sealed by sealing the whole file: ``_split_timings``)
SECRET = re.compile(
    r"^(reference\.patch|hints\.toml|questions\.toml|decoys-caught-by\.json|faults/[\w.-]+\.patch|"
    r"decoys/([\w.-]+/)?[\w.-]+\.patch|alternatives/[\w.-]+\.patch|holdout/test_[\w.-]+\.py)$"
)
MAX_ARCHIVE_BYTES = 20_000_000


class SealError(Exception):
    """The sealed material cannot be written or opened; the message says why."""


def is_sealed(kata: Kata) -> bool:
    """Whether the kata's answers are sealed here (and not unsealed)."""
    return (kata.root / ARCHIVE).is_file() and not (kata.private_dir / "reference.patch").exists()


def hidden_tests_note(kata_id: str, command: str) -> str:
    """What ``command`` says when it ran a sealed kata's visible tests only."""
    return (
        f"the hidden tests of {kata_id} are sealed in this cohort ({ARCHIVE}): they run in "
        f"the publish job, with the cohort's key; `{command}` ran the visible tests only"
    )


def solution_sealed(kata_id: str) -> str:
    return (
        f"the reference fix of {kata_id} is sealed in this cohort ({ARCHIVE}) and only the "
        "cohort's key opens it: kata solution cannot show it here, and nothing was recorded"
    )


def questions_sealed(kata_id: str) -> str:
    return (
        f"the follow-up questions of {kata_id} are sealed in this cohort ({ARCHIVE}) with "
        "the rest of its answers: ask the cohort's admin"
    )


def hints_sealed(kata_id: str) -> str:
    return (
        f"the hints of {kata_id} are sealed in this cohort ({ARCHIVE}) with the rest of the "
        "answers: no hint is shown or counted here"
    )


def public_numbers(kata: Kata) -> dict:
    """What the sealed catalogue keeps public about ``kata`` ({} when nothing is sealed)."""
    try:
        data = json.loads((kata.root / PUBLIC).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    numbers = data.get("katas", {}).get(kata.id, {})
    return numbers if isinstance(numbers, dict) else {}


def reference_size(kata: Kata, workdir: Path) -> int | None:
    """The reference fix's size: measured on the pristine kata, or in a sealed cohort the
    public number the seal kept."""
    from grader.grading import diffsize

    if is_sealed(kata):
        number = public_numbers(kata).get("reference_total")
        return number if isinstance(number, int) and not isinstance(number, bool) else None
    return diffsize.reference_size(kata, workdir)


def _secret_files(kata: Kata) -> list[Path]:
    return sorted(
        path
        for path in kata.private_dir.rglob("*")
        if path.is_file() and SECRET.match(path.relative_to(kata.private_dir).as_posix())
    )


def _split_timings(kata: Kata) -> tuple[bytes, dict[str, float]] | None:
    """The kata's timings file as it is (for the archive) and its visible tests' entries
    (what stays public); None when it names no hidden test."""
    from grader.grading.timeouts import TIMINGS_FILE, reference_timings

    hidden = {p.name for p in (kata.private_dir / "holdout").glob("test_*.py")}
    measured = reference_timings(kata)
    public = {k: v for k, v in measured.items() if k.split("::", 1)[0] not in hidden}
    if public == measured:
        return None
    return (kata.private_dir / TIMINGS_FILE).read_bytes(), public


def seal(root: Path, catalogue: list[Kata], recipient: str | None = None) -> tuple[str, str]:
    """Encrypt every kata's answers into ``root/grader/sealed/private.age`` and remove the
    plaintext.  Returns (the new key, or "" when ``recipient`` was given; the recipient)."""
    import pyrage

    from grader.grading import diffsize

    identity = None
    if recipient is None:
        identity = pyrage.x25519.Identity.generate()
        recipient = str(identity.to_public())
    try:
        to = pyrage.x25519.Recipient.from_str(recipient)
    except Exception as exc:  # pyrage raises its own error types
        raise SealError(
            f"recipient {recipient[:80]!r} is not an age X25519 recipient: {exc}"
        ) from None
    from grader.grading.timeouts import TIMINGS_FILE, write_reference_timings

    numbers, files, timings = {}, [], {}
    with tempfile.TemporaryDirectory(prefix="kata-seal-") as tmp:
        for kata in catalogue:
            secret = _secret_files(kata)
            if not (kata.private_dir / "reference.patch").is_file():
                raise SealError(f"{kata.id}: no reference.patch here: already sealed?")
            numbers[kata.id] = {
                "reference_total": diffsize.reference_size(kata, Path(tmp)),
                "hint_count": kata.hint_count,
            }
            files += [
                (f"{kata.id}/{p.relative_to(kata.private_dir).as_posix()}", p) for p in secret
            ]
            if (split := _split_timings(kata)) is not None:
                timings[kata.id] = split
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        entries = [(name, path.read_bytes()) for name, path in files]
        entries += [(f"{kata_id}/{TIMINGS_FILE}", whole) for kata_id, (whole, _) in timings.items()]
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    (root / SEALED_DIR).mkdir(parents=True, exist_ok=True)
    (root / ARCHIVE).write_bytes(pyrage.encrypt(buffer.getvalue(), [to]))
    (root / PUBLIC).write_text(
        json.dumps({"recipient": recipient, "katas": numbers}, indent=2, sort_keys=True) + "\n"
    )
    for _, path in files:
        path.unlink()
    by_id = {kata.id: kata for kata in catalogue}
    for kata_id, (_, public) in timings.items():
        write_reference_timings(by_id[kata_id], public)
    for kata in catalogue:  # emptied folders (decoys/, holdout/, ...) go too
        for folder in sorted(kata.private_dir.rglob("*"), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    return (str(identity) if identity else ""), recipient


def unseal(root: Path, catalogue: list[Kata], key: str) -> list[str]:
    """Decrypt ``root/grader/sealed/private.age`` with ``key`` and write the answers back
    into ``grader/private/``; the repository paths written.  Only the expected files of
    known katas are written, nothing else the archive might hold."""
    import pyrage

    path = root / ARCHIVE
    if not path.is_file():
        raise SealError(f"{ARCHIVE}: missing: this catalogue is not sealed")
    if path.stat().st_size > MAX_ARCHIVE_BYTES:
        raise SealError(f"{ARCHIVE}: larger than {MAX_ARCHIVE_BYTES} bytes")
    try:
        identity = pyrage.x25519.Identity.from_str(key.strip())
        data = pyrage.decrypt(path.read_bytes(), [identity])
    except Exception:  # a malformed key or the wrong one: the same answer, no detail
        raise SealError(
            f"the key in ${KEY_ENV} does not open {ARCHIVE}: is it the cohort's key?"
        ) from None
    from grader.grading.timeouts import TIMINGS_FILE

    ids = {kata.id: kata for kata in catalogue}
    written = []
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = archive.getmembers()
        for member in members:
            kata_id, _, rest = member.name.partition("/")
            expected = SECRET.match(rest) or rest == TIMINGS_FILE
            if not (member.isfile() and kata_id in ids and expected):
                raise SealError(f"{ARCHIVE}: unexpected entry {member.name[:100]!r}")
        for member in members:
            kata_id, _, rest = member.name.partition("/")
            target = ids[kata_id].private_dir / rest
            _private_folder(target.parent, ids[kata_id].private_dir)
            extracted = archive.extractfile(member)
            assert extracted is not None  # a regular file, checked above
            _private_file(target, extracted.read())
            written.append(f"grader/private/{member.name}")
    return written


# The answers, once unsealed, are their owner's only (files 0600, the folders unseal makes
# 0700), whatever the umask: in the publish workflow's hidden job the candidate's code runs
# as another user, which must not read them (its mount namespace hides them besides).


def _private_folder(folder: Path, top: Path) -> None:
    top.mkdir(parents=True, exist_ok=True)
    made = []
    for parent in [folder, *folder.parents]:
        if parent == top or parent.exists():
            break
        made.append(parent)
    for path in reversed(made):
        path.mkdir(mode=0o700)
        path.chmod(0o700)


def _private_file(path: Path, data: bytes) -> None:
    import os

    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)
