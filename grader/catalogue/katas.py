"""The kata catalogue: find the repository, load and check every ``kata.toml``.

Loading never imports torch, so listing the catalogue stays fast.  Every problem is
reported with the file, the field and what to do about it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from grader.usage import UsageError

TOPICS = (
    "attention",
    "decoding-and-lm",
    "training",
    "losses-and-numerics",
    "data-and-leakage",
    "metrics",
    "classical-ml",
)
SCHEMA_PATH = Path(__file__).parent.parent / "schemas" / "kata.schema.json"
ROOT_ENV = "KATA_ROOT"


class CatalogueError(Exception):
    """One or more problems in the catalogue, each as ``file: field: message``."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class NoCatalogue(CatalogueError, UsageError):
    """No catalogue where the command runs: bad usage, printed as one line."""


@dataclass(frozen=True)
class Fault:
    """One planted fault of a capstone: the visible tests that pass only once it is fixed
    (whatever the state of the others), and how many hints it has."""

    name: str
    tests: tuple[str, ...]
    hint_count: int


@dataclass(frozen=True)
class Kata:
    id: str
    title: str
    topic: str
    difficulty: int
    budget_minutes: int
    files: tuple[str, ...]
    hint_count: int  # public: how many hints there are; their text is private material
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...]
    silent: bool
    path: Path
    kind: str = "bug"  # or "capstone", "implementation" (kata.schema.json)
    faults: tuple[Fault, ...] = ()  # capstones only

    @property
    def is_capstone(self) -> bool:
        return self.kind == "capstone"

    @property
    def test_ids(self) -> tuple[str, ...]:
        return self.fail_to_pass + self.pass_to_pass

    @property
    def test_files(self) -> tuple[str, ...]:
        return tuple(sorted({test_id.split("::", 1)[0] for test_id in self.test_ids}))

    @property
    def root(self) -> Path:
        """The repository that holds this kata."""
        return self.path.parent.parent

    @property
    def private_dir(self) -> Path:
        """Reference fix, decoys, holdout tests, hints and the pristine seal."""
        return private_dir(self.path)

    @property
    def hints(self) -> tuple[str, ...]:
        """The hints' text, from the private material (``hints.toml``): out of the kata's
        folder, so that working on the kata never shows one that was not asked for (and
        sealed away with the rest in a cohort).  Empty when the private material is not
        here."""
        return tuple(h for hints in self.hints_by_fault.values() for h in hints)

    @property
    def hints_by_fault(self) -> dict[str, tuple[str, ...]]:
        """A capstone's hints per fault name; {"": hints} for other katas; {} when the
        private material is not here."""
        names = tuple(f.name for f in self.faults)
        return _private_hints(self.private_dir / "hints.toml", names) or {}


def private_dir(folder: Path) -> Path:
    """The private material of the kata in ``folder`` (``katas/<id>``)."""
    return folder.parent.parent / "grader" / "private" / folder.name


def find_root(start: Path | None = None) -> Path:
    """The repository whose ``katas/`` is the catalogue.

    ``$KATA_ROOT`` wins; then the nearest parent of ``start`` (default: the working
    directory) holding ``katas/`` and ``grader/``.  Never the checkout this package runs
    from: a command run elsewhere would read (and commit into) a repository the user is
    not in, while ``kata grade`` reads the one they are in.
    """
    if env := os.environ.get(ROOT_ENV):
        root = Path(env).resolve()
        if not (root / "katas").is_dir():
            raise NoCatalogue([f"${ROOT_ENV}={env}: no katas/ folder there"])
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "katas").is_dir() and (candidate / "grader").is_dir():
            return candidate
    package_root = Path(__file__).resolve().parents[2]
    installed = (
        f" (this `kata` is installed from {package_root}: `cd {package_root}`)"
        if (package_root / "katas").is_dir()
        else ""
    )
    raise NoCatalogue(
        [
            f"{here}: no kata catalogue here or above: run `kata` inside your copy of the "
            f"ml-debug-katas repository{installed}, or set ${ROOT_ENV}"
        ]
    )


@cache
def _validator():  # jsonschema is imported lazily: `kata --help` need not pay for it
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def _field(path) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "(top level)"


@cache
def _compiled_check():
    import fastjsonschema

    return fastjsonschema.compile(json.loads(SCHEMA_PATH.read_text()))


