"""Who an event concerns, and as what: the rules of docs/notifications.md, "What concerns a member", in one place.

Only members of the room are ever notified (they can read it), never the author; a member's level for
the room (every message, mentions only, nothing) applies, except to emergency alerts, which always pass.
Mentions and replies are what the conversations feature stored with the message (rooms/conversations:
`mentions` are member ids, `mentions_room` is @room by an owner or moderator, `parent` names the
author of the message answered), so the notifier reads them rather than parsing the text again.
"""

from __future__ import annotations

from dataclasses import dataclass

from rooms.models import Event, EventKind, Role, Room, RoomKind
from rooms.notifications.models import Kind, RoomLevel

EXCERPT_CHARS = 200


@dataclass(frozen=True)
class RoomPeople:
    """The room's members as the rules need them."""

    roles: dict[int, Role]
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


def needs_people(room: Room, events: list[Event], has_levels: bool) -> bool:
    """Whether these events can concern anyone: most messages in a big room concern nobody, and then
    the room's members are not even read."""
    if room.kind is RoomKind.DM or has_levels:
        return True
    return any(e.kind in (EventKind.ALERT, EventKind.WEBINAR) or
               (e.kind is EventKind.MESSAGE and (e.mentions or e.mentions_room or e.reply_to)) for e in events)


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
    mentioned = {member for member in event.mentions if member in people.roles}
    author_role = people.roles.get(event.sender_id)
    if event.mentions_room and author_role is not None and author_role.can_moderate:
        mentioned |= set(people.roles)
    parent_author = (event.parent or {}).get("sender", {}).get("id") if event.reply_to else None
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
        elif member_id == parent_author:
            planned.append(Planned(member_id, Kind.REPLY, event, excerpt, {}))
        elif level is RoomLevel.ALL:
            planned.append(Planned(member_id, Kind.MESSAGE, event, excerpt, {}))
    return planned


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS - 1] + "…"
