"""The elements and attributes a browser would build from some HTML, for checking sanitised output."""

from __future__ import annotations

from html.parser import HTMLParser


class Elements(HTMLParser):
    """The elements and attributes a browser would build from some HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]

    @classmethod
    def of(cls, html: str) -> "Elements":
        parser = cls()
        parser.feed(html)
        return parser
