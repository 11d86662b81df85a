"""One webinar's media on this process: its publishers, its viewers, their peer connections, and its taps.

A publisher is one RTCPeerConnection from a host, panelist or speaker to the server; each
of its tracks feeds a Fanout. A viewer has one RTCPeerConnection per publisher it watches
(so a publisher joining or leaving never renegotiates anyone else's connection), whose
senders read packets from that publisher's fanouts: nothing is decoded or encoded.
Everything here dies with the session. Authorization is the MediaHub's job.

Where people are decides what they see. Before the start the session is a green room: only the
stage (the "backstage" watchers) sees its publishers, attendees' lists are empty, and nothing reaches
the taps (no stream, no recording) — going live opens the same publications to everyone. During
breakout groups each member's publications are forwarded only within their group: a viewer sees and
may view only the publishers of their own group (the main session is group None), and a group's
packets never reach the taps.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable, Iterable

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

from recordings.media.fanout import Fanout, PacketTrack
from recordings.media.forwarding import AiortcChanged, forward_packets, on_keyframe_request, request_keyframe
from recordings.media.taps import PacketTap
from rooms.errors import BadRequest, Forbidden, NotFound

log = logging.getLogger(__name__)

# Forwarding needs every viewer to take the publisher's codec, so both sides negotiate only these.
FORWARDED_CODECS = {"audio": ("audio/opus",), "video": ("video/vp8", "video/rtx")}
# A publication's tracks: its audio m-line is "audio"; its video m-lines are, in order, the camera
# ("video") and then the screen share ("screen"), as far as the publisher's `kinds` name them.
TRACKS = {"audio": ("audio",), "video": ("video", "screen")}


def track_labels(kinds: Iterable[str]) -> dict[str, list[str]]:
    """For each m-line kind, the track labels its m-lines take in order."""
    wanted = set(kinds)
    return {kind: [label for label in labels if label in wanted] for kind, labels in TRACKS.items()}
KEYFRAME_INTERVAL_S = 0.5     # at most one keyframe request to a publisher this often
MAX_VIEWS_PER_CONNECTION = 16

Push = Callable[[dict], None]


class StopReason(str, enum.Enum):
    REQUESTED = "requested"     # the member sent media.stop
    REPLACED = "replaced"       # the member published again (a reconnect)
    DEMOTED = "demoted"         # a moderator took the member off stage
    REMOVED = "removed"         # a moderator removed the member from the webinar
    ENDED = "ended"             # the webinar ended
    DISCONNECTED = "disconnected"   # the peer connection failed or its socket closed
    MOVED = "moved"             # this process stops serving the webinar's media (shutdown, lease lost): another will
    BREAKOUT_ENDED = "breakout_ended"   # an attendee published in a breakout group, and the groups ended


@dataclass(eq=False)
class Publication:
    member: dict                  # {"id", "username", "display_name"}
    conn_id: str
    stream: int                   # increases with every publication in the session: viewers re-view on change
    pc: RTCPeerConnection
    push: Push
    muted: bool
    fanouts: dict[str, Fanout] = field(default_factory=dict)
    receivers: dict[str, object] = field(default_factory=dict)
    last_keyframe_request: dict[str, float] = field(default_factory=dict)   # by video track label
    keyframe_pending: set[str] = field(default_factory=set)

    @property
    def member_id(self) -> int:
        return int(self.member["id"])

    def public(self) -> dict:
        return {"member": self.member, "kinds": sorted(self.fanouts), "stream": self.stream}


@dataclass(eq=False)
class Viewing:
    member_id: int
    conn_id: str
    publication: Publication
    pc: RTCPeerConnection
    tracks: list[tuple[Fanout, PacketTrack]] = field(default_factory=list)


class MediaSession:
    def __init__(self, webinar_id: int, configuration: Callable[[], RTCConfiguration], live: bool = True) -> None:
        self.webinar_id = webinar_id
        self.configuration = configuration
        self.live = live                                  # False: the green room, before the start
        self.groups: dict[int, int] = {}                  # member → breakout group, while groups are open
        self.publications: dict[int, Publication] = {}
        self.viewings: set[Viewing] = set()
        self.watchers: dict[str, tuple[int, Push]] = {}   # socket → (member, push)
        self.backstage: set[str] = set()                  # watching sockets of the stage: they see the green room
        self.taps: list[PacketTap] = []
        self.closed = False
        self._streams = itertools.count(1)
        self._tasks: set[asyncio.Task] = set()

    # Taps (the live packager registers one).

    def add_tap(self, tap: PacketTap) -> None:
        self.taps.append(tap)

    def remove_tap(self, tap: PacketTap) -> None:
        if tap in self.taps:
            self.taps.remove(tap)

    # Publishing.

    async def publish(self, member: dict, conn_id: str, sdp: str, kinds: Iterable[str], muted: bool,
                      push: Push) -> tuple[Publication, str]:
        """Answers a publisher's offer. A member publishing again replaces their previous publication."""
        pc = RTCPeerConnection(self.configuration())
        publication = Publication(member=member, conn_id=conn_id, stream=next(self._streams), pc=pc,
                                  push=push, muted=muted)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            labels = track_labels(kinds)
            for transceiver in pc.getTransceivers():
                free = labels.get(transceiver.kind)
                if free:
                    self._receive(publication, transceiver, free.pop(0))
                else:
                    transceiver.direction = "inactive"
            if not publication.fanouts:
                raise BadRequest("the offer has no audio or video to publish", field="sdp")
            await pc.setLocalDescription(await pc.createAnswer())
        except (BadRequest, AiortcChanged):
            await pc.close()
            raise
        except Exception as error:   # hostile or broken SDP: aiortc raises all sorts
            await pc.close()
            raise _refused(error) from None
        if self.closed:
            await pc.close()
            raise NotFound("the webinar's media session has closed")
        previous = self.publications.get(publication.member_id)
        self.publications[publication.member_id] = publication
        self._watch_state(pc, lambda: self._spawn(self._publisher_gone(publication)))
        if previous is not None:
            # Another tab or device of the member's is told; the same socket publishing again is not.
            await self._end_publication(previous, StopReason.REPLACED, notify=previous.conn_id != conn_id)
        self._announce()
        return publication, pc.localDescription.sdp

    def _receive(self, publication: Publication, transceiver: RTCRtpTransceiver, label: str) -> None:
        kind = transceiver.kind
        _prefer_forwarded_codecs(transceiver)
        transceiver.direction = "recvonly"
        fanout = publication.fanouts[label] = Fanout(kind)
        publication.receivers[label] = transceiver.receiver
        member_id = publication.member_id

        def on_packet(codec: str, packet: av.Packet) -> None:
            if kind == "audio" and publication.muted:
                return   # a muted member's audio goes nowhere: not to viewers, not to the taps
            fanout.push(packet)
            if member_id in self.groups:
                return   # a breakout group's conversation is neither streamed nor recorded
            for tap in self.taps:
                try:
                    tap.on_packet(member_id, label, codec, packet)
                except Exception:
                    log.exception("webinar %s: a media tap failed on a %s packet", self.webinar_id, kind)

        forward_packets(transceiver.receiver, kind, on_packet)

    def set_muted(self, member_id: int, muted: bool) -> None:
        publication = self.publications.get(member_id)
        if publication is not None:
            publication.muted = muted

    async def end_publication(self, publication: Publication, reason: StopReason) -> None:
        if self.publications.get(publication.member_id) is not publication:
            return   # already ended or replaced
        await self._end_publication(publication, reason, notify=True)
        self._announce()

    async def _publisher_gone(self, publication: Publication) -> None:
        if self.publications.get(publication.member_id) is publication:
            log.info("webinar %s: member %s's peer connection is %s", self.webinar_id, publication.member_id,
                     publication.pc.connectionState)
        await self.end_publication(publication, StopReason.DISCONNECTED)

    async def stop_publishing(self, member_id: int, reason: StopReason) -> bool:
        publication = self.publications.get(member_id)
        if publication is None:
            return False
        await self.end_publication(publication, reason)
        return True

    async def _end_publication(self, publication: Publication, reason: StopReason, *, notify: bool) -> None:
        # Everything up to the first await happens at once: no packet or viewer slips in between.
        if self.publications.get(publication.member_id) is publication:
            del self.publications[publication.member_id]
        for fanout in publication.fanouts.values():
            fanout.end()
        viewings = [v for v in self.viewings if v.publication is publication]
        self.viewings.difference_update(viewings)
        for tap in self.taps:
            try:
                tap.on_publisher_left(publication.member_id)
            except Exception:
                log.exception("webinar %s: a media tap failed on a publisher leaving", self.webinar_id)
        if notify and reason is not StopReason.DISCONNECTED:
            publication.push({"type": "media.stopped", "webinar": self.webinar_id,
                              "publisher": publication.member_id, "reason": reason.value})
        log.info("webinar %s: member %s stopped publishing (%s)", self.webinar_id, publication.member_id,
                 reason.value)
        await asyncio.gather(publication.pc.close(), *(self._close_viewing_peer(v) for v in viewings))

    # Keyframes: with no encoder on the server, only the publisher can make one.

    def request_keyframe(self, publication: Publication, label: str = "video") -> None:
        receiver = publication.receivers.get(label)
        if receiver is None or label in publication.keyframe_pending:
            return
        wait = publication.last_keyframe_request.get(label, 0.0) + KEYFRAME_INTERVAL_S - time.monotonic()
        if wait > 0:
            publication.keyframe_pending.add(label)   # one deferred request stands for all that arrive meanwhile

            def later() -> None:
                publication.keyframe_pending.discard(label)
                self.request_keyframe(publication, label)

            asyncio.get_running_loop().call_later(wait, later)
            return
        publication.last_keyframe_request[label] = time.monotonic()
        if self.publications.get(publication.member_id) is publication:
            self._spawn(request_keyframe(receiver))   # type: ignore[arg-type]

    def _request_keyframes(self, publication: Publication) -> None:
        for label in TRACKS["video"]:
            self.request_keyframe(publication, label)

    # Viewing.

    async def view(self, member_id: int, conn_id: str, publisher_id: int, sdp: str, audio_only: bool) -> str:
        """Answers a viewer's offer for one publisher's tracks (video left out when audio_only)."""
        publication = self._publication(publisher_id)
        self._same_group(member_id, publisher_id)
        if sum(1 for v in self.viewings if v.conn_id == conn_id and v.publication is not publication) \
                >= MAX_VIEWS_PER_CONNECTION:
            raise BadRequest(f"at most {MAX_VIEWS_PER_CONNECTION} publishers viewed per connection",
                             field="publisher")
        pc = RTCPeerConnection(self.configuration())
        viewing = Viewing(member_id=member_id, conn_id=conn_id, publication=publication, pc=pc)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            # The viewer's m-lines take the publication's tracks in the same order: audio; camera, then screen.
            labels = track_labels(publication.fanouts)
            for transceiver in pc.getTransceivers():
                free = labels.get(transceiver.kind)
                if not free or (audio_only and transceiver.kind == "video"):
                    transceiver.direction = "inactive"
                    continue
                self._send(viewing, transceiver, free.pop(0))
            await pc.setLocalDescription(await pc.createAnswer())
        except AiortcChanged:
            await self._close_viewing_peer(viewing)
            raise
        except Exception as error:
            await self._close_viewing_peer(viewing)
            raise _refused(error) from None
        if self.closed or self.publications.get(publisher_id) is not publication:
            await self._close_viewing_peer(viewing)   # the publisher left while we negotiated
            raise NotFound("that member is not publishing", field="publisher")
        try:
            self._same_group(member_id, publisher_id)   # breakout groups opened or closed meanwhile
        except Forbidden:
            await self._close_viewing_peer(viewing)
            raise
        # A re-offer for the same publisher on the same socket replaces the old viewing.
        replaced = [v for v in self.viewings if v.conn_id == conn_id and v.publication is publication]
        self.viewings.difference_update(replaced)
        self.viewings.add(viewing)
        self._watch_state(pc, lambda: self._spawn(self.end_viewing(viewing)),
                          on_connected=lambda: self._request_keyframes(publication))
        for old in replaced:
            await self._close_viewing_peer(old)
        return pc.localDescription.sdp

    def _same_group(self, member_id: int, publisher_id: int) -> None:
        if self.groups.get(member_id) != self.groups.get(publisher_id):
            raise Forbidden("that member is in another breakout group", field="publisher")

    def _publication(self, publisher_id: int) -> Publication:
        publication = self.publications.get(publisher_id)
        if publication is None:
            raise NotFound("that member is not publishing", field="publisher")
        return publication

    def _send(self, viewing: Viewing, transceiver: RTCRtpTransceiver, label: str) -> None:
        publication = viewing.publication
        fanout = publication.fanouts[label]
        _prefer_forwarded_codecs(transceiver)
        track = fanout.subscribe(on_gap=lambda: self.request_keyframe(publication, label))
        transceiver.sender.replaceTrack(track)
        transceiver.direction = "sendonly"
        on_keyframe_request(transceiver.sender, lambda: self.request_keyframe(publication, label))
        viewing.tracks.append((fanout, track))

    async def end_viewing(self, viewing: Viewing) -> None:
        self.viewings.discard(viewing)
        await self._close_viewing_peer(viewing)   # idempotent: a closed peer closes again at no cost

    async def stop_viewing(self, conn_id: str, publisher_id: int | None = None) -> int:
        """Ends a connection's viewing of one publisher, or of all of them; answers how many ended."""
        ending = [v for v in self.viewings if v.conn_id == conn_id and
                  (publisher_id is None or v.publication.member_id == publisher_id)]
        self.viewings.difference_update(ending)
        await asyncio.gather(*(self._close_viewing_peer(v) for v in ending))
        return len(ending)

    async def _close_viewing_peer(self, viewing: Viewing) -> None:
        for fanout, track in viewing.tracks:
            fanout.unsubscribe(track)
            track.offer(None)
        viewing.tracks.clear()
        await viewing.pc.close()

    # Who is told about publishers.

    def watch(self, member_id: int, conn_id: str, push: Push, backstage: bool = True) -> dict:
        """`backstage`: the socket is the stage's (host, panelist, speaker), which sees the green room."""
        self.watchers[conn_id] = (member_id, push)
        if backstage:
            self.backstage.add(conn_id)
        else:
            self.backstage.discard(conn_id)
        return self.publishers_frame(member_id, backstage)

    def unwatch(self, conn_id: str) -> None:
        self.watchers.pop(conn_id, None)
        self.backstage.discard(conn_id)

    def publishers_frame(self, member_id: int | None = None, backstage: bool = True) -> dict:
        """Who this member may view now, and where they are: `green_room` or `lobby` before the start,
        `stage` once live, `breakout` (with its `group`) while they are in a breakout group."""
        group = self.groups.get(member_id) if member_id is not None else None
        if not self.live:
            phase = "green_room" if backstage else "lobby"
        else:
            phase = "stage" if group is None else "breakout"
        shown = [] if phase == "lobby" else [p.public() for p in sorted(self.publications.values(),
                                                                      key=lambda p: p.stream)
                                             if self.groups.get(p.member_id) == group]
        frame = {"type": "media.publishers", "webinar": self.webinar_id, "publishers": shown, "phase": phase}
        if group is not None:
            frame["group"] = group
        return frame

    def _announce(self) -> None:
        for conn_id, (member_id, push) in list(self.watchers.items()):
            push(self.publishers_frame(member_id, conn_id in self.backstage))

    # The green room and breakout groups.

    def go_live(self) -> None:
        """The webinar started: the green room's publishers are the stage, for everyone (the taps were added
        just before, so they get a keyframe from every publisher)."""
        if self.live:
            return
        self.live = True
        for publication in list(self.publications.values()):
            self._request_keyframes(publication)
        self._announce()

    async def set_groups(self, groups: dict[int, int]) -> None:
        """Breakout groups opened (member → group) or closed (empty): viewings across groups end, the taps stop
        hearing members who went into a group (and hear again those who came back), everyone's list is sent again."""
        if groups == self.groups:
            return
        before, self.groups = self.groups, dict(groups)
        for publication in list(self.publications.values()):
            if before.get(publication.member_id) == groups.get(publication.member_id):
                continue
            if publication.member_id in groups:
                for tap in self.taps:
                    try:
                        tap.on_publisher_left(publication.member_id)
                    except Exception:
                        log.exception("webinar %s: a media tap failed on a publisher leaving", self.webinar_id)
            self._request_keyframes(publication)   # for their new viewers, and the taps when they come back
        crossing = [v for v in self.viewings if groups.get(v.member_id) != groups.get(v.publication.member_id)]
        self.viewings.difference_update(crossing)
        await asyncio.gather(*(self._close_viewing_peer(v) for v in crossing))
        self._announce()

    # Members and connections going away.

    async def drop_member(self, member_id: int, reason: StopReason) -> None:
        """A removed member: their publication, their viewing and their watching end."""
        await self.stop_publishing(member_id, reason)
        for conn_id in [c for c, (m, _) in self.watchers.items() if m == member_id]:
            self.unwatch(conn_id)
        ending = [v for v in self.viewings if v.member_id == member_id]
        self.viewings.difference_update(ending)
        await asyncio.gather(*(self._close_viewing_peer(v) for v in ending))

    async def drop_connection(self, conn_id: str) -> None:
        """A socket closed: the peers it negotiated cannot be renegotiated, so they end."""
        self.unwatch(conn_id)
        for publication in [p for p in self.publications.values() if p.conn_id == conn_id]:
            await self.end_publication(publication, StopReason.DISCONNECTED)
        await self.stop_viewing(conn_id)

    async def stop_viewing_all(self) -> None:
        ending = list(self.viewings)
        self.viewings.clear()
        await asyncio.gather(*(self._close_viewing_peer(v) for v in ending))

    def connections(self) -> set[str]:
        return {p.conn_id for p in self.publications.values()} | {v.conn_id for v in self.viewings} | \
            set(self.watchers)

    async def close(self, reason: StopReason = StopReason.ENDED) -> None:
        """Ends every peer. The webinar ended: publishers are told media.stopped and watchers see nobody on
        stage. The media moved: every socket of the session is told media.moved once, to watch and publish again."""
        if self.closed:
            return
        self.closed = True
        moved = reason is StopReason.MOVED
        told = {p.conn_id: p.push for p in self.publications.values()} | {c: push for c, (_, push) in self.watchers.items()}
        for publication in list(self.publications.values()):
            await self._end_publication(publication, reason, notify=not moved)
        await self.stop_viewing_all()
        if moved:
            for push in told.values():
                push({"type": "media.moved", "webinar": self.webinar_id})
        else:
            self._announce()
        self.watchers.clear()
        self.backstage.clear()
        for tap in self.taps:
            try:
                tap.close()
            except Exception:
                log.exception("webinar %s: a media tap failed to close", self.webinar_id)
        self.taps.clear()
        for task in list(self._tasks):
            task.cancel()

    # Plumbing.

    def _watch_state(self, pc: RTCPeerConnection, on_gone: Callable[[], None],
                     on_connected: Callable[[], None] | None = None) -> None:
        @pc.on("connectionstatechange")
        def changed() -> None:
            if pc.connectionState in ("failed", "closed"):
                on_gone()
            elif pc.connectionState == "connected" and on_connected is not None:
                on_connected()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _refused(error: Exception) -> BadRequest:
    log.info("media offer refused: %s", type(error).__name__)   # its text may quote the SDP (ICE credentials)
    return BadRequest(f"the offer was refused ({type(error).__name__})", field="sdp")


def _prefer_forwarded_codecs(transceiver: RTCRtpTransceiver) -> None:
    wanted = FORWARDED_CODECS[transceiver.kind]
    transceiver.setCodecPreferences([codec for codec in RTCRtpSender.getCapabilities(transceiver.kind).codecs
                                     if codec.mimeType.lower() in wanted])
