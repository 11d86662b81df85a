"""Queries that delete a member's account: close it in one transaction, then blank what they wrote room by room.

Closing (one transaction): sole ownerships handed on, tokens deleted, the profile made a tombstone (every
field blank, the username freed), and every row the registry says to delete or forget is gone. From its
commit the member is signed out everywhere and cannot sign in again.

Blanking (one transaction per room, under the room's row lock, so no reply quoting them can slip in): their
messages and edits lose their text, formatting, mentions and files, the previews of replies quoting them
are blanked, their webinar questions lose their text, and one `member.erased` event tells live clients.
Rows are blanked, never deleted: the room's sequence stays gap-free. Each step finds only what is left to
do, so running it again (a process died half way) finishes the job and repeats nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.members_data.registry import HOLDINGS, Erasure
from rooms.models import Event, EventKind, Role, RoomKind, parent_preview
from rooms.store.database import Database
from rooms.store.messages import MessageStore
from rooms.store.schema import auth_tokens, members, memberships, messages, metadata, rooms, utcnow

# Run inside the closing transaction with (connection, member id), before the registry's deletions: what a
# feature must do beyond deleting rows (recordings re-index their presenters' names without this one).
ClosingHook = Callable[[AsyncConnection, int], Awaitable[None]]

TOMBSTONE_PASSWORD = "!"   # no argon2 hash: nothing verifies against it


def tombstone_username(member_id: int) -> str:
    # "~" is not allowed in usernames (rooms/accounts.py), so no member can ever hold this name.
    return f"~former-{member_id}"


@dataclass(frozen=True)
class Handover:
    room_id: int
    room_name: str
    new_owner: int | None   # None: nobody else was in the room


@dataclass(frozen=True)
class Closed:
    rooms_to_blank: list[int]
    handovers: list[Handover]
    events: list[Event]       # the handovers' role changes, on their rooms' sequences (the audit trail)
    files: list[str]          # storage keys of their attachments and unfinished uploads' parts


def _blank_message_values() -> dict:
    return {"body": "", "html": None, "mentions": None, "mentions_room": False, "reactions": None,
            "attachments": None, "client_id": None}


class ErasureStore:
    def __init__(self, db: Database, messages_store: MessageStore) -> None:
        self.db = db
        self.messages = messages_store
        self.closing_hooks: list[ClosingHook] = []

    async def password_hash(self, member_id: int) -> str | None:
        async with self.db.read() as conn:
            return await conn.scalar(select(members.c.password_hash)
                                     .where(members.c.id == member_id, members.c.erased_at.is_(None)))

    async def webinars_without_host(self, member_id: int) -> list[str]:
        async with self.db.read() as conn:
            return await webinars_without_host(conn, member_id)

    async def close(self, member_id: int) -> Closed | None:
        """The closing transaction; None when the account was already deleted."""
        async with self.db.write() as conn:
            now = utcnow()
            closed = await conn.execute(update(members).where(members.c.id == member_id, members.c.erased_at.is_(None))
                                        .values(erased_at=now, username=tombstone_username(member_id),
                                                display_name="", bio="", organisation="", country="",
                                                languages=[], practice_areas=[], password_hash=TOMBSTONE_PASSWORD))
            if closed.rowcount == 0:
                return None
            to_blank = await self._rooms_to_blank(conn, member_id)
            handovers, events = await self._hand_over(conn, member_id)
            files = await self._files(conn, member_id)
            await conn.execute(delete(auth_tokens).where(auth_tokens.c.member_id == member_id))
            for hook in self.closing_hooks:
                await hook(conn, member_id)
            for holding in HOLDINGS:
                table = metadata.tables.get(holding.table)
                if table is None:
                    continue
                column = table.c[holding.column]
                if holding.erasure is Erasure.DELETE:
                    await conn.execute(delete(table).where(column == member_id))
                elif holding.erasure is Erasure.FORGET:
                    await conn.execute(update(table).where(column == member_id).values(
                        {column.name: None, **{name: "" for name in holding.clear}}))
            await _scrub_named(conn, member_id)
            return Closed(rooms_to_blank=to_blank, handovers=handovers, events=events, files=files)

    async def rooms_to_blank(self, member_id: int) -> list[int]:
        async with self.db.read() as conn:
            return await self._rooms_to_blank(conn, member_id)

    async def _rooms_to_blank(self, conn: AsyncConnection, member_id: int) -> list[int]:
        """Rooms where they wrote (through the sender index) and webinar rooms where a question of theirs still
        has its text (anonymous ones too: they have no sender). blank_room finds what is left in each."""
        wrote = select(messages.c.room_id).where(
            messages.c.sender_id == member_id,
            messages.c.kind.in_((EventKind.MESSAGE.value, EventKind.EDIT.value))).distinct()
        room_ids = set((await conn.execute(wrote)).scalars())
        questions = metadata.tables.get("webinar_questions")
        if questions is not None:
            webinars = metadata.tables["webinars"]
            asked = (select(webinars.c.room_id).join(questions, questions.c.webinar_id == webinars.c.id)
                     .where(questions.c.author_id == member_id, questions.c.body != "").distinct())
            room_ids.update((await conn.execute(asked)).scalars())
        return sorted(room_ids)

    async def _hand_over(self, conn: AsyncConnection, member_id: int) -> tuple[list[Handover], list[Event]]:
        """Each room they alone own passes to its oldest moderator, else its oldest member: a role change
        like an owner's, on the room's sequence (moderation's `role` event, from nobody, with the reason)."""
        owned = (await conn.execute(select(rooms.c.id, rooms.c.name, rooms.c.kind).join(
            memberships, memberships.c.room_id == rooms.c.id).where(
            memberships.c.member_id == member_id, memberships.c.role == Role.OWNER.value))).all()
        handovers: list[Handover] = []
        events: list[Event] = []
        for room in owned:
            if room.kind == RoomKind.DM.value:
                continue
            others = (await conn.execute(select(memberships.c.member_id, memberships.c.role, members.c.username,
                                                members.c.display_name).join(
                members, members.c.id == memberships.c.member_id).where(
                memberships.c.room_id == room.id, memberships.c.member_id != member_id,
                members.c.erased_at.is_(None)).order_by(memberships.c.joined_at, memberships.c.member_id))).all()
            if any(other.role == Role.OWNER.value for other in others):
                continue
            successor = next((o for o in others if o.role == Role.MODERATOR.value), others[0] if others else None)
            if successor is not None:
                await conn.execute(update(memberships).where(
                    memberships.c.room_id == room.id, memberships.c.member_id == successor.member_id)
                    .values(role=Role.OWNER.value))
                seq = await self.messages._next_seq(conn, room.id)
                fields = {"action": "role", "role": Role.OWNER.value, "previous": successor.role,
                          "member": {"id": successor.member_id, "username": successor.username,
                                     "display_name": successor.display_name},
                          "reason": "the room's only owner deleted their account"}
                await conn.execute(insert(messages).values(
                    room_id=room.id, seq=seq, kind=EventKind.MODERATION.value, sender_id=None,
                    body=orjson.dumps(fields).decode(), created_at=utcnow()))
                events.append(await self.messages._get(conn, room.id, seq))
            handovers.append(Handover(room.id, room.name, successor.member_id if successor else None))
        return handovers, events

    async def _files(self, conn: AsyncConnection, member_id: int) -> list[str]:
        keys: list[str] = []
        attachments = metadata.tables.get("attachments")
        if attachments is not None:
            for row in (await conn.execute(select(attachments.c.file_key, attachments.c.preview_key)
                                           .where(attachments.c.owner_id == member_id))).all():
                keys += [key for key in (row.file_key, row.preview_key) if key]
        uploads = metadata.tables.get("attachment_uploads")
        if uploads is not None:
            for row in (await conn.execute(select(uploads.c.parts).where(uploads.c.member_id == member_id))).all():
                keys += [part[2] for part in row.parts or ()]
        return keys

    async def blank_room(self, member_id: int, room_id: int) -> Event | None:
        """Blanks what they wrote in one room and appends `member.erased`; None when nothing was left to
        blank (or only anonymous questions, which no event may tie to them)."""
        try:
            async with self.db.write() as conn:
                seq = await self.messages._next_seq(conn, room_id)   # the room's lock first: no reply races in
                changed = await _blank(conn, member_id, room_id)
                if not changed:
                    raise _NothingLeft
                await conn.execute(insert(messages).values(
                    room_id=room_id, seq=seq, kind=EventKind.MEMBER_ERASED.value, sender_id=None,
                    body=orjson.dumps({"member": {"id": member_id}}).decode(), created_at=utcnow()))
                return await self.messages._get(conn, room_id, seq)
        except _NothingLeft:
            return None

    async def finish(self, member_id: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(members).where(members.c.id == member_id)
                               .values(erasure_finished_at=utcnow()))

    async def erased_since(self, since: datetime) -> set[int]:
        """Members who deleted their account at or after `since`."""
        async with self.db.read() as conn:
            return set((await conn.execute(select(members.c.id).where(members.c.erased_at >= since))).scalars())

    async def unfinished(self, started_before: datetime) -> list[int]:
        """Deleted accounts whose blanking did not finish (a process stopped half way)."""
        async with self.db.read() as conn:
            return list((await conn.execute(select(members.c.id).where(
                members.c.erased_at < started_before, members.c.erasure_finished_at.is_(None)))).scalars())


class _NothingLeft(Exception):
    """Leaves the transaction so the sequence number taken for the event is rolled back."""


async def _blank(conn: AsyncConnection, member_id: int, room_id: int) -> int:
    """Their messages, edits, the previews quoting them and their questions in one room; answers how many
    rows others can see changed."""
    theirs = and_(messages.c.room_id == room_id, messages.c.sender_id == member_id)
    own = messages.alias("own")   # not correlated with the statements on `messages` it is used in
    written = select(own.c.seq).where(own.c.room_id == room_id, own.c.sender_id == member_id,
                                      own.c.kind == EventKind.MESSAGE.value)
    changed = (await conn.execute(update(messages).where(
        theirs, messages.c.kind == EventKind.MESSAGE.value, messages.c.deleted_at.is_(None))
        .values(**_blank_message_values(), deleted_at=utcnow()))).rowcount
    changed += (await conn.execute(update(messages).where(
        theirs, messages.c.kind == EventKind.EDIT.value, messages.c.body != "")
        .values(body="", html=None, mentions=None, mentions_room=False))).rowcount
    # Replies quoting them, their earlier deleted messages too (a deleted message's preview still names its author).
    former = parent_preview(member_id, "", "", deleted=True)
    replies = (await conn.execute(select(messages.c.seq, messages.c.parent_preview).where(
        messages.c.room_id == room_id, messages.c.kind == EventKind.MESSAGE.value,
        messages.c.reply_to.in_(written)))).all()
    stale = [row.seq for row in replies if row.parent_preview != former]
    if stale:
        changed += (await conn.execute(update(messages).where(
            messages.c.room_id == room_id, messages.c.seq.in_(stale)).values(parent_preview=former))).rowcount
    for name, column in (("reactions", "target_seq"), ("pins", "target_seq"), ("mentions", "seq")):
        table = metadata.tables.get(name)
        if table is not None:
            await conn.execute(delete(table).where(table.c.room_id == room_id, table.c[column].in_(written)))
    return changed + await _blank_questions(conn, member_id, room_id)


async def _blank_questions(conn: AsyncConnection, member_id: int, room_id: int) -> int:
    """Blanks their questions in this room's webinar and the questions' events; answers how many were asked
    under their name (anonymous ones are blanked too, but silently: no event may tie them to the member)."""
    questions = metadata.tables.get("webinar_questions")
    if questions is None:
        return 0
    webinars = metadata.tables["webinars"]
    rows = (await conn.execute(select(questions.c.id, questions.c.seq, questions.c.anonymous).join(
        webinars, webinars.c.id == questions.c.webinar_id).where(
        webinars.c.room_id == room_id, questions.c.author_id == member_id, questions.c.body != ""))).all()
    for row in rows:
        await conn.execute(update(questions).where(questions.c.id == row.id).values(body=""))
        event = (await conn.execute(select(messages.c.body).where(
            messages.c.room_id == room_id, messages.c.seq == row.seq))).scalar()
        if event:
            fields = {**orjson.loads(event), "body": ""}
            await conn.execute(update(messages).where(messages.c.room_id == room_id, messages.c.seq == row.seq)
                               .values(body=orjson.dumps(fields).decode()))
    return sum(1 for row in rows if not row.anonymous)


def _names(value: object, member_id: int) -> object:
    """`value` with every {"id": member_id, "display_name": …} reduced to the id and an empty name."""
    if isinstance(value, dict):
        if value.get("id") == member_id and "display_name" in value:
            return {"id": member_id, "display_name": ""}
        return {key: _names(item, member_id) for key, item in value.items()}
    if isinstance(value, list):
        return [_names(item, member_id) for item in value]
    return value


async def _scrub_named(conn: AsyncConnection, member_id: int) -> None:
    """Events of emergency rooms that name the member (someone added them, with their name and organisation)
    keep the id and lose the name. Only those rooms' events carry a member's profile in their body."""
    emergencies = metadata.tables.get("emergencies")
    if emergencies is None:
        return
    pattern = f'%"id":{member_id},%'
    rows = (await conn.execute(select(messages.c.room_id, messages.c.seq, messages.c.body).where(
        messages.c.room_id.in_(select(emergencies.c.room_id)), messages.c.kind == EventKind.MEMBERSHIP.value,
        messages.c.body.like(pattern)))).all()
    for row in rows:
        body = orjson.dumps(_names(orjson.loads(row.body), member_id)).decode()
        if body != row.body:
            await conn.execute(update(messages).where(messages.c.room_id == row.room_id, messages.c.seq == row.seq)
                               .values(body=body))


async def webinars_without_host(conn: AsyncConnection, member_id: int) -> list[str]:
    """Titles of webinars not yet ended that this member alone hosts: someone must run them."""
    roles = metadata.tables.get("webinar_roles")
    if roles is None:
        return []
    webinars = metadata.tables["webinars"]
    other = roles.alias("other")
    rows = await conn.execute(select(webinars.c.title).join(roles, roles.c.webinar_id == webinars.c.id).where(
        roles.c.member_id == member_id, roles.c.role == "host", webinars.c.state != "ended",
        ~select(other.c.member_id).where(other.c.webinar_id == webinars.c.id, other.c.role == "host",
                                         other.c.member_id != member_id).exists()).order_by(webinars.c.starts_at))
    return list(rows.scalars())
