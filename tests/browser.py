"""Headless Chromium for the leaderboard page: find it, serve a folder on 127.0.0.1.

Used by tests/test_leaderboard_page.py and bench/screenshot_leaderboard.py.  The flags are
those Chromium needs as root on a machine without a network: no sandbox, no GPU, and none
of its background connections (updates, sync, QUIC probes).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    """``$KATA_CHROMIUM``, else a Chromium or Chrome on ``PATH``."""
    names = ("chromium", "chromium-browser", "google-chrome")
    return os.environ.get("KATA_CHROMIUM") or next(filter(None, map(shutil.which, names)), None)


def find_chromedriver() -> str | None:
    """``$KATA_CHROMEDRIVER``, else ``chromedriver`` on ``PATH`` or in GitHub's runners'
    ``$CHROMEWEBDRIVER``."""
    found = os.environ.get("KATA_CHROMEDRIVER") or shutil.which("chromedriver")
    if not found and os.environ.get("CHROMEWEBDRIVER"):
        candidate = Path(os.environ["CHROMEWEBDRIVER"]) / "chromedriver"
        found = str(candidate) if candidate.exists() else None
    return found


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port) while the block runs; yields its URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
