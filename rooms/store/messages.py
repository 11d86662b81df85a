"""Queries for a room's sequence of events: append, edit, delete, replay and history pages.

Every append takes the room's row lock (rooms.last_seq), so sequence numbers are
gap-free and strictly increasing per room even with many writing processes. A
failed transaction rolls back the increment with everything else, so a refusal
never leaves a hole in the sequence.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Iterable

from sqlalchemy import and_, bindparam, case, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.errors import NotFound, SlowMode
from rooms.models import Draft, Event, EventKind, Page, Role, Room, parent_preview
from rooms.store.database import Database, ReadReplica
from rooms.store.group_commit import GroupCommit, QueuedSend
from rooms.store.replica import answered, replica_statement, rows_from_replica
from rooms.store.rooms import readable_by, restricted, room_from_row
from rooms.store.schema import members, memberships, mentions, messages, rooms, utcnow

_event_columns = [*messages.c, members.c.display_name.label("sender_name")]


_kinds = {kind.value: kind for kind in EventKind}   # a dict lookup: EventKind(value) is slow per row
_index = {column.key: i for i, column in enumerate(_event_columns)}
(_ROOM, _SEQ, _KIND, _SENDER, _CLIENT_ID, _BODY, _TARGET, _CREATED, _EDITED, _DELETED, _NAME,
 _REPLY_TO, _PARENT, _HTML, _MENTIONS, _MENTIONS_ROOM, _REACTIONS) = (
    _index[key] for key in ("room_id", "seq", "kind", "sender_id", "client_id", "body", "target_seq",
                            "created_at", "edited_at", "deleted_at", "sender_name", "reply_to",
                            "parent_preview", "html", "mentions", "mentions_room", "reactions"))
_ATTACHMENTS = _index["attachments"]


def event_from_row(row: Row) -> Event:
    # By position: a history page converts many rows, and attribute lookup by name costs more.
    return Event(
        room_id=row[_ROOM],
        seq=row[_SEQ],
        kind=_kinds[row[_KIND]],
        sender_id=row[_SENDER],
        sender_name=row[_NAME] or "",
        client_id=row[_CLIENT_ID],
        body=row[_BODY],
        target_seq=row[_TARGET],
        created_at=row[_CREATED],
        edited_at=row[_EDITED],
        deleted=row[_DELETED] is not None,
        attachments=tuple(row[_ATTACHMENTS] or ()),
        html=row[_HTML],
        reply_to=row[_REPLY_TO],
        parent=row[_PARENT],
        mentions=tuple(row[_MENTIONS] or ()),
        mentions_room=bool(row[_MENTIONS_ROOM]),
        reactions=row[_REACTIONS] or None,
    )


def _events():
    return event_query()


def event_query(*extra_columns):
    """Events with their sender's name, plus `extra_columns` after the event's own (event_from_row
    reads a row by position, so extra columns come last)."""
    return select(*_event_columns, *extra_columns).select_from(
        messages.outerjoin(members, members.c.id == messages.c.sender_id))


# The send path's two statements, built once (statement construction was a measurable share of
# a message's cost). The bump only happens for a member of the room who is neither muted nor
# banned: the rule of RoomService.may_write, checked in the write itself, so it is never stale and
# holds on every process the moment a mute is committed.
_bump_for_member = (
    update(rooms)
    .where(rooms.c.id == bindparam("room"),
           exists().where(memberships.c.room_id == rooms.c.id,
                          memberships.c.member_id == bindparam("member")),
           ~restricted(rooms.c.id, bindparam("member"), bindparam("now")))
    .values(last_seq=rooms.c.last_seq + 1)
    # The sender's current name (profiles change): the event goes out without another query.
    .returning(*rooms.c, select(members.c.display_name).where(members.c.id == bindparam("member"))
               .scalar_subquery().label("sender_name")))


def _insert_once(dialect_insert):
    # ON CONFLICT on the client-id constraint: a resent client id inserts nothing.
    return (dialect_insert(messages)
            .values(room_id=bindparam("room"), seq=bindparam("seq"), kind=EventKind.MESSAGE.value,
                    sender_id=bindparam("member"), client_id=bindparam("client_id"),
                    body=bindparam("body"), created_at=bindparam("created_at"), html=bindparam("html"),
                    reply_to=bindparam("reply_to"), parent_preview=bindparam("parent_preview"),
                    mentions=bindparam("mentions"), mentions_room=bindparam("mentions_room"),
                    attachments=bindparam("attachments"))
            .on_conflict_do_nothing(index_elements=[messages.c.room_id, messages.c.sender_id,
                                                    messages.c.client_id])
            .returning(messages.c.seq))


_insert_message_once = {"sqlite": _insert_once(sqlite.insert), "postgresql": _insert_once(postgresql.insert)}

# Asked with the room (under its row lock) before a message is written; raises to refuse.
RoomCheck = Callable[[Room], Awaitable[None]]
# Run after the message row is written, in the same transaction, with its seq; raises to roll the send back
# (rooms/attachments ties the message's attachments to it this way, once).
AfterInsert = Callable[[AsyncConnection, int], Awaitable[None]]
# Run inside a deletion's transaction with (connection, room id, deleted seq): what a feature keeps
# about a message (its reactions, its pin) goes with it.
DeleteHook = Callable[[AsyncConnection, int, int], Awaitable[None]]


@functools.cache
def _page(before: bool, reader: bool, thread: bool = False, mentioning: bool = False):
    """A history page, newest first; built once per shape (construction cost more than the query).
    With `reader`, rows come back only if that member may read the room: the access check rides in
    the page's own round trip (on Postgres a one-time filter evaluated before the index scan).
    `thread`: only the replies to one message; `mentioning`: only messages naming one member
    (or the whole room), deleted ones and the member's own left out."""
    stmt = _events().where(messages.c.room_id == bindparam("room"), messages.c.kind == EventKind.MESSAGE.value)
    if before:
        stmt = stmt.where(messages.c.seq < bindparam("before"))
    if reader:
        stmt = stmt.where(readable_by(bindparam("room"), bindparam("reader"), bindparam("now")))
    if thread:
        stmt = stmt.where(messages.c.reply_to == bindparam("thread"))
    if mentioning:
        named = select(mentions.c.seq).where(mentions.c.room_id == bindparam("room"),
                                             mentions.c.member_id == bindparam("mentioned"))
        stmt = stmt.where(or_(messages.c.seq.in_(named), messages.c.mentions_room.is_(True)),
                          messages.c.deleted_at.is_(None), messages.c.sender_id != bindparam("mentioned"))
    return stmt.order_by(messages.c.seq.desc()).limit(bindparam("limit"))


