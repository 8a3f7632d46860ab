"""The pull-request comment: badges, the test table, time, diff and rank, every string
from the report escaped for markdown and HTML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from grader.board.artifact import Context
from grader.board.badges import shields_url
from grader.board.ranking import ranking_time, status_label
from grader.board.recompute import Checked, ServerClock
from grader.grading.report import (
    FAULT_HEADERS,
    code_block,
    escape_text,
    fault_rows,
    faults_fixed,
    format_duration,
)

MARKER = "<!-- kata-grade: one comment per pull request, updated on every push -->"
MAX_TEST_ROWS = 30
MAX_COMMENT_CHARS = 65_536  # GitHub refuses a longer comment body
MAX_TEXT_CHARS = 1_000  # one message or note, before escaping
TRUNCATED = (
    "**… truncated**: the rest of this comment was cut to stay within GitHub's "
    f"{MAX_COMMENT_CHARS:,}-character limit; the grade run's summary has the full report."
)


@dataclass
class Section:
    checked: Checked
    result: dict
    clock: ServerClock
    rank: tuple[int, int] | None  # (position, of) among ranked users; None if not ranked


def _badge(label: str, message: str, color: str) -> str:
    return f"![{escape_text(f'{label}: {message}')}]({shields_url(label, message, color)})"


def _badges(section: Section, ranked_board: bool) -> str:
    result, kata = section.result, section.checked.kata
    status_color = {"green": "brightgreen", "red": "red", "error": "orange"}[result["status"]]
    if result.get("faults_fixed") and result["status"] == "red":
        status_color = "yellow"  # partial credit
    badges = [_badge("status", status_label(result), status_color)]
    seconds = ranking_time(result)
    timed = "time to green" if result["status"] == "green" else "time to score"
    if seconds is None:
        badges.append(
            _badge(
                "time to green",
                "not timed" if result["status"] == "green" else "not green yet",
                "lightgrey",
            )
        )
    else:
        color = "brightgreen" if seconds <= kata.budget_minutes * 60 else "yellow"
        badges.append(_badge(timed, f"{format_duration(seconds)} ({result['clock']} clock)", color))
    total, ref = result["diff"]["total"], result["diff"]["reference_total"]
    if ref is None:
        badges.append(_badge("diff", f"{total} lines", "blue"))
    else:
        color = "brightgreen" if total <= ref else "yellow" if total <= 3 * ref else "orange"
        badges.append(_badge("diff vs reference", f"{total} vs {ref} lines", color))
    hints = result["hints_used"]
    badges.append(_badge("hints", str(hints), "brightgreen" if hints == 0 else "yellow"))
    if ranked_board:
        if section.rank:
            position, of = section.rank
            badges.append(_badge(f"rank on {kata.id}", f"{position} of {of}", "blue"))
        else:
            badges.append(_badge(f"rank on {kata.id}", "unranked", "lightgrey"))
    return " ".join(badges)


def _first_line(text: str, limit: int = 120) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return escape_text(line if len(line) <= limit else line[: limit - 1] + "…")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def _section_lines(section: Section, ranked_board: bool, context: Context) -> list[str]:
    result, entry, kata = section.result, section.checked.entry, section.checked.kata
    clock = section.clock
    lines = [
        f"### {escape_text(kata.id)}: {escape_text(kata.title)}",
        "",
        _badges(section, ranked_board),
        "",
        f"**{result['status']}**: {escape_text(_cap(entry['message']))} · topic "
        f"{escape_text(kata.topic)} · budget {kata.budget_minutes} min",
        "",
    ]
    if rows := fault_rows(entry):
        fixed, total = faults_fixed(entry) or (0, 0)
        lines += [
            f"**{fixed} of {total} faults fixed** (partial credit: a fault counts when every "
            "test of its group passes; lines: changed in the functions its own fix touches, "
            "next to that fix's)",
            "",
            "| " + " | ".join(FAULT_HEADERS) + " |",
            "|---|---|---|---|---|",
        ]
        lines += ["| " + " | ".join(escape_text(cell) for cell in row) + " |" for row in rows]
        lines.append("")
    lines += ["| test | result |", "|---|---|"]
    tests = entry["tests"]
    failing_first = sorted(tests, key=lambda t: t["status"] == "pass")
    for test in failing_first[:MAX_TEST_ROWS]:
        name = escape_text(test["name"]) + (" (hidden)" if test["hidden"] else "")
        if test["status"] == "pass":
            lines.append(f"| {name} | ✅ pass |")
        else:
            message = _first_line(test["message"])
            lines.append(f"| {name} | ❌ {test['status']}{': ' + message if message else ''} |")
    if len(tests) > MAX_TEST_ROWS:
        lines.append(f"| … {len(tests) - MAX_TEST_ROWS} more | |")
    lines.append("")
    if section.checked.green is not None:
        what = "green" if result["status"] == "green" else status_label(result)
        commit = format_duration(result["commit_time_s"])
        if clock.seconds is not None:
            lines.append(
                f"- Time to {what}: **{format_duration(clock.seconds)}** on the server clock "
                f"(GitHub saw the start marker at {_when(clock.started)} and the green commit "
                f"at {_when(clock.greened)}"
                + (
                    f"; {clock.runs} grade run{'s' if clock.runs != 1 else ''} until green). "
                    if clock.runs is not None
                    else "). "
                )
                + f"Commit clock (self-reported): {commit}."
            )
        else:
            why = f" ({escape_text(clock.note)})" if clock.note else ""
            lines.append(
                f"- Time to {what}: **{commit}** on the commit clock (self-reported); "
                f"no server time{why}."
            )
    diff = result["diff"]
    ref = diff["reference_total"]
    lines.append(
        f"- Diff: {diff['total']} lines ({diff['added']} added, {diff['removed']} removed), "
        f"{diff['tokens']} tokens"
        + (f"; the reference fix is {ref} lines." if ref is not None else ".")
        + f" Attempts: {result['attempts']}. Hints: {result['hints_used']}."
    )
    if result["ranked"]:
        where = f" on {escape_text(kata.id)}" if section.rank else ""
        rank = f", rank {section.rank[0]} of {section.rank[1]}{where}" if section.rank else ""
        lines.append(f"- Ranked{rank}.")
    else:
        lines.append("- **Unranked**:")
        lines += [f"  - {escape_text(reason)}" for reason in result["unranked_reasons"]]
    for note in entry["notes"]:
        lines.append(f"- Note: {escape_text(_cap(note))}")
    return lines


def _cap(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _within_limit(lines: list[str], footer: list[str]) -> str:
    """The comment's lines and footer, lines dropped from the end (with a visible notice)
    when the whole would be longer than GitHub accepts."""
    text = "\n".join(lines + footer) + "\n"
    if len(text) <= MAX_COMMENT_CHARS:
        return text
    budget = MAX_COMMENT_CHARS - len("\n".join(["", "", TRUNCATED, *footer]) + "\n")
    kept, used = [], 0
    for line in lines:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join([*kept, "", TRUNCATED, *footer]) + "\n"


def _footer(context: Context) -> list[str]:
    links = []
    if context.run_url:
        links.append(f"[grade run]({context.run_url})")
    if context.leaderboard_url:
        links.append(f"[leaderboard]({context.leaderboard_url})")
    tail = " · ".join(links)
    return [
        "",
        "<sub>One comment per pull request, updated on every push. "
        "Ranking: green first, then time to green, then diff tokens "
        "(a capstone: faults fixed first; an implementation: tests passed, no diff)."
        + (f" {tail}" if tail else "")
        + "</sub>",
    ]


def comment(sections: list[Section], context: Context, ranked_board: bool) -> str:
    head = sections[0].result["head"][:12] if sections else ""
    lines = [MARKER, f"## Kata grade for `{head}`"]
    for section in sections:
        lines += ["", *_section_lines(section, ranked_board, context)]
    return _within_limit(lines, _footer(context))


def status_comment(outcome: str, context: Context) -> str:
    if outcome == "nothing-to-grade":
        body = [
            "## Kata grade: nothing to grade",
            "",
            "No kata's files changed in this pull request. Run `kata start ID`, push the "
            "start marker, then commit your fix to the kata's files and push: this comment "
            "will show the result.",
        ]
    else:
        body = [
            "## Kata grade: the grader could not run",
            "",
            "The grade run ended without a report; its log says why. Push again to retry.",
        ]
    return "\n".join([MARKER, *body, *_footer(context)]) + "\n"


def refusal_comment(reason: str, context: Context | None) -> str:
    """The comment for a refused artifact: the reason in a code block, nothing ranked."""
    body = [
        MARKER,
        "## Kata grade: not published",
        "",
        "The grade run's artifact was refused, so nothing was recorded on the leaderboard:",
        "",
        code_block(reason[:2000]),
        "",
        "A pull request that changes the workflows or the grader cannot publish results; "
        "otherwise, push again to re-run the grader.",
    ]
    return "\n".join(body + (_footer(context) if context else [])) + "\n"
