"""How room traffic is written on the broker, so publishers and the hub agree.

A sequenced event travels as  "E|<seq>@<committed at>|<frame json>"  (the Unix time its
transaction committed, so every process can measure its fan-out latency; an older publisher's
"E|<seq>|…" without it is read too), an ephemeral one
(typing, joins) as  "X|<member to skip or 0>|<frame json>",  a presence change as
"P|<member>|<frame json>"  (large rooms do not fan these out), and the notice that
a member left a room as  "L|<member>|<frame json>"  (the hub ends that member's
subscriptions to private rooms when it sees one).
The frame JSON is encoded once by the publisher and handed to every socket as is.
Messages for every process rather than a room (a suspended member, whose sockets every process
closes) go on the control channel as  "<what>|<member>".
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from rooms.models import Event


CONTROL_CHANNEL = "convene:control"
SUSPENDED = "suspended"
ERASED = "erased"   # the member deleted their account (rooms/members_data)


def encode_control(what: str, member_id: int) -> str:
    return f"{what}|{member_id}"


def encode_suspension(member_id: int) -> str:
    return encode_control(SUSPENDED, member_id)


def decode_control(data: str) -> tuple[str, int]:
    what, number = data.split("|", 1)
    return what, int(number)


def room_channel(room_id: int) -> str:
    return f"convene:room:{room_id}"


def room_of_channel(channel: str) -> int | None:
    prefix = "convene:room:"
    return int(channel[len(prefix):]) if channel.startswith(prefix) else None


def dumps(frame: dict) -> str:
    return orjson.dumps(frame).decode()


def encode_event(event: Event, committed_at: float | None = None) -> str:
    stamp = f"@{committed_at:.6f}" if committed_at is not None else ""
    return f"E|{event.seq}{stamp}|{dumps(event.frame())}"


def encode_ephemeral(frame: dict, skip_member: int | None = None) -> str:
    return f"X|{skip_member or 0}|{dumps(frame)}"


def encode_presence(frame: dict, member_id: int) -> str:
    return f"P|{member_id}|{dumps(frame)}"


def encode_departure(frame: dict, member_id: int) -> str:
    return f"L|{member_id}|{dumps(frame)}"


@dataclass(frozen=True)
class Envelope:
    kind: str         # "E" sequenced, "X" ephemeral, "P" presence, "L" departure
    number: int       # the seq (E), the member to skip (X) or the member who left (L)
    frame_text: str
    committed_at: float | None = None   # E only: when the event's transaction committed (Unix time)

    @property
    def sequenced(self) -> bool:
        return self.kind == "E"

    @property
    def frame(self) -> dict:
        return orjson.loads(self.frame_text)


def decode(data: str) -> Envelope:
    kind, number, frame_text = data.split("|", 2)
    if kind not in ("E", "X", "P", "L"):
        raise ValueError(f"unknown envelope kind {kind!r}")
    number, _, stamp = number.partition("@")
    return Envelope(kind=kind, number=int(number), frame_text=frame_text,
                    committed_at=float(stamp) if stamp else None)