def schema_problems(where: str, data: dict) -> list[str]:
    """``where: field: message`` for each way ``data`` breaks the kata schema.  A compiled
    validator clears valid data in microseconds; jsonschema (0.2 s to import) is loaded
    only to explain invalid data."""
    import fastjsonschema

    try:
        _compiled_check()(data)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    problems = []
    for error in sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.path))):
        message = error.message
        if error.validator == "additionalProperties":
            message += f"; allowed fields: {', '.join(sorted(error.schema['properties']))}"
        elif error.validator == "pattern" and error.path and error.path[0] == "tests":
            message = f"{error.instance!r} is not a test id like 'test_module.py::test_name'"
        problems.append(f"{where}: {_field(error.path)}: {message}")
    return problems


def test_functions(test_file: Path) -> list[tuple[str, int]]:
    """Top-level ``test*`` functions of a test file with their line, in file order, found
    without importing it (a test module is untrusted until it runs in the sandbox)."""
    import ast

    tree = ast.parse(test_file.read_text(), filename=str(test_file))
    return [
        (node.name, node.lineno)
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    ]


def _hint_list(hints: object) -> bool:
    return isinstance(hints, list) and bool(hints) and all(isinstance(h, str) and h for h in hints)


def _private_hints(path: Path, faults: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]] | None:
    """The hints of a private ``hints.toml`` by fault ("" for a kata without faults:
    ``hints = [...]``; a capstone: ``[faults.<name>] hints = [...]``, one table per fault);
    None when there is no file.  Raises CatalogueError when it is malformed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogueError([f"{path}: not valid TOML: {exc}"]) from None
    if not faults:
        if not _hint_list(data.get("hints")):
            raise CatalogueError([f"{path}: hints: expected a list of non-empty strings"])
        return {"": tuple(data["hints"])}
    tables = data.get("faults")
    found = tables if isinstance(tables, dict) else {}
    problems = [
        f"{path}: faults.{name}.hints: expected a list of non-empty strings"
        for name in faults
        if not (isinstance(found.get(name), dict) and _hint_list(found[name].get("hints")))
    ]
    problems += [
        f"{path}: faults.{name}: no such fault in kata.toml" for name in found if name not in faults
    ]
    if problems:
        raise CatalogueError(problems)
    return {name: tuple(found[name]["hints"]) for name in faults}


def _kind_problems(where: str, data: dict) -> list[str]:
    """A capstone lists its faults, which share out its fail-to-pass tests and hints;
    other kinds have none."""
    faults = data.get("faults", [])
    if data.get("kind", "bug") != "capstone":
        return (
            [f'{where}: faults: only a capstone (kind = "capstone") has faults'] if faults else []
        )
    if not faults:
        return [f"{where}: faults: a capstone lists its 3-5 faults as [[faults]] tables"]
    problems = []
    names = [f["name"] for f in faults]
    problems += [
        f"{where}: faults: {n!r} is named twice"
        for n in sorted({n for n in names if names.count(n) > 1})
    ]
    owner: dict[str, list[str]] = {}
    for fault in faults:
        for test_id in fault["tests"]:
            owner.setdefault(test_id, []).append(fault["name"])
    f2p = data["tests"]["fail_to_pass"]
    for test_id, names_ in sorted(owner.items()):
        if test_id not in f2p:
            problems.append(
                f"{where}: faults: {names_[0]}: {test_id!r} is not in tests.fail_to_pass"
            )
        if len(names_) > 1:
            problems.append(f"{where}: faults: {test_id!r} belongs to {names_}; give it to one")
    problems += [
        f"{where}: tests: {t!r} belongs to no fault; list it under one [[faults]]"
        for t in f2p
        if t not in owner
    ]
    if sum(f["hint_count"] for f in faults) != data["hint_count"]:
        problems.append(
            f"{where}: hint_count: {data['hint_count']} is not the sum of the faults' hint_count"
        )
    return problems


def _semantic_problems(where: str, folder: Path, data: dict) -> list[str]:
    problems = []
    private = private_dir(folder) / "hints.toml"
    problems += _kind_problems(where, data)
    faults = {f["name"]: f["hint_count"] for f in data.get("faults", ())}
    try:
        hints = _private_hints(private, tuple(faults))
    except CatalogueError as exc:
        problems += exc.problems
    else:
        total = sum(len(h) for h in hints.values()) if hints is not None else None
        if total is not None and total != data["hint_count"]:
            problems.append(
                f"{where}: hint_count: {data['hint_count']}, but {private} holds "
                f"{total} hints; make them agree"
            )
        for name, count in faults.items():
            if hints is not None and len(hints[name]) != count:
                problems.append(
                    f"{where}: faults: {name}: hint_count {count}, but {private} holds "
                    f"{len(hints[name])} hints for it; make them agree"
                )
    if data["id"] != folder.name:
        problems.append(
            f"{where}: id: {data['id']!r} differs from the folder name {folder.name!r}; "
            "rename one so they match"
        )
    for name in data["files"]:
        if not (folder / name).is_file():
            problems.append(f"{where}: files: {name!r} does not exist in {folder}")
    f2p, p2p = data["tests"]["fail_to_pass"], data["tests"]["pass_to_pass"]
    for test_id in sorted(set(f2p) & set(p2p)):
        problems.append(
            f"{where}: tests: {test_id!r} is listed in both fail_to_pass and pass_to_pass"
        )
    by_file: dict[str, set[str]] = {}
    for test_id in (*f2p, *p2p):
        file_name, name = test_id.split("::", 1)
        by_file.setdefault(file_name, set()).add(name)
    for file_name, declared in sorted(by_file.items()):
        test_file = folder / file_name
        if not test_file.is_file():
            problems.append(f"{where}: tests: test file {file_name!r} does not exist in {folder}")
            continue
        defined = {name for name, _ in test_functions(test_file)}
        for name in sorted(declared - defined):
            problems.append(f"{where}: tests: {file_name} defines no test named {name!r}")
        for name in sorted(defined - declared):
            problems.append(
                f"{where}: tests: {file_name}::{name} is not listed; add it to "
                "fail_to_pass or pass_to_pass"
            )
    return problems


# Checking a kata (the schema with jsonschema, every test file parsed) costs more than
# listing the catalogue, so a kata found valid is remembered by a digest of everything the
# check reads; a change to any of it, to the schema or to this module checks it again.
# The digests live in the repository's .git directory, where nothing is ever committed
# (without one, every command checks, as before).
CHECKED_FILE = "kata-checked-katas.json"
_CHECKED_KEPT = 200


@cache
def _checker_digest() -> bytes:
    return hashlib.sha256(SCHEMA_PATH.read_bytes() + Path(__file__).read_bytes()).digest()


def _check_digest(folder: Path, toml_text: str, data: dict) -> str | None:
    """What the check of this kata depends on, or None when ``data`` is too malformed to
    say (then it is simply checked)."""
    try:
        test_files = sorted(
            {t.split("::", 1)[0] for group in data["tests"].values() for t in group}
        )
        digest = hashlib.sha256(_checker_digest())
        digest.update(f"{folder.name}\0{toml_text}\0".encode())
        digest.update("\0".join(sorted(p.name for p in folder.iterdir() if p.is_file())).encode())
        hints = private_dir(folder) / "hints.toml"
        for path in [*(folder / name for name in test_files), hints]:
            digest.update(b"\0" + (path.read_bytes() if path.is_file() else b"(missing)"))
        return digest.hexdigest()
    except (AttributeError, KeyError, TypeError, ValueError, OSError):
        return None


@cache
def _checked_file(root: Path) -> Path | None:
    """Where the digests of ``root``'s valid katas are kept: in its ``.git`` directory,
    where nothing is committed.  None (check every time) without one: outside git, or in
    a worktree, whose git directory lives in another checkout."""
    dot_git = root / ".git"
    return dot_git / CHECKED_FILE if dot_git.is_dir() else None


@cache
def _known_good(path: Path | None) -> dict[str, None]:
    """The digests, oldest first (a dict keeps the order)."""
    try:
        found = json.loads(path.read_text()) if path else []
    except (OSError, ValueError):
        return {}
    return dict.fromkeys(found) if isinstance(found, list) else {}


def _remember_good(path: Path | None, digest: str) -> None:
    known = _known_good(path)
    if path is None or digest in known:
        return
    known[digest] = None
    _write_json(path, list(known)[-_CHECKED_KEPT:])


def _write_json(path: Path, value: object) -> None:
    """Replace ``path`` at once (a reader never sees half a file); a read-only checkout
    keeps nothing, and every command checks, as before."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kata-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(value, handle)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):  # TypeError: a value JSON cannot hold
        pass


