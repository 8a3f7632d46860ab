"""The leaderboard page: escaped, self-contained (no request leaves it), and working in a
real headless Chromium: tables render and sort, charts load, the reader's result is
marked, and hostile names and titles stay text.

The browser tests need Chromium and its driver: Debian's ``chromium`` and
``chromium-driver`` (``bash scripts/install-test-tools.sh`` installs them, as ``.ci/run``
does), or Chrome and chromedriver where a CI image ships them.  Without them the browser
tests are skipped with the reason, except under CI (``CI=true``), where they must run.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from browser import CHROMIUM_FLAGS, find_chromedriver, find_chromium, serve
from test_leaderboard import result

from grader.board.leaderboard import rendered_files, write_rendered
from grader.board.page import CSP, chart_svg, x_of
from grader.catalogue.katas import Kata

HOSTILE_USER = "<img src=x onerror=window.__pwned=1>"
HOSTILE_TITLE = "</script><script>window.__pwned=2</script><b>bold</b> & <i>"
HOSTILE_REASON = "changed </td></tr></table><img src=x onerror=window.__pwned=3> \u2028"


def kata(kata_id: str, title: str, topic: str = "metrics") -> Kata:
    return Kata(
        id=kata_id,
        title=title,
        topic=topic,
        difficulty=1,
        budget_minutes=15,
        files=("x.py",),
        hint_count=1,
        fail_to_pass=(),
        pass_to_pass=(),
        silent=True,
        path=Path("/nonexistent/katas") / kata_id,
    )


CATALOGUE = [kata("good", HOSTILE_TITLE), kata("other", "Plain title", "training")]


def board_results() -> list[dict]:
    """A small board; the hostile user goes past the schema on purpose: the page must
    escape what it is given, whatever checked it before."""
    return [
        result("alice", commit_time_s=125, pr=1, run_id=1),
        result("bob", commit_time_s=3600, pr=2, run_id=2, diff={"tokens": 9}),
        result("carol", commit_time_s=40, pr=3, run_id=3, diff={"tokens": 30}),
        result(HOSTILE_USER, commit_time_s=700, pr=4, run_id=4),
        result("dave", status="red", commit_time_s=None, clock=None, pr=5, run_id=5),
        result("mallory", pr=6, run_id=6, ranked=False, unranked_reasons=[HOSTILE_REASON]),
        result("alice", kata="other", topic="training", commit_time_s=900, pr=7, run_id=7),
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    write_rendered(folder, rendered_files(board_results(), CATALOGUE, ["results/x: bad <b>"]))
    return folder


class Elements(HTMLParser):
    """Every element's tag and attributes, as a browser's parser would see them."""

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def pages(site: Path) -> dict[str, str]:
    return {p.relative_to(site).as_posix(): p.read_text() for p in site.rglob("*.html")}


# --- the files ---------------------------------------------------------------------------


def test_the_page_has_an_index_a_page_per_user_charts_and_its_assets(site):
    names = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    assert {"index.html", "leaderboard.css", "leaderboard.js", ".nojekyll"} <= names
    assert {"charts/good.svg", "charts/other.svg", "users/alice.html"} <= names
    assert "users/_img_src_x_onerror_window___pwned_1_.html" in names  # a file name, escaped
    assert (
        "README.md" in names
        and "[The leaderboard page](index.html)" in (site / "README.md").read_text()
    )


def test_hostile_names_titles_and_reasons_are_text_not_markup(site):
    for name, text in pages(site).items():
        for tag, attrs in Elements(text).elements:
            assert tag not in {"b", "i"}, (name, tag)
            assert not (tag == "img" and attrs.get("src") == "x"), name
            assert not any(key.startswith("on") for key in attrs), (name, tag, attrs)
        assert text.count("<script") == 1, name  # only the page's own script
    index = (site / "index.html").read_text()
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in index
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned=2&lt;/script&gt;" in index
    assert "&lt;img src=x onerror=window.__pwned=3&gt;" in index
    assert "results/x: bad &lt;b&gt;" in index


def test_no_request_can_leave_the_page(site):
    for name, text in pages(site).items():
        assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in text
        for tag, attrs in Elements(text).elements:
            for key in ("src", "href", "action"):
                value = attrs.get(key) or ""
                assert not re.match(r"^[a-z][a-z0-9+.-]*:|^//", value, re.I), (name, tag, value)
    assert "default-src 'none'" in CSP and "'unsafe-inline'" not in CSP
    assert "url(" not in (site / "leaderboard.css").read_text()
    script = (site / "leaderboard.js").read_text()
    assert "innerHTML" not in script and "fetch(" not in script and "eval(" not in script


def test_charts_are_svg_on_one_fixed_axis():
    image = chart_svg("k", [60, 61, 3600, 40_000], budget_minutes=15)
    root = ET.fromstring(image)
    bars = [e for e in root.iter("{http://www.w3.org/2000/svg}rect") if e.get("class") == "bar"]
    assert sum(int(bar.find("{http://www.w3.org/2000/svg}title").text) for bar in bars) == 4
    assert x_of(1) == x_of(30) < x_of(60) < x_of(3600) < x_of(12 * 3600) == x_of(10**9)
    assert "no one has solved it yet" in chart_svg("k", [], None)


def test_user_pages_mark_the_users_own_result_and_change_only_with_their_results(site):
    page = (site / "users" / "alice.html").read_text()
    marker = re.search(r'<line class="you-line" x1="([\d.]+)"', page)
    assert marker and float(marker.group(1)) == x_of(125)
    assert not re.search(r"\brank\b", page.split("<main>")[1])  # ranks move with everyone's
    more = [*board_results(), result("zed", commit_time_s=5, pr=9, run_id=9)]
    again = rendered_files(more, CATALOGUE)
    assert again["users/alice.html"] == page
    assert again["index.html"] != (site / "index.html").read_text()


def test_write_rendered_writes_only_what_changed_and_replaces_symlinks(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    folder = tmp_path / "board"
    files = rendered_files(board_results(), CATALOGUE)
    assert write_rendered(folder, files) == len(files)
    assert write_rendered(folder, files) == 0
    (folder / "badges" / "user-gone.svg").write_text("stale")
    (folder / "index.html").unlink()
    (folder / "index.html").symlink_to(outside)
    assert write_rendered(folder, files) == 1
    assert not (folder / "badges" / "user-gone.svg").exists()
    assert not (folder / "index.html").is_symlink() and outside.read_text() == "keep"


# --- in a real browser -------------------------------------------------------------------


def _browser() -> tuple[str, str] | str:
    """(chromium, chromedriver), or why they cannot be used."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (the dev extra: bash scripts/install.sh)"
    chromium, driver = find_chromium(), find_chromedriver()
    if not chromium or not driver:
        return (
            "no Chromium and chromedriver on this machine: `bash scripts/install-test-tools.sh`"
            " installs Debian's chromium and chromium-driver (needs root and apt)"
        )
    return chromium, driver


