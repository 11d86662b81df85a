"""Messages typed with no link, and edits and deletions made with none, are kept, survive the tab being
closed, and go out exactly once, in order."""

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


def test_edits_and_deletions_made_offline_are_applied_once_after_reopening(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    priya = new_person(browser, site, "Priya")
    kofi = new_person(browser, site, "Kofi")
    people += [priya, kofi]
    room_id = priya.create_room("Outreach notes")
    kofi.join(room_id)
    page = priya.page
    page.goto(f"/rooms/{room_id}")
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    for body in ["meeting at 10", "bring the forms", "typo messagge"]:
        page.fill("#body", body)
        page.keyboard.press("Enter")
    expect(page.locator("#messages li[data-seq]")).to_have_count(3)
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null")
    kofi.page.goto(f"/rooms/{room_id}")
    expect(kofi.page.locator("#messages li[data-seq]")).to_have_count(3)

    priya.context.set_offline(True)
    expect(page.locator("#room")).to_have_attribute("data-conn", "offline")
    first = page.locator("#messages li[data-seq]").nth(0)
    first.locator("[data-action=edit]").click()
    page.fill("#body", "meeting at 11")
    page.keyboard.press("Enter")
    expect(first.locator(".body")).to_have_text("meeting at 11")
    expect(first.locator(".status")).to_have_text("Change waiting to send")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#messages li[data-seq]").nth(2).locator("[data-action=delete]").click()
    expect(page.locator("#messages li[data-seq]").nth(2).locator(".status")).to_have_text("Deletion waiting to send")
    page.close()

    # Reopened with no link: the queued changes are still there, and go out once the link is back.
    page = priya.context.new_page()
    page.goto(f"/rooms/{room_id}")
    expect(page.locator("#messages li[data-seq]").nth(0).locator(".status")).to_have_text("Change waiting to send")
    priya.context.set_offline(False)
    for reader in (page, kofi.page):
        expect(reader.locator("#messages li[data-seq] .body")).to_have_text(
            ["meeting at 11", "bring the forms", "Message deleted"])
    expect(page.locator("#messages .status")).to_have_count(0)
    page.reload()
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    page.wait_for_timeout(500)
    history = priya.api("GET", f"/api/rooms/{room_id}/messages")["messages"]
    assert [m["body"] for m in history] == ["meeting at 11", "bring the forms", ""]
    # One edit and one deletion, whatever was resent: the room's sequence is 3 messages + 2 changes.
    assert priya.api("GET", f"/api/rooms/{room_id}")["last_seq"] == 5