# Reading the digest still means reading and parsing every kata's files (a tenth of
# `kata list`).  So a kata found valid is also remembered with the stamp of its folder
# (each file's name, size and modification time, and those of its hints and of the
# checker): while the stamp is the same, the files are, and their parsed kata.toml is
# taken as it was.  Any write to the folder changes the stamp, and the kata is read
# (and its digest looked up) again.
STAMPS_FILE = "kata-catalogue-stamps.json"


def _file_stamps(paths) -> list:
    entries = []
    for path in paths:
        try:
            info = os.stat(path)
            entries.append([str(path), info.st_size, info.st_mtime_ns, info.st_ino])
        except OSError:
            entries.append([str(path)])
    return entries


@cache
def _checker_stamp() -> list:
    return _file_stamps([SCHEMA_PATH, Path(__file__)])


def _stamp(folder: Path) -> list:
    with os.scandir(folder) as entries:
        names = sorted(entry.path for entry in entries)
    return _file_stamps([*names, private_dir(folder) / "hints.toml"]) + _checker_stamp()


@cache
def _stamps(path: Path | None) -> dict:
    try:
        found = json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _remember_stamp(path: Path | None, folder: Path, stamp: list, digest: str, data: dict):
    if path is None:
        return
    stamps = _stamps(path)
    stamps[str(folder)] = [stamp, digest, data]
    _write_json(path, stamps)


