"""Webinar e-mails and notifications that come from the clock rather than a room's sequence.

For each registrant: the registration confirmation (with the .ics), reminders 24 hours and 15 minutes
before (the 24-hour one only if they registered before then), the "starts in 15 minutes" and
"recording ready" notifications (inbox and push), and the "recording is ready" e-mail. Every process
runs the job; the webinar_mail_log primary key and the notifications' unique key make each one once.

A pass costs what is due, not the audience: each stage asks the store in one query for the
registrants it has not handled yet (an anti-join on webinar_mail_log), and a registrant is logged as
handled even when their preferences want no e-mail, so nobody is looked at twice. A webinar of
5,000 registrants costs its 5,000 rows once per stage, not once per pass (every second).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Select, exists, select

from realtime.broker.base import Broker
from recordings.archive.schema import recordings
from rooms import metrics
from rooms.mail.schema import notification_addresses
from rooms.mail.store import outbox_row
from rooms.models import Member
from rooms.notifications.email import unsubscribe_headers
from rooms.notifications.jobs import Pokeable
from rooms.notifications.live import publish_to_member
from rooms.notifications.models import Channel, Kind, Preferences
from rooms.notifications.notifier import Active, add_channels
from rooms.notifications.settings import NotificationSettings
from rooms.notifications.store import NotificationStores
from rooms.notifications.store.schema import webinar_mail_log
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
# Recordings of webinars that started longer ago than this are not announced (a deployment that
# turns the feature on does not mail everyone about every old recording).
RECORDING_NEWS = timedelta(days=30)
BATCH = 500   # registrants handled per stage and pass; the next pass takes the rest


@dataclass(frozen=True)
class Due:
    """One registrant a stage has not handled yet."""

    webinar: Webinar
    member: Member
    registered_at: datetime
    address: str | None          # verified only
    recording_id: int | None = None
    recording_title: str = ""


def _due(kind: str, *when) -> Select:
    """Registrants of webinars matching `when` whom stage `kind` has not handled (any process)."""
    handled = exists().where(webinar_mail_log.c.webinar_id == webinars.c.id,
                             webinar_mail_log.c.member_id == members.c.id, webinar_mail_log.c.kind == kind)
    return (select(*webinars.c, members.c.id.label("member_id"), members.c.username, members.c.display_name,
                   webinar_registrations.c.registered_at, notification_addresses.c.email,
                   notification_addresses.c.verified_at)
            .join(webinar_registrations, webinar_registrations.c.webinar_id == webinars.c.id)
            .join(members, members.c.id == webinar_registrations.c.member_id)
            .outerjoin(notification_addresses, notification_addresses.c.member_id == members.c.id)
            .where(*when, ~handled)
            .order_by(webinars.c.id, members.c.id)
            .limit(BATCH))


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
        await Pokeable(self.settings.job_interval_s, self.settings.job_idle_max_s).every_pass(
            self.pass_once, "webinar mail")

    async def pass_once(self) -> int:
        now = utcnow()
        scheduled = webinars.c.state == "scheduled"
        done = 0
        for due in await self._read(_due("registered", scheduled, webinars.c.ends_at > now)):
            done += await self._registered(due, now)
        for due in await self._read(_due("reminder.24h", scheduled, webinars.c.starts_at > now + SOON,
                                         webinars.c.starts_at <= now + DAY)):
            done += await self._day_before(due)
        for due in await self._read(_due("starting", scheduled, webinars.c.starts_at > now,
                                         webinars.c.starts_at <= now + SOON)):
            done += await self._starting(due, now)
        ready = (_due("recording.ready", webinars.c.starts_at > now - RECORDING_NEWS)
                 .add_columns(recordings.c.id.label("recording_id"), recordings.c.title.label("recording_title"))
                 .join(recordings, recordings.c.webinar_id == webinars.c.id)
                 .where(recordings.c.state == "ready"))
        for due in await self._read(ready):
            done += await self._recording(due, now)
        return done

    async def _read(self, stmt: Select) -> list[Due]:
        async with self.stores.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [Due(webinar=webinar_from_row(row),
                    member=Member(id=row.member_id, username=row.username, display_name=row.display_name),
                    registered_at=row.registered_at, address=row.email if row.verified_at is not None else None,
                    recording_id=getattr(row, "recording_id", None),
                    recording_title=getattr(row, "recording_title", "") or "")
                for row in rows]

    # The stages. Each ends in `_once`, which logs the stage as handled for this registrant in the same
    # transaction as whatever it queues; a registrant who wants no e-mail is logged all the same.

    async def _registered(self, due: Due, now: datetime) -> int:
        prefs = await self.nstores.preferences.get(due.member.id)
        _ = gettext_for(prefs.language)
        webinar, member = due.webinar, due.member
        link = f"{self.settings.public_url}/webinars/{webinar.id}"
        mail = None
        if self._wants_mail(due, prefs, Kind.WEBINAR_STARTING):
            ics = calendar(webinar, domain=urlsplit(self.settings.public_url).hostname or "convene",
                           url=link, now=now)
            subject = "[Convene] " + _("You are registered: %(webinar)s") % {"webinar": webinar.title}
            body = [_("Hello %(name)s,") % {"name": member.display_name},
                    _("You are registered for %(webinar)s, on %(when)s UTC. The invitation is attached.")
                    % {"webinar": webinar.title, "when": f"{webinar.starts_at:%Y-%m-%d %H:%M}"}]
            mail = self._mail_row(due, "registered", subject, body, link, prefs.language,
                                  attachments=[{"name": f"webinar-{webinar.id}.ics",
                                                "content_type": "text/calendar", "text": ics}])
        return await self._once(due, "registered", mail)

    async def _day_before(self, due: Due) -> int:
        webinar, member = due.webinar, due.member
        mail = None
        # Only for those who registered before the day began: a later registrant just got the confirmation.
        if due.registered_at < webinar.starts_at - DAY:
            prefs = await self.nstores.preferences.get(member.id)
            if self._wants_mail(due, prefs, Kind.WEBINAR_STARTING):
                _ = gettext_for(prefs.language)
                subject = "[Convene] " + _("Tomorrow: %(webinar)s") % {"webinar": webinar.title}
                body = [_("Hello %(name)s,") % {"name": member.display_name},
                        _("%(webinar)s starts on %(when)s UTC.") % {"webinar": webinar.title,
                                                                  "when": f"{webinar.starts_at:%Y-%m-%d %H:%M}"}]
                mail = self._mail_row(due, "reminder.24h", subject, body,
                                      f"{self.settings.public_url}/webinars/{webinar.id}", prefs.language)
        return await self._once(due, "reminder.24h", mail)

    async def _starting(self, due: Due, now: datetime) -> int:
        webinar, member = due.webinar, due.member
        prefs = await self.nstores.preferences.get(member.id)
        mail = None
        if self._wants_mail(due, prefs, Kind.WEBINAR_STARTING):
            _ = gettext_for(prefs.language)
            subject = "[Convene] " + _("%(webinar)s starts in 15 minutes") % {"webinar": webinar.title}
            mail = self._mail_row(due, "reminder.15m", subject,
                                  [_("Hello %(name)s,") % {"name": member.display_name}, subject[10:]],
                                  f"{self.settings.public_url}/webinars/{webinar.id}/live", prefs.language)
        return await self._once(due, "starting", mail, Kind.WEBINAR_STARTING, f"/webinars/{webinar.id}/live",
                                prefs=prefs, now=now)

    async def _recording(self, due: Due, now: datetime) -> int:
        member = due.member
        prefs = await self.nstores.preferences.get(member.id)
        link = f"{self.settings.public_url}/recordings/{due.recording_id}"
        mail = None
        if self._wants_mail(due, prefs, Kind.RECORDING_READY):
            _ = gettext_for(prefs.language)
            subject = "[Convene] " + _("The recording of %(webinar)s is ready") % {"webinar": due.recording_title}
            mail = self._mail_row(due, "recording.ready", subject,
                                  [_("Hello %(name)s,") % {"name": member.display_name}, subject[10:]],
                                  link, prefs.language)
        return await self._once(due, "recording.ready", mail, Kind.RECORDING_READY,
                                f"/recordings/{due.recording_id}", {"recording": due.recording_id},
                                prefs=prefs, now=now)

    @staticmethod
    def _wants_mail(due: Due, prefs: Preferences, kind: Kind) -> bool:
        return due.address is not None and prefs.wants(kind, Channel.EMAIL)

    def _mail_row(self, due: Due, kind: str, subject: str, paragraphs: list[str], link: str, language: str,
                  attachments: list[dict] | None = None) -> dict:
        _ = gettext_for(language)
        unsubscribe = f"{self.settings.public_url}/unsubscribe/{self.tokens.unsubscribe(due.member.id, 'webinar')}"
        mail = simple_email(subject, paragraphs, (_("Open in Convene"), link), language,
                            [(_("Stop webinar e-mails"), unsubscribe)])
        parts = {"html": mail.html, "headers": unsubscribe_headers(unsubscribe)}
        if attachments:
            parts["attachments"] = attachments
        assert due.address is not None
        return outbox_row(due.member.id, due.address, mail.subject, mail.text, f"webinar.{kind}", parts)

    async def _once(self, due: Due, stage: str, mail: dict | None, kind: Kind | None = None, url: str = "",
                    extra: dict | None = None, *, prefs: Preferences | None = None,
                    now: datetime | None = None) -> int:
        """Logs the stage as handled for this registrant, with its e-mail and (for `kind`) its inbox entry
        and push, in one transaction; answers 1 if this call did it, 0 if another process had."""
        webinar, member = due.webinar, due.member
        made: list = []

        async def notify(conn) -> None:
            if kind is None:
                return
            ids = await self.nstores.inbox.create_in(conn, [dict(
                member_id=member.id, kind=kind.value, room_id=webinar.room_id, seq=0, actor_id=None, excerpt="",
                data={"webinar": webinar.id, "title": webinar.title, "url": url, **(extra or {})},
                created_at=now)])
            made.extend(await self.nstores.inbox.get_many(ids, conn))
            await add_channels(conn, self.nstores, self.settings, made, {member.id: prefs},
                               await self.active([member.id]), now)

        if not await self.nstores.webinar_mail.once(webinar.id, member.id, stage, [mail] if mail else [],
                                                    also=notify):
            return 0
        if mail is not None:
            metrics.emails_batched.labels("webinar").inc()
        for notification in made:
            metrics.notifications_created.labels(notification.kind.value).inc()
            unread, _ = await self.nstores.inbox.counts(member.id)
            await publish_to_member(self.broker, member.id, {"type": "notification",
                                                             "notification": notification.public(), "unread": unread})
        return 1
