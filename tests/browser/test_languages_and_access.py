"""Languages (Arabic right to left, French by choice, Spanish from the browser), the main screens at
360 px saved as screenshots, axe-core on each, and the room used with the keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Person, new_person, run_axe, screenshot
from tests.support.services import ServerProcess

SCREENS = ["rooms", "room", "dms", "profile", "members", "settings"]


def set_the_scene(browser: Browser, site: ServerProcess, people: list[Person], locale: str) -> tuple[Person, dict]:
    """A member with a room, a conversation with unread messages and a mention: every screen has content."""
    me = new_person(browser, site, "Amina W." if locale == "en-GB" else "أمينة و.", locale=locale, width=360)
    friend = new_person(browser, site, "Tomás R.")
    people += [me, friend]
    room_id = me.create_room("Community health workers" if locale == "en-GB" else "العاملون الصحيون")
    friend.join(room_id)
    me.api("PATCH", "/api/me", {"organisation": "MSF", "country": "LB", "languages": ["ar", "en", "fr"],
                                "bio": "Psychologist, Beirut."})
    friend.page.goto(f"/rooms/{room_id}")
    for body in ["Good morning, everyone", f"@{me.username} can you share the referral form?", "Thank you 🙏"]:
        friend.page.fill("#body", body)
        friend.page.keyboard.press("Enter")
    expect(friend.page.locator("#messages li[data-seq]")).to_have_count(3)
    dm_id = friend.api("POST", "/api/dms", {"members": [me.id]})["id"]
    friend.page.goto(f"/rooms/{dm_id}")
    friend.page.fill("#body", "Are you free for supervision on Thursday?")
    friend.page.keyboard.press("Enter")
    expect(friend.page.locator("#messages li[data-seq]")).to_have_count(1)
    return me, {"rooms": "/rooms", "room": f"/rooms/{room_id}", "dms": "/dms", "profile": f"/members/{me.id}",
                "members": "/members", "settings": "/settings"}


def show(page: Page, url: str) -> None:
    page.goto(url)
    if url.startswith("/rooms/"):
        expect(page.locator("#room")).to_have_attribute("data-conn", "online")
        page.wait_for_timeout(300)   # presence and who answers settle


@pytest.mark.parametrize("locale", ["en-GB", "ar"])
def test_main_screens_at_360px_have_no_serious_accessibility_violations(
        browser: Browser, site: ServerProcess, people: list[Person], locale: str) -> None:
    me, screens = set_the_scene(browser, site, people, locale)
    page = me.page
    found = {}
    for name in SCREENS:
        show(page, screens[name])
        expected = "rtl" if locale == "ar" else "ltr"
        assert page.evaluate("document.documentElement.dir") == expected
        assert page.evaluate("getComputedStyle(document.body).direction") == expected
        screenshot(page, f"{locale[:2]}-{name}-360")
        found[name] = run_axe(page)
    assert found == {name: [] for name in SCREENS}
    assert not me.errors


def test_arabic_renders_right_to_left(browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    me, screens = set_the_scene(browser, site, people, "ar")
    page = me.page
    show(page, screens["room"])
    assert page.evaluate("document.documentElement.lang") == "ar"
    expect(page.locator("#conn-state")).to_have_text("متصل")
    expect(page.locator(".tabs a").first).to_have_text("الغرف")
    # Right to left: the first tab sits at the right edge, the composer's button left of the text box.
    first_tab, last_tab = page.locator(".tabs a").first.bounding_box(), page.locator(".tabs a").last.bounding_box()
    assert first_tab["x"] > last_tab["x"]
    send_box, text_box = page.locator("#composer button[type=submit]").bounding_box(), page.locator("#body").bounding_box()
    assert send_box["x"] < text_box["x"]
    # The mention of this member is highlighted; times are in the reader's language and time zone.
    expect(page.locator("#messages .mention.me")).to_have_text(f"@{me.username}")
    expect(page.locator("#messages li.mentions-me")).to_have_count(1)
    assert page.locator("#messages time").first.inner_text() != ""


def test_language_from_the_settings_page_or_the_browser(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    spanish = new_person(browser, site, "Lucía", locale="es-MX")
    people.append(spanish)
    expect(spanish.page.locator("h1")).to_have_text("Salas")
    assert spanish.page.evaluate("document.documentElement.lang") == "es"

    spanish.page.goto("/settings")
    spanish.page.select_option("#language", "fr")
    spanish.page.check("input[name=low_bandwidth]")
    spanish.page.click("#settings button[type=submit]")
    expect(spanish.page.locator("h1")).to_have_text("Réglages")
    expect(spanish.page.locator(".saved")).to_have_text("Enregistré.")
    assert spanish.page.evaluate("document.body.dataset.lite") == "true"
    spanish.page.goto("/rooms")
    expect(spanish.page.locator("h1")).to_have_text("Salons")
    # Low-bandwidth mode asks the server for a compression context of its own, and chats as usual.
    room_id = spanish.create_room("Sala lenta")
    with spanish.page.expect_websocket() as socket:
        spanish.page.goto(f"/rooms/{room_id}")
    assert "compression=context" in socket.value.url
    expect(spanish.page.locator("#room")).to_have_attribute("data-conn", "online")
    spanish.page.fill("#body", "Mensaje con poco ancho de banda")
    spanish.page.keyboard.press("Enter")
    expect(spanish.page.locator("#messages li[data-seq]").last.locator(".body")).to_have_text(
        "Mensaje con poco ancho de banda")


def test_a_room_is_usable_with_the_keyboard_alone(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    me = new_person(browser, site, "Keyboard user")
    people.append(me)
    room_id = me.create_room("Keyboard room")
    page = me.page
    page.goto("/rooms")
    # From the top of the room list, Tab reaches the room's link; Enter opens it.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == f"/rooms/{room_id}":
            break
    else:
        pytest.fail("the room link is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    page.keyboard.press("Tab")   # the skip link comes first
    assert page.evaluate("document.activeElement.className") == "skip"
    for _ in range(40):
        if page.evaluate("document.activeElement.id") == "body":
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("the message box is not reachable with Tab")
    page.keyboard.type("typed without a mouse")
    page.keyboard.press("Enter")
    expect(page.locator("#messages li[data-seq] .body")).to_have_text(["typed without a mouse"])
    # The own message's Edit button is reachable backwards from the composer, and edits in place.
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.dataset.action") == "edit":
            break
    else:
        pytest.fail("Edit is not reachable with the keyboard")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "body"
    page.keyboard.press("Control+a")
    page.keyboard.type("edited without a mouse")
    page.keyboard.press("Enter")
    expect(page.locator("#messages li[data-seq] .body")).to_have_text(["edited without a mouse"])
    expect(page.locator("#messages li[data-seq] .edited")).to_have_count(1)
