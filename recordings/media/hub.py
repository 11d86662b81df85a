"""This process's webinar media: one MediaSession per webinar, every media action authorized, room events obeyed.

Authorization is checked twice over. On every action (publish, view, watch) the member's
standing is read from the store: publishing needs a host, panelist or speaker role, a live
webinar and no removal; viewing needs registration (or a role) in a live webinar and no
removal; a publisher's mute flag is read when they publish. And the hub follows the
webinar's room (the durable events every process sees) to act on changes made while
media flows: `speaker` with speaker false stops that member's publication, `mute` stops or
resumes forwarding their audio, `removal` closes all their peers, `webinar` with state
ended closes the session. A publication is checked once more after its negotiation, so a
demotion that lands in between is not missed.

Media of a webinar lives on the process whose sockets signal it; in a deployment of
several processes, route a webinar's media signalling to one process (docs/webinars.md).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Protocol

from aiortc import RTCConfiguration

from recordings.media.forwarding import check_aiortc
from recordings.media.ice import restrict_host_addresses, rtc_configuration
from recordings.media.session import MediaSession, Push, StopReason
from rooms.errors import Forbidden, NotFound
from rooms.models import Member
from rooms.webinars.models import Webinar, WebinarState
from rooms.webinars.service import WebinarServices
from rooms.webinars.store.sessions import Standing

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 2.0


class EventSource(Protocol):
    """The durable events of a room, as the web layer's hub delivers them (realtime/media_frames.py)."""

    async def follow(self, room_id: int, on_event: Callable[[dict], None]) -> Callable[[], Awaitable[None]]:
        """Calls on_event with each new event frame; answers a function that stops following."""


@dataclass(frozen=True)
class MediaConfig:
    ice_servers: tuple[dict[str, Any], ...] = ()
    host_addresses: tuple[str, ...] = ()


