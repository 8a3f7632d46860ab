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
