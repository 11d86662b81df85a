"""Places a publisher's packets on the stream's clock (seconds since the stream started)."""

from __future__ import annotations

# A publisher whose timestamps jump this far from when their packets arrive has restarted its
# clock (a reconnect): start again from the arrival time rather than leave a hole or an overlap.
RESYNC_S = 2.0


class Anchor:
    """Media timestamps keep each publisher's own spacing; arrival times say where they sit among others.

    The offset is the smallest (arrival - media time) seen, so the placement follows the packets
    that crossed the network fastest, and later ones are simply late (the jitter delay absorbs it).
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.offset: float | None = None

    def place(self, pts: int, arrival_s: float) -> float:
        media = pts / self.rate
        lateness = arrival_s - media
        if self.offset is None or lateness < self.offset or lateness - self.offset > RESYNC_S:
            self.offset = lateness
        return media + self.offset
