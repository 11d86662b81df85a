"""Chat messages' formatting: a safe Markdown subset, rendered once, when a message is stored or edited.

Bold, italics, strikethrough, inline code and code blocks, lists, quotes and links; bare URLs
become links; no headings, tables, images or raw HTML. `@username` of a room member becomes a
mention (`<span class="mention" data-mention="12">`), `@room` too when its author may address
the whole room; mentions inside code or link text stay text.

Hostile input must not stall the server: the body is already bounded (MAX_BODY_CHARS),
markdown-it stops nesting at MAX_NESTING, a render checks a deadline (RENDER_TIMEOUT_S) as it
goes, and long bodies are formatted in a worker process so the event loop keeps answering other
sockets. A render that runs out of time stores the text unformatted (counted in
convene_message_render_fallbacks_total); nothing is refused for its formatting.
"""

from __future__ import annotations

import asyncio
import html
import logging
import multiprocessing
import re
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace

from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from rooms import metrics
from rooms.formatting import Flavour, SafeMarkdown, plain_html

log = logging.getLogger(__name__)
ROOM_MENTION = "room"
MENTION = re.compile(r"(?<![\w@.+-])@([a-z0-9][a-z0-9_.-]{0,31})", re.IGNORECASE)
MAX_NESTING = 20
INLINE_CHARS = 1000        # shorter bodies are formatted on the event loop (a few milliseconds at worst)
SLOW_RENDER_S = 0.05
WORKER_GRACE_S = 5.0       # beyond the deadline, for the worker to start (the first time) and answer
# Top-level domains a bare address may end in, beyond linkify-it's own list (who.int, an NGO's site…).
EXTRA_DOMAINS = ["int", "ngo", "ong", "health", "care", "io", "app", "dev", "online", "news", "global", "africa"]

