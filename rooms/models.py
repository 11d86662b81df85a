"""Plain values of the chat domain, shared by the store, the services and the web layer."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from rooms.formatting import plain_html


class Visibility(str, enum.Enum):
    PUBLIC = "public"
    PRIVATE = "private"


class RoomKind(str, enum.Enum):
    ROOM = "room"
    DM = "dm"
    EMERGENCY = "emergency"   # private, with the attributes and tools of rooms/emergency
    WEBINAR = "webinar"       # a webinar's chat and Q&A (rooms/webinars); registrants are its members
    BREAKOUT = "breakout"     # a webinar's breakout group's chat: the group's members and the webinar's hosts


class Role(str, enum.Enum):
    OWNER = "owner"
    MODERATOR = "moderator"
    MEMBER = "member"

    @property
    def can_moderate(self) -> bool:
        return self in (Role.OWNER, Role.MODERATOR)


class EventKind(str, enum.Enum):
    """What one entry of a room's sequence is. Edits and deletes take a sequence
    number of their own so that resume replays them like any message."""

    MESSAGE = "message"
    EDIT = "message.edited"
    DELETE = "message.deleted"
    # Emergency rooms (rooms/emergency): the body holds the event's fields as JSON.
    ALERT = "alert"
    ALERT_ACK = "alert.ack"
    SITREP = "sitrep"
    FOURW = "fourw"
    EMERGENCY = "emergency"
    MEMBERSHIP = "membership"
    # Webinar rooms (rooms/webinars): structured like the emergency events above.
    WEBINAR = "webinar"                  # the session's state changed
    QUESTION = "question"                # asked (anonymous ones carry no sender)
    QUESTION_UPVOTE = "question.upvote"
    QUESTION_STATE = "question.state"    # answered or dismissed by a host or panelist
    HAND = "hand"                        # raised or lowered
    SPEAKER = "speaker"                  # promoted or demoted
    POLL = "poll"                        # opened or closed
    POLL_RESULTS = "poll.results"        # the counts after a vote; the voter is not named
    MUTE = "mute"                        # a host muted or unmuted someone's microphone on stage
    REMOVAL = "removal"                  # a host removed someone from the webinar
    # Conversations (rooms/conversations), in every kind of room.
    REACTION = "reaction"                # an emoji reaction added or removed
    PIN = "pin"                          # a message pinned or unpinned by an owner or moderator
    # Any room (rooms/moderation): a mute, ban, kick, role change or slow mode, and their end;
    # structured like the events above, with the `action` in the body.
    MODERATION = "moderation"
    # Members' data (rooms/members_data): a member deleted their account (their messages in this room are
    # blanked), and retention removed the room's history up to `removed_through`.
    MEMBER_ERASED = "member.erased"
    HISTORY_REMOVED = "history.removed"
    HOST = "host"                        # the creator made someone a host, or took it back
    BREAKOUT = "breakout"                # breakout groups opened or closed (webinar room and each group's room)
    BREAKOUT_WARNING = "breakout.warning"    # the groups end soon
    BREAKOUT_BROADCAST = "breakout.broadcast"  # a host's message to every group (in each group's room)

    @property
    def structured(self) -> bool:
        return self not in (EventKind.MESSAGE, EventKind.EDIT, EventKind.DELETE)


class PresenceStatus(str, enum.Enum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Member:
    id: int
    username: str
    display_name: str
    bio: str = ""
    organisation: str = ""
    country: str = ""
    languages: tuple[str, ...] = ()
    practice_areas: tuple[str, ...] = ()
    created_at: datetime | None = None
    site_admin: bool = False    # moderates every room, suspends accounts (rooms/moderation)
    suspended: bool = False     # a suspended member is never authenticated; seen in admin listings
    former: bool = False   # deleted their account: a tombstone, shown as "a former member" (rooms/members_data)

    def public(self) -> dict:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "bio": self.bio,
            "organisation": self.organisation,
            "country": self.country,
            "languages": list(self.languages),
            "practice_areas": list(self.practice_areas),
        }

    def brief(self) -> dict:
        return {"id": self.id, "username": self.username, "display_name": self.display_name}


@dataclass(frozen=True)
class Room:
    id: int
    name: str
    kind: RoomKind
    visibility: Visibility
    topic: str
    created_by: int | None
    last_seq: int
    created_at: datetime
    dm_key: str | None = None   # set for one-to-one conversations only
    slow_mode_s: int = 0        # seconds between one member's messages (moderators exempt); 0 is off
    retention_days: int | None = None   # messages older than this are removed (rooms/members_data)
    removed_through: int = 0            # retention removed every event up to this seq

    def public(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "visibility": self.visibility.value,
            "topic": self.topic,
            "last_seq": self.last_seq,
            "created_at": self.created_at.isoformat(),
            "slow_mode_s": self.slow_mode_s,
            "retention_days": self.retention_days,
            "removed_through": self.removed_through,
        }


@dataclass(frozen=True)
class Membership:
    room_id: int
    member_id: int
    role: Role
    read_seq: int


@dataclass(frozen=True)
class RoomAccess:
    """What every access decision about a room needs, read in one query (RoomStore.access)."""

    room: Room | None
    membership: Membership | None
    banned_until: datetime | None = None   # set while banned (rooms.store.rooms.FOREVER: without end)
    muted_until: datetime | None = None    # set while muted


@dataclass(frozen=True)
class RoomSummary:
    """A room as one member sees it in their room list."""

    room: Room
    role: Role
    unread: int
    read_seq: int
    member_names: tuple[str, ...] = ()

    def public(self) -> dict:
        data = self.room.public()
        data.update(role=self.role.value, unread=self.unread, read_seq=self.read_seq)
        if self.room.kind is RoomKind.DM:
            data["members"] = list(self.member_names)
        return data


@dataclass(frozen=True)
class Event:
    """One entry of a room's gap-free sequence."""

    room_id: int
    seq: int
    kind: EventKind
    sender_id: int
    sender_name: str
    client_id: str | None
    body: str
    target_seq: int | None
    created_at: datetime
    edited_at: datetime | None = None
    deleted: bool = False
    attachments: tuple[dict, ...] = ()   # descriptors (rooms/attachments/models.py Attachment.descriptor)
    # Conversations (rooms/conversations): on messages, and html and mentions on edits too.
    html: str | None = None                         # None: stored before formatting existed
    reply_to: int | None = None
    parent: dict | None = None                      # the replied-to message's preview
    mentions: tuple[int, ...] = ()
    mentions_room: bool = False
    reactions: dict[str, list[int]] | None = None   # emoji -> member ids, first reaction first

    def frame(self) -> dict:
        """The wire form (docs/protocol.md, "Room events")."""
        data: dict = {
            "type": self.kind.value,
            "room": self.room_id,
            "seq": self.seq,
            "sender": ({"id": self.sender_id, "display_name": self.sender_name} if self.sender_name
                       else sender_of(self.sender_id, self.sender_name)),
            "ts": self.created_at.isoformat(),
        }
        if self.kind is EventKind.MESSAGE:
            data["client_id"] = self.client_id
            data["body"] = "" if self.deleted else self.body
            if self.reply_to is not None:
                data["reply_to"] = self.reply_to
                data["parent"] = self.parent or {"deleted": True}
            if self.deleted:
                data["deleted"] = True
                return data
            data["html"] = self.formatted
            if self.edited_at is not None:
                data["edited_at"] = self.edited_at.isoformat()
            if self.attachments:
                data["attachments"] = list(self.attachments)
            self._add_mentions(data)
            if self.reactions:
                data["reactions"] = [{"emoji": emoji, "count": len(ids), "members": ids}
                                     for emoji, ids in self.reactions.items()]
        elif self.kind is EventKind.EDIT:
            data["target"] = self.target_seq
            data["body"] = self.body
            data["html"] = self.formatted if self.body else ""
            self._add_mentions(data)
        elif self.kind.structured:
            data = {**orjson.loads(self.body), **data}
        else:
            data["target"] = self.target_seq
        return data

    @property
    def formatted(self) -> str:
        return self.html if self.html is not None else plain_html(self.body)

    def _add_mentions(self, data: dict) -> None:
        if self.mentions:
            data["mentions"] = list(self.mentions)
        if self.mentions_room:
            data["mentions_room"] = True


