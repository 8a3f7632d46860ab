"""Time a fresh environment install and the first `kata list` after it.

    .venv/bin/python bench/bench_install.py [--runs 3] [--no-pip-cache]

Each run copies the repository (the files a clone would have) into a temporary folder and
runs `bash scripts/install.sh` there: a new .venv, torch, the project and its dev extra.
It reports the wall time of the install, the size of .venv on disk (allocated blocks,
hard links counted once), and the time of the first `kata list` right after the install
(no byte code for the project yet) and of the next ones.  Targets: install under 90 s and
1.3 GB; cold `kata list` under 0.3 s.

pip's cache is used as usual, so downloads are paid at most once; --no-pip-cache makes
every run download (and build) everything again.  KATA_TORCH_INDEX and KATA_PYTHON are
passed through to install.sh.
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
TARGETS = {"install s": 90.0, "venv GB": 1.3, "cold kata list s": 0.3}


def copy_repository(dest: Path) -> None:
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


def disk_usage(folder: Path) -> int:
    """Bytes allocated on disk, like `du -s`: hard-linked files counted once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            stat = os.lstat(os.path.join(dirpath, name))
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_blocks * 512
    return total


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed


def one_run(env: dict[str, str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
        repo = Path(tmp)
        copy_repository(repo)
        install = timed(["bash", "scripts/install.sh"], repo, env)
        size = disk_usage(repo / ".venv") / 1e9
        kata = [str(repo / ".venv" / "bin" / "kata"), "list"]
        cold = timed(kata, repo, env)
        warm = statistics.median(timed(kata, repo, env) for _ in range(3))
    return {
        "install s": install,
        "venv GB": size,
        "cold kata list s": cold,
        "warm kata list s": warm,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-pip-cache", action="store_true", help="download everything each run")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in {"KATA_ROOT", "VIRTUAL_ENV"}}
    if args.no_pip_cache:
        env["PIP_NO_CACHE_DIR"] = "1"

    runs = []
    for number in range(1, args.runs + 1):
        runs.append(one_run(env))
        shown = ", ".join(f"{key} {value:.2f}" for key, value in runs[-1].items())
        print(f"run {number}: {shown}", flush=True)
    print(f"\nmedian of {len(runs)} runs:")
    for key in runs[0]:
        median = statistics.median(run[key] for run in runs)
        target = TARGETS.get(key)
        verdict = (
            ""
            if target is None
            else f"   (target < {target}: {'ok' if median < target else 'MISSED'})"
        )
        print(f"  {key:18} {median:7.2f}{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
