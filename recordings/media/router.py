"""Where a socket's media signalling goes: this process's MediaHub when it owns the webinar's media, else the owner, over the relay.

Why relay rather than tell the client which process to use: a client cannot choose its process
behind an ordinary load balancer (it would need an address per process, i.e. sticky or
addressable routing), while any process can reach any other over the broker. So a socket on
any process signals as usual, its requests run on the owner (which authorizes them for the
member and socket they name, as it would its own), and only the ICE/DTLS transport goes to the
owner's own address (MEDIA_HOST_ADDRESSES or a TURN server: docs/media.md).

When the owner dies its lease lapses: this process notices (it checks the leases of the
webinars its sockets follow every third of a lease), tells those sockets `media.moved`, and
their next media.watch / media.publish takes the lease here or reaches whoever took it.
A request in flight to a dead owner stops waiting as soon as its lease lapses and goes to
the new owner instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Awaitable, Callable, Iterable

from recordings.media.hub import MediaHub
from recordings.media.leases import Lease
from recordings.media.ownership import Ownership
from recordings.media.relay import MediaRelay, MediaUnavailable, OwnerGone, RelayError
from recordings.media.session import Push
from rooms.errors import BadRequest, ConveneError, Forbidden
from rooms.models import Member

log = logging.getLogger(__name__)

ROUTE_ATTEMPTS = 3           # owners tried for one request (the first may die while we ask)
ALIVE_TIMEOUT_S = 2.0        # the owner asking another process which of its sockets are still open
ALIVE_MISSES = 3             # unanswered asks before that process's sockets count as closed
MembersById = Callable[[int], Awaitable[Member | None]]


class NotOwner(ConveneError):
    """Answered by a process asked about media it no longer owns: the asker routes again."""

    code = "media_moved"
    http_status = 503
    retryable = True


class MediaRouter:
    def __init__(self, hub: MediaHub, ownership: Ownership, relay: MediaRelay, members: MembersById,
                 is_open: Callable[[str], bool], deliver: Callable[[str, dict], None]) -> None:
        self.hub = hub
        self.ownership = ownership
        self.relay = relay
        self.members = members
        self.is_open = is_open            # is this socket open on this process?
        self.deliver = deliver            # hands a frame to a socket of this process
        # Sockets here whose media another process owns: (socket, webinar) → the lease we sent to.
        self.following: dict[tuple[str, int], Lease] = {}
        # Sockets elsewhere whose media this process owns: socket → (their process, member).
        self.remote: dict[str, tuple[str, int]] = {}
        self._misses: dict[str, int] = defaultdict(int)
        self._monitor: asyncio.Task | None = None
        self._stopping = False
        hub.alive = self.alive
        relay.on_push = self._pushed
        relay.handlers.update(watch=self._run_watch, publish=self._run_publish, view=self._run_view,
                              stop=self._run_stop, alive=self._run_alive)

    async def start(self) -> None:
        await self.relay.start()
        await self.ownership.start()
        self._monitor = asyncio.create_task(self._follow_owners(), name="media-owners")

    async def stop(self) -> None:
        """Shutdown: this process's sessions close telling everyone the media moved, its leases are given up
        (so another process takes them at once), and the last pushes leave before the relay stops. Meanwhile
        nothing opens a session here again: requests are sent on to the next owner."""
        self._stopping = True
        if self._monitor is not None:
            self._monitor.cancel()
            await asyncio.gather(self._monitor, return_exceptions=True)
        await self.hub.stop()
        await self.ownership.stop()
        await self.relay.stop()

    # The socket frames (realtime/frames/media.py) call these, on whichever process the socket is.

    async def watch(self, member: Member, conn_id: str, webinar_id: int, push: Push) -> dict:
        return await self._route(member, conn_id, webinar_id, "watch", {},
                                 lambda: self.hub.watch(member, conn_id, webinar_id, push))

    async def publish(self, member: Member, conn_id: str, webinar_id: int, sdp: str, kinds: Iterable[str],
                      push: Push) -> str:
        kinds = list(kinds)

        async def here() -> dict:
            return {"sdp": await self.hub.publish(member, conn_id, webinar_id, sdp, kinds, push)}

        return (await self._route(member, conn_id, webinar_id, "publish", {"sdp": sdp, "kinds": kinds}, here))["sdp"]

    async def view(self, member: Member, conn_id: str, webinar_id: int, publisher_id: int, sdp: str,
                   audio_only: bool) -> str:
        async def here() -> dict:
            return {"sdp": await self.hub.view(member, conn_id, webinar_id, publisher_id, sdp, audio_only)}

        body = {"publisher": publisher_id, "sdp": sdp, "audio_only": audio_only}
        return (await self._route(member, conn_id, webinar_id, "view", body, here))["sdp"]

    async def stop_media(self, member: Member, conn_id: str, webinar_id: int, publisher_id: int | None) -> None:
        async def here() -> dict:
            await self.hub.stop_media(member, conn_id, webinar_id, publisher_id)
            return {}

        # Stopping never takes the media: with no owner there is nothing to stop (answered here all the same).
        await self._route(member, conn_id, webinar_id, "stop", {"publisher": publisher_id}, here, take=False)

    async def _route(self, member: Member, conn_id: str, webinar_id: int, op: str, body: dict,
                     here: Callable[[], Awaitable[dict]], *, take: bool = True) -> dict:
        for _ in range(ROUTE_ATTEMPTS):
            # A stopping process takes no media and opens no session: only another owner will do.
            taking = take and not self._stopping
            lease = await (self.ownership.owner_of(webinar_id) if taking else self.ownership.current_owner(webinar_id))
            if take and self._stopping and (lease is None or lease.owner == self.ownership.me):
                break
            if lease is None or lease.owner == self.ownership.me:
                self.following.pop((conn_id, webinar_id), None)
                return await here()
            request = {**body, "webinar": webinar_id, "member": member.id, "conn": conn_id}
            try:
                result = await self.relay.request(lease.owner, op, request,
                                                  still_owner=lambda lease=lease: self._still_owner(lease),
                                                  check_every_s=self.ownership.renew_every_s)
            except OwnerGone:
                continue
            except RelayError as error:
                if error.code == NotOwner.code:
                    continue
                raise
            self.following[(conn_id, webinar_id)] = lease
            return result
        raise MediaUnavailable("this webinar's media is moving to another server; retry", retry_after=1.0)

    async def _still_owner(self, lease: Lease) -> bool:
        current = await self.ownership.leases.holder(lease.webinar_id)
        return current is not None and (current.owner, current.epoch) == (lease.owner, lease.epoch) \
            and not current.lapsed()

    # Pushes from owners to this process's sockets.

    def _pushed(self, conn_id: str, frame: dict) -> None:
        if frame.get("type") == "media.moved":
            self.following.pop((conn_id, frame.get("webinar")), None)   # told once, by the owner itself
        self.deliver(conn_id, frame)

    async def _follow_owners(self) -> None:
        while True:
            await asyncio.sleep(self.ownership.renew_every_s)
            try:
                await self.check_owners()
            except asyncio.CancelledError:
                raise
            except Exception as error:   # the store is away: look again next time
                log.warning("media: checking owners failed: %s", error)

    async def check_owners(self) -> None:
        """Sockets here whose webinar's owner stopped (its lease lapsed or changed hands) are told media.moved."""
        for key in [k for k in self.following if not self.is_open(k[0])]:
            del self.following[key]
        holders = await self.ownership.leases.holders(sorted({w for _, w in self.following}))
        for (conn_id, webinar_id), lease in list(self.following.items()):
            current = holders.get(webinar_id)
            if current is not None and (current.owner, current.epoch) == (lease.owner, lease.epoch) \
                    and not current.lapsed():
                continue
            del self.following[(conn_id, webinar_id)]
            log.info("webinar %s: its media left process %s; socket %s is told to watch again", webinar_id,
                     lease.owner, conn_id)
            self.deliver(conn_id, {"type": "media.moved", "webinar": webinar_id})

    # Requests other processes relay to this one (as the owner), authorized here like a local socket's.

    async def _caller(self, sender: str, body: dict) -> tuple[Member, str, int]:
        try:
            webinar_id, member_id, conn_id = int(body["webinar"]), int(body["member"]), str(body["conn"])
        except (KeyError, TypeError, ValueError):
            raise BadRequest("a relayed media request names a webinar, a member and a socket") from None
        if self._stopping or not self.ownership.holds(webinar_id):
            raise NotOwner("this server no longer holds the webinar's media")
        known = self.remote.get(conn_id)
        if self.is_open(conn_id) or (known is not None and known != (sender, member_id)):
            raise Forbidden("that socket belongs to someone else")
        member = await self.members(member_id)
        if member is None:
            raise Forbidden("no such member")
        self.remote[conn_id] = (sender, member_id)
        return member, conn_id, webinar_id

    def _push_to(self, sender: str, conn_id: str) -> Push:
        return lambda frame: self.relay.push(sender, conn_id, frame)

    async def _run_watch(self, sender: str, body: dict) -> dict:
        member, conn_id, webinar_id = await self._caller(sender, body)
        return await self.hub.watch(member, conn_id, webinar_id, self._push_to(sender, conn_id))

    async def _run_publish(self, sender: str, body: dict) -> dict:
        member, conn_id, webinar_id = await self._caller(sender, body)
        kinds = [k for k in body.get("kinds", []) if k in ("audio", "video", "screen")]   # as MediaPublish allows
        return {"sdp": await self.hub.publish(member, conn_id, webinar_id, str(body.get("sdp", "")), kinds,
                                              self._push_to(sender, conn_id))}

    async def _run_view(self, sender: str, body: dict) -> dict:
        member, conn_id, webinar_id = await self._caller(sender, body)
        try:
            publisher_id = int(body["publisher"])
        except (KeyError, TypeError, ValueError):
            raise BadRequest("which publisher?", field="publisher") from None
        return {"sdp": await self.hub.view(member, conn_id, webinar_id, publisher_id, str(body.get("sdp", "")),
                                           bool(body.get("audio_only")))}

    async def _run_stop(self, sender: str, body: dict) -> dict:
        member, conn_id, webinar_id = await self._caller(sender, body)
        publisher = body.get("publisher")
        await self.hub.stop_media(member, conn_id, webinar_id, int(publisher) if publisher is not None else None)
        return {}

    async def _run_alive(self, sender: str, body: dict) -> dict:
        conns = body.get("conns")
        return {"open": [c for c in conns if isinstance(c, str) and self.is_open(c)] if isinstance(conns, list) else []}

    # The hub's sweep asks which sockets are still open, here and on the processes that relayed them.

    async def alive(self, conns: set[str]) -> set[str]:
        open_now = {c for c in conns if self.is_open(c)}
        elsewhere: dict[str, list[str]] = defaultdict(list)
        for conn_id in conns - open_now:
            if conn_id in self.remote:
                elsewhere[self.remote[conn_id][0]].append(conn_id)
        answers = await asyncio.gather(*(self._ask_alive(process, asked) for process, asked in elsewhere.items()))
        for still in answers:
            open_now |= still
        for conn_id in [c for c in self.remote if c not in open_now]:
            del self.remote[conn_id]
        return open_now

    async def _ask_alive(self, process: str, conns: list[str]) -> set[str]:
        try:
            answer = await self.relay.request(process, "alive", {"conns": conns}, timeout_s=ALIVE_TIMEOUT_S)
        except (MediaUnavailable, RelayError) as error:
            self._misses[process] += 1
            if self._misses[process] < ALIVE_MISSES:
                return set(conns)   # not answering once is not dying
            log.warning("media: process %s did not answer %d times (%s); its sockets' peers end", process,
                        self._misses[process], error)
            return set()
        self._misses.pop(process, None)
        return set(answer.get("open", [])) & set(conns)
