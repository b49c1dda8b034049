"""Caption text as HTML with the words that made it match highlighted (pure function, no Qt)."""

from __future__ import annotations

import html
import re


def highlight_caption(caption: str | None, terms: list[str] | tuple[str, ...]) -> str:
    """Escape the caption and wrap whole words that start with a term ("fracture" marks "fractures") in <mark>."""
    if not caption:
        return "<i>No caption</i>"
    wanted = sorted({t.lower() for t in terms if t and t.strip()}, key=len, reverse=True)
    if not wanted:
        return html.escape(caption)
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in wanted) + r")[\w\-']*", re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(caption):
        out.append(html.escape(caption[last : match.start()]))
        out.append(f'<span style="background-color:#ffe58a;color:#1b2330;">{html.escape(match.group(0))}</span>')
        last = match.end()
    out.append(html.escape(caption[last:]))
    return "".join(out)
