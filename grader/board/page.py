"""The leaderboard as a static web page, rendered from the same results as the README.

Files, relative to the leaderboard folder (the branch; GitHub Pages serves it as is)::

    index.html                  overall, by topic, and per kata: a chart and a table
    users/<login>.html          one page per user: their results and where they fall
    charts/<kata>.svg           each kata's time-to-green distribution (a histogram)
    leaderboard.css, leaderboard.js   the page's style and script (same origin)
    .nojekyll                   serve the files as they are

Every string from a result or the catalogue is HTML-escaped; the page embeds no data for
a script to parse (the script reads the tables it sorts), and its Content-Security-Policy
allows nothing but this site's own stylesheet, script and images: no request leaves the
page.  Charts share one fixed time axis (30 s to 12 h, logarithmic), so a user's marker
sits at a position that depends on their own time only, and a user page changes only
when that user's results do.
"""

from __future__ import annotations

import html
import math
import re
from functools import cache
from importlib.resources import files

from grader.board.ranking import Overall, Standing, ranking_time, status_label
from grader.catalogue.katas import TOPICS, Kata
from grader.grading.report import format_duration, visible

CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "form-action 'self'; base-uri 'none'"
)
ASSETS = ("leaderboard.css", "leaderboard.js")
LOGIN_PATTERN = r"[A-Za-z0-9][A-Za-z0-9\-]{0,38}(\[bot\])?"

# the charts' time axis: seconds on a log scale, clamped at both ends
AXIS_LOW_S, AXIS_HIGH_S = 30, 12 * 3600
WIDTH, HEIGHT = 480, 120
LEFT, RIGHT, TOP, BOTTOM = 10, 470, 10, 96  # the plot area inside the chart
BINS = 24
TICKS = ((60, "1m"), (300, "5m"), (900, "15m"), (3600, "1h"), (4 * 3600, "4h"), (43200, "12h"))


def escape(text: str) -> str:
    """HTML-escaped, with invisible and direction-changing characters shown as U+XXXX."""
    return html.escape(visible(text))


# escaping, remembered: the same names, times and numbers recur thousands of times
_e = cache(escape)


@cache
def user_file(user: str) -> str:
    """A login as a file name: ``[bot]`` becomes ``_bot_`` (logins have no ``_``)."""
    return re.sub(r"[^A-Za-z0-9-]", "_", user)


def x_of(seconds: float) -> float:
    """Where ``seconds`` falls on the charts' axis, in chart pixels."""
    low, high = math.log10(AXIS_LOW_S), math.log10(AXIS_HIGH_S)
    value = min(max(math.log10(max(seconds, 1)), low), high)
    return round(LEFT + (value - low) / (high - low) * (RIGHT - LEFT), 1)


@cache
def duration(seconds: float | None) -> str:
    """A time to green as shown in tables (``12m 05s``), remembered."""
    return format_duration(None if seconds is None else round(seconds))


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


# --- charts -------------------------------------------------------------------------


def solver_times(board: Standing) -> list[int]:
    """The times to green a kata's chart shows: each solver's best ranked result."""
    times = (ranking_time(r) for r in board.ranked if r["status"] == "green")
    return [t for t in times if t is not None]


