"""The installed app opens with no link at all and shows what the member last saw."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import Person, new_person
from tests.support.services import ServerProcess


def test_a_room_seen_online_opens_offline_with_its_last_messages(
        browser: Browser, own_site: ServerProcess, people: list[Person]) -> None:
    layla = new_person(browser, own_site, "Layla")
    sam = new_person(browser, own_site, "Sam")
    people += [layla, sam]
    room_id = layla.create_room("Night shift")
    sam.join(room_id)
    page = layla.page
    page.goto("/rooms")
    page.click(f'a[href="/rooms/{room_id}"]')
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    page.fill("#body", "handover at 22:00")
    page.keyboard.press("Enter")
    expect(page.locator("#messages li[data-seq]")).to_have_count(1)

    # Arrives live, after the page was rendered: only the device's saved copy can know it.
    sam.page.goto(f"/rooms/{room_id}")
    sam.page.fill("#body", "ok, I'll bring the keys")
    sam.page.keyboard.press("Enter")
    expect(page.locator("#messages li[data-seq]")).to_have_count(2)
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.wait_for_function("caches.open('convene-pages').then(c => c.match(location.href)).then(Boolean)")
    manifest = page.evaluate("fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())")
    assert manifest["start_url"] == "/rooms" and manifest["display"] == "standalone"

    # No link at all: the browser is offline and the server is gone.
    layla.context.set_offline(True)
    own_site.stop()
    page.reload()
    expect(page.locator("h1")).to_have_text("Night shift")
    expect(page.locator("#messages li[data-seq] .body")).to_have_text(
        ["handover at 22:00", "ok, I'll bring the keys"])
    expect(page.locator("#conn-state")).not_to_have_text("Online")
    page.goto("/rooms")
    expect(page.locator("#your-rooms")).to_contain_text("Night shift")