@pytest.fixture(scope="module")
def browser(site):
    found = _browser()
    if isinstance(found, str):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests, but {found}")
        pytest.skip(found)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = found
    profile = tempfile.mkdtemp(prefix="kata-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1200,900"):
        options.add_argument(flag)
    with serve(site) as base:
        session = webdriver.Chrome(service=Service(driver), options=options)
        session.set_page_load_timeout(60)
        try:
            yield session, base
        finally:
            session.quit()
            shutil.rmtree(profile, ignore_errors=True)


def column(session, table_kata: str, index: int) -> list[str]:
    return session.execute_script(
        "const t = Array.from(document.querySelectorAll('table[data-kata]'))"
        "  .find((t) => t.dataset.kata === arguments[0]);"
        "return Array.from(t.tBodies[0].rows, (r) => r.cells[arguments[1]].textContent);",
        table_kata,
        index,
    )


def test_the_page_renders_tables_and_charts_and_marks_the_reader(browser):
    session, base = browser
    session.get(f"{base}/index.html?me=alice")
    tables = session.execute_script("return document.querySelectorAll('table.sortable').length")
    assert tables == 4  # overall, by topic, two katas
    loaded = session.execute_script(
        "return Array.from(document.querySelectorAll('figure.chart img'),"
        " (img) => img.complete && img.naturalWidth > 0)"
    )
    assert loaded == [True, True]
    marked = session.execute_script(
        "return Array.from(document.querySelectorAll('tr.me'), (r) => r.dataset.user)"
    )
    assert set(marked) == {"alice"} and len(marked) == 4
    line = session.execute_script(
        "const l = document.querySelector('figure[data-kata=\"good\"] line.you-line');"
        "return l && Number(l.getAttribute('x1'))"
    )
    assert line == pytest.approx(x_of(125), abs=0.1)
    requests = session.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
    )
    assert requests and all(url.startswith(base + "/") for url in requests), requests


def test_clicking_a_column_sorts_it_both_ways(browser):
    session, base = browser
    session.get(f"{base}/index.html")
    assert column(session, "good", 1) == ["carol", "alice", HOSTILE_USER, "bob", "dave"]
    button = session.execute_script(
        "const t = Array.from(document.querySelectorAll('table[data-kata]'))"
        "  .find((t) => t.dataset.kata === 'good');"
        "return t.tHead.rows[0].cells[6].querySelector('button')"  # diff tokens
    )
    button.click()
    assert column(session, "good", 6) == ["4", "4", "4", "9", "30"]
    button.click()
    assert column(session, "good", 6) == ["30", "9", "4", "4", "4"]
    time_button = session.execute_script(
        "return Array.from(document.querySelectorAll('table[data-kata]'))"
        "  .find((t) => t.dataset.kata === 'good').tHead.rows[0].cells[3].querySelector('button')"
    )
    time_button.click()
    assert column(session, "good", 3) == ["0m 40s", "2m 05s", "11m 40s", "1h 00m", "—"]
    time_button.click()
    assert column(session, "good", 3)[-1] == "—"  # the untimed stay last either way


def test_hostile_strings_render_as_text_in_the_browser(browser):
    session, base = browser
    session.get(f"{base}/index.html?me=" + "%3Cimg%20src%3Dx%20onerror%3Dwindow.__pwned%3D4%3E")
    assert session.execute_script("return window.__pwned === undefined")
    injected = session.execute_script("return document.querySelectorAll('img[src=x], b, i')")
    assert injected == []
    heading = session.execute_script("return document.querySelector('#kata-good h2').textContent")
    assert heading == f"good: {HOSTILE_TITLE}"
    users = column(session, "good", 1)
    assert HOSTILE_USER in users
    reasons = session.execute_script("return document.querySelector('.unranked').textContent")
    assert "<img src=x onerror=window.__pwned=3>" in reasons
    status = session.execute_script("return document.querySelector('.me-status').textContent")
    assert status == "not a GitHub login"
    session.get(f"{base}/users/alice.html")
    assert session.execute_script("return document.querySelectorAll('line.you-line').length") == 2
    assert session.execute_script("return window.__pwned === undefined")
