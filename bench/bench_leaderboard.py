"""The leaderboard at cohort scale: render time, and publishing from concurrent writers.

    .venv/bin/python bench/bench_leaderboard.py render [--sizes 1000 10000] [--runs 3]
        [--code DIR]
    .venv/bin/python bench/bench_leaderboard.py publish [--results 1000] [--writers 20]
        [--render-interval 5]

``render`` times ``kata leaderboard render --dir D`` (the whole command: interpreter,
imports, reading and checking every result, README, badges and HTML pages) on synthetic,
schema-valid results the bench writes itself (``bench/leaderboard_data.py``), one file per
graded run as on the leaderboard branch; the median of ``--runs`` for each size, side by
side.  Each run renders a fresh copy of the results twice: *first* (nothing rendered yet:
every output file is created) and *again* after 10 more results were added (what the
render job meets on the branch: the previous render is there, so only changed files are
written).  ``--code DIR`` runs the same command from another checkout's ``grader/`` (for
example ``git archive 95fb64d grader | tar -x -C /tmp/old``), to compare before and after
in one run.

``publish`` simulates the publish workflow at cohort scale against a local bare
repository: ``--writers`` threads each record their share of ``--results`` results,
one ``kata leaderboard push --no-render`` per result (what the leaderboard job runs: a
fresh process that pushes one small commit to the result's own inbox ref), while one
aggregator runs ``kata leaderboard render --remote`` back to back, at most every
``--render-interval`` seconds (the coalescing render job: merge the inbox, render,
push), and once more at the end.  It checks that every result is on the branch, that
the inbox is empty, and prints the time per publish and per render.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from leaderboard_data import synthetic_results  # noqa: E402

from grader.catalogue.katas import load_catalogue  # noqa: E402

PYTHON = sys.executable
NEW_RESULTS = 10  # added between the first render and the next
KATA_MAIN = "import sys; from grader.cli.main import main; sys.argv[0] = 'kata'; sys.exit(main())"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def kata_command(code: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """``kata ARGS`` run from the ``grader/`` package of ``code``."""
    env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(code), "KATA_ROOT": str(ROOT)}
    return [PYTHON, "-P", "-c", KATA_MAIN, *args], env


def write_results(folder: Path, results: list[dict]) -> None:
    for result in results:
        path = folder / "results" / result["kata"] / f"pr{result['pr']}-run{result['run_id']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system) and output of a command that must succeed."""
    cpu, start = _children_cpu(), time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[3:])}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    return elapsed, _children_cpu() - cpu, done.stdout


def size_of(folder: Path) -> str:
    readme = folder / "README.md"
    files = sum(1 for p in folder.rglob("*") if p.is_file() and "results" not in p.parts)
    page = folder / "index.html"
    extra = f", index.html {page.stat().st_size // 1000} KB" if page.exists() else ""
    return f"README {readme.stat().st_size // 1000} KB{extra}, {files} rendered files"


def bench_render(args: argparse.Namespace) -> None:
    katas = load_catalogue(ROOT)
    code = Path(args.code).resolve() if args.code else ROOT
    rows = []
    base = Path(args.tmp) if args.tmp else None
    with tempfile.TemporaryDirectory(prefix="bench-leaderboard-", dir=base) as tmp:
        for size in args.sizes:
            results = synthetic_results(size + NEW_RESULTS, katas)
            source = Path(tmp) / f"source-{size}"
            write_results(source, results[:size])
            first, again, note = [], [], ""
            for run in range(args.runs):
                folder = Path(tmp) / f"run-{size}-{run}"
                subprocess.run(["cp", "-r", str(source), str(folder)], check=True)
                command, env = kata_command(code, "leaderboard", "render", "--dir", str(folder))
                first.append(timed(command, env)[:2])
                write_results(folder, results[size:])  # a few publishes later
                wall, cpu, out = timed(command, env)
                again.append((wall, cpu))
                note = f"{out.strip()}; {size_of(folder)}"
                subprocess.run(["rm", "-rf", str(folder)], check=True)
            rows.append((size, first, again, note))
    print(f"kata leaderboard render --dir D, code from {code}, median of {args.runs}")
    print("first: a folder of results only; again: the same folder after it was rendered")
    print(f"and {NEW_RESULTS} results were added (what the render job finds on the branch);")
    print("wall-clock seconds, and CPU seconds (user + system) in brackets")
    print(f"{'results':>8} | {'first':>14} | {'again':>14} | runs: first / again")

    def median(pairs: list[tuple[float, float]]) -> str:
        wall, cpu = (statistics.median(p[i] for p in pairs) for i in (0, 1))
        return f"{wall:5.2f}s ({cpu:.2f})"

    for size, first, again, _ in rows:
        runs = ", ".join(f"{a[0]:.2f}/{b[0]:.2f}" for a, b in zip(first, again, strict=True))
        print(f"{size:>8} | {median(first):>14} | {median(again):>14} | {runs}")
    for size, _, _, note in rows:
        print(f"  {size}: {note}")
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"load average at the end: {load} ({os.cpu_count()} cpus)")


