"""Video of every publisher (camera and screen share), decoded; what the stream shows; composing its frame.

What the stream shows (`Scene.choose`):
- a screen share, when anyone shares (the most recently started one), full frame, with the
  active speaker's camera as picture-in-picture in the bottom-right corner;
- otherwise the active speaker's camera, full frame.
"The active speaker's camera" is that of the most recent active speaker (recordings/live/speaker.py)
who is sending a camera; before anyone has talked, the camera that most recently started. With
nothing to show, the last picture stays for STALE_S, then black.
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


def latest_started(tracks: list[VideoTrack], at: float) -> VideoTrack | None:
    sending = [track for track in tracks if track.sending(at)]
    return max(sending, key=lambda track: track.since or 0.0, default=None)


class Scene:
    """Every publisher's camera and screen, and which of them the stream shows."""

    def __init__(self) -> None:
        self.cameras: dict[int, VideoTrack] = {}
        self.screens: dict[int, VideoTrack] = {}

    def track(self, publisher_id: int, screen: bool, decoder: str) -> VideoTrack:
        tracks = self.screens if screen else self.cameras
        found = tracks.get(publisher_id)
        if found is None:
            found = tracks[publisher_id] = VideoTrack(decoder)
        return found

    def left(self, publisher_id: int) -> None:
        self.cameras.pop(publisher_id, None)
        self.screens.pop(publisher_id, None)

    def choose(self, at: float, speakers: list[int]) -> tuple[VideoTrack | None, VideoTrack | None]:
        """(full frame, picture-in-picture) at stream time `at`; `speakers`: active speakers, most recent first."""
        camera = next((self.cameras[p] for p in speakers if p in self.cameras and self.cameras[p].sending(at)), None)
        if camera is None:
            camera = latest_started(list(self.cameras.values()), at)
        screen = latest_started(list(self.screens.values()), at)
        return (screen, camera) if screen is not None else (camera, None)


PIP_SHARE = 4          # the picture-in-picture is a quarter of the frame's width ...
PIP_MARGIN = 12        # ... this many pixels in from the bottom-right corner


def _scaled(frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
    """The frame scaled to fit width x height, keeping its shape (even sizes, as yuv420p needs)."""
    scale = min(width / frame.width, height / frame.height)
    return frame.reformat(width=max(2, int(frame.width * scale) // 2 * 2),
                          height=max(2, int(frame.height * scale) // 2 * 2), format="yuv420p")


def _paste(base: av.VideoFrame, small: av.VideoFrame, x: int, y: int) -> av.VideoFrame:
    """A copy of `base` with `small` laid over it at (x, y) (both yuv420p, x and y even)."""
    out = av.VideoFrame(base.width, base.height, "yuv420p")
    for index, (src, dst, under) in enumerate(zip(small.planes, out.planes, base.planes)):
        shift = 0 if index == 0 else 1
        data = bytearray(bytes(under))
        source = bytes(src)
        row_x, row_y, row_width = x >> shift, y >> shift, small.width >> shift
        for row in range(small.height >> shift):
            at = (row_y + row) * dst.line_size + row_x
            data[at: at + row_width] = source[row * src.line_size: row * src.line_size + row_width]
        dst.update(bytes(data))
    return out


class Canvas:
    """The stream's fixed-size frame: any picture scaled to fit, letterboxed, in yuv420p; a camera laid over it."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.black = av.VideoFrame(width, height, "yuv420p")
        for plane, value in zip(self.black.planes, (16, 128, 128)):
            plane.update(bytes([value]) * plane.buffer_size)
        self.pip_box = (width // PIP_SHARE // 2 * 2, height // PIP_SHARE * 4 // 3 // 2 * 2)

    def fit(self, frame: av.VideoFrame) -> av.VideoFrame:
        small = _scaled(frame, self.width, self.height)
        if (small.width, small.height) == (self.width, self.height):
            return small
        return _paste(self.black, small, (self.width - small.width) // 4 * 2, (self.height - small.height) // 4 * 2)

    def with_pip(self, full: av.VideoFrame, pip: av.VideoFrame) -> av.VideoFrame:
        """`full` (already fitted) with `pip` in its bottom-right corner."""
        small = _scaled(pip, *self.pip_box)
        x = (self.width - small.width - PIP_MARGIN) // 2 * 2
        y = (self.height - small.height - PIP_MARGIN) // 2 * 2
        return _paste(full, small, x, y)

    def pip_region(self, pip_width: int, pip_height: int) -> tuple[int, int, int, int]:
        """Where a pip_width x pip_height camera lands: (x, y, width, height). For tests and documentation."""
        scale = min(self.pip_box[0] / pip_width, self.pip_box[1] / pip_height)
        width, height = int(pip_width * scale) // 2 * 2, int(pip_height * scale) // 2 * 2
        return (self.width - width - PIP_MARGIN) // 2 * 2, (self.height - height - PIP_MARGIN) // 2 * 2, width, height
