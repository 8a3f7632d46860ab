"""Time `kata watch`: from a saved file to a printed verdict, for every kata.

    .venv/bin/python bench/bench_watch.py [--saves 6] [--pause 4] [--kata ID ...]

For each kata, in a temporary git copy of the catalogue, `kata watch ID` runs as a
subprocess; the script waits for its first verdict, then saves the kata's module
alternately with the reference fix applied (green) and as shipped (red), each time
timing from the write to the `green:`/`red:` line, with `--pause` seconds between saves
(a candidate reads the verdict and edits; the next worker warms up meanwhile).  The
import floor (`python -c "import torch, pytest, hypothesis"`) is timed in the same run
for scale.  Target: median save-to-verdict at most 0.5 s for each kata, below the floor.
Also times `kata list` and `kata status` (target: under 0.3 s; they must not import torch).
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FLOOR = [sys.executable, "-c", "import torch, pytest, hypothesis"]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def copy_repo(into: Path) -> Path:
    shutil.copytree(ROOT / "katas", into / "katas", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "grader" / "private", into / "grader" / "private")
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "template"]):
        subprocess.run(["git", *args], cwd=into, env=env, check=True)
    return into


def versions(repo: Path, kata_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """(buggy, fixed) texts of the kata's editable files."""
    import tomllib

    folder = repo / "katas" / kata_id
    files = tomllib.loads((folder / "kata.toml").read_text())["files"]
    buggy = {name: (folder / name).read_text() for name in files}
    patch = repo / "grader" / "private" / kata_id / "reference.patch"
    subprocess.run(["git", "apply", str(patch)], cwd=folder, check=True)
    fixed = {name: (folder / name).read_text() for name in files}
    for name, text in buggy.items():
        (folder / name).write_text(text)
    return buggy, fixed


def time_watch(repo: Path, kata_id: str, saves: int, pause: float) -> list[tuple[str, float]]:
    buggy, fixed = versions(repo, kata_id)
    proc = subprocess.Popen(
        [str(BIN / "kata"), "watch", kata_id],
        cwd=repo,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    verdicts: queue.Queue = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            if line.startswith(("green:", "red:")):
                verdicts.put((time.perf_counter(), line.split(":")[0]))

    threading.Thread(target=read, daemon=True).start()
    timings = []
    try:
        verdicts.get(timeout=120)  # the first, cold check
        for i in range(saves):
            time.sleep(pause)
            texts = fixed if i % 2 == 0 else buggy
            start = time.perf_counter()
            for name, text in texts.items():
                (repo / "katas" / kata_id / name).write_text(text)
            at, verdict = verdicts.get(timeout=60)
            timings.append((verdict, at - start))
    finally:
        proc.stdin.write("q\n")
        proc.stdin.close()
        proc.wait(timeout=30)
    return timings


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saves", type=int, default=6, help="saves per kata (half green)")
    parser.add_argument("--pause", type=float, default=4.0, help="seconds between saves")
    parser.add_argument("--kata", nargs="*", help="katas to time (default: all)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        repo = copy_repo(Path(tmp))
        ids = args.kata or sorted(p.parent.name for p in (repo / "katas").glob("*/kata.toml"))
        floor = statistics.median(timed(FLOOR, repo) for _ in range(3))
        print(f"import floor (median of 3): {floor:.2f} s")
        print(f"{'kata':28} {'median s':>8} {'green s':>8} {'red s':>7} {'max s':>6}  x floor")
        medians = []
        for kata_id in ids:
            timings = time_watch(repo, kata_id, args.saves, args.pause)
            seconds = [s for _, s in timings]
            by = {
                v: statistics.median([s for w, s in timings if w == v] or [0])
                for v in ("green", "red")
            }
            median = statistics.median(seconds)
            medians.append(median)
            print(
                f"{kata_id:28} {median:8.3f} {by['green']:8.3f} {by['red']:7.3f} "
                f"{max(seconds):6.3f}  {median / floor:.2f}"
            )
        print(
            f"median over katas: {statistics.median(medians):.3f} s; "
            f"worst kata {max(medians):.3f} s"
        )
        for command in (["list"], ["status"]):
            runs = [timed([str(BIN / "kata"), *command], repo) for _ in range(5)]
            print(f"kata {command[0]:7} median of 5: {statistics.median(runs):.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
