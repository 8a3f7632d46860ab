"""The in-process runner: outcomes from pytest's hooks, nothing from the environment."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from grader.grading.runner import run_tests


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text))


def test_outcomes_messages_and_falsifying_examples(tmp_path):
    write(
        tmp_path,
        "test_sample.py",
        """
        import pytest
        from hypothesis import given, strategies as st

        def test_passes():
            pass

        @given(st.integers(0, 50))
        def test_property(x):
            assert x < 7, f"value {x} should stay below 7"

        def test_raises():
            raise ValueError("boom")

        @pytest.fixture
        def broken():
            raise RuntimeError("fixture broke")

        def test_setup_error(broken):
            pass

        def test_skipped():
            pytest.skip("not today")
        """,
    )
    run = run_tests(tmp_path)
    assert run.exit_code == 1
    assert run.verdicts() == {
        "test_sample.py::test_passes": "passed",
        "test_sample.py::test_property": "failed",
        "test_sample.py::test_raises": "failed",
        "test_sample.py::test_setup_error": "error",
        "test_sample.py::test_skipped": "skipped",
    }
    prop = run.results["test_sample.py::test_property"]
    assert prop.exceptions == ("AssertionError",)
    first, *notes = prop.message.splitlines()
    value = int(first.split()[1])
    assert value >= 7 and first == f"value {value} should stay below 7"
    assert f"x={value}," in "".join(notes)  # hypothesis's falsifying example
    assert run.results["test_sample.py::test_raises"].message == "ValueError: boom"
    assert run.outcome("test_sample.py::test_absent") == "missing"


def test_conftest_ini_files_and_pytest_addopts_are_ignored(tmp_path, monkeypatch):
    write(tmp_path, "conftest.py", "import pytest\ncollect_ignore = ['test_one.py']\n")
    write(tmp_path, "pytest.ini", "[pytest]\naddopts = -k nothing_matches\n")
    write(tmp_path, "pyproject.toml", "[tool.pytest.ini_options]\naddopts = '-x'\n")
    write(tmp_path, "test_one.py", "def test_a():\n    assert False, 'really ran'\n")
    monkeypatch.setenv("PYTEST_ADDOPTS", "--collect-only")
    run = run_tests(tmp_path)
    assert run.verdicts() == {"test_one.py::test_a": "failed"}
    assert run.results["test_one.py::test_a"].message.startswith("really ran")
    assert not (tmp_path / ".pytest_cache").exists()


def test_collection_errors_are_reported(tmp_path):
    write(tmp_path, "test_broken.py", "import not_a_module_anywhere\n")
    run = run_tests(tmp_path)
    assert run.results == {}
    assert "not_a_module_anywhere" in run.collection_errors[0]
    assert run.exit_code != 0


def test_a_second_run_sees_edited_modules(tmp_path):
    write(tmp_path, "scale_mod.py", "def factor():\n    return 1\n")
    write(
        tmp_path,
        "test_scale_mod.py",
        """
        from grader.grading.boundary import candidate

        scale = candidate("scale_mod")

        def test_f():
            assert scale.factor() == 2, f"factor={scale.factor()}"
        """,
    )
    assert run_tests(tmp_path).verdicts() == {"test_scale_mod.py::test_f": "failed"}
    write(tmp_path, "scale_mod.py", "def factor():\n    return 2\n")
    assert run_tests(tmp_path).verdicts() == {"test_scale_mod.py::test_f": "passed"}


def test_the_tests_cannot_import_the_kata_module_itself(tmp_path):
    write(tmp_path, "scale_mod.py", "import sys\nFACTOR = 2\nsys.modules['ran'] = True\n")
    write(
        tmp_path, "test_scale_mod.py", "from scale_mod import FACTOR\n\ndef test_f():\n    pass\n"
    )
    run = run_tests(tmp_path)
    assert run.results == {}
    assert "grader.grading.boundary.candidate" in run.collection_errors[0]
    import sys

    assert "ran" not in sys.modules  # the module never ran in this (the trusted) process


def test_what_the_code_under_test_raises_comes_back_with_its_own_frames(tmp_path):
    write(
        tmp_path,
        "shapes.py",
        """
        def check(n):
            if n < 0:
                raise ValueError(f"n must be >= 0, got {n}")
            return n

        class Odd(Exception):
            pass

        def odd():
            raise Odd("strange")
        """,
    )
    write(
        tmp_path,
        "test_shapes.py",
        """
        import pytest
        from grader.grading.boundary import CandidateError, candidate

        shapes = candidate("shapes")

        def test_builtin_type_is_kept():
            with pytest.raises(ValueError, match="got -1"):
                shapes.check(-1)

        def test_other_types_are_candidate_errors():
            with pytest.raises(CandidateError, match="Odd: strange"):
                shapes.odd()

        def test_unexpected_error():
            shapes.check(-2)
        """,
    )
    run = run_tests(tmp_path)
    assert run.verdicts() == {
        "test_shapes.py::test_builtin_type_is_kept": "passed",
        "test_shapes.py::test_other_types_are_candidate_errors": "passed",
        "test_shapes.py::test_unexpected_error": "failed",
    }
    message = run.results["test_shapes.py::test_unexpected_error"].message
    assert message.startswith("ValueError: n must be >= 0, got -2")
    assert "shapes.py:4 in check: raise ValueError" in message


def test_the_heap_is_frozen_once_per_process_and_only_with_torch(tmp_path):
    """Hypothesis's first test runs full garbage collections that would walk torch's
    heap (and so would the interpreter at exit): a run freezes it, once per process."""
    plain, with_torch = tmp_path / "plain", tmp_path / "torch"
    write(plain, "test_p.py", "def test_a():\n    assert 1 + 1 == 2\n")
    write(
        with_torch,
        "test_t.py",
        "import torch\n\ndef test_a():\n    assert torch.ones(2).sum() == 2\n",
    )
    script = textwrap.dedent(
        f"""
        import gc
        from pathlib import Path
        from grader.grading.runner import run_tests

        counts = [gc.get_freeze_count()]
        for folder in ({str(plain)!r}, {str(with_torch)!r}, {str(with_torch)!r}):
            assert run_tests(Path(folder)).exit_code == 0
            counts.append(gc.get_freeze_count())
        print(*counts)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    before, after_plain, after_torch, after_again = map(int, done.stdout.split())
    assert before == after_plain == 0
    assert after_torch > 10_000  # torch's modules and what they hold
    assert after_again <= after_torch  # not frozen again (refcounting still frees some)


