"""Change size and new lint violations, measured from file contents alone."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from grader.grading.diffsize import DiffSize, LintViolation, diff_size, new_lint_violations

BEFORE = """\
def variance(x, n):
    mean = sum(x) / n
    total = sum((v - mean) ** 2 for v in x)
    return total / (n - 1)
"""


def size(before: str, after: str, path: str = "m.py") -> DiffSize:
    return diff_size({path: before}, {path: after})


def test_identical_files_cost_nothing():
    assert size(BEFORE, BEFORE) == DiffSize(added=0, removed=0, total=0, tokens=0)


def test_one_line_change_is_one_added_one_removed():
    after = BEFORE.replace("total / (n - 1)", "total / n")
    assert size(BEFORE, after) == DiffSize(added=1, removed=1, total=2, tokens=4)


def test_known_token_count():
    # `(`, `-`, `1`, `)` deleted; nothing inserted.
    assert size("y = x / (n - 1)\n", "y = x / n\n").tokens == 4
    # `n` replaced by `(`, `m`, `+`, `1`, `)`: 1 deleted + 5 inserted.
    assert size("y = x / n\n", "y = x / (m + 1)\n").tokens == 1 + 5


def test_pure_reindent_is_free():
    after = "if True:\n" + "".join("    " + line + "\n" for line in BEFORE.splitlines())
    reindented = after.replace("if True:\n", "").replace("    ", "  ")
    assert size(BEFORE, reindented) == DiffSize(0, 0, 0, 0)


def test_whitespace_inside_a_line_is_free():
    after = BEFORE.replace("(v - mean) ** 2", "(v-mean)**2").replace("sum(x) / n", "sum( x )/n")
    assert size(BEFORE, after) == DiffSize(0, 0, 0, 0)


def test_blank_lines_are_free():
    after = BEFORE.replace("\n", "\n\n\n").replace("    mean", "\n    \n    mean")
    assert size(BEFORE, after) == DiffSize(0, 0, 0, 0)


def test_comments_cost_nothing_in_lines_or_tokens():
    after = (
        "# Sample variance with Bessel's correction.\n"
        + BEFORE.replace("return total", "# unbiased\n    return total")
        + "    # trailing note\n"
    ).replace("mean = sum(x) / n", "mean = sum(x) / n  # the average")
    assert size(BEFORE, after) == DiffSize(0, 0, 0, 0)


def test_hash_inside_a_string_is_code_not_a_comment():
    result = size('s = "a # b"\n', 's = "a # c"\n')
    assert (result.added, result.removed, result.tokens) == (1, 1, 2)


def test_docstring_edit_counts_as_one_token_replaced():
    result = size('def f():\n    """Old."""\n', 'def f():\n    """New words."""\n')
    assert result == DiffSize(added=1, removed=1, total=2, tokens=2)


def test_replace_two_lines_by_three():
    before = "a = 1\nb = 2\nc = 3\n"
    after = "a = 1\nx = 10\ny = 20\nz = 30\n"
    # Tokens are diffed on their own: the `=` signs still line up, so 4 + 7, not 6 + 9.
    assert size(before, after) == DiffSize(added=3, removed=2, total=5, tokens=4 + 7)


def test_new_file_and_deleted_file():
    created = diff_size({}, {"new.py": "a = 1\n\nb = 2\n"})
    assert created == DiffSize(added=2, removed=0, total=2, tokens=6)
    deleted = diff_size({"old.py": "a = 1\nb = 2\n"}, {})
    assert deleted == DiffSize(added=0, removed=2, total=2, tokens=6)


def test_multiple_files_are_summed():
    before = {"a.py": "x = 1\n", "b.py": "y = 2\n", "same.py": "z = 3\n"}
    after = {"a.py": "x = 2\n", "b.py": "y = 2\nw = 4\n", "same.py": "z = 3\n"}
    assert diff_size(before, after) == DiffSize(added=2, removed=1, total=3, tokens=2 + 3)


def test_squeezing_a_fix_onto_one_line_does_not_shrink_its_tokens():
    before = "def f(x):\n    return x\n"
    honest = "def f(x):\n    x = x - x.mean()\n    x = x / x.std()\n    return x\n"
    squeezed = "def f(x):\n    x = x - x.mean(); x = x / x.std(); return x\n"
    assert size(before, squeezed).tokens >= size(before, honest).tokens
    assert size("a = 1\nb = 2\n", "a = 1; b = 2\n").tokens == 1


def test_syntax_error_side_falls_back_without_raising():
    broken = BEFORE.replace("return total / (n - 1)", 'return total / (n - 1\n    s = """open')
    result = size(BEFORE, broken)
    assert result.added == 2 and result.removed == 1
    assert result.tokens > 0
    assert size("x = (1,\n", "x = (1, 2,\n").tokens == 2  # both sides broken
    assert size("if x:\n  a\n b\n", "if x:\n  a\n b\n") == DiffSize(0, 0, 0, 0)