def _draft_values(draft: Draft) -> dict:
    return {"body": draft.body, "html": draft.html, "reply_to": draft.reply_to,
            "parent_preview": draft.parent, "mentions": list(draft.mentions) or None,
            "mentions_room": draft.mentions_room}


async def _store_mentions(conn: AsyncConnection, room_id: int, seq: int, member_ids: tuple[int, ...]) -> None:
    await conn.execute(delete(mentions).where(mentions.c.room_id == room_id, mentions.c.seq == seq))
    if member_ids:
        await conn.execute(insert(mentions), [{"room_id": room_id, "seq": seq, "member_id": member_id}
                                              for member_id in member_ids])


def _replies_to(room_id: int, seq: int):
    return update(messages).where(messages.c.room_id == room_id, messages.c.reply_to == seq,
                                  messages.c.kind == EventKind.MESSAGE.value)


@functools.cache
def _replica_page(before: bool, thread: bool, mentioning: bool):
    """On a read replica: the replica's head for the room beside the page (rooms/store/replica.py).
    Access is not checked there; the primary decides it (_readable_head) in parallel."""
    return replica_statement(select(rooms.c.last_seq).where(rooms.c.id == bindparam("room")),
                             _page(before, False, thread, mentioning), "-seq")


_readable_head = select(rooms.c.last_seq).where(
    rooms.c.id == bindparam("room"), readable_by(bindparam("room"), bindparam("reader"), bindparam("now")))


