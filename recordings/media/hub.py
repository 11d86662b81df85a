"""This process's webinar media: one MediaSession per webinar, every media action authorized, room events obeyed.

Authorization is checked twice over. On every action (publish, view, watch) the member's
standing is read from the store: publishing needs a host, panelist or speaker role (before the
start too: the green room) or, while live, a seat in an open breakout group, and no removal;
watching needs registration (or a role) and a webinar that has not ended — an attendee watching
before the start sees the lobby, an empty list; viewing needs the same, and a live webinar unless
the viewer is on stage; a publisher's mute flag is read when they publish. And the hub follows the
webinar's room (the durable events every process sees) to act on changes made while media flows:
`speaker` with speaker false stops that member's publication, `host` with host false stops it
unless they may still publish, `mute` stops or resumes forwarding their audio, `removal` closes all
their peers, `webinar` with state live opens the green room to everyone (and starts the taps: the
stream and the recording begin), with state ended closes the session, and `breakout` re-reads the
breakout groups from the store (each group's media stays within it; when they end, attendees who
published in a group stop). A publication is checked once more after its negotiation, so a
demotion that lands in between is not missed.

One process owns a webinar's media at a time (recordings/media/ownership.py); sockets on other
processes reach this hub through the relay (recordings/media/router.py), which names the member
and the socket, and every check here runs for them exactly as for a socket of this process.

Capacity: each WebRTC video viewer costs this process about 0.63 % of a core (docs/performance.md,
"WebRTC ceiling of one process"), so it seats at most `max_viewers` watching sockets; beyond that
an attendee's media.watch is answered with media.stream (watch the HTTP stream instead). Hosts,
panelists and promoted speakers are always seated.
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
from rooms import metrics
from rooms.errors import Conflict, Forbidden, NotFound
from rooms.models import Member
from rooms.webinars.models import Webinar, WebinarState
from rooms.webinars.service import WebinarServices
from rooms.webinars.store.sessions import Standing

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 2.0
Alive = Callable[[set[str]], Awaitable[set[str]]]   # which of these sockets (here or on other processes) are open


class MediaFull(Conflict):
    """This process seats no more WebRTC viewers: the attendee watches the HTTP stream."""

    code = "media_full"


class EventSource(Protocol):
    """The durable events of a room, as the web layer's hub delivers them (realtime/media_frames.py)."""

    async def follow(self, room_id: int, on_event: Callable[[dict], None]) -> Callable[[], Awaitable[None]]:
        """Calls on_event with each new event frame; answers a function that stops following."""


@dataclass(frozen=True)
class MediaConfig:
    # MEDIA_MAX_VIEWERS. No default here: its one default is Settings.media_max_viewers (realtime/settings.py,
    # the arithmetic in docs/media.md), so a second figure here cannot go stale.
    max_viewers: int
    ice_servers: tuple[dict[str, Any], ...] = ()
    host_addresses: tuple[str, ...] = ()