def bench_publish(args: argparse.Namespace) -> None:
    katas = load_catalogue(ROOT)
    results = synthetic_results(args.results, katas)
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        remote = Path(tmp) / "upstream.git"
        subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
        publish_times: list[float] = []
        attempts: list[int] = []
        failures: list[str] = []
        lock = threading.Lock()

        def writer(number: int) -> None:
            for index in range(number, len(results), args.writers):
                folder = Path(tmp) / f"publish-{index}"
                write_results(folder, [results[index]])
                command, env = kata_command(
                    ROOT, "leaderboard", "push", "--dir", str(folder), "--remote", str(remote),
                    "--no-render",
                )  # fmt: skip
                start = time.perf_counter()
                done = subprocess.run(command, env=env, capture_output=True, text=True)
                elapsed = time.perf_counter() - start
                with lock:
                    if done.returncode != 0:
                        failures.append(done.stderr.strip())
                    publish_times.append(elapsed)
                    if "(attempt " in done.stdout:  # a push to the branch; records never retry
                        attempts.append(int(done.stdout.rsplit("(attempt ", 1)[1].split(")")[0]))

        render_times: list[float] = []
        stop = threading.Event()

        def render_once() -> None:
            command, env = kata_command(ROOT, "leaderboard", "render", "--remote", str(remote))
            start = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if "nothing to render" in done.stderr:
                return  # before the first record: no branch, no inbox yet
            render_times.append(time.perf_counter() - start)
            if done.returncode != 0:
                failures.append(f"render: {done.stderr.strip()}")

        def aggregator() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                render_once()
                stop.wait(max(0.0, args.render_interval - (time.perf_counter() - started)))

        start = time.perf_counter()
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(args.writers)]
        renderer = threading.Thread(target=aggregator)
        renderer.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        renderer.join()
        wall = time.perf_counter() - start
        render_once()  # the render that follows the last publish

        def branch(*git_args: str) -> str:
            done = subprocess.run(
                ["git", "--git-dir", str(remote), *git_args],
                capture_output=True,
                text=True,
                check=True,
            )
            return done.stdout

        files = set(branch("ls-tree", "-r", "--name-only", "leaderboard").split())
        waiting = branch("for-each-ref", "--format=%(refname)", "refs/heads/leaderboard-inbox/")
        expected = {f"results/{r['kata']}/pr{r['pr']}-run{r['run_id']}.json" for r in results}
        readme = branch("show", "leaderboard:README.md")
        commits = int(branch("rev-list", "--count", "leaderboard").strip())
    missing = expected - files
    rendered = readme.count("\n| ")  # table rows, a rough sanity check
    q = statistics.quantiles(publish_times, n=20)
    print(
        f"{len(results)} results from {args.writers} concurrent writers into a local bare "
        f"repository, aggregator every >= {args.render_interval}s:"
    )
    print(f"  on the branch at the end: {len(expected) - len(missing)}/{len(expected)}")
    print(f"  records left in the inbox: {len(waiting.split())}")
    print(f"  failed commands: {len(failures)}")
    for failure in failures[:5]:
        print(f"    {failure}")
    retried = f"{len(attempts)} reported attempts, max {max(attempts)}" if attempts else "none"
    print(
        f"  per publish: median {statistics.median(publish_times):.2f}s, p95 {q[18]:.2f}s, "
        f"max {max(publish_times):.2f}s; retries: {retried}"
    )
    print(
        f"  per render: {len(render_times)} renders, median "
        f"{statistics.median(render_times):.2f}s, max {max(render_times):.2f}s"
    )
    print(
        f"  wall {wall:.0f}s for {len(results)} publishes ({len(results) / wall * 3600:,.0f} "
        f"per hour); {commits} commits on the branch; README table rows {rendered}"
    )
    if missing or failures:
        sys.exit(f"{len(missing)} results missing, {len(failures)} failures")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("render", help="time kata leaderboard render --dir")
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--code", help="a checkout whose grader/ to run (default: this one)")
    p.add_argument("--tmp", help="where to make the folders (default: the system's temp)")
    p.set_defaults(func=bench_render)
    p = sub.add_parser("publish", help="concurrent publishes and renders on a bare repository")
    p.add_argument("--results", type=int, default=1000)
    p.add_argument("--writers", type=int, default=20)
    p.add_argument("--render-interval", type=float, default=5.0)
    p.set_defaults(func=bench_publish)
    args = parser.parse_args()
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
