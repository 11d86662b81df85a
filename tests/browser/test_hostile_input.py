"""Markup typed by members (messages, names, room names) is shown as text and never runs."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Person, new_person
from tests.support.services import ServerProcess

NAME = '<img src=x onerror="window.__xss=3">Mallory'
ROOM = '<svg onload="window.__xss=4">Ops</svg>'
BODIES = [
    "<script>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=2">',
    '"><iframe src="javascript:window.__xss=5"></iframe> @someone <b>bold</b>',
]


def watch(page: Page) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def assert_nothing_ran(page: Page, dialogs: list[str]) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []
    assert page.locator("#messages img, #messages iframe, #messages script, #messages svg, #messages b").count() == 0


def test_markup_in_messages_names_and_room_names_is_shown_literally(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    mallory = new_person(browser, site, NAME)
    reader = new_person(browser, site, "Reader")
    people += [mallory, reader]
    room_id = mallory.create_room(ROOM)
    reader.join(room_id)
    reader_dialogs = watch(reader.page)
    reader.page.goto(f"/rooms/{room_id}")
    expect(reader.page.locator("#room")).to_have_attribute("data-conn", "online")

    mallory_dialogs = watch(mallory.page)
    mallory.page.goto(f"/rooms/{room_id}")
    for body in BODIES:
        mallory.page.fill("#body", body)
        mallory.page.keyboard.press("Enter")

    # Live delivery, rendered by chat.js.
    live = reader.page.locator("#messages li[data-seq]")
    expect(live.locator(".body")).to_have_text(BODIES)
    expect(live.first.locator(".who")).to_have_text(NAME)
    assert_nothing_ran(reader.page, reader_dialogs)
    assert_nothing_ran(mallory.page, mallory_dialogs)

    # History, rendered by the server, then the room list and the page title.
    reader.page.reload()
    expect(reader.page.locator("#messages li[data-seq] .body")).to_have_text(BODIES)
    expect(reader.page.locator("h1")).to_have_text(ROOM)
    assert_nothing_ran(reader.page, reader_dialogs)
    reader.page.goto("/rooms")
    expect(reader.page.locator(f'a[href="/rooms/{room_id}"] .name')).to_have_text(ROOM)
    assert reader.page.evaluate("typeof window.__xss") == "undefined"
    assert reader.page.locator("main img, main svg").count() == 0
    mallory.page.goto("/rooms")
    expect(mallory.page.locator(".me")).to_have_text(NAME)
    assert mallory.page.evaluate("typeof window.__xss") == "undefined"
    assert reader_dialogs == [] and mallory_dialogs == []
