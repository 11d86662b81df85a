"""Notifications in Chromium: badges that update live beside the open room, the two-pane layout at 1280 px and
one column at 360 px, the inbox and settings pages accessible, and the service worker showing a Web Push
(delivered through the DevTools protocol) and opening the room at the message."""

from __future__ import annotations

import json
import re
import time

from playwright.sync_api import Browser, expect

from tests.browser.conftest import Person, new_person, run_axe, say, screenshot
from tests.support.services import ServerProcess


def _reading_one_room_while_another_talks(browser: Browser, site: ServerProcess, people: list[Person],
                                          init_script: str = "") -> tuple[Person, Person, int, int]:
    """Tomás reads one room at 1280 px while Amina is in another of their two rooms."""
    amina = new_person(browser, site, "Amina W.", width=1280)
    tomas = new_person(browser, site, "Tomás R.", width=1280)
    people += [amina, tomas]
    reading = amina.create_room("Psychological first aid")
    other = amina.create_room("Field notes: East Africa")
    for room in (reading, other):
        tomas.join(room)
    if init_script:
        tomas.page.add_init_script(init_script)
    tomas.page.goto(f"/rooms/{reading}")
    expect(tomas.page.locator("#room")).to_have_attribute("data-conn", "online")
    amina.page.goto(f"/rooms/{other}")
    expect(amina.page.locator("#room")).to_have_attribute("data-conn", "online")
    return amina, tomas, reading, other


def test_badges_update_live_beside_the_open_room_in_two_panes(browser: Browser, site: ServerProcess,
                                                             people: list[Person]) -> None:
    amina, tomas, reading, other = _reading_one_room_while_another_talks(browser, site, people)

    badge = tomas.page.locator(f'#sidebar a[data-room-link="{other}"] .unread')
    say(amina, "The checklist for home visits is ready")
    expect(badge).to_contain_text("1")
    say(amina, "It is two pages long")
    expect(badge).to_contain_text("2")
    expect(tomas.page.locator(f'#sidebar a[data-room-link="{other}"] .mentions')).to_have_count(0)
    say(amina, f"@{tomas.username} could you translate it into Spanish?")
    expect(tomas.page.locator(f'#sidebar a[data-room-link="{other}"] .mentions')).to_contain_text("@1")
    expect(badge).to_contain_text("3")
    expect(tomas.page.locator("#nav-unread")).to_have_text("1")
    assert tomas.page.title().startswith("(1) ")
    assert tomas.page.evaluate("document.querySelector('link[rel=icon]').href").startswith("data:image/svg+xml")
    # The room being read gets no badge for its own messages.
    expect(tomas.page.locator(f'#sidebar a[data-room-link="{reading}"] .unread')).to_have_count(0)

    # Two panes: the list of rooms beside the room, side by side.
    sidebar = tomas.page.locator("#sidebar").bounding_box()
    room = tomas.page.locator("#room").bounding_box()
    assert sidebar and room and sidebar["x"] + sidebar["width"] <= room["x"] and sidebar["y"] < room["y"] + room["height"]
    screenshot(tomas.page, "notifications-room-1280")
    assert run_axe(tomas.page) == []

    # Opening the other room clears its badges.
    tomas.page.click(f'#sidebar a[data-room-link="{other}"]')
    expect(tomas.page.locator("#room")).to_have_attribute("data-conn", "online")
    expect(tomas.page.locator(f'#sidebar a[data-room-link="{other}"] .unread')).to_have_count(0)
    expect(tomas.page.locator(f'#sidebar a[data-room-link="{other}"] .mentions')).to_have_count(0)
    assert tomas.errors == [] and amina.errors == []


def test_one_column_on_a_phone_and_live_badges_on_the_room_list(browser: Browser, site: ServerProcess,
                                                               people: list[Person]) -> None:
    amina = new_person(browser, site, "Amina W.", width=1280)
    priya = new_person(browser, site, "Priya R.", width=360)
    people += [amina, priya]
    room = amina.create_room("Coordinators")
    priya.join(room)
    priya.page.goto("/rooms")
    link = priya.page.locator(f'#your-rooms a[data-room-link="{room}"]')
    expect(link).to_be_visible()
    priya.page.wait_for_timeout(500)   # the list's socket follows the room
    amina.page.goto(f"/rooms/{room}")
    say(amina, f"@{priya.username} agenda draft is up")
    expect(link.locator(".unread")).to_contain_text("1")
    expect(link.locator(".mentions")).to_contain_text("@1")

    priya.page.goto(f"/rooms/{room}")
    expect(priya.page.locator("#room")).to_have_attribute("data-conn", "online")
    expect(priya.page.locator("#sidebar")).to_be_hidden()
    assert priya.page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    screenshot(priya.page, "notifications-room-360")
    assert run_axe(priya.page) == []
    assert priya.errors == [] and amina.errors == []


