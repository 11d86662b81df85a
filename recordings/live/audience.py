"""How many people watch the HTTP stream through this process, estimated from their playlist requests.

HTTP viewers hold no connection, so they are counted by what they do: a standard player polls
its playlist about once per target duration, a low-latency one asks (blocking) once per part.
Requests over the last WINDOW_S, divided by what one viewer makes in that time, give the gauge
`convene_live_viewers{latency}`. Behind a CDN the origin sees only the CDN's requests.
"""

from __future__ import annotations

import time

from rooms import metrics

WINDOW_S = 30


class Audience:
    def __init__(self, segment_s: float, part_s: float) -> None:
        self.interval_s = {"standard": float(segment_s), "low": float(part_s)}
        self._seconds: dict[str, list[int]] = {kind: [0] * WINDOW_S for kind in self.interval_s}
        self._stamps: dict[str, list[int]] = {kind: [0] * WINDOW_S for kind in self.interval_s}
        for kind in self.interval_s:
            metrics.live_viewers.labels(kind).set_function(lambda kind=kind: self.viewers(kind))

    def saw(self, latency: str) -> None:
        """A playlist request from a player of this kind ("low" or "standard")."""
        now = int(time.monotonic())
        slot = now % WINDOW_S
        if self._stamps[latency][slot] != now:
            self._stamps[latency][slot], self._seconds[latency][slot] = now, 0
        self._seconds[latency][slot] += 1

    def viewers(self, latency: str) -> float:
        now = int(time.monotonic())
        requests = sum(count for count, stamp in zip(self._seconds[latency], self._stamps[latency])
                       if now - stamp < WINDOW_S)
        return round(requests * self.interval_s[latency] / WINDOW_S, 1)
