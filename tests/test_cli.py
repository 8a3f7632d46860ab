"""The `kata` command end to end, in subprocesses, on a temporary torch-free catalogue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kata_factory import run_kata, write_kata

from grader.catalogue.katas import load_catalogue
from grader.catalogue.pristine import write_seal


def kata(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_kata(root, *args, columns=120)


@pytest.fixture
def repo(tmp_path) -> Path:
    write_kata(tmp_path, "good", "good_stats")
    for loaded in load_catalogue(tmp_path):
        write_seal(loaded)
    return tmp_path


def statuses(root: Path) -> dict[str, str]:
    listed = kata(root, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return {row["id"]: row["status"] for row in json.loads(listed.stdout)}


def test_red_then_green_with_readable_messages_and_status(repo):
    assert statuses(repo) == {"good": "untouched"}

    red = kata(repo, "test", "good")
    assert red.returncode == 1, red.stderr
    assert "✗ mean of four\n      mean of [1, 2, 3, 6] is 3, got 4.0\n" in red.stdout
    assert "✓ spread" in red.stdout
    assert red.stdout.rstrip().endswith("red: 1 of 2 tests fail")

    module = repo / "katas" / "good" / "good_stats.py"
    module.write_text(module.read_text().replace("(len(values) - 1)", "len(values)"))
    assert statuses(repo) == {"good": "in progress"}

    green = kata(repo, "test", "good")
    assert green.returncode == 0, green.stdout
    assert "green: all 2 tests pass\n" in green.stdout
    assert statuses(repo) == {"good": "green"}


def test_a_module_that_does_not_import_is_red_with_the_error(repo):
    module = repo / "katas" / "good" / "good_stats.py"
    module.write_text(module.read_text().replace("def mean(", "def mean(("))
    result = kata(repo, "test", "good")
    assert result.returncode == 1
    # the module is imported by the subject process, so each test reports the error
    assert "✗ mean of four\n      SyntaxError: " in result.stdout
    assert "(good_stats.py, line 4)" in result.stdout
    assert "importlib" not in result.stdout


def test_a_deleted_test_is_refused_as_a_catalogue_problem(repo):
    tests = repo / "katas" / "good" / "test_good_stats.py"
    tests.write_text(tests.read_text().replace("def test_spread", "def _spread"))
    result = kata(repo, "test", "good")
    assert result.returncode == 2
    toml = repo / "katas" / "good" / "kata.toml"
    assert f"{toml}: tests: test_good_stats.py defines no test named 'test_spread'" in result.stderr


def test_unknown_kata_suggests_the_closest(repo):
    result = kata(repo, "test", "godo")
    assert result.returncode == 2
    assert result.stderr == (
        "kata: unknown kata 'godo': did you mean good? `kata list` shows them all\n"
    )


def test_missing_argument_is_a_usage_error(repo):
    result = kata(repo, "reset")
    assert result.returncode == 2
    assert "the following arguments are required: id" in result.stderr


def test_no_id_and_no_kata_in_progress_is_a_usage_error(repo):
    result = kata(repo, "test")
    assert result.returncode == 2
    assert "no kata in progress: name one, or start one with `kata start ID`" in result.stderr


def test_a_broken_catalogue_is_reported_per_file_and_field(repo):
    toml = repo / "katas" / "good" / "kata.toml"
    toml.write_text(toml.read_text().replace('topic = "metrics"', 'topic = "metric"'))
    result = kata(repo, "list")
    assert result.returncode == 2
    assert f"  {toml}: topic: 'metric' is not one of" in result.stderr


def test_no_catalogue_says_what_to_do(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KATA_ROOT"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from grader.cli.main import main; sys.exit(main(['list']))",
        ],
        cwd=tmp_path,
        env={**env, "KATA_ROOT": str(tmp_path / "nowhere")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "no katas/ folder there" in result.stderr


def test_listing_does_not_import_torch(repo):
    code = (
        "import sys; from grader.cli.main import main; main(['list', '--json']); "
        "sys.exit('torch' in sys.modules or 'pytest' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "KATA_ROOT": str(repo)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, "kata list imported torch or pytest"
