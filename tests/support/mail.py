"""Mail helpers for tests: a member's address, verified by following the link mailed to it."""

from __future__ import annotations

import re
from email.message import EmailMessage

import httpx

from tests.support.client import Api
from tests.support.emergency import Inbox

LINK = re.compile(r"https?://\S+")


def links(mail: EmailMessage) -> list[str]:
    return LINK.findall(mail.get_body(preferencelist=("plain",)).get_content())


async def verified_address(api: Api, inbox: Inbox, address: str | None = None, forget: bool = False) -> str:
    """Sets the member's notification address and confirms it from the e-mail, as the member would
    (`forget`: the confirmation e-mail is then left out of the inbox, for tests that count e-mails)."""
    address = address or f"{api.member['username']}@example.org"
    response = await api.http.put("/api/me/notifications", json={"email": address})
    assert response.status_code == 200 and response.json() == {"email": address, "verified": False}, response.text
    mail = (await inbox.wait_for(address))[-1]
    verify = next(link for link in links(mail) if "/settings/email/verify/" in link)
    async with httpx.AsyncClient() as anonymous:   # the link works from any device, logged in or not
        assert (await anonymous.get(verify)).status_code == 200
    assert (await api.http.get("/api/me/notifications")).json() == {"email": address, "verified": True}
    if forget:
        inbox.messages.remove(mail)
    return address