class _AlreadyStored(Exception):
    """Leaves the write transaction so the sequence increment is rolled back with it."""


class MessageStore:
    def __init__(self, db: Database, replica: ReadReplica | None = None,
                 group_commit: GroupCommit | None = None) -> None:
        self.db = db
        self.on_delete: list[DeleteHook] = []
        self.replica = replica
        self.group_commit = group_commit

    async def append(self, room_id: int, sender_id: int, client_id: str, body: str | Draft) -> tuple[Event, bool]:
        """Stores a message once per client id, without the membership check of `send`. Answers (event, created)."""
        draft = body if isinstance(body, Draft) else Draft(body=body)
        existing = await self.by_client_id(room_id, sender_id, client_id)
        if existing is not None:
            return existing, False
        try:
            async with self.db.write() as conn:
                seq = await self._next_seq(conn, room_id)
                await conn.execute(insert(messages).values(
                    room_id=room_id, seq=seq, kind=EventKind.MESSAGE.value, sender_id=sender_id,
                    client_id=client_id, created_at=utcnow(), **_draft_values(draft)))
                await _store_mentions(conn, room_id, seq, draft.mentions)
                return await self._get(conn, room_id, seq), True
        except IntegrityError:
            # The same client id raced in through another connection; that one won.
            existing = await self.by_client_id(room_id, sender_id, client_id)
            if existing is None:
                raise
            return existing, False

    async def send(self, room_id: int, sender_id: int, client_id: str, draft: Draft,
                   check: RoomCheck, attachments: list[dict] | None = None,
                   after_insert: AfterInsert | None = None, *,
                   checked_kinds: tuple[str, ...] | None = None) -> tuple[Event, bool] | None:
        """The chat send path in one transaction: bump the room's sequence if the sender is a
        member and not muted or banned, ask `check`, hold to the room's slow mode, insert once per
        client id (with its mentions, then `after_insert`). Answers (event, created), or None when the
        room is missing or the sender may not write there (the caller finds out why).

        `checked_kinds`: the kinds of room `check` needs to see (None: every kind). A plain message to
        a room of another kind goes through group commit (rooms/store/group_commit.py) when it is on:
        committed with the sends that arrived with it, answered after that commit."""
        created_at = utcnow()
        params = {"room": room_id, "member": sender_id, "client_id": client_id, "created_at": created_at,
                  "now": created_at, "attachments": attachments or None, **_draft_values(draft)}
        if self.group_commit is not None and checked_kinds is not None and not attachments and after_insert is None:
            stored = await self.group_commit.submit(QueuedSend(room_id, params, draft.mentions, checked_kinds))
            if stored is not None:
                return self._new_message(room_id, stored.seq, sender_id, stored.sender_name, client_id, draft,
                                         created_at, attachments), True
            # Not a case a batch takes (a resend, slow mode, a guarded room, a refusal): the full path decides.
        try:
            async with self.db.write() as conn:
                room_row = (await conn.execute(_bump_for_member, params)).first()
                if room_row is None:
                    return None
                room = room_from_row(room_row)
                await check(room)
                if room.slow_mode_s:
                    await self._hold_to_slow_mode(conn, room, sender_id, created_at)
                params["seq"] = room_row.last_seq
                if await conn.scalar(_insert_message_once[self.db.dialect], params) is None:
                    raise _AlreadyStored
                if draft.mentions:
                    await _store_mentions(conn, room_id, room_row.last_seq, draft.mentions)
                if after_insert is not None:
                    await after_insert(conn, params["seq"])
        except (_AlreadyStored, IntegrityError, SlowMode):
            # A resend (or the same client id racing in on another connection): the first one stands,
            # even in slow mode, where the first one is the message that makes the resend too soon.
            existing = await self.by_client_id(room_id, sender_id, client_id)
            if existing is None:
                raise
            return existing, False
        return self._new_message(room_id, room_row.last_seq, sender_id, room_row.sender_name or "", client_id,
                                 draft, created_at, attachments), True

    @staticmethod
    def _new_message(room_id: int, seq: int, sender_id: int, sender_name: str, client_id: str, draft: Draft,
                     created_at: datetime, attachments: list[dict] | None) -> Event:
        return Event(room_id=room_id, seq=seq, kind=EventKind.MESSAGE, sender_id=sender_id,
                     sender_name=sender_name, client_id=client_id, body=draft.body, target_seq=None,
                     created_at=created_at, html=draft.html, reply_to=draft.reply_to, parent=draft.parent,
                     mentions=draft.mentions, mentions_room=draft.mentions_room,
                     attachments=tuple(attachments or ()))

    async def _hold_to_slow_mode(self, conn: AsyncConnection, room: Room, sender_id: int, now: datetime) -> None:
        """Refuses a second message from the same member within the room's slow-mode interval
        (moderators are exempt). Under the room's row lock, so two processes cannot both let one in."""
        role = select(memberships.c.role).where(memberships.c.room_id == room.id,
                                                memberships.c.member_id == sender_id).scalar_subquery()
        last = (select(func.max(messages.c.created_at))
                .where(messages.c.room_id == room.id, messages.c.sender_id == sender_id,
                       messages.c.kind == EventKind.MESSAGE.value,
                       messages.c.created_at > now - timedelta(seconds=room.slow_mode_s))
                .scalar_subquery())
        row = (await conn.execute(select(role.label("role"), last.label("last")))).one()
        if row.last is None or Role(row.role).can_moderate:
            return
        wait = (row.last + timedelta(seconds=room.slow_mode_s) - now).total_seconds()
        raise SlowMode(f"slow mode: one message every {room.slow_mode_s} s", retry_after=max(wait, 0.001))

    async def by_client_id(self, room_id: int, sender_id: int, client_id: str) -> Event | None:
        stmt = _events().where(messages.c.room_id == room_id, messages.c.sender_id == sender_id,
                               messages.c.client_id == client_id)
        async with self.db.read(quick=True) as conn:
            row = (await conn.execute(stmt)).first()
        return event_from_row(row) if row else None

    async def get(self, room_id: int, seq: int) -> Event | None:
        async with self.db.read(quick=True) as conn:
            return await self._get(conn, room_id, seq)

    async def edit(self, room_id: int, target_seq: int, editor_id: int, draft: Draft,
                   client_id: str | None = None) -> tuple[Event, bool]:
        """Replaces a message's text (and what it mentions), shows the new text in its replies'
        previews, and appends the edit to the room's sequence, once per client id. Answers (event, created)."""
        values = _draft_values(draft)
        del values["reply_to"], values["parent_preview"]   # what a message answers never changes
        return await self._change(room_id, client_id, editor_id, EventKind.EDIT, target_seq, values, draft.mentions)

    async def delete(self, room_id: int, target_seq: int, deleter_id: int,
                     client_id: str | None = None) -> tuple[Event, bool]:
        """Blanks a message (its place in the sequence stays), its edits and its replies' previews,
        runs the `on_delete` hooks and appends the deletion, once per client id. Answers (event, created)."""
        values = {"body": "", "html": None, "mentions": None, "mentions_room": False, "reactions": None}
        return await self._change(room_id, client_id, deleter_id, EventKind.DELETE, target_seq, values, ())

    async def _change(self, room_id: int, client_id: str | None, actor_id: int, kind: EventKind, target_seq: int,
                      values: dict, mentioned: tuple[int, ...]) -> tuple[Event, bool]:
        try:
            async with self.db.write() as conn:
                seq = await self._next_seq(conn, room_id)
                now = utcnow()
                target = await self._get(conn, room_id, target_seq)
                if target is None:
                    raise NotFound("no such message", field="target")
                preview = parent_preview(target.sender_id, target.sender_name, values["body"],
                                         deleted=kind is EventKind.DELETE)
                changed = {"deleted_at": now} if kind is EventKind.DELETE else {"edited_at": now}
                await conn.execute(update(messages)
                                   .where(messages.c.room_id == room_id, messages.c.seq == target_seq)
                                   .values(**values, **changed))
                await _store_mentions(conn, room_id, target_seq, mentioned)
                await conn.execute(_replies_to(room_id, target_seq).values(parent_preview=preview))
                if kind is EventKind.DELETE:
                    # Edits carry the old text too; blank them so a deletion really removes it.
                    await conn.execute(update(messages)
                                       .where(messages.c.room_id == room_id, messages.c.target_seq == target_seq,
                                              messages.c.kind == EventKind.EDIT.value)
                                       .values(body="", html=None, mentions=None, mentions_room=False))
                    for hook in self.on_delete:
                        await hook(conn, room_id, target_seq)
                entry = {key: value for key, value in values.items() if key != "reactions"}
                await conn.execute(insert(messages).values(
                    room_id=room_id, seq=seq, kind=kind.value, sender_id=actor_id, client_id=client_id,
                    target_seq=target_seq, created_at=now, **entry))
                return await self._get(conn, room_id, seq), True
        except IntegrityError:
            # The same client id again (a resend from an outbox): the first change stands.
            existing = await self.by_client_id(room_id, actor_id, client_id) if client_id else None
            if existing is None:
                raise
            return existing, False

    async def after(self, room_id: int, after_seq: int, limit: int, *,
                    kinds: Iterable[EventKind] | None = None, upto: int | None = None) -> list[Event]:
        """Every event with seq > after_seq, oldest first: what resume and gap repair replay.
        `kinds` and `upto` narrow it (an audit trail, a window of the sequence)."""
        stmt = _events().where(messages.c.room_id == room_id, messages.c.seq > after_seq)
        if kinds is not None:
            stmt = stmt.where(messages.c.kind.in_([kind.value for kind in kinds]))
        if upto is not None:
            stmt = stmt.where(messages.c.seq <= upto)
        stmt = stmt.order_by(messages.c.seq).limit(limit)
        async with self.db.read(quick=True) as conn:
            return [event_from_row(row) for row in (await conn.execute(stmt)).all()]

    async def attention(self, since: dict[int, int]) -> dict[int, tuple[int, bool]]:
        """For each room, the newest seq after `since` ({room: seq}) and whether anything in between
        may concern someone whatever the room's settings: an alert, a webinar event, or a message
        that mentions someone or the room or replies (rooms/notifications/recipients.py, needs_people,
        reads the same from whole events). One aggregate row per room instead of every event read back:
        most rooms' new messages concern nobody. Rooms with nothing new are absent."""
        if not since:
            return {}
        mentioned = exists().where(mentions.c.room_id == messages.c.room_id, mentions.c.seq == messages.c.seq)
        concerns = or_(messages.c.kind.in_([EventKind.ALERT.value, EventKind.WEBINAR.value]),
                       and_(messages.c.kind == EventKind.MESSAGE.value,
                            or_(messages.c.mentions_room.is_(True), messages.c.reply_to.is_not(None), mentioned)))
        stmt = (select(messages.c.room_id, func.max(messages.c.seq),
                       func.max(case((concerns, 1), else_=0)))
                .where(or_(*(and_(messages.c.room_id == room_id, messages.c.seq > seq) for room_id, seq in since.items())))
                .group_by(messages.c.room_id))
        async with self.db.read(quick=True) as conn:
            return {room_id: (last, bool(flag)) for room_id, last, flag in (await conn.execute(stmt)).all()}

    async def after_rooms(self, since: dict[int, int], limit_per_room: int) -> dict[int, list[Event]]:
        """`after` for many rooms in one query ({room: seq} → {room: events}, oldest first). A room may
        get fewer than its events when the total passes len(since) × limit_per_room: ask again from
        where its list ends."""
        if not since:
            return {}
        stmt = (_events()
                .where(or_(*(and_(messages.c.room_id == room_id, messages.c.seq > seq) for room_id, seq in since.items())))
                .order_by(messages.c.room_id, messages.c.seq)
                .limit(len(since) * limit_per_room))
        found: dict[int, list[Event]] = {}
        async with self.db.read(quick=True) as conn:
            for row in (await conn.execute(stmt)).all():
                found.setdefault(row[_ROOM], []).append(event_from_row(row))
        return found

    async def page(self, room_id: int, before_seq: int | None, limit: int, reader: int | None = None, *,
                   thread: int | None = None, mentioning: int | None = None, floor: int = 0) -> Page:
        """Messages (not edit/delete entries) older than before_seq, newest first, in their current state.
        With `reader` (a member id) the page is empty unless that member may read the room
        (rooms.store.rooms.readable_by); an empty page then does not say which. `thread` keeps the
        replies to that seq; `mentioning` the messages that mention that member or the room.
        With a read replica, `floor` is the room's seq the reader must see (rooms/store/replica.py)."""
        shape = (before_seq is not None, reader is not None, thread is not None, mentioning is not None)
        params = {"room": room_id, "before": before_seq, "limit": limit + 1, "reader": reader,
                  "thread": thread, "mentioned": mentioning, "now": utcnow()}
        if self.replica is not None:
            page = await self._page_from_replica(shape, params, limit, floor)
            if page is not None:
                return page
        stmt = _page(*shape)
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt, params)).all()
            has_more = len(rows) > limit
            # The oldest page says where retention cut the room's history (one indexed read, that page only).
            removed = 0 if has_more else await conn.scalar(
                select(rooms.c.removed_through).where(rooms.c.id == room_id)) or 0
        return Page(events=[event_from_row(row) for row in rows[:limit]], has_more=has_more,
                    removed_through=removed)

    async def _page_from_replica(self, shape: tuple[bool, bool, bool, bool], params: dict, limit: int,
                                 floor: int) -> Page | None:
        """The page as the replica has it, if it had reached what the reader must see; None when the
        primary must answer. With a reader, the primary decides access and gives the floor its head."""
        assert self.replica is not None
        if params["before"] is not None:
            floor = max(floor, params["before"] - 1)   # the reader has seen `before`
        before, _, thread, mentioning = shape
        replica_read = rows_from_replica(self.replica, "history", _replica_page(before, thread, mentioning), params)
        if params["reader"] is None:
            rows = await replica_read
        else:
            head, rows = await asyncio.gather(self._readable_head(params), replica_read, return_exceptions=True)
            for outcome in (head, rows):
                if isinstance(outcome, BaseException):
                    raise outcome
            if head is None:
                return Page(events=[], has_more=False)   # not readable: the caller asks RoomService
            floor = max(floor, head)
        if rows is None:
            return None
        reached = bool(rows) and rows[0][0] is not None and rows[0][0] >= floor
        if not answered("history", reached):
            return None
        events = [event_from_row(row[1:]) for row in rows if row[1] is not None]
        return Page(events=events[:limit], has_more=len(events) > limit)

    async def _readable_head(self, params: dict) -> int | None:
        async with self.db.read(quick=True) as conn:
            return await conn.scalar(_readable_head, params)

    async def _next_seq(self, conn: AsyncConnection, room_id: int) -> int:
        # UPDATE takes the row lock that orders every writer of this room.
        seq = await conn.scalar(update(rooms).where(rooms.c.id == room_id)
                                .values(last_seq=rooms.c.last_seq + 1).returning(rooms.c.last_seq))
        if seq is None:
            raise NotFound("no such room")
        return seq

    async def _get(self, conn: AsyncConnection, room_id: int, seq: int) -> Event | None:
        row = (await conn.execute(_events().where(messages.c.room_id == room_id,
                                                  messages.c.seq == seq))).first()
        return event_from_row(row) if row else None
