"""Everything notifications need in one process, built from the chat core's parts, and the jobs that run them.

The member-facing operations (inbox, preferences, push subscriptions, the e-mail address, unsubscribe)
are here too, so the API and the pages stay thin.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from realtime.broker.base import Broker
from rooms import metrics
from rooms.errors import BadRequest, NotFound
from rooms.mail.sender import Mailer
from rooms.mail.settings import MailSettings
from rooms.mail.store import Address, OutboxStore
from rooms.management import RoomService
from rooms.models import Member
from rooms.notifications.jobs import Pokeable
from rooms.notifications.email import EmailBatcher, UNSUBSCRIBE_ALL, unsubscribe_headers
from rooms.notifications.models import BATCHED_KINDS, Channel, Notification, Preferences, RoomLevel, preference_key
from rooms.notifications.notifier import Active, Notifier
from rooms.notifications.push import PushSender, VapidKeys, check_subscription
from rooms.notifications.quiet import quiet_messages
from rooms.notifications.settings import NotificationSettings
from rooms.notifications.store import NotificationStores
from rooms.notifications.texts import gettext_for, simple_email
from rooms.notifications.tokens import Tokens, address_digest
from rooms.notifications.webinar_mail import WebinarMail
from rooms.store import Stores

log = logging.getLogger(__name__)

MAX_EMAIL = 254
UNSUBSCRIBE_KINDS = {UNSUBSCRIBE_ALL: tuple(sorted({preference_key(k) for k in BATCHED_KINDS})),
                     "webinar": ("webinar", "recording")}


@dataclass
class NotificationServices:
    settings: NotificationSettings
    stores: Stores
    nstores: NotificationStores
    rooms: RoomService
    outbox: OutboxStore
    tokens: Tokens
    keys: VapidKeys
    notifier: Notifier
    push: PushSender
    emails: EmailBatcher
    webinar_mail: WebinarMail
    mailer: Mailer
    mail_settings: MailSettings
    _tasks: list[asyncio.Task] = field(default_factory=list)

    @classmethod
    def build(cls, stores: Stores, rooms: RoomService, broker: Broker, *, secret_key: str, data_dir: Path,
              active: Active, settings: NotificationSettings | None = None,
              mail_settings: MailSettings | None = None) -> "NotificationServices":
        settings = settings or NotificationSettings.from_env()
        mail_settings = mail_settings or MailSettings.from_env()
        nstores = NotificationStores.over(stores.db)
        outbox = OutboxStore(stores.db)
        tokens = Tokens(secret_key)
        keys = VapidKeys.load(settings.vapid_private_key, data_dir)
        push = PushSender(nstores, keys, settings)
        emails = EmailBatcher(stores, nstores, outbox, tokens, settings)
        notifier = Notifier(stores, nstores, broker, settings, active, on_push=push.poke, on_email=emails.poke)
        if stores.messages.group_commit is not None:
            stores.messages.group_commit.also(quiet_messages(notifier.moved))
        return cls(settings=settings, stores=stores, nstores=nstores, rooms=rooms, outbox=outbox, tokens=tokens,
                   keys=keys, notifier=notifier, push=push, emails=emails,
                   webinar_mail=WebinarMail(stores, nstores, broker, tokens, settings, active),
                   mailer=Mailer(outbox, mail_settings), mail_settings=mail_settings)

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self.notifier.run(), name="notifier"),
                       asyncio.create_task(self.push.run(), name="push-sender"),
                       asyncio.create_task(self.emails.run(), name="notification-emails"),
                       asyncio.create_task(self.webinar_mail.run(), name="webinar-mail"),
                       asyncio.create_task(Pokeable(self.mail_settings.interval_s).every_pass(
                                           self.mailer.drain, "outbox"), name="outbox")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # The inbox.

    async def inbox(self, member: Member, before: int | None, limit: int,
                    unread_only: bool = False) -> tuple[list[Notification], bool]:
        return await self.nstores.inbox.page(member.id, before, limit, unread_only)

    async def counts(self, member: Member) -> dict:
        unread, mentions = await self.nstores.inbox.counts(member.id)
        return {"unread": unread, "mentions": {str(room): n for room, n in mentions.items()}}

    async def mark_read(self, member: Member, ids: list[int] | None) -> int:
        return await self.nstores.inbox.mark_read(member.id, ids)

    # Preferences.

    async def preferences(self, member: Member) -> Preferences:
        return await self.nstores.preferences.get(member.id)

    async def save_preferences(self, member: Member, prefs: Preferences) -> Preferences:
        await self.nstores.preferences.save(member.id, prefs)
        return prefs

    async def room_levels(self, member: Member) -> dict[int, RoomLevel]:
        return await self.nstores.preferences.levels_of(member.id)

    async def set_room_level(self, member: Member, room_id: int, level: RoomLevel | None) -> None:
        await self.rooms.writable(member, room_id)   # members only: one cannot mute what one is not in
        await self.nstores.preferences.set_level(room_id, member.id, level)

    # Push subscriptions.

    async def subscribe(self, member: Member, endpoint: str, p256dh: str, auth: str) -> int:
        check_subscription(endpoint, p256dh, auth, self.settings.push_allowed_origins)
        return await self.nstores.push.subscribe(member.id, endpoint, p256dh, auth)

    async def unsubscribe_push(self, member: Member, endpoint: str) -> bool:
        return await self.nstores.push.unsubscribe(member.id, endpoint)

    # The e-mail address.

    async def address(self, member: Member) -> Address | None:
        return await self.outbox.address_of(member.id)

    async def set_address(self, member: Member, email: str) -> Address:
        """Records the address and, unless it is verified already, mails it a verification link."""
        email = email.strip()
        if len(email) > MAX_EMAIL or "@" not in email or any(c.isspace() or c in "<>,;\"" for c in email):
            raise BadRequest("an e-mail address, like name@example.org", field="email")
        if await self.outbox.set_address(member.id, email):
            prefs = await self.nstores.preferences.get(member.id)
            _ = gettext_for(prefs.language)
            link = f"{self.settings.public_url}/settings/email/verify/{self.tokens.verify(member.id, email)}"
            mail = simple_email("[Convene] " + _("Confirm your e-mail address"),
                                [_("Hello %(name)s,") % {"name": member.display_name},
                                 _("Confirm that Convene may send notifications to this address.")],
                                (_("Confirm this address"), link), prefs.language)
            await self.outbox.enqueue(member.id, email, mail.subject, mail.text, "verify", {"html": mail.html})
        return await self.outbox.address_of(member.id) or Address(email, False)

    async def verify(self, token: str) -> bool:
        found = self.tokens.read_verify(token, self.settings.verify_max_age_s)
        if found is None:
            return False
        member_id, digest = found
        return await self.outbox.verify(member_id, lambda email: address_digest(email) == digest)

    async def unsubscribe(self, token: str) -> str:
        """One-click unsubscribe, without a session: the token names the member and what to stop.
        Doing it twice is harmless. Answers the list unsubscribed from."""
        found = self.tokens.read_unsubscribe(token)
        if found is None or found[1] not in UNSUBSCRIBE_KINDS:
            raise NotFound("this unsubscribe link is not valid")
        member_id, kind = found
        prefs = await self.nstores.preferences.get(member_id)
        channels = dict(prefs.channels)
        for key in UNSUBSCRIBE_KINDS[kind]:
            channels[key] = channels.get(key, frozenset()) - {Channel.EMAIL}
        await self.nstores.preferences.save(member_id, replace(prefs, channels=channels))
        if kind == UNSUBSCRIBE_ALL:
            await self.nstores.emails.drop_for(member_id)
        metrics.unsubscribes.inc()
        return kind


__all__ = ["NotificationServices", "unsubscribe_headers"]
