"""Chat frames: subscribe and resume, send, edit, delete, history, read markers, typing, presence, who, ping."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt

from realtime.frames.table import FrameGroup
from realtime.protocol import Body, ClientId, Frame, RoomId, Seq
from realtime.session import Session
from rooms import metrics
from rooms.errors import BadRequest
from rooms.models import Event, PresenceStatus


class Subscribe(Frame):
    type: Literal["subscribe"]
    room: RoomId
    since: Seq | None = None


class Unsubscribe(Frame):
    type: Literal["unsubscribe"]
    room: RoomId


class Send(Frame):
    type: Literal["send"]
    room: RoomId
    client_id: ClientId
    body: Body = ""
    # Ids of the sender's own uploads to this room (docs/attachments.md); the service bounds their number.
    attachments: Annotated[list[Annotated[StrictInt, Field(gt=0, lt=2**53)]], Field(max_length=100)] = []
    reply_to: Seq | None = None     # the seq of the message this one answers, in the same room


class Edit(Frame):
    type: Literal["edit"]
    room: RoomId
    target: Seq
    body: Body
    client_id: ClientId | None = None   # makes a resend (an offline outbox) harmless


class Delete(Frame):
    type: Literal["delete"]
    room: RoomId
    target: Seq
    client_id: ClientId | None = None


class History(Frame):
    type: Literal["history"]
    room: RoomId
    before: Seq | None = None
    limit: Annotated[StrictInt, Field(ge=1, le=1000)] = 50
    thread: Seq | None = None                 # only the replies to this message (and the message)
    mentions: Literal["me"] | None = None     # only the messages that mention the asking member


class Typing(Frame):
    type: Literal["typing"]
    room: RoomId
    active: StrictBool = True


class Read(Frame):
    type: Literal["read"]
    room: RoomId
    seq: Seq


class SetPresence(Frame):
    type: Literal["presence"]
    status: Literal["online", "away"]


class Who(Frame):
    type: Literal["who"]
    room: RoomId


class Ping(Frame):
    type: Literal["ping"]


async def on_subscribe(session: Session, frame: Subscribe) -> None:
    conn, services = session.conn, session.services
    if frame.room not in conn.subscriptions and len(conn.subscriptions) >= services.settings.max_subscriptions:
        raise BadRequest("too many subscriptions on one connection", field="room")
    room, _ = await services.rooms.readable(conn.member, frame.room)
    live_from = await services.hub.subscribe(conn, room, frame.since)
    session.reply({"type": "subscribed", "room": room.id, "last_seq": live_from}, frame.ref)


async def on_unsubscribe(session: Session, frame: Unsubscribe) -> None:
    await session.services.hub.unsubscribe(session.conn, frame.room)
    session.reply({"type": "unsubscribed", "room": frame.room, "reason": "requested"}, frame.ref)


async def on_send(session: Session, frame: Send) -> None:
    await session.take_message_token()
    event, created = await session.services.chat.send(session.conn.member, frame.room, frame.client_id, frame.body,
                                                       frame.attachments, frame.reply_to)
    session.reply({"type": "ack", "room": event.room_id, "client_id": event.client_id, "seq": event.seq,
                   "ts": event.created_at.isoformat(), "duplicate": not created}, frame.ref)


def _change_ack(event: Event, created: bool) -> dict:
    ack = {"type": "ack", "room": event.room_id, "seq": event.seq, "ts": event.created_at.isoformat(),
           "target": event.target_seq, "duplicate": not created}
    if event.client_id is not None:
        ack["client_id"] = event.client_id
    return ack


async def on_edit(session: Session, frame: Edit) -> None:
    await session.take_message_token()
    event, created = await session.services.chat.edit(session.conn.member, frame.room, frame.target, frame.body,
                                                       frame.client_id)
    session.reply(_change_ack(event, created), frame.ref)


async def on_delete(session: Session, frame: Delete) -> None:
    await session.take_message_token()
    event, created = await session.services.chat.delete(session.conn.member, frame.room, frame.target,
                                                         frame.client_id)
    session.reply(_change_ack(event, created), frame.ref)


async def on_history(session: Session, frame: History) -> None:
    services, member = session.services, session.conn.member
    limit = min(frame.limit, services.settings.history_page_max)
    subscribed = frame.room in session.conn.subscriptions
    reply: dict = {"type": "history", "room": frame.room}
    with metrics.history_via["socket"].time():
        if frame.thread is not None:
            parent, page = await services.chat.thread(member, frame.room, frame.thread, frame.before, limit,
                                                      subscribed=subscribed)
            reply.update(thread=frame.thread, parent=parent.frame())
        else:
            page = await services.chat.history(member, frame.room, frame.before, limit, subscribed=subscribed,
                                               mentioning_me=frame.mentions == "me")
            if frame.mentions:
                reply["mentions"] = frame.mentions
        reply.update(messages=[event.frame() for event in reversed(page.events)], has_more=page.has_more,
                     **page.marker())
        session.reply(reply, frame.ref)


async def on_typing(session: Session, frame: Typing) -> None:
    now = time.monotonic()
    interval = session.services.settings.typing_interval_s
    if frame.active and now - session.typing_at.get(frame.room, -interval) < interval:
        return   # throttled silently: typing is a hint, not a request
    session.typing_at[frame.room] = now if frame.active else -interval
    await session.services.chat.typing(session.conn.member, frame.room, frame.active)


async def on_read(session: Session, frame: Read) -> None:
    stored = await session.services.chat.mark_read(session.conn.member, frame.room, frame.seq)
    session.reply({"type": "read", "room": frame.room, "seq": stored}, frame.ref)


async def on_presence(session: Session, frame: SetPresence) -> None:
    await session.services.presence.set_status(session.conn.member, session.conn.id, PresenceStatus(frame.status))
    session.reply({"type": "presence.set", "status": frame.status}, frame.ref)


async def on_who(session: Session, frame: Who) -> None:
    services = session.services
    members = await services.rooms.members(session.conn.member, frame.room)
    statuses = await services.presence.in_room([m.id for m, _ in members])
    present = [{**m.brief(), "status": statuses[m.id].value} for m, _ in members
               if statuses.get(m.id, PresenceStatus.OFFLINE) is not PresenceStatus.OFFLINE]
    session.reply({"type": "who", "room": frame.room, "members": present}, frame.ref)


async def on_ping(session: Session, frame: Ping) -> None:
    session.reply({"type": "pong"}, frame.ref)


FRAMES: FrameGroup = {
    Subscribe: on_subscribe, Unsubscribe: on_unsubscribe, Send: on_send, Edit: on_edit, Delete: on_delete,
    History: on_history, Typing: on_typing, Read: on_read, SetPresence: on_presence, Who: on_who, Ping: on_ping,
}
