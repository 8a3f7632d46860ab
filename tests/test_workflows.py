"""The GitHub Actions workflows: zizmor finds nothing, the schemas accept them, and the
trust rules hold (permissions, pinning, no PR code next to a write token).

actionlint cannot be installed from PyPI here; the template's `validate` workflow runs it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / ".github"
WORKFLOW_FILES = sorted((GITHUB / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


WORKFLOWS = {path.stem: load(path) for path in WORKFLOW_FILES}


def jobs(name: str) -> dict[str, dict]:
    return WORKFLOWS[name]["jobs"]


def all_steps():
    for name, workflow in WORKFLOWS.items():
        for job_id, job in workflow["jobs"].items():
            for step in job.get("steps", []):
                yield name, job_id, step


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_the_three_workflows_exist():
    assert sorted(WORKFLOWS) == ["grade", "publish", "validate"]


def test_zizmor_reports_no_findings():
    done = run(
        str(BIN / "zizmor"), "--offline", "--no-progress", "--persona", "pedantic", ".github"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout


def test_every_zizmor_suppression_gives_its_reason():
    for path in [*WORKFLOW_FILES, GITHUB / "dependabot.yml"]:
        for line in path.read_text().splitlines():
            if "zizmor: ignore" in line:
                reason = line.split("]", 1)[1].strip()
                assert len(reason.split()) >= 5, f"{path.name}: say why: {line.strip()}"


@pytest.mark.parametrize(
    ("schema", "files"),
    [
        ("vendor.github-workflows", [str(p) for p in WORKFLOW_FILES]),
        ("custom.github-workflows-require-timeout", [str(p) for p in WORKFLOW_FILES]),
        ("vendor.dependabot", [str(GITHUB / "dependabot.yml")]),
    ],
)
def test_check_jsonschema_accepts_the_files(schema, files):
    done = run(str(BIN / "check-jsonschema"), "--builtin-schema", schema, *files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_permissions_at_workflow_level_and_minimal_ones_per_job():
    for name, workflow in WORKFLOWS.items():
        assert workflow["permissions"] == {}, name
        for job_id, job in workflow["jobs"].items():
            assert "permissions" in job, f"{name}.{job_id}"
            assert job["timeout-minutes"] <= 40, f"{name}.{job_id}"
    assert jobs("grade")["grade"]["permissions"] == {"contents": "read"}
    writers = {
        job_id: {k for k, v in job["permissions"].items() if v == "write"}
        for job_id, job in jobs("publish").items()
    }
    assert writers == {
        "prepare": set(),
        "comment": {"pull-requests"},
        "leaderboard": {"contents"},
        "render": {"contents"},
        "pages": {"pages", "id-token"},
    }


def test_actions_are_pinned_by_commit_with_the_version_in_a_comment():
    text = "\n".join(path.read_text() for path in WORKFLOW_FILES)
    uses = re.findall(r"uses: (.+)$", text, re.MULTILINE)
    assert uses
    for use in uses:
        assert PINNED.match(use.strip()), use
    versions = {}
    for use in uses:
        action, rest = use.split("@", 1)
        versions.setdefault(action, set()).add(rest)
    assert all(len(pins) == 1 for pins in versions.values()), versions


def test_checkouts_never_persist_credentials_and_publish_never_checks_out_a_pr():
    for name, job_id, step in all_steps():
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, f"{name}.{job_id}"
            if name == "publish":
                assert "ref" not in step["with"], "publish checks out only its own branch"


def test_run_scripts_take_event_data_only_through_the_environment():
    for name, job_id, step in all_steps():
        script = step.get("run", "")
        assert "${{" not in script, f"{name}.{job_id}: {step.get('name')}"
        assert "GITHUB_ENV" not in script and "GITHUB_PATH" not in script, step.get("name")


def test_grade_takes_grader_and_tests_from_the_base_commit():
    steps = jobs("grade")["grade"]["steps"]
    checkouts = [s["with"] for s in steps if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts[0]["ref"] == "${{ github.event.pull_request.base.sha }}"
    assert checkouts[0]["path"] == "base"
    assert checkouts[1]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert (checkouts[1]["path"], checkouts[1]["fetch-depth"]) == ("pr", 0)
    install = next(s for s in steps if s.get("name", "").startswith("Install"))
    grade = next(s for s in steps if s.get("name") == "Grade")
    assert install["working-directory"] == grade["working-directory"] == "base"
    assert '.venv/bin/kata grade --repo "$GITHUB_WORKSPACE/pr"' in grade["run"]
    assert "python -m" not in grade["run"]
    assert WORKFLOWS["grade"]["on"] == {
        "pull_request": {"types": ["opened", "synchronize", "reopened"]}
    }


def test_concurrency_cancels_old_grades_and_coalesces_leaderboard_renders():
    grade = WORKFLOWS["grade"]["concurrency"]
    assert grade["cancel-in-progress"] is True
    assert "pull_request.number" in grade["group"]
    publish = jobs("publish")
    # records race and retry (no queue to overflow); renders and deployments run one at
    # a time with at most one pending, a newer one replacing it (no queue: max)
    assert "concurrency" not in publish["leaderboard"]
    assert "--no-render" in publish["leaderboard"]["steps"][-1]["run"]
    for job_id in ("render", "pages"):
        group = publish[job_id]["concurrency"]
        assert group["cancel-in-progress"] is False and "queue" not in group, job_id
    assert publish["render"]["needs"] == "leaderboard"
    assert "leaderboard render --remote" in publish["render"]["steps"][-2]["run"]


def test_publish_triggers_on_grade_runs_and_finds_the_pr_by_head_sha():
    assert WORKFLOWS["publish"]["on"] == {
        "workflow_run": {"workflows": ["grade"], "types": ["completed"]}
    }
    prepare = jobs("publish")["prepare"]
    assert prepare["env"]["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"
    find = next(s for s in prepare["steps"] if s.get("id") == "pr")
    assert "select(.head.sha == env.HEAD_SHA and .head.ref == env.HEAD_BRANCH" in find["run"]
    assert ".head.repo.full_name == env.HEAD_REPOSITORY" in find["run"]
    assert prepare["env"]["HEAD_REPOSITORY"] == (
        "${{ github.event.workflow_run.head_repository.full_name }}"
    )
    publish = next(s for s in prepare["steps"] if s.get("id") == "publish")
    assert '--head-sha "$HEAD_SHA"' in publish["run"] and "--runs" in publish["run"]
    download = next(s for s in prepare["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["path"].startswith("${{ runner.temp }}")


def test_publish_installs_only_dependencies_the_project_declares():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    text = (GITHUB / "workflows" / "publish.yml").read_text().replace("\\\n", " ")
    installed = re.findall(r'pip install --quiet ((?:"[^"]+" *)+)', text)
    assert installed
    for specs in installed:
        for spec in re.findall(r'"([^"]+)"', specs):
            assert spec in declared, spec


def test_dependabot_watches_actions_and_pip():
    config = yaml.safe_load((GITHUB / "dependabot.yml").read_text())
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert ecosystems == {"github-actions", "pip"}