CHAT = Flavour(
    tags=frozenset({"p", "br", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a", "span"}),
    attributes={"a": frozenset({"href"}), "ol": frozenset({"start"}), "span": frozenset({"data-mention"})},
    classes={"span": frozenset({"mention"})},
    enable=("linkify", "strikethrough"),
    disable=("heading", "lheading", "hr", "reference", "image", "html_block", "html_inline"),
    link_rel="noopener noreferrer ugc nofollow",
    linkify=True, breaks=True, max_nesting=MAX_NESTING, new_tab=True,
)


class RenderTooSlow(Exception):
    """The render passed its deadline."""


@dataclass(frozen=True)
class Formatted:
    html: str
    mentions: tuple[int, ...]      # member ids, in the order they are named, each once
    room: bool                     # @room, from someone allowed to use it
    fallback: bool = False         # stored unformatted: the render ran out of time
    seconds: float = 0.0           # how long formatting took


# Most messages are one line of plain words. Nothing in such a line can be Markdown, a link, a
# mention or a character HTML must escape, so it formats to itself in a paragraph, without parsing
# (about 140 us saved per message; tests/unit/test_conversations_domain.py checks it against the parser).
_MAYBE_MARKUP = re.compile(r"[*_`\[\]<>&\\~|@#\x00-\x1f\x7f\u2028\u2029]|//|mailto:|\w\.\w"
                           r"|^(\d{1,9}[.)]|[-+=])(\s|$)", re.IGNORECASE)


def is_plain(body: str) -> bool:
    return bool(body) and body == body.strip() and _MAYBE_MARKUP.search(body) is None


def mention_candidates(body: str) -> tuple[list[str], bool]:
    """Usernames the text may mention (lower case, each once) and whether it says @room: a cheap
    scan before the room's members are looked up; the render decides what really is a mention."""
    names: list[str] = []
    room = False
    for match in MENTION.finditer(body):
        name = _trim(match.group(1)).lower()
        if name == ROOM_MENTION:
            room = True
        elif len(name) >= 2 and name not in names:
            names.append(name)
    return names, room


def _trim(name: str) -> str:
    # "thanks @amina." ends a sentence; usernames never end with punctuation... but may contain it.
    return name.rstrip(".-")


def _check_deadline(state: StateInline, silent: bool) -> bool:
    # First of the inline rules: runs at every position the parser tries, nested link labels included.
    deadline = state.env.get("deadline")
    if deadline is not None and time.monotonic() > deadline:
        raise RenderTooSlow
    return False


def _mark_mentions(state: StateCore) -> None:
    members: Mapping[str, int] = state.env.get("members", {})
    room_allowed: bool = state.env.get("room_allowed", False)
    found: list[int | str] = state.env.setdefault("mentioned", [])
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        in_link = 0
        for token in block.children:
            in_link += token.type == "link_open"
            in_link -= token.type == "link_close"
            if token.type != "text" or in_link or "@" not in token.content:
                children.append(token)
                continue
            children.extend(_split(token, members, room_allowed, found))
        block.children = children


def _split(token: Token, members: Mapping[str, int], room_allowed: bool, found: list[int | str]) -> list[Token]:
    text, at, out = token.content, 0, []
    for match in MENTION.finditer(text):
        name = _trim(match.group(1))
        key = name.lower()
        target: int | str | None = (ROOM_MENTION if key == ROOM_MENTION and room_allowed
                                    else members.get(key) if key != ROOM_MENTION else None)
        if target is None:
            continue
        start, end = match.start(), match.start(1) + len(name)
        if start > at:
            out.append(_text(text[at:start], token))
        mention = Token("mention", "span", 0)
        mention.content, mention.meta = "@" + name, {"target": target}
        out.append(mention)
        if target not in found:
            found.append(target)
        at = end
    if not out:
        return [token]
    if at < len(text):
        out.append(_text(text[at:], token))
    return out


def _text(content: str, like: Token) -> Token:
    token = Token("text", "", 0)
    token.content, token.level = content, like.level
    return token


def _render_mention(renderer, tokens: list[Token], index: int, options, env) -> str:
    token = tokens[index]
    return f'<span class="mention" data-mention="{token.meta["target"]}">{html.escape(token.content)}</span>'


class MarkdownFormatter:
    """The chat flavour of the house renderer, with mentions and a deadline; pure, so it runs anywhere."""

    def __init__(self) -> None:
        self.markdown = SafeMarkdown(CHAT)
        md = self.markdown.md
        md.inline.ruler.before("text", "deadline", _check_deadline)
        md.core.ruler.push("mentions", _mark_mentions)
        md.add_render_rule("mention", _render_mention)
        # linkify-it knows the old generic domains and every country's; members also link these.
        md.linkify.tlds(EXTRA_DOMAINS, True)
        # linkify-it and markdown-it compile their patterns on first use (tens of milliseconds):
        # pay that when starting rather than on the first message.
        self.markdown.render("**a** _b_ `c` [d](https://e.org) www.f.org g@h.org\n> i\n- j")

    def format(self, body: str, members: Mapping[str, int], room_allowed: bool, timeout_s: float) -> Formatted:
        started = time.monotonic()
        if is_plain(body):
            # As nh3 serialises text: &, < and > cannot occur here, and a no-break space is written out.
            return Formatted(html="<p>" + body.replace("\xa0", "&nbsp;") + "</p>", mentions=(), room=False,
                             seconds=time.monotonic() - started)
        env = {"members": members, "room_allowed": room_allowed, "deadline": started + timeout_s}
        try:
            rendered = self.markdown.render_tokens(self.markdown.parse(body, env), env).strip()
        except (RenderTooSlow, RecursionError):
            return replace(plain(body, members, room_allowed), seconds=time.monotonic() - started)
        mentioned = env.get("mentioned", [])
        return Formatted(html=rendered, mentions=tuple(m for m in mentioned if isinstance(m, int)),
                         room=ROOM_MENTION in mentioned, seconds=time.monotonic() - started)


def plain(body: str, members: Mapping[str, int], room_allowed: bool) -> Formatted:
    """Unformatted, but still with its mentions (people must still hear they were named)."""
    names, room = mention_candidates(body)
    return Formatted(html=plain_html(body), mentions=tuple(members[n] for n in names if n in members),
                     room=room and room_allowed, fallback=True)


_worker_formatter: MarkdownFormatter | None = None


def _format_in_worker(body: str, members: dict[str, int], room_allowed: bool, timeout_s: float) -> Formatted:
    """Runs in the worker process; its formatter is made on the first call."""
    global _worker_formatter
    if _worker_formatter is None:
        _worker_formatter = MarkdownFormatter()
    return _worker_formatter.format(body, members, room_allowed, timeout_s)


class ChatFormatter:
    """Formats message bodies: short ones right here, long ones in a worker process of their own, so a
    costly text competes with the event loop for a CPU, not for the interpreter (a thread would hold
    the GIL for most of the time the loop needs it). The worker starts with the first long message."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.local = MarkdownFormatter()
        self._worker: ProcessPoolExecutor | None = None

    def format_now(self, body: str, members: Mapping[str, int], room_allowed: bool) -> Formatted:
        """Formats on the calling thread, giving up (plain text) after timeout_s."""
        return self._counted(self.local.format(body, members, room_allowed, self.timeout_s))

    async def format(self, body: str, members: Mapping[str, int], room_allowed: bool) -> Formatted:
        if len(body) <= INLINE_CHARS:
            return self.format_now(body, members, room_allowed)
        if self._worker is None:
            self._worker = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        work = asyncio.get_running_loop().run_in_executor(self._worker, _format_in_worker, body, dict(members),
                                                          room_allowed, self.timeout_s)
        try:
            # The worker stops itself at the deadline; this bound is for a worker that died or hangs.
            return self._counted(await asyncio.wait_for(work, self.timeout_s + WORKER_GRACE_S))
        except (asyncio.TimeoutError, BrokenProcessPool):
            log.warning("the formatting worker failed or hung; starting a new one")
            self.close()
            return self._counted(plain(body, members, room_allowed))

    @staticmethod
    def _counted(formatted: Formatted) -> Formatted:
        metrics.render_seconds.observe(formatted.seconds)
        if formatted.seconds > SLOW_RENDER_S:
            metrics.renders_slow.inc()
        if formatted.fallback:
            metrics.render_fallbacks.inc()
        return formatted

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=False, cancel_futures=True)
            self._worker = None
