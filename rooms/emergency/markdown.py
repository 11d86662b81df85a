"""Markdown to safe HTML for sitreps: the house renderer (rooms/formatting.py) with headings and tables."""

from __future__ import annotations

from rooms.formatting import Flavour, SafeMarkdown

# No images: they cost bandwidth and leak readers' addresses. No style attributes: the page's CSP
# refuses inline styles anyway.
_SITREPS = SafeMarkdown(Flavour(
    tags=frozenset({"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code",
                    "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td"}),
    attributes={"a": frozenset({"href", "title"}), "ol": frozenset({"start"})},
    enable=("table", "strikethrough"),
))


def render(source: str) -> str:
    return _SITREPS.render(source)
