"""Time `kata test ID` against the import floor, side by side, and `kata validate`.

    .venv/bin/python bench/bench_kata_test.py [--runs 5] [--kata ID ...] [--validate [N]]

The floor is `python -c "import torch, pytest, hypothesis"`: no test command can beat
it.  Runs are interleaved (floor, kata test, floor, ...) so machine noise hits both
alike; the target is median(kata test) <= 1.5 x median(floor).  `--validate N` also
times N runs of `kata validate` of the whole catalogue (target: median under 120 s on 2
cores for the 28 katas); `--kata` with no id skips the kata tests.
`--validate-kata ID ...` validates only those; `--compare-zygote` times each validate
run twice, interleaved: subjects forked from a zygote (the default without root) and
started as new interpreters (`KATA_SUBJECT_ZYGOTE=0`).
Each validate run also writes `kata validate --json`; the last one's per-variant
seconds are summed by kind (buggy, reference, decoy, alternative, a capstone's "fix
alone" and "all but"), with the wall time no scheduling can beat on these cores: every
variant but a decoy runs all its tests, so their sum over the cores is a lower bound.
`--baseline PATH` times, alternating with each run here, `kata validate` of another
checkout (e.g. `git worktree add /tmp/base REV`), its code and its catalogue, with this
environment's Python.
`--dynamo` adds the floor plus `import torch._dynamo`, which any torch.optim optimizer
construction pays.  `kata test` on an untouched kata is red; the benchmark times it on the shipped
(red) kata and, with the reference fix applied in a temporary copy, on a green one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FLOOR = [sys.executable, "-c", "import torch, pytest, hypothesis"]
# Constructing any torch.optim optimizer imports torch._dynamo (add_param_group is wrapped
# by torch._compile._disable_dynamo): katas whose code builds an optimizer pay this too.
FLOOR_DYNAMO = [sys.executable, "-c", "import torch, pytest, hypothesis, torch._dynamo"]


def timed(
    cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - start, done.returncode


def green_copy(kata_id: str, into: Path) -> Path:
    """A copy of the repository's catalogue with the reference fix applied to one kata."""
    shutil.copytree(ROOT / "katas", into / "katas")
    shutil.copytree(ROOT / "grader" / "private", into / "grader" / "private")
    from grader.catalogue import patches

    patches.apply_reference(kata_id, ROOT / "grader" / "private", into / "katas" / kata_id)
    return into


def validate_breakdown(results: list[dict], cores: int) -> tuple[dict[str, float], float]:
    """Seconds by variant kind over ``kata validate --json``'s results, and the lower
    bound on its wall time: what runs every test (all but decoys) spread over ``cores``."""
    seconds: dict[str, float] = {}
    for kata in results:
        for entry in kata["runs"]:
            seconds[entry["kind"]] = seconds.get(entry["kind"], 0.0) + entry["seconds"]
    every_test = sum(s for kind, s in seconds.items() if kind != "decoy")
    return seconds, every_test / cores


def print_breakdown(report: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    seconds, bound = validate_breakdown(json.loads(report.read_text()), cores)
    print(f"  seconds by variant kind (last run, summed over {cores} workers' runs):")
    for kind, total in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"    {kind:12} {total:7.1f}")
    print(f"  lower bound on {cores} cores (every variant but a decoy runs all its tests):")
    print(f"    {bound:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kata", nargs="*", default=["tiny-lm-near-zero-loss-generates-nonsense"])
    parser.add_argument(
        "--validate",
        type=int,
        nargs="?",
        const=1,
        default=0,
        metavar="N",
        help="also time N runs of kata validate on every kata (1)",
    )
    parser.add_argument(
        "--validate-kata", nargs="*", default=[], metavar="ID", help="validate these, not all"
    )
    parser.add_argument(
        "--compare-zygote",
        action="store_true",
        help="validate with subjects forked from a zygote and started anew, interleaved",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="PATH",
        help="also validate this checkout of another commit, alternating with this one",
    )
    parser.add_argument(
        "--dynamo", action="store_true", help="also time the floor plus torch._dynamo's import"
    )
    args = parser.parse_args()

    print(f"{'command':48} {'median s':>9} {'x floor':>8}  runs")
    for kata_id in args.kata:
        with tempfile.TemporaryDirectory() as tmp:
            green_env = {**os.environ, "KATA_ROOT": str(green_copy(kata_id, Path(tmp)))}
            cases = {
                "floor: import torch, pytest, hypothesis": (FLOOR, None, 0),
                **(
                    {"floor + torch._dynamo (for torch.optim)": (FLOOR_DYNAMO, None, 0)}
                    if args.dynamo
                    else {}
                ),
                f"kata test {kata_id} (red, shipped)": (
                    [str(BIN / "kata"), "test", kata_id],
                    None,
                    1,
                ),
                f"kata test {kata_id} (green, fixed)": (
                    [str(BIN / "kata"), "test", kata_id],
                    green_env,
                    0,
                ),
            }
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(args.runs):
                for name, (cmd, env, expected) in cases.items():
                    seconds, code = timed(cmd, env)
                    if code != expected:
                        sys.exit(f"{name}: exit {code}, expected {expected}")
                    times[name].append(seconds)
        floor = statistics.median(times["floor: import torch, pytest, hypothesis"])
        for name, values in times.items():
            median = statistics.median(values)
            print(f"{name:48} {median:9.2f} {median / floor:8.2f}  {len(values)}")
    which = " ".join(args.validate_kata) or "all katas"
    scratch = tempfile.TemporaryDirectory(prefix="bench-validate-")
    report = Path(scratch.name) / "validate.json"
    here = [str(BIN / "kata"), "validate", "--json", str(report), *args.validate_kata]
    modes = {"": (here, {**os.environ}, None)}
    if args.compare_zygote:  # side by side: subjects forked from a zygote, or new interpreters
        modes = {
            ", zygote": (here, {**os.environ, "KATA_SUBJECT_ZYGOTE": "1"}, None),
            ", no zygote": (here, {**os.environ, "KATA_SUBJECT_ZYGOTE": "0"}, None),
        }
    if args.baseline:
        base = args.baseline.resolve()
        env = {**os.environ, "PYTHONPATH": str(base), "KATA_ROOT": str(base)}
        command = [sys.executable, "-m", "grader.cli", "validate", *args.validate_kata]
        modes[f", baseline {base}"] = (command, env, base)
    runs: dict[str, list[tuple[float, int]]] = {mode: [] for mode in modes}
    for _ in range(args.validate):
        for mode, (command, env, cwd) in modes.items():
            runs[mode].append(timed(command, env, cwd))
    for mode, timings in runs.items():
        if not timings:
            continue
        median = statistics.median(seconds for seconds, _ in timings)
        codes = sorted({code for _, code in timings})
        spread = ", ".join(f"{seconds:.1f}" for seconds, _ in timings)
        name = f"kata validate ({which}{mode})"
        print(f"{name:48} {median:9.2f} {'':8}  {len(timings)} (exit {codes})")
        print(f"  each run, s: {spread}")
    if report.is_file():
        print_breakdown(report)
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