def test_fallback_tokenizer_matches_tokenize_on_simple_code():
    # An unclosed `(` makes `tokenize` fail on both sides; the regex still drops the comment.
    broken = size("(\ny = x / (n - 1)  # c\n", "(\ny = x / n\n")
    assert broken.tokens == size("y = x / (n - 1)\n", "y = x / n\n").tokens == 4


# --- lint -------------------------------------------------------------------------------

LINT_BEFORE = """\
def loss(pred, target):
    diff = pred - target
    return (diff**2).mean()
"""


def test_new_unused_variable_is_reported_with_its_line():
    after = LINT_BEFORE.replace("    return", "    scale = 2\n    return")
    found = new_lint_violations({"pkg/loss.py": LINT_BEFORE}, {"pkg/loss.py": after})
    assert [(v.path, v.line, v.code) for v in found] == [("pkg/loss.py", 3, "F841")]
    assert "scale" in found[0].message
    assert isinstance(found[0], LintViolation)


def test_preexisting_violation_that_moved_is_not_new():
    before = LINT_BEFORE.replace("    return", "    unused = 1\n    return")
    after = '"""Docs."""\n\nimport math\n\n\n' + before.replace("diff**2", "diff**2 / math.pi")
    assert new_lint_violations({"loss.py": before}, {"loss.py": after}) == []


def test_fixed_violation_is_not_reported():
    before = LINT_BEFORE.replace("    return", "    unused = 1\n    return")
    assert new_lint_violations({"loss.py": before}, {"loss.py": LINT_BEFORE}) == []


def test_duplicate_violations_are_matched_as_a_multiset():
    before = "def f():\n    a = 1\n"
    after = "def f():\n    a = 1\n\n\ndef g():\n    a = 1\n"
    found = new_lint_violations({"m.py": before}, {"m.py": after})
    assert [(v.line, v.code) for v in found] == [(6, "F841")]


def test_noqa_does_not_hide_a_new_violation():
    after = LINT_BEFORE.replace("    return", "    scale = 2  # noqa: F841\n    return")
    found = new_lint_violations({"loss.py": LINT_BEFORE}, {"loss.py": "# ruff: noqa\n" + after})
    assert [(v.line, v.code) for v in found] == [(4, "F841")]


def test_violations_sorted_per_path_and_new_files_linted():
    before = {"b.py": "import os\n"}
    after = {
        "b.py": "import os\nimport sys\n",
        "a.py": "x = 1\ny = x == None\nz = w\n",
        "notes.txt": "import os\n",
    }
    found = new_lint_violations(before, after)
    assert [(v.path, v.line, v.code) for v in found] == [
        ("a.py", 2, "E711"),
        ("a.py", 3, "F821"),
        ("b.py", 2, "F401"),
    ]


def test_select_narrows_the_rules_and_candidate_config_is_ignored():
    # Only Python files are written out, and `--isolated` ignores any config ruff could find.
    after = {"m.py": "import os\nx == None\n", "pyproject.toml": "[tool.ruff]\nexclude = ['*']\n"}
    found = new_lint_violations({}, after, select=["E711"])
    assert [(v.line, v.code) for v in found] == [(2, "E711")]


def test_syntax_error_is_a_new_violation():
    found = new_lint_violations({"m.py": "x = 1\n"}, {"m.py": "def f(:\n"})
    assert found and all(v.code == "invalid-syntax" for v in found)


def test_missing_ruff_raises_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="pip install ruff"):
        new_lint_violations({}, {"m.py": "x = 1\n"})


def test_paths_may_not_escape_the_temporary_tree():
    with pytest.raises(ValueError, match="escapes"):
        new_lint_violations({}, {"../evil.py": "x = 1\n"})
