"""Notification e-mails: missed mentions and conversation messages batched per member, through the outbox.

An entry waits in notification_emails until due (the member's timing, moved past their quiet hours;
emergency alerts are due at once). When one of a member's entries is due, every entry of theirs due
by then goes out in one e-mail, without those the member has read meanwhile (the read marker moved
past them, or the notification was marked read). Each e-mail has a link to each message, a one-click
unsubscribe (RFC 8058) that needs no session, and, for a single message, a reply address.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from rooms import metrics
from rooms.notifications.jobs import Pokeable
from rooms.mail.store import OutboxStore, outbox_row
from rooms.notifications.models import Notification
from rooms.notifications.settings import NotificationSettings
from rooms.notifications.store import NotificationStores
from rooms.notifications.texts import batch_email
from rooms.notifications.tokens import ReplyTarget, Tokens
from rooms.store import Stores
from rooms.store.schema import utcnow

log = logging.getLogger(__name__)

UNSUBSCRIBE_ALL = "notifications"


def unsubscribe_headers(url: str) -> dict[str, str]:
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


class EmailBatcher:
    def __init__(self, stores: Stores, nstores: NotificationStores, outbox: OutboxStore, tokens: Tokens,
                 settings: NotificationSettings) -> None:
        self.stores = stores
        self.nstores = nstores
        self.outbox = outbox
        self.tokens = tokens
        self.settings = settings
        self.jobs = Pokeable(settings.job_interval_s, settings.job_idle_max_s)
        self.poke = self.jobs.poke

    async def run(self) -> None:
        await self.jobs.every_pass(self._pass, "notification e-mail")

    async def _pass(self) -> int:
        queued = await self.drain()
        metrics.emails_pending.set(await self.nstores.emails.pending())
        return queued

    async def drain(self) -> int:
        """Takes the batches due now. Answers how many e-mails were queued."""
        queued = 0
        now = utcnow()
        for member_id in await self.nstores.emails.members_due(now):
            prefs = await self.nstores.preferences.get(member_id)
            # Everything that would be due within the member's interval goes in this e-mail too, unless
            # quiet hours hold it back (an alert may be due in the middle of them).
            horizon = now if prefs.quiet_at(now) else now + timedelta(
                seconds=self.settings.email_delay(prefs.email_timing))
            member = await self.stores.accounts.get(member_id)
            address = await self.outbox.address(member_id)
            if member is None or address is None:
                await self.nstores.emails.drop_for(member_id)
                continue

            async def compose(unread: list[Notification]) -> list[dict]:
                return [self.compose(member.id, member.display_name, address, prefs.language, unread)]

            taken = await self.nstores.emails.take_batch(member_id, horizon, compose)
            if taken is None:
                continue
            sent, skipped = taken
            if sent:
                queued += 1
                metrics.emails_batched.labels("sent").inc(sent)
            if skipped:
                metrics.emails_batched.labels("read").inc(skipped)
        return queued

    def compose(self, member_id: int, name: str, address: str, language: str,
                unread: list[Notification]) -> dict:
        base = self.settings.public_url
        unsubscribe = f"{base}/unsubscribe/{self.tokens.unsubscribe(member_id, UNSUBSCRIBE_ALL)}"
        reply_to = None
        if len(unread) == 1 and unread[0].seq:
            reply_to = self.tokens.reply_address(ReplyTarget(member_id, unread[0].room_id, unread[0].seq),
                                                 self.settings.inbound_domain)
        mail = batch_email(name, unread, language, base, unsubscribe, f"{base}/settings/notifications", reply_to)
        parts = {"html": mail.html, "headers": unsubscribe_headers(unsubscribe)}
        if reply_to:
            parts["reply_to"] = reply_to
        return outbox_row(member_id, address, mail.subject, mail.text, "notification", parts)
