"""One frozen settings object, read from the environment once at start-up."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from realtime.limits.policy import LimitRates, parse_rate
from recordings.storage.durable import write_file
from rooms.envvars import env_bool as _bool, env_float as _float, env_int as _int, env_list as _list

DEFAULT_DATA_DIR = Path("var")


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with the defaults of the embedded single-machine setup.

    Limits live here so they are documented in one place (README table) and
    tests can shrink them.
    """

    database_url: str = ""
    # A Postgres streaming replica for history pages and search (docs/scaling.md); empty: none.
    database_replica_url: str = ""
    # After a failed read the replica is left alone this long; the primary answers meanwhile.
    database_replica_retry_s: float = 5.0
    # One Redis (redis://…) or a Redis Cluster (redis+cluster://host1:port1,host2:port2/).
    redis_url: str = ""
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    allowed_origins: tuple[str, ...] = ()
    data_dir: Path = DEFAULT_DATA_DIR
    secure_cookies: bool = False
    session_max_age_s: int = 30 * 24 * 3600

    # Websocket limits.
    max_frame_bytes: int = 16 * 1024
    max_body_chars: int = 4000
    # Formatting one message (Markdown to HTML) that takes longer is stored as plain text instead.
    render_timeout_s: float = 0.5
    send_queue_frames: int = 1000
    history_page_max: int = 100
    replay_page: int = 500
    max_subscriptions: int = 500
    # Handshakes processed at once; the rest wait their turn, so a reconnect storm is a queue
    # rather than thousands of coroutines competing for the database and Redis.
    handshake_concurrency: int = 64

    # Rates (token buckets per connection): sustained per second, burst.
    message_rate: float = 5.0
    message_burst: int = 20
    frame_rate: float = 30.0          # any frame at all
    frame_burst: int = 120
    typing_interval_s: float = 2.0

    # Presence: heartbeat period and how long a silent process's members stay online.
    presence_heartbeat_s: float = 5.0
    presence_ttl_s: float = 15.0
    # Rooms with more subscribers on a process than this get no presence events (use `who`).
    presence_fanout_max: int = 200
    # Verified tokens cached per process (revoked on every process at once; see docs/performance.md).
    token_cache_ttl_s: float = 300.0
    token_cache_size: int = 10_000
    # Presence arrivals and departures are written together, once per this tick.
    presence_batch_s: float = 0.02
    presence_grace_s: float = 10.0
    # How often each process checks its rooms against the store for missed events.
    repair_interval_s: float = 2.0
    # argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile).
    limits: LimitRates = field(default_factory=LimitRates)
    password_time_cost: int = 3
    password_memory_kib: int = 65536
    max_request_bytes: int = 64 * 1024

    # Webinar media (recordings/media). ICE_SERVERS: a JSON list of RTCIceServer dicts
    # ({"urls": "turn:turn.example.org:3478", "username": …, "credential": …}); none by default,
    # never a public server. MEDIA_HOST_ADDRESSES: the addresses offered as host candidates
    # (comma-separated); empty: aioice's own discovery (every interface but loopback).
    ice_servers: tuple[dict, ...] = ()
    media_host_addresses: tuple[str, ...] = ()
    # WebRTC viewers one process serves (the owner of a webinar's media); beyond it attendees get the HTTP
    # stream. Half a core at the measured 0.63 % of a core per video viewer of one presenter is 79, rounded
    # down to 75 (docs/performance.md, "WebRTC ceiling of one process"; docs/media.md, "Capacity"); the other
    # half is chat, signalling and the stream's tap.
    media_max_viewers: int = 75
    # One process owns a webinar's media; its lease lapses this long after it stops renewing (it died),
    # and a relayed request waits this long at most for the owner's answer.
    media_lease_s: float = 3.0
    media_relay_timeout_s: float = 5.0

    # GET /metrics: with a token, only `Authorization: Bearer <token>` reads it; without one, only
    # loopback (realtime/api/metrics.py).
    metrics_token: str = ""
    # How often the metrics that need a query (recording jobs, e-mail outbox) are read again.
    metrics_refresh_s: float = 15.0
    # "console" (a developer's terminal) or "json" (one object per line, for a log pipeline).
    log_format: str = "console"
    # The embedded default's durability: "full" syncs the write-ahead log at every commit, before
    # anything is acknowledged; "normal" skips that sync (faster; a power cut or an OS crash may lose
    # the last acknowledged messages). docs/reliability.md.
    sqlite_synchronous: str = "full"
    # Group commit (rooms/store/group_commit.py): the most chat sends stored in one transaction
    # (0: every send in its own), and how many such transactions may be under way at once on Postgres.
    send_batch_max: int = 64
    send_batches_in_flight: int = 4

    @property
    def sqlalchemy_url(self) -> str:
        """The store URL in SQLAlchemy's async-driver spelling."""
        if not self.database_url:
            return f"sqlite+aiosqlite:///{self.data_dir / 'convene.db'}"
        return _async_driver(self.database_url)

    @property
    def sqlalchemy_replica_url(self) -> str:
        """The read replica's URL in SQLAlchemy's async-driver spelling, or "" without one."""
        return _async_driver(self.database_replica_url) if self.database_replica_url else ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        data_dir = Path(env.get("CONVENE_DATA_DIR") or DEFAULT_DATA_DIR)
        secret = env.get("SECRET_KEY") or _dev_secret(data_dir)
        return cls(
            database_url=env.get("DATABASE_URL", ""),
            database_replica_url=env.get("DATABASE_REPLICA_URL", ""),
            database_replica_retry_s=_float(env, "DATABASE_REPLICA_RETRY_S", cls.database_replica_retry_s),
            redis_url=env.get("REDIS_URL", ""),
            secret_key=secret,
            allowed_origins=_list(env, "ALLOWED_ORIGINS"),
            data_dir=data_dir,
            secure_cookies=_bool(env, "SECURE_COOKIES", False),
            session_max_age_s=_int(env, "SESSION_MAX_AGE_S", cls.session_max_age_s),
            max_frame_bytes=_int(env, "MAX_FRAME_BYTES", cls.max_frame_bytes),
            max_body_chars=_int(env, "MAX_BODY_CHARS", cls.max_body_chars),
            render_timeout_s=_float(env, "RENDER_TIMEOUT_S", cls.render_timeout_s),
            send_queue_frames=_int(env, "SEND_QUEUE_FRAMES", cls.send_queue_frames),
            handshake_concurrency=_int(env, "HANDSHAKE_CONCURRENCY", cls.handshake_concurrency),
            message_rate=_float(env, "MESSAGE_RATE", cls.message_rate),
            message_burst=_int(env, "MESSAGE_BURST", cls.message_burst),
            frame_rate=_float(env, "FRAME_RATE", cls.frame_rate),
            frame_burst=_int(env, "FRAME_BURST", cls.frame_burst),
            presence_heartbeat_s=_float(env, "PRESENCE_HEARTBEAT_S", cls.presence_heartbeat_s),
            presence_ttl_s=_float(env, "PRESENCE_TTL_S", cls.presence_ttl_s),
            presence_fanout_max=_int(env, "PRESENCE_FANOUT_MAX", cls.presence_fanout_max),
            repair_interval_s=_float(env, "REPAIR_INTERVAL_S", cls.repair_interval_s),
            token_cache_ttl_s=_float(env, "TOKEN_CACHE_TTL_S", cls.token_cache_ttl_s),
            token_cache_size=_int(env, "TOKEN_CACHE_SIZE", cls.token_cache_size),
            presence_batch_s=_float(env, "PRESENCE_BATCH_S", cls.presence_batch_s),
            presence_grace_s=_float(env, "PRESENCE_GRACE_S", cls.presence_grace_s),
            limits=_limits(env),
            password_time_cost=_int(env, "PASSWORD_TIME_COST", cls.password_time_cost),
            password_memory_kib=_int(env, "PASSWORD_MEMORY_KIB", cls.password_memory_kib),
            ice_servers=_ice_servers(env),
            media_host_addresses=_list(env, "MEDIA_HOST_ADDRESSES"),
            media_max_viewers=_int(env, "MEDIA_MAX_VIEWERS", cls.media_max_viewers),
            media_lease_s=_float(env, "MEDIA_LEASE_S", cls.media_lease_s),
            media_relay_timeout_s=_float(env, "MEDIA_RELAY_TIMEOUT_S", cls.media_relay_timeout_s),
            metrics_token=env.get("METRICS_TOKEN", ""),
            metrics_refresh_s=_float(env, "METRICS_REFRESH_S", cls.metrics_refresh_s),
            log_format=_choice(env, "LOG_FORMAT", ("console", "json"), cls.log_format),
            sqlite_synchronous=_choice(env, "SQLITE_SYNCHRONOUS", ("full", "normal"), cls.sqlite_synchronous),
            send_batch_max=_int(env, "SEND_BATCH_MAX", cls.send_batch_max),
            send_batches_in_flight=_int(env, "SEND_BATCHES_IN_FLIGHT", cls.send_batches_in_flight),
        )


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _async_driver(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    return url


def _ice_servers(env: Mapping[str, str]) -> tuple[dict, ...]:
    raw = env.get("ICE_SERVERS", "").strip()
    servers = json.loads(raw) if raw else []
    if not isinstance(servers, list) or not all(isinstance(s, dict) and "urls" in s for s in servers):
        raise ValueError('ICE_SERVERS must be a JSON list of {"urls": …, "username"?, "credential"?}')
    return tuple(servers)


def _limits(env: Mapping[str, str]) -> LimitRates:
    """LIMIT_MEMBER_MESSAGES=10/1:30 and so on, one variable per LimitRates field."""
    changes = {name: parse_rate(env[f"LIMIT_{name.upper()}"]) for name in LimitRates.__dataclass_fields__
               if env.get(f"LIMIT_{name.upper()}")}
    return LimitRates(**changes)


def _dev_secret(data_dir: Path) -> str:
    """A per-installation secret for the embedded default, kept so sessions survive restarts."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        secret = secrets.token_urlsafe(32)
        write_file(path, secret.encode())   # created 0600, synced: sessions must outlive a power cut too
        return secret
