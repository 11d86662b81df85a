"""Markdown to safe HTML, the house way: markdown-it with raw HTML off, then nh3 with an allow-list.

Two layers, so that neither alone has to be perfect: markdown-it never passes raw HTML through
and refuses link targets outside `schemes`, and nh3 then keeps only the tags and attributes a
flavour lists, only absolute links with those schemes, and adds our `rel` to every link.
Sitreps (rooms/emergency/markdown.py) and chat messages (rooms/conversations/formatting.py) are
two flavours of this one renderer.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

WEB_SCHEMES = frozenset({"http", "https", "mailto"})


@dataclass(frozen=True)
class Flavour:
    """What one kind of text may contain."""

    tags: frozenset[str]
    attributes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    classes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    enable: tuple[str, ...] = ()          # markdown-it rules on top of CommonMark
    disable: tuple[str, ...] = ()         # CommonMark rules this flavour does without
    link_rel: str = "noopener noreferrer nofollow"
    linkify: bool = False                 # bare URLs become links
    breaks: bool = False                  # a single newline is a line break
    max_nesting: int = 20                 # blocks and inline markup nested deeper stay text
    schemes: frozenset[str] = WEB_SCHEMES
    new_tab: bool = False                 # links open beside the page instead of replacing it


class SafeMarkdown:
    """A markdown-it parser and an nh3 cleaner built once for one flavour."""

    def __init__(self, flavour: Flavour) -> None:
        self.flavour = flavour
        md = MarkdownIt("commonmark", {"html": False, "linkify": flavour.linkify, "breaks": flavour.breaks,
                                       "maxNesting": flavour.max_nesting})
        if flavour.enable:
            md.enable(list(flavour.enable))
        if flavour.disable:
            md.disable(list(flavour.disable))
        schemes = flavour.schemes
        # Only absolute links with an allowed scheme: "javascript:", "data:" and relative paths stay text.
        md.validateLink = lambda url: url.split(":", 1)[0].lower() in schemes if ":" in url else False
        self.md = md
        self.cleaner = nh3.Cleaner(
            tags=set(flavour.tags), attributes={tag: set(names) for tag, names in flavour.attributes.items()},
            allowed_classes={tag: set(names) for tag, names in flavour.classes.items()} or None,
            url_schemes=set(schemes), link_rel=flavour.link_rel, url_relative="deny",
            set_tag_attribute_values={"a": {"target": "_blank"}} if flavour.new_tab else None)

    def parse(self, source: str, env: dict | None = None) -> list[Token]:
        return self.md.parse(source, env if env is not None else {})

    def render_tokens(self, tokens: Iterable[Token], env: dict | None = None) -> str:
        return self.clean(self.md.renderer.render(list(tokens), self.md.options, env if env is not None else {}))

    def render(self, source: str) -> str:
        env: dict = {}
        return self.render_tokens(self.parse(source, env), env)

    def clean(self, html: str) -> str:
        return self.cleaner.clean(html)


def plain_html(text: str) -> str:
    """Text shown as written, as HTML: what a message shows when it has no formatting stored
    (one stored before formatting existed, or one too costly to format)."""
    return "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"
