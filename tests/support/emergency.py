"""Test helpers for emergency rooms: an emergency with members from several organisations, and an SMTP sink."""

from __future__ import annotations

import asyncio
import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.client import Api
from tests.support.services import free_port


async def responders(base_urls: list[str], organisations: list[str]) -> list[Api]:
    """One member per organisation, registered on the given servers in turn, with their organisation set."""
    people = []
    for i, organisation in enumerate(organisations):
        api = await Api.register(base_urls[i % len(base_urls)])
        response = await api.http.patch("/api/me", json={"organisation": organisation})
        assert response.status_code == 200, response.text
        people.append(api)
    return people


async def open_emergency(coordinator: Api, members: list[Api], name: str = "Typhoon response",
                         areas: list[dict] | None = None) -> int:
    response = await coordinator.http.post("/api/emergencies", json={
        "name": name, "region": "Eastern Visayas", "started_on": "2026-11-01",
        "areas": areas if areas is not None else [{"country": "PH", "admin_area": "Leyte"}]})
    assert response.status_code == 201, response.text
    room = response.json()["id"]
    for member in members:
        added = await coordinator.http.post(f"/api/emergencies/{room}/members", json={"member_id": member.id})
        assert added.status_code == 204, added.text
    return room


@dataclass
class Inbox:
    """What a local aiosmtpd server received, by recipient."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:   # aiosmtpd handler hook
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    async def wait_for(self, address: str, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.to(address)) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{len(self.to(address))} e-mails to {address}, expected {count}")
            await asyncio.sleep(0.1)
        return self.to(address)


class SmtpSink:
    """A real SMTP server on a free local port (aiosmtpd), in its own thread."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def env(self) -> dict[str, str]:
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port), "SMTP_FROM": "convene@example.org"}

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
