"""``kata new``: the skeleton of a kata, public folder and private material.

The skeleton loads with the catalogue (so ``kata list`` shows it) and runs under
``kata validate``, which fails it with a to-do list until the author has written the
module with its bug, the property tests, the reference fix and the decoys: the
placeholder module raises, and the placeholder patches hold no diff yet.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.catalogue.katas import SCHEMA_PATH, CatalogueError

PLACEHOLDER = "kata new placeholder"
DECOYS = {
    "tuned-to-the-brief": "a plausible wrong fix tuned to the example in the brief",
    "treats-the-symptom": "a plausible wrong fix that hides the symptom (a clamp, a "
    "renormalisation, a special case) and leaves the cause",
    "right-idea-off-by-one": "the right idea with a slip: an off-by-one, the wrong axis, "
    "a numerically unstable form",
}

BRIEF = """\
# {title}

TODO ({placeholder}): the bug report a colleague would file. What they were doing, what
they saw (numbers, not adjectives, as they would show in logs or plots), and what they
expected instead. Symptoms only: never the cause, the line, the fix, or the values the fix
must produce. Level 1 only: a short snippet that reproduces it (delete it at levels 2-3).

```python
from {module} import transform
```

Expected: TODO, the property that should hold for every valid input.

Files: {module}.py
Run: `kata test {id}`
"""

MODULE = '''\
"""TODO ({placeholder}): one paragraph on what this module does, where it sits in a
training or inference pipeline, and the paper or library behaviour it follows.

Write it as a colleague would: realistic names, type hints, docstrings, 40-150 lines of
code, and one silent bug (plausible numbers, no exception) that nothing marks.
"""

from __future__ import annotations

import torch


def transform(x: torch.Tensor) -> torch.Tensor:
    """TODO: what it computes, with shapes and dtypes."""
    raise NotImplementedError("{placeholder}: write the module, with its silent bug")
'''

VISIBLE_TESTS = '''\
"""Property tests for {module}: each states a property that holds for every valid input,
checked on hypothesis-generated inputs.  The bug must break the fail-to-pass tests and
no others.  TODO ({placeholder}): replace both tests; list every test in kata.toml.

The tests run in the trusted process and reach the module only through ``candidate``:
each call runs in the subject process and passes plain data (tensors, arrays, numbers,
lists, dicts).  What cannot cross (a model, an optimizer) is built by a ``harness.py``
next to the module (see CONTRIBUTING.md); every check and oracle stays here.
"""

from __future__ import annotations

import numpy as np
import torch
{imports}
{module} = candidate("{module}")


@st.composite
def inputs(draw, max_rows: int = 4, max_cols: int = 8) -> torch.Tensor:
    """Seeded float64 tensors: hypothesis draws the seed and the shape, torch the values."""
    seed = draw(st.integers(0, 2**31 - 1))
    rows, cols = draw(st.integers(1, max_rows)), draw(st.integers(1, max_cols))
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(rows, cols, generator=gen, dtype=torch.float64)


def oracle(x: np.ndarray) -> np.ndarray:
    """TODO: the float64 NumPy reference the module must agree with."""
    return x.copy()


@given(x=inputs())
def test_matches_the_float64_oracle(x):
    got, want = {module}.transform(x).numpy(), oracle(x.numpy())
    err = float(np.abs(got - want).max())
    assert err < 1e-9, (
        f"shape {{tuple(x.shape)}}: output differs from the float64 oracle by {{err:.3e}}"
    )


@given(x=inputs())
def test_output_keeps_the_input_shape(x):
    out = {module}.transform(x)
    assert out.shape == x.shape, f"shape {{tuple(x.shape)}} in, {{tuple(out.shape)}} out"
'''

HOLDOUT_TESTS = '''\
"""Holdout properties for {module}, never shown to the candidate: they catch fixes tuned
to the visible tests (other shapes, extreme values, a permuted batch, ...).
TODO ({placeholder}): properties the reference fix passes and decoys fail.
"""

from __future__ import annotations

{imports}
{module} = candidate("{module}")


@given(x=inputs(max_rows=16, max_cols=64))
def test_rows_are_transformed_independently(x):
    batched = {module}.transform(x)
    for i in range(x.size(0)):
        err = ({module}.transform(x[i : i + 1])[0] - batched[i]).abs().max().item()
        assert err < 1e-9, f"row {{i}} changes by {{err:.3e}} when transformed on its own"
'''

REFERENCE = """\
Fix: TODO ({placeholder}): the root cause in one or two sentences (what the code does, why
that is wrong, what the minimal change is); then, after a blank line, the unified diff of
the fix relative to the kata folder (see CONTRIBUTING.md).

"""

DECOY = """\
Decoy: TODO ({placeholder}): {what}. Why a candidate would try it, why it is wrong, and
which tests catch it; then, after a blank line, its diff. Rename the file for what it does.

"""


ALTERNATIVE = """\
Alternative: TODO ({placeholder}): a correct fix written differently (the library
equivalent, a vectorised form, another valid algorithm), which every visible and holdout
test must pass; then, after a blank line, its diff. Rename the file for what it does.

