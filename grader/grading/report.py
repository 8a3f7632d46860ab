"""The grade report: schema-checked JSON, a markdown summary, GitHub annotations.

The report is validated against ``schemas/report.schema.json`` when it is written and
when it is read, so a consumer (the publish workflow) never acts on a malformed or
oversized file.  Text that the code under test can influence (messages, output) is
escaped for markdown and HTML wherever it is rendered.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

SCHEMA_PATH = Path(__file__).parent.parent / "schemas" / "report.schema.json"
MAX_REPORT_BYTES = 5_000_000
MAX_ANNOTATIONS = 10
STATUS_MARK = {"green": "✅", "red": "❌", "error": "⚠️"}


class ReportError(Exception):
    """The report file is not a valid report; the message says where and why."""


@cache
def _validator(schema_path: Path):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_path.read_text()))


def schema_problems(schema_path: Path, data: object, where: str, limit: int = 5) -> list[str]:
    """``where: field: message`` for each way ``data`` breaks the schema (at most ``limit``)."""
    errors = sorted(_validator(schema_path).iter_errors(data), key=lambda e: list(map(str, e.path)))
    return [
        f"{where}: {'.'.join(map(str, e.path)) or '(top level)'}: {e.message[:200]}"
        for e in errors[:limit]
    ]


def validate_report(report: object, where: str = "report") -> None:
    problems = schema_problems(SCHEMA_PATH, report, where)
    if problems:
        raise ReportError("\n".join(problems))


def write_report(report: dict, path: Path) -> None:
    validate_report(report, str(path))
    path.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not allowed")


def loads_strict(data: str | bytes) -> object:
    """``json.loads`` for untrusted input: NaN and Infinity are refused (ValueError)."""
    return json.loads(data, parse_constant=_reject_constant)


def read_report(path: Path) -> dict:
    """Read and validate an untrusted report file (size-bounded, no NaN/Infinity)."""
    size = path.stat().st_size
    if size > MAX_REPORT_BYTES:
        raise ReportError(f"{path}: {size} bytes, more than the {MAX_REPORT_BYTES} allowed")
    try:
        data = loads_strict(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: not valid JSON: {exc}") from None
    validate_report(data, str(path))
    return data


# Characters that change how text reads without being seen: bidirectional controls (the
# "Trojan Source" family), zero-width characters, the soft hyphen and the tag characters.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]"
)


def visible(text: str) -> str:
    """``text`` with each invisible or direction-changing character shown as ``U+XXXX``."""
    return _INVISIBLE.sub(lambda m: f"U+{ord(m.group()):04X}", text)


def escape_text(text: str) -> str:
    """Inline text safe for a markdown table cell: no HTML, links (GitHub's autolinks of
    ``www.``, ``scheme://``, ``mailto:`` and e-mail addresses included), mentions, pipes or
    invisible characters."""
    text = visible(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"([\\`*_{}\[\]()#+!|~@])", r"\\\1", text)
    text = re.sub(r"(?i)(www)\.", r"\1&#46;", text)  # an entity splits what autolinks match
    text = re.sub(r":(?=//)", "&#58;", text)
    text = re.sub(r"(?i)\b(mailto|xmpp):", r"\1&#58;", text)
    text = text.replace("\\@", "\\@<!-- -->")  # e-mail autolinks see through entities
    return " ".join(text.split())


def code_block(text: str) -> str:
    """A fenced block that the text cannot close early (invisible characters shown)."""
    text = visible(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def format_duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def faults_fixed(kata: dict) -> tuple[int, int] | None:
    """A capstone entry's (faults fixed, faults), None for other katas."""
    found = kata.get("faults")
    return (sum(f["fixed"] for f in found), len(found)) if found else None


def fault_rows(kata: dict) -> list[tuple[str, str, str, str, str]]:
    """A capstone entry's faults as (name, fixed, tests, time to fixed, lines / reference):
    the table the grade report, the CLI and the pull-request comment show."""
    return [
        (
            fault["name"],
            "✓ fixed" if fault["fixed"] else "✗ not fixed",
            f"{fault['tests_passed']}/{fault['tests_total']}",
            format_duration(fault["time_to_fixed_s"]),
            f"{'—' if fault['diff_lines'] is None else fault['diff_lines']} / "
            f"{'—' if fault['reference_lines'] is None else fault['reference_lines']}",
        )
        for fault in kata.get("faults") or []
    ]


FAULT_HEADERS = ("fault", "fixed", "tests", "time to fixed", "lines / its fix")


def markdown(report: dict) -> str:
    lines = [
        f"## Kata grade `{report['head'][:12]}` against base `{report['base'][:12]}`",
        "",
        "| kata | status | tests | time to green | attempts | hints "
        "| diff (lines / tokens) | reference | ranked |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kata in report["katas"]:
        passed = sum(1 for t in kata["tests"] if t["status"] == "pass")
        diff = kata["diff"]
        score = faults_fixed(kata)
        status = f"{STATUS_MARK[kata['status']]} {kata['status']}"
        status += f" ({score[0]} of {score[1]} faults)" if score else ""
        lines.append(
            f"| {escape_text(kata['id'])} | {status} "
            f"| {passed}/{len(kata['tests'])} | {format_duration(kata['time_to_green_s'])} "
            f"| {kata['attempts']} | {kata['hints_used']} | {diff['total']} / {diff['tokens']} "
            f"| {diff['reference_total'] if diff['reference_total'] is not None else '—'} "
            f"| {'yes' if kata['ranked'] else 'no'} |"
        )
    for kata in report["katas"]:
        lines += ["", f"### {escape_text(kata['id'])}: {escape_text(kata['message'])}"]
        if rows := fault_rows(kata):
            lines += ["", "| " + " | ".join(FAULT_HEADERS) + " |", "|---|---|---|---|---|"]
            lines += ["| " + " | ".join(escape_text(cell) for cell in row) + " |" for row in rows]
            lines.append("")
        for reason in kata["unranked_reasons"]:
            lines.append(f"- unranked: {escape_text(reason)}")
        for note in kata["notes"]:
            lines.append(f"- note: {escape_text(note)}")
        for violation in kata["lint"]:
            lines.append(
                f"- lint: {escape_text(violation['path'])}:{violation['line']} "
                f"{escape_text(violation['code'])} {escape_text(violation['message'])}"
            )
        for test in [t for t in kata["tests"] if t["status"] != "pass"][:MAX_ANNOTATIONS]:
            hidden = " (hidden test)" if test["hidden"] else ""
            lines += ["", f"**{escape_text(test['name'])}**{hidden}: {test['status']}", ""]
            lines.append(code_block(test["message"] or "(no message)"))
    lines.append("")
    lines.append(
        "Times are commit times, which the committer's clock sets; "
        "diff counts whitespace-insensitive lines and Python tokens."
    )
    return "\n".join(lines) + "\n"


def log_safe(text: str) -> str:
    """``text`` as one log line that the Actions runner never takes for a command: ``%``,
    CR and LF escaped as in a command's data, then `no_command`."""
    return no_command(_escape_data(text))


def no_command(line: str) -> str:
    """A line the runner never parses as a command: it takes ``::cmd::`` at the start of a
    line (after leading whitespace) and the legacy ``##[cmd]`` anywhere in it."""
    line = line.replace("##[", "#%23[")
    stripped = line.lstrip()
    if stripped.startswith("::"):
        line = line[: len(line) - len(stripped)] + "%3A" + stripped[1:]
    return line


def command_safe(text: str) -> str:
    """Every line of ``text`` made safe with `no_command` (CR counts as a line break)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(no_command(line) for line in lines)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(report: dict, limit: int = MAX_ANNOTATIONS) -> list[str]:
    """GitHub Actions ``::error`` commands for failing tests, at most ``limit``."""
    found = []
    for kata in report["katas"]:
        for test in kata["tests"]:
            if test["status"] == "pass":
                continue
            title = f"{kata['id']}: {test['name']}" + (" (hidden test)" if test["hidden"] else "")
            found.append(
                f"::error file={_escape_property(test['file'])},line={test['line']},"
                f"title={_escape_property(title)}::{_escape_data(test['message'][:1000])}"
            )
    return found[:limit]
