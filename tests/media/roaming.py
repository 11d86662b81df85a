"""Media peers that behave as static/media.js does when a server dies or a webinar's media moves (run in the namespace).

A RoamingPeer keeps one socket to any of several servers (as behind a load balancer: when one
goes, it reconnects to the next, with back-off), watches the webinar, views every publisher and,
if it publishes, publishes. On `media.moved` or after reconnecting it does all of that again;
refusals that say "retry" (the media moving) are retried with back-off. What it receives is
counted (decoded frames, with their times) across all its peer connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from tests.media.peers import Received, _consume, peer
from tests.support.client import Api, ChatClient

log = logging.getLogger("roaming")

RETRYABLE = {"media_unavailable", "media_moved", "rate_limited", "internal", "timeout"}


class RoamingPeer:
    def __init__(self, name: str, api: Api, ws_urls: list[str], webinar_id: int, *,
                 tracks: Callable[[], list[MediaStreamTrack]] | None = None, views: bool = True) -> None:
        self.name = name
        self.api = api
        self.urls = ws_urls
        self.webinar_id = webinar_id
        self.tracks = tracks                    # publishes these (made afresh for every publication) when set
        self.views = views
        self.received = Received()
        self.published_at: list[float] = []     # when each publication was answered
        self.viewed_at: list[float] = []        # when each view (a peer per publisher) was answered
        self.moved_at: list[float] = []         # when media.moved arrived
        self.connected_to: list[str] = []
        self.client: ChatClient | None = None
        self._server = 0
        self._publisher_pc: RTCPeerConnection | None = None
        self._views: dict[int, tuple[int, RTCPeerConnection]] = {}   # publisher → (stream, peer)
        self._task: asyncio.Task | None = None

    def start(self, server: int = 0) -> None:
        self._server = server
        self._task = asyncio.create_task(self._run(), name=f"peer-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._close_peers()
        if self.client is not None:
            await self.client.close()

    async def _run(self) -> None:
        delay = 0.25
        while True:
            url = self.urls[self._server % len(self.urls)]
            try:
                self.client = await ChatClient.connect(url, self.api.token)
            except Exception as error:   # that server is down: the next one, after a pause
                log.info("%s: %s unreachable (%s)", self.name, url, error)
                self._server += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.25
            self.connected_to.append(url)
            try:
                await self._follow(self.client)
            except ConnectionError:
                pass
            await self._close_peers()
            self._server += 1   # a load balancer would send the reconnect anywhere; the next one will do

    async def _follow(self, client: ChatClient) -> None:
        seen = await self._join(client)
        while True:
            if client.closed.done():
                raise ConnectionError("socket closed")
            frames, seen = client.frames[seen:], len(client.frames)
            for frame in frames:
                if frame.get("webinar") != self.webinar_id or "ref" in frame:
                    continue
                if frame["type"] == "media.moved":
                    self.moved_at.append(time.monotonic())
                    await self._close_peers()
                    seen = await self._join(client)   # what came before the new watch is stale
                    break
                if frame["type"] == "media.publishers":
                    await self._sync(client, frame["publishers"])
            await asyncio.sleep(0.05)

    async def _join(self, client: ChatClient) -> int:
        """Watch again, publish again: what media.js does after media.moved or a reconnect. Answers where the
        frames that follow the new watch start."""
        mark = len(client.frames)
        listed = await self._ask(client, {"type": "media.watch", "webinar": self.webinar_id})
        if self.tracks is not None:
            await self._publish(client)
        if listed["type"] == "media.publishers":
            await self._sync(client, listed["publishers"])
        return mark

    async def _ask(self, client: ChatClient, frame: dict) -> dict:
        delay = 0.25
        while True:
            reply = await client.request(frame, timeout=30)
            if reply["type"] != "error" or reply.get("code") not in RETRYABLE:
                return reply
            log.info("%s: %s refused (%s); retrying", self.name, frame["type"], reply.get("code"))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _publish(self, client: ChatClient) -> None:
        assert self.tracks is not None
        if self._publisher_pc is not None:
            await self._publisher_pc.close()
        pc = self._publisher_pc = peer()
        tracks = self.tracks()
        for track in tracks:
            pc.addTransceiver(track, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self._ask(client, {"type": "media.publish", "webinar": self.webinar_id,
                                         "sdp": pc.localDescription.sdp, "kinds": sorted({t.kind for t in tracks})})
        assert reply["type"] == "media.answer", reply
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        self.published_at.append(time.monotonic())

    async def _sync(self, client: ChatClient, publishers: list[dict]) -> None:
        if not self.views:
            return
        wanted = {p["member"]["id"]: p for p in publishers if p["member"]["id"] != self.api.id}
        for publisher_id, (stream, pc) in list(self._views.items()):
            if publisher_id not in wanted or wanted[publisher_id]["stream"] != stream:
                del self._views[publisher_id]
                await pc.close()
        for publisher_id, publication in wanted.items():
            if publisher_id not in self._views:
                await self._view(client, publisher_id, publication["stream"])

    async def _view(self, client: ChatClient, publisher_id: int, stream: int) -> None:
        pc = peer()
        pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
        pc.on("track", lambda track: asyncio.ensure_future(_consume(track, self.received)))
        await pc.setLocalDescription(await pc.createOffer())
        reply = await self._ask(client, {"type": "media.view", "webinar": self.webinar_id, "publisher": publisher_id,
                                         "sdp": pc.localDescription.sdp})
        if reply["type"] != "media.answer":   # the publisher left meanwhile: the next media.publishers says so
            await pc.close()
            return
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        self._views[publisher_id] = (stream, pc)
        self.viewed_at.append(time.monotonic())

    async def _close_peers(self) -> None:
        views, self._views = list(self._views.values()), {}
        for _, pc in views:
            await pc.close()
        if self._publisher_pc is not None:
            await self._publisher_pc.close()
            self._publisher_pc = None

    def resumed_after(self, moment: float) -> float | None:
        """When video came again through a peer opened after `moment` (frames still in flight on an old peer
        do not count), or None."""
        opened = [t for t in self.viewed_at if t > moment]
        return next((t for t in self.received.video_times if opened and t > opened[0]), None)
