"""Searching messages: the store's full-text search, pages of hits, and the words that matched.

Highlights are ranges of the message's own text, never HTML: whoever shows them (the search page,
a client) escapes the text around them, so a message cannot smuggle markup in through a match.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, replace

from rooms import metrics
from rooms.models import Member, SearchHit
from rooms.store import Stores
from rooms.store.search import SearchFilters, terms_of

_WORD = re.compile(r"\w+", re.UNICODE)
SNIPPET_CHARS = 240
MAX_OFFSET = 1000   # deeper than fifty pages, a member narrows the search instead


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    has_more: bool
    offset: int


def fold(word: str) -> str:
    """Case and accents left out, as both search engines compare words (FTS5's unicode61 and the
    'simple' configuration of Postgres fold case; unicode61 also drops diacritics)."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def highlight(body: str, terms: list[str]) -> tuple[tuple[int, int], ...]:
    """The words of `body` that start with one of the terms, as the search matched them (prefixes)."""
    wanted = [fold(term) for term in terms]
    return tuple((word.start(), word.end()) for word in _WORD.finditer(body)
                 if any(fold(word.group()).startswith(term) for term in wanted))


def snippet(body: str, spans: tuple[tuple[int, int], ...], width: int = SNIPPET_CHARS) -> list[tuple[str, bool]]:
    """Up to `width` characters around the first match, as (text, matched) pieces to escape and show."""
    start = max(0, (spans[0][0] if spans else 0) - width // 4)
    end = min(len(body), start + width)
    pieces: list[tuple[str, bool]] = [("…", False)] if start else []
    at = start
    for span_start, span_end in spans:
        if span_end <= start or span_start >= end:
            continue
        span_start, span_end = max(span_start, start), min(span_end, end)
        if span_start > at:
            pieces.append((body[at:span_start], False))
        pieces.append((body[span_start:span_end], True))
        at = span_end
    if at < end:
        pieces.append((body[at:end], False))
    if end < len(body):
        pieces.append(("…", False))
    return pieces


class SearchService:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    async def search(self, member: Member, query: str, filters: SearchFilters, offset: int, limit: int) -> SearchPage:
        """Messages in the member's rooms, newest first; one more is asked for, to know if a next page exists."""
        offset = max(0, min(offset, MAX_OFFSET))
        started = time.monotonic()
        hits = await self.stores.search.search(member.id, query, limit + 1, filters, offset)
        metrics.search_seconds.observe(time.monotonic() - started)
        terms = terms_of(query)
        return SearchPage(hits=[replace(hit, highlights=highlight(hit.body, terms)) for hit in hits[:limit]],
                          has_more=len(hits) > limit, offset=offset)
