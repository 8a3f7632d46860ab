"""Render the leaderboard page from synthetic results and take screenshots of it.

    .venv/bin/python bench/screenshot_leaderboard.py [--results 400] [--out /tmp/leaderboard]
        [--me user00007] [--dir FOLDER]

Writes ``index.png`` (the page as a reader marked ``--me`` sees it) and ``user.png`` (that
user's page) into ``--out``, with the rendered folder beside them (open
``--out/site/index.html`` through any local web server to browse it).  ``--dir`` renders
an existing leaderboard folder (a checkout of the leaderboard branch) instead of synthetic
results.  Needs Chromium (``bash scripts/install-test-tools.sh`` installs Debian's); the
page is served from 127.0.0.1 only, and Chromium runs with its background networking off.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))  # browser.py: find Chromium, serve a folder

from browser import CHROMIUM_FLAGS, find_chromium, serve  # noqa: E402
from leaderboard_data import synthetic_results  # noqa: E402

from grader.board.leaderboard import render, write_result  # noqa: E402
from grader.catalogue.katas import load_catalogue  # noqa: E402


def chromium() -> str:
    found = find_chromium()
    if not found:
        sys.exit("no Chromium here: bash scripts/install-test-tools.sh installs Debian's")
    return found


def screenshot(url: str, out: Path, height: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kata-chromium-") as profile:
        command = [
            chromium(),
            *CHROMIUM_FLAGS,
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size=1200,{height}",
            f"--screenshot={out}",
            url,
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=int, default=400)
    parser.add_argument("--me", default="user00007", help="the reader whose results are marked")
    parser.add_argument("--out", default="/tmp/leaderboard", help="folder for the screenshots")
    parser.add_argument("--dir", help="render this leaderboard folder instead")
    parser.add_argument("--height", type=int, default=2400, help="screenshot height in pixels")
    args = parser.parse_args()
    out = Path(args.out)
    site = out / "site"
    if site.exists():
        shutil.rmtree(site)
    catalogue = load_catalogue(ROOT)
    if args.dir:
        shutil.copytree(args.dir, site, ignore=shutil.ignore_patterns(".git"))
    else:
        for result in synthetic_results(args.results, catalogue):
            write_result(site, result)
    render(site, catalogue)
    with serve(site) as base:
        screenshot(f"{base}/index.html?me={args.me}", out / "index.png", args.height)
        screenshot(f"{base}/users/{args.me}.html", out / "user.png", 1400)
    print(f"{out / 'index.png'}\n{out / 'user.png'}\n(rendered folder: {site})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
