"""Draining the e-mail outbox over SMTP (SMTP_HOST, SMTP_PORT, SMTP_FROM); without SMTP_HOST mail waits.

Any process may drain: each e-mail is claimed in the database first, and a claim that is
not completed (the process died mid-send) expires, so the e-mail is sent later by
someone: at least once, never lost. The Message-ID stays the same on a resend, so mail
clients show a duplicate once.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage

from rooms import metrics
from rooms.mail.settings import MailSettings
from rooms.mail.store import Mail, OutboxStore
from rooms.store.schema import utcnow

log = logging.getLogger(__name__)


class Mailer:
    def __init__(self, store: OutboxStore, settings: MailSettings) -> None:
        self.store = store
        self.settings = settings

    @property
    def configured(self) -> bool:
        return bool(self.settings.smtp_host)

    async def drain(self) -> int:
        """Sends what this process can claim now. Answers how many were sent."""
        if not self.configured:
            return 0
        sent = 0
        for mail in await self.store.claim(self.settings.outbox_claim_s, self.settings.outbox_max_attempts):
            try:
                await asyncio.to_thread(self._send, mail)
            except (OSError, smtplib.SMTPException) as error:
                retry_at = utcnow() + timedelta(seconds=min(3600, 30 * 2 ** mail.attempts))
                # Never the address (nor the server's reply, which often quotes it).
                log.warning("outbox mail %s failed (attempt %s): %s", mail.id, mail.attempts, type(error).__name__)
                await self.store.failed(mail.id, repr(error), retry_at)
                continue
            await self.store.sent(mail.id)
            metrics.emails_sent.inc()
            sent += 1
        return sent

    def _send(self, mail: Mail) -> None:
        with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=30) as smtp:
            smtp.send_message(compose(mail, self.settings.smtp_from))


def compose(mail: Mail, sender: str) -> EmailMessage:
    """The e-mail as sent: plain text, with an HTML alternative and attachments when the row has them."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Message-ID"] = f"<outbox-{mail.id}@convene>"   # the same on a resend, so clients can dedupe
    parts = mail.parts or {}
    if parts.get("reply_to"):
        message["Reply-To"] = parts["reply_to"]
    for name, value in (parts.get("headers") or {}).items():
        message[name] = value
    message.set_content(mail.body)
    if parts.get("html"):
        message.add_alternative(parts["html"], subtype="html")
    for attachment in parts.get("attachments") or ():
        maintype, _, subtype = attachment["content_type"].partition("/")
        message.add_attachment(attachment["text"].encode(), maintype=maintype, subtype=subtype,
                               filename=attachment["name"])
    return message
