"""Conversations in the browser, as two members see them: a reply and its thread, reactions and mention
suggestions used with the keyboard alone, formatted text, a pinned message, and axe-core on the room."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Person, new_person, run_axe, screenshot
from tests.support.services import ServerProcess


def open_room(person: Person, room_id: int, query: str = "") -> Page:
    person.page.goto(f"/rooms/{room_id}{query}")
    expect(person.page.locator("#room")).to_have_attribute("data-conn", "online")
    return person.page


def write(page: Page, text: str) -> None:
    page.fill("#body", text)
    page.keyboard.press("Enter")


def tab_to(page: Page, predicate: str, limit: int = 40) -> None:
    """Presses Tab until the focused element satisfies a JS predicate on `e` (fails if it never does)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(e => {predicate})(document.activeElement)"):
            return
    raise AssertionError(f"never reached with Tab: {predicate}")


def message(page: Page, text: str):
    return page.locator("#messages li[data-seq]", has=page.locator(".body", has_text=text))


def test_reply_react_mention_and_pin_with_the_keyboard(browser: Browser, site: ServerProcess,
                                                       people: list[Person]) -> None:
    amina = new_person(browser, site, "Amina Wanjiru")
    tomas = new_person(browser, site, "Tomás Herrera")
    people += [amina, tomas]
    room_id = amina.create_room("Field coordination")
    tomas.join(room_id)
    a, t = open_room(amina, room_id), open_room(tomas, room_id)

    write(a, "Has anyone adapted **PFA** for phone support? See https://www.who.int/publications")
    question = message(t, "Has anyone adapted")
    expect(question.locator(".body strong")).to_have_text("PFA")
    link = question.locator(".body a")
    expect(link).to_have_attribute("href", "https://www.who.int/publications")
    expect(link).to_have_attribute("rel", "noopener noreferrer ugc nofollow")

    # Reply: Tab to the question's Reply button, Enter, type the answer.
    t.locator("#body").focus()
    t.keyboard.press("Shift+Tab")
    for _ in range(10):
        if t.evaluate("document.activeElement.dataset.action") == "reply":
            break
        t.keyboard.press("Shift+Tab")
    t.keyboard.press("Enter")
    expect(t.locator("#replying")).to_contain_text("Replying to Amina Wanjiru")
    assert t.evaluate("document.activeElement.id") == "body"
    t.keyboard.type("Yes: we agree on a call-back number first")
    t.keyboard.press("Enter")
    for page in (a, t):
        reply = message(page, "we agree on a call-back number")
        expect(reply.locator(".quote")).to_contain_text("Amina Wanjiru")
        expect(reply.locator(".quote")).to_contain_text("Has anyone adapted **PFA**")
        expect(message(page, "Has anyone adapted").locator(".replies a")).to_have_text("View replies")
    expect(t.locator("#replying")).to_be_hidden()

    # React: Tab to React, Enter opens the choice, arrows move, Enter picks, focus comes back.
    a.locator("#body").focus()
    for _ in range(12):
        a.keyboard.press("Shift+Tab")
        if a.evaluate("document.activeElement.dataset.action === 'react' && "
                      "document.activeElement.closest('li').textContent.includes('call-back')"):
            break
    a.keyboard.press("Enter")
    expect(a.locator(".picker")).to_be_visible()
    assert a.evaluate("document.activeElement.dataset.emoji") == "👍"
    a.keyboard.press("ArrowRight")
    assert a.evaluate("document.activeElement.dataset.emoji") == "❤️"
    a.keyboard.press("Enter")
    expect(a.locator(".picker")).to_have_count(0)
    assert a.evaluate("document.activeElement.dataset.action") == "react"
    for page, mine in ((a, "true"), (t, "false")):
        chip = message(page, "call-back").locator(".reaction")
        expect(chip).to_have_text("❤️ 1")
        expect(chip).to_have_attribute("aria-pressed", mine)
    # Tomás adds his own by pressing the chip (a button: Enter works), then takes it back.
    chip = message(t, "call-back").locator(".reaction")
    chip.focus()
    t.keyboard.press("Enter")
    expect(message(a, "call-back").locator(".reaction")).to_have_text("❤️ 2")
    expect(chip).to_have_attribute("aria-pressed", "true")
    t.keyboard.press("Enter")
    expect(message(a, "call-back").locator(".reaction")).to_have_text("❤️ 1")
    # Escape closes the choice without reacting.
    message(t, "Has anyone adapted").locator("[data-action=react]").focus()
    t.keyboard.press("Enter")
    expect(t.locator(".picker")).to_be_visible()
    t.keyboard.press("Escape")
    expect(t.locator(".picker")).to_have_count(0)
    assert t.evaluate("document.activeElement.dataset.action") == "react"

    # Mention: "@ami" suggests Amina; arrows, then Enter picks; Escape closes the list.
    t.locator("#body").focus()
    t.keyboard.type("Thanks @am")
    suggestions = t.locator("#mention-list")
    expect(suggestions).to_be_visible()
    expect(t.locator("#mention-list [role=option]")).to_have_text([f"Amina Wanjiru @{amina.username}"])
    expect(t.locator("#body")).to_have_attribute("aria-activedescendant", "mention-0")
    expect(t.locator("#mention-0")).to_have_attribute("aria-selected", "true")
    t.keyboard.press("ArrowDown")
    t.keyboard.press("Enter")
    expect(suggestions).to_be_hidden()
    expect(t.locator("#body")).to_have_value(f"Thanks @{amina.username} ")
    t.keyboard.type("@zz")
    expect(t.locator("#suggest-status")).to_have_text("No member by that name in this room.")
    t.keyboard.press("Backspace")
    t.keyboard.press("Backspace")
    expect(suggestions).to_be_visible()
    t.keyboard.press("Escape")
    expect(suggestions).to_be_hidden()
    t.keyboard.press("Backspace")
    t.keyboard.type("for the _guide_")
    t.keyboard.press("Enter")
    mention = message(a, "for the guide")
    expect(mention).to_have_class(re.compile(r"\bmentions-me\b"))
    expect(mention.locator(".mention.me")).to_have_text(f"@{amina.username}")
    expect(mention.locator(".body em")).to_have_text("guide")

    # Pin: the owner pins the question; both see it at the top of the room.
    message(a, "Has anyone adapted").locator("[data-action=pin]").click()
    for page in (a, t):
        expect(page.locator("#pins")).to_be_visible()
        expect(page.locator("#pin-count")).to_have_text("1")
    expect(message(t, "Has anyone adapted").locator("[data-action=pin]")).to_have_count(0)   # members do not pin

    # The thread view: a page of its own, with the question and its reply, where replies stay in it.
    message(t, "we agree on a call-back number").locator(".quote a").click()
    expect(t.locator("#room")).to_have_attribute("data-conn", "online")
    expect(t.locator("#messages li[data-seq] .body")).to_have_text([re.compile("Has anyone adapted"),
                                                                    re.compile("call-back number")])
    write(t, "And we text the number beforehand")
    expect(t.locator("#messages li[data-seq]")).to_have_count(3)
    expect(message(a, "we text the number").locator(".quote")).to_contain_text("Has anyone adapted")

    # The room as it is now, reloaded (server-rendered), then checked with axe-core; with the reaction
    # choice and the suggestions open too.
    a.reload()
    expect(a.locator("#room")).to_have_attribute("data-conn", "online")
    expect(message(a, "call-back").locator(".reaction")).to_have_attribute("aria-pressed", "true")
    expect(a.locator("#pins")).to_be_visible()
    assert run_axe(a) == []
    a.locator("#pins summary").click()
    message(a, "we text the number").locator("[data-action=react]").click()
    a.locator("#body").fill("")
    a.locator("#body").type("@to")
    expect(a.locator("#mention-list")).to_be_visible()
    assert run_axe(a) == []
    screenshot(a, "conversations-room")
    assert not amina.errors and not tomas.errors


