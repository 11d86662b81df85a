"""Samples, on this process, how many people have each live webinar open, for the hosts' summary.

A person has the webinar open when one of their sockets here follows its room (the live page does,
through chat.js). Every process samples at the same instants — multiples of WEBINAR_VIEWERS_SAMPLE_S
on the wall clock (processes keep their clocks in sync with NTP, as the media leases need) — so
the summary adds up the processes' samples of one instant (rooms/webinars/summary.py). A process
with nobody following a webinar writes nothing for it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import datetime, timezone

from realtime.hub import Hub
from rooms.webinars.store.summary import SummaryStore

log = logging.getLogger(__name__)


class ViewerSampler:
    def __init__(self, hub: Hub, store: SummaryStore, process: str, interval_s: float) -> None:
        self.hub = hub
        self.store = store
        self.process = process
        self.interval_s = interval_s

    async def run_forever(self) -> None:
        while True:
            step = math.floor(time.time() / self.interval_s) + 1
            await asyncio.sleep(max(0.0, step * self.interval_s - time.time()))
            try:
                await self.sample_once(datetime.fromtimestamp(step * self.interval_s, timezone.utc))
            except asyncio.CancelledError:
                raise
            except Exception as error:   # the store is away: this instant is missed, the next one counts
                log.warning("sampling webinar viewers failed: %s", error)

    async def sample_once(self, at: datetime) -> None:
        if not self.hub.feeds:
            return
        samples = []
        for webinar_id, room_id in await self.store.live_rooms():
            feed = self.hub.feeds.get(room_id)
            if feed is None:
                continue
            # Member ids above 0: the media hub's own reader of the room (id 0) is nobody.
            viewers = len({sub.conn.member.id for sub in feed.subscriptions.values() if sub.conn.member.id > 0})
            if viewers:
                samples.append((webinar_id, viewers))
        await self.store.record_viewers(samples, at, self.process)
