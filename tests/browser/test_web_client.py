"""The web client's screens in Chromium (issue 19): the live webinar page beside its tabs and its audience live,
the room's "new messages" line, day separators and times, the outbox's states, keyboard shortcuts and the Tab
order of the live page, the dark theme, and the top navigation."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import Person, new_person, run_axe, say
from tests.support.services import ServerProcess

LIVE_BUDGET_S = 2.0   # an attendee shows in the hosts' People tab this soon after their page opened


def online(page: Page) -> None:
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")


def enter(person: Person, room: int) -> Page:
    """The person's page opens the room and waits until it is live."""
    person.page.goto(f"/rooms/{room}")
    online(person.page)
    return person.page


StartWebinar = Callable[..., int]


@pytest.fixture
def live_webinar(people: list[Person]) -> Iterator[StartWebinar]:
    """Starts webinars (a host, its registered guests, a title) and ends them after the test: other tests on
    the shared server expect to find only their own live."""
    started: list[tuple[Person, int]] = []

    def start(host: Person, *guests: Person, title: str = "Helping the helpers: rest and supervision") -> int:
        webinar = host.api("POST", "/api/webinars", {"title": title, "starts_at": "2030-01-15T10:00:00Z",
                                                     "ends_at": "2030-01-15T11:00:00Z", "anonymous_questions": True})
        host.api("POST", f"/api/webinars/{webinar['id']}/start")
        started.append((host, int(webinar["id"])))
        for guest in guests:
            guest.api("POST", f"/api/webinars/{webinar['id']}/register")
        return int(webinar["id"])

    yield start
    for host, webinar in started:
        host.api("POST", f"/api/webinars/{webinar}/end")


def box(page: Page, selector: str) -> dict:
    found = page.locator(selector).bounding_box()
    assert found, f"{selector} is not shown"
    return found


def test_the_live_page_puts_the_stage_beside_the_tabs_and_the_audience_updates_live(
        browser: Browser, site: ServerProcess, people: list[Person], live_webinar: StartWebinar) -> None:
    host = new_person(browser, site, "Amina Host", width=1280)
    guest = new_person(browser, site, "Kofi Guest", width=1280)
    people += [host, guest]
    webinar = live_webinar(host, guest)
    h = host.page
    h.goto(f"/webinars/{webinar}/live")
    online(h)

    # Side by side at 1280 px, both inside the window without scrolling: the picture left, the chat right.
    stage, chat = box(h, "#m-videos"), box(h, "#panel-chat")
    height = h.evaluate("innerHeight")
    assert stage["x"] + stage["width"] <= chat["x"], (stage, chat)
    assert stage["y"] < chat["y"] + chat["height"] and chat["y"] < stage["y"] + stage["height"]
    for found in (stage, chat, box(h, "#body")):
        assert found["y"] >= 0 and found["y"] + found["height"] <= height, (found, height)
    assert h.evaluate("scrollY") == 0
    # The host's controls in one place.
    expect(h.locator("#w-host #w-move")).to_be_visible()
    expect(h.locator("#w-host #w-poll-form")).to_be_visible()

    # The People tab: the guest arrives without a reload, within two seconds of their page opening.
    h.click("#tab-people")
    expect(h.locator("#tab-people")).to_have_attribute("aria-selected", "true")
    expect(h.locator("#w-present li.note")).to_have_text("Nobody else is here yet.")
    g = guest.page
    g.goto(f"/webinars/{webinar}/live")
    opened = time.monotonic()
    arrival = h.locator(f'#w-present li[data-member="{guest.id}"]')
    expect(arrival).to_be_visible(timeout=LIVE_BUDGET_S * 1000)
    assert time.monotonic() - opened <= LIVE_BUDGET_S
    expect(arrival).to_contain_text("Kofi Guest")
    expect(h.locator("#count-people")).to_have_text("2")
    # A raised hand shows in the audience list too, and in the hands queue.
    online(g)
    hand = box(g, "#w-hand")
    assert hand["y"] + hand["height"] <= g.evaluate("innerHeight")   # under the picture, no scrolling
    g.click("#w-hand")
    expect(arrival.locator(".hand")).to_have_text("hand raised")
    expect(h.locator("#w-hands li")).to_contain_text("Kofi Guest")
    # Counts update live: a question, a poll, a chat message while another tab is shown.
    g.click("#tab-questions")
    g.fill("#w-question", "How do we rest when the need does not stop?")
    g.click("#w-ask button[type=submit]")
    expect(h.locator("#count-questions")).to_have_text("1")
    h.fill("#w-poll-question", "How rested do you feel?")
    h.fill("#w-poll-options", "Rested\nTired")
    h.click("#w-poll-form button[type=submit]")
    expect(g.locator("#count-polls")).to_have_text("1")
    g.click("#tab-chat")
    say(guest, "Thank you for this session")
    expect(h.locator("#count-chat")).to_have_text("1")
    h.click("#tab-chat")
    expect(h.locator("#count-chat")).to_have_text("")
    # The guest leaves: gone from the list, without a reload.
    g.goto("/rooms")
    expect(arrival).to_have_count(0)
    assert host.errors == [] and guest.errors == []


