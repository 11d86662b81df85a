"""What the server process sends the packager worker over its stdin pipe: small framed binary messages.

A message is a fixed header and a payload: PACKET carries one encoded packet (with the
publisher's timestamp and the time it arrived, so the worker can place it on the stream's
clock), LEFT says a publisher has gone, END says the webinar's stream is over, TICK carries
only the time. Every message's arrival time tells the worker how far the server has got: it
never encodes past that (minus the jitter delay), so when it falls behind nothing queued is
too late to be used.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import BinaryIO

# type, publisher id, pts, arrival (CLOCK_MONOTONIC seconds), codec, keyframe, screen share, payload length
HEADER = struct.Struct("<BIqdBBBI")
MAX_PAYLOAD = 4 * 1024 * 1024


class MessageType(enum.IntEnum):
    PACKET = 1
    LEFT = 2
    END = 3
    TICK = 4      # no packet for a while: the server's clock, so the stream moves on through silence


class Codec(enum.IntEnum):
    OPUS = 1
    VP8 = 2
    H264 = 3

    @property
    def kind(self) -> str:
        return "audio" if self is Codec.OPUS else "video"

    @property
    def decoder(self) -> str:
        return {Codec.OPUS: "libopus", Codec.VP8: "vp8", Codec.H264: "h264"}[self]


CODECS = {"opus": Codec.OPUS, "vp8": Codec.VP8, "h264": Codec.H264}


@dataclass(frozen=True)
class Message:
    type: MessageType
    publisher_id: int = 0
    pts: int = 0
    arrival: float = 0.0
    codec: Codec = Codec.OPUS
    keyframe: bool = False
    payload: bytes = b""
    screen: bool = False       # video of the publisher's screen share, not their camera

    def encode(self) -> bytes:
        return HEADER.pack(self.type, self.publisher_id, self.pts, self.arrival, self.codec,
                           1 if self.keyframe else 0, 1 if self.screen else 0, len(self.payload)) + self.payload


def packet_message(publisher_id: int, pts: int, arrival: float, codec: Codec, keyframe: bool, payload: bytes,
                   screen: bool = False) -> bytes:
    """Message(PACKET, ...).encode() without building the object: this runs on the event loop per packet."""
    return HEADER.pack(MessageType.PACKET, publisher_id, pts, arrival, codec, keyframe, screen,
                       len(payload)) + payload


def read_message(stream: BinaryIO) -> Message | None:
    """The next message, or None at the end of the pipe (the server went away: finish up)."""
    header = _read_exactly(stream, HEADER.size)
    if header is None:
        return None
    kind, publisher_id, pts, arrival, codec, keyframe, screen, length = HEADER.unpack(header)
    if length > MAX_PAYLOAD:
        raise ValueError(f"a {length}-byte packet is larger than any the server sends")
    payload = _read_exactly(stream, length) if length else b""
    if payload is None:
        return None
    return Message(MessageType(kind), publisher_id, pts, arrival, Codec(codec), bool(keyframe), payload, bool(screen))


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = stream.read(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)
