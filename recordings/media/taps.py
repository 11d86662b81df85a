"""What a webinar's media session hands every forwarded packet to (the live packager implements it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import av


class PacketTap(Protocol):
    """Called on the event loop for every packet the session forwards: must never block (queue the work).

    `kind` is "audio", "video" (the camera) or "screen" (a screen share); `codec` "opus"/"vp8"/"h264"; packet.pts is in units of
    packet.time_base (1/48000 audio, 1/90000 video: the publisher's RTP timestamp, unwrapped,
    starting at 0 per track); packet.is_keyframe is set for video keyframes. A muted member's
    audio is not forwarded, so it never reaches a tap either.
    """

    def on_packet(self, publisher_id: int, kind: str, codec: str, packet: "av.Packet") -> None: ...

    def on_publisher_left(self, publisher_id: int) -> None: ...

    def close(self) -> None: ...
