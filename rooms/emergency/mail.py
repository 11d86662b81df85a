"""Draining the e-mail outbox over SMTP (SMTP_HOST, SMTP_PORT, SMTP_FROM); without SMTP_HOST mail waits.

Any process may drain: each e-mail is claimed in the database first, and a claim that is
not completed (the process died mid-send) expires, so the e-mail is sent later by
someone: at least once, never lost.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage

from rooms.emergency.settings import EmergencySettings
from rooms.emergency.store.outbox import Mail, OutboxStore
from rooms.store.schema import utcnow

log = logging.getLogger(__name__)


class Mailer:
    def __init__(self, store: OutboxStore, settings: EmergencySettings) -> None:
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
            sent += 1
        return sent

    def _send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = mail.to_address
        message["Subject"] = mail.subject
        message["Message-ID"] = f"<outbox-{mail.id}@convene>"   # the same on a resend, so clients can dedupe
        message.set_content(mail.body)
        with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=30) as smtp:
            smtp.send_message(message)
