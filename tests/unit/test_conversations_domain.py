"""The conversation domain in one process: the listener hook notifications will use, formatting's bounds,
what a reaction may be, and search's highlights."""

from __future__ import annotations

import functools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.hub import forget_deleted
from rooms import metrics
from rooms.conversations.emoji import reaction_emoji
from rooms.conversations.formatting import ChatFormatter, MarkdownFormatter, is_plain
from rooms.errors import BadRequest
from rooms.models import Role, Visibility
from rooms.search import highlight, snippet
from rooms.service import MessageCommitted
from tests.support.elements import Elements


async def test_listeners_hear_each_message_once_with_its_mentions_and_the_author_it_answers(chat):
    stores, rooms, service = chat
    ann = await stores.accounts.create_member("ann", "x", "Ann")
    bob = await stores.accounts.create_member("bob", "x", "Bob")
    cy = await stores.accounts.create_member("cy", "x", "Cy")
    room = await rooms.create(ann, "team", Visibility.PUBLIC)
    for member in (bob, cy):
        await rooms.join(member, room.id)
    heard: list[MessageCommitted] = []

    async def listen(committed: MessageCommitted) -> None:
        heard.append(committed)

    async def broken(committed: MessageCommitted) -> None:
        raise RuntimeError("a listener's failure does not fail the send")

    service.listeners += [broken, listen]
    question, _ = await service.send(bob, room.id, "q", "Any news from the north?")
    answer, _ = await service.send(ann, room.id, "a", "@room @bob @ann @nobody yes, see the sitrep",
                                   reply_to=question.seq)
    await service.send(ann, room.id, "a", "@room @bob @ann @nobody yes, see the sitrep", reply_to=question.seq)
    assert [c.event.seq for c in heard] == [question.seq, answer.seq]
    assert heard[1].mentioned == (bob.id,) and heard[1].room is True and heard[1].reply_author == bob.id
    assert heard[1].event.mentions == (bob.id, ann.id)

    # @room is text from a plain member; an edit tells only whom it adds.
    plain, _ = await service.send(cy, room.id, "c", "@room hello @bob")
    assert heard[-1].room is False and heard[-1].mentioned == (bob.id,) and heard[-1].reply_author is None
    await service.edit(cy, room.id, plain.seq, "hello @bob and @ann")
    assert heard[-1].edited and heard[-1].mentioned == (ann.id,) and heard[-1].room is False
    await stores.memberships.set_role(room.id, cy.id, Role.MODERATOR)
    await service.edit(cy, room.id, plain.seq, "@room hello @bob and @ann")
    assert heard[-1].mentioned == () and heard[-1].room is True


HOSTILE = ["[" * 10_000, ">" * 10_000, "- " * 5_000, "*_" * 5_000, "![" * 5_000, "`" * 10_000,
           "<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "[x](javascript:alert(1))",
           "[x](JaVaScRiPt:alert(1))", "[x](data:text/html;base64,PHNjcmlwdD4=)", "<javascript:alert(1)>",
           '[x](https://ok.org "a\\" onmouseover=\\"alert(1)")', "<a href='https://x.org' onclick='x()'>a</a>",
           "[x](/relative) [y](//evil.example) [z](vbscript:msgbox)", "```\n</code></pre><script>x</script>\n```"]
ALLOWED_TAGS = {"p", "br", "strong", "em", "s", "code", "pre", "blockquote", "ul", "ol", "li", "a", "span"}


def test_hostile_markdown_renders_inert_and_in_bounded_time() -> None:
    formatter = ChatFormatter(timeout_s=0.5)
    try:
        for source in HOSTILE:
            started = time.monotonic()
            elements = Elements.of(formatter.format_now(source, {}, False).html)
            assert time.monotonic() - started < 1.0, source[:20]
            assert elements.tags <= ALLOWED_TAGS, source[:30]
            assert not [name for _, name, _ in elements.attributes if name.startswith("on") or name == "style"]
            hrefs = [value or "" for tag, name, value in elements.attributes if name == "href"]
            assert all(href.startswith(("https://", "http://", "mailto:")) for href in hrefs), hrefs
    finally:
        formatter.close()


