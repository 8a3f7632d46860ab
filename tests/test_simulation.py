"""The whole path with real git and the workflows' own shell steps.

A bare "upstream" repository (the cohort's, served as https://github.com/cohort/... via
a git ``insteadOf`` rule, so nothing leaves the machine), a fork, and a candidate who
starts a kata and pushes three times: the start marker alone, a tempting wrong fix, the
real fix.  For each push the grade job's steps run as GitHub would run them (its
environment variables, an event payload, ``GITHUB_STEP_SUMMARY`` and ``GITHUB_OUTPUT``
files), then the publish workflow's steps run on the artifact, with a stand-in ``gh``
that answers from canned API pages through the real ``jq``.  The leaderboard branch is
pushed to the bare upstream.

Regenerate ``examples/pr-comment.md`` after an intended change of the comment with
``KATA_UPDATE_EXAMPLES=1 .venv/bin/python -m pytest tests/test_simulation.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from kata_factory import BUGGY_MODULE, OLD_LINE, REFERENCE, TUNED_DECOY, write_kata

from grader.board.publish import MARKER
from grader.catalogue.katas import load_catalogue
from grader.catalogue.pristine import write_seal

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
EXAMPLE = ROOT / "examples" / "pr-comment.md"
VENV = Path(sys.executable).parent.parent
KATA = "mean-off-by-one"
MODULE = "mean_stats"
REPOSITORY = "cohort/ml-debug-katas"
FORK = "alice/ml-debug-katas"  # the candidate's fork: the head repository of the PR
T0 = 1_700_000_000
PR = 1
RUN_IDS = (1001, 1002, 1003)
RUN_CREATED = (T0 + 20, T0 + 230, T0 + 425)  # GitHub's creation times of the grade runs

pytestmark = pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("base64") is None,
    reason="the publish workflow's shell steps need jq and base64",
)

FAKE_GH = f"""\
#!{sys.executable}
# Stand-in for the GitHub CLI: answers `gh api` from canned pages, applies --jq with jq.
import os, subprocess, sys
args = sys.argv[1:]
with open(os.path.join(os.environ["FAKE_GH_DIR"], "calls.log"), "a") as log:
    log.write(repr(args) + "\\n")
path = next(a for a in args[1:] if not a.startswith("-") and "/" in a)
page = "pulls.json" if "/pulls" in path else "runs.json" if path.endswith("/runs") else None
if args[0] != "api" or page is None:
    sys.exit(f"fake gh: unexpected call {{args}}")
jq = args[args.index("--jq") + 1]
with open(os.path.join(os.environ["FAKE_GH_DIR"], page)) as data:
    sys.exit(subprocess.run(["jq", "-c", jq], stdin=data).returncode)
"""


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def step(workflow: str, job: str, name_start: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / workflow).read_text())
    steps = [s for s in data["jobs"][job]["steps"] if s.get("name", "").startswith(name_start)]
    assert len(steps) == 1, f"{workflow}: job {job} has no single step {name_start!r}"
    return steps[0]


def run_step(workflow: str, job: str, name: str, env: dict, workspace: Path):
    """Run a workflow step's script the way the runner does (bash -eo pipefail)."""
    found = step(workflow, job, name)
    cwd = workspace / found.get("working-directory", ".")
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", found["run"]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def outputs(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


