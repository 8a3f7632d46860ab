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
        "hidden": set(),
        "publish": set(),
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
    job = jobs("publish")["publish"]
    assert job["env"]["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"
    publish = next(s for s in job["steps"] if s.get("id") == "publish")
    assert '--head-sha "$HEAD_SHA"' in publish["run"] and "--runs" in publish["run"]
    download = next(s for s in job["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["path"].startswith("${{ runner.temp }}")
    assert download["with"]["run-id"] == "${{ github.event.workflow_run.id }}"


# --- cohorts: the hidden tests run in the publish workflow, with the key ----------------


def strings(value, where: str = ""):
    """Every string in a loaded workflow, with where it is (keys joined by dots)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from strings(key, f"{where}.{key}(key)")
            yield from strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from strings(item, f"{where}[{number}]")
    elif isinstance(value, str):
        yield where, value


def test_the_cohort_key_is_in_one_step_of_the_hidden_job_only():
    found = [
        (f"{name}{where}", text)
        for name, workflow in WORKFLOWS.items()
        for where, text in strings(workflow)
        if "secrets." in text or "KATA_COHORT_KEY" in text
    ]
    steps = jobs("publish")["hidden"]["steps"]
    unseal = next(i for i, s in enumerate(steps) if s.get("name", "").startswith("Unseal"))
    at = f"publish.jobs.hidden.steps[{unseal}].env.KATA_COHORT_KEY"
    assert [where for where, _ in found if "secrets." in _] == [at], found
    assert steps[unseal]["env"] == {"KATA_COHORT_KEY": "${{ secrets.KATA_COHORT_KEY }}"}
    # elsewhere the name is at most mentioned in that step's script, never given a value
    others = [w for w, _ in found if not w.startswith(f"publish.jobs.hidden.steps[{unseal}]")]
    assert others == [], others
    assert "env" not in WORKFLOWS["publish"] or "KATA_COHORT_KEY" not in WORKFLOWS["publish"]["env"]


def test_the_hidden_job_is_read_only_and_runs_only_for_a_cohort():
    hidden = jobs("publish")["hidden"]
    assert hidden["permissions"] == {"contents": "read"}
    assert hidden["needs"] == "prepare"
    assert "needs.prepare.outputs.cohort == 'true'" in hidden["if"]
    assert "needs.prepare.outputs.pr != ''" in hidden["if"]
    prepare = jobs("publish")["prepare"]
    assert prepare["outputs"]["cohort"] == "${{ steps.cohort.outputs.sealed }}"
    cohort = next(s for s in prepare["steps"] if s.get("id") == "cohort")
    assert "trusted/grader/sealed/private.age" in cohort["run"]
    for step in hidden["steps"]:  # the trusted base only, never the PR's files
        if step.get("uses", "").startswith("actions/checkout@"):
            assert "ref" not in step["with"] and step["with"]["persist-credentials"] is False


def test_the_hidden_job_runs_the_hidden_tests_fully_isolated_and_hands_on_a_report():
    steps = jobs("publish")["hidden"]["steps"]
    fetch = next(s for s in steps if s.get("name", "").startswith("Fetch the PR head"))
    assert 'fetch --no-tags origin "+refs/pull/$PR/head' in fetch["run"]
    run = next(s for s in steps if s.get("id") == "hidden")
    assert "sudo --preserve-env" in run["run"]  # as root: another user, no network
    assert '.venv/bin/kata grade --repo . --base HEAD --head "$HEAD_SHA"' in run["run"]
    assert "--private grader/private" in run["run"]
    assert "env" not in run and "secrets" not in str(run)
    upload = steps[-1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["name"] == "hidden-report"
    assert upload["with"]["path"] == "${{ runner.temp }}/hidden/"


def test_publish_takes_the_hidden_report_from_this_run_whether_or_not_hidden_ran():
    publish = jobs("publish")["publish"]
    assert publish["needs"] == ["prepare", "hidden"]
    assert publish["if"].startswith("${{ !cancelled() && needs.prepare.result == 'success'")
    download = next(s for s in publish["steps"] if "hidden report" in s.get("name", ""))
    # this run's artifact: not the grade run's, where a pull request could upload one
    assert download["with"] == {"name": "hidden-report", "path": "${{ runner.temp }}/hidden"}
    step = next(s for s in publish["steps"] if s.get("id") == "publish")
    assert '${COHORT:+--hidden-report "$RUNNER_TEMP/hidden/report.json"}' in step["run"]
    assert (
        publish["env"]["COHORT"] == "${{ needs.prepare.outputs.cohort == 'true' && 'true' || '' }}"
    )
    # hidden is skipped outside cohorts, and a skipped job skips every job after it
    # unless they say what they need
    for job_id in ("comment", "leaderboard", "render", "pages"):
        assert jobs("publish")[job_id]["if"].strip().startswith("${{ !cancelled() &&"), job_id


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
