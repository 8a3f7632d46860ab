"""How big a candidate's change is, and which lint violations it introduced.

Pure functions over file contents (``path -> text``); the caller reads git. Sizes are
measured so that cosmetic edits are free and squeezing code together is not rewarded:

* lines ignore whitespace within a line (like ``git diff -w``), blank lines and comments,
  so re-indenting or commenting a fix costs nothing;
* tokens count Python tokens inserted plus deleted, ignoring comments, newlines and
  indentation; joining lines with ``;`` adds a token, so it never shrinks the count.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tokenize
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from grader.catalogue.katas import Kata

DEFAULT_SELECT = ("E9", "F", "B", "E711", "E712", "E722", "W6")

_SKIPPED = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}

# Fallback for text that ``tokenize`` rejects (a syntax error mid-edit). Comments and
# strings come first so that a ``#`` inside a string is not taken for a comment.
_TOKEN_RE = re.compile(
    r"""\#[^\r\n]*
    | [rRbBuUfF]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')
    | [^\W\d]\w*
    | \.?\d[\w.]*
    | \*\*=?|//=?|>>=?|<<=?|->|:=|\.\.\.|[-+*/%@&|^<>=!]=
    | \S""",
    re.VERBOSE,
)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class DiffSize:
    added: int  # lines added, whitespace ignored (like `git diff -w`), blank lines ignored
    removed: int  # lines removed, same rules
    total: int  # added + removed
    tokens: int  # Python tokens inserted + deleted (comments, whitespace, layout ignored)


@dataclass(frozen=True)
class LintViolation:
    path: str
    line: int
    code: str  # e.g. "F841"; "invalid-syntax" for a file ruff cannot parse
    message: str


def _tokens(text: str) -> list[str]:
    """Token strings of ``text``; the regex fallback keeps a broken file measurable."""
    try:
        found = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return [t for t in _TOKEN_RE.findall(text) if not t.startswith("#")]
    return [t.string for t in found if t.type not in _SKIPPED and t.string.strip()]


def _lines(text: str) -> list[str]:
    """Non-blank lines with comments and all whitespace removed."""
    code = _TOKEN_RE.sub(lambda m: "" if m.group().startswith("#") else m.group(), text)
    lines = ("".join(line.split()) for line in _LINE_BREAK.split(code))
    return [line for line in lines if line]


def _edits(a: list[str], b: list[str]) -> tuple[int, int]:
    """Items deleted from ``a`` and inserted from ``b`` (a replace of k by m is k + m)."""
    deleted = inserted = 0
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            deleted += i2 - i1
            inserted += j2 - j1
    return deleted, inserted


def diff_size(before: dict[str, str], after: dict[str, str]) -> DiffSize:
    """Size of the change from ``before`` to ``after``; a missing path is an empty file."""
    added = removed = tokens = 0
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path, ""), after.get(path, "")
        if old == new:
            continue
        gone, came = _edits(_lines(old), _lines(new))
        removed, added = removed + gone, added + came
        tokens += sum(_edits(_tokens(old), _tokens(new)))
    return DiffSize(added=added, removed=removed, total=added + removed, tokens=tokens)


def _ruff_command() -> list[str]:
    """The ruff of this interpreter's environment, never whatever is first on PATH."""
    exe = Path(sys.executable).parent / ("ruff.exe" if os.name == "nt" else "ruff")
    if exe.is_file():
        return [str(exe)]
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    raise RuntimeError(
        f"ruff is not installed for {sys.executable}; install it with `pip install ruff`"
    )


def _run_ruff(command: list[str], files: dict[str, str], rules: str) -> list[LintViolation]:
    """Lint ``files`` from a temporary tree with the same relative paths.

    ``--isolated`` ignores any configuration a candidate may have added, and
    ``--ignore-noqa`` stops a ``# noqa`` comment from hiding a new violation (violations
    already suppressed in the shipped code are reported on both sides and cancel out).
    """
    sources = {p: t for p, t in files.items() if p.endswith((".py", ".pyi"))}
    if not sources:
        return []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        by_file = {}
        for rel, text in sources.items():
            target = (root / rel).resolve()
            if not target.is_relative_to(root):
                raise ValueError(f"path escapes the checked tree: {rel!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8", newline="")
            by_file[target] = rel
        args = ["check", "--no-cache", "--isolated", "--ignore-noqa", "--output-format", "json"]
        proc = subprocess.run(
            [*command, *args, "--select", rules, "--", *map(str, by_file)],
            capture_output=True,
            text=True,
            cwd=root,
            check=False,
        )
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"ruff failed (exit {proc.returncode}): {proc.stderr.strip()}")
        return [
            LintViolation(
                path=by_file[Path(item["filename"]).resolve()],
                line=item["location"]["row"],
                code=item["code"] or item.get("name") or "unknown",
                message=item["message"],
            )
            for item in json.loads(proc.stdout)
        ]


def _line_text(text: str, line: int) -> str:
    lines = _LINE_BREAK.split(text)
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def new_lint_violations(
    before: dict[str, str], after: dict[str, str], *, select: list[str] | None = None
) -> list[LintViolation]:
    """Ruff violations in ``after`` that ``before`` does not have.

    Violations are matched by (path, code, stripped source line) as a multiset rather
    than by line number, so code that merely moved is not blamed on the candidate.
    """
    command = _ruff_command()
    rules = ",".join(select or DEFAULT_SELECT)

    def key(v: LintViolation, files: dict[str, str]) -> tuple[str, str, str]:
        return v.path, v.code, _line_text(files[v.path], v.line)

    old = Counter(key(v, before) for v in _run_ruff(command, before, rules))
    new = []
    for v in sorted(_run_ruff(command, after, rules), key=lambda v: (v.path, v.line)):
        if old[key(v, after)] > 0:
            old[key(v, after)] -= 1
        else:
            new.append(v)
    return new


def fix_size(before: Path, after: Path, files: tuple[str, ...]) -> int:
    """Lines changed between two copies of a kata, measured exactly as the grader
    measures a candidate's change (whitespace, blank lines and comments ignored)."""
    return diff_size(
        {name: (before / name).read_text() for name in files},
        {name: (after / name).read_text() for name in files},
    ).total


def reference_size(kata: Kata, workdir: Path) -> int | None:
    """The reference fix's size, measured on the pristine kata; None without a
    reference patch or when it does not apply."""
    from grader.catalogue import patches, pristine

    patch = kata.private_dir / "reference.patch"
    if not patch.is_file():
        return None
    before, after = workdir / f"{kata.id}-pristine", workdir / f"{kata.id}-reference"
    pristine.materialize(kata, before)
    shutil.copytree(before, after)
    if patches.apply(patch, after).returncode != 0:
        return None
    return fix_size(before, after, kata.files)
