"""Reply by e-mail: the SMTP receiver (its own process, as in the Procfile) posts a reply to a notification
e-mail into the room once, without the quoted text, even when the mail is delivered twice; forged or expired
reply addresses, a member no longer in the room and oversized mail are refused during the SMTP dialogue."""

from __future__ import annotations

import asyncio
import hashlib
import os
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Iterator

import pytest
from itsdangerous import TimestampSigner

from tests.conftest import FAST, embedded_env
from tests.support.client import Api
from tests.support.emergency import SmtpSink
from tests.support.mail import verified_address
from tests.support.services import REPO_ROOT, ServerProcess, free_port, wait_until

DOMAIN = "reply.convene.test"
MAX_BYTES = 20_000


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def site(smtp: SmtpSink) -> Iterator[tuple[ServerProcess, int]]:
    """The web process and the `mail` process (python -m rooms.notifications.inbound) over one store."""
    port = free_port()
    env = embedded_env(Path(tempfile.mkdtemp(prefix="convene-reply-")), **smtp.env(),
                       EMERGENCY_JOB_INTERVAL_S="0.2", NOTIFY_JOB_INTERVAL_S="0.2",
                       NOTIFY_EMAIL_DELAYS_S="now=0.5,15min=0.5,hourly=0.5,daily=0.5",
                       INBOUND_MAIL_DOMAIN=DOMAIN, INBOUND_SMTP_HOST="127.0.0.1", INBOUND_SMTP_PORT=str(port),
                       INBOUND_MAX_BYTES=str(MAX_BYTES))
    web = ServerProcess(env=env)
    web.start()
    log = open(web.dir / "inbound.log", "wb")
    receiver = subprocess.Popen([sys.executable, "-m", "rooms.notifications.inbound"], cwd=REPO_ROOT,
                                env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)

    def listening() -> bool:
        assert receiver.poll() is None, (web.dir / "inbound.log").read_text()
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=1):
                return True
        except OSError:
            return False

    wait_until(listening, 20, "the reply-by-e-mail receiver")
    yield web, port
    receiver.terminate()
    receiver.wait(10)
    log.close()
    web.cleanup()


def reply(to: str, body: str, message_id: str, size: int = 0) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "tomas@example.org"
    mail["To"] = to
    mail["Subject"] = "Re: [Convene] a mention"
    mail["Message-ID"] = message_id
    mail.set_content(body + ("x" * size))
    return mail


def deliver(port: int, mail: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(mail)


async def mention_mail(site: tuple[ServerProcess, int], smtp: SmtpSink, private: bool = False):
    web, _ = site
    amina, tomas = await Api.register(web.url), await Api.register(web.url)
    address = await verified_address(tomas, smtp.inbox, forget=True)
    room = await amina.create_room("Supervision", visibility="private" if private else "public")
    if private:
        await amina.http.post(f"/api/rooms/{room}/invite", json={"member_id": tomas.id})
    assert (await tomas.join(room)).status_code == 200
    writer = await amina.connect(web.ws_url)
    await writer.subscribe(room)
    said = await writer.say(room, f"@{tomas.member['username']} could you send the notes from Tuesday?")
    mail = (await smtp.inbox.wait_for(address, timeout=10))[0]
    return amina, tomas, room, writer, said, mail


async def bodies(api: Api, room: int) -> list[tuple[int, str]]:
    messages = (await api.http.get(f"/api/rooms/{room}/messages")).json()["messages"]
    return [(m["sender"]["id"], m["body"]) for m in messages]


async def test_a_reply_is_posted_once_without_the_quoted_text(site, smtp):
    _, port = site
    amina, tomas, room, writer, said, mail = await mention_mail(site, smtp)
    to = mail["Reply-To"]
    assert to.startswith("reply+") and to.endswith("@" + DOMAIN) and len(to.split("@")[0]) <= 64
    text = ("Yes, I will send them tonight.\nThe second page is still missing.\n\n"
            f"On Mon, 7 Dec 2026 at 10:02, Convene <convene@example.org> wrote:\n"
            f"> @{tomas.member['username']} could you send the notes from Tuesday?\n> \n"
            "-- \nTomás, sent from the field\n")
    message = reply(to, text, "<reply-1@phone.example.org>")
    await asyncio.to_thread(deliver, port, message)
    posted = await writer.wait_for(lambda f: f["type"] == "message" and f.get("sender", {}).get("id") == tomas.id)
    assert posted["body"] == "Yes, I will send them tonight.\nThe second page is still missing."
    assert posted["reply_to"] == said["seq"]   # threaded under the message the e-mail was about
    await asyncio.to_thread(deliver, port, message)   # the same mail again (a retried delivery)
    await asyncio.sleep(1.5)
    assert await bodies(amina, room) == [
        (amina.id, f"@{tomas.member['username']} could you send the notes from Tuesday?"), (tomas.id, posted["body"])]
    await writer.close()


async def test_forged_expired_and_removed_are_refused_and_nothing_is_posted(site, smtp):
    web, port = site
    amina, tomas, room, writer, said, mail = await mention_mail(site, smtp, private=True)
    to = mail["Reply-To"]
    local, _, domain = to.partition("@")
    forged = local[:-4] + ("AAAA" if not local.endswith("AAAA") else "BBBB") + "@" + domain
    strangers = ["reply+1.1.1.x@" + DOMAIN, "someone@" + DOMAIN, local + "@elsewhere.example"]

    class Old(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 31 * 24 * 3600   # older than REPLY_TOKEN_MAX_AGE_S (30 days)

    old = Old(FAST["SECRET_KEY"], salt="convene.reply", sep=".", digest_method=hashlib.sha1)
    value = f"{tomas.id}.{room}.{said['seq']}"
    expired = f"reply+{old.sign(value).decode()}@{DOMAIN}"
    for address in [forged, expired, *strangers]:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            await asyncio.to_thread(deliver, port, reply(address, "Posted?", f"<{address}@x>"))
        assert refused.value.recipients[address][0] == 550, address

    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as too_big:
        await asyncio.to_thread(deliver, port, reply(to, "Long", "<big@x>", size=MAX_BYTES))
    assert too_big.value.smtp_code == 552

    assert (await amina.http.delete(f"/api/rooms/{room}/members/{tomas.id}")).status_code == 204
    with pytest.raises(smtplib.SMTPRecipientsRefused) as removed:
        await asyncio.to_thread(deliver, port, reply(to, "Am I still here?", "<removed@x>"))
    assert removed.value.recipients[to][0] == 550
    assert [sender for sender, _ in await bodies(amina, room)] == [amina.id]
    await writer.close()
