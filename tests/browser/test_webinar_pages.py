"""Webinar pages in the browser: a host schedules and starts a webinar, an attendee registers, joins the
live page, asks a question and raises a hand; the host sees both live, invites them to speak, mutes and
finally removes them."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Browser, expect

from tests.browser.conftest import SCREENSHOTS, TIMEOUT_MS, Person, new_person, run_axe, screenshot
from tests.browser.test_weight import Transfers
from tests.support.services import ServerProcess

# The live page's first load: the room's budget (60 KB) plus the stage (media.js), webinar.js and webinar.css.
LIVE_BUDGET_BYTES = 80 * 1024


def test_an_attendee_asks_and_raises_a_hand_and_the_host_invites_mutes_and_removes_them(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    host = new_person(browser, site, "Amina Host")
    guest = new_person(browser, site, "Kofi Guest")
    people += [host, guest]
    accessibility: dict[str, list] = {}

    h = host.page
    h.goto("/webinars/new")
    accessibility["new"] = run_axe(h)
    h.fill("#w-title", "Helping the helpers: rest and supervision")
    h.fill("#w-description", "For lay counsellors after a hard month.")
    h.fill("#w-starts", "2030-01-15T10:00")
    h.check("input[name=visibility][value=public]")
    h.check("input[name=anonymous_questions]")
    expect(h.locator("input[name=record]")).to_be_checked()   # recorded unless the host opts out
    h.uncheck("input[name=record]")
    h.click("#webinar-new button[type=submit]")
    h.wait_for_url(re.compile(r"/webinars/\d+$"))
    webinar_id = int(h.url.rsplit("/", 1)[1])
    assert h.request.get(f"/api/webinars/{webinar_id}").json()["record"] is False
    expect(h.locator("#countdown")).to_contain_text("Starts in")   # the lobby counts down
    accessibility["lobby"] = run_axe(h)
    h.click("button:has-text('Start the webinar')")
    expect(h.locator(".tag.state")).to_have_text("live")

    g = guest.page
    g.goto("/webinars")
    expect(g.locator("#live li")).to_contain_text("Helping the helpers")
    accessibility["list"] = run_axe(g)
    g.click("#live a")
    g.click("button:has-text('Register')")
    expect(g.locator("text=You are registered.")).to_be_visible()
    g.click("text=Join the live page")
    g.wait_for_url(f"**/webinars/{webinar_id}/live")
    expect(g.locator("#room")).to_have_attribute("data-conn", "online")
    expect(g.locator("#w-you")).to_have_text("You are in the audience.")
    expect(g.locator("#m-camera")).to_be_hidden()
    h.goto(f"/webinars/{webinar_id}/live")
    expect(h.locator("#room")).to_have_attribute("data-conn", "online")

    g.click("#tab-questions")
    g.fill("#w-question", "How do we rest when the need does not stop?")
    g.click("#w-ask button[type=submit]")
    h.click("#tab-questions")
    question = h.locator("#w-questions li")
    expect(question).to_contain_text("How do we rest when the need does not stop?")
    expect(question.locator(".who")).to_have_text("Kofi Guest")
    g.click("#w-hand")
    expect(g.locator("#w-hand")).to_have_attribute("aria-pressed", "true")
    h.click("#tab-people")
    hand = h.locator("#w-hands li")
    expect(hand).to_contain_text("Kofi Guest")

    hand.locator("button[data-act=promote]").click()
    expect(g.locator("#w-you")).to_contain_text("You are a speaker")
    expect(g.locator("#m-camera")).to_be_visible()   # without a reload
    expect(g.locator("#w-hand")).to_be_hidden()
    g.click("#tab-people")
    expect(g.locator("#w-stage li", has_text="Kofi Guest").locator(".role")).to_have_text("speaker")
    expect(h.locator("#w-hands li")).to_have_count(0)
    # The host's stage controls for the new speaker; muting shows on the speaker's page too.
    h.locator("#w-stage li", has_text="Kofi Guest").locator("button[data-act=mute]").click()
    expect(g.locator("#w-you")).to_contain_text("muted your microphone")
    # The webinar's chat is the room's chat, through chat.js.
    g.click("#tab-chat")
    g.fill("#body", "Thank you, I can hear you")
    g.keyboard.press("Enter")
    h.click("#tab-chat")
    expect(h.locator("#messages li[data-seq] .body").last).to_have_text("Thank you, I can hear you")
    h.click("#tab-people")

    screenshot(h, "webinar-live-host-390")
    screenshot(g, "webinar-live-speaker-390")
    accessibility["live (host)"] = run_axe(h)
    accessibility["live (speaker)"] = run_axe(g)
    assert accessibility == {name: [] for name in accessibility}

    # Removal: the host confirms; the removed member's page says so and its chat stops.
    h.once("dialog", lambda dialog: dialog.accept())
    h.locator("#w-stage li", has_text="Kofi Guest").locator("button[data-act=remove]").click()
    expect(h.locator("#w-stage li", has_text="Kofi Guest")).to_have_count(0)
    expect(g.locator("#w-you")).to_have_text("You were removed from this webinar.")
    expect(g.locator("#conn-state")).to_have_text("You are no longer a member of this room.")
    g.click("#tab-questions")
    expect(g.locator("#w-ask")).to_be_hidden()
    assert host.errors == [] and guest.errors == []


def test_the_live_page_first_load_fits_the_weight_budget(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    host = new_person(browser, site, "Host")
    guest = new_person(browser, site, "Guest")
    people += [host, guest]
    webinar = host.api("POST", "/api/webinars", {"title": "Weight", "starts_at": "2030-01-15T10:00:00Z",
                                                 "ends_at": "2030-01-15T11:00:00Z"})
    host.api("POST", f"/api/webinars/{webinar['id']}/start")
    guest.api("POST", f"/api/webinars/{webinar['id']}/register")
    # A page as it is half an hour in: chat, questions and polls.
    for n in range(8):
        guest.api("POST", f"/api/webinars/{webinar['id']}/questions",
                  {"body": f"Question {n}: how do we keep supervision going when staff turn over every few months?"})
    for n in range(3):
        host.api("POST", f"/api/webinars/{webinar['id']}/polls",
                 {"question": f"Poll {n}: how often do you meet your supervisor?", "options": ["Weekly", "Monthly", "Never"]})
    host.page.goto(f"/webinars/{webinar['id']}/live")
    expect(host.page.locator("#room")).to_have_attribute("data-conn", "online")
    for n in range(30):
        host.page.fill("#body", f"Chat {n}: welcome everyone, the slides are at https://example.org/slides/{n}")
        host.page.keyboard.press("Enter")
    expect(host.page.locator("#messages li[data-seq]")).to_have_count(30)
    # A cold browser with the attendee's session, on the slow link: no HTTP cache, no service worker.
    context = browser.new_context(base_url=site.url, viewport={"width": 360, "height": 740})
    context.set_default_timeout(TIMEOUT_MS * 2)
    context.add_cookies(guest.context.cookies())
    page = context.new_page()
    people.append(Person(context, page, guest.username, guest.display_name, site.url, []))
    transfers = Transfers(context, page)
    page.goto(f"/webinars/{webinar['id']}/live", wait_until="load")
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    expect(page.locator("#count-questions")).to_have_text("8")
    first_load = transfers.total()
    assert first_load <= LIVE_BUDGET_BYTES, json.dumps(list(transfers.responses.values()), indent=1)
    for r in transfers.responses.values():
        if r["type"] in ("Document", "Stylesheet", "Script") and r["bytes"] > 1000:
            assert r["encoding"] == "gzip", r
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS.parent / "webinar-weight.json").write_text(json.dumps({
        "budget_bytes": LIVE_BUDGET_BYTES, "first_load_bytes": first_load,
        "first_load": [{k: r[k] for k in ("url", "type", "bytes", "encoding")} for r in transfers.responses.values()]},
        indent=1))


def test_a_host_runs_breakout_groups_from_the_live_page_and_reads_the_summary(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    host = new_person(browser, site, "Priya Host")
    guests = [new_person(browser, site, name) for name in ("Tomás Guest", "Kofi Guest")]
    people += [host, *guests]
    webinar = host.api("POST", "/api/webinars", {"title": "Practice in pairs", "starts_at": "2030-01-15T10:00:00Z",
                                                 "ends_at": "2030-01-15T11:00:00Z", "visibility": "public"})
    wid = webinar["id"]
    host.api("POST", f"/api/webinars/{wid}/start")
    h = host.page
    h.goto(f"/webinars/{wid}/live")
    for guest in guests:
        guest.api("POST", f"/api/webinars/{wid}/register")
        guest.page.goto(f"/webinars/{wid}/live")
        expect(guest.page.locator("#room")).to_have_attribute("data-conn", "online")
        expect(guest.page.locator("#w-breakouts")).to_be_hidden()
    expect(h.locator("#room")).to_have_attribute("data-conn", "online")

    # At random, groups of two: both guests (present on the live page) land in one group.
    h.select_option("#b-size", "2")
    h.click("#b-open button[type=submit]")
    expect(h.locator("#b-status")).to_have_text("Breakout groups open: 1.")
    expect(h.locator("#b-running")).to_be_visible()
    g = guests[0].page
    expect(g.locator("#w-breakouts")).to_be_visible()
    expect(g.locator("#b-status")).to_have_text("You are in breakout group 1. Only your group sees and hears you.")
    expect(g.locator("#b-timer")).to_contain_text("The groups end in 15 minutes")
    expect(g.locator("#b-chat")).to_have_attribute("href", re.compile(r"^/rooms/\d+$"))
    expect(g.locator("#m-publish")).to_be_visible()   # in a group, an attendee may turn their camera on
    accessibility = {"host": run_axe(h), "guest": run_axe(g)}

    h.fill("#b-text", "Swap roles now")
    h.click("#b-broadcast button[type=submit]")
    expect(h.locator("#b-status")).to_have_text("Sent to every group (1).")
    expect(g.locator("#b-messages li")).to_have_text("From the host: Swap roles now")
    h.click("#b-close")
    expect(g.locator("#b-status")).to_have_text("Everyone is back in the main session.")
    expect(g.locator("#b-chat")).to_be_hidden()
    expect(g.locator("#m-publish")).to_be_hidden()
    expect(h.locator("#b-open")).to_be_visible()

    h.goto(f"/webinars/{wid}/summary")
    expect(h.locator("#s-registered")).to_have_text("3")
    expect(h.locator("#w-summary-csv")).to_have_attribute("href", f"/api/webinars/{wid}/summary.csv")
    accessibility["summary"] = run_axe(h)
    assert accessibility == {name: [] for name in accessibility}
    assert host.errors == [] and all(guest.errors == [] for guest in guests)
