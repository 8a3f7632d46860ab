"""grader/ is layered by context and imports only run downwards:

    cli -> board / loop / authoring -> grading -> catalogue

``grader.usage`` (UsageError, exit codes) sits below everything and any module may import
it.  Imports are read with ``ast`` (those inside functions too), so a lazy import cannot
hide an upward dependency or a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

GRADER = Path(__file__).resolve().parent.parent / "grader"

LAYERS = {
    "grader.cli": 4,
    "grader.board": 3,
    "grader.loop": 3,
    "grader.authoring": 3,
    "grader.grading": 2,
    "grader.catalogue": 1,
    "grader.usage": 0,
    "grader": 0,  # the package's own __init__: no code
}


def module_name(path: Path, package_root: Path) -> str:
    parts = path.relative_to(package_root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package_root: Path) -> dict[str, Path]:
    """Every module of the package; ``private/`` holds kata material, not package code."""
    paths = sorted(package_root.rglob("*.py"))
    return {
        module_name(p, package_root): p
        for p in paths
        if "private" not in p.relative_to(package_root).parts
    }


def imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """The grader modules ``path`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in known else base)
    return {target for target in found if target in known}


def layer_of(name: str) -> tuple[str, int] | None:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            return prefix, LAYERS[prefix]
    return None


def layering_problems(package_root: Path) -> list[str]:
    known = modules(package_root)
    graph = {name: imports(path, name, known) for name, path in known.items()}
    problems = []
    for name in sorted(graph):
        mine = layer_of(name)
        if mine is None or (mine[0] == "grader" and name != "grader"):
            problems.append(f"{name}: not in a layer; put it in one of {sorted(LAYERS)}")
            continue
        for target in sorted(graph[name]):
            theirs = layer_of(target)
            if theirs is None or theirs[0] == mine[0]:
                continue
            if theirs[1] >= mine[1]:
                problems.append(f"{name} imports {target}: {theirs[0]} is not below {mine[0]}")
    problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one (iterative DFS)."""
    found, state = [], {}
    for root in sorted(graph):
        if root in state:
            continue
        stack = [(root, iter(sorted(graph[root])))]
        path = [root]
        state[root] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = "done"
                stack.pop()
                path.pop()
            elif state.get(child) == "open":
                found.append([*path[path.index(child) :], child])
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(sorted(graph[child]))))
                path.append(child)
    return found


def test_grader_imports_only_run_downwards_and_never_in_a_cycle():
    assert layering_problems(GRADER) == []


def test_every_layer_exists_as_a_package():
    for name in LAYERS:
        if name not in ("grader", "grader.usage"):
            assert (GRADER.parent / name.replace(".", "/") / "__init__.py").is_file(), name


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"__init__.py": "", **files}.items():
        path = tmp_path / "grader" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "grader"


def test_the_check_catches_an_upward_import_even_inside_a_function(tmp_path):
    root = _tree(
        tmp_path,
        {
            "cli/__init__.py": "",
            "cli/main.py": "",
            "grading/__init__.py": "",
            "grading/grade.py": "def f():\n    from grader.cli import main\n",
        },
    )
    assert layering_problems(root) == [
        "grader.grading.grade imports grader.cli.main: grader.cli is not below grader.grading"
    ]


def test_the_check_catches_sideways_imports_cycles_and_stray_modules(tmp_path):
    root = _tree(
        tmp_path,
        {
            "board/__init__.py": "",
            "board/publish.py": "from grader.loop import state\n",
            "loop/__init__.py": "",
            "loop/state.py": "",
            "cli/__init__.py": "",
            "cli/a.py": "from . import b\n",
            "cli/b.py": "from grader.cli import a\n",
            "helpers.py": "",
        },
    )
    assert layering_problems(root) == [
        "grader.board.publish imports grader.loop.state: grader.loop is not below grader.board",
        "grader.helpers: not in a layer; put it in one of " + str(sorted(LAYERS)),
        "import cycle: grader.cli.a -> grader.cli.b -> grader.cli.a",
    ]
