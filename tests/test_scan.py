"""grader.grading.scan: every cheat pattern is flagged with its rule and line;
honest kata code is not."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader.grading.scan import Finding, new_findings, scan_source

REPO = Path(__file__).resolve().parents[1]


def hits(source: str) -> list[tuple[int, str]]:
    return [(f.line, f.rule) for f in scan_source(textwrap.dedent(source), "m.py")]


CHEATS = {
    "import-pytest": ("import pytest\n", [(1, "import-pytest")]),
    "from-_pytest": ("from _pytest.monkeypatch import MonkeyPatch\n", [(1, "import-pytest")]),
    "star-pytest": ("from pytest import *\n", [(1, "import-pytest")]),
    "unittest-mock": ("from unittest import mock\n", [(1, "import-mock")]),
    "mock-alias-used": (
        "import unittest.mock as um\num.patch('torch.allclose').start()\n",
        [(1, "import-mock"), (2, "import-mock")],
    ),
    "star-mock": ("from unittest.mock import *\n", [(1, "import-mock")]),
    "builtins-patch": (
        "import builtins\nbuiltins.len = lambda x: 0\n",
        [(1, "builtins"), (2, "builtins")],
    ),
    "builtins-dunder": ("run = getattr(__builtins__, 'ex' + 'ec')\n", [(1, "builtins")]),
    "introspection-imports": (
        "import inspect\nimport gc\nfrom ctypes import pythonapi\n",
        [(1, "introspection"), (2, "introspection"), (3, "introspection")],
    ),
    "getframe": (
        """\
        import sys

        def caller_locals():
            return sys._getframe(1).f_locals
        """,
        [(4, "introspection")],
    ),
    "frame-attr": ("def f(frame):\n    return frame.f_back.f_globals\n", [(2, "introspection")]),
    "settrace": (
        "import sys\nsys.settrace(None)\nsys.setprofile(None)\n",
        [(2, "introspection"), (3, "introspection")],
    ),
    "star-sys": ("from sys import *\n", [(1, "star-import")]),
    "sys-exit-alias": ("import sys as s\ns.exit(0)\n", [(2, "exit")]),
    "os-_exit-from-alias": ("from os import _exit as q\nq(0)\n", [(1, "exit"), (2, "exit")]),
    "exit-quit-builtins": (
        "exit()\nquit(0)\nraise SystemExit\n",
        [(1, "exit"), (2, "exit"), (3, "exit")],
    ),
    "kill-signal-atexit": (
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\nimport atexit\n",
        [(1, "exit"), (2, "exit"), (3, "exit")],
    ),
    "dunder-import": ("np = __import__('numpy')\n", [(1, "dynamic-import")]),
    "importlib": (
        "import importlib\nm = importlib.import_module('torch')\n",
        [(1, "dynamic-import"), (2, "dynamic-import")],
    ),
    "exec-eval-compile": (
        "exec('x = 1')\ny = eval('2')\nc = compile('3', 'f', 'eval')\nrun = exec\n",
        [(1, "exec"), (2, "exec"), (3, "exec"), (4, "exec")],
    ),
    "globals-write": (
        "globals()['layer_norm'] = None\nglobals().update(x=1)\n",
        [(1, "namespace-write"), (2, "namespace-write")],
    ),
    "vars-module-write": (
        "import numpy as np\nvars(np)['allclose'] = None\nnp.__dict__['isclose'] = None\n",
        [(2, "namespace-write"), (3, "namespace-write")],
    ),
    "monkeypatch-chain": (
        "import torch\ntorch.testing.assert_close = lambda *a, **k: None\n",
        [(2, "monkeypatch-module")],
    ),
    "monkeypatch-aliased-submodule": (
        "import torch.nn.functional as F\nF.layer_norm = lambda x, *a, **k: x\n",
        [(2, "monkeypatch-module")],
    ),
    "monkeypatch-from-import": (
        "from torch import testing\ntesting.assert_close = print\n",
        [(2, "monkeypatch-module")],
    ),
    "monkeypatch-aug-del": (
        "import numpy as np\nnp.allclose += 0\ndel np.isclose\n",
        [(2, "monkeypatch-module"), (3, "monkeypatch-module")],
    ),
    "monkeypatch-dunder": (
        "import torch\ntorch.Tensor.__eq__ = lambda a, b: True\n",
        [(2, "monkeypatch-module")],
    ),
    "monkeypatch-setattr": (
        "import torch\nimport numpy as np\n"
        "setattr(torch.testing, 'assert_close', print)\ndelattr(np, 'allclose')\n",
        [(3, "monkeypatch-module"), (4, "monkeypatch-module")],
    ),
    "monkeypatch-dunder-setattr": (
        "import torch\ntorch.testing.__setattr__('assert_close', print)\n"
        "object.__setattr__(torch, 'x', 1)\n",
        [(2, "monkeypatch-module"), (3, "monkeypatch-module")],
    ),
    "monkeypatch-local-alias": (
        "import torch\nt = torch.testing\nt.assert_close = print\n"
        "getattr(torch, 'testing').assert_close = print\n",
        [(3, "monkeypatch-module"), (4, "monkeypatch-module")],
    ),
    "sys-modules-read-write": (
        "import sys\nreal = sys.modules['torch']\nsys.modules['torch'] = None\n",
        [(2, "sys-modules"), (3, "sys-modules")],
    ),
    "sys-modules-from-import": ("from sys import modules as m\n", [(1, "sys-modules")]),
    "import-hooks": (
        "import sys\nsys.meta_path.insert(0, object())\nsys.path_hooks.clear()\n",
        [(2, "import-hooks"), (3, "import-hooks")],
    ),
    "environment": (
        "import os\nimport sys\nA = os.environ.get('PYTEST_CURRENT_TEST')\n"
        "B = os.getenv('CI')\nC = len(sys.argv)\nfrom os import environ\n",
        [(3, "environment"), (4, "environment"), (5, "environment"), (6, "environment")],
    ),
    "serialization": (
        "import pickle\nimport marshal as m\nfrom runpy import run_path\n",
        [(1, "serialization"), (2, "serialization"), (3, "serialization")],
    ),
    "processes": (
        "import subprocess\nimport os\npid = os.fork()\nimport multiprocessing.connection\n",
        [(1, "processes"), (3, "processes"), (4, "processes")],
    ),
    "network": ("import socket\nfrom urllib import request\n", [(1, "network"), (2, "network")]),
    "torch-overrides": (
        "import torch\nfrom torch.overrides import TorchFunctionMode\n"
        "M = torch.utils._python_dispatch.TorchDispatchMode\n",
        [(2, "torch-overrides"), (3, "torch-overrides")],
    ),
}


@pytest.mark.parametrize(("source", "expected"), CHEATS.values(), ids=CHEATS.keys())
def test_cheat_is_flagged_with_rule_and_line(source, expected):
    assert hits(source) == expected


def test_nested_in_class_method_conditional_and_closure():
    source = """\
        import math
        import torch as T

        class Norm:
            def forward(self, x):
                if x.ndim > 2:
                    def inner():
                        T.testing.assert_close = lambda *a, **k: None
                    inner()
                elif math.isnan(x.sum()):
                    import os
                    os._exit(0)
                return x
        """
    assert hits(source) == [(8, "monkeypatch-module"), (12, "exit")]


def test_imports_inside_a_function_count_and_default_arguments_use_the_outer_scope():
    source = """\
        def patch():
            import numpy
            numpy.allclose = lambda *a, **k: True

        import sys
        def peek(sys=sys.modules):
            return sys
        """
    assert hits(source) == [(3, "monkeypatch-module"), (6, "sys-modules")]


def test_shadowing_in_comprehension_other_function_or_class_body_does_not_hide_a_patch():
    source = """\
        import numpy as np
        names = [np for np in ("a", "b")]
        def helper(np):
            return np
        np.allclose = lambda *a, **k: True

        class Sneaky:
            np = None  # a class attribute is not visible inside its methods
            def run(self):
                np.isclose = lambda *a, **k: True
        """
    assert hits(source) == [(5, "monkeypatch-module"), (10, "monkeypatch-module")]


def test_global_declaration_binds_the_import_at_module_level():
    source = """\
        def load():
            global s
            import sys as s
        s.exit(0)
        """
    assert hits(source) == [(4, "exit")]


def test_attributes_of_parameters_loop_variables_and_self_are_not_flagged():
    source = """\
        import torch
        from torch import nn

        def strip_bias(module: nn.Module) -> None:
            module.bias = None
            for child in module.children():
                child.weight = nn.Parameter(torch.ones(3))
                del child.bias
            setattr(module, "scale", 1.0)

        class Block(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.weight = nn.Parameter(torch.ones(dim))
                object.__setattr__(self, "frozen", True)
                nn.Module.__setattr__(self, "dim", dim)
        """
    assert hits(source) == []


def test_builtin_names_shadowed_by_locals_and_same_named_methods_are_not_flagged():
    source = """\
        import re
        import torch

        def run(model, loader, eval: bool = True, compile=None):
            if eval:
                model.eval()
            fast = torch.compile(model)
            pattern = re.compile("x")
            exit_code = 0
            return fast, pattern, compile, exit_code
        """
    assert hits(source) == []


ATTENTION = '''\
    """Multi-head self-attention with an optional causal mask."""

    from __future__ import annotations

    import math
    from dataclasses import dataclass, field
    from functools import partial

    import torch
    import torch.nn.functional as F
    from torch import Tensor, nn


    @dataclass(frozen=True)
    class AttnConfig:
        dim: int = 64
        heads: int = 4
        dropout: float = 0.0
        extra: dict[str, float] = field(default_factory=dict)


    class Attention(nn.Module):
        def __init__(self, cfg: AttnConfig) -> None:
            super().__init__()
            self.cfg = cfg
            self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
            self.out = nn.Linear(cfg.dim, cfg.dim)
            self.act = partial(F.dropout, p=cfg.dropout)
            self.register_buffer("mask", torch.ones(1, 1, 512, 512).tril().bool(), persistent=False)

        def forward(self, x: Tensor, causal: bool = True) -> Tensor:
            b, t, d = x.shape
            q, k, v = self.qkv(x).chunk(3, dim=-1)
            q, k, v = (z.view(b, t, self.cfg.heads, -1).transpose(1, 2) for z in (q, k, v))
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
            if causal:
                scores = scores.masked_fill(~self.mask[..., :t, :t], float("-inf"))
            attn = self.act(F.softmax(scores, dim=-1), training=self.training)
            return self.out((attn @ v).transpose(1, 2).reshape(b, t, d))
    '''

PCA = '''\
    """PCA by SVD of the centred data."""

    from typing import NamedTuple

    import numpy as np


    class PCAResult(NamedTuple):
        components: np.ndarray
        explained_variance: np.ndarray
        mean: np.ndarray


    def fit_pca(x: np.ndarray, k: int) -> PCAResult:
        mean = x.mean(axis=0)
        _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
        var = s**2 / max(len(x) - 1, 1)
        return PCAResult(vt[:k], var[:k], mean)


    def transform(res: PCAResult, x: np.ndarray) -> np.ndarray:
        return (x - res.mean) @ res.components.T
    '''

CONFIG = '''\
    """Optimiser config with overridable fields."""

    import logging
    from typing import Any

    logger = logging.getLogger(__name__)


    class OptimConfig:
        lr = 1e-3
        weight_decay = 0.01

        def __init__(self, **overrides: Any) -> None:
            for name, value in overrides.items():
                if not hasattr(self, name):
                    raise KeyError(name)
                setattr(self, name, value)
                logger.debug("override %s=%r (was %r)", name, value, getattr(self, name))
            vars(self).update(frozen=True)
            self.__dict__["seen"] = sorted(overrides)

        def as_dict(self) -> dict[str, Any]:
            return {k: getattr(self, k) for k in ("lr", "weight_decay")}
    '''


@pytest.mark.parametrize("source", [ATTENTION, PCA, CONFIG], ids=["attention", "pca", "config"])
def test_honest_samples_have_no_findings(source):
    assert hits(source) == []


def test_shipped_kata_modules_scan_clean():
    modules = [
        p
        for p in sorted(REPO.glob("katas/*/*.py"))
        if not p.name.startswith("test_") and p.name != "conftest.py"
    ]
    if not modules:
        pytest.skip("no kata modules in this checkout")
    assert {str(p): scan_source(p.read_text(), str(p)) for p in modules} == {
        str(p): [] for p in modules
    }


def test_syntax_error_is_a_single_finding_at_its_line():
    found = scan_source("import torch\n\ndef f(x:\n    return x\n", "katas/k/m.py")
    assert len(found) == 1
    assert (found[0].path, found[0].line, found[0].rule) == ("katas/k/m.py", 3, "syntax-error")


def test_findings_are_sorted_and_messages_quote_the_code_on_one_line():
    found = scan_source("import sys\nsys.modules.clear()\nimport pytest\n", "pkg/m.py")
    assert [(f.line, f.rule) for f in found] == [(2, "sys-modules"), (3, "import-pytest")]
    assert found[0] == Finding("pkg/m.py", 2, "sys-modules", found[0].message)
    assert "`sys.modules`" in found[0].message and "`import pytest`" in found[1].message
    assert all("\n" not in f.message and len(f.message) < 160 for f in found)


BASE = """\
import math
import sys


def norm(x):
    if math.isnan(x):
        sys.exit(1)
    return x / 2
"""


def test_new_findings_ignores_unchanged_suspicious_lines():
    after = BASE.replace("x / 2", "x / 3")
    assert scan_source(after, "m.py") != []
    assert new_findings(BASE, after, "m.py") == []


def test_new_findings_reports_added_and_changed_lines():
    after = BASE.replace("    return x / 2", "    globals()['math'] = None\n    return x / 2")
    after = after.replace("sys.exit(1)", "sys.exit(2)")
    assert [(f.line, f.rule) for f in new_findings(BASE, after, "m.py")] == [
        (7, "exit"),
        (8, "namespace-write"),
    ]


def test_new_findings_counts_a_multiline_node_when_any_of_its_lines_changed():
    before = "import torch\nsetattr(\n    torch.testing,\n    'assert_close',\n    None,\n)\n"
    after = before.replace("None", "print")
    assert [(f.line, f.rule) for f in new_findings(before, after, "m.py")] == [
        (2, "monkeypatch-module")
    ]


def test_new_findings_reports_an_unchanged_line_made_suspicious_elsewhere():
    before = "from runner import Runner as s\ns.exit(0)\n"
    after = "import sys as s\ns.exit(0)\n"
    assert [(f.line, f.rule) for f in new_findings(before, after, "m.py")] == [(2, "exit")]


def test_new_findings_on_a_new_file_reports_everything():
    after = "import inspect\nx = eval('1')\n"
    assert new_findings("", after, "m.py") == scan_source(after, "m.py")
