"""`kata new`: a scaffold that loads, lists and validates, in temporary repositories.

The scaffold is never created in this repository's katas/ (tests/test_katas.py checks
every kata there)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kata_factory import QUESTIONS_TOML, git, run_kata, write_kata

from grader.authoring import scaffold
from grader.catalogue.katas import load_catalogue

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NEW_ID, MODULE = "label-smoothing-loss", "label_smoothing_loss"


def kata(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_kata(root, *args, columns=200)


@pytest.fixture
def repo(tmp_path) -> Path:
    write_kata(tmp_path, "good", "good_stats")
    return tmp_path


def new_kata(**overrides) -> scaffold.NewKata:
    fields = {
        "id": NEW_ID,
        "topic": "losses-and-numerics",
        "title": "Label-smoothed loss is lower than the plain one",
        "difficulty": 2,
        "budget_minutes": 20,
        "module": MODULE,
    }
    return scaffold.NewKata(**(fields | overrides))


def test_new_kata_is_listed_with_every_file_and_the_next_steps(repo):
    done = kata(repo, "new", NEW_ID, "--topic", "losses-and-numerics", "--difficulty", "2")
    assert done.returncode == 0, done.stderr
    private = f"grader/private/{NEW_ID}"
    expected = {
        f"katas/{NEW_ID}/kata.toml",
        f"katas/{NEW_ID}/README.md",
        f"katas/{NEW_ID}/{MODULE}.py",
        f"katas/{NEW_ID}/test_{MODULE}.py",
        f"{private}/reference.patch",
        f"{private}/decoys/tuned-to-the-brief.patch",
        f"{private}/decoys/treats-the-symptom.patch",
        f"{private}/holdout/test_{MODULE}_holdout.py",
    }
    listed = {line.strip() for line in done.stdout.splitlines() if line.startswith("  ")}
    assert expected <= listed
    assert all((repo / path).is_file() for path in expected)
    for step in (f"kata validate {NEW_ID}", f"kata seal {NEW_ID}", "git diff --relative="):
        assert step in done.stdout

    rows = {row["id"]: row for row in json.loads(kata(repo, "list", "--json").stdout)}
    assert rows[NEW_ID]["topic"] == "losses-and-numerics"
    assert rows[NEW_ID]["difficulty"] == 2
    (loaded,) = [k for k in load_catalogue(repo) if k.id == NEW_ID]
    assert loaded.files == (f"{MODULE}.py",)


def test_the_scaffold_is_lint_and_format_clean(repo):
    scaffold.create(repo, new_kata())
    sources = sorted(str(p) for p in repo.rglob(f"*{MODULE}*.py"))
    assert len(sources) == 3
    config = str(ROOT / "pyproject.toml")
    check = subprocess.run(
        [str(BIN / "ruff"), "check", "--config", config, *sources], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [str(BIN / "ruff"), "format", "--check", "--config", config, *sources],
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout


def test_validate_fails_the_untouched_scaffold_on_its_placeholders_only(repo):
    scaffold.create(repo, new_kata())
    result = kata(repo, "validate", NEW_ID, "--repeat", "1", "--jobs", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    failed = {line.split(":")[0].strip() for line in result.stdout.splitlines() if "FAIL" in line}
    assert failed == {
        "FAIL reference patch applies",
        "FAIL tuned-to-the-brief patch applies",
        "FAIL treats-the-symptom patch applies",
        "FAIL right-idea-off-by-one patch applies",
        "FAIL alternative library-equivalent patch applies",
        "FAIL private material",  # the follow-up questions are still TODOs
        "FAIL buggy",  # the placeholder module raises NotImplementedError
    }
    assert "questions.toml: question 1: still a TODO from `kata new`" in result.stdout
    assert "NotImplementedError" in result.stdout


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_the_documented_workflow_makes_the_scaffold_valid(repo):
    """The steps `kata new` prints: commit the bug, diff each fix against it, seal."""
    git(repo, "init", "--quiet")
    scaffold.create(repo, new_kata())
    module = repo / "katas" / NEW_ID / f"{MODULE}.py"
    placeholder = module.read_text().splitlines()[-1] + "\n"
    _replace(module, placeholder, "    return x * 1.0001\n")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "the buggy kata")
    private = repo / "grader" / "private" / NEW_ID
    fixes = {
        private / "reference.patch": "x.clone()",
        private / "decoys" / "tuned-to-the-brief.patch": "x * 1.00001",
        private / "decoys" / "treats-the-symptom.patch": "x.clamp(-1e3, 1e3) * 0.9999",
        private / "decoys" / "right-idea-off-by-one.patch": "x + 1e-3",
        private / "alternatives" / "library-equivalent.patch": "x * 1.0",
    }
    for patch, fix in fixes.items():
        _replace(module, "x * 1.0001", fix)
        with patch.open("a") as handle:
            handle.write(git(repo, "diff", f"--relative=katas/{NEW_ID}") + "\n")
        git(repo, "checkout", "--", str(module))
    (private / "questions.toml").write_text(QUESTIONS_TOML)
    assert kata(repo, "seal", NEW_ID).returncode == 0
    result = kata(repo, "validate", NEW_ID, "--jobs", "1", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "decoys caught: 3/3" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"id": "Label_Smoothing"}, "is not a kata id"),
        ({"id": "good"}, "katas/good already exists"),
        ({"module": "good_stats"}, "'good_stats' is already used by kata 'good'"),
        ({"module": "good_stats"}, "'test_good_stats' is already used by kata 'good'"),
        ({"module": "random"}, "'random' would shadow an installed module"),
        ({"module": "torch"}, "'torch' would shadow an installed module"),
        ({"module": "2d_conv"}, "is not an importable Python name"),
        ({"title": "short"}, "title: 'short' is too short"),
        ({"budget_minutes": 0}, "budget_minutes: 0 is less than the minimum of 1"),
    ],
)
def test_refusals_name_the_problem_and_write_nothing(repo, overrides, problem):
    before = sorted(repo.rglob("*"))
    with pytest.raises(scaffold.ScaffoldError) as error:
        scaffold.create(repo, new_kata(**overrides))
    assert any(problem in line for line in error.value.problems), error.value.problems
    assert sorted(repo.rglob("*")) == before


def test_a_refusal_on_the_command_line_is_a_usage_error(repo):
    result = kata(repo, "new", "good", "--topic", "metrics")
    assert result.returncode == 2
    assert result.stderr.startswith("kata: cannot create kata 'good':\n  ")
    assert "already exists: pick another id" in result.stderr
    unknown_topic = kata(repo, "new", "fresh-id", "--topic", "vision")
    assert unknown_topic.returncode == 2
    assert "invalid choice: 'vision'" in unknown_topic.stderr
    assert not (repo / "katas" / "fresh-id").exists()


def test_a_capstone_and_an_implementation_scaffold_load_and_fail_only_on_placeholders(repo):
    capstone = kata(repo, "new", "mini-capstone", "--topic", "training", "--kind", "capstone")
    assert capstone.returncode == 0, capstone.stderr
    private = repo / "grader" / "private" / "mini-capstone"
    for fault in ("first-fault", "second-fault", "third-fault"):
        snake = fault.replace("-", "_")
        assert (private / "faults" / f"{fault}.patch").is_file()
        assert (private / "decoys" / fault / "treats-the-symptom.patch").is_file()
        assert (private / "holdout" / f"test_{snake}_holdout.py").is_file()
    built = kata(repo, "new", "build-a-loss", "--topic", "metrics", "--kind", "implementation")
    assert built.returncode == 0, built.stderr
    assert "the contract in docstrings" in built.stdout

    loaded = {k.id: k for k in load_catalogue(repo)}
    cap, impl = loaded["mini-capstone"], loaded["build-a-loss"]
    assert (cap.kind, [f.name for f in cap.faults], cap.budget_minutes) == (
        "capstone",
        ["first-fault", "second-fault", "third-fault"],
        45,
    )
    assert cap.hints_by_fault["second-fault"][0].startswith("TODO")
    assert (impl.kind, impl.silent, impl.pass_to_pass) == ("implementation", False, ())

    result = kata(repo, "validate", "mini-capstone", "build-a-loss", "--repeat", "1")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    failed = {line.split(":")[0].strip() for line in result.stdout.splitlines() if "FAIL" in line}
    allowed = ("FAIL private material", "FAIL buggy")
    assert all(f.endswith("patch applies") or f.startswith(allowed) for f in failed), failed
    assert "FAIL fix first-fault alone patch applies" in failed