def chart_svg(kata: str, times: list[int], budget_minutes: int | None) -> str:
    """A histogram of ``times`` (seconds) on the fixed axis, with the median and the
    kata's budget marked; all text is escaped."""
    counts = [0] * BINS
    step = (RIGHT - LEFT) / BINS
    for seconds in times:
        counts[min(BINS - 1, int((x_of(seconds) - LEFT) / step))] += 1
    tallest = max(counts, default=0) or 1
    title = f"Time to green on {kata}: {len(times)} solver{'s' if len(times) != 1 else ''}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        f'<line x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="#8c959f"/>',
    ]
    for index, count in enumerate(counts):
        if count:
            height = (BOTTOM - TOP) * count / tallest
            parts.append(
                f'<rect class="bar" x="{LEFT + index * step + 1:.1f}" y="{BOTTOM - height:.1f}" '
                f'width="{step - 2:.1f}" height="{height:.1f}" fill="#54aeff">'
                f"<title>{count}</title></rect>"
            )
    for seconds, label in TICKS:
        x = x_of(seconds)
        parts.append(
            f'<line x1="{x}" y1="{BOTTOM}" x2="{x}" y2="{BOTTOM + 4}" stroke="#8c959f"/>'
            f'<text x="{x}" y="{BOTTOM + 16}" font-size="11" text-anchor="middle" '
            f'font-family="sans-serif" fill="#57606a">{label}</text>'
        )
    if budget_minutes:
        x = x_of(budget_minutes * 60)
        parts.append(
            f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{BOTTOM}" stroke="#bf8700" '
            f'stroke-dasharray="2 3"><title>budget {budget_minutes} min</title></line>'
        )
    if times:
        ordered = sorted(times)
        median = ordered[len(ordered) // 2]
        x = x_of(median)
        parts.append(
            f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{BOTTOM}" stroke="#57606a" '
            f'stroke-dasharray="5 3"><title>median {escape(duration(median))}</title></line>'
        )
    else:
        parts.append(
            f'<text x="{WIDTH / 2:g}" y="{HEIGHT / 2:g}" font-size="13" text-anchor="middle" '
            'font-family="sans-serif" fill="#57606a">no one has solved it yet</text>'
        )
    parts.append("</svg>\n")
    return "".join(parts)


def _marker_layer(seconds: int | None, label: str = "") -> str:
    """The layer drawn over a chart image: empty for the script to fill (index), or the
    user's marker (user page).  Its attributes carry the axis for the script."""
    axis = (
        f'data-low="{AXIS_LOW_S}" data-high="{AXIS_HIGH_S}" data-left="{LEFT}" '
        f'data-right="{RIGHT}" data-top="{TOP}" data-bottom="{BOTTOM}"'
    )
    inner = ""
    if seconds is not None:
        x = x_of(seconds)
        inner = (
            f'<line class="you-line" x1="{x}" y1="{TOP - 6}" x2="{x}" y2="{BOTTOM}"/>'
            f'<text class="you-label" x="{x}" y="{TOP + 2}" text-anchor="'
            f'{"end" if x > WIDTH / 2 else "start"}" dx="{-4 if x > WIDTH / 2 else 4}">'
            f"{escape(label)}</text>"
        )
    return (
        f'<svg class="you" viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="none" '
        f'aria-hidden="true" {axis}>{inner}</svg>'
    )


def _figure(kata: str, prefix: str, caption: str, layer: str) -> str:
    return (
        f'<figure class="chart" data-kata="{escape(kata)}"><div class="plot">'
        f'<img src="{prefix}charts/{escape(kata)}.svg" width="{WIDTH}" height="{HEIGHT}" '
        f'alt="time-to-green distribution on {escape(kata)}">{layer}</div>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


# --- tables -------------------------------------------------------------------------


def _th(label: str, kind: str = "text") -> str:
    return f'<th scope="col" data-type="{kind}">{escape(label)}</th>'


def _td(text: str, sort: str | None = None, raw: bool = False) -> str:
    shown = text if raw else _e(text)
    return f"<td>{shown}</td>" if sort is None else f'<td data-sort="{_e(sort)}">{shown}</td>'


@cache
def _user_link(user: str, prefix: str) -> str:
    return f'<a href="{prefix}users/{_e(user_file(user))}.html">{_e(user)}</a>'


def _status(result: dict) -> str:
    status = result["status"]
    label = _e(status_label(result))
    return _td(f'<span class="st-{status}">● {label}</span>', sort=status, raw=True)


def _diff_lines(result: dict) -> str:
    ref = result["diff"]["reference_total"]
    text = f"{result['diff']['total']}" + (f" (ref {ref})" if ref is not None else "")
    return _td(text, sort=str(result["diff"]["total"]))


def _kata_rows(board: Standing) -> list[str]:
    rows = []
    for position, r in enumerate(board.ranked, 1):
        seconds = ranking_time(r)
        rows.append(
            f'<tr data-user="{_e(r["user"])}" data-seconds="{_num(seconds)}">'
            + _td(str(position))
            + _td(_user_link(r["user"], ""), sort=r["user"].lower(), raw=True)
            + _status(r)
            + _td(duration(seconds), sort=_num(seconds))
            + _td(r["clock"] or "—")
            + _diff_lines(r)
            + _td(str(r["diff"]["tokens"]))
            + _td(str(r["hints_used"]))
            + _td("—" if r["grade_runs"] is None else str(r["grade_runs"]), _num(r["grade_runs"]))
            + _td(f"#{r['pr']}", sort=str(r["pr"]))
            + "</tr>"
        )
    return rows


def _table(caption: str, heads: list[str], rows: list[str], kata: str = "") -> str:
    data = f' data-kata="{escape(kata)}"' if kata else ""
    return (
        f'<div class="scroll"><table class="sortable"{data}><caption>{caption}</caption>'
        f"<thead><tr>{''.join(heads)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


KATA_HEADS = [
    _th("rank", "number"),
    _th("user"),
    _th("status"),
    _th("time to green", "number"),
    _th("clock"),
    _th("diff lines", "number"),
    _th("diff tokens", "number"),
    _th("hints", "number"),
    _th("grade runs", "number"),
    _th("PR", "number"),
]


def _unranked(board: Standing, prefix: str) -> str:
    if not board.unranked:
        return ""
    items = []
    for r in board.unranked:
        why = "; ".join(r["unranked_reasons"]) or "—"
        items.append(
            f"<li>{_user_link(r['user'], prefix)}, {escape(r['status'])}, "
            f"#{r['pr']}: {escape(why)}</li>"
        )
    return (
        f"<details><summary>Unranked (latest per user): {len(items)}</summary>"
        f'<ul class="unranked">{"".join(items)}</ul></details>'
    )


def _topics(results: list[dict], catalogue: list[Kata]) -> tuple[list[str], dict[str, int]]:
    totals = {t: sum(1 for k in catalogue if k.topic == t) for t in TOPICS}
    seen = {r["topic"] for r in results}
    return [t for t in TOPICS if totals[t] or t in seen], totals


def _document(title: str, prefix: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title>"
        f'<link rel="stylesheet" href="{prefix}leaderboard.css">'
        f'<script src="{prefix}leaderboard.js" defer></script>'
        f"</head><body>{body}</body></html>\n"
    )


def index_html(
    results: list[dict],
    boards: dict[str, Standing],
    table: list[Overall],
    catalogue: list[Kata],
    order: list[str],
    problems: list[str],
) -> str:
    by_id = {k.id: k for k in catalogue}
    users = len({r["user"] for r in results})
    parts = [
        "<header><h1>Kata leaderboard</h1>",
        f"<p>{len(results)} graded runs by {users} users on {len(boards)} katas. "
        "Ranking on a kata: green first, then time to green (the server clock when it was "
        "measured), then diff tokens; overall: katas solved, then the median time to "
        "green. Click a column to sort.</p>",
        '<form class="me" method="get"><label>Mark your results: '
        f'<input name="me" pattern="{LOGIN_PATTERN}" maxlength="45" autocomplete="off" '
        'placeholder="your GitHub login"></label> <button type="submit">Mark</button> '
        '<output class="me-status"></output></form>',
        '<nav><a href="#overall">Overall</a> · <a href="#topics">By topic</a> · '
        + " · ".join(f'<a href="#kata-{escape(k)}">{escape(k)}</a>' for k in order)
        + "</nav></header><main>",
        '<section id="overall"><h2>Overall</h2>',
    ]
    if table:
        rows = []
        for position, row in enumerate(table, 1):
            ref = row.reference_lines
            lines = f"{row.diff_lines}" + (f" ({ref})" if ref is not None else "")
            rows.append(
                f'<tr data-user="{_e(row.user)}">'
                + _td(str(position))
                + _td(_user_link(row.user, ""), sort=row.user.lower(), raw=True)
                + _td(str(len(row.solved)))
                + _td(duration(row.median_s), sort=_num(row.median_s))
                + _td(lines, sort=str(row.diff_lines))
                + _td(str(row.tokens))
                + _td(str(row.hints))
                + "</tr>"
            )
        heads = [
            _th("rank", "number"),
            _th("user"),
            _th("katas solved", "number"),
            _th("median time to green", "number"),
            _th("diff lines (reference)", "number"),
            _th("diff tokens", "number"),
            _th("hints", "number"),
        ]
        parts.append(_table("Users by katas solved, then median time to green", heads, rows))
    else:
        parts.append("<p>No kata solved yet.</p>")
    parts.append('</section><section id="topics"><h2>By topic</h2>')
    topics, totals = _topics(results, catalogue)
    if table:
        rows = []
        for row in table:
            cells = []
            for topic in topics:
                done = sum(1 for r in row.solved if r["topic"] == topic)
                shown = f"{done}/{totals[topic]}" if totals[topic] else str(done)
                cells.append(_td(shown, sort=str(done)))
            rows.append(
                f'<tr data-user="{_e(row.user)}">'
                + _td(_user_link(row.user, ""), sort=row.user.lower(), raw=True)
                + "".join(cells)
                + "</tr>"
            )
        heads = [_th("user")] + [_th(t, "number") for t in topics]
        parts.append(_table("Katas solved by topic", heads, rows))
    parts.append("</section>")
    for kata in order:
        board = boards[kata]
        info = by_id.get(kata)
        title = f": {escape(info.title)}" if info else ""
        meta = f"{escape(info.topic)} · budget {info.budget_minutes} min · " if info else ""
        times = solver_times(board)
        caption = (
            f"Time to green of the {len(times)} users who solved it (each user's best ranked "
            'result; dashed: median, dotted: budget). <span class="you-caption"></span>'
        )
        parts += [
            f'<section class="kata" id="kata-{escape(kata)}"><h2>{escape(kata)}{title}</h2>',
            f'<p class="meta">{meta}solved by {board.solvers} · ranked {len(board.ranked)}</p>',
            _figure(kata, "", caption, _marker_layer(None)),
        ]
        if board.ranked:
            parts.append(_table(f"Ranking on {escape(kata)}", KATA_HEADS, _kata_rows(board), kata))
        parts += [_unranked(board, ""), "</section>"]
    if problems:
        items = "".join(f"<li>{escape(p)}</li>" for p in problems)
        parts.append(f'<section id="skipped"><h2>Skipped files</h2><ul>{items}</ul></section>')
    parts.append(
        "</main><footer>Rendered by <code>kata leaderboard render</code> from the files in "
        "<code>results/</code> on the leaderboard branch (one per graded run).</footer>"
    )
    return _document("Kata leaderboard", "", "".join(parts))


USER_HEADS = [
    _th("kata"),
    _th("title"),
    _th("status"),
    _th("time to green", "number"),
    _th("clock"),
    _th("diff lines", "number"),
    _th("hints", "number"),
    _th("PR", "number"),
    _th("ranked"),
]


def user_html(
    user: str,
    mine: list[tuple[str, dict]],
    solved: Overall | None,
    by_id: dict[str, Kata],
) -> str:
    """One user's page: their best ranked (else latest unranked) result on each kata."""
    count = len(solved.solved) if solved else 0
    median = duration(solved.median_s) if solved else "—"
    parts = [
        f'<header><p><a href="../index.html">← Kata leaderboard</a></p><h1>{escape(user)}</h1>',
        f"<p>{count} kata{'s' if count != 1 else ''} solved · median time to green {median}. "
        f'<a href="../index.html?me={escape(user)}">See your rank on every kata</a>.</p>'
        "</header><main>",
    ]
    rows, figures = [], []
    for kata, r in mine:
        info = by_id.get(kata)
        seconds = ranking_time(r)
        reasons = "; ".join(r["unranked_reasons"])
        rows.append(
            "<tr>"
            + _td(f'<a href="../index.html#kata-{escape(kata)}">{escape(kata)}</a>', kata, True)
            + _td(info.title if info else "")
            + _status(r)
            + _td(duration(seconds), sort=_num(seconds))
            + _td(r["clock"] or "—")
            + _diff_lines(r)
            + _td(str(r["hints_used"]))
            + _td(f"#{r['pr']}", sort=str(r["pr"]))
            + _td("ranked" if r["ranked"] else f"unranked: {reasons}")
            + "</tr>"
        )
        if r["ranked"] and r["status"] == "green" and seconds is not None:
            caption = f"{escape(user)}: {escape(duration(seconds))} on {escape(kata)}"
            layer = _marker_layer(seconds, duration(seconds))
            figures.append(_figure(kata, "../", caption, layer))
    parts.append(_table(f"Results of {escape(user)}", USER_HEADS, rows))
    if figures:
        parts += ['<h2>Where you fall</h2><section class="charts">', *figures, "</section>"]
    parts.append("</main>")
    return _document(f"{user} — kata leaderboard", "../", "".join(parts))


def render_page(
    results: list[dict],
    boards: dict[str, Standing],
    table: list[Overall],
    catalogue: list[Kata] | None,
    order: list[str],
    problems: list[str],
) -> dict[str, str]:
    """Every file of the page, by path relative to the leaderboard folder."""
    catalogue = catalogue or []
    budgets = {k.id: k.budget_minutes for k in catalogue}
    out = {".nojekyll": ""}
    for name in ASSETS:
        out[name] = files("grader.board").joinpath("assets", name).read_text()
    out["index.html"] = index_html(results, boards, table, catalogue, order, problems)
    for kata in order:
        out[f"charts/{kata}.svg"] = chart_svg(kata, solver_times(boards[kata]), budgets.get(kata))
    mine: dict[str, list[tuple[str, dict]]] = {}
    for kata in order:
        board = boards[kata]
        ranked_users = set()
        for r in board.ranked:
            ranked_users.add(r["user"])
            mine.setdefault(r["user"], []).append((kata, r))
        for r in board.unranked:
            if r["user"] not in ranked_users:
                mine.setdefault(r["user"], []).append((kata, r))
    solved = {row.user: row for row in table}
    by_id = {k.id: k for k in catalogue}
    for user, entries in mine.items():
        out[f"users/{user_file(user)}.html"] = user_html(user, entries, solved.get(user), by_id)
    return out
