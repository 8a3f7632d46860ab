"""The shipped ("pristine") version of each kata, recorded as git blob ids.

``kata seal`` records the blob id of every file of a kata in
``grader/private/<id>/pristine.json``.  Because a blob id names content, the pristine
files can be recovered from the repository's git objects even after a candidate has
edited or committed a fix — that is what lets ``kata validate`` check the original
kata in a repository where some katas are already solved, and ``kata list`` tell an
untouched kata from an edited one without running anything.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from grader.catalogue.katas import CatalogueError, Kata

SEAL_NAME = "pristine.json"


def blob_id(data: bytes) -> str:
    """The id git gives a blob with this content (``git hash-object``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def kata_files(kata: Kata) -> list[str]:
    """The kata's own files, relative to its folder (caches and dotfiles excluded)."""
    return sorted(
        str(path.relative_to(kata.path))
        for path in kata.path.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") or part == "__pycache__" for part in path.parts)
        and path.suffix != ".pyc"
    )


def current_blobs(kata: Kata, names: list[str] | tuple[str, ...]) -> dict[str, str | None]:
    return {
        name: blob_id((kata.path / name).read_bytes()) if (kata.path / name).is_file() else None
        for name in names
    }


def seal_path(kata: Kata) -> Path:
    return kata.private_dir / SEAL_NAME


def write_seal(kata: Kata) -> dict[str, str]:
    blobs = {name: blob for name, blob in current_blobs(kata, kata_files(kata)).items() if blob}
    seal_path(kata).parent.mkdir(parents=True, exist_ok=True)
    seal_path(kata).write_text(json.dumps({"files": blobs}, indent=2, sort_keys=True) + "\n")
    return blobs


def read_seal(kata: Kata) -> dict[str, str] | None:
    try:
        return json.loads(seal_path(kata).read_text())["files"]
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CatalogueError(
            [f"{seal_path(kata)}: files: unreadable seal ({exc}); re-create it with `kata seal`"]
        ) from None


def fingerprint(kata: Kata, blobs: dict[str, str | None] | None = None) -> str:
    """One id for the current content of the files the candidate edits (``blobs``: their
    ``current_blobs``, when the caller has read them already)."""
    blobs = current_blobs(kata, kata.files) if blobs is None else blobs
    return hashlib.sha256(json.dumps(blobs, sort_keys=True).encode()).hexdigest()[:16]


def is_untouched(kata: Kata, blobs: dict[str, str | None] | None = None) -> bool | None:
    """Whether the editable files are as shipped; None when the kata is not sealed."""
    seal = read_seal(kata)
    if seal is None:
        return None
    blobs = current_blobs(kata, kata.files) if blobs is None else blobs
    return all(seal.get(name) == blob for name, blob in blobs.items())


def materialize(kata: Kata, dest: Path) -> bool:
    """Write the pristine kata into ``dest``; return False when the kata is not sealed.

    Unsealed katas (a kata being authored) are copied from the working tree as they are.
    """
    import shutil  # here: it imports every compression module (kata list need none)

    seal = read_seal(kata)
    dest.mkdir(parents=True, exist_ok=True)
    if seal is None:
        for name in kata_files(kata):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(kata.path / name, dest / name)
        return False
    current = current_blobs(kata, list(seal))
    for name, blob in seal.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if current[name] == blob:
            shutil.copy2(kata.path / name, target)
            continue
        shown = subprocess.run(
            ["git", "cat-file", "blob", blob], cwd=kata.root, capture_output=True, check=False
        )
        if shown.returncode != 0:
            raise CatalogueError(
                [
                    f"{kata.path / name}: differs from its sealed version {blob[:12]}, which is "
                    "not in this repository's git objects: restore the file "
                    f"(`git checkout <template commit> -- {kata.path / name}`), or, if you are "
                    f"authoring this kata, re-seal it with `kata seal {kata.id}`"
                ]
            )
        target.write_bytes(shown.stdout)
    return True
