"""scripts/install.sh, the README's setup command and the dev container's install step, run
for real once in a fresh copy of the repository (pip's cache is reused; torch comes from
this machine's wheel or, with KATA_TORCH_INDEX, from PyTorch's CPU index)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kata_factory import GIT_ENV

ROOT = Path(__file__).resolve().parent.parent
# The caller's environment minus what would point the copy at this checkout or this venv.
ENV = {
    key: value
    for key, value in os.environ.items()
    if key not in {"KATA_ROOT", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "KATA_PYTHON"}
}


def torch_pin() -> str:
    import tomllib

    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (pin,) = [d for d in dependencies if d.startswith("torch==")]
    return pin.removeprefix("torch==")


def copy_of_the_repository(dest: Path) -> Path:
    """The files a clone would have (plus uncommitted, not ignored ones), in ``dest``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    subprocess.run(["git", "init", "--quiet"], cwd=dest, env={**ENV, **GIT_ENV}, check=True)
    return dest


def install(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/install.sh", *args],
        cwd=repo,
        env={**ENV, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def in_venv(repo: Path, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(repo / ".venv" / "bin" / cmd[0]), *cmd[1:]],
        cwd=repo,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Iterator[tuple[Path, subprocess.CompletedProcess[str]]]:
    repo = copy_of_the_repository(tmp_path_factory.mktemp("fresh-clone"))
    yield repo, install(repo, "--hooks")
    shutil.rmtree(repo, ignore_errors=True)  # a venv with torch is over 1 GB


def test_a_fresh_install_lists_the_catalogue(fresh):
    repo, done = fresh
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert f"installing torch=={torch_pin()}" in done.stdout
    listed = in_venv(repo, "kata", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    ids = {row["id"] for row in json.loads(listed.stdout)}
    assert ids == {p.name for p in (repo / "katas").iterdir() if (p / "kata.toml").is_file()}


def test_torch_is_the_pinned_cpu_build_without_cuda_wheels(fresh):
    repo, _ = fresh
    code = (
        "import json, torch; from importlib.metadata import distributions; "
        "print(json.dumps([torch.__version__, torch.version.cuda, "
        "sorted(d.metadata['Name'] for d in distributions())]))"
    )
    probe = in_venv(repo, "python", "-c", code)
    assert probe.returncode == 0, probe.stderr
    version, cuda, packages = json.loads(probe.stdout)
    assert version.split("+")[0] == torch_pin()
    assert cuda is None, f"torch {version} is a CUDA build"
    assert not [name for name in packages if name.lower().startswith("nvidia")]


def test_the_dev_tools_and_the_commit_hooks_are_installed(fresh):
    repo, _ = fresh
    for tool in ("pre-commit", "check-jsonschema", "ruff"):
        assert in_venv(repo, tool, "--version").returncode == 0, f"{tool} is missing"
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert hook.is_file() and "pre-commit" in hook.read_text()


def test_running_it_again_only_refreshes_the_project(fresh):
    repo, _ = fresh
    again = install(repo)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "installing torch" not in again.stdout
    assert "installing ml-debug-katas" in again.stdout


@pytest.fixture
def script_only(tmp_path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy2(ROOT / "scripts" / "install.sh", tmp_path / "scripts" / "install.sh")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_a_missing_interpreter_is_refused_before_anything_is_created(script_only):
    result = install(script_only, KATA_PYTHON="python3.0-does-not-exist")
    assert result.returncode == 2
    assert "set KATA_PYTHON to a Python >= 3.11" in result.stderr
    assert not (script_only / ".venv").exists()


def test_a_torch_range_is_refused(script_only):
    """A range could resolve to a newer torch: on Linux a multi-GB CUDA build."""
    pyproject = script_only / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f'"torch=={torch_pin()}"', '"torch>=2"'))
    result = install(script_only)
    assert result.returncode == 2
    assert "must pin torch exactly" in result.stderr
    assert not (script_only / ".venv").exists()


def test_an_unknown_argument_is_refused(script_only):
    result = install(script_only, "--hook")
    assert result.returncode == 2
    assert "unknown argument --hook" in result.stderr
