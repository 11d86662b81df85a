"""How frames for one member travel between processes: one shared broker channel that every process
follows, each message naming its member, so a process delivers it to that member's sockets if it has any.

"M|<member id>|<frame json>". One channel rather than one per member: a process would otherwise
subscribe and unsubscribe for every socket that opens and closes. The frame is a convenience (the inbox
in the store is the source of truth), so a lost message costs nothing a reconnect does not repair.
"""

from __future__ import annotations

import logging

from realtime.broker.base import Broker, BrokerUnavailable
from rooms.fanout import dumps

log = logging.getLogger(__name__)

MEMBERS_CHANNEL = "convene:members"


def encode(member_id: int, frame: dict) -> str:
    return f"M|{member_id}|{dumps(frame)}"


def decode(data: str) -> tuple[int, str]:
    kind, member, frame_text = data.split("|", 2)
    if kind != "M":
        raise ValueError(f"unknown member envelope {kind!r}")
    return int(member), frame_text


async def publish_to_member(broker: Broker, member_id: int, frame: dict) -> None:
    try:
        await broker.publish(MEMBERS_CHANNEL, encode(member_id, frame))
    except BrokerUnavailable as error:
        log.info("member frame for %s dropped: %s", member_id, error)