class MediaHub:
    def __init__(self, webinars: WebinarServices, config: MediaConfig, events: EventSource, alive: Alive) -> None:
        self.webinars = webinars
        self.config = config
        self.events = events
        self.alive = alive
        self.sessions: dict[int, MediaSession] = {}
        self.seats: dict[str, tuple[int, int]] = {}   # socket → (webinar, member): the WebRTC viewers served here
        # Called with every session once it is live — at once for one opened live, at the start for one opened in
        # the green room (the live packager adds its tap here: the green room is neither streamed nor recorded).
        self.on_session: list[Callable[[MediaSession], None]] = []
        self._group_locks: dict[int, asyncio.Lock] = {}
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
        """Server shutdown: every session closes telling its sockets the media moved (another process
        takes it over when they watch again), not that the webinar ended."""
        log.info("media: stopping %d session(s)", len(self.sessions))
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for webinar_id in list(self.sessions):
            await self.close_session(webinar_id, StopReason.MOVED)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        log.info("media: stopped")

    # Media actions, each authorized here.

    async def publish(self, member: Member, conn_id: str, webinar_id: int, sdp: str, kinds: Iterable[str],
                      push: Push) -> str:
        webinar, standing = await self._may_publish(member, webinar_id)
        session = await self._session(webinar)
        await self._sync_groups(session)
        publication, answer = await session.publish(member.brief(), conn_id, sdp, kinds, standing.muted, push)
        try:
            await self._may_publish(member, webinar_id)   # demoted or ended while negotiating?
        except (Forbidden, NotFound):
            await session.end_publication(publication, StopReason.DEMOTED)
            raise
        finally:
            self._count()
        return answer

    async def view(self, member: Member, conn_id: str, webinar_id: int, publisher_id: int, sdp: str,
                   audio_only: bool) -> str:
        webinar, standing = await self._may_view(member, webinar_id)
        if webinar.state is not WebinarState.LIVE and standing.role is None:
            raise Forbidden("this webinar is not live")   # the green room is the stage's only
        if not self._seat(conn_id, webinar.id, member.id, on_stage=standing.role is not None):
            metrics.media_viewers_sent_to_stream.inc()
            raise MediaFull("live video is full on this webinar: watch the stream instead")
        session = await self._session(webinar)
        await self._sync_groups(session)
        try:
            return await session.view(member.id, conn_id, publisher_id, sdp, audio_only)
        finally:
            self._count()

    async def watch(self, member: Member, conn_id: str, webinar_id: int, push: Push) -> dict:
        """Answers the publishers now (and the ICE servers a browser needs) and pushes changes until the socket
        closes — or, when this process seats no more viewers, answers media.stream: watch the HTTP stream."""
        webinar, standing = await self._may_view(member, webinar_id)
        if not self._seat(conn_id, webinar.id, member.id, on_stage=standing.role is not None):
            metrics.media_viewers_sent_to_stream.inc()
            log.info("webinar %s: viewer budget (%d) used up; member %s gets the HTTP stream", webinar.id,
                     self.config.max_viewers, member.id)
            return {"type": "media.stream", "webinar": webinar.id, "reason": "capacity"}
        session = await self._session(webinar)
        await self._sync_groups(session)
        listed = session.watch(member.id, conn_id, push, backstage=standing.role is not None)
        self._count()
        return {**listed, "ice_servers": list(self.config.ice_servers)}

    def _seat(self, conn_id: str, webinar_id: int, member_id: int, *, on_stage: bool) -> bool:
        """Seats a socket as a WebRTC viewer; the stage always has a seat, the audience while the budget lasts."""
        if self.seats.get(conn_id) == (webinar_id, member_id):
            return True
        if not on_stage and len(self.seats) >= self.config.max_viewers:
            return False
        self.seats[conn_id] = (webinar_id, member_id)
        return True

    def _unseat(self, conn_ids: Iterable[str]) -> None:
        for conn_id in conn_ids:
            self.seats.pop(conn_id, None)
        self._count()

    def _count(self) -> None:
        metrics.media_sessions_owned.set(len(self.sessions))
        metrics.green_room_sessions.set(sum(1 for s in self.sessions.values() if not s.live))
        metrics.media_webrtc_viewers.set(len(self.seats))
        metrics.media_webrtc_publishers.set(sum(len(s.publications) for s in self.sessions.values()))

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
        """The stage publishes in the green room and once live; a member of an open breakout group, in it."""
        webinar = await self.webinars.sessions.visible(member, webinar_id)
        standing = await self.webinars.stores.sessions.standing(webinar_id, member.id)
        if standing.removed:
            raise Forbidden("you were removed from this webinar")
        if webinar.state is WebinarState.ENDED:
            raise Forbidden("this webinar is not live: it has ended")
        if standing.role is not None:
            return webinar, standing
        if webinar.state is WebinarState.LIVE and standing.registered and \
                member.id in await self.webinars.stores.breakouts.open_groups(webinar_id):
            return webinar, standing
        raise Forbidden("only hosts, panelists and promoted speakers publish (and members of breakout groups)")

    async def _may_view(self, member: Member, webinar_id: int) -> tuple[Webinar, Standing]:
        """Registrants and the stage, until the end; before the start an attendee watches the lobby (nobody)."""
        webinar = await self.webinars.sessions.visible(member, webinar_id)
        standing = await self.webinars.stores.sessions.standing(webinar_id, member.id)
        if standing.removed:
            raise Forbidden("you were removed from this webinar")
        if not standing.registered and standing.role is None:
            raise Forbidden("register for this webinar first")
        if webinar.state is WebinarState.ENDED:
            raise Forbidden("this webinar is not live: it has ended")
        return webinar, standing

    # Sessions.

    async def _session(self, webinar: Webinar) -> MediaSession:
        session = self.sessions.get(webinar.id)
        if session is not None:
            return session
        async with self._locks.setdefault(webinar.id, asyncio.Lock()):
            session = self.sessions.get(webinar.id)
            if session is None:
                session = MediaSession(webinar.id, self.configuration, live=False)
                self._unfollow[webinar.id] = await self.events.follow(
                    webinar.room_id, lambda frame: self._on_event(session, frame))
                self.sessions[webinar.id] = session
                # Read after following: a start that landed in between is not missed.
                current = await self.webinars.stores.sessions.get(webinar.id)
                log.info("webinar %s: media session opened", webinar.id)
                if current is not None and current.state is not WebinarState.SCHEDULED:
                    self._go_live(session)
                else:
                    log.info("webinar %s: the green room is open", webinar.id)
                self._count()
        return session

    def _go_live(self, session: MediaSession) -> None:
        """The taps first (the stream and the recording start now), then everyone sees the stage."""
        if session.live or session.closed:
            return
        for listener in self.on_session:
            try:
                listener(session)
            except Exception:
                log.exception("webinar %s: a media session listener failed", session.webinar_id)
        session.go_live()
        self._count()

    async def _sync_groups(self, session: MediaSession) -> None:
        """Makes the session's breakout groups the store's: attendees who published in a group that ended stop
        first (before anyone could view them on the main stage), then the groups change."""
        async with self._group_locks.setdefault(session.webinar_id, asyncio.Lock()):
            groups = await self.webinars.stores.breakouts.open_groups(session.webinar_id)
            if groups == session.groups:
                return
            leaving = [m for m in session.groups if m not in groups and m in session.publications]
            if leaving:
                roles = await self.webinars.stores.sessions.roles(session.webinar_id)
                for member_id in leaving:
                    if member_id not in roles:
                        await session.stop_publishing(member_id, StopReason.BREAKOUT_ENDED)
            await session.set_groups(groups)
            log.info("webinar %s: %d member(s) in breakout groups", session.webinar_id, len(groups))
        self._count()

    async def _recheck_publisher(self, session: MediaSession, member_id: int) -> None:
        """A host who is a host no more stops publishing, unless they are in a breakout group."""
        standing = await self.webinars.stores.sessions.standing(session.webinar_id, member_id)
        if standing.role is None and member_id not in session.groups:
            await session.stop_publishing(member_id, StopReason.DEMOTED)

    async def close_session(self, webinar_id: int, reason: StopReason) -> None:
        session = self.sessions.pop(webinar_id, None)
        self._locks.pop(webinar_id, None)
        self._group_locks.pop(webinar_id, None)
        unfollow = self._unfollow.pop(webinar_id, None)
        if unfollow is not None:
            await unfollow()
        if session is not None:
            await session.close(reason)
            log.info("webinar %s: media session closed (%s)", webinar_id, reason.value)
        self._unseat([c for c, (w, _) in self.seats.items() if w == webinar_id])

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
            self._unseat([c for c, seat in self.seats.items() if seat == (session.webinar_id, member_id)])
        elif kind == "webinar" and frame.get("state") == WebinarState.LIVE.value:
            self._go_live(session)
        elif kind == "webinar" and frame.get("state") == WebinarState.ENDED.value:
            self._spawn(self.close_session(session.webinar_id, StopReason.ENDED))
        elif kind == "breakout":
            self._spawn(self._sync_groups(session))
        elif kind == "host" and frame.get("host") is False and isinstance(member_id, int):
            self._spawn(self._recheck_publisher(session, member_id))

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                await self.sweep_once()
            except Exception:
                log.exception("media: sweeping closed sockets failed")

    async def sweep_once(self) -> None:
        """Peers negotiated over a socket that has closed end too: nobody can renegotiate them."""
        known = set(self.seats).union(*(s.connections() for s in self.sessions.values()))
        open_now = await self.alive(known) if known else set()
        self._unseat(known - open_now)
        for session in list(self.sessions.values()):
            for conn_id in session.connections() - open_now:
                log.info("webinar %s: socket %s closed; its peers end", session.webinar_id, conn_id)
                try:
                    await session.drop_connection(conn_id)
                except Exception:
                    log.exception("webinar %s: dropping connection %s failed", session.webinar_id, conn_id)
        self._count()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
