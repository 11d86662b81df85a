"""When a read replica may answer: history pages and search, never an access decision.

A streaming replica replays the primary's WAL a little behind it. Each room's rooms.last_seq is
bumped in the same transaction as the event it numbers (an edit or a deletion changes its target in
that transaction too), and a room's writers commit in seq order because they queue on that row's
lock. So a replica whose copy of a room has last_seq >= n holds that room exactly as the primary
did at seq n: every event up to n, every message in its state as of n.

A read therefore names the seq it must see in each room, its floor, and the replica's answer is
taken only when the replica's copy of those rooms had reached it, which the replica reports in the
same statement as the read itself (replica_statement). Otherwise the primary answers. The floor is:
- for a reader whose access must be checked (HTTP, pages, a socket not subscribed to the room): the
  room's head on the primary, read by the access check that runs on the primary anyway, in parallel
  with the replica's read. So every write acknowledged before the request, theirs or anyone's, is in
  the answer, on any process.
- for a socket subscribed to the room: what this process knows the room reached (the events its
  live feed delivered from every process, and the writes it committed itself), and the page's
  `before`: what that socket may have been shown or told. No query on the primary at all.
Access is always decided on the primary: a replica may not know yet that a member left, was removed
or was banned. Sockets subscribed to a room skip the check as they do without a replica (the hub ends
a subscription when its member leaves a private room).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from sqlalchemy import Select, select, true
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError

from rooms import metrics
from rooms.errors import StoreUnavailable
from rooms.store.database import ReadReplica

log = logging.getLogger(__name__)


def replica_statement(progress: Select, read: Select, *order_by: str) -> Select:
    """`progress` (one row, one column: how far the replica has got) and beside it the rows of
    `read`, or one row of NULLs when `read` finds nothing, so even an empty answer says how far the
    replica had got. Rows come back in `read`'s order (`order_by`: its columns, with a direction)."""
    first = progress.subquery("replica_progress")
    rows = read.lateral("replica_read")
    ordering = [getattr(rows.c[name.lstrip("-")], "desc" if name.startswith("-") else "asc")()
                for name in order_by]
    return select(first, rows).select_from(first.outerjoin(rows, true())).order_by(*ordering)


async def rows_from_replica(replica: ReadReplica, read: str, stmt: Select,
                            params: dict[str, Any]) -> Sequence[Row] | None:
    """The statement's rows from the replica, or None when it cannot answer now (counted)."""
    if not replica.available:
        metrics.replica_fallbacks_by[read, "unavailable"].inc()
        return None
    try:
        async with replica.read() as conn:
            return (await conn.execute(stmt, params)).all()
    except (StoreUnavailable, DBAPIError) as error:
        # Down, or a query cancelled by a recovery conflict: the primary answers this one.
        log.warning("read replica could not answer a %s read: %s", read, error)
        metrics.replica_fallbacks_by[read, "unavailable"].inc()
        return None


def answered(read: str, reached: bool) -> bool:
    """Counts whether the replica's answer is taken (it had reached the floor) or the primary's."""
    if reached:
        metrics.replica_reads_by_read[read].inc()
    else:
        metrics.replica_fallbacks_by[read, "behind"].inc()
    return reached


class KnownHeads:
    """The seq this process knows each room has reached: the events it committed itself (told by
    ChatService.publish, before their ack) and the head of its live feed for the room (`live`, the
    hub's, fed from every process). A subscribed socket's floor. Bounded: past `capacity` rooms the
    least recently written is forgotten, which only leaves that room's floor to the live feed."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._written: dict[int, int] = {}
        self.live: Callable[[int], int] = lambda room_id: 0

    def saw(self, room_id: int, seq: int) -> None:
        previous = self._written.pop(room_id, 0)
        self._written[room_id] = max(previous, seq)   # re-inserted: most recently written last
        if len(self._written) > self.capacity:
            del self._written[next(iter(self._written))]

    def floor(self, room_id: int) -> int:
        return max(self._written.get(room_id, 0), self.live(room_id))
