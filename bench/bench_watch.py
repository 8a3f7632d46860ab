"""Time `kata watch`: from a saved file to a printed verdict, for every kata, side by side
with the import floor; and `kata list` side by side with its own floor.

    .venv/bin/python bench/bench_watch.py [--saves 4] [--pause 4] [--cancels 2]
                                          [--kata ID ...] [--list-runs 7] [--list-only]

For each kata, in a temporary git copy of the catalogue, `kata watch ID` runs as a
subprocess; the script waits for its first verdict, then saves the kata's module
alternately with the reference fix applied (green) and as shipped (red), each time
timing from the write to the `green:`/`red:` line, with `--pause` seconds between saves
(a candidate reads the verdict and edits; the next workers warm up meanwhile).  Then,
`--cancels` times: a save that never finishes loading (it sleeps at import), and
`--cancel-after` seconds later the fix; timed from the fix's save to its verdict (the
first check is cancelled and its workers killed).  The import floor
(`python -c "import torch, pytest, hypothesis"`) is timed before each kata and once
more at the end, in the same run, and every figure is also given as a multiple of its
median.  Targets: at one save every 4 s, median save-to-verdict <= 0.2 x floor over the
katas and the worst kata <= 0.3 x floor; a cancelled check's save within the same bounds.

`kata list` is timed against `python -c "import rich.console, tomllib"` (its floor:
nothing it prints can come faster), alternating, `--list-runs` of each, after one
untimed run (which checks the catalogue and remembers it); target <= 1.5 x floor.
`kata status` is timed alongside.  Neither may import torch.
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
# The copy of the catalogue lives inside this checkout, as a candidate's katas live in
# their copy: pytest collects from the directory above the kata folder up to where the
# grader's pytest.ini lives, so a copy in /tmp would also list every entry of /tmp
# (hundreds on a shared machine) on every check, which no candidate pays.
WORK = ROOT / "bench" / ".work"
BIN = Path(sys.executable).parent
FLOOR = [sys.executable, "-c", "import torch, pytest, hypothesis"]
LIST_FLOOR = [sys.executable, "-c", "import rich.console, tomllib"]
STUCK = "\nimport time as _bench_time\n\n_bench_time.sleep(600)\n"  # a save that hangs
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def copy_repo(into: Path) -> Path:
    shutil.copytree(ROOT / "katas", into / "katas", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "grader" / "private", into / "grader" / "private")
    (into / ".gitignore").write_text(".kata/\n__pycache__/\n")
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "template"]):
        subprocess.run(["git", *args], cwd=into, env=env, check=True)
    return into


def versions(repo: Path, kata_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """(buggy, fixed) texts of the kata's editable files."""
    import tomllib

    from grader.catalogue import patches

    folder = repo / "katas" / kata_id
    files = tomllib.loads((folder / "kata.toml").read_text())["files"]
    buggy = {name: (folder / name).read_text() for name in files}
    patches.apply_reference(kata_id, repo / "grader" / "private", folder)
    fixed = {name: (folder / name).read_text() for name in files}
    for name, text in buggy.items():
        (folder / name).write_text(text)
    return buggy, fixed


class Watch:
    def __init__(self, repo: Path, kata_id: str):
        self.repo, self.kata_id = repo, kata_id
        self.proc = subprocess.Popen(
            [str(BIN / "kata"), "watch", kata_id],
            cwd=repo,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "COLUMNS": "200"},
        )
        self.verdicts: queue.Queue = queue.Queue()
        self.lines: list[str] = []  # everything it printed, timed: shown on a wrong verdict
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(f"{time.perf_counter():.3f} {line.rstrip()}")
            if line.startswith(("green:", "red:")):
                self.verdicts.put((time.perf_counter(), line.split(":")[0]))

    def save(self, texts: dict[str, str], label: str) -> float:
        start = time.perf_counter()
        for name, text in texts.items():
            (self.repo / "katas" / self.kata_id / name).write_text(text)
        self.lines.append(f"{start:.3f} [bench: saved the {label} version]")
        return start

    def verdict(self, since: float, expected: str) -> tuple[str, float]:
        """The first verdict printed after ``since``; one other than ``expected`` stops
        the bench, with what the watch printed (a timing of a wrong answer means nothing)."""
        while True:
            at, verdict = self.verdicts.get(timeout=120)
            if at >= since:
                break
        if verdict != expected:
            print(
                f"{self.kata_id}: the save at {since:.3f} was answered {verdict}, not {expected}:"
            )
            print("\n".join(f"  | {line}" for line in self.lines[-60:]), flush=True)
            log = self.write_log(Path(tempfile.mkdtemp(prefix="bench_watch-")))
            print(f"everything the watch printed, timed: {log}", flush=True)
            raise SystemExit(1)
        return verdict, at - since

    def write_log(self, folder: Path) -> Path:
        """Everything the watch printed, timed, with the bench's saves, in folder/ID.log."""
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / f"{self.kata_id}.log"
        log.write_text("\n".join(self.lines) + "\n")
        return log

    def close(self) -> None:
        self.proc.stdin.write("q\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def time_watch(repo: Path, kata_id: str, args) -> tuple[list[tuple[str, float]], list[float]]:
    buggy, fixed = versions(repo, kata_id)
    watch = Watch(repo, kata_id)
    saves, cancels = [], []
    try:
        watch.verdict(0.0, "red")  # the first, cold check
        for i in range(args.saves):
            time.sleep(args.pause)
            texts, label, expected = (
                (fixed, "fixed", "green") if i % 2 == 0 else (buggy, "buggy", "red")
            )
            saves.append(watch.verdict(watch.save(texts, label), expected))
        for _ in range(args.cancels):
            time.sleep(args.pause)
            watch.verdict(watch.save(buggy, "buggy"), "red")  # then a save that hangs, the fix
            time.sleep(args.pause)
            watch.save({name: text + STUCK for name, text in buggy.items()}, "stuck")
            time.sleep(args.cancel_after)
            cancels.append(watch.verdict(watch.save(fixed, "fixed"), "green")[1])
    finally:
        watch.close()
        if args.logs:
            watch.write_log(args.logs)
        for name, text in buggy.items():
            (repo / "katas" / kata_id / name).write_text(text)
    return saves, cancels


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, capture_output=True, check=True)
    return time.perf_counter() - start


