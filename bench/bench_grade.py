"""Time `kata grade` on one commit and on a ten-commit range, beside `kata test`.

    .venv/bin/python bench/bench_grade.py [--runs 3] [--kata ID]

Builds a throwaway git repository holding this project's catalogue, with two branches:
`one` (start marker, then the reference fix) and `ten` (start marker, nine red commits,
then the fix: the grader walks all ten).  Targets: ten commits <= 10 x one commit, and
one commit <= 2 x `kata test` on the same (fixed) kata.  Runs are interleaved.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KATA = Path(sys.executable).parent / "kata"
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True)


def build(repo: Path, kata_id: str) -> None:
    shutil.copytree(ROOT / "katas", repo / "katas")
    shutil.copytree(ROOT / "grader" / "private", repo / "grader" / "private")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "template")
    folder = repo / "katas" / kata_id
    import tomllib

    from grader.catalogue import patches

    editable = tomllib.loads((folder / "kata.toml").read_text())["files"][0]
    module = folder / editable  # not harness.py: the grader takes that from the base
    shipped = module.read_text()
    for branch, red_commits in (("one", 0), ("ten", 9)):
        git(repo, "checkout", "-q", "-b", branch, "main")
        git(repo, "commit", "-q", "--allow-empty", "-m", f"start\n\nKata-Start: {kata_id}")
        for attempt in range(red_commits):
            module.write_text(shipped + f"\n_ATTEMPT = {attempt}\n")
            git(repo, "commit", "-qam", f"red attempt {attempt}")
        module.write_text(shipped)
        patches.apply_reference(kata_id, ROOT / "grader" / "private", folder)
        git(repo, "commit", "-qam", "fix")
    git(repo, "checkout", "-q", "one")


def timed(cmd: list[str], cwd: Path, env: dict[str, str], expected: int) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != expected:
        sys.exit(f"{' '.join(cmd)}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kata", default="tiny-lm-near-zero-loss-generates-nonsense")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        build(repo, args.kata)
        env = {**ENV, "KATA_ROOT": str(repo)}
        cases = {
            f"kata test {args.kata} (fixed)": [str(KATA), "test", args.kata],
            "kata grade, 1 commit": [str(KATA), "grade", "--base", "main", "--head", "one"],
            "kata grade, 10 commits": [str(KATA), "grade", "--base", "main", "--head", "ten"],
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, cmd in cases.items():
                times[name].append(timed(cmd, repo, env, 0))
    medians = {name: statistics.median(values) for name, values in times.items()}
    test, one, ten = medians.values()
    for name, median in medians.items():
        print(f"{name:40} median {median:6.2f} s over {args.runs} runs")
    print(f"one commit / kata test: {one / test:.2f} (target <= 2)")
    print(f"ten commits / one commit: {ten / one:.2f} (target <= 10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
