"""Chat messages' formatting: a safe Markdown subset, rendered once, when a message is stored or edited.

Bold, italics, strikethrough, inline code and code blocks, lists, quotes and links; bare URLs
become links; no headings, tables, images or raw HTML. `@username` of a room member becomes a
mention (`<span class="mention" data-mention="12">`), `@room` too when its author may address
the whole room; mentions inside code or link text stay text.

Hostile input must not stall the server: the body is already bounded (MAX_BODY_CHARS),
markdown-it stops nesting at MAX_NESTING, a render checks a deadline as it goes, and long
bodies are formatted on a worker thread so the event loop keeps answering other sockets.
A render that runs out of time stores the text unformatted (counted in
convene_message_render_fallbacks_total); nothing is refused for its formatting.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from rooms import metrics
from rooms.formatting import Flavour, SafeMarkdown, plain_html

ROOM_MENTION = "room"
MENTION = re.compile(r"(?<![\w@.+-])@([a-z0-9][a-z0-9_.-]{0,31})", re.IGNORECASE)
MAX_NESTING = 20
INLINE_CHARS = 1000        # shorter bodies are formatted on the event loop (well under a millisecond)
SLOW_RENDER_S = 0.05
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
    return f'<span class="mention" data-mention="{token.meta["target"]}">{_escape(token.content)}</span>'


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


class ChatFormatter:
    """Formats message bodies; owns the worker thread that formats the long ones."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.markdown = SafeMarkdown(CHAT)
        self.markdown.md.inline.ruler.before("text", "deadline", _check_deadline)
        self.markdown.md.core.ruler.push("mentions", _mark_mentions)
        self.markdown.md.add_render_rule("mention", _render_mention)
        # linkify-it knows the old generic domains and every country's; members also link these.
        self.markdown.md.linkify.tlds(EXTRA_DOMAINS, True)
        # One worker: formatting is CPU-bound, so more threads would only contend for the GIL.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="format")

    def format_now(self, body: str, members: Mapping[str, int], room_allowed: bool) -> Formatted:
        """Formats on the calling thread, giving up (plain text) after timeout_s."""
        started = time.monotonic()
        env = {"members": members, "room_allowed": room_allowed, "deadline": started + self.timeout_s}
        try:
            html = self.markdown.render_tokens(self.markdown.parse(body, env), env)
        except (RenderTooSlow, RecursionError):
            metrics.render_fallbacks.inc()
            return self.plain(body, members, room_allowed)
        finally:
            elapsed = time.monotonic() - started
            metrics.render_seconds.observe(elapsed)
            if elapsed > SLOW_RENDER_S:
                metrics.renders_slow.inc()
        mentioned = env.get("mentioned", [])
        return Formatted(html=html, mentions=tuple(m for m in mentioned if isinstance(m, int)),
                         room=ROOM_MENTION in mentioned)

    async def format(self, body: str, members: Mapping[str, int], room_allowed: bool) -> Formatted:
        if len(body) <= INLINE_CHARS:
            return self.format_now(body, members, room_allowed)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, self.format_now, body, members, room_allowed)

    @staticmethod
    def plain(body: str, members: Mapping[str, int], room_allowed: bool) -> Formatted:
        """Unformatted, but still with its mentions (people must still hear they were named)."""
        names, room = mention_candidates(body)
        return Formatted(html=plain_html(body), mentions=tuple(members[n] for n in names if n in members),
                         room=room and room_allowed, fallback=True)

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)
