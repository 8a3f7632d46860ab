"""The benchmark scripts time what they say they time: a "fixed" save is the reference
fix (a bench that saved the shipped bug as the fix timed red checks as green ones)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# a capstone whose reference.patch has `diff --git` headers (git diff --relative)
CAPSTONE = "risk-model-stuck-at-chance-auc"


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and the like look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench_watch():
    return _bench("bench_watch")


def test_the_patch_has_headers_git_reads_from_a_repository_root():
    head = (ROOT / "grader" / "private" / CAPSTONE / "reference.patch").read_text()
    assert "\ndiff --git a/" in head


def test_bench_watch_saves_the_reference_fix_of_a_capstone_in_a_git_copy(tmp_path, bench_watch):
    repo = bench_watch.copy_repo(tmp_path / "repo")
    buggy, fixed = bench_watch.versions(repo, CAPSTONE)
    assert set(buggy) == set(fixed) and len(fixed) == 4
    changed = {name for name in fixed if fixed[name] != buggy[name]}
    assert changed == set(fixed)  # the fix touches every file of this capstone
    folder = repo / "katas" / CAPSTONE
    assert all((folder / name).read_text() == text for name, text in buggy.items())


def test_bench_kata_test_and_bench_grade_apply_the_fix_inside_a_git_repository(tmp_path):
    from kata_factory import git

    shipped = (ROOT / "katas" / CAPSTONE / "risk_splits.py").read_text()
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")  # the copy lies inside a repository, as bench/.work may
    _bench("bench_kata_test").green_copy(CAPSTONE, repo)
    assert (repo / "katas" / CAPSTONE / "risk_splits.py").read_text() != shipped
    graded = tmp_path / "graded"
    _bench("bench_grade").build(graded, CAPSTONE)  # branch `one`: start, then the fix
    assert git(graded, "show", f"one:katas/{CAPSTONE}/risk_splits.py") != shipped


def test_the_validate_breakdown_sums_each_kind_and_bounds_the_wall_time():
    """What `kata validate --json` says each variant cost, summed by kind over the katas;
    every variant but a decoy (which stops at its first failure) runs all its tests, so
    their sum over the cores bounds validate's wall time from below."""
    bench = _bench("bench_kata_test")
    results = [
        {
            "runs": [
                {"variant": "buggy", "kind": "buggy", "runs": 2, "tests": 8, "seconds": 3.0},
                {"variant": "reference", "kind": "reference", "runs": 2, "tests": 8, "seconds": 5},
                {"variant": "w", "kind": "decoy", "runs": 1, "tests": 1, "seconds": 0.5},
            ]
        },
        {
            "runs": [
                {
                    "variant": "alternative x",
                    "kind": "alternative",
                    "runs": 1,
                    "tests": 4,
                    "seconds": 2.0,
                },
                {"variant": "v", "kind": "decoy", "runs": 1, "tests": 2, "seconds": 1.5},
            ]
        },
    ]
    seconds, bound = bench.validate_breakdown(results, cores=2)
    assert seconds == {"buggy": 3.0, "reference": 5.0, "decoy": 2.0, "alternative": 2.0}
    assert bound == pytest.approx((3.0 + 5.0 + 2.0) / 2)
