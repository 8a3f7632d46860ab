"""Static scan of a candidate's module for code that no honest bug fix needs.

A second line of defence behind the test run: a candidate could make the tests pass from
inside the module they edit (patch torch or numpy, talk to pytest, exit early, swap modules)
instead of fixing the bug.  Every rule targets a construct kata code never needs, so an
honest fix scans clean.  Names are resolved per scope, through import aliases, ``x = mod.attr``
aliases and ``getattr(mod, "attr")``; a determined cheater can still evade a static scan
(e.g. by passing a module as an argument), so a finding is a signal, its absence no proof.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    path: str  # as given by the caller
    line: int  # 1-based line in the scanned source
    rule: str  # short stable id
    message: str  # what was found and why it is not allowed


# rule -> (qualified names it covers, each with everything below it, e.g. "pytest.fixture";
# why no fix needs them).  Imports, bare names and attribute chains are all checked against it.
TABLE: dict[str, tuple[tuple[str, ...], str]] = {
    "import-pytest": (("pytest", "_pytest"),
                      "the module under test must not talk to the test framework"),
    "import-mock": (("unittest", "mock"), "mocking belongs in tests, not in the module under test"),
    "builtins": ((), "a fix never needs to reach into or change Python's builtins"),
    "introspection": (("inspect", "gc", "ctypes", "sys._getframe", "sys._current_frames",
                       "sys.settrace", "sys.setprofile", "threading.settrace",
                       "threading.setprofile"),
                      "a fix never needs to inspect frames, callers or live objects"),
    "dynamic-import": (("importlib", "builtins.__import__"), "a fix uses plain import statements"),
    "exec": (("builtins.exec", "builtins.eval", "builtins.compile"),
             "a fix never needs to run code built at runtime"),
    "exit": (("sys.exit", "os._exit", "os.kill", "os.killpg", "os.abort", "signal", "atexit",
              "builtins.exit", "builtins.quit", "builtins.SystemExit"),
             "a fix never needs to stop or signal the process"),
    "sys-modules": (("sys.modules",), "a fix never needs to look up or swap loaded modules"),
    "import-hooks": (("sys.meta_path", "sys.path_hooks", "sys.path_importer_cache"),
                     "a fix never needs to change how modules are imported"),
    "environment": (("os.environ", "os.environb", "os.getenv", "os.getenvb", "os.putenv",
                     "os.unsetenv", "sys.argv", "sys.orig_argv"),
                    "a fix never needs the process's environment or arguments (code that "
                    "behaves differently under test reads them)"),
    "serialization": (("pickle", "marshal", "runpy", "copyreg", "shelve", "dill",
                       "cloudpickle"),
                      "a fix never needs to load or run serialized code"),
    "processes": (("subprocess", "multiprocessing", "os.fork", "os.forkpty", "os.system",
                   "os.popen", "os.execv", "os.execve", "os.execl", "os.execle", "os.execlp",
                   "os.execlpe", "os.execvp", "os.execvpe", "os.posix_spawn", "os.posix_spawnp",
                   "os.spawnv", "os.spawnve", "os.spawnl", "os.spawnle", "pty"),
                  "a fix never needs to start processes"),
    "network": (("socket", "ssl", "urllib", "http", "ftplib", "smtplib", "requests"),
                "a fix never needs the network"),
    "torch-overrides": (("torch.overrides", "torch.utils._python_dispatch",
                         "torch._C._set_torch_function_mode", "torch.library"),
                        "a fix never needs to intercept torch's own functions"),
    "star-import": ((), "a star import of this module hides which of its names are used"),
    "monkeypatch-module": ((), "changing an imported module alters library or test behaviour"),
    "namespace-write": ((), "a fix defines names with plain statements"),
}  # fmt: skip
RULES = {name: rule for rule, (names, _) in TABLE.items() for name in names}
WHY = {rule: why for rule, (_, why) in TABLE.items()}
# Attribute names that reach frames, code objects or another module's globals, on any object.
ATTR_RULES = {"__builtins__": "builtins"} | dict.fromkeys(
    ("__globals__", "__code__", "__closure__", "__subclasses__", "f_back", "f_globals",
     "f_locals", "f_builtins", "tb_frame", "gi_frame", "cr_frame"), "introspection",
)  # fmt: skip
BUILTIN_NAMES = frozenset(dir(builtins)) | {"exit", "quit"}  # site adds exit/quit
MUTATORS = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"}
SETATTRS = {"builtins.setattr", "builtins.delattr", "__setattr__", "__delattr__"}
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_DEFS = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_COMPS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class _Scope:
    """Names bound in one scope: import targets (str), ``(expr, scope)`` aliases, None (local)."""

    def __init__(self, kind: str, parent: _Scope | None) -> None:
        self.kind, self.parent = kind, parent
        self.names: dict[str, list] = {}
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()


def _split(node: ast.AST) -> tuple[list, list]:
    """Children of a scope-creating node: (evaluated in the enclosing scope, in the new one)."""
    if isinstance(node, _FUNCS):
        a = node.args
        params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, [a.vararg, a.kwarg])]
        outer = [*a.defaults, *filter(None, a.kw_defaults)]
        outer += [p.annotation for p in params if p.annotation]
        if isinstance(node, ast.Lambda):
            return outer, [*params, node.body]
        return [*outer, *node.decorator_list, *filter(None, [node.returns])], [*params, *node.body]
    if isinstance(node, ast.ClassDef):
        return [*node.decorator_list, *node.bases, *node.keywords], node.body
    first, *rest = node.generators
    elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
    return [first.iter], [first.target, *first.ifs, *rest, *elts]


def _walk(tree: ast.Module) -> Iterator[tuple[ast.AST, _Scope]]:
    """Every node with the scope its names resolve in; iterative, so deep code cannot crash it."""
    stack: list[tuple[ast.AST, _Scope]] = [(tree, _Scope("module", None))]
    while stack:
        node, scope = stack.pop()
        yield node, scope
        if isinstance(node, (*_FUNCS, ast.ClassDef, *_COMPS)):
            outer, inner = _split(node)
            new = _Scope("class" if isinstance(node, ast.ClassDef) else "function", scope)
            stack += [(n, scope) for n in outer] + [(n, new) for n in inner]
        elif not isinstance(node, ast.arg):  # an arg's annotation belongs to the outer scope
            stack += [(n, scope) for n in ast.iter_child_nodes(node)]


def _from_name(node: ast.ImportFrom, name: str) -> str:
    base = "." * node.level + (node.module or "")
    return base if name == "*" else f"{base}.{name}" if node.module else base + name


def _bindings(node: ast.AST, scope: _Scope) -> Iterator[tuple[str, object]]:
    """(name, import target | alias | None) pairs for every name ``node`` binds."""
    if isinstance(node, ast.Import):
        for a in node.names:
            top = a.name.split(".")[0]
            yield (a.asname, a.name) if a.asname else (top, top)
    elif isinstance(node, ast.ImportFrom):
        yield from ((a.asname or a.name, _from_name(node, a.name)) for a in node.names)
    elif isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if len(targets) == 1 and isinstance(targets[0], ast.Name) and node.value is not None:
            yield targets[0].id, (node.value, scope)  # `t = torch.testing` makes t an alias
    elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        yield node.id, None
    elif isinstance(node, ast.arg):
        yield node.arg, None
    elif isinstance(node, _DEFS | ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
        yield node.name, None  # def/class names, `except E as name`, match captures
    elif isinstance(node, ast.MatchMapping) and node.rest:
        yield node.rest, None


def _lookup(name: str, scope: _Scope | None, depth: int = 0) -> str | None:
    """Qualified name a bare name refers to ("torch.nn.functional", "builtins.exec"), or None."""
    first = True
    while scope is not None:
        if name in scope.names and (first or scope.kind != "class"):
            values = scope.names[name]
            if imported := [v for v in values if isinstance(v, str)]:
                return imported[0]
            aliases = [v for v in values if v is not None] if depth < 8 else []
            return next(filter(None, (_resolve(e, s, depth + 1) for e, s in aliases)), None)
        first, scope = False, scope.parent
    if name == "__builtins__":
        return "builtins"
    return f"builtins.{name}" if name in BUILTIN_NAMES else None


def _resolve(expr: ast.AST, scope: _Scope, depth: int = 0) -> str | None:
    """Qualified name of a ``name.attr.attr`` / ``getattr(x, "attr")`` chain, or None."""
    parts: list[str] = []
    while True:
        if isinstance(expr, ast.Attribute):
            parts.append(expr.attr)
            expr = expr.value
        elif _is_getattr(expr, scope, depth):
            parts.append(expr.args[1].value)
            expr = expr.args[0]
        elif isinstance(expr, ast.Name):
            base = _lookup(expr.id, scope, depth)
            return base and ".".join([base, *reversed(parts)])
        else:
            return None


def _is_getattr(expr: ast.AST, scope: _Scope, depth: int) -> bool:
    return (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and len(expr.args) >= 2
        and isinstance(expr.args[1], ast.Constant)
        and isinstance(expr.args[1].value, str)
        and _lookup(expr.func.id, scope, depth) == "builtins.getattr"
    )


def _imported(expr: ast.AST, scope: _Scope) -> bool:
    """Whether ``expr`` is a name bound by an import, or an attribute chain of one."""
    name = _resolve(expr, scope)
    return name is not None and name.split(".")[0] != "builtins"


def _rule_for(name: str | None) -> str | None:
    if name == "builtins":  # the module itself; "builtins.len" is just a builtin
        return "builtins"
    parts = (name or "").split(".")
    for i in range(len(parts), 0, -1):
        if rule := RULES.get(".".join(parts[:i])):
            return rule
    return None


def _namespace(expr: ast.AST, scope: _Scope) -> bool:
    """Whether ``expr`` is a module's namespace dict: globals(), vars(module), module.__dict__."""
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        func = _lookup(expr.func.id, scope)
        if func in ("builtins.globals", "builtins.locals"):
            return True
        return func == "builtins.vars" and (not expr.args or _imported(expr.args[0], scope))
    if isinstance(expr, ast.Attribute) and expr.attr == "__dict__":
        return _imported(expr.value, scope)
    return False


