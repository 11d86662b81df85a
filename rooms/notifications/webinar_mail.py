"""Webinar e-mails and notifications that come from the clock rather than a room's sequence.

For each registrant: the registration confirmation (with the .ics), reminders 24 hours and 15 minutes
before (the 24-hour one only if they registered before then), the "starts in 15 minutes" and
"recording ready" notifications (inbox and push), and the "recording is ready" e-mail. Every process
runs the job; the webinar_mail_log primary key and the notifications' unique key make each one once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import and_, select

from realtime.broker.base import Broker
from recordings.archive.schema import recordings
from rooms import metrics
from rooms.notifications.jobs import Pokeable
from rooms.mail.schema import notification_addresses
from rooms.mail.store import outbox_row
from rooms.models import Member
from rooms.notifications.email import unsubscribe_headers
from rooms.notifications.models import Channel, Kind
from rooms.notifications.notifier import Active, add_channels
from rooms.notifications.live import publish_to_member
from rooms.notifications.settings import NotificationSettings
from rooms.notifications.store import NotificationStores
from rooms.notifications.texts import gettext_for, simple_email
from rooms.notifications.tokens import Tokens
from rooms.store import Stores
from rooms.store.schema import members, utcnow
from rooms.webinars.ics import calendar
from rooms.webinars.models import Webinar
from rooms.webinars.store.schema import webinar_registrations, webinars
from rooms.webinars.store.sessions import webinar_from_row

log = logging.getLogger(__name__)

SOON = timedelta(minutes=15)
DAY = timedelta(hours=24)


class WebinarMail:
    def __init__(self, stores: Stores, nstores: NotificationStores, broker: Broker, tokens: Tokens,
                 settings: NotificationSettings, active: Active) -> None:
        self.stores = stores
        self.nstores = nstores
        self.broker = broker
        self.tokens = tokens
        self.settings = settings
        self.active = active

    async def run(self) -> None:
        await Pokeable(self.settings.job_interval_s).every_pass(self.pass_once, "webinar mail")

    async def pass_once(self) -> int:
        now = utcnow()
        done = 0
        async with self.stores.db.read() as conn:
            upcoming = [webinar_from_row(row) for row in (await conn.execute(
                select(webinars).where(webinars.c.state.in_(("scheduled", "live")), webinars.c.ends_at > now))).all()]
            ready = (await conn.execute(
                select(webinars, recordings.c.id.label("recording_id"), recordings.c.title.label("recording_title"))
                .join(webinars, webinars.c.id == recordings.c.webinar_id)
                .where(recordings.c.state == "ready"))).all()
        for webinar in upcoming:
            for member, registered_at, address in await self._registrants(webinar.id):
                done += await self._upcoming(webinar, member, registered_at, address, now)
        for row in ready:
            webinar = webinar_from_row(row)
            for member, _, address in await self._registrants(webinar.id):
                done += await self._recording(webinar, row.recording_id, row.recording_title, member, address)
        return done

    async def _registrants(self, webinar_id: int) -> list[tuple[Member, datetime, str | None]]:
        stmt = (select(members.c.id, members.c.username, members.c.display_name,
                       webinar_registrations.c.registered_at, notification_addresses.c.email,
                       notification_addresses.c.verified_at)
                .join(webinar_registrations, webinar_registrations.c.member_id == members.c.id)
                .outerjoin(notification_addresses, and_(notification_addresses.c.member_id == members.c.id))
                .where(webinar_registrations.c.webinar_id == webinar_id))
        async with self.stores.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [(Member(id=r.id, username=r.username, display_name=r.display_name), r.registered_at,
                 r.email if r.verified_at is not None else None) for r in rows]

    async def _upcoming(self, webinar: Webinar, member: Member, registered_at: datetime, address: str | None,
                        now: datetime) -> int:
        prefs = await self.nstores.preferences.get(member.id)
        _ = gettext_for(prefs.language)
        link = f"{self.settings.public_url}/webinars/{webinar.id}"
        wants_mail = address is not None and prefs.wants(Kind.WEBINAR_STARTING, Channel.EMAIL)
        sent = 0
        if wants_mail and webinar.state.value == "scheduled":
            ics = calendar(webinar, domain=urlsplit(self.settings.public_url).hostname or "convene",
                           url=link, now=now)
            subject = "[Convene] " + _("You are registered: %(webinar)s") % {"webinar": webinar.title}
            body = [_("Hello %(name)s,") % {"name": member.display_name},
                    _("You are registered for %(webinar)s, on %(when)s UTC. The invitation is attached.")
                    % {"webinar": webinar.title, "when": f"{webinar.starts_at:%Y-%m-%d %H:%M}"}]
            sent += await self._mail(webinar, member, address, "registered", subject, body, link, prefs.language,
                                     attachments=[{"name": f"webinar-{webinar.id}.ics",
                                                   "content_type": "text/calendar", "text": ics}])
        until = webinar.starts_at - now
        if webinar.state.value == "scheduled" and timedelta(0) < until <= SOON:
            sent += await self._notify(webinar, member, Kind.WEBINAR_STARTING, f"/webinars/{webinar.id}/live")
            if wants_mail:
                subject = "[Convene] " + _("%(webinar)s starts in 15 minutes") % {"webinar": webinar.title}
                sent += await self._mail(webinar, member, address, "reminder.15m", subject,
                                         [_("Hello %(name)s,") % {"name": member.display_name}, subject[10:]],
                                         f"{link}/live", prefs.language)
        elif (wants_mail and webinar.state.value == "scheduled" and SOON < until <= DAY
              and registered_at < webinar.starts_at - DAY):
            subject = "[Convene] " + _("Tomorrow: %(webinar)s") % {"webinar": webinar.title}
            body = [_("Hello %(name)s,") % {"name": member.display_name},
                    _("%(webinar)s starts on %(when)s UTC.") % {"webinar": webinar.title,
                                                              "when": f"{webinar.starts_at:%Y-%m-%d %H:%M}"}]
            sent += await self._mail(webinar, member, address, "reminder.24h", subject, body, link, prefs.language)
        return sent

    async def _recording(self, webinar: Webinar, recording_id: int, title: str, member: Member,
                         address: str | None) -> int:
        prefs = await self.nstores.preferences.get(member.id)
        _ = gettext_for(prefs.language)
        link = f"{self.settings.public_url}/recordings/{recording_id}"
        sent = await self._notify(webinar, member, Kind.RECORDING_READY, f"/recordings/{recording_id}",
                                  {"recording": recording_id})
        if address is not None and prefs.wants(Kind.RECORDING_READY, Channel.EMAIL):
            subject = "[Convene] " + _("The recording of %(webinar)s is ready") % {"webinar": title}
            sent += await self._mail(webinar, member, address, "recording.ready", subject,
                                     [_("Hello %(name)s,") % {"name": member.display_name}, subject[10:]],
                                     link, prefs.language)
        return sent

    async def _mail(self, webinar: Webinar, member: Member, address: str, kind: str, subject: str,
                    paragraphs: list[str], link: str, language: str, attachments: list[dict] | None = None) -> int:
        if member.id in await self.nstores.webinar_mail.done(webinar.id, kind):
            return 0
        _ = gettext_for(language)
        unsubscribe = f"{self.settings.public_url}/unsubscribe/{self.tokens.unsubscribe(member.id, 'webinar')}"
        mail = simple_email(subject, paragraphs, (_("Open in Convene"), link), language,
                            [(_("Stop webinar e-mails"), unsubscribe)])
        parts = {"html": mail.html, "headers": unsubscribe_headers(unsubscribe)}
        if attachments:
            parts["attachments"] = attachments
        row = outbox_row(member.id, address, mail.subject, mail.text, f"webinar.{kind}", parts)
        if await self.nstores.webinar_mail.once(webinar.id, member.id, kind, [row]):
            metrics.emails_batched.labels("webinar").inc()
            return 1
        return 0

    async def _notify(self, webinar: Webinar, member: Member, kind: Kind, url: str, extra: dict | None = None) -> int:
        """The inbox entry (and its push), once: the notifications' unique key decides."""
        prefs = await self.nstores.preferences.get(member.id)
        active = await self.active([member.id])
        now = utcnow()
        async with self.stores.db.write() as conn:
            ids = await self.nstores.inbox.create_in(conn, [dict(
                member_id=member.id, kind=kind.value, room_id=webinar.room_id, seq=0, actor_id=None, excerpt="",
                data={"webinar": webinar.id, "title": webinar.title, "url": url, **(extra or {})}, created_at=now)])
            made = await self.nstores.inbox.get_many(ids, conn)
            await add_channels(conn, self.nstores, self.settings, made, {member.id: prefs}, active, now)
        for notification in made:
            metrics.notifications_created.labels(kind.value).inc()
            unread, _ = await self.nstores.inbox.counts(member.id)
            await publish_to_member(self.broker, member.id, {"type": "notification",
                                                             "notification": notification.public(), "unread": unread})
        return len(made)