def test_a_claiming_run_takes_only_granted_tests_in_the_given_order(tmp_path):
    """``kata watch``'s workers share a check's tests, each asking for the next just
    before it runs one.  A test's teardown is planned for the next test in order; when
    another worker took that one, what the next test run here does not share (the other
    module's fixtures) must be torn down first, or pytest refuses to set it up."""
    log = tmp_path / "log.txt"
    fixture = (
        "import pytest\n\n"
        "@pytest.fixture(scope='module')\n"
        "def opened():\n"
        "    with open({log!r}, 'a') as f:\n"
        "        f.write('open {name}\\n')\n"
        "    yield\n"
        "    with open({log!r}, 'a') as f:\n"
        "        f.write('close {name}\\n')\n\n"
        "def test_1(opened):\n    pass\n\n"
        "def test_2(opened):\n    pass\n"
    )
    for name in ("a", "b"):
        write(tmp_path, f"test_{name}.py", fixture.format(log=str(log), name=name))
    order = ["test_b.py::test_2", "test_a.py::test_1", "test_a.py::test_2", "test_b.py::test_1"]
    asked = []

    def claim(test_id: str) -> bool:
        asked.append(test_id)
        return test_id != "test_a.py::test_2"  # another worker takes that one

    run = run_tests(tmp_path, order, claim=claim)
    assert asked == order
    assert run.verdicts() == {
        "test_a.py::test_1": "passed",
        "test_b.py::test_1": "passed",
        "test_b.py::test_2": "passed",
    }
    assert log.read_text().split("\n")[:-1] == [
        "open b",
        "close b",
        "open a",
        "close a",
        "open b",
        "close b",
    ]


def test_named_tests_run_first_in_the_order_named_and_a_folder_adds_the_rest(tmp_path):
    """Validation runs the test recorded as catching a decoy before the others, and stops
    at the first failure: a test named by node id runs before the rest of its folder."""
    write(
        tmp_path,
        "test_a.py",
        """\
        def test_1():
            pass

        def test_2():
            assert False, "test_2 fails"
        """,
    )
    write(tmp_path, "test_b.py", "def test_1():\n    assert False, 'b fails'\n")
    run = run_tests(tmp_path, ["test_b.py::test_1", "."], max_failures=1)
    assert list(run.results) == ["test_b.py::test_1"]
    run = run_tests(tmp_path, ["test_a.py::test_2", "test_a.py::test_1"])
    assert list(run.results) == ["test_a.py::test_2", "test_a.py::test_1"]
    run = run_tests(tmp_path, ["."])  # a folder alone: file order
    assert list(run.results) == ["test_a.py::test_1", "test_a.py::test_2", "test_b.py::test_1"]


def test_failures_are_not_formatted_as_pytest_tracebacks(tmp_path, monkeypatch):
    """A red verdict's message comes from the exception itself; pytest's own traceback
    (source parsed for every frame: ~40 ms a failure, and nothing reads it) is not built."""
    from _pytest._code.code import ExceptionInfo

    formatted = []
    original = ExceptionInfo.getrepr
    monkeypatch.setattr(
        ExceptionInfo,
        "getrepr",
        lambda self, *a, **k: formatted.append(self.typename) or original(self, *a, **k),
    )
    write(
        tmp_path,
        "test_a.py",
        """\
        def helper(values):
            assert sum(values) == 0, "the sum is not zero"

        def test_1():
            helper([1, 2])

        def test_2():
            raise ValueError("bad value")
        """,
    )
    run = run_tests(tmp_path)
    assert run.verdicts() == {"test_a.py::test_1": "failed", "test_a.py::test_2": "failed"}
    assert run.results["test_a.py::test_1"].message.startswith("the sum is not zero")
    assert "bad value" in run.results["test_a.py::test_2"].message
    assert formatted == []