def watch_report(repo: Path, args: argparse.Namespace) -> None:
    """Save -> verdict for each kata, with the import floor timed beside them."""
    ids = args.kata or sorted(p.parent.name for p in (repo / "katas").glob("*/kata.toml"))
    floors, rows = [], []
    for kata_id in ids:
        floors.append(timed(FLOOR, repo))
        rows.append((kata_id, *time_watch(repo, kata_id, args)))
    floors.append(timed(FLOOR, repo))
    floor = statistics.median(floors)
    print(f"import floor (median of {len(floors)}, one before each kata): {floor:.2f} s")
    print(
        f"{'kata':26} {'median s':>8} {'green s':>7} {'red s':>6} {'max s':>6} "
        f"{'x floor':>7} {'cancel s':>8} {'x floor':>7}"
    )
    medians, cancel_medians = [], []
    for kata_id, saves, cancels in rows:
        seconds = [s for _, s in saves]
        by = {
            v: statistics.median([s for w, s in saves if w == v] or [0]) for v in ("green", "red")
        }
        median = statistics.median(seconds)
        medians.append(median)
        cancel = statistics.median(cancels) if cancels else float("nan")
        cancel_medians += [cancel] if cancels else []
        print(
            f"{kata_id:26} {median:8.3f} {by['green']:7.3f} {by['red']:6.3f} "
            f"{max(seconds):6.3f} {median / floor:7.2f} {cancel:8.3f} {cancel / floor:7.2f}"
        )
    overall, worst = statistics.median(medians), max(medians)
    print(
        f"median over katas: {overall:.3f} s ({overall / floor:.2f} x floor); "
        f"worst kata {worst:.3f} s ({worst / floor:.2f} x floor)"
    )
    if cancel_medians:
        overall, worst = statistics.median(cancel_medians), max(cancel_medians)
        print(
            f"after a cancel: median {overall:.3f} s ({overall / floor:.2f} x floor); "
            f"worst kata {worst:.3f} s ({worst / floor:.2f} x floor)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saves", type=int, default=4, help="saves per kata (half green)")
    parser.add_argument("--pause", type=float, default=4.0, help="seconds between saves")
    parser.add_argument("--cancels", type=int, default=2, help="cancelled checks per kata")
    parser.add_argument("--cancel-after", type=float, default=1.0, help="seconds into a check")
    parser.add_argument("--kata", nargs="*", help="katas to time (default: all)")
    parser.add_argument("--list-runs", type=int, default=7, help="kata list runs (and floor)")
    parser.add_argument("--list-only", action="store_true", help="time kata list and status only")
    parser.add_argument(
        "--logs", type=Path, help="keep what each watch printed, timed, in DIR/ID.log"
    )
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    # as scripts/install.sh leaves the checkout (and as PYTHONDONTWRITEBYTECODE would not)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "grader")], check=True)
    with tempfile.TemporaryDirectory(prefix="bench-watch-", dir=WORK) as tmp:
        repo = copy_repo(Path(tmp))
        if not args.list_only:
            watch_report(repo, args)
        timed([str(BIN / "kata"), "list"], repo)  # checks the catalogue once, remembered
        runs: dict[str, list[float]] = {"floor": [], "list": [], "status": []}
        for _ in range(args.list_runs):
            runs["floor"].append(timed(LIST_FLOOR, repo))
            runs["list"].append(timed([str(BIN / "kata"), "list"], repo))
            runs["status"].append(timed([str(BIN / "kata"), "status"], repo))
        list_floor = statistics.median(runs["floor"])
        print(f"list floor (import rich.console, tomllib), median of {args.list_runs}: ", end="")
        print(f"{list_floor:.3f} s")
        for name in ("list", "status"):
            median = statistics.median(runs[name])
            print(f"kata {name:7} median of {args.list_runs}: {median:.3f} s", end="")
            print(f" ({median / list_floor:.2f} x floor)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
