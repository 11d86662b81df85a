"""Web Push (RFC 8030), payloads encrypted for the browser (RFC 8291), signed with VAPID (RFC 8292).

VAPID keys come from VAPID_PRIVATE_KEY or are generated once into the data folder. Subscriptions are
accepted only on the known push services (PUSH_ALLOWED_ORIGINS). Sending drains the durable job
table (store/push.py): a job is claimed with an expiry, sent, then marked sent; a failure is retried
with back-off; 404 or 410 from the push service deletes the subscription.

Exactly once, and the window where it is not: a process killed after claiming and before sending
leaves a claim that expires, and the job is sent once, later. A process killed after the push
service accepted the message and before `sent_at` is committed sends it again when the claim
expires: HTTP offers nothing to close that window. Each push carries a `Topic` header (RFC 8030
§5.4: a newer message with the same topic replaces an undelivered one at the push service) and the
service worker shows it with the notification's tag (a second one replaces the first on screen), so
the member sees one notification even then.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import signal
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from recordings.storage.durable import sync_directory, write_file
from rooms import metrics
from rooms.errors import BadRequest
from rooms.notifications.jobs import Pokeable
from rooms.notifications.models import Kind, Notification, Preferences
from rooms.notifications.settings import NotificationSettings
from rooms.notifications.store import NotificationStores
from rooms.notifications.store.push import PushJob
from rooms.notifications.texts import push_text
from rooms.store.schema import utcnow

log = logging.getLogger(__name__)

MAX_ENDPOINT = 1024


class VapidKeys:
    """The server's VAPID key pair; the public half is what browsers subscribe with."""

    def __init__(self, vapid: Vapid02) -> None:
        self.vapid = vapid

    @classmethod
    def load(cls, setting: str, data_dir: Path) -> "VapidKeys":
        if setting:
            text = setting.strip()
            if "BEGIN" in text:
                return cls(Vapid02.from_pem(text.encode()))
            return cls(Vapid02.from_string(text))
        path = data_dir / "vapid_private.pem"
        if not path.exists():
            vapid = Vapid02()
            vapid.generate_keys()
            pem = vapid.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption())
            # Written aside (synced, 0600) and linked into place, never replaced: two processes starting
            # at once both end up with the one key that won, and it survives a power cut.
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            write_file(temporary, pem)
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass
            temporary.unlink()
            sync_directory(data_dir)
        return cls(Vapid02.from_file(str(path)))

    @property
    def public_key(self) -> str:
        """base64url of the uncompressed P-256 point: `applicationServerKey` in the browser."""
        raw = self.vapid.public_key.public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def origin_allowed(endpoint: str, allowed: tuple[str, ...]) -> bool:
    """Whether the endpoint is on a push service we accept ("https://*.host" allows subdomains)."""
    try:
        parts = urlsplit(endpoint)
    except ValueError:
        return False
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        return False
    port = f":{parts.port}" if parts.port else ""
    origin = f"{parts.scheme}://{parts.hostname}{port}"
    for entry in allowed:
        scheme, _, host = entry.partition("://")
        if host.startswith("*."):
            if scheme == parts.scheme and parts.hostname.endswith(host[1:]) and not port:
                return True
        elif origin == entry:
            return True
    return False


def check_subscription(endpoint: str, p256dh: str, auth: str, allowed: tuple[str, ...]) -> None:
    if len(endpoint) > MAX_ENDPOINT or not origin_allowed(endpoint, allowed):
        raise BadRequest("this push service is not accepted", field="endpoint")
    for name, value, size in (("keys.p256dh", p256dh, 65), ("keys.auth", auth, 16)):
        try:
            decoded = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        except ValueError:
            raise BadRequest("not base64url", field=name) from None
        if len(decoded) != size:
            raise BadRequest(f"expected {size} bytes", field=name)
        if name == "keys.p256dh":
            try:   # a point on P-256, or encryption for it would fail at every send
                ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), decoded)
            except ValueError:
                raise BadRequest("not a P-256 public key", field=name) from None


class PushSender:
    def __init__(self, stores: NotificationStores, keys: VapidKeys, settings: NotificationSettings) -> None:
        self.stores = stores
        self.keys = keys
        self.settings = settings
        self.jobs = Pokeable(settings.job_interval_s, settings.job_idle_max_s)
        self.poke = self.jobs.poke
        self._http = requests.Session()
        self._http.trust_env = False   # the push service is reached directly, never through an env proxy

    async def run(self) -> None:
        await self.jobs.every_pass(self._pass, "push sender")

    async def _pass(self) -> int:
        handled = 0
        while sent := await self.drain():
            handled += sent
        depth, age = await self.stores.push.queue()
        metrics.push_queue_depth.set(depth)
        metrics.push_queue_age.set(age)
        return handled

    async def drain(self) -> int:
        """Sends the due jobs this process claims. Answers how many it handled."""
        handled = 0
        for job in await self.stores.push.due(self.settings.push_max_attempts):
            if not await self.stores.push.claim(job, self.settings.push_claim_s):
                continue
            if self.settings.fault == "push.claimed:kill":
                os.kill(os.getpid(), signal.SIGKILL)   # tests only: die holding the claim
            handled += 1
            await self._send(job)
        return handled

    async def _send(self, job: PushJob) -> None:
        found = await self.stores.inbox.get_many([job.notification_id])
        if not found:
            await self.stores.push.sent(job.id)   # the notification is gone: nothing to say
            return
        notification = found[0]
        prefs = await self.stores.preferences.get(notification.member_id)
        data = orjson.dumps(payload(notification, prefs)).decode()
        headers = {"Urgency": "high" if notification.kind in (Kind.ALERT, Kind.MENTION, Kind.MESSAGE) else "normal",
                   "Topic": f"n{notification.id}"}
        try:
            await asyncio.to_thread(
                webpush, job.subscription.info(), data, vapid_private_key=self.keys.vapid,
                vapid_claims={"sub": self.settings.vapid_subject}, ttl=self.settings.push_ttl_s,
                headers=headers, timeout=self.settings.push_timeout_s, requests_session=self._http)
        except WebPushException as error:
            status = error.response.status_code if error.response is not None else None
            if status in (404, 410):
                metrics.push_sent.labels("gone").inc()
                await self.stores.push.gone(job.subscription.id)
                return
            await self._retry(job, f"{status}: {error}")
            return
        except requests.RequestException as error:
            await self._retry(job, repr(error))
            return
        await self.stores.push.sent(job.id)
        metrics.push_sent.labels("sent").inc()

    async def _retry(self, job: PushJob, error: str) -> None:
        metrics.push_sent.labels("failed").inc()
        log.warning("push job %s failed (attempt %s): %s", job.id, job.attempts + 1, error)
        delay = min(3600.0, self.settings.push_retry_s * 2 ** job.attempts)
        await self.stores.push.failed(job.id, error, utcnow() + timedelta(seconds=delay))


def payload(notification: Notification, prefs: Preferences) -> dict:
    """What the service worker shows. For private rooms and conversations: who wrote where, not what,
    unless the member chose to see previews."""
    title, body = push_text(notification, prefs.language, show_text=prefs.push_previews or not notification.private)
    return {"title": title, "body": body, "url": notification.url, "tag": f"convene-{notification.room_id}",
            "kind": notification.kind.value, "room": notification.room_id, "room_name": notification.room_name,
            "seq": notification.seq, "sender": notification.actor_name, "id": notification.id}
