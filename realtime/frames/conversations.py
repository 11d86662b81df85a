"""Conversation frames: react to a message, pin or unpin it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictStr

from realtime.frames.table import FrameGroup
from realtime.protocol import Frame, RoomId, Seq
from realtime.session import Session
from rooms.models import Event


class React(Frame):
    type: Literal["react"]
    room: RoomId
    target: Seq
    emoji: Annotated[StrictStr, Field(min_length=1, max_length=64)]   # one emoji, checked by the service
    active: StrictBool = True


class Pin(Frame):
    type: Literal["pin"]
    room: RoomId
    target: Seq
    active: StrictBool = True


def _ack(room: int, event: Event | None, **fields: object) -> dict:
    """Like a message's ack: the event's seq once stored, or `duplicate` when nothing changed."""
    ack = {"type": "ack", "room": room, **fields, "duplicate": event is None}
    if event is not None:
        ack.update(seq=event.seq, ts=event.created_at.isoformat())
    return ack


async def on_react(session: Session, frame: React) -> None:
    await session.take_message_token()
    emoji, event = await session.services.conversations.react(session.conn.member, frame.room, frame.target,
                                                              frame.emoji, frame.active)
    session.reply(_ack(frame.room, event, target=frame.target, emoji=emoji, active=frame.active), frame.ref)


async def on_pin(session: Session, frame: Pin) -> None:
    await session.take_message_token()
    event = await session.services.conversations.pin(session.conn.member, frame.room, frame.target, frame.active)
    session.reply(_ack(frame.room, event, target=frame.target, active=frame.active), frame.ref)


FRAMES: FrameGroup = {React: on_react, Pin: on_pin}
