"""Audio of every publisher, decoded and laid on the stream's clock, mixed into one mono track."""

from __future__ import annotations

import array
import logging

import av

from recordings.live.clock import Anchor

log = logging.getLogger(__name__)

RATE = 48_000
SAMPLE_BYTES = 4          # float32 mono
# Timestamps this close to where a publisher's audio already ends are taken as "right after it":
# keeps speech continuous when arrival jitter nudges the anchor.
CONTIGUOUS = RATE // 20   # 50 ms
MAX_BUFFER_S = 5.0        # a publisher's audio held beyond this is dropped (the mix has moved on)


class AudioTrack:
    """One publisher's audio: Opus decoded to float mono samples, starting at sample `start` of the stream."""

    def __init__(self) -> None:
        self.decoder = av.CodecContext.create("libopus", "r")
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        self.anchor = Anchor(RATE)
        self.start = 0
        self.fresh = True
        self.samples = bytearray()

    @property
    def end(self) -> int:
        return self.start + len(self.samples) // SAMPLE_BYTES

    def add(self, payload: bytes, pts: int, arrival_s: float) -> None:
        position = round(self.anchor.place(pts, arrival_s) * RATE)
        try:
            frames = self.decoder.decode(av.Packet(payload))
        except av.error.FFmpegError as error:
            log.warning("opus packet not decoded: %s", error)
            return
        data = b"".join(bytes(out.planes[0])[: out.samples * SAMPLE_BYTES]
                        for frame in frames for out in self.resampler.resample(frame))
        self._place(position, data)

    def _place(self, position: int, data: bytes) -> None:
        if self.fresh:
            self.start, self.fresh = position, False
        elif abs(position - self.end) <= CONTIGUOUS:
            pass   # continues what we have (small differences are arrival jitter, not gaps)
        elif position > self.end:
            gap = position - self.end
            if not self.samples or gap > MAX_BUFFER_S * RATE:
                self.samples.clear()   # a new burst of speech after a pause
                self.start = position
            else:
                self.samples += bytes(gap * SAMPLE_BYTES)   # lost packets: silence
        else:
            data = data[(self.end - position) * SAMPLE_BYTES:]   # overlaps what we have: keep the first
        self.samples += data
        excess = len(self.samples) // SAMPLE_BYTES - int(MAX_BUFFER_S * RATE)
        if excess > 0:
            del self.samples[:excess * SAMPLE_BYTES]
            self.start += excess

    def take(self, position: int, count: int) -> bytes | None:
        """Samples [position, position + count) as float32 bytes (silence where there are none),
        or None when this publisher has nothing there. What lies before `position` is discarded."""
        if self.start < position:
            drop = min(len(self.samples) // SAMPLE_BYTES, position - self.start)
            del self.samples[:drop * SAMPLE_BYTES]
            self.start += drop
        if not self.samples or self.start >= position + count:
            return None
        lead = self.start - position
        taken = min(count - lead, len(self.samples) // SAMPLE_BYTES)
        chunk = bytes(self.samples[:taken * SAMPLE_BYTES])
        del self.samples[:taken * SAMPLE_BYTES]
        self.start += taken
        return bytes(lead * SAMPLE_BYTES) + chunk + bytes((count - lead - taken) * SAMPLE_BYTES)


def mix(chunks: list[bytes], count: int) -> bytes:
    """Sum of the publishers' samples, clipped; one speaker (the usual case) costs nothing."""
    if not chunks:
        return bytes(count * SAMPLE_BYTES)
    if len(chunks) == 1:
        return chunks[0]
    total = array.array("f", chunks[0])
    for chunk in chunks[1:]:
        other = array.array("f", chunk)
        total = array.array("f", (a + b for a, b in zip(total, other)))
    return array.array("f", (1.0 if s > 1.0 else -1.0 if s < -1.0 else s for s in total)).tobytes()