def test_the_inbox_and_settings_pages(browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    amina = new_person(browser, site, "Amina W.", width=1280)
    kofi = new_person(browser, site, "Kofi M.", width=390)
    people += [amina, kofi]
    room = amina.create_room("Peer support")
    kofi.join(room)
    amina.page.goto(f"/rooms/{room}")
    say(amina, f"@{kofi.username} welcome to the group")
    kofi.page.goto("/notifications")
    for _ in range(20):   # the notifier works just after the commit: the page may come first
        if kofi.page.locator("#inbox li").count():
            break
        kofi.page.wait_for_timeout(250)
        kofi.page.reload()
    expect(kofi.page.locator("#inbox li")).to_have_count(1)
    expect(kofi.page.locator("#inbox li").first).to_contain_text("Amina W. mentioned you in Peer support")
    assert run_axe(kofi.page) == []
    kofi.page.click("text=Mark all as read")
    expect(kofi.page.locator("#inbox li.read")).to_have_count(1)

    kofi.page.goto("/settings/notifications")
    kofi.page.uncheck('input[name="message.email"]')
    kofi.page.select_option("#email_timing", "hourly")
    kofi.page.fill("#quiet_start", "22:00")
    kofi.page.fill("#quiet_end", "07:00")
    kofi.page.fill("#time_zone", "Africa/Accra")
    kofi.page.locator("#preferences button[type=submit]").click()
    expect(kofi.page.locator(".saved")).to_be_visible()
    prefs = kofi.api("GET", "/api/me/preferences")
    assert prefs["channels"]["message"] == ["push"] and prefs["email_timing"] == "hourly"
    assert prefs["quiet_hours"] == {"start": "22:00", "end": "07:00"} and prefs["time_zone"] == "Africa/Accra"
    kofi.page.select_option(f"#level-{room}", "nothing")
    kofi.page.locator(f"#level-{room}").locator("xpath=..").locator("button").click()
    expect(kofi.page.locator(f"#level-{room}")).to_have_value("nothing")
    assert run_axe(kofi.page) == []
    assert kofi.errors == []


def test_the_service_worker_shows_a_push_and_opens_the_room_at_the_message(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    amina = new_person(browser, site, "Amina W.", width=1280)
    tomas = new_person(browser, site, "Tomás R.", width=390)
    people += [amina, tomas]
    room = amina.create_room("Supervision")
    tomas.join(room)
    amina.page.goto(f"/rooms/{room}")
    for n in range(3):
        say(amina, f"Case note {n}")
    target = int(amina.page.locator("#messages li[data-seq]").nth(1).get_attribute("data-seq"))

    page = tomas.page
    tomas.context.grant_permissions(["notifications"], origin=site.url)
    cdp = tomas.context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    page.goto("/notifications")
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    deadline = time.monotonic() + 10
    while not any(r["scopeURL"] == site.url + "/" for r in registrations):
        assert time.monotonic() < deadline, registrations
        page.wait_for_timeout(100)
    registration = next(r for r in registrations if r["scopeURL"] == site.url + "/")
    page.evaluate("""() => { window.shown = new Promise((resolve) => navigator.serviceWorker.addEventListener(
        'message', (event) => { if (event.data.type === 'push-shown') resolve(event.data.tag); })); }""")
    payload = {"title": "Amina W. mentioned you in Supervision", "body": "Case note 1", "tag": f"convene-{room}",
               "url": f"/rooms/{room}#m-{target}", "room": room, "seq": target, "sender": "Amina W."}
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": site.url, "registrationId": registration["registrationId"],
                                                 "data": json.dumps(payload)})
    assert page.evaluate("window.shown") == f"convene-{room}"
    shown = page.evaluate("""() => navigator.serviceWorker.ready.then((r) => r.getNotifications())
        .then((list) => list.map((n) => ({title: n.title, body: n.body, tag: n.tag, url: n.data.url})))""")
    assert shown == [{"title": payload["title"], "body": "Case note 1", "tag": f"convene-{room}",
                      "url": f"/rooms/{room}#m-{target}"}]

    # A click runs openNotification (static/sw.js); the worker is asked to run it for that notification.
    page.evaluate("tag => navigator.serviceWorker.controller.postMessage({type: 'open-notification', tag})",
                  f"convene-{room}")
    page.wait_for_url(f"**/rooms/{room}#m-{target}")
    expect(page.locator(f"#m-{target}")).to_have_class(re.compile(r"\btarget\b"))
    expect(page.locator(f"#m-{target}")).to_be_in_viewport()
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((l) => l.length)") == 0
    assert tomas.errors == []


# Headless Chromium has no desktop to show a notification on: the page's Notification is replaced by a
# recorder (permission granted), and the tab is "hidden" on demand, before the page's scripts run.
FAKE_DESKTOP = """
window.__hidden = false;
Object.defineProperty(document, 'visibilityState', {get: () => window.__hidden ? 'hidden' : 'visible'});
window.__shown = [];
class RecordedNotification {
  constructor(title, options) { this.title = title; this.options = options; window.__shown.push(this); }
  static get permission() { return 'granted'; }
  static requestPermission() { return Promise.resolve('granted'); }
}
window.Notification = RecordedNotification;
"""


def test_a_desktop_notification_shows_only_while_the_tab_is_hidden_and_opens_the_room(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    amina, tomas, _, other = _reading_one_room_while_another_talks(browser, site, people, init_script=FAKE_DESKTOP)
    mentions = tomas.page.locator(f'#sidebar a[data-room-link="{other}"] .mentions')

    # The tab in front: the badge says it, no desktop notification.
    say(amina, f"@{tomas.username} the first draft is up")
    expect(mentions).to_contain_text("@1")
    assert tomas.page.evaluate("window.__shown.length") == 0

    # The tab hidden: the next mention shows one, naming who and where, with the excerpt.
    tomas.page.evaluate("window.__hidden = true")
    say(amina, f"@{tomas.username} could you translate it into Spanish?")
    expect(mentions).to_contain_text("@2")
    shown = tomas.page.evaluate("window.__shown.map(n => ({title: n.title, body: n.options.body, tag: n.options.tag}))")
    assert shown == [{"title": "Amina W. · Field notes: East Africa",
                      "body": "@" + tomas.username + " could you translate it into Spanish?",
                      "tag": f"convene-{other}"}]

    # Clicking it opens the room at the message.
    tomas.page.evaluate("window.__shown[0].onclick()")
    tomas.page.wait_for_url(re.compile(rf"/rooms/{other}\b"))
    expect(tomas.page.locator("#messages")).to_contain_text("could you translate it into Spanish?")
    assert tomas.errors == [] and amina.errors == []
