"""Turns what a member typed into a Draft: formatted once, its mentions resolved, its parent checked."""

from __future__ import annotations

from dataclasses import replace

from rooms.conversations.formatting import ChatFormatter, mention_candidates
from rooms.conversations.store.mentions import MentionStore
from rooms.errors import NotFound
from rooms.models import Draft, Event, EventKind, Member, parent_preview
from rooms.store import Stores


class Composer:
    def __init__(self, stores: Stores, formatter: ChatFormatter) -> None:
        self.stores = stores
        self.formatter = formatter
        self.mentions = MentionStore(stores.db)

    async def draft(self, room_id: int, author: Member, body: str, reply_to: int | None = None) -> Draft:
        """Reading the room's members costs a query only when the text names someone (`@…`)."""
        names, room_named = mention_candidates(body)
        known: dict[str, int] = {}
        room_allowed = False
        if names or room_named:
            known, role = await self.mentions.resolve(room_id, author.id, names)
            # @room reaches everyone, so only the room's owners and moderators may use it.
            room_allowed = role is not None and role.can_moderate
        formatted = await self.formatter.format(body, known, room_allowed)
        draft = Draft(body=body, html=formatted.html, mentions=formatted.mentions, mentions_room=formatted.room)
        if reply_to is None:
            return draft
        parent = await self.parent(room_id, reply_to)
        return replace(draft, reply_to=parent.seq, parent_author=parent.sender_id,
                       parent=parent_preview(parent.sender_id, parent.sender_name, parent.body))

    async def parent(self, room_id: int, seq: int, field: str = "reply_to") -> Event:
        """A message of the room that may be answered: present, and not deleted."""
        event = await self.stores.messages.get(room_id, seq)
        if event is None or event.kind is not EventKind.MESSAGE or event.deleted:
            raise NotFound("no such message in this room", field=field)
        return event
