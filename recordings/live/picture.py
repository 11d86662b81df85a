"""Video of every publisher, decoded; which one the stream shows; fitting it into the stream's frame.

The rule: the stream shows the publisher who most recently *started* sending video among
those still sending (a new camera or screen share takes over the picture; when it stops,
the one before comes back). With nobody sending, the last picture stays for STALE_S, then black.
"""

from __future__ import annotations

import collections
import logging

import av

from recordings.live.clock import Anchor

log = logging.getLogger(__name__)

RATE = 90_000
STALE_S = 2.0      # a publisher with no frame for this long has stopped sending video
HELD_S = 1.0       # decoded frames kept per publisher behind their newest (the jitter delay is less)
HELD_FRAMES = 60   # and never more than this many (a 1080p screen share is 3 MB a frame)


class VideoTrack:
    """One publisher's video, decoded as it arrives, each frame stamped with its stream time."""

    def __init__(self, decoder: str) -> None:
        self.decoder = av.CodecContext.create(decoder, "r")
        self.anchor = Anchor(RATE)
        self.frames: collections.deque[tuple[float, av.VideoFrame]] = collections.deque(maxlen=HELD_FRAMES)
        self.waiting_for_keyframe = True
        self.since: float | None = None     # stream time this run of video began
        self.last_at: float | None = None

    def add(self, payload: bytes, pts: int, arrival_s: float, keyframe: bool) -> None:
        if self.waiting_for_keyframe and not keyframe:
            return   # a picture can only be decoded from a keyframe on
        at = self.anchor.place(pts, arrival_s)
        try:
            frames = self.decoder.decode(av.Packet(payload))
        except av.error.FFmpegError as error:
            log.warning("video packet not decoded (waiting for a keyframe): %s", error)
            self.waiting_for_keyframe = True
            return
        self.waiting_for_keyframe = False
        for frame in frames:
            if self.last_at is None or at - self.last_at > STALE_S:
                self.since = at
            self.last_at = at
            self.frames.append((at, frame))
        while len(self.frames) > 1 and self.frames[0][0] < at - HELD_S:
            self.frames.popleft()   # nobody will ask for these: the output is only the jitter delay behind

    def sending(self, at: float) -> bool:
        return (self.since is not None and self.last_at is not None
                and self.since <= at and at - self.last_at < STALE_S)

    def frame_at(self, at: float) -> av.VideoFrame | None:
        """The latest frame due by `at` (older ones are let go)."""
        found = None
        while self.frames and self.frames[0][0] <= at:
            found = self.frames.popleft()[1]
        if found is not None:
            self.frames.appendleft((at, found))   # keep it: it is still the current picture
        return found


def choose(tracks: dict[int, VideoTrack], at: float) -> VideoTrack | None:
    sending = [track for track in tracks.values() if track.sending(at)]
    return max(sending, key=lambda track: track.since or 0.0, default=None)


class Canvas:
    """The stream's fixed-size frame: any picture scaled to fit, letterboxed, in yuv420p."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.black = av.VideoFrame(width, height, "yuv420p")
        for plane, value in zip(self.black.planes, (16, 128, 128)):
            plane.update(bytes([value]) * plane.buffer_size)

    def fit(self, frame: av.VideoFrame) -> av.VideoFrame:
        scale = min(self.width / frame.width, self.height / frame.height)
        width = max(2, int(frame.width * scale) // 2 * 2)
        height = max(2, int(frame.height * scale) // 2 * 2)
        small = frame.reformat(width=width, height=height, format="yuv420p")
        if (width, height) == (self.width, self.height):
            return small
        out = av.VideoFrame(self.width, self.height, "yuv420p")
        x, y = (self.width - width) // 4 * 2, (self.height - height) // 4 * 2
        for index, (src, dst, black) in enumerate(zip(small.planes, out.planes, self.black.planes)):
            shift = 0 if index == 0 else 1
            data = bytearray(bytes(black))
            source = bytes(src)
            row_x, row_y, row_width = x >> shift, y >> shift, width >> shift
            for row in range(height >> shift):
                at = (row_y + row) * dst.line_size + row_x
                data[at: at + row_width] = source[row * src.line_size: row * src.line_size + row_width]
            dst.update(bytes(data))
        return out
