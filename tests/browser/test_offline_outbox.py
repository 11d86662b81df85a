"""Messages typed with no link are kept, survive the tab being closed, and go out exactly once, in order."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import Person, new_person
from tests.support.services import ServerProcess

TYPED = ["first, typed on the bus", "second, still no signal", "third, nearly there"]


def test_messages_typed_offline_are_sent_once_in_order_after_closing_and_reopening(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    priya = new_person(browser, site, "Priya")
    kofi = new_person(browser, site, "Kofi")
    people += [priya, kofi]
    room_id = priya.create_room("Outreach team")
    kofi.join(room_id)
    kofi.page.goto(f"/rooms/{room_id}")
    expect(kofi.page.locator("#room")).to_have_attribute("data-conn", "online")

    page = priya.page
    page.goto(f"/rooms/{room_id}")
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    # Offline pages come from the service worker; wait until it controls this page.
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null")

    priya.context.set_offline(True)
    expect(page.locator("#room")).to_have_attribute("data-conn", "offline")
    for body in TYPED:
        page.fill("#body", body)
        page.keyboard.press("Enter")
    expect(page.locator("#messages li.pending")).to_have_count(3)
    page.close()

    # Reopened with no link at all: the page comes from the service worker, the outbox from storage.
    page = priya.context.new_page()
    page.goto(f"/rooms/{room_id}")
    expect(page.locator("#messages li.pending .body")).to_have_text(TYPED)
    expect(page.locator("#room")).not_to_have_attribute("data-conn", "online")

    priya.context.set_offline(False)
    expect(page.locator("#messages li.pending")).to_have_count(0)
    expect(page.locator("#messages li[data-seq] .body")).to_have_text(TYPED)
    expect(kofi.page.locator("#messages li[data-seq] .body")).to_have_text(TYPED)

    stored = priya.api("GET", f"/api/rooms/{room_id}/messages")["messages"]
    assert [m["body"] for m in stored] == TYPED
    assert len({m["client_id"] for m in stored}) == 3
    assert [m["seq"] for m in stored] == sorted(m["seq"] for m in stored)
    # Reloading online sends nothing again.
    page.reload()
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    page.wait_for_timeout(500)
    assert [m["body"] for m in priya.api("GET", f"/api/rooms/{room_id}/messages")["messages"]] == TYPED
    assert page.locator("#messages li.pending").count() == 0