def walk_tab_order(page: Page, presses: int = 120) -> set[str]:
    """Marks every visible, enabled control in the Tab order, then presses Tab until the focus has gone round
    the page; answers the marks of the controls it did not reach."""
    expected = set(page.evaluate("""() => {
        const controls = Array.from(document.querySelectorAll(
          'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])'));
        // A radio group is one stop (its checked button); the arrow keys move within it.
        const otherRadio = (c) => c.type === 'radio' && !c.checked &&
          !!document.querySelector(`input[type=radio][name="${c.name}"]:checked`);
        return controls.filter((c) => !c.disabled && c.tabIndex >= 0 && c.getClientRects().length &&
                                     getComputedStyle(c).visibility !== 'hidden' && !c.closest('[inert]') && !otherRadio(c))
          .map((c, i) => { c.dataset.walk = 'c' + i; return 'c' + i; });
    }"""))
    page.evaluate("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    reached: set[str] = set()
    for _ in range(presses):
        page.keyboard.press("Tab")
        mark = page.evaluate("document.activeElement ? document.activeElement.dataset.walk || '' : ''")
        if mark in reached and len(reached) == len(expected):
            break
        if mark:
            reached.add(mark)
    return expected - reached


def test_keyboard_alone_reaches_every_control_of_the_live_page(
        browser: Browser, site: ServerProcess, people: list[Person], live_webinar: StartWebinar) -> None:
    host = new_person(browser, site, "Amina Host", width=1280)
    guest = new_person(browser, site, "Kofi Guest", width=1280)
    people += [host, guest]
    webinar = live_webinar(host, guest)
    guest.page.goto(f"/webinars/{webinar}/live")
    online(guest.page)
    say(guest, "A message to reply to")
    h = host.page
    h.goto(f"/webinars/{webinar}/live")
    online(h)
    expect(h.locator(f'#w-present li[data-member="{guest.id}"]')).to_have_count(1)
    # Each tab in turn, chosen with the arrow keys from the tab list; then Tab goes round the whole page.
    for name in ("chat", "questions", "polls", "people"):
        if name != "chat":
            h.focus("[role=tab][aria-selected=true]")
            h.keyboard.press("ArrowRight")
            expect(h.locator(f"#tab-{name}")).to_be_focused()
        expect(h.locator(f"#tab-{name}")).to_have_attribute("aria-selected", "true")
        missed = walk_tab_order(h)
        assert not missed, (name, h.evaluate("ids => ids.map((m) => document.querySelector(`[data-walk=${m}]`).outerHTML.slice(0, 120))",
                                             sorted(missed)))
    assert host.errors == []


def test_the_new_messages_line_sits_at_the_read_marker_and_jump_takes_the_reader_there(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    writer = new_person(browser, site, "Tomás R.", width=1280)
    reader = new_person(browser, site, "Priya R.", width=360)
    people += [writer, reader]
    room = writer.create_room("Supervision notes")
    reader.join(room)
    enter(writer, room)
    for n in range(3):
        say(writer, f"Read before: note {n}")
    enter(reader, room)
    read = writer.page.locator("#messages li[data-seq]").last.get_attribute("data-seq")
    deadline = time.monotonic() + 10   # the page moves the read marker once it has been seen
    while next(r for r in reader.api("GET", "/api/rooms")["rooms"] if r["id"] == room)["read_seq"] < int(read or 0):
        assert time.monotonic() < deadline, "the read marker did not move"
        reader.page.wait_for_timeout(200)
    reader.page.goto("/rooms")
    for n in range(14):
        say(writer, f"Unread: case discussion point {n}, with enough words to take a line or two on a phone")

    page = enter(reader, room)
    line = page.locator("#messages li.unread-line")
    expect(line).to_have_count(1)
    expect(line).to_have_text("New messages")
    # Right before the first message after the marker.
    after = page.locator("#messages li.unread-line + li.msg .body")
    expect(after).to_have_text(re.compile("Unread: case discussion point 0,"))
    # The page opens at the newest; the line is above, out of sight, and the jump takes the reader there.
    expect(line).not_to_be_in_viewport()
    page.click("#jump-unread")
    expect(line).to_be_in_viewport()
    expect(line).to_be_focused()
    expect(page.locator("#jump-unread-bar")).to_be_hidden()
    # And back to the newest.
    expect(page.locator("#jump-newest")).to_be_visible()
    page.click("#jump-newest")
    expect(page.locator("#messages li[data-seq]").last).to_be_in_viewport()
    expect(page.locator("#jump-newest-bar")).to_be_hidden()
    # A sender's messages in a row share one header; a day separator opens the day.
    expect(page.locator("#messages li.day")).to_have_text(["Today"])
    assert page.locator("#messages li.msg.cont").count() >= 10
    # The name stays for screen readers, out of sight.
    assert page.locator("#messages li.msg.cont .who").first.evaluate("(e) => e.getBoundingClientRect().width") <= 1
    expect(page.locator("#messages li.msg").first.locator(".avatar")).to_have_text("TR")
    assert reader.errors == []


def test_times_and_day_separators_follow_the_members_time_zone_and_language(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    writer = new_person(browser, site, "Tomás R.")
    people.append(writer)
    room = writer.create_room("Across time zones")
    enter(writer, room)
    say(writer, "Written today")
    ts = writer.api("GET", f"/api/rooms/{room}/messages")["messages"][-1]["ts"]
    # The member's profile says Bogotá (the browser says Nairobi), and the reader looks two days later.
    writer.api("PUT", "/api/me/preferences", {"time_zone": "America/Bogota", "language": "fr"})
    written = datetime.fromisoformat(ts).astimezone(ZoneInfo("America/Bogota"))
    writer.page.clock.set_system_time(datetime.now().astimezone() + timedelta(days=2))
    enter(writer, room)
    shown = writer.page.locator("#messages li[data-seq] time").last
    expect(shown).to_contain_text(written.strftime("%H:%M"))     # French: 24-hour clock, Bogotá's hour
    expect(shown).to_contain_text(str(written.day))               # not today: with the date
    separator = writer.page.locator("#messages li.day").first
    months = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
              "novembre", "décembre"]
    expect(separator).to_contain_text(f"{written.day} {months[written.month - 1]}")
    assert writer.errors == []


def test_a_message_refused_for_good_stays_with_its_reason_and_can_be_sent_again_or_discarded(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    me = new_person(browser, site, "Lucía")
    people.append(me)
    room = me.create_room("Outbox states")
    page = enter(me, room)
    # Offline, a message waits, shown as waiting; back online it goes.
    me.context.set_offline(True)
    expect(page.locator("#room")).not_to_have_attribute("data-conn", "online")
    page.fill("#body", "Typed on the bus")
    page.keyboard.press("Enter")
    waiting = page.locator("#messages li.pending")
    expect(waiting.locator(".status")).to_have_text("Waiting to send")
    me.context.set_offline(False)
    expect(waiting).to_have_count(0, timeout=30_000)
    expect(page.locator("#messages li[data-seq] .body")).to_have_text(["Typed on the bus"])
    # One the server refuses for good (longer than the limit, as an older version of the page allowed).
    member = me.id
    page.evaluate("""([member, room]) => {
        const key = 'convene.outbox.' + member;
        const entries = JSON.parse(localStorage.getItem(key) || '[]');
        entries.push({ client_id: 'too-long-1', room: room, body: 'x'.repeat(5000) });
        localStorage.setItem(key, JSON.stringify(entries));
    }""", [member, room])
    page.reload()
    online(page)
    failed = page.locator("#messages li.pending.failed")
    expect(failed).to_have_count(1)
    expect(failed.locator(".status")).to_contain_text("Not sent:")
    failed.get_by_role("button", name="Try again").click()
    expect(failed).to_have_count(1)                        # refused again, kept again
    page.reload()                                          # the choice survives the page
    online(page)
    expect(failed).to_have_count(1)
    failed.get_by_role("button", name="Discard").click()
    expect(page.locator("#messages li.pending")).to_have_count(0)
    assert page.evaluate(f"JSON.parse(localStorage.getItem('convene.outbox.{member}') || '[]').length") == 0
    assert run_axe(page) == []


def test_keyboard_shortcuts(browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    me = new_person(browser, site, "Keyboard user", width=1280)
    other = new_person(browser, site, "Writer")
    people += [me, other]
    here = me.create_room("Shortcuts: here")
    other.join(here)
    busy = other.create_room("Shortcuts: busy room")
    me.join(busy)
    enter(other, here)
    say(other, "The last message in this room")
    page = enter(me, here)
    enter(other, busy)
    say(other, "Something new over here")

    # "?" shows the shortcuts in a dialog; Escape closes it and gives the focus back.
    page.locator("#keys-link").focus()
    page.keyboard.press("?")
    dialog = page.locator("dialog.keys-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h1")).to_have_text("Keyboard shortcuts")
    assert run_axe(page) == []
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # Never while typing: "r", "u" and "/" go into the message box as letters.
    page.focus("#body")
    page.keyboard.type("u r /")
    expect(page.locator("#body")).to_have_value("u r /")
    assert page.url.endswith(f"/rooms/{here}")
    page.fill("#body", "")
    # "r" replies to the last message.
    page.locator("#keys-link").focus()
    page.keyboard.press("r")
    expect(page.locator("#replying")).to_contain_text("The last message in this room")
    expect(page.locator("#body")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#replying")).to_be_hidden()
    # "u" opens the next room with unread messages; "/" searches.
    page.locator("#keys-link").focus()
    page.keyboard.press("u")
    page.wait_for_url(f"**/rooms/{busy}")
    online(page)
    page.locator("#keys-link").focus()
    page.keyboard.press("/")
    page.wait_for_url(f"**/search?room={busy}")
    # The shortcuts can be turned off on this device (for speech input).
    page.goto("/keyboard")
    page.uncheck("#keys-on")
    page.goto(f"/rooms/{busy}")
    online(page)
    page.locator("#keys-link").focus()
    page.keyboard.press("?")
    expect(dialog).to_have_count(0)
    assert me.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_theme_follows_the_device_unless_the_member_chooses(
        browser: Browser, site: ServerProcess, people: list[Person], scheme: str) -> None:
    me = new_person(browser, site, "Night shift", color_scheme=scheme)
    people.append(me)
    page = me.page
    background = "getComputedStyle(document.body).backgroundColor"
    dark, light = "rgb(18, 20, 23)", "rgb(255, 255, 255)"
    page.goto("/settings")
    assert page.evaluate(background) == (dark if scheme == "dark" else light)   # "as the device"
    chosen = "light" if scheme == "dark" else "dark"
    page.check(f"input[name=theme][value={chosen}]")
    page.click("#settings button[type=submit]")
    expect(page.locator(".saved")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("data-theme", chosen)
    assert page.evaluate(background) == (dark if chosen == "dark" else light)
    assert me.api("GET", "/api/me/preferences")["theme"] == chosen
    # Kept in the profile for the member's pages, and in a cookie for this device's login page.
    page.click("#logout button")
    page.wait_for_url("**/login")
    assert page.evaluate(background) == (dark if chosen == "dark" else light)
    assert run_axe(page) == []


def test_the_top_navigation_marks_the_screen_and_leads_to_recordings(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    me = new_person(browser, site, "Navigator", width=1280)
    people.append(me)
    page = me.page
    for path, current in [("/rooms", "Rooms"), ("/recordings", "Recordings"), ("/settings/notifications", "Settings"),
                          ("/webinars", "Webinars")]:
        page.goto(path)
        expect(page.locator(".tabs a[aria-current=page]")).to_have_text(current)
    expect(page.locator(".tabs a", has_text="Emergencies")).to_have_count(0)   # not a member of one
    friend = new_person(browser, site, "Friend")
    people.append(friend)
    dm = me.api("POST", "/api/dms", {"members": [friend.id]})["id"]
    page.goto(f"/rooms/{dm}")
    expect(page.locator(".tabs a[aria-current=page]")).to_have_text("Messages")
    page.keyboard.press("Tab")
    expect(page.locator("a.skip").first).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("a.skip").nth(1)).to_have_attribute("href", "#body")
