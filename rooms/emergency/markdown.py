"""Markdown to safe HTML for sitreps: raw HTML is never passed through, and the result is sanitised again."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

# html=False: "<script>" in the source stays text. nh3 then allows only the tags Markdown produces
# (no images: they cost bandwidth and leak readers' addresses) and only web and mail links.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])
_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del", "code", "pre",
         "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td"}
# No style attributes: the page's CSP refuses inline styles anyway.
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}


def render(source: str) -> str:
    return nh3.clean(_markdown.render(source), tags=_TAGS, attributes=_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")
