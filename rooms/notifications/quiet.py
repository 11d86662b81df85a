"""Messages that concern nobody move the notifier's cursor in the transaction that stores them.

Most messages are plain: no mention, no @room, not a reply, in a room that is not a DM and where
no member chose a notification level. The notifier would read them back only to find that, and
move its cursor past them in a write of its own (rooms/notifications/notifier.py, catch_up_rooms).
With group commit on, the batch that stores them moves the cursor itself, with the same
compare-and-set the notifier uses (rooms/store/group_commit.py, Follow); the notifier then is not
woken for them at all. A run that is not where the cursor is (the notifier is behind on that room,
or another process moved it), or a room that has a DM's or a level's rules, is left to the notifier
as before: its sweep and its compare-and-set stay the authority.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy import bindparam, exists, update

from rooms.models import RoomKind
from rooms.notifications.store.schema import notifier_cursors, room_levels
from rooms.store.group_commit import Follow, QueuedSend
from rooms.store.schema import rooms

# seen/to as group_commit.Follow gives them; the room's own rules in the statement, read under the batch's lock.
_advance_if_quiet = (
    update(notifier_cursors)
    .where(notifier_cursors.c.room_id == bindparam("room"),
           notifier_cursors.c.notified_seq == bindparam("seen"),
           exists().where(rooms.c.id == bindparam("room"), rooms.c.kind != RoomKind.DM.value),
           ~exists().where(room_levels.c.room_id == bindparam("room")))
    .values(notified_seq=bindparam("to")))


def concerns_nobody(send: QueuedSend) -> bool:
    """What needs_people (rooms/notifications/recipients.py) says of a plain message, whatever the room."""
    values = send.values
    return not send.mentions and not values.get("mentions_room") and values.get("reply_to") is None


def quiet_messages(took: Callable[[int, int, int], None]) -> Follow:
    return Follow(statement=_advance_if_quiet, applies=concerns_nobody, took=took)
