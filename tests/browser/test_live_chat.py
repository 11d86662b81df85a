"""Two members on two phones: live messages, presence and typing, as each of them sees it."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import Person, new_person
from tests.support.services import ServerProcess


def open_room(person: Person, room_id: int) -> None:
    person.page.goto(f"/rooms/{room_id}")
    expect(person.page.locator("#room")).to_have_attribute("data-conn", "online")


def test_two_members_chat_live_and_see_presence_and_typing(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    amina = new_person(browser, site, "Amina W.")
    tomas = new_person(browser, site, "Tomás R.")
    people += [amina, tomas]
    room_id = amina.create_room("Field coordination")
    tomas.join(room_id)

    open_room(amina, room_id)
    open_room(tomas, room_id)
    expect(amina.page.locator("#present")).to_contain_text("Tomás R.")
    expect(tomas.page.locator("#present")).to_contain_text("Amina W.")

    tomas.page.locator("#body").press_sequentially("Is the clinic ", delay=20)
    expect(amina.page.locator("#typing")).to_contain_text("Tomás R. is typing")
    tomas.page.locator("#body").press_sequentially("open today?")
    tomas.page.keyboard.press("Enter")

    for person in (amina, tomas):
        last = person.page.locator("#messages li[data-seq]").last
        expect(last.locator(".body")).to_have_text("Is the clinic open today?")
        expect(last.locator(".who")).to_have_text("Tomás R.")
    expect(amina.page.locator("#typing")).to_have_text("")

    amina.page.fill("#body", "Yes, until 16:00")
    amina.page.keyboard.press("Enter")
    expect(tomas.page.locator("#messages li[data-seq]").last.locator(".body")).to_have_text("Yes, until 16:00")
    expect(tomas.page.locator("#messages li[data-seq]")).to_have_count(2)
    # Screen readers hear who wrote what, through a live region.
    announce = tomas.page.locator("#announce")
    expect(announce).to_have_attribute("aria-live", "polite")
    expect(announce).to_have_text("New message from Amina W.: Yes, until 16:00")

    tomas.page.close()
    expect(amina.page.locator("#present")).not_to_contain_text("Tomás R.")
    assert not amina.errors