def load_kata(folder: Path) -> Kata:
    """Load ``folder/kata.toml``; raise CatalogueError naming every problem found."""
    remembered = _checked_file(folder.parent.parent)
    stamps = remembered.with_name(STAMPS_FILE) if remembered else None
    stamp = _stamp(folder) if stamps else []
    known = _stamps(stamps).get(str(folder))
    if isinstance(known, list) and len(known) == 3 and known[0] == stamp:
        _, digest, data = known
        if digest in _known_good(remembered) and isinstance(data, dict):
            return _kata(folder, data)
    toml_path = folder / "kata.toml"
    where = str(toml_path)
    try:
        text = toml_path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise CatalogueError([f"{where}: missing; every folder in katas/ needs one"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError([f"{where}: not valid TOML: {exc}"]) from None
    digest = _check_digest(folder, text, data)
    if digest is None or digest not in _known_good(remembered):
        problems = schema_problems(where, data)
        if not problems:
            problems = _semantic_problems(where, folder, data)
        if problems:
            raise CatalogueError(problems)
        if digest is not None:
            _remember_good(remembered, digest)
    if digest is not None:
        _remember_stamp(stamps, folder, stamp, digest, data)
    return _kata(folder, data)


def _kata(folder: Path, data: dict) -> Kata:
    return Kata(
        id=data["id"],
        title=data["title"],
        topic=data["topic"],
        difficulty=data["difficulty"],
        budget_minutes=data["budget_minutes"],
        files=tuple(data["files"]),
        hint_count=data["hint_count"],
        fail_to_pass=tuple(data["tests"]["fail_to_pass"]),
        pass_to_pass=tuple(data["tests"]["pass_to_pass"]),
        silent=data.get("silent", data.get("kind") != "implementation"),
        path=folder,
        kind=data.get("kind", "bug"),
        faults=tuple(
            Fault(f["name"], tuple(f["tests"]), f["hint_count"]) for f in data.get("faults", ())
        ),
    )


def load_catalogue(root: Path) -> list[Kata]:
    """Every kata under ``root/katas``, in topic order then difficulty then id."""
    problems: list[str] = []
    katas: list[Kata] = []
    with os.scandir(root / "katas") as entries:  # no stat per entry, unlike Path.is_dir
        folders = sorted(Path(e.path) for e in entries if e.is_dir() and e.name[0] not in "._")
    for folder in folders:
        try:
            katas.append(load_kata(folder))
        except CatalogueError as exc:
            problems.extend(exc.problems)
    owners: dict[str, str] = {}
    for kata in katas:
        for name in (*kata.files, *kata.test_files):
            module = name.removesuffix(".py")
            if module in owners:
                problems.append(
                    f"{kata.path / 'kata.toml'}: files: module name {module!r} is also used by "
                    f"kata {owners[module]!r}; module names must be unique across katas"
                )
            owners[module] = kata.id
    if problems:
        raise CatalogueError(problems)
    return sorted(katas, key=lambda k: (TOPICS.index(k.topic), k.difficulty, k.id))


def kata_ids(root: Path) -> list[str]:
    """The ids of the catalogue's folders, without loading them."""
    return sorted(p.name for p in (root / "katas").iterdir() if (p / "kata.toml").is_file())


def closest_ids(wanted: str, ids: list[str]) -> list[str]:
    import difflib

    return difflib.get_close_matches(wanted, ids, n=3, cutoff=0.4)
