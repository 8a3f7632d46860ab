"""The README's kata table, generated from the ``kata.toml`` files.

README.md holds it between two markers.  ``kata catalogue --write-readme`` rewrites it;
``tests/test_catalogue_table.py`` fails when it is stale.
"""

from __future__ import annotations

from collections.abc import Iterable

from grader.catalogue.katas import Kata

START = "<!-- catalogue:start -->"
END = "<!-- catalogue:end -->"
NOTE = (
    "<!-- generated from katas/*/kata.toml by `kata catalogue --write-readme`; "
    "edit those files, not this table -->"
)
WRITE_COMMAND = ".venv/bin/kata catalogue --write-readme"


KIND_CELL = {
    "bug": "debug",
    "capstone": "capstone (several faults)",
    "implementation": "implement",
}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(katas: Iterable[Kata]) -> str:
    """A markdown table, one row per kata, in catalogue order (topic, difficulty, id)."""
    lines = [
        "| kata | symptom | topic | kind | difficulty (1-3) | budget |",
        "|---|---|---|---|---|---|",
    ]
    for kata in katas:
        lines.append(
            f"| [`{kata.id}`](katas/{kata.id}/) | {_cell(kata.title)} | {kata.topic} "
            f"| {KIND_CELL[kata.kind]} | {kata.difficulty} | {kata.budget_minutes} min |"
        )
    return "\n".join(lines) + "\n"


def _bounds(readme: str) -> tuple[int, int]:
    if readme.count(START) != 1 or readme.count(END) != 1 or readme.find(END) < readme.find(START):
        raise ValueError(
            f"README.md needs exactly one {START} line followed by one {END} line "
            "where the kata table goes"
        )
    return readme.find(START), readme.find(END)


def splice(readme: str, table: str) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    start, end = _bounds(readme)
    return f"{readme[:start]}{START}\n{NOTE}\n\n{table}\n{readme[end:]}"


def is_stale(readme: str, katas: Iterable[Kata]) -> bool:
    return splice(readme, render(katas)) != readme