EXCERPT_CHARS = 140


def sender_of(member_id: int | None, display_name: str) -> dict:
    """Who a frame names. A member who deleted their account keeps their id (a tombstone with no name):
    `former` tells clients to show "a former member"."""
    sender: dict = {"id": member_id, "display_name": display_name}
    if member_id is not None and not display_name:
        sender["former"] = True
    return sender


def parent_preview(sender_id: int | None, sender_name: str, body: str, deleted: bool = False) -> dict:
    """What a reply shows of the message it answers: who wrote it and how it starts, on one line."""
    sender = sender_of(sender_id, sender_name)
    if deleted:
        return {"sender": sender, "deleted": True}
    line = " ".join(body.split())
    return {"sender": sender, "excerpt": line if len(line) <= EXCERPT_CHARS else line[:EXCERPT_CHARS - 1] + "…"}


@dataclass(frozen=True)
class Draft:
    """A message as it will be stored: its text, formatted once, and what it refers to."""

    body: str
    html: str | None = None
    reply_to: int | None = None
    parent: dict | None = None
    parent_author: int | None = None
    mentions: tuple[int, ...] = ()
    mentions_room: bool = False


@dataclass(frozen=True)
class SearchHit:
    room_id: int
    room_name: str
    seq: int
    sender_name: str
    body: str
    created_at: datetime
    attachments: tuple[str, ...] = ()   # the names of the message's attachments (searched too)
    sender_id: int | None = None
    highlights: tuple[tuple[int, int], ...] = ()   # [start, end) of the words that matched, in `body`

    def public(self) -> dict:
        data = {
            "room": self.room_id,
            "room_name": self.room_name,
            "seq": self.seq,
            "sender": self.sender_name,
            "sender_id": self.sender_id,
            "body": self.body,
            "highlights": [list(span) for span in self.highlights],
            "ts": self.created_at.isoformat(),
        }
        if self.attachments:
            data["attachments"] = list(self.attachments)
        return data


@dataclass
class Page:
    events: list[Event] = field(default_factory=list)
    has_more: bool = False
    # Retention removed every event up to this seq; set on the page that reaches it (the oldest page).
    removed_through: int = 0

    def marker(self) -> dict:
        """What a history reply adds when it reached the history retention removed (docs/protocol.md)."""
        return {"removed_through": self.removed_through} if self.removed_through and not self.has_more else {}
