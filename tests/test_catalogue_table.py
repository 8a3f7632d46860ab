"""The README's kata table is generated from the kata.toml files, and kept in step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kata_factory import write_kata

from grader.authoring import catalogue_table
from grader.catalogue.katas import load_catalogue

ROOT = Path(__file__).resolve().parent.parent
MAIN = "import sys; from grader.cli.main import main; sys.exit(main(sys.argv[1:]))"
README = """\
# Some project

Intro.

## The katas

<!-- catalogue:start -->
an old table
<!-- catalogue:end -->

## After
"""


def test_the_readme_table_matches_the_catalogue():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert not catalogue_table.is_stale(readme, load_catalogue(ROOT)), (
        "README.md's kata table is stale (a kata.toml changed, or a kata was added or "
        f"removed): run `{catalogue_table.WRITE_COMMAND}` and commit README.md"
    )


@pytest.fixture
def repo(tmp_path) -> Path:
    write_kata(tmp_path, "mean-off-by-one", "mean_stats")
    write_kata(tmp_path, "another-mean", "another_stats")
    toml = tmp_path / "katas" / "another-mean" / "kata.toml"
    toml.write_text(
        toml.read_text()
        .replace("Averages come out a little too large", "Mean | median disagree  on  ties")
        .replace("difficulty = 1", "difficulty = 3")
    )
    (tmp_path / "README.md").write_text(README)
    return tmp_path


def test_rows_link_each_kata_in_catalogue_order_and_escape_pipes(repo):
    table = catalogue_table.render(load_catalogue(repo)).splitlines()
    assert table[0] == "| kata | symptom | topic | kind | difficulty (1-3) | budget |"
    assert table[2:] == [
        "| [`mean-off-by-one`](katas/mean-off-by-one/) | Averages come out a little too large "
        "| metrics | debug | 1 | 5 min |",
        "| [`another-mean`](katas/another-mean/) | Mean \\| median disagree on ties "
        "| metrics | debug | 3 | 5 min |",
    ]


def test_splice_replaces_only_the_marked_block_and_is_idempotent(repo):
    table = catalogue_table.render(load_catalogue(repo))
    once = catalogue_table.splice(README, table)
    assert once.startswith(README.split("<!-- catalogue:start -->")[0])
    assert once.endswith("<!-- catalogue:end -->\n\n## After\n")
    assert "an old table" not in once
    assert table in once
    assert catalogue_table.splice(once, table) == once
    assert not catalogue_table.is_stale(once, load_catalogue(repo))


@pytest.mark.parametrize(
    "broken",
    [
        README.replace("<!-- catalogue:end -->\n", ""),
        README.replace("<!-- catalogue:start -->\n", "") + "<!-- catalogue:start -->\n",
        README + "<!-- catalogue:start -->\n<!-- catalogue:end -->\n",
    ],
    ids=["no end marker", "markers in the wrong order", "two tables"],
)
def test_markers_must_appear_once_and_in_order(broken):
    with pytest.raises(ValueError, match="needs exactly one <!-- catalogue:start -->"):
        catalogue_table.splice(broken, "| table |\n")


def kata(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args],
        env={**os.environ, "KATA_ROOT": str(root)},
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_checks_rewrites_and_prints_the_table(repo):
    stale = kata(repo, "catalogue", "--check")
    assert stale.returncode == 1
    assert "stale; run `kata catalogue --write-readme`" in stale.stdout
    written = kata(repo, "catalogue", "--write-readme")
    assert written.returncode == 0, written.stderr
    assert "rewritten from 2 katas" in written.stdout
    readme = (repo / "README.md").read_text()
    assert not catalogue_table.is_stale(readme, load_catalogue(repo))
    assert kata(repo, "catalogue", "--check").returncode == 0
    printed = kata(repo, "catalogue")
    assert printed.stdout == catalogue_table.render(load_catalogue(repo))


def test_a_readme_without_markers_is_a_usage_error(repo):
    (repo / "README.md").write_text("# No table here\n")
    result = kata(repo, "catalogue", "--write-readme")
    assert result.returncode == 2
    assert "README.md: README.md needs exactly one <!-- catalogue:start -->" in result.stderr
    assert (repo / "README.md").read_text() == "# No table here\n"