class MediaHub:
    def __init__(self, webinars: WebinarServices, config: MediaConfig, events: EventSource,
                 alive: Callable[[str], bool]) -> None:
        self.webinars = webinars
        self.config = config
        self.events = events
        self.alive = alive            # is this socket connection still open?
        self.sessions: dict[int, MediaSession] = {}
        # Called with every new session (the live packager adds its tap here).
        self.on_session: list[Callable[[MediaSession], None]] = []
        self._unfollow: dict[int, Callable[[], Awaitable[None]]] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None

    def configuration(self) -> RTCConfiguration:
        return rtc_configuration(self.config.ice_servers)

    async def start(self) -> None:
        check_aiortc()
        logging.getLogger("aioice").setLevel(logging.WARNING)   # it logs every candidate pair at INFO
        restrict_host_addresses(self.config.host_addresses)
        self._sweeper = asyncio.create_task(self._sweep(), name="media-sweep")

    async def stop(self) -> None:
        log.info("media: stopping %d session(s)", len(self.sessions))
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for webinar_id in list(self.sessions):
            await self.close_session(webinar_id, StopReason.ENDED)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        log.info("media: stopped")

    # Media actions, each authorized here.

    async def publish(self, member: Member, conn_id: str, webinar_id: int, sdp: str, kinds: Iterable[str],
                      push: Push) -> str:
        webinar, standing = await self._may_publish(member, webinar_id)
        session = await self._session(webinar)
        publication, answer = await session.publish(member.brief(), conn_id, sdp, kinds, standing.muted, push)
        try:
            await self._may_publish(member, webinar_id)   # demoted or ended while negotiating?
        except (Forbidden, NotFound):
            await session.end_publication(publication, StopReason.DEMOTED)
            raise
        return answer

    async def view(self, member: Member, conn_id: str, webinar_id: int, publisher_id: int, sdp: str,
                   audio_only: bool) -> str:
        webinar = await self._may_view(member, webinar_id)
        session = await self._session(webinar)
        return await session.view(member.id, conn_id, publisher_id, sdp, audio_only)

    async def watch(self, member: Member, conn_id: str, webinar_id: int, push: Push) -> dict:
        """Answers the publishers now (and the ICE servers a browser needs); pushes changes until the socket closes."""
        webinar = await self._may_view(member, webinar_id)
        listed = (await self._session(webinar)).watch(member.id, conn_id, push)
        return {**listed, "ice_servers": list(self.config.ice_servers)}

    async def stop_media(self, member: Member, conn_id: str, webinar_id: int, publisher_id: int | None) -> None:
        """media.stop: the caller's own publication (no publisher) or their viewing of one publisher."""
        session = self.sessions.get(webinar_id)
        if session is None:
            return
        if publisher_id is None:
            publication = session.publications.get(member.id)
            if publication is not None and publication.conn_id == conn_id:
                await session.end_publication(publication, StopReason.REQUESTED)
        else:
            await session.stop_viewing(conn_id, publisher_id)

    # Who may.

    async def _may_publish(self, member: Member, webinar_id: int) -> tuple[Webinar, Standing]:
        webinar = await self.webinars.sessions.visible(member, webinar_id)
        standing = await self.webinars.stores.sessions.standing(webinar_id, member.id)
        if standing.removed:
            raise Forbidden("you were removed from this webinar")
        if standing.role is None:
            raise Forbidden("only hosts, panelists and promoted speakers publish")
        if webinar.state is not WebinarState.LIVE:
            raise Forbidden("this webinar is not live")
        return webinar, standing

    async def _may_view(self, member: Member, webinar_id: int) -> Webinar:
        webinar = await self.webinars.sessions.visible(member, webinar_id)
        standing = await self.webinars.stores.sessions.standing(webinar_id, member.id)
        if standing.removed:
            raise Forbidden("you were removed from this webinar")
        if not standing.registered and standing.role is None:
            raise Forbidden("register for this webinar first")
        if webinar.state is not WebinarState.LIVE:
            raise Forbidden("this webinar is not live")
        return webinar

    # Sessions.

    async def _session(self, webinar: Webinar) -> MediaSession:
        session = self.sessions.get(webinar.id)
        if session is not None:
            return session
        async with self._locks.setdefault(webinar.id, asyncio.Lock()):
            session = self.sessions.get(webinar.id)
            if session is None:
                session = MediaSession(webinar.id, self.configuration)
                self._unfollow[webinar.id] = await self.events.follow(
                    webinar.room_id, lambda frame: self._on_event(session, frame))
                self.sessions[webinar.id] = session
                for listener in self.on_session:
                    try:
                        listener(session)
                    except Exception:
                        log.exception("webinar %s: a media session listener failed", webinar.id)
                log.info("webinar %s: media session opened", webinar.id)
        return session

    async def close_session(self, webinar_id: int, reason: StopReason) -> None:
        session = self.sessions.pop(webinar_id, None)
        self._locks.pop(webinar_id, None)
        unfollow = self._unfollow.pop(webinar_id, None)
        if unfollow is not None:
            await unfollow()
        if session is not None:
            await session.close(reason)
            log.info("webinar %s: media session closed (%s)", webinar_id, reason.value)

    def _on_event(self, session: MediaSession, frame: dict) -> None:
        kind = frame.get("type")
        member = frame.get("member")
        member_id = member.get("id") if isinstance(member, dict) else None
        if kind == "speaker" and frame.get("speaker") is False and isinstance(member_id, int):
            self._spawn(session.stop_publishing(member_id, StopReason.DEMOTED))
        elif kind == "mute" and isinstance(member_id, int):
            session.set_muted(member_id, bool(frame.get("muted")))
        elif kind == "removal" and isinstance(member_id, int):
            self._spawn(session.drop_member(member_id, StopReason.REMOVED))
        elif kind == "webinar" and frame.get("state") == WebinarState.ENDED.value:
            self._spawn(self.close_session(session.webinar_id, StopReason.ENDED))

    async def _sweep(self) -> None:
        """Peers negotiated over a socket that has closed end too: nobody can renegotiate them."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            for session in list(self.sessions.values()):
                for conn_id in session.connections():
                    if not self.alive(conn_id):
                        log.info("webinar %s: socket %s closed; its peers end", session.webinar_id, conn_id)
                        try:
                            await session.drop_connection(conn_id)
                        except Exception:
                            log.exception("webinar %s: dropping connection %s failed", session.webinar_id, conn_id)

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
