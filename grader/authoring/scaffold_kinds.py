"""``kata new --kind capstone|implementation``: what differs from a bug kata's skeleton.

A capstone gets three placeholder faults, each with a visible test, its fix alone
(``faults/<fault>.patch``), a decoy (``decoys/<fault>/``), a hidden test file and a hint; an
implementation kata gets a brief that states the task and a stub whose tests all start
failing (nothing passes before it is written).
"""

from __future__ import annotations

from typing import Protocol


class NewKata(Protocol):
    """What this module reads of ``grader.authoring.scaffold.NewKata`` (which imports
    this module, so this one does not import it)."""

    id: str
    kind: str
    module: str

    @property
    def test_module(self) -> str: ...


FAULTS = ("first-fault", "second-fault", "third-fault")  # to rename: an area, never the fix


def _test_name(fault: str) -> str:
    return f"test_{fault.replace('-', '_')}_matches_the_oracle"


def toml_data(kata: NewKata, data: dict) -> dict:
    tests = f"{kata.test_module}.py"
    data = {**data, "kind": kata.kind}
    if kata.kind == "implementation":  # the stub fails every test
        every = [*data["tests"]["fail_to_pass"], *data["tests"]["pass_to_pass"]]
        return {**data, "tests": {"fail_to_pass": every, "pass_to_pass": []}}
    faults = [
        {"name": fault, "tests": [f"{tests}::{_test_name(fault)}"], "hint_count": 1}
        for fault in FAULTS
    ]
    faults[0]["tests"] = [*data["tests"]["fail_to_pass"], *faults[0]["tests"]]  # the oracle's
    return {
        **data,
        "hint_count": len(faults),
        "tests": {
            "fail_to_pass": [t for fault in faults for t in fault["tests"]],
            "pass_to_pass": data["tests"]["pass_to_pass"],
        },
        "faults": faults,
    }


CAPSTONE_TEST = '''

@given(x=inputs())
def {name}(x):
    """TODO ({placeholder}): a property of the component fault {fault} breaks; it must
    pass once that fault is fixed, whatever the state of the others."""
    got, want = {module}.transform(x).numpy(), oracle(x.numpy())
    err = float(np.abs(got - want).max())
    assert err < 1e-9, f"fault {fault}: output differs from the oracle by {{err:.3e}}"
'''

CAPSTONE_HOLDOUT = '''\
"""Hidden tests of fault {fault}: they pass only once it is fixed, whatever the state of
the others.  TODO ({placeholder}): properties its fix passes and its decoys fail.
"""

from __future__ import annotations

from hypothesis import given
from {tests} import inputs, oracle

from grader.grading.boundary import candidate

{module} = candidate("{module}")


@given(x=inputs(max_rows=16))
def test_{snake}_on_larger_inputs(x):
    err = float(abs({module}.transform(x).numpy() - oracle(x.numpy())).max())
    assert err < 1e-9, f"fault {fault}: output differs from the oracle by {{err:.3e}}"
'''

CAPSTONE_HINTS = """\
# A capstone's hints, per fault: `kata hint --fault NAME` shows the next one of that fault
# and records it. Private material: kata.toml only says how many each fault has.
"""

IMPLEMENTATION_BRIEF = """\
# {title}

TODO ({placeholder}): the task as an interviewer states it: what to implement, the
contract (shapes, dtypes, masks, edge cases such as an empty group or a fully padded row),
and an example call. The same contract goes into the module's docstrings.

```python
from {module} import transform
```

Files: {module}.py
Run: `kata test {id}`
"""


def files(
    kata: NewKata, out: dict[str, str], fields: dict[str, str], fix: str, decoy: str
) -> dict[str, str]:
    """The bug kata's skeleton ``out`` made into this kind's; ``fix`` and ``decoy`` are
    the templates of a fix and a decoy patch."""
    public, private = f"katas/{kata.id}", f"grader/private/{kata.id}"
    if kata.kind == "implementation":
        return {**out, f"{public}/README.md": IMPLEMENTATION_BRIEF.format(**fields)}

    # the bug kata's decoys and single holdout file give way to one of each per fault
    out = {
        path: text
        for path, text in out.items()
        if not path.startswith((f"{private}/decoys/", f"{private}/holdout/"))
    }
    tests = f"{public}/{kata.test_module}.py"
    hints = CAPSTONE_HINTS
    for fault in FAULTS:
        snake = fault.replace("-", "_")
        out[tests] += CAPSTONE_TEST.format(**fields, fault=fault, name=_test_name(fault))
        out[f"{private}/faults/{fault}.patch"] = fix.format(**fields)
        out[f"{private}/decoys/{fault}/treats-the-symptom.patch"] = decoy.format(
            **fields, what="a plausible wrong fix of this fault"
        )
        out[f"{private}/holdout/test_{snake}_holdout.py"] = CAPSTONE_HOLDOUT.format(
            **fields, fault=fault, snake=snake, tests=kata.test_module
        )
        hints += f'\n[faults.{fault}]\nhints = ["TODO: a hint that names the area of {fault}."]\n'
    out[f"{private}/hints.toml"] = hints
    return out


def next_steps(kata: NewKata) -> list[str]:
    folder, private = f"katas/{kata.id}", f"grader/private/{kata.id}"
    if kata.kind == "implementation":
        return [
            f"Write the brief {folder}/README.md (the task and its contract) and the stub "
            f"{folder}/{kata.module}.py: the contract in docstrings, bodies that raise "
            "NotImplementedError.",
            f"Write the property tests in {folder}/{kata.test_module}.py (any correct "
            "implementation must pass them) and list each in kata.toml's fail_to_pass.",
            f"Implement it in place and append the diff under the 'Fix:' paragraph of "
            f"{private}/reference.patch (git diff --relative={folder}); restore the stub.",
            f"At least three decoys (plausible wrong implementations) in {private}/decoys/, "
            f"an alternative correct implementation in {private}/alternatives/, holdout "
            "tests, hints and two or three follow-up questions.",
            f"kata validate {kata.id} --explore, then kata validate {kata.id}; kata seal "
            f"{kata.id}; kata catalogue --write-readme. More in CONTRIBUTING.md.",
        ]
    return [
        "Write the codebase (300-600 lines over 2-4 files; list them in kata.toml's files) "
        f"with 3-5 interacting faults, and the brief {folder}/README.md: a realistic report "
        "of symptoms, never the faults.",
        "Rename the faults in kata.toml (an area or a symptom, never the fix) and give each "
        "the visible tests that pass only once it is fixed, whatever the others' state.",
        f"For each fault: its fix alone in {private}/faults/<fault>.patch, at least one "
        f"decoy in {private}/decoys/<fault>/, hidden tests in "
        f"{private}/holdout/test_<fault>_holdout.py, hints under [faults.<fault>] in "
        f"{private}/hints.toml.",
        f"Every fix together in {private}/reference.patch, a complete correct solution "
        f"written differently in {private}/alternatives/, two to five follow-up questions.",
        f"kata validate {kata.id} -v (each fault's fix alone passes its group and leaves the "
        f"others failing); kata seal {kata.id}; kata catalogue --write-readme.",
    ]