def test_a_render_past_its_deadline_is_stored_as_plain_text_with_its_mentions() -> None:
    formatter = ChatFormatter(timeout_s=0.0)
    before = metrics.render_fallbacks._value.get()
    try:
        formatted = formatter.format_now("**hi** @bob <b>", {"bob": 7}, False)
    finally:
        formatter.close()
    assert formatted.fallback and formatted.html == "<p>**hi** @bob &lt;b&gt;</p>" and formatted.mentions == (7,)
    assert metrics.render_fallbacks._value.get() == before + 1


def test_a_reaction_is_exactly_one_emoji() -> None:
    assert reaction_emoji("❤") == reaction_emoji("❤️") == "❤️"
    assert reaction_emoji("👍🏽") == "👍🏽" and reaction_emoji("🇰🇪") == "🇰🇪"
    for text in ("", "ok", "👍👍", ":thumbs_up:", "👍 ", "\u200b👍", "\x00", "👍" + "\u200d" * 30):
        with pytest.raises(BadRequest):
            reaction_emoji(text)


def test_highlights_are_ranges_of_the_text_and_snippets_are_pieces_to_escape() -> None:
    body = "La clínica abre <b>mañana</b>; CLINICAL notes later"
    spans = highlight(body, ["clinic", "mañ"])
    assert [body[s:e] for s, e in spans] == ["clínica", "mañana", "CLINICAL"]
    pieces = snippet(body, spans, width=20)
    assert "".join(text for text, _ in pieces) == "La clínica abre <b>m…"
    assert [text for text, marked in pieces if marked] == ["clínica", "m"]


async def test_long_texts_are_formatted_in_the_worker_process_alike() -> None:
    formatter = ChatFormatter(timeout_s=0.5)
    try:
        body = "**bold** @bob www.who.int\n\n" + "- item\n" * 300
        assert len(body) > 1000
        in_worker = await formatter.format(body, {"bob": 7}, False)
        here = formatter.format_now(body, {"bob": 7}, False)
        assert (in_worker.html, in_worker.mentions, in_worker.fallback) == (here.html, here.mentions, False)
    finally:
        formatter.close()


# Pieces of text, plain or not: the check holds for every text the fast path takes.
PIECES = st.sampled_from(list("abcXYZ019 .,;?!'\"()-+=/%$^{}ñé中ب*\n\t#:") + [
    "http://", "mailto:", "www", "ftp:", "who.int", "1. ", "- ", "\u00a0", "\u200b", "\U0001f44d"])


@settings(max_examples=500, deadline=None)
@given(st.lists(PIECES, max_size=30).map("".join))
def test_a_plain_line_formats_as_the_parser_would(body: str) -> None:
    formatter = _shared_formatter()
    parsed = formatter.markdown.render_tokens(formatter.markdown.parse(body, {}), {}).strip()
    if is_plain(body):
        assert formatter.format(body, {}, False, 1.0).html == parsed


@functools.cache
def _shared_formatter() -> MarkdownFormatter:
    return MarkdownFormatter()


def test_a_deletion_blanks_the_message_its_edits_and_its_replies_quotes_in_the_hubs_memory() -> None:
    sender = {"id": 1, "display_name": "Ann"}
    message = {"type": "message", "seq": 5, "body": "my number is…", "html": "<p>my number is…</p>",
               "mentions": [2], "reactions": [{"emoji": "👍"}], "attachments": [{"id": 9}], "sender": sender}
    edit = {"type": "message.edited", "seq": 6, "target": 5, "body": "my number is 555", "html": "<p>…</p>",
            "mentions": [2]}
    reply = {"type": "message", "seq": 7, "body": "thanks", "reply_to": 5,
             "parent": {"sender": sender, "excerpt": "my number is 555"}}
    other = {"type": "message", "seq": 8, "body": "unrelated"}
    assert [forget_deleted(frame, 5) for frame in (message, edit, reply, other)] == [True, True, True, False]
    assert message == {"type": "message", "seq": 5, "body": "", "deleted": True, "sender": sender}
    assert edit == {"type": "message.edited", "seq": 6, "target": 5, "body": "", "html": ""}
    assert reply["parent"] == {"sender": sender, "deleted": True} and "555" not in str(reply)
