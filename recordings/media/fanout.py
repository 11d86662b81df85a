"""One publisher track's encoded packets, copied to every viewer's sender through a bounded queue each."""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

log = logging.getLogger(__name__)

VIEWER_QUEUE = 64    # packets; about 2 s of video or 1.3 s of audio before a slow viewer skips ahead


class PacketTrack(MediaStreamTrack):
    """What a viewer's RTCRtpSender reads: packets, which aiortc packetises without encoding."""

    def __init__(self, kind: str, on_gap: Callable[[], None]) -> None:
        super().__init__()
        self.kind = kind
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue(maxsize=VIEWER_QUEUE)
        self._on_gap = on_gap

    def offer(self, packet: av.Packet | None) -> None:
        if self._queue.full():
            # The viewer fell behind: skip what is queued (a video gap needs a fresh keyframe).
            while not self._queue.empty():
                self._queue.get_nowait()
            if self.kind == "video":
                self._on_gap()
        self._queue.put_nowait(packet)

    async def recv(self) -> av.Packet:   # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet


class Fanout:
    """The viewers of one publisher track."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.tracks: set[PacketTrack] = set()

    def subscribe(self, on_gap: Callable[[], None]) -> PacketTrack:
        track = PacketTrack(self.kind, on_gap)
        self.tracks.add(track)
        return track

    def unsubscribe(self, track: PacketTrack) -> None:
        self.tracks.discard(track)

    def push(self, packet: av.Packet) -> None:
        for track in list(self.tracks):
            if track.readyState == "live":
                track.offer(packet)
            else:
                self.tracks.discard(track)

    def end(self) -> None:
        for track in self.tracks:
            track.offer(None)
        self.tracks.clear()
