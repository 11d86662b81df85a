"""Frames of breakout groups (docs/protocol.md, "Breakout groups"): hosts open them, broadcast to them and call
everyone back. Everyone learns of them from the `breakout` events of the webinar's room."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StrictStr

from realtime.frames.table import FrameGroup
from realtime.protocol import Frame, RoomId
from realtime.session import Session
from rooms.webinars.breakouts import MAX_GROUP, MAX_GROUPS


class BreakoutOpen(Frame):
    type: Literal["breakout.open"]
    webinar: RoomId
    groups: Annotated[list[Annotated[list[RoomId], Field(min_length=1, max_length=MAX_GROUP)]],
                      Field(min_length=1, max_length=MAX_GROUPS)] | None = None
    size: Annotated[StrictInt, Field(ge=2, le=MAX_GROUP)] | None = None
    duration_s: StrictInt
    warning_s: StrictInt | None = None


class BreakoutBroadcast(Frame):
    type: Literal["breakout.broadcast"]
    webinar: RoomId
    body: Annotated[StrictStr, Field(min_length=1, max_length=4000)]


class BreakoutClose(Frame):
    type: Literal["breakout.close"]
    webinar: RoomId


async def on_open(session: Session, frame: BreakoutOpen) -> None:
    breakout = await session.services.webinars.breakouts.open(
        session.conn.member, frame.webinar, groups=frame.groups, size=frame.size, duration_s=frame.duration_s,
        warning_s=frame.warning_s)
    session.reply({"type": "breakout.opened", "webinar": frame.webinar, "breakout": breakout.public()}, frame.ref)


async def on_broadcast(session: Session, frame: BreakoutBroadcast) -> None:
    groups = await session.services.webinars.breakouts.broadcast(session.conn.member, frame.webinar, frame.body)
    session.reply({"type": "breakout.sent", "webinar": frame.webinar, "groups": groups}, frame.ref)


async def on_close(session: Session, frame: BreakoutClose) -> None:
    breakout = await session.services.webinars.breakouts.close(session.conn.member, frame.webinar)
    session.reply({"type": "breakout.closed", "webinar": frame.webinar, "breakout": breakout.public()}, frame.ref)


FRAMES: FrameGroup = {BreakoutOpen: on_open, BreakoutBroadcast: on_broadcast, BreakoutClose: on_close}
