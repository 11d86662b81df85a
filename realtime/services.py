"""Builds and wires everything one process needs from its settings, and starts and stops it in order."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from argon2 import PasswordHasher

from realtime.auth import SessionCookies
from realtime.broker import Broker, BrokerState, open_broker
from realtime.hub import Hub
from realtime.limits import RateLimiter, open_limiter
from realtime.limits.policy import AbuseLimits
from realtime.room_events import RoomEvents
from realtime.presence import PresenceBackend, open_presence
from realtime.settings import Settings
from realtime.stored_gauges import StoredGauges
from realtime.suspensions import SuspensionEnforcer
from realtime.token_revocations import TokenRevocations
from realtime.webinar_viewers import ViewerSampler
from recordings.archive.service import RecordingServices
from recordings.live.settings import LiveSettings
from recordings.live.streams import LiveStreams, archive_hook
from recordings.media.hub import MediaConfig, MediaHub
from recordings.media.leases import LeaseStore
from recordings.media.ownership import Ownership, process_id
from recordings.media.relay import MediaRelay
from recordings.media.router import MediaRouter
from recordings.media.session import StopReason
from rooms import metrics
from rooms.accounts import AccountService
from rooms.token_cache import TokenCache
from rooms.attachments.service import AttachmentService
from rooms.conversations.compose import Composer
from rooms.conversations.formatting import ChatFormatter
from rooms.conversations.service import ConversationService
from rooms.conversations.store import ConversationStores
from rooms.emergency.service import EmergencyServices
from rooms.emergency.settings import EmergencySettings
from rooms.fanout import dumps
from rooms.management import RoomService
from rooms.models import Member, PresenceStatus, Room, RoomKind
from rooms.moderation.service import ModerationServices
from rooms.moderation.store import ModerationStores
from rooms.notifications import live as member_frames
from rooms.notifications.service import NotificationServices
from rooms.members_data.service import MembersDataServices
from rooms.presence import PresenceService
from rooms.search import SearchService
from rooms.service import ChatService
from rooms.store import Stores
from rooms.webinars.service import WebinarServices
from rooms.webinars.settings import WebinarSettings

log = logging.getLogger(__name__)
SLOW_STOP_STEP_S = 1.0   # a shutdown step longer than this is logged


@dataclass
class Services:
    settings: Settings
    stores: Stores
    broker: Broker
    presence_backend: PresenceBackend
    hub: Hub
    accounts: AccountService
    revocations: TokenRevocations
    rooms: RoomService
    chat: ChatService
    conversations: ConversationService
    search: SearchService
    presence: PresenceService
    cookies: SessionCookies
    limiter: RateLimiter
    limits: AbuseLimits
    emergency: EmergencyServices
    webinars: WebinarServices
    media: MediaHub
    media_router: MediaRouter
    live: LiveStreams
    recordings: RecordingServices
    attachments: AttachmentService
    notifications: NotificationServices
    moderation: ModerationServices
    suspensions: SuspensionEnforcer
    members_data: MembersDataServices
    webinar_settings: WebinarSettings = field(default_factory=WebinarSettings)
    _tasks: list[asyncio.Task] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        stores = Stores.open(settings.sqlalchemy_url, settings.sqlite_synchronous,
                             settings.sqlalchemy_replica_url, settings.database_replica_retry_s,
                             settings.send_batch_max, settings.send_batches_in_flight)
        broker = open_broker(settings.redis_url)
        hub = Hub(stores, broker, replay_page=settings.replay_page,
                  repair_interval_s=settings.repair_interval_s,
                  handshake_concurrency=settings.handshake_concurrency,
                  presence_fanout_max=settings.presence_fanout_max)
        rooms = RoomService(stores)
        chat = ChatService(stores, rooms, broker, max_body_chars=settings.max_body_chars,
                           composer=Composer(stores, ChatFormatter(settings.render_timeout_s)),
                           on_publish_failure=hub.poke)
        chat.heads.live = hub.head_of
        emergency = EmergencyServices.build(stores, chat, EmergencySettings.from_env())
        attachments = AttachmentService.build(stores, rooms, settings.data_dir, settings.secret_key)
        chat.attachments = attachments

        async def on_membership(room: Room, member: Member, joined: bool) -> None:
            await chat.announce_membership(room, member, joined)
            await emergency.rooms.on_membership(room, member, joined)

        rooms.on_membership = on_membership
        rooms.guard_writes(RoomKind.EMERGENCY, emergency.rooms.refuse_if_closed)
        presence_backend = open_presence(settings.redis_url, settings.presence_ttl_s)
        presence = PresenceService(presence_backend, stores, chat, settings.presence_batch_s, settings.presence_grace_s)

        async def looking(member_ids: list[int]) -> set[int]:
            """Members with a socket open and in view somewhere: they see the live frame, no push needed."""
            try:
                statuses = await presence.in_room(member_ids)
            except Exception:   # presence is best effort; without it, push rather than stay silent
                return set()
            return {m for m, status in statuses.items() if status is PresenceStatus.ONLINE}

        notifications = NotificationServices.build(stores, rooms, broker, secret_key=settings.secret_key,
                                                   data_dir=settings.data_dir, active=looking)
        chat.on_event.append(notifications.notifier.committed)
        limiter = open_limiter(settings.redis_url)
        webinars = WebinarServices.build(stores, chat)
        rooms.guard_writes(RoomKind.BREAKOUT, webinars.breakouts.refuse_if_closed)   # an ended breakout group's chat
        async def open_here(conn_ids: set[str]) -> set[str]:
            return {c for c in conn_ids if c in hub.connections}

        media = MediaHub(webinars, MediaConfig(ice_servers=settings.ice_servers,
                                               host_addresses=settings.media_host_addresses,
                                               max_viewers=settings.media_max_viewers),
                         events=RoomEvents(hub, rooms), alive=open_here)
        media_router = _media_router(settings, stores, broker, hub, media)
        # Every webinar's media session feeds one live HTTP stream (HLS) through a worker process.
        live = LiveStreams(settings.data_dir, LiveSettings.from_env())
        media.on_session.append(lambda session: session.add_tap(live.tap_for(session.webinar_id)))
        accounts = AccountService(stores, settings.session_max_age_s,
                                  PasswordHasher(time_cost=settings.password_time_cost,
                                                 memory_cost=settings.password_memory_kib),
                                  TokenCache(settings.token_cache_ttl_s, settings.token_cache_size))
        revocations = TokenRevocations(hub, broker, accounts)
        mstores = ModerationStores.over(stores)
        members_data = MembersDataServices.build(stores, rooms, accounts, attachments.storage, chat.publish)
        suspensions = SuspensionEnforcer(hub, broker, accounts, mstores, settings.repair_interval_s,
                                         erased_since=members_data.deletion.store.erased_since)
        members_data.deletion.on_closed.append(suspensions.erased)
        moderation = ModerationServices.build(stores, rooms, chat, accounts, suspensions.suspended, mstores)
        recordings = RecordingServices.build(stores, webinars, settings.data_dir, settings.secret_key)
        members_data.deletion.store.closing_hooks.append(recordings.stores.catalogue.forget_presenter)
        return cls(
            settings=settings, stores=stores, broker=broker, presence_backend=presence_backend, hub=hub,
            accounts=accounts, revocations=revocations, moderation=moderation, suspensions=suspensions, members_data=members_data,
            rooms=rooms, chat=chat,
            conversations=ConversationService(ConversationStores.over(stores), rooms, chat),
            search=SearchService(stores),
            presence=presence, cookies=SessionCookies(settings),
            limiter=limiter, limits=AbuseLimits(limiter, settings.limits), emergency=emergency,
            webinars=webinars, media=media, media_router=media_router, live=live,
            recordings=recordings,
            attachments=attachments,
            notifications=notifications,
            webinar_settings=WebinarSettings.from_env(),
        )

    async def start(self, migrate: bool = True) -> None:
        if migrate:
            await self.stores.db.migrate()
        await self.broker.connect()
        await self.presence_backend.start()
        await self.presence.start()
        await self.hub.start()
        self.hub.channel_readers[member_frames.MEMBERS_CHANNEL] = self._to_member
        await self.broker.subscribe(member_frames.MEMBERS_CHANNEL)
        await self.revocations.start()
        await self.suspensions.start()
        self.members_data.job.start()
        await self.emergency.start()
        await self.media.start()
        await self.media_router.start()
        await self.recordings.start()
        await self.attachments.start()
        await self.notifications.start()
        self.live.on_finished = archive_hook(self)
        self._tasks.append(asyncio.create_task(self.live.recover_forever(self.webinars.sessions.store.get),
                                               name="live-recovery"))
        self._tasks.append(asyncio.create_task(self._presence_heartbeat(), name="presence-heartbeat"))
        # Breakout groups' warnings and ends (once, whichever process is first), and the summary's viewer samples.
        self._tasks.append(asyncio.create_task(
            self.webinars.breakouts.run_timer(self.webinar_settings.breakout_tick_s), name="breakout-timer"))
        sampler = ViewerSampler(self.hub, self.webinars.stores.summary, process_id(),
                                self.webinar_settings.viewers_sample_s)
        self._tasks.append(asyncio.create_task(sampler.run_forever(), name="webinar-viewers"))
        gauges = StoredGauges(self.recordings.stores.jobs, self.emergency.stores.outbox,
                              self.notifications.mail_settings.outbox_max_attempts, self.settings.metrics_refresh_s,
                              self.moderation.stores.reports)
        self._tasks.append(asyncio.create_task(gauges.run_forever(), name="stored-gauges"))

    async def stop(self) -> None:
        # In this order: what produces work first, what it writes to last. Each step is timed, so a
        # shutdown that overruns its grace says which part held it.
        steps: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("background tasks", self._stop_tasks), ("notifications", self.notifications.stop),
            ("media sessions", self.media_router.stop), ("live streams", self.live.stop),
            ("recordings", self.recordings.stop), ("attachments", self.attachments.stop),
            ("emergency", self.emergency.stop), ("members' data", self.members_data.job.stop),
            ("suspensions", self.suspensions.stop), ("hub", self.hub.stop), ("presence", self.presence.stop),
            ("presence backend", self.presence_backend.stop), ("rate limiter", self.limiter.close),
            ("broker", self.broker.disconnect), ("formatter", self._close_formatter),
            ("stores", self.stores.dispose)]
        for name, step in steps:
            started = time.monotonic()
            await step()
            took = time.monotonic() - started
            if took > SLOW_STOP_STEP_S:
                log.warning("shutdown: %s took %.1f s", name, took)

    async def _stop_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _close_formatter(self) -> None:
        self.chat.composer.formatter.close()

    def _to_member(self, data: str) -> None:
        try:
            member_id, frame_text = member_frames.decode(data)
        except ValueError:
            log.warning("undecodable member frame on the broker")
            return
        sent = self.hub.push_to_member(member_id, frame_text)
        if sent:
            metrics.count_sent(metrics.frame_type_of(frame_text), sent)

    async def readiness(self) -> dict:
        store_ok = await self.stores.db.ping()
        broker = self.broker.state
        state = {"store": "ok" if store_ok else "unavailable", "broker": broker.value}
        ready = store_ok and broker is BrokerState.CONNECTED
        cluster = await self.broker.cluster_state()
        if cluster is not None:
            state["redis_cluster"] = cluster
            ready = ready and cluster["state"] == "ok"
        if self.stores.replica is not None:
            # Not part of readiness: without its replica the primary answers every read.
            state["replica"] = "ok" if await self.stores.replica.ping() else "unavailable"
        return {**state, "ready": ready}

    async def _presence_heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.presence_heartbeat_s)
            try:
                await self.presence.heartbeat()
            except Exception as error:   # Redis away: presence is ephemeral, try again next beat
                log.warning("presence heartbeat failed: %s", error)


def _media_router(settings: Settings, stores: Stores, broker: Broker, hub: Hub, media: MediaHub) -> MediaRouter:
    """Media on any process: one process owns a webinar's media (a lease in the store); the others relay
    their sockets' media signalling to it over the broker (docs/media.md, "Several processes")."""
    me = process_id()
    relay = MediaRelay(broker, me, settings.secret_key, settings.media_relay_timeout_s)
    hub.channel_readers[relay.channel] = relay.receive
    ownership = Ownership(LeaseStore(stores.db), me, settings.media_lease_s, in_use=lambda w: w in media.sessions,
                          on_lost=lambda w: media.close_session(w, StopReason.MOVED))

    def deliver(conn_id: str, frame: dict) -> None:
        conn = hub.connections.get(conn_id)
        if conn is not None and conn.push(dumps(frame)):
            metrics.count_sent(frame["type"])

    return MediaRouter(media, ownership, relay, members=stores.accounts.get,
                       is_open=lambda conn_id: conn_id in hub.connections, deliver=deliver)
