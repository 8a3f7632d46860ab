"""Badges: shields.io static-badge URLs for PR comments, and flat SVG files for the
leaderboard branch.

A PR comment can only show images GitHub proxies from a URL, so the comment uses
shields.io static badges (nothing to host).  The leaderboard README is rendered on its
own branch, where a locally written SVG needs no outside service at all.
"""

from __future__ import annotations

from urllib.parse import quote
from xml.sax.saxutils import escape

SHIELDS = "https://img.shields.io/badge"
COLORS = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "blue": "#007ec6",
    "lightgrey": "#9f9f9f",
}


def _shields_part(text: str) -> str:
    """One dash-separated part of a static-badge path: ``-`` and ``_`` doubled, then
    percent-encoded so no character of the text can end the part or the URL."""
    return quote(text.replace("-", "--").replace("_", "__"), safe="")


def shields_url(label: str, message: str, color: str) -> str:
    if color not in COLORS:
        raise ValueError(f"unknown badge color {color!r}: one of {', '.join(COLORS)}")
    return f"{SHIELDS}/{_shields_part(label)}-{_shields_part(message)}-{color}"


def _text_width(text: str) -> int:
    """Rough width in pixels of Verdana 11px, as shields.io lays badges out."""
    narrow, wide = set("fijlrt.,:;|!'()[] "), set("mwMW@%")
    return sum(4 if ch in narrow else 10 if ch in wide else 7 for ch in text) + 10


def svg(label: str, message: str, color: str) -> str:
    """A flat two-part badge; label and message are XML-escaped."""
    fill = COLORS.get(color)
    if fill is None:
        raise ValueError(f"unknown badge color {color!r}: one of {', '.join(COLORS)}")
    left, right = _text_width(label), _text_width(message)
    width = left + right
    label_x, message_x = left * 5, (left + right / 2) * 10
    label_text, message_text = escape(label), escape(message)
    title = escape(f"{label}: {message}", {'"': "&quot;"})
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{title}">'
        f"<title>{title}</title>"
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{fill}"/>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="110">'
        f'<text x="{label_x:g}" y="140" transform="scale(.1)">{label_text}</text>'
        f'<text x="{message_x:g}" y="140" transform="scale(.1)">{message_text}</text>'
        "</g></svg>\n"
    )
