"""A candidate who wants to look green without fixing anything: one case per class of
attack on `kata grade`, each asserting the safe verdict.

Every attack lives in the candidate's editable module (the only file a candidate controls
in a ranked attempt) and leaves the bug in place, so the only safe verdict is red (or, for
hidden code, unranked).  They were written against the single-process grader, where each
one got a forged result, before the trusted/subject split that defeats them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kata_factory import BUGGY_MODULE, OLD_LINE, REFERENCE, attempt_repo, git

from grader.grading.gitdata import Repo
from grader.grading.grade import Limits, grade
from grader.grading.report import validate_report
from grader.grading.sandbox import Sandbox

T0 = 1_700_000_000
MODULE = "katas/good/good_stats.py"
LIMITS = Limits(test_timeout_s=5.0, run_timeout_s=60.0)
TESTS = (
    "test_good_stats.py::test_mean_of_four",
    "test_good_stats.py::test_spread",
    "test_good_stats_holdout.py::test_mean_of_other_lengths",
)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox()


@pytest.fixture
def repo(tmp_path) -> Path:
    return attempt_repo(tmp_path, started_at=T0, template_at=T0 - 1000)


def commit(root: Path, when: int, module: str) -> str:
    (root / MODULE).write_text(module)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "work", when=when)
    return git(root, "rev-parse", "HEAD")


def graded(root: Path, sandbox: Sandbox) -> dict:
    report = grade(Repo(root), "main", "HEAD", None, sandbox=sandbox, limits=LIMITS)
    validate_report(report)
    (kata,) = report["katas"]
    return kata


def buggy_plus(attack: str) -> str:
    """The shipped (buggy) module, then the attack."""
    return BUGGY_MODULE + "\n\n" + attack.strip() + "\n"


# 1. Candidate code finds the channel its verdict travels on and writes "passed".
FORGE_THE_VERDICT = """
import gc as _gc
import json as _json

_PASSED = [
    {"nodeid": n, "outcome": "passed", "message": "", "exceptions": [], "duration_s": 0.0,
     "output": ""}
    for n in __TESTS__
]
for _o in _gc.get_objects():
    if type(_o).__name__ == "Connection" and hasattr(_o, "send_bytes"):
        try:
            for _r in _PASSED:
                _o.send(("test", dict(_r, exceptions=())))
            _o.send(("done", {"exit_code": 0, "collection_errors": [], "tampered": []}))
        except Exception:
            pass
        try:
            for _r in _PASSED:
                _o.send_bytes(_json.dumps(["test", _r]).encode())
            _o.send_bytes(_json.dumps(["done", {"exit_code": 0, "collection_errors": []}]).encode())
        except Exception:
            pass
""".replace("__TESTS__", repr(TESTS))


def test_1_forging_the_verdict_channel_leaves_the_bug_red(repo, sandbox):
    commit(repo, T0 + 60, buggy_plus(FORGE_THE_VERDICT))
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"
    failing = {t["name"] for t in kata["tests"] if t["status"] != "pass"}
    assert "test_good_stats.py::test_mean_of_four" in failing


# 2. A message that runs code where it is decoded (pickle's __reduce__).
RUN_CODE_IN_THE_GRADER = """
import gc as _gc
import socket as _socket
import struct as _struct


class _Payload:
    def __reduce__(self):
        return (open, (__MARKER__, "w"))


for _o in _gc.get_objects():
    try:
        if type(_o).__name__ == "Connection" and hasattr(_o, "send"):
            _o.send(("done", _Payload()))
        elif isinstance(_o, _socket.socket):
            import pickle as _p

            _blob = _p.dumps(_Payload())
            _o.sendall(_struct.pack(">II", len(_blob), 0) + _blob)
    except Exception:
        pass
"""


def test_2_a_crafted_message_runs_nothing_on_the_trusted_side(repo, sandbox, tmp_path_factory):
    marker = tmp_path_factory.mktemp("trusted") / "decoded-by-the-grader"
    commit(
        repo, T0 + 60, buggy_plus(RUN_CODE_IN_THE_GRADER.replace("__MARKER__", repr(str(marker))))
    )
    kata = graded(repo, sandbox)
    assert not marker.exists(), "a message from the code under test ran code when decoded"
    assert kata["status"] == "red", kata


# 3. Reaching the test framework's classes through objects, and patching their methods.
PATCH_THE_FRAMEWORK = """
import gc as _gc

for _o in _gc.get_objects():
    _t = type(_o)
    if _t.__module__.startswith("_pytest") and _t.__name__ in ("CallInfo", "TestReport"):
        _orig = _t.__init__

        def _init(self, *a, _orig=_orig, **k):
            _orig(self, *a, **k)
            if hasattr(self, "outcome"):
                self.outcome = "passed"
                self.longrepr = None
            if hasattr(self, "excinfo"):
                self.excinfo = None

        _t.__init__ = _init
import sys as _s

_reports = _s.modules.get("_pytest.reports")
if _reports is not None:
    _orig_report = _reports.TestReport.__init__

    def _report(self, *a, **k):
        _orig_report(self, *a, **k)
        self.outcome = "passed"
        self.longrepr = None

    _reports.TestReport.__init__ = _report
