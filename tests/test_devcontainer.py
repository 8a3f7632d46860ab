"""The dev container (Codespaces): valid against the spec's schema, offline, and set up as
the README promises: CPU torch through scripts/install.sh, the lifecycle hooks used as the
spec intends, the editor finding the kata tests and hiding the private material."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import json5
import pytest

from grader.cli.main import build_parser

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
SCHEMA = ROOT / ".devcontainer" / "schema" / "devContainer.base.schema.json"
CONFIG = json5.loads(DEVCONTAINER.read_text())
VSCODE = CONFIG["customizations"]["vscode"]
CHECK = [str(BIN / "check-jsonschema"), "--force-filetype", "json5", "--schemafile", str(SCHEMA)]


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHECK, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_devcontainer_json_is_valid_against_the_vendored_spec_schema():
    result = schema_check(DEVCONTAINER)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "complaint"),
    [
        ('"postCreateCommand"', '"postCreateComand"', "('postCreateComand' was unexpected)"),
        ('"waitFor": "updateContentCommand"', '"waitFor": "postAttachCommand"', "is not one of"),
        ('"cpus": 2', '"cpus": "2"', "'2' is not of type 'integer'"),
    ],
    ids=["misspelt lifecycle hook", "waitFor a hook it cannot wait for", "cpus as a string"],
)
def test_the_schema_check_rejects_a_broken_copy(tmp_path, old, new, complaint):
    text = DEVCONTAINER.read_text()
    assert text.count(old) == 1
    broken = tmp_path / "devcontainer.json"
    broken.write_text(text.replace(old, new))
    result = schema_check(broken)
    assert result.returncode == 1, result.stdout
    assert complaint in result.stdout


def test_the_vendored_schema_says_where_it_comes_from():
    notes = (SCHEMA.parent / "README.md").read_text()
    assert "github.com/devcontainers/spec/blob/" in notes
    blob = subprocess.run(
        ["git", "hash-object", str(SCHEMA)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert blob in notes, "the schema changed: update the source, commit and blob id"


def test_dependencies_install_where_prebuilds_cache_them_with_cpu_torch():
    assert re.fullmatch(
        r"mcr\.microsoft\.com/devcontainers/python:\d+-3\.1[12]-\w+", CONFIG["image"]
    )
    assert CONFIG["updateContentCommand"] == "bash scripts/install.sh"
    assert CONFIG["waitFor"] == "updateContentCommand"
    assert CONFIG["containerEnv"]["KATA_TORCH_INDEX"] == "https://download.pytorch.org/whl/cpu"
    assert "pre-commit install" in CONFIG["postCreateCommand"]
    assert CONFIG["remoteEnv"]["PATH"].startswith("${containerWorkspaceFolder}/.venv/bin:")
    assert CONFIG["hostRequirements"]["cpus"] == 2


def test_every_script_the_lifecycle_hooks_run_exists():
    hooks = ("updateContentCommand", "postCreateCommand", "postAttachCommand")
    for hook in hooks:
        for script in re.findall(r"scripts/[\w.-]+", CONFIG[hook]):
            assert (ROOT / script).is_file(), f"{hook} runs {script}, which does not exist"


def _commands() -> set[str]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def test_the_welcome_names_only_real_commands():
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "welcome.sh")], capture_output=True, text=True, check=True
    )
    mentioned = set(re.findall(r"^\s+kata (\w+)", result.stdout, flags=re.M))
    assert {"list", "start", "watch"} <= mentioned
    assert mentioned <= _commands(), f"welcome.sh names unknown commands: {mentioned - _commands()}"


def test_the_editor_hides_the_private_material_and_formats_with_ruff():
    settings = VSCODE["settings"]
    assert {"ms-python.python", "charliermarsh.ruff"} <= set(VSCODE["extensions"])
    assert settings["files.exclude"]["grader/private"] is True
    assert settings["search.exclude"]["grader/private"] is True
    python = settings["[python]"]
    assert python["editor.defaultFormatter"] == "charliermarsh.ruff"
    assert python["editor.formatOnSave"] is True
    assert settings["python.defaultInterpreterPath"] == "${workspaceFolder}/.venv/bin/python"


def test_local_vscode_settings_match_the_dev_container():
    local = json5.loads((ROOT / ".vscode" / "settings.json").read_text())
    assert local == VSCODE["settings"]


def test_the_test_explorer_collects_every_kata():
    """What VS Code's pytest explorer runs: pytest with the settings' arguments."""
    args = VSCODE["settings"]["python.testing.pytestArgs"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    folders = {line.split("/")[1] for line in result.stdout.splitlines() if "::" in line}
    katas = {p.name for p in (ROOT / "katas").iterdir() if (p / "kata.toml").is_file()}
    assert folders == katas
