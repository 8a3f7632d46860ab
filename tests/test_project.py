"""The project's own ground rules: lint-clean, hooks valid, README and CI in step."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_check_and_format_are_clean():
    check = run(str(BIN / "ruff"), "check", ".")
    assert check.returncode == 0, check.stdout
    fmt = run(str(BIN / "ruff"), "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout


def test_pre_commit_config_is_valid():
    result = run(str(BIN / "pre-commit"), "validate-config", ".pre-commit-config.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(bash scripts/install\.sh && [^\n]+)\n```", readme)
    assert len(commands) == 2, f"README quick start should hold two commands, found {commands}"
    setup_and_list, setup_and_test = commands
    assert setup_and_list.endswith("kata list")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert setup_and_test in ci, f".ci/run does not run {setup_and_test!r}"


def test_torch_is_pinned_to_the_cpu_wheel_on_disk():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'"torch==\d+\.\d+\.\d+"', pyproject), "torch must be pinned with =="


def test_readme_shows_the_example_comment_as_committed():
    readme = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- example-comment:start -->\n(.*?)\n<!-- example-comment:end -->", readme, re.S
    )
    assert block, "README lost the example PR comment (between the example-comment markers)"
    unquoted = "\n".join(line.removeprefix(">").removeprefix(" ") for line in block[1].split("\n"))
    example = (ROOT / "examples" / "pr-comment.md").read_text().rstrip("\n")
    assert unquoted == example, (
        "README's example comment differs from examples/pr-comment.md: quote the file "
        "again (each line prefixed with '> ')"
    )


def test_every_kata_command_the_readme_names_exists():
    from grader.cli.main import build_parser

    commands = set(build_parser()._subparsers._group_actions[0].choices)
    named = set(re.findall(r"`(?:\.venv/bin/)?kata ([a-z]+)", (ROOT / "README.md").read_text()))
    assert named, "the README names no kata command"
    assert named <= commands, f"README names commands that do not exist: {named - commands}"