def test_a_mentions_view_lists_only_what_names_the_reader(browser: Browser, site: ServerProcess,
                                                          people: list[Person]) -> None:
    amina, kofi = new_person(browser, site, "Amina"), new_person(browser, site, "Kofi")
    people += [amina, kofi]
    room_id = amina.create_room("Peer support")
    kofi.join(room_id)
    k = open_room(kofi, room_id)
    for body in ["general news", f"@{amina.username} could you check the rota?", "more news"]:
        write(k, body)
    expect(k.locator("#messages li[data-seq]")).to_have_count(3)
    a = open_room(amina, room_id, "?mentions=me")
    expect(a.locator("#messages li[data-seq] .body")).to_have_text([re.compile("could you check the rota")])
    write(k, f"and @{amina.username}, the budget")
    write(k, "unrelated")
    expect(a.locator("#messages li[data-seq]")).to_have_count(2)
    expect(a.locator("#composer")).to_have_count(0)
    assert run_axe(a) == []


def test_the_search_page_finds_marks_and_leads_to_the_message(browser: Browser, site: ServerProcess,
                                                              people: list[Person]) -> None:
    priya = new_person(browser, site, "Priya")
    people.append(priya)
    room_id = priya.create_room("Supervision")
    page = open_room(priya, room_id)
    word = "zx" + re.sub(r"\W", "", priya.username)[-6:]
    for n in range(25):
        write(page, f"note {n}: the {word}{n} <b>session</b> went well")
    expect(page.locator("#messages li[data-seq]")).to_have_count(25)

    page.goto("/")
    page.locator("nav.tabs a", has_text="Search").click()
    page.fill("#q", f"{word}3")
    page.keyboard.press("Enter")
    results = page.locator("#results li")
    expect(results).to_have_count(1)
    expect(results.locator("mark")).to_have_text(f"{word}3")
    expect(results.locator(".snippet")).to_have_text(f"note 3: the {word}3 <b>session</b> went well")
    assert run_axe(page) == []
    page.fill("#q", word)
    page.keyboard.press("Enter")
    expect(results).to_have_count(20)
    page.locator("a[rel=next]").click()
    expect(results).to_have_count(5)
    results.last.locator(".meta a").click()   # note 0, in an older stretch of the room
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    expect(page.locator("#messages li[data-seq]").last.locator(".body")).to_contain_text(f"{word}0")
    assert not priya.errors
