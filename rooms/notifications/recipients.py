"""Who an event concerns, and as what: the rules of docs/notifications.md, "Recipients", in one place.

Only members of the room are ever notified (they can read it), never the author; a member's level for
the room (every message, mentions only, nothing) applies, except to emergency alerts, which always pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rooms.models import Event, EventKind, Role, Room, RoomKind
from rooms.notifications.models import Kind, RoomLevel

# The same shape as a username (rooms/accounts.py USERNAME), after an @ that does not follow a word.
MENTION = re.compile(r"(?<![\w@])@([a-z0-9][a-z0-9_.-]{1,31})", re.IGNORECASE)
EVERYONE = "room"
EXCERPT_CHARS = 200


@dataclass(frozen=True)
class RoomPeople:
    """The room's members as the rules need them."""

    roles: dict[int, Role]
    usernames: dict[str, int]        # lower-case username -> member id
    levels: dict[int, RoomLevel]     # only members who chose a level

    def level(self, member_id: int, room: Room) -> RoomLevel:
        default = RoomLevel.ALL if room.kind is RoomKind.DM else RoomLevel.MENTIONS
        return self.levels.get(member_id, default)


@dataclass(frozen=True)
class Planned:
    member_id: int
    kind: Kind
    event: Event
    excerpt: str
    data: dict


def mentioned_names(body: str) -> set[str]:
    return {name.lower().rstrip(".") for name in MENTION.findall(body)}


def needs_people(room: Room, events: list[Event], has_levels: bool) -> bool:
    """Whether these events can concern anyone: most messages in a big room concern nobody, and then
    the room's members are not even read."""
    if room.kind is RoomKind.DM or has_levels:
        return True
    return any(e.kind in (EventKind.ALERT, EventKind.WEBINAR) or
               (e.kind is EventKind.MESSAGE and "@" in e.body) for e in events)


def concerned(room: Room, event: Event, people: RoomPeople) -> list[Planned]:
    if event.kind is EventKind.MESSAGE and not event.deleted:
        return _message(room, event, people)
    frame = event.frame() if event.kind.structured else {}
    if event.kind is EventKind.ALERT:
        return [Planned(m, Kind.ALERT, event, _excerpt(frame.get("body", "")), {})
                for m in people.roles if m != event.sender_id]
    if event.kind is EventKind.WEBINAR and frame.get("state") == "live":
        data = {"webinar": frame.get("webinar"), "url": f"/webinars/{frame.get('webinar')}/live"}
        return [Planned(m, Kind.WEBINAR_LIVE, event, "", data) for m in people.roles
                if m != event.sender_id and people.level(m, room) is not RoomLevel.NOTHING]
    return []


def _message(room: Room, event: Event, people: RoomPeople) -> list[Planned]:
    names = mentioned_names(event.body) if "@" in event.body else set()
    mentioned = {people.usernames[name] for name in names if name in people.usernames}
    author_role = people.roles.get(event.sender_id)
    if EVERYONE in names and author_role is not None and author_role.can_moderate:
        mentioned |= set(people.roles)
    planned = []
    excerpt = _excerpt(event.body)
    for member_id in people.roles:
        if member_id == event.sender_id:
            continue
        level = people.level(member_id, room)
        if level is RoomLevel.NOTHING:
            continue
        if member_id in mentioned:
            planned.append(Planned(member_id, Kind.MENTION, event, excerpt, {}))
        elif level is RoomLevel.ALL:
            planned.append(Planned(member_id, Kind.MESSAGE, event, excerpt, {}))
    return planned


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1] + "…"
