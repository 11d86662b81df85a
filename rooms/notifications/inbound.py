"""Reply by e-mail: an SMTP receiver (aiosmtpd) that posts a reply to a notification into its conversation.

`python -m rooms.notifications.inbound` (the Procfile's `mail` process) listens on INBOUND_SMTP_PORT.
Mail is accepted only for a reply address whose signed token names a member, a room and the message
replied to, has not expired, and whose member still belongs to the room; anything else is refused
during the SMTP conversation (550), as is mail over INBOUND_MAX_BYTES (552) or with nothing left once
quotes and signature are stripped (550). The reply is posted through the chat service like any
message, as a reply to the message the e-mail was about, with a client id derived from the
Message-ID, so a retried delivery posts once.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import logging
import signal
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Envelope, Session

from realtime.broker import open_broker
from realtime.settings import Settings
from rooms import metrics
from rooms.conversations.compose import Composer
from rooms.conversations.formatting import ChatFormatter
from rooms.errors import ConveneError
from rooms.management import RoomService
from rooms.notifications.quoting import body_text, reply_text
from rooms.notifications.settings import NotificationSettings
from rooms.notifications.tokens import ReplyTarget, Tokens
from rooms.service import ChatService
from rooms.store import Stores

log = logging.getLogger(__name__)


def client_id_for(message_id: str, target: ReplyTarget) -> str:
    """The same mail delivered twice has the same Message-ID, hence the same client id: one message."""
    digest = hashlib.sha256(f"{message_id.strip()}|{target.room_id}".encode()).hexdigest()[:40]
    return f"mail:{digest}"


class ReplyHandler:
    """aiosmtpd's handler: checks recipients as they are named, and posts at DATA."""

    def __init__(self, stores: Stores, chat: ChatService, tokens: Tokens, settings: NotificationSettings) -> None:
        self.stores = stores
        self.chat = chat
        self.tokens = tokens
        self.settings = settings

    def _target(self, address: str) -> ReplyTarget | None:
        return self.tokens.read_reply(address, self.settings.inbound_domain, self.settings.reply_token_max_age_s)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        target = self._target(address)
        if target is None:
            metrics.inbound_mail.labels("refused").inc()
            return "550 5.1.1 No such reply address"
        membership = await self.stores.memberships.get(target.room_id, target.member_id)
        if membership is None:
            metrics.inbound_mail.labels("refused").inc()
            return "550 5.7.1 Not a member of this conversation"
        if envelope.rcpt_tos:
            return "452 4.5.3 One reply address per message"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if len(content) > self.settings.inbound_max_bytes:
            metrics.inbound_mail.labels("refused").inc()
            return "552 5.3.4 Message too big"
        target = self._target(envelope.rcpt_tos[0]) if envelope.rcpt_tos else None
        if target is None:
            return "554 5.5.1 No valid recipients"
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        text = reply_text(body_text(message))
        if not text:
            metrics.inbound_mail.labels("refused").inc()
            return "550 5.6.0 The reply is empty once quoted text is removed"
        member = await self.stores.accounts.get(target.member_id)
        if member is None:
            return "550 5.1.1 No such member"
        message_id = str(message.get("Message-ID") or "") or hashlib.sha256(content).hexdigest()
        try:
            event, created = await self.chat.send(member, target.room_id, client_id_for(message_id, target),
                                                  text[: self.chat.max_body_chars], reply_to=target.seq)
        except ConveneError as error:
            metrics.inbound_mail.labels("refused").inc()
            return f"550 5.7.1 {error.message}"
        metrics.inbound_mail.labels("accepted").inc()
        log.info("reply by e-mail from member %s posted in room %s as seq %s%s", member.id, target.room_id,
                 event.seq, "" if created else " (a repeat delivery)")
        return "250 OK"


async def serve(settings: Settings, nsettings: NotificationSettings) -> None:
    stores = Stores.open(settings.sqlalchemy_url, settings.sqlite_synchronous)
    broker = open_broker(settings.redis_url)
    await broker.connect()
    rooms = RoomService(stores)
    # Formatted and threaded like a reply typed in the app (the same composer as the web process).
    chat = ChatService(stores, rooms, broker, max_body_chars=settings.max_body_chars,
                       composer=Composer(stores, ChatFormatter(settings.render_timeout_s)))
    handler = ReplyHandler(stores, chat, Tokens(settings.secret_key), nsettings)
    loop = asyncio.get_running_loop()
    # In this loop (not aiosmtpd's Controller thread): the store and broker belong to it.
    server = await loop.create_server(
        lambda: SMTP(handler, data_size_limit=nsettings.inbound_max_bytes, decode_data=False,
                     hostname=nsettings.inbound_domain),
        host=nsettings.inbound_host, port=nsettings.inbound_port)
    log.info("reply-by-e-mail receiver on %s:%s", nsettings.inbound_host, nsettings.inbound_port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        chat.composer.formatter.close()
        await broker.disconnect()
        await stores.db.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(Settings.from_env(), NotificationSettings.from_env()))


if __name__ == "__main__":
    main()