"""

QUESTIONS = """\
# Follow-up questions an interviewer asks after the fix, with model answers. Private
# material: `kata questions` shows them once the kata is green (answers with --answers).
[[questions]]
question = "TODO ({placeholder}): why did the symptom look the way it did?"
answer = "TODO: the mechanism, in two to six sentences."

[[questions]]
question = "TODO: what check, log or test would have caught it sooner?"
answer = "TODO: a concrete check."

[[questions]]
question = "TODO: where else does the same mistake appear?"
answer = "TODO: other modules or libraries where it happens."
"""


class ScaffoldError(CatalogueError):
    """Why the kata cannot be created, one entry per problem."""


@dataclass(frozen=True)
class NewKata:
    id: str
    topic: str
    title: str
    difficulty: int
    budget_minutes: int
    module: str
    kind: str = "bug"  # or "capstone", "implementation" (grader.authoring.scaffold_kinds)

    @property
    def test_module(self) -> str:
        return f"test_{self.module}"

    def toml_data(self) -> dict:
        tests = f"{self.test_module}.py"
        data = {
            "id": self.id,
            "title": self.title,
            "topic": self.topic,
            "difficulty": self.difficulty,
            "budget_minutes": self.budget_minutes,
            "files": [f"{self.module}.py"],
            "hint_count": len(HINTS),
            "tests": {
                "fail_to_pass": [f"{tests}::test_matches_the_float64_oracle"],
                "pass_to_pass": [f"{tests}::test_output_keeps_the_input_shape"],
            },
        }
        if self.kind != "bug":
            from grader.authoring import scaffold_kinds

            data = scaffold_kinds.toml_data(self, data)
        return data


HINTS = (  # private material: grader/private/<id>/hints.toml; kata.toml says how many
    "TODO: a first hint that names the function to look at, not the fix.",
    "TODO: a second hint: a small input to work through by hand.",
)


def hints_toml(hints: tuple[str, ...] = HINTS) -> str:
    text = (
        "# The kata's hints, in order: `kata hint` shows the next one and records it (a\n"
        "# Kata-Hint marker commit). Private material: kata.toml only says how many there are.\n"
        "hints = [\n" + "".join(f"  {json.dumps(h, ensure_ascii=False)},\n" for h in hints) + "]\n"
    )
    if tuple(tomllib.loads(text)["hints"]) != hints:  # a guard on the renderer
        raise AssertionError("hints.toml rendering lost information")
    return text


def id_pattern() -> re.Pattern[str]:
    """The kata id format, read from the kata.toml schema so there is one definition."""
    return re.compile(json.loads(SCHEMA_PATH.read_text())["properties"]["id"]["pattern"])


def default_module(kata_id: str) -> str:
    return kata_id.replace("-", "_")


def _taken_modules(root: Path) -> dict[str, str]:
    """Module names (files and test files) in use -> kata id.  Read leniently: a kata
    with a broken kata.toml should not stop another from being created."""
    taken: dict[str, str] = {}
    for toml_path in sorted((root / "katas").glob("*/kata.toml")):
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
            tests = data.get("tests", {})
            test_ids = [*tests.get("fail_to_pass", []), *tests.get("pass_to_pass", [])]
            names = [*data.get("files", []), *(t.split("::", 1)[0] for t in test_ids)]
        except (tomllib.TOMLDecodeError, AttributeError, TypeError):
            continue
        for name in names:
            taken[str(name).removesuffix(".py")] = toml_path.parent.name
    return taken


def _importable(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def check(root: Path, kata: NewKata) -> list[str]:
    """Everything that stops ``kata`` from being created under ``root``."""
    from grader.catalogue.katas import schema_problems

    if not id_pattern().fullmatch(kata.id):
        return [
            f"{kata.id!r} is not a kata id: lower-case letters and digits, in words joined "
            "by '-' (e.g. 'label-smoothing-loss')"
        ]
    problems = []
    for folder in (root / "katas" / kata.id, root / "grader" / "private" / kata.id):
        if folder.exists():
            problems.append(f"{folder} already exists: pick another id")
    if not kata.module.isidentifier() or kata.module.startswith("test_"):
        problems.append(
            f"module name {kata.module!r} is not an importable Python name (letters, digits "
            "and '_', not starting with a digit or 'test_'): pass --module NAME"
        )
    else:
        taken = _taken_modules(root)
        for name in (kata.module, kata.test_module):
            if name in taken and taken[name] != kata.id:  # its own folder is reported above
                problems.append(
                    f"module name {name!r} is already used by kata {taken[name]!r} (module "
                    "names are unique across katas): pass --module NAME"
                )
        if kata.module in sys.stdlib_module_names or _importable(kata.module):
            problems.append(
                f"module name {kata.module!r} would shadow an installed module: pass --module NAME"
            )
    problems += schema_problems(str(root / "katas" / kata.id / "kata.toml"), kata.toml_data())
    return problems


def _toml(data: dict) -> str:
    """kata.toml in the catalogue's house style (JSON strings are valid TOML strings)."""

    def value(v) -> str:
        return json.dumps(v, ensure_ascii=False)

    def array(items: list[str]) -> str:
        return "[\n" + "".join(f"  {value(item)},\n" for item in items) + "]"

    lines = [
        f"{key} = {value(data[key])}" for key in ("id", "title", "topic", "kind") if key in data
    ]
    lines += [f"difficulty = {data['difficulty']}", f"budget_minutes = {data['budget_minutes']}"]
    lines += [f"files = {value(data['files'])}", f"hint_count = {data['hint_count']}", ""]
    lines += ["[tests]"]
    lines += [f"{key} = {array(data['tests'][key])}" for key in ("fail_to_pass", "pass_to_pass")]
    for fault in data.get("faults", []):
        lines += ["", "[[faults]]", f"name = {value(fault['name'])}"]
        lines += [f"tests = {array(fault['tests'])}", f"hint_count = {fault['hint_count']}"]
    text = "\n".join(lines) + "\n"
    if tomllib.loads(text) != data:  # a guard on the renderer, not on user input
        raise AssertionError("kata.toml rendering lost information")
    return text