def _check(node: ast.AST, scope: _Scope) -> Iterator[tuple[ast.AST, str, str | None]]:
    """(node, rule, quote or None to quote the node's source) for what is wrong with ``node``."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        for a in node.names:
            if isinstance(node, ast.Import):
                name, quote = a.name, f"import {a.name}"
            else:
                name = _from_name(node, a.name)
                quote = f"from {'.' * node.level}{node.module or ''} import {a.name}"
            rule = _rule_for(name)
            if rule is None and a.name == "*" and any(k.startswith(f"{name}.") for k in RULES):
                rule = "star-import"
            if rule:
                yield a, rule, quote + (f" as {a.asname}" if a.asname else "")
    elif isinstance(node, ast.Name | ast.Attribute):
        if rule := ATTR_RULES.get(getattr(node, "attr", "")):
            yield node, rule, None
        rule = _rule_for(_resolve(node, scope))
        if rule and rule != _rule_for(_resolve(getattr(node, "value", None), scope)):
            yield node, rule, None  # the shortest matching chain: `sys.modules`, not `.get`
        store = isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load)
        if store and _imported(node.value, scope):  # torch.testing.assert_close = ..., del np.x
            yield node, "monkeypatch-module", None
    elif isinstance(node, ast.Subscript) and not isinstance(node.ctx, ast.Load):
        if _namespace(node.value, scope):  # globals()["x"] = ...
            yield node, "namespace-write", None
    elif isinstance(node, ast.Call):
        func, target = node.func, node.args[0] if node.args else None
        attr = func.attr if isinstance(func, ast.Attribute) else None
        patch = (_resolve(func, scope) if isinstance(func, ast.Name) else attr) in SETATTRS
        if attr in SETATTRS and len(node.args) < (3 if attr == "__setattr__" else 2):
            # bound `mod.__setattr__(name, value)`, not unbound `Cls.__setattr__(obj, name, value)`
            target = func.value
        if patch and target is not None and _imported(target, scope):
            yield node, "monkeypatch-module", None
        if attr in MUTATORS and _namespace(func.value, scope):  # globals().update(...)
            yield node, "namespace-write", None


def _lines(source: str) -> list[str]:
    """Lines as the parser counts them (str.splitlines also splits on \\f, \\x1c, ...)."""
    return source.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _quote(lines: list[str], node: ast.AST) -> str:
    """The node's source on its first line (ast.get_source_segment re-splits the whole file)."""
    line = lines[node.lineno - 1].encode()  # offsets are in UTF-8 bytes
    if node.end_lineno != node.lineno:
        return line[node.col_offset :].decode(errors="replace") + " ..."
    return line[node.col_offset : node.end_col_offset].decode(errors="replace")