class World:
    """The machines of the story: upstream, fork, candidate, and runner folders."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.gh = tmp / "github.com"
        self.upstream = self.gh / f"{REPOSITORY}.git"
        self.fork = self.gh / "alice" / "ml-debug-katas.git"
        gitconfig = tmp / "gitconfig"
        gitconfig.write_text(f'[url "{self.gh.as_uri()}/"]\n\tinsteadOf = https://github.com/\n')
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GIT_"))}
        base_env.pop("KATA_ROOT", None)
        self.env = {
            **base_env,
            "GIT_CONFIG_GLOBAL": str(gitconfig),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Alice",
            "GIT_AUTHOR_EMAIL": "alice@example.invalid",
            "GIT_COMMITTER_NAME": "Alice",
            "GIT_COMMITTER_EMAIL": "alice@example.invalid",
        }
        self.base_sha = ""
        self.runs: list[dict] = []

    def git(self, cwd: Path, *args: str, when: int | None = None) -> str:
        env = dict(self.env)
        if when is not None:
            env.update(GIT_AUTHOR_DATE=f"@{when} +0000", GIT_COMMITTER_DATE=f"@{when} +0000")
        done = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def kata(self, cwd: Path, *args: str, when: int) -> subprocess.CompletedProcess:
        env = {
            **self.env,
            "GIT_AUTHOR_DATE": f"@{when} +0000",
            "GIT_COMMITTER_DATE": f"@{when} +0000",
        }
        return subprocess.run(
            [str(VENV / "bin" / "kata"), *args], cwd=cwd, env=env, capture_output=True, text=True
        )

    def publish_template(self, cohort: bool = False) -> str:
        """The upstream and the fork; with ``cohort``, the answers sealed first (the
        cohort's key is returned)."""
        template = self.tmp / "template"
        write_kata(template, KATA, MODULE)
        (template / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
        (kata,) = load_catalogue(template)
        write_seal(kata)
        self.git(template, "init", "-q", "-b", "main")
        self.git(template, "add", "-A")
        self.git(template, "commit", "-qm", "The template", when=T0 - 1000)
        key = ""
        if cohort:
            sealed = self.kata(template, "cohort", "seal", when=T0 - 900)
            assert sealed.returncode == 0, sealed.stderr
            key = next(w for w in sealed.stdout.split() if w.startswith("AGE-SECRET-KEY-"))
            self.git(template, "add", "-A")
            self.git(template, "commit", "-qm", "Seal the answers", when=T0 - 900)
        self.base_sha = self.git(template, "rev-parse", "HEAD")
        self.upstream.parent.mkdir(parents=True)
        self.git(self.tmp, "clone", "-q", "--bare", str(template), str(self.upstream))
        self.fork.parent.mkdir(parents=True)
        self.git(
            self.tmp,
            "clone",
            "-q",
            "--bare",
            f"https://github.com/{REPOSITORY}.git",
            str(self.fork),
        )
        return key

    def candidate_pushes(self, work: Path, when: int, created: int) -> str:
        """Push the branch to the fork; GitHub mirrors it as refs/pull/1/head."""
        self.git(work, "push", "-q", "origin", "attempt")
        head = self.git(work, "rev-parse", "HEAD")
        self.git(work, "push", "-q", "-f", str(self.upstream), f"attempt:refs/pull/{PR}/head")
        self.runs.append(
            {"id": RUN_IDS[len(self.runs)], "head_sha": head, "created_at": iso(created)}
        )
        return head

    def candidate_story(self) -> Iterator[tuple[str, dict]]:
        """The candidate clones the fork, starts the kata and pushes three times: the start
        marker alone, the tempting wrong fix, the real fix; each push graded.  Yields each
        push's head and what its grade job left behind, before the next push (so a caller
        publishes each run in turn, as GitHub would)."""
        work = self.tmp / "candidate"
        self.git(self.tmp, "clone", "-q", "https://github.com/alice/ml-debug-katas.git", str(work))
        self.git(work, "checkout", "-q", "-b", "attempt")
        started = self.kata(work, "start", KATA, when=T0)
        assert started.returncode == 0, started.stderr
        module = work / "katas" / KATA / f"{MODULE}.py"
        for number, (change, when) in enumerate(
            [(None, T0), (TUNED_DECOY, T0 + 200), (REFERENCE, T0 + 400)], 1
        ):
            if change is not None:
                module.write_text(BUGGY_MODULE.replace(OLD_LINE, change))
                self.git(work, "commit", "-qam", f"attempt {number}", when=when)
            head = self.candidate_pushes(work, when, RUN_CREATED[number - 1])
            yield head, self.grade_job(head, number)

    def grade_job(self, head: str, number: int) -> dict:
        """The grade job's steps for one push; returns what it left behind."""
        runner = self.tmp / f"grade-{number}"
        workspace, temp = runner / "workspace", runner / "temp"
        temp.mkdir(parents=True)
        workspace.mkdir()
        base, pr = workspace / "base", workspace / "pr"
        # the two actions/checkout steps: base at the base commit, the PR with history
        self.git(workspace, "clone", "-q", f"https://github.com/{REPOSITORY}.git", "base")
        self.git(base, "checkout", "-q", "--detach", self.base_sha)
        self.git(workspace, "clone", "-q", "https://github.com/alice/ml-debug-katas.git", "pr")
        self.git(pr, "checkout", "-q", "--detach", head)
        (base / ".venv").symlink_to(VENV)  # what scripts/install.sh leaves in base/
        event = runner / "event.json"
        event.write_text(
            json.dumps(
                {
                    "number": PR,
                    "pull_request": {
                        "number": PR,
                        "base": {"sha": self.base_sha},
                        "head": {"sha": head},
                    },
                    "repository": {"full_name": REPOSITORY, "is_template": False},
                }
            )
        )
        env = {
            **self.env,
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_REPOSITORY": REPOSITORY,
            "GITHUB_OUTPUT": str(runner / "output"),
            "GITHUB_STEP_SUMMARY": str(runner / "summary.md"),
            "RUNNER_TEMP": str(temp),
            "BASE_SHA": self.base_sha,
            "HEAD_SHA": head,
            "PR_NUMBER": str(PR),
        }
        started = run_step("grade.yml", "grade", "Start the artifact", env, workspace)
        assert started.returncode == 0, started.stderr
        graded = run_step("grade.yml", "grade", "Grade", env, workspace)
        assert graded.returncode == 0, graded.stderr
        status = outputs(runner / "output")["status"]
        verdict = run_step("grade.yml", "grade", "Verdict", {**env, "STATUS": status}, workspace)
        summary = runner / "summary.md"
        return {
            "artifact": temp / "grade",
            "stdout": graded.stdout,
            "summary": summary.read_text() if summary.exists() else "",
            "verdict": verdict.returncode,
        }

    def publish_run(
        self,
        artifact: Path,
        head: str,
        number: int,
        *,
        key: str | None = None,
        label: str = "",
        record: bool = True,
    ) -> dict:
        """The publish workflow's jobs for one completed grade run.  ``key``: the secret
        KATA_COHORT_KEY (a cohort's hidden job runs with it); ``record``: run the
        leaderboard jobs when publish hands them a result."""
        runner = self.tmp / f"publish-{number}{label}"
        workspace, temp, fake = runner / "workspace", runner / "temp", runner / "gh"
        for folder in (workspace, temp, fake / "bin"):
            folder.mkdir(parents=True)
        (fake / "bin" / "gh").write_text(FAKE_GH)
        (fake / "bin" / "gh").chmod(0o755)
        pulls = [
            {
                "number": 9,
                "user": {"login": "mallory"},
                "created_at": iso(T0),
                "head": {"sha": "f" * 40},
            },
            {
                "number": PR,
                "user": {"login": "alice"},
                "created_at": iso(T0 + 15),
                "head": {
                    "sha": head,
                    "ref": "attempt",
                    "repo": {"full_name": FORK, "owner": {"login": "alice"}},
                },
            },
            pull(PR + 1, "mallory", head),  # a second PR of alice's branch changes nothing
        ]
        (fake / "pulls.json").write_text(json.dumps(pulls))
        elsewhere = {"id": 999, "head_sha": "e" * 40, "created_at": iso(T0 + 100)}  # another fork
        runs = [elsewhere, *self.runs]
        for run in runs:
            run["head_repository"] = {"full_name": FORK if run is not elsewhere else "m/k"}
        (fake / "runs.json").write_text(json.dumps({"workflow_runs": runs}))
        run_id = RUN_IDS[number - 1]
        env = {
            **self.env,
            "PATH": f"{fake / 'bin'}:{self.env['PATH']}",
            "FAKE_GH_DIR": str(fake),
            "GITHUB_ACTIONS": "true",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_TEMP": str(temp),
            "REPOSITORY": REPOSITORY,
            "RUN_ID": str(run_id),
            "WORKFLOW_ID": "77",
            "HEAD_SHA": head,
            "HEAD_BRANCH": "attempt",
            "HEAD_REPOSITORY": FORK,
            "HEAD_OWNER": "alice",
            "REQUIRE_SERVER_CLOCK": "true",
            "GH_TOKEN": "not-a-real-token",
        }
        # prepare: the pull request, then (its checkout) whether the answers are sealed
        prepare = {**env, "GITHUB_OUTPUT": str(runner / "prepare-output")}
        found = run_step("publish.yml", "prepare", "Find the pull request", prepare, workspace)
        assert found.returncode == 0, found.stderr
        self.git(workspace, "clone", "-q", f"https://github.com/{REPOSITORY}.git", "trusted")
        sealed = run_step("publish.yml", "prepare", "Is this a cohort", prepare, workspace)
        assert sealed.returncode == 0, sealed.stderr
        prepared = outputs(runner / "prepare-output")
        result: dict = {"pr": prepared["number"], "cohort": prepared["sealed"]}
        if prepared["sealed"] == "true":  # the hidden job's `if`
            result["hidden"] = self.hidden_job(runner / "hidden", env, prepared["number"], key)
            if result["hidden"]["report"] is not None:  # actions/download-artifact
                shutil.copytree(result["hidden"]["report"].parent, temp / "hidden")
        # publish: this repository (default branch) and the grader's venv
        (temp / "venv").symlink_to(VENV)
        shutil.copytree(artifact, temp / "artifact")  # actions/download-artifact
        env.update(
            GITHUB_OUTPUT=str(runner / "output"),
            PR=prepared["number"],
            PR_USER=prepared["user"],
            PR_CREATED=prepared["created"],
            COHORT="true" if prepared["sealed"] == "true" else "",
        )
        fetched = run_step("publish.yml", "publish", "Fetch the PR head", env, workspace)
        assert fetched.returncode == 0, fetched.stderr
        published = run_step("publish.yml", "publish", "Publish", env, workspace)
        assert published.returncode == 0, published.stderr
        out = outputs(runner / "output")
        result.update(out, stdout=published.stdout, stderr=published.stderr)
        result["comment"] = (temp / "comment" / "comment.md").read_text()
        result["gh_calls"] = (fake / "calls.log").read_text()
        result["results"] = {
            path.parent.name: json.loads(path.read_text())
            for path in (temp / "update" / "results").glob(f"*/pr{PR}-run{run_id}.json")
        }
        if record and out["status"] == "0" and out["recorded"] == "true":  # leaderboard's `if`
            lb_runner = runner / "leaderboard"
            lb_temp = lb_runner / "temp"
            lb_temp.mkdir(parents=True)
            (lb_temp / "venv").symlink_to(VENV)
            shutil.copytree(temp / "leaderboard", lb_temp / "leaderboard")  # the artifact
            lb_workspace = lb_runner / "workspace"
            lb_workspace.mkdir()
            self.git(lb_workspace, "clone", "-q", f"https://github.com/{REPOSITORY}.git", "trusted")
            pushed = run_step(
                "publish.yml",
                "leaderboard",
                "Push",
                {**env, "RUNNER_TEMP": str(lb_temp)},
                lb_workspace,
            )
            assert pushed.returncode == 0, pushed.stderr
            result["push"] = pushed.stdout
            rendered = run_step(  # the render job, which the record job's success starts
                "publish.yml",
                "render",
                "Render",
                {**env, "RUNNER_TEMP": str(lb_temp), "GITHUB_OUTPUT": str(lb_runner / "out")},
                lb_workspace,
            )
            assert rendered.returncode == 0, rendered.stderr
            result["render"] = rendered.stdout
        return result

    def hidden_job(self, runner: Path, env: dict, pr: str, key: str | None) -> dict:
        """The publish workflow's hidden job: the trusted checkout with history, the grader
        installed in it, the PR head fetched as data, the key only in the unseal step; the
        report it hands on (None when it wrote none) and each step's exit status and log."""
        workspace, temp = runner / "workspace", runner / "temp"
        for folder in (workspace, temp):
            folder.mkdir(parents=True)
        self.git(workspace, "clone", "-q", f"https://github.com/{REPOSITORY}.git", "trusted")
        (workspace / "trusted" / ".venv").symlink_to(VENV)  # what scripts/install.sh leaves
        env = {
            **env,
            "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_TEMP": str(temp),
            "GITHUB_OUTPUT": str(runner / "output"),
            "PR": pr,
        }
        done: dict = {"report": None}
        for name, extra in [
            ("Fetch the PR head", {}),
            ("Unseal the hidden tests", {"KATA_COHORT_KEY": key or ""}),
            ("Run the hidden tests", {}),
        ]:
            ran = run_step("publish.yml", "hidden", name, {**env, **extra}, workspace)
            done[name] = ran
            if ran.returncode != 0:  # the job fails here; publish runs without a report
                done["failed"] = name
                return done
        if outputs(runner / "output").get("report") == "true":  # the upload step's `if`
            done["report"] = temp / "hidden" / "report.json"
        return done


def rival_result() -> dict:
    """Bob's earlier result on the same kata, already on the leaderboard branch."""
    return {
        "schema_version": 1,
        "kata": KATA,
        "topic": "metrics",
        "user": "bob",
        "pr": 7,
        "run_id": 990,
        "head": "b" * 40,
        "status": "green",
        "ranked": True,
        "unranked_reasons": [],
        "tests_passed": 3,
        "tests_total": 3,
        "hints_used": 1,
        "attempts": 3,
        "diff": {"added": 2, "removed": 1, "total": 3, "tokens": 7, "reference_total": 2},
        "commit_time_s": 1150,
        "server_time_s": 1210,
        "grade_runs": 4,
        "clock": "server",
    }


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> dict:
    from grader.board.leaderboard import push, write_result

    world = World(tmp_path_factory.mktemp("simulation"))
    world.publish_template()
    seed = world.tmp / "seed"
    write_result(seed, rival_result())
    push(seed, str(world.upstream), "leaderboard")

    chapters = [
        {"head": head, "grade": grade, **world.publish_run(grade["artifact"], head, number)}
        for number, (head, grade) in enumerate(world.candidate_story(), 1)
    ]
    return {"world": world, "chapters": chapters}


def branch_file(world: World, path: str) -> str:
    return world.git(world.tmp, "--git-dir", str(world.upstream), "show", f"leaderboard:{path}")


def test_a_push_without_kata_changes_is_nothing_to_grade(story):
    first = story["chapters"][0]
    assert (first["grade"]["artifact"] / "outcome").read_text().strip() == "nothing-to-grade"
    assert not (first["grade"]["artifact"] / "report.json").exists()
    assert first["grade"]["verdict"] == 0
    assert (first["status"], first["recorded"]) == ("0", "false")
    assert first["comment"].startswith(MARKER)
    assert "nothing to grade" in first["comment"]
    assert "push" not in first  # the leaderboard job does not run


def test_the_red_push_is_annotated_summarised_and_recorded_unranked(story):
    red = story["chapters"][1]
    assert red["grade"]["verdict"] == 1
    annotations = [
        line for line in red["grade"]["stdout"].splitlines() if line.startswith("::error ")
    ]
    assert len(annotations) == 1
    assert "test_mean_of_other_lengths (hidden test)" in annotations[0]
    assert "| mean-off-by-one | ❌ red | 2/3 |" in red["grade"]["summary"]
    assert "❌ fail" in red["comment"]
    assert "test\\_mean\\_of\\_other\\_lengths (hidden)" in red["comment"]
    assert red["recorded"] == "true"
    result = json.loads(branch_file(story["world"], f"results/{KATA}/pr1-run1002.json"))
    assert (result["status"], result["ranked"], result["clock"]) == ("red", True, None)


def test_the_green_push_gets_a_server_clock_and_a_rank(story):
    world, green = story["world"], story["chapters"][2]
    assert green["grade"]["verdict"] == 0
    assert (green["cohort"], "hidden" in green) == ("false", False)  # no hidden job
    result = json.loads(branch_file(world, f"results/{KATA}/pr1-run1003.json"))
    assert result["status"] == "green" and result["ranked"], result["unranked_reasons"]
    assert (result["commit_time_s"], result["server_time_s"]) == (400, 405)
    assert (result["grade_runs"], result["clock"], result["user"]) == (3, "server", "alice")
    chapters = story["chapters"]
    assert result["history"]["heads"] == [chapters[1]["head"], green["head"]]  # the red push's
    assert result["history"]["server_started_at"] == iso(RUN_CREATED[0])
    assert result["diff"] == {
        "added": 1,
        "removed": 1,
        "total": 2,
        "tokens": 4,
        "reference_total": 2,
    }
    comment = green["comment"]
    assert comment.startswith(MARKER)
    assert "https://img.shields.io/badge/status-green-brightgreen" in comment
    assert "rank on mean-off-by-one: 1 of 2" in comment
    assert "**6m 45s** on the server clock" in comment
    assert "Commit clock (self-reported): 6m 40s" in comment
    assert comment.count("✅ pass") == 3


def test_the_pr_is_found_by_head_sha_and_runs_by_branch(story):
    calls = story["chapters"][2]["gh_calls"]
    assert "repos/cohort/ml-debug-katas/pulls?state=open&per_page=100" in calls
    assert "branch=attempt" in calls
    assert "repos/cohort/ml-debug-katas/actions/workflows/77/runs" in calls


def test_the_leaderboard_branch_holds_every_result_and_ranks_them(story):
    world = story["world"]
    listed = world.git(
        world.tmp, "--git-dir", str(world.upstream), "ls-tree", "-r", "--name-only", "leaderboard"
    )
    results = sorted(p for p in listed.splitlines() if p.startswith("results/"))
    assert results == [
        f"results/{KATA}/pr1-run1002.json",
        f"results/{KATA}/pr1-run1003.json",
        f"results/{KATA}/pr7-run990.json",
    ]
    readme = branch_file(world, "README.md")
    rows = [line for line in readme.splitlines() if line.startswith(("| 1 |", "| 2 |"))]
    assert "| 1 | alice | ✅ green | 6m 45s | server |" in rows[-2]
    assert "| 2 | bob | ✅ green | 20m 10s | server |" in rows[-1]
    assert "green first" in readme and "server clock" in readme
    assert "<svg" in branch_file(world, f"badges/kata-{KATA}.svg")
    assert "solved by 2" in branch_file(world, f"badges/kata-{KATA}.svg")


def test_the_committed_example_is_what_kata_publish_writes(story):
    comment = story["chapters"][2]["comment"]
    if os.environ.get("KATA_UPDATE_EXAMPLES") == "1":
        EXAMPLE.parent.mkdir(exist_ok=True)
        EXAMPLE.write_text(comment)
    assert EXAMPLE.read_text() == comment, textwrap.dedent(
        """\
        examples/pr-comment.md is not what kata publish writes now; if the change is
        intended: KATA_UPDATE_EXAMPLES=1 .venv/bin/python -m pytest tests/test_simulation.py"""
    )


# --- which pull request a grade run belongs to ----------------------------------------


def pull(number: int, user: str, head_sha: str, repo: str = FORK, ref: str = "attempt") -> dict:
    owner = repo.split("/")[0]
    return {
        "number": number,
        "user": {"login": user},
        "created_at": iso(T0 + number),
        "head": {
            "sha": head_sha,
            "ref": ref,
            "repo": {"full_name": repo, "owner": {"login": owner}},
        },
    }


def find_pull(tmp_path: Path, pulls: list[dict], head_repository: str = FORK) -> dict[str, str]:
    """Run the publish workflow's "Find the pull request" step on a canned page of pulls."""
    fake = tmp_path / "gh"
    (fake / "bin").mkdir(parents=True)
    (fake / "bin" / "gh").write_text(FAKE_GH)
    (fake / "bin" / "gh").chmod(0o755)
    (fake / "pulls.json").write_text(json.dumps(pulls))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
        "PATH": f"{fake / 'bin'}:{os.environ['PATH']}",
        "FAKE_GH_DIR": str(fake),
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "RUNNER_TEMP": str(tmp_path),
        "REPOSITORY": REPOSITORY,
        "HEAD_SHA": "a" * 40,
        "HEAD_BRANCH": "attempt",
        "HEAD_REPOSITORY": head_repository,
        "HEAD_OWNER": head_repository.split("/")[0],
        "GH_TOKEN": "not-a-real-token",
    }
    done = run_step("publish.yml", "prepare", "Find the pull request", env, tmp_path)
    assert done.returncode == 0, done.stderr
    found = outputs(tmp_path / "output")
    found.pop("created", None)
    return found


@pytest.mark.parametrize("order", [1, -1])
def test_a_second_pull_request_of_the_same_head_does_not_take_the_result(tmp_path, order):
    pulls = [pull(1, "alice", "a" * 40), pull(2, "mallory", "a" * 40)][::order]
    assert find_pull(tmp_path, pulls) == {"number": "1", "user": "alice"}


def test_the_head_owners_pull_request_wins_even_when_opened_later(tmp_path):
    pulls = [pull(1, "mallory", "a" * 40), pull(2, "alice", "a" * 40)]
    assert find_pull(tmp_path, pulls) == {"number": "2", "user": "alice"}


def test_a_pull_request_from_another_fork_or_branch_does_not_match(tmp_path):
    pulls = [
        pull(1, "alice", "a" * 40),
        pull(3, "mallory", "a" * 40, repo="mallory/ml-debug-katas"),
        pull(4, "alice", "a" * 40, ref="other"),
    ]
    assert find_pull(tmp_path, pulls) == {"number": "1", "user": "alice"}


def test_without_the_owners_pull_request_the_oldest_matching_one_is_picked(tmp_path):
    pulls = [
        pull(5, "bob", "a" * 40, repo="org/katas"),
        pull(4, "carol", "a" * 40, repo="org/katas"),
    ]
    assert find_pull(tmp_path, pulls, head_repository="org/katas") == {
        "number": "4",
        "user": "carol",
    }


def test_publish_reads_results_still_waiting_in_the_inbox(story, tmp_path):
    from grader.board.leaderboard import record, write_result

    world = story["world"]
    waiting = rival_result() | {"user": "alice", "pr": PR, "run_id": 1004, "head": "c" * 40}
    write_result(tmp_path / "record", waiting)
    record(tmp_path / "record", str(world.upstream), "leaderboard")  # not rendered yet
    workspace, temp, fake = tmp_path / "workspace", tmp_path / "temp", tmp_path / "gh"
    for folder in (workspace, temp, fake / "bin"):
        folder.mkdir(parents=True)
    (fake / "bin" / "gh").write_text(FAKE_GH)
    (fake / "bin" / "gh").chmod(0o755)
    (fake / "runs.json").write_text(json.dumps({"workflow_runs": []}))
    world.git(workspace, "clone", "-q", f"https://github.com/{REPOSITORY}.git", "trusted")
    env = {
        **world.env,
        "PATH": f"{fake / 'bin'}:{world.env['PATH']}",
        "FAKE_GH_DIR": str(fake),
        "GITHUB_SERVER_URL": "https://github.com",
        "RUNNER_TEMP": str(temp),
        "REPOSITORY": REPOSITORY,
        "WORKFLOW_ID": "77",
        "HEAD_BRANCH": "attempt",
        "HEAD_REPOSITORY": FORK,
        "GH_TOKEN": "not-a-real-token",
        "PR": str(PR),
        "PR_CREATED": iso(T0),
    }
    fetched = run_step("publish.yml", "publish", "Fetch the PR head", env, workspace)
    assert fetched.returncode == 0, fetched.stderr
    board = temp / "leaderboard" / "results" / KATA
    assert (board / "pr1-run1004.json").is_file()  # from the inbox
    assert (board / "pr1-run1003.json").is_file()  # from the branch
