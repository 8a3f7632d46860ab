"""Read what the grader needs from git: commits, times, trailers, file contents.

Everything is read from the object database (``git show``, ``git archive``), never
from a work tree, so a commit's files are data and nothing of it runs here.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from grader.catalogue.renames import current_id

START_TRAILER = "Kata-Start"
HINT_TRAILER = "Kata-Hint"  # one marker commit per hint shown
HINT_FAULT_TRAILER = "Kata-Hint-Fault"  # a capstone's hint: the fault it is about
GIVE_UP_TRAILER = "Kata-Give-Up"  # the reference fix was shown before green


class GitError(Exception):
    """A git command failed; the message says which and why."""


@dataclass(frozen=True)
class Commit:
    sha: str
    time: int  # committer time, seconds since the epoch (set by the client)
    subject: str


class Repo:
    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def discover(cls, start: Path) -> Repo:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=start,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise GitError(
                f"{start} is not inside a git repository: the kata clock lives in git "
                "commits, so run this in a clone of the template (or `git init` and commit)"
            )
        return cls(Path(done.stdout.strip()))

    def git(self, *args: str, binary: bool = False) -> str | bytes:
        done = subprocess.run(
            ["git", *args], cwd=self.path, capture_output=True, check=False, text=not binary
        )
        if done.returncode != 0:
            error = done.stderr if isinstance(done.stderr, str) else done.stderr.decode()
            raise GitError(f"git {' '.join(args)}: {error.strip()}")
        return done.stdout

    def resolve(self, ref: str) -> str:
        try:
            return str(self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")).strip()
        except GitError:
            raise GitError(
                f"unknown ref {ref!r}: give a branch, tag or commit of this repository "
                "(fetch it first if it lives on a remote)"
            ) from None

    def merge_base(self, a: str, b: str) -> str:
        return str(self.git("merge-base", a, b)).strip()

    def commits(self, base: str, head: str) -> list[Commit]:
        """Commits reachable from ``head`` but not ``base``, oldest first."""
        out = str(self.git("log", "--reverse", "--format=%H%x00%ct%x00%s", f"{base}..{head}"))
        return [_commit(line) for line in out.splitlines() if line]

    def commit(self, ref: str) -> Commit:
        return _commit(str(self.git("log", "-1", "--format=%H%x00%ct%x00%s", ref)).strip())

    def changed_paths(self, a: str, b: str) -> list[str]:
        """Paths added, removed, modified or renamed (both names) between two commits."""
        out = str(self.git("diff", "--name-only", "--no-renames", "-z", a, b))
        return sorted(p for p in out.split("\0") if p)

    def read(self, commit: str, path: str) -> str | None:
        """A file's text at ``commit``; None when it does not exist there.  Bytes that
        are not UTF-8 read as U+FFFD: ``read_bytes`` gives what was committed, which is
        what the source-text check (``scan.source_text_problems``) and the interpreter read."""
        data = self.read_bytes(commit, path)
        return data.decode("utf-8", errors="replace") if data is not None else None

    def read_bytes(self, commit: str, path: str) -> bytes | None:
        """A file's bytes at ``commit``; None when it does not exist there."""
        done = subprocess.run(
            ["git", "cat-file", "-p", f"{commit}:{path}"],
            cwd=self.path,
            capture_output=True,
            check=False,
        )
        return done.stdout if done.returncode == 0 else None

    def export(self, commit: str, paths: list[str], dest: Path) -> None:
        """Write ``paths`` (files or folders) as they are at ``commit`` under ``dest``."""
        import io
        import tarfile  # here: it imports every compression module (kata list need none)

        data = self.git("archive", "--format=tar", commit, "--", *paths, binary=True)
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            archive.extractall(dest, filter="data")

    def markers(self, rev_range: list[str]) -> list[tuple[Commit, dict[str, list[str]]]]:
        """Commits in ``rev_range`` (``git log`` arguments) that carry kata trailers, newest
        first, each with the kata ids (today's, see ``renames``) named per trailer key."""
        keys = (START_TRAILER, HINT_TRAILER, GIVE_UP_TRAILER, HINT_FAULT_TRAILER)
        fields = "%x00".join(f"%(trailers:key={k},valueonly,separator=%x2C)" for k in keys)
        out = str(self.git("log", f"--format=%H%x00%ct%x00%s%x00{fields}%x1e", *rev_range))
        found = []
        for record in out.split("\x1e"):
            parts = record.strip("\n").split("\0")
            if len(parts) != 3 + len(keys):
                continue
            sha, time, subject, *values = parts
            ids = {  # an old id of a renamed kata counts for today's id (fault names stay)
                k: [
                    v.strip() if k == HINT_FAULT_TRAILER else current_id(v.strip())
                    for v in value.split(",")
                    if v.strip()
                ]
                for k, value in zip(keys, values, strict=True)
            }
            if any(ids.values()):
                found.append((Commit(sha, int(time), subject), ids))
        return found

    def marker_commit(self, message: str) -> str:
        """Commit ``message`` on top of HEAD with HEAD's tree: whatever is staged or
        modified stays out of it and stays where it is."""
        head = self.resolve("HEAD")
        tree = str(self.git("rev-parse", "HEAD^{tree}")).strip()
        sha = str(self.git("commit-tree", tree, "-p", head, "-m", message)).strip()
        self.git("update-ref", "-m", "kata: marker commit", "HEAD", sha, head)
        return sha


def _commit(line: str) -> Commit:
    sha, time, subject = line.split("\0", 2)
    return Commit(sha, int(time), subject)
