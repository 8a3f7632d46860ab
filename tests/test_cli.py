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
    # the subject imports the module before any test runs: the error is said once
    assert result.stdout.count("SyntaxError") == 1
    assert "could not load the tests: SyntaxError: " in result.stdout
    assert "(good_stats.py, line 4)" in result.stdout
    assert "✗ mean of four\n      did not run (see the errors above)" in result.stdout
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


@pytest.mark.parametrize("option", ["--repeat", "--jobs"])
def test_validate_needs_at_least_one_run_and_one_worker(repo, option):
    result = kata(repo, "validate", option, "0", "good")
    assert result.returncode == 2
    assert f"argument {option}: 0: at least 1" in result.stderr
    assert "Traceback" not in result.stderr


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


def test_outside_any_catalogue_no_command_falls_back_to_the_clone_kata_runs_from(tmp_path):
    """`kata start` outside a repository once committed into the clone the tool was
    installed from, while `kata grade` said "not inside a git repository".  A copy of
    the package stands in for that clone, so a regression commits there, not here."""
    import shutil

    from kata_factory import git, run_cli, two_kata_repo

    installed = two_kata_repo(tmp_path / "installed")
    shutil.copytree(
        Path(__file__).resolve().parent.parent / "grader",
        installed / "grader",
        ignore=shutil.ignore_patterns("__pycache__", "private"),
        dirs_exist_ok=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(installed), "GIT_CEILING_DIRECTORIES": str(tmp_path)}

    def kata_elsewhere(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(list(args), cwd=elsewhere, env=env)

    for args in (["start", "good"], ["list"], ["hint", "good"]):
        done = kata_elsewhere(*args)
        assert done.returncode == 2, (args, done.stdout)
        assert f"{elsewhere}: no kata catalogue here or above" in done.stderr
        assert f"cd {installed}" in done.stderr  # where the tool was installed from
    assert git(installed, "log", "--format=%s") == "template"
    graded = kata_elsewhere("grade", "--base", "HEAD")
    assert graded.returncode == 2
    assert "is not inside a git repository" in graded.stderr


def test_a_closed_pipe_ends_the_command_quietly(repo):
    """`kata status --json | head` must not end in a BrokenPipeError traceback."""
    from kata_factory import GIT_ENV

    for args in (["status", "--json"], ["list"], ["list", "--json"]):
        proc = subprocess.Popen(
            [sys.executable, "-m", "grader.cli", *args],
            env={**os.environ, **GIT_ENV, "KATA_ROOT": str(repo)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        proc.stdout.close()  # the reader is gone before the first line is written
        stderr = proc.stderr.read()
        proc.wait(timeout=60)
        assert stderr == "", (args, stderr)
        assert proc.returncode == 141, args  # as if killed by SIGPIPE, like other tools


def test_kata_alone_shows_the_commands_and_version_says_which(repo):
    alone = kata(repo)
    assert alone.returncode == 0, alone.stderr
    assert alone.stdout.startswith("usage: kata [-h] [--version] COMMAND ...")
    for command in ("list", "start", "watch", "test", "grade"):
        assert f"\n    {command} " in alone.stdout
    assert "Start here: kata list" in alone.stdout
    version = kata(repo, "--version")
    assert version.returncode == 0
    from importlib.metadata import version as installed

    assert version.stdout == f"kata {installed('ml-debug-katas')}\n"


def test_the_kata_table_renders_whole_rows_at_80_columns_in_a_pipe():
    project = Path(__file__).resolve().parent.parent
    done = run_kata(project, "list", columns=None)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in done.stdout
    header = next(line for line in lines if line.lstrip().startswith("id "))
    # the symptom ids are long: the topic is a heading above its katas, not a column
    assert header.split() == ["id", "level", "budget", "status", "best"]
    from grader.catalogue.katas import load_catalogue

    katas = load_catalogue(project)
    headings = [line for line in lines if line.strip() in {kata.topic for kata in katas}]
    assert len(headings) == len({kata.topic for kata in katas})  # each topic once
    for loaded in katas:
        (row,) = [line for line in lines if line.lstrip().startswith(loaded.id + " ")]
        assert f" {loaded.budget_minutes} min " in row
        heading = max(i for i, line in enumerate(lines[: lines.index(row)]) if line in headings)
        assert lines[heading] == loaded.topic, loaded.id  # listed under its own topic


def test_the_grade_table_renders_whole_at_80_columns_in_a_pipe(monkeypatch, capsys):
    from grader.catalogue.katas import load_catalogue
    from grader.cli import present
    from grader.cli.grading import _print_grade_table

    monkeypatch.delenv("COLUMNS", raising=False)
    longest = max((k.id for k in load_catalogue(Path(__file__).resolve().parent.parent)), key=len)
    kata_result = {
        "id": longest,
        "status": "green",
        "tests": [{"status": "pass", "name": f"t{i}", "message": ""} for i in range(18)],
        "time_to_green_s": 59 * 60 + 59,
        "attempts": 12,
        "hints_used": 3,
        "diff": {"total": 12, "tokens": 345, "reference_total": 2},
        "ranked": True,
        "message": "all 18 tests pass",
        "unranked_reasons": [],
        "notes": [],
    }
    _print_grade_table(
        {"base": "a" * 40, "head": "b" * 40, "katas": [kata_result]}, str, present.console()
    )
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.split()[:2] == ["kata", "status"])
    assert header.split() == [
        "kata", "status", "tests", "time", "tries", "hints", "diff", "ref", "ranked"
    ]  # fmt: skip
    # a long id is broken at its hyphens, on lines of its own below the first
    first = next(i for i, line in enumerate(lines) if longest.startswith(line.split()[0]))
    row, rest = lines[first], [line.strip() for line in lines[first + 1 : first + 4]]
    parts = [row.split()[0]]
    for part in rest:
        if not parts[-1].endswith("-"):
            break
        parts.append(part)
    assert "".join(parts) == longest
    assert row.split()[1:] == [
        "green", "18/18", "59m", "59s", "12", "3", "12", "/", "345",
        "2", "yes",
    ]  # fmt: skip
    assert any(line.startswith("tries: commits that change the kata's files") for line in lines)


def test_listing_checks_the_catalogue_once_per_change_of_its_files(repo):
    """The check (the compiled schema, every test file parsed) runs when a kata's files change,
    and its result is remembered (in the git directory: the work tree stays clean): a
    plain `kata list` does not pay for it again."""
    from kata_factory import git

    git(repo, "init", "-q")
    code = (
        "import sys; from grader.cli.main import main; code = main(['list', '--json']); "
        "sys.exit(10 + code if 'fastjsonschema' in sys.modules else code)"
    )

    def listing() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "KATA_ROOT": str(repo)},
            capture_output=True,
            text=True,
            check=False,
        )

    toml = repo / "katas" / "good" / "kata.toml"
    toml.write_text(toml.read_text().replace("budget_minutes = 5", "budget_minutes = 6"))
    assert listing().returncode == 10  # a changed kata.toml is checked
    assert listing().returncode == 0, "the unchanged catalogue was checked again"
    tests = repo / "katas" / "good" / "test_good_stats.py"
    tests.write_text(tests.read_text().replace("def test_spread", "def _spread"))
    broken = listing()
    assert broken.returncode == 12  # a changed test file too, and its problem is reported
    assert "test_good_stats.py defines no test named 'test_spread'" in broken.stderr
    tests.write_text(tests.read_text().replace("def _spread", "def test_spread"))
    assert listing().returncode == 0  # as before: known good
    (repo / "katas" / "good" / "good_stats.py").unlink()
    gone = listing()
    assert gone.returncode == 12  # a file the kata names, deleted
    assert "files: 'good_stats.py' does not exist" in gone.stderr
    written = [p for p in repo.rglob("*.json") if ".git" not in p.parts]
    assert written == [repo / "grader" / "private" / "good" / "pristine.json"]  # the seal only


def test_a_command_parses_as_before_though_only_its_own_parser_is_built(repo):
    typo = kata(repo, "lsit")
    assert typo.returncode == 2
    assert "invalid choice: 'lsit' (choose from 'list', 'test', 'validate', 'start'" in typo.stderr
    bad_option = kata(repo, "list", "--bogus")
    assert bad_option.returncode == 2
    assert "unrecognized arguments: --bogus" in bad_option.stderr
    nested = kata(repo, "leaderboard", "render", "--help")
    assert nested.returncode == 0 and "--dir DIR" in nested.stdout
    assert kata(repo, "list", "--help").stdout.startswith("usage: kata list [-h]")