def _scan(source: str, path: str) -> list[tuple[Finding, int]]:
    """Findings with the last line of their node, deduplicated per (line, rule)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError) as exc:  # ValueError: NUL bytes
        line = getattr(exc, "lineno", None) or 1
        msg = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        return [(Finding(path, line, "syntax-error", f"The file does not parse: {msg}."), line)]
    pairs = list(_walk(tree))
    for node, scope in pairs:
        if isinstance(node, ast.Global | ast.Nonlocal):
            (scope.globals if isinstance(node, ast.Global) else scope.nonlocals).update(node.names)
    module = pairs[0][1]
    for node, scope in pairs:
        for name, value in _bindings(node, scope):
            if name not in scope.nonlocals:
                target = module if name in scope.globals else scope
                target.names.setdefault(name, []).append(value)
    lines, found = _lines(source), {}
    for node, scope in pairs:
        for where, rule, quote in _check(node, scope):
            quote = " ".join((quote or _quote(lines, where)).split())
            quote = quote if len(quote) <= 60 else quote[:57] + "..."
            finding = Finding(path, where.lineno, rule, f"`{quote}`: {WHY[rule]}.")
            found.setdefault((where.lineno, rule), (finding, where.end_lineno or where.lineno))
    return sorted(found.values(), key=lambda item: (item[0].line, item[0].rule))


def scan_source(source: str, path: str) -> list[Finding]:
    """All findings in ``source``, sorted by line."""
    return [finding for finding, _ in _scan(source, path)]


def new_findings(before: str, after: str, path: str) -> list[Finding]:
    """Findings of ``after`` that the change introduced.

    A finding counts if any line of its node was added or changed, or if the matching line of
    ``before`` did not have it (an edit elsewhere, e.g. rebinding a name to ``sys``, can make an
    unchanged line suspicious).
    """
    old, new = _lines(before), _lines(after)
    unchanged: dict[int, int] = {}  # line in after -> same line in before
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, _, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            unchanged.update((j1 + k + 1, i1 + k + 1) for k in range(j2 - j1))
    had = {(f.line, f.rule) for f, _ in _scan(before, path)}
    return [
        finding
        for finding, end in _scan(after, path)
        if not all(n in unchanged for n in range(finding.line, end + 1))
        or (unchanged[finding.line], finding.rule) not in had
    ]


_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def source_text_problems(text_or_bytes: str | bytes, path: str) -> list[str]:
    """An editable file must be UTF-8 and declare no other encoding: the interpreter would
    otherwise run text that the scan and the diff size never read."""
    data = (
        text_or_bytes.encode("utf-8", "surrogateescape")
        if isinstance(text_or_bytes, str)
        else text_or_bytes
    )
    problems = []
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"{path} is not UTF-8 (byte {exc.start}): save it as UTF-8")
    for line in data.splitlines()[:2]:
        match = _CODING.match(line)
        if match and match.group(1).decode("ascii", "replace").lower().replace("_", "-") not in (
            "utf-8",
            "utf8",
        ):
            declared = match.group(1).decode("ascii", "replace")
            problems.append(
                f"{path} declares the source encoding {declared!r}: "
                "editable files must be UTF-8 with no other encoding declaration"
            )
            break
    return problems
