"""The web client's main screens at 1280 px and 360 px, light and dark, English and Arabic: none overflows
sideways on a phone, axe-core finds no serious or critical violation, and each is saved as a small PNG.

The room, the room list, the live webinar page (as its host and as an attendee) and the recording player.
The pictures go to test-artifacts/screenshots/client/; with CONVENE_SCREENSHOTS_TO_DOCS=1 they are also
written to docs/screenshots/client/, where docs/client.md shows them (that is how they were made).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import SCREENSHOTS, Person, new_person, run_axe, say
from tests.browser.test_recordings_browser import Archive, archive  # noqa: F401 (the package's one recording)
from tests.browser.test_web_client import StartWebinar, box, live_webinar, online  # noqa: F401 (a fixture)
from tests.support.services import REPO_ROOT, ServerProcess

SHOTS = SCREENSHOTS / "client"
DOCS = REPO_ROOT / "docs" / "screenshots" / "client"
WIDTHS = {1280: 800, 360: 740}   # width: height of the window
THEMES = ("light", "dark")
PALETTE = 96   # colours kept per picture: interface pictures lose nothing visible, and weigh a third


def save(page: Page, name: str) -> Path:
    """The window as the member sees it (not the whole page: the first screen is what matters), as a
    palette PNG."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    with Image.open(path) as picture:
        small = picture.convert("RGB").quantize(colors=PALETTE, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    if os.environ.get("CONVENE_SCREENSHOTS_TO_DOCS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / path.name)
    return path


WORDS = {
    "en-GB": {"host": "Amina Wanjiru", "guest": "Kofi Mensah", "room": "Psychological first aid",
              "webinar": "Helping the helpers: rest and supervision",
              "said": ["Good morning, everyone", "The referral form is in the pinned message",
                       "Thank you, that helps a lot 🙏"],
              "reply": "Welcome Kofi, glad you are here", "question": "How do we rest when the need does not stop?",
              "poll": "How rested do you feel this week?", "options": "Rested\nTired\nExhausted"},
    "ar": {"host": "أمينة وانجيرو", "guest": "كوفي منساه", "room": "الإسعافات الأولية النفسية",
           "webinar": "مساعدة المساعدين: الراحة والإشراف",
           "said": ["صباح الخير للجميع", "استمارة الإحالة في الرسالة المثبتة", "شكرا، هذا يساعد كثيرا 🙏"],
           "reply": "أهلا كوفي، سعداء بوجودك", "question": "كيف نرتاح عندما لا تتوقف الحاجة؟",
           "poll": "ما مدى شعورك بالراحة هذا الأسبوع؟", "options": "مرتاح\nمتعب\nمنهك"},
}


def set_the_scene(browser: Browser, site: ServerProcess, people: list[Person], live_webinar: StartWebinar,
                  locale: str, recording: int) -> dict[str, tuple[Person, str]]:
    """A room with a conversation the host has not read yet, and a live webinar with a question, a poll and
    chat: every screen has content."""
    words = WORDS[locale]
    host = new_person(browser, site, words["host"], locale=locale, width=1280)
    guest = new_person(browser, site, words["guest"], locale=locale, width=1280)
    people += [host, guest]
    room = host.create_room(words["room"])
    guest.join(room)
    guest.page.goto(f"/rooms/{room}")
    online(guest.page)
    for body in words["said"]:
        say(guest, body)
    webinar = live_webinar(host, guest, title=words["webinar"])
    live = f"/webinars/{webinar}/live"
    guest.page.goto(live)
    online(guest.page)
    say(guest, words["said"][0])
    guest.api("POST", f"/api/webinars/{webinar}/questions", {"body": words["question"], "anonymous": False})
    host.api("POST", f"/api/webinars/{webinar}/polls", {"question": words["poll"],
                                                        "options": words["options"].split("\n")})
    host.page.goto(live)
    online(host.page)
    say(host, words["reply"])
    return {"room": (host, f"/rooms/{room}"), "rooms": (host, "/rooms"), "live-host": (host, live),
            "live-attendee": (guest, live), "recording": (guest, f"/recordings/{recording}")}


def show(page: Page, url: str, width: int, theme: str) -> None:
    page.set_viewport_size({"width": width, "height": WIDTHS[width]})
    page.emulate_media(color_scheme=theme)   # the member left the theme to the device
    page.goto(url)
    if page.locator("#room").count():
        online(page)
    page.wait_for_timeout(300)   # presence, counts and the attendance list settle


@pytest.mark.parametrize("locale", ["en-GB", "ar"])
def test_main_screens_in_both_themes_at_1280_and_360_px(browser: Browser, site: ServerProcess, people: list[Person],
                                                        live_webinar: StartWebinar, archive: Archive,  # noqa: F811
                                                        locale: str) -> None:
    screens = set_the_scene(browser, site, people, live_webinar, locale, archive.id)
    lang = locale[:2]
    overflowing, violations = {}, {}
    for theme in THEMES:
        for width in WIDTHS:
            for name, (person, url) in screens.items():
                page = person.page
                show(page, url, width, theme)
                assert page.evaluate("document.documentElement.dir") == ("rtl" if lang == "ar" else "ltr")
                key = f"{lang}-{name}-{width}-{theme}"
                if width == 360:
                    wide = page.evaluate("document.scrollingElement.scrollWidth")
                    if wide > page.evaluate("innerWidth"):
                        overflowing[key] = wide
                save(page, key)
                found = run_axe(page)
                if found:
                    violations[key] = found
    assert overflowing == {}, overflowing
    assert violations == {}, violations
    for person, _ in screens.values():
        assert person.errors == [], person.errors


def test_the_live_page_at_1280_px_shows_the_picture_and_the_chat_side_by_side_in_arabic_too(
        browser: Browser, site: ServerProcess, people: list[Person], live_webinar: StartWebinar) -> None:  # noqa: F811
    host = new_person(browser, site, "أمينة", locale="ar", width=1280)
    people.append(host)
    page = host.page
    page.goto(f"/webinars/{live_webinar(host)}/live")
    online(page)
    stage, chat = page.locator("#m-videos").bounding_box(), page.locator("#panel-chat").bounding_box()
    assert stage and chat
    assert chat["x"] + chat["width"] <= stage["x"]   # right to left: the stage on the right
    assert max(stage["y"] + stage["height"], chat["y"] + chat["height"]) <= page.evaluate("innerHeight")
    expect(page.locator("#tab-chat")).to_have_attribute("aria-selected", "true")



def select_tab(page: Page, name: str) -> None:
    """What a tap on the tab does, without Playwright's scrolling the tab into view first: the test is
    about what the member sees where they are."""
    page.evaluate("name => document.getElementById('tab-' + name).click()", name)
    expect(page.locator(f"#tab-{name}")).to_have_attribute("aria-selected", "true")


def test_an_attendee_reaches_the_hand_the_questions_and_the_vote_without_scrolling_past_the_picture(
        browser: Browser, site: ServerProcess, people: list[Person], live_webinar: StartWebinar) -> None:  # noqa: F811
    host = new_person(browser, site, "Amina Host", width=1280)
    guest = new_person(browser, site, "Kofi Guest", width=1280)
    people += [host, guest]
    webinar = live_webinar(host, guest)
    host.api("POST", f"/api/webinars/{webinar}/polls", {"question": "How rested do you feel this week?",
                                                        "options": ["Rested", "Tired", "Exhausted"]})
    host.page.goto(f"/webinars/{webinar}/live")
    online(host.page)
    for n in range(20):   # a chat longer than the window
        host.page.fill("#body", f"Chat {n}: welcome everyone, the slides are in the pinned message")
        host.page.keyboard.press("Enter")
    expect(host.page.locator("#messages li[data-seq]")).to_have_count(20)
    page = guest.page
    last_vote = "#w-polls li[data-poll] li:last-child button[data-act=vote]"

    # A phone: the picture on top, raising a hand right under it, then the tabs, all on the first screen.
    show(page, f"/webinars/{webinar}/live", 360, "light")
    height = page.evaluate("innerHeight")
    stage, hand, tabs = box(page, "#m-videos"), box(page, "#w-hand"), box(page, "#w-tabs [role=tablist]")
    assert stage["y"] + stage["height"] <= hand["y"] and hand["y"] + hand["height"] <= tabs["y"], (stage, hand, tabs)
    assert abs(stage["x"] - tabs["x"]) < 1 and abs(stage["width"] - tabs["width"]) < 1   # one column
    assert tabs["y"] + tabs["height"] <= height and page.evaluate("scrollY") == 0
    # A tab shows its control right below the tabs, in place of the chat: the picture and the control fit
    # on one screen together (below the chat, the form would be a whole chat's height further down).
    for tab, first, control in (("questions", "#w-ask", "#w-ask"), ("polls", "#w-polls > li", last_vote)):
        select_tab(page, tab)
        expect(page.locator("#panel-chat")).to_be_hidden()
        top, found = box(page, first), box(page, control)
        assert 0 <= top["y"] - (tabs["y"] + tabs["height"]) <= 120, (tab, top, tabs)   # only the tab's heading
        assert found["y"] + found["height"] - stage["y"] <= height, (tab, found, stage, height)
    select_tab(page, "chat")
    chat = box(page, "#panel-chat")
    assert chat["y"] + chat["height"] - stage["y"] > height   # below the chat, no form would fit with the picture
    assert page.evaluate("scrollY") == 0

    # A laptop: the hand and, in their tabs, the question form and the vote, all in the first window.
    show(page, f"/webinars/{webinar}/live", 1280, "light")
    height = page.evaluate("innerHeight")
    for tab, control in (("chat", "#w-hand"), ("questions", "#w-ask"), ("polls", last_vote)):
        select_tab(page, tab)
        found = box(page, control)
        assert found["y"] >= 0 and found["y"] + found["height"] <= height, (control, found, height)
    assert page.evaluate("scrollY") == 0
    assert guest.errors == []
