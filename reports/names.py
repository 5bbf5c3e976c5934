"""District and city names as the report shows them: isolated and of bounded length.

Names come from the city's own files, so they may hold anything: an unclosed right-to-left
override (U+202E) reverses every character printed after it, to the end of the caption or
paragraph; a 3,000-character name without spaces makes the page thousands of pixels wide.
So in HTML a name is wrapped in `<bdi>` (its direction cannot leak into the text around it)
and shortened to `LIMIT` characters plus "…", with the full name kept in the `title` (shown on
hover and read by screen readers). In plain text (SVG labels, chart descriptions, the page
title) the same isolation is written with the Unicode isolate marks FSI ... PDI, which close
any override left open inside them.
"""

from __future__ import annotations

from markupsafe import Markup, escape

LIMIT = 60
FSI, PDI = "\u2068", "\u2069"


def short_name(name: object, limit: int = LIMIT) -> str:
    """The name cut to `limit` characters plus "…" when longer."""
    text = " ".join(str(name).split())
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def plain_name(name: object, limit: int = LIMIT) -> str:
    """Shortened and isolated for plain text (SVG text, titles, descriptions)."""
    return f"{FSI}{short_name(name, limit)}{PDI}"


def name_html(name: object, limit: int = LIMIT) -> Markup:
    """`<bdi>` around the (shortened) name; the full name in `title` when it was shortened.

    Registered as the `name` filter of the report templates: `{{ district|name }}`.
    """
    full = " ".join(str(name).split())
    short = short_name(full, limit)
    title = f' title="{escape(full)}"' if short != full else ""
    return Markup(f"<bdi{title}>{escape(short)}</bdi>")
