"""Reactions and pins: who may, and each effective change published as a room event."""

from __future__ import annotations

from rooms import metrics
from rooms.conversations.emoji import reaction_emoji
from rooms.conversations.models import Pin
from rooms.conversations.store import ConversationStores
from rooms.errors import Forbidden
from rooms.management import RoomService
from rooms.models import Event, Member, RoomKind
from rooms.service import ChatService


class ConversationService:
    def __init__(self, stores: ConversationStores, rooms: RoomService, chat: ChatService) -> None:
        self.stores = stores
        self.rooms = rooms
        self.chat = chat

    async def react(self, member: Member, room_id: int, target_seq: int, emoji: str,
                    active: bool = True) -> tuple[str, Event | None]:
        """Answers (the emoji as stored, the event), the event None when nothing changed."""
        emoji = reaction_emoji(emoji)
        # The same checks as a message: a member, not muted, of a room that takes messages (a room the
        # member may not read is not_found, whether or not it exists).
        await self.rooms.may_write(member, room_id)
        event = await self.stores.reactions.set(room_id, target_seq, member.id, emoji, active)
        if event is not None:
            metrics.reactions_by_change["added" if active else "removed"].inc()
            await self.chat.publish(event)
        return emoji, event

    async def pin(self, member: Member, room_id: int, target_seq: int, active: bool = True) -> Event | None:
        room, membership = await self.rooms.may_write(member, room_id)
        # In a conversation (a DM) everyone in it may pin; a room leaves it to its owners and moderators.
        if room.kind is not RoomKind.DM and not membership.role.can_moderate:
            raise Forbidden("only the room's owners and moderators pin messages")
        event = await self.stores.pins.set(room_id, target_seq, member.id, active)
        if event is not None:
            metrics.pins_by_change["pinned" if active else "unpinned"].inc()
            await self.chat.publish(event)
        return event

    async def pins(self, member: Member, room_id: int) -> list[Pin]:
        await self.rooms.readable(member, room_id)
        return await self.stores.pins.list(room_id)