"""


def test_3_patching_pytest_classes_changes_no_verdict(repo, sandbox):
    commit(repo, T0 + 60, buggy_plus(PATCH_THE_FRAMEWORK))
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"


# 4. An encoding declaration makes the interpreter run text that reads as a comment.
def utf7_hidden(text: str) -> str:
    """``text`` as one UTF-7 base64 run: to a UTF-8 reader, letters and digits only."""
    import base64

    return "+" + base64.b64encode(text.encode("utf-16-be")).decode().rstrip("=") + "-"


def test_4_a_non_utf8_encoding_declaration_is_unranked(repo, sandbox):
    # The comment hides, in UTF-7, a newline and code that a UTF-8 reader never sees.
    encoded = utf7_hidden("\n    return sum(values) / len(values)")
    assert "return" not in encoded
    module = (
        "# -*- coding: utf-7 -*-\n"
        '"""Summary statistics."""\n\n\n'
        "def mean(values: list[float]) -> float:\n"
        '    """Arithmetic mean of a non-empty list."""\n'
        f"    values = list(values)  # {encoded}\n"
        "    return sum(values) / (len(values) - 1)\n\n\n"
        "def spread(values: list[float]) -> float:\n"
        "    return max(values) - min(values)\n"
    )
    commit(repo, T0 + 60, module)
    kata = graded(repo, sandbox)
    assert kata["ranked"] is False
    assert any("utf-7" in reason for reason in kata["unranked_reasons"]), kata["unranked_reasons"]


# 5. A run writes into what the next run reads: the base's tests.
REWRITE_THE_BASE_TESTS = """
import glob as _glob
import os as _os

_passing = "def test_mean_of_four():\\n    pass\\n\\n\\ndef test_spread():\\n    pass\\n"
_hidden = "def test_mean_of_other_lengths():\\n    pass\\n"
for _root in _glob.glob(_os.path.join(__TMP__, "kata-grade-*")):
    for _dirpath, _dirs, _files in _os.walk(_root):
        for _f in _files:
            try:
                if _f == "test_good_stats.py":
                    open(_os.path.join(_dirpath, _f), "w").write(_passing)
                elif _f == "test_good_stats_holdout.py":
                    open(_os.path.join(_dirpath, _f), "w").write(_hidden)
            except OSError:
                pass
"""


def test_5_a_run_cannot_rewrite_the_tests_a_later_run_reads(repo, sandbox):
    import tempfile

    attack = REWRITE_THE_BASE_TESTS.replace("__TMP__", repr(tempfile.gettempdir()))
    commit(repo, T0 + 60, buggy_plus(attack))
    still_buggy = commit(repo, T0 + 120, buggy_plus(attack + "\nUNUSED = 1\n"))
    fixed = commit(repo, T0 + 600, BUGGY_MODULE.replace(OLD_LINE, REFERENCE))
    kata = graded(repo, sandbox)
    assert kata["status"] == "green"
    assert kata["green_commit"] == fixed, f"first green at {still_buggy[:10]}, a buggy commit"
    assert kata["time_to_green_s"] == 600


# 6. Code that is right only while the test runner is watching.
RIGHT_ONLY_UNDER_TEST = (
    '"""Summary statistics."""\n\n'
    "import sys\n\n\n"
    "def mean(values: list[float]) -> float:\n"
    '    """Arithmetic mean of a non-empty list."""\n'
    '    if "pytest" in sys.modules:\n'
    "        return sum(values) / len(values)\n"
    "    return sum(values) / (len(values) - 1)\n\n\n"
    "def spread(values: list[float]) -> float:\n"
    "    return max(values) - min(values)\n"
)


def test_6_code_that_is_right_only_under_the_test_runner_is_red(repo, sandbox):
    commit(repo, T0 + 60, RIGHT_ONLY_UNDER_TEST)
    kata = graded(repo, sandbox)
    assert kata["status"] == "red"


# 7. Bytes that are not UTF-8: a reader that replaces them sees another text than the
#    interpreter (which refuses the file), so the scan and the diff never read the code run.
def test_7_an_editable_file_that_is_not_utf8_is_unranked_with_file_and_byte(repo, sandbox):
    fixed = BUGGY_MODULE.replace(OLD_LINE, REFERENCE).encode()
    offset = len(fixed) + len(b'NOTE = "caf')
    (repo / MODULE).write_bytes(fixed + b'NOTE = "caf\xe9"\n')
    git(repo, "commit", "-qam", "work", when=T0 + 60)
    kata = graded(repo, sandbox)
    assert kata["ranked"] is False
    assert f"katas/good/good_stats.py is not UTF-8 (byte {offset})" in " ".join(
        kata["unranked_reasons"]
    ), kata["unranked_reasons"]
    # the subject ran the committed bytes, as the interpreter reads them: not a module
    assert kata["status"] == "red", kata["message"]


def test_an_honest_fix_is_still_green_and_ranked(repo, sandbox):
    commit(repo, T0 + 60, BUGGY_MODULE.replace(OLD_LINE, REFERENCE))
    kata = graded(repo, sandbox)
    assert (kata["status"], kata["ranked"]) == ("green", True), kata["unranked_reasons"]