def _imports(*imports: tuple[str, str]) -> str:
    """``from M import N`` lines, ordered by module as ruff's isort orders them."""
    ordered = sorted(imports, key=lambda item: item[0])  # stable: keeps a module's order
    return "".join(f"from {module} import {names}\n" for module, names in ordered)


def files(kata: NewKata) -> dict[str, str]:
    """The skeleton: path relative to the repository root -> content."""
    mod, tests = kata.module, kata.test_module
    public, private = f"katas/{kata.id}", f"grader/private/{kata.id}"
    fields = {"id": kata.id, "title": kata.title, "module": mod, "placeholder": PLACEHOLDER}
    visible = _imports(("hypothesis", "given"), ("hypothesis", "strategies as st"))
    visible += "\nfrom grader.grading.boundary import candidate\n"
    holdout = _imports(("hypothesis", "given"), (tests, "inputs"))
    holdout += "\nfrom grader.grading.boundary import candidate\n"
    out = {
        f"{public}/kata.toml": _toml(kata.toml_data()),
        f"{public}/README.md": BRIEF.format(**fields),
        f"{public}/{mod}.py": MODULE.format(**fields),
        f"{public}/{tests}.py": VISIBLE_TESTS.format(**fields, imports=visible),
        f"{private}/reference.patch": REFERENCE.format(**fields),
        f"{private}/hints.toml": hints_toml(),
        f"{private}/questions.toml": QUESTIONS.format(**fields),
        f"{private}/alternatives/library-equivalent.patch": ALTERNATIVE.format(**fields),
        f"{private}/holdout/{tests}_holdout.py": HOLDOUT_TESTS.format(**fields, imports=holdout),
    }
    for name, what in DECOYS.items():
        out[f"{private}/decoys/{name}.patch"] = DECOY.format(**fields, what=what)
    if kata.kind != "bug":
        from grader.authoring import scaffold_kinds

        out = scaffold_kinds.files(kata, out, fields, REFERENCE, DECOY)
    return out


def create(root: Path, kata: NewKata) -> list[Path]:
    """Write the skeleton under ``root``, or raise ScaffoldError and write nothing."""
    problems = check(root, kata)
    if problems:
        raise ScaffoldError(problems)
    written = []
    for relative, content in files(kata).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written


def next_steps(kata: NewKata) -> list[str]:
    if kata.kind != "bug":
        from grader.authoring import scaffold_kinds

        return scaffold_kinds.next_steps(kata)
    folder, private = f"katas/{kata.id}", f"grader/private/{kata.id}"
    module = f"{folder}/{kata.module}.py"
    return [
        f"Write {module}: realistic code with one silent bug (40-150 lines of code), and "
        f"the brief {folder}/README.md: a bug report with symptoms, never the cause.",
        f"Write the property tests in {folder}/{kata.test_module}.py and list each in "
        "kata.toml: fail_to_pass (the bug breaks them), pass_to_pass (it does not).",
        f"Commit the buggy kata; fix the bug in place; append the diff under the 'Fix:' "
        f"paragraph: git diff --relative={folder} >> {private}/reference.patch ; then "
        f"restore the bug: git checkout -- {module}",
        f"The same for at least three decoys (plausible wrong fixes) in {private}/decoys/, "
        f"and holdout tests in {private}/holdout/ that catch fixes tuned to the visible tests; "
        f"at least one correct fix written differently in {private}/alternatives/ (it must "
        "pass every test).",
        f"The interviewer's follow-up questions with model answers in "
        f"{private}/questions.toml (two or three).",
        f"kata validate {kata.id} --explore (random examples find weak tests), then "
        f"kata validate {kata.id} until it is valid.",
        f"kata seal {kata.id}; kata catalogue --write-readme. More in CONTRIBUTING.md.",
    ]
