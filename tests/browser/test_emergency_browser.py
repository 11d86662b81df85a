"""An emergency room in the browser: a coordinator posts an urgent alert, a member acknowledges it, live; the top
navigation's Emergencies link counts the alerts awaiting the member's acknowledgement, live on every page."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.browser.conftest import Person, new_person, run_axe
from tests.support.services import ServerProcess


def test_a_coordinator_posts_an_alert_and_a_member_acknowledges_it(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    amina = new_person(browser, site, "Amina")
    kofi = new_person(browser, site, "Kofi")
    people += [amina, kofi]
    room = amina.api("POST", "/api/emergencies", {"name": "Cyclone Idai response", "region": "Sofala",
                                                  "started_on": "2026-11-01",
                                                  "areas": [{"country": "MZ", "admin_area": "Beira"}]})["id"]
    amina.api("POST", f"/api/emergencies/{room}/members", {"member_id": kofi.id})

    member = kofi.page
    # The dashboard uses the page's one socket (chat.js's), not one of its own.
    sockets: list[str] = []
    member.on("websocket", lambda socket: sockets.append(socket.url))
    member.goto(f"/emergencies/{room}")
    expect(member.locator("#conn-state")).to_have_text("Online")
    expect(member.locator("#no-pending")).to_be_visible()
    badge = member.locator("#nav-alerts")
    expect(member.locator(".tabs a[aria-current=page]")).to_contain_text("Emergencies")
    expect(badge).to_be_hidden()
    coordinator = amina.page
    coordinator.goto(f"/emergencies/{room}")
    expect(coordinator.locator("#conn-state")).to_have_text("Online")

    coordinator.fill("#alert-body", "Cholera cases in Beira: use the chlorinated water points only")
    coordinator.click("#alert-form button[type=submit]")
    expect(coordinator.locator("#alert-body")).to_have_value("")
    alert = member.locator("#pending li.alert")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("Cholera cases in Beira")
    expect(member.locator("#no-pending")).to_be_hidden()
    expect(badge).to_have_text("1")   # live, no reload
    status = coordinator.locator("#ack-status li").first
    expect(status.locator(".waiting")).to_have_text("Not yet (1): Kofi")

    member.click("#pending button.ack")
    expect(alert).to_have_count(0)
    expect(badge).to_be_hidden()
    expect(member.locator("#no-pending")).to_be_visible()
    expect(status.locator(".acked")).to_have_text("Acknowledged (1): Kofi")   # live, no reload
    expect(status.locator(".waiting")).to_have_text("Not yet (0): ")

    member.reload()   # acknowledged for good: it does not come back
    expect(member.locator("#conn-state")).to_have_text("Online")
    expect(member.locator("#pending li")).to_have_count(0)
    assert len(sockets) == 2 and all("/ws" in url for url in sockets)   # one per page load

    # On any other page, the count follows the member's emergency rooms live.
    member.goto("/rooms")
    expect(member.locator(".tabs a", has_text="Emergencies")).to_be_visible()
    coordinator.fill("#alert-body", "Road to Dondo closed: use the northern route")
    coordinator.click("#alert-form button[type=submit]")
    expect(badge).to_have_text("1")
    member.goto("/settings")   # and it is there on arrival
    expect(badge).to_have_text("1")
    assert run_axe(coordinator) == [] and run_axe(member) == []
    assert amina.errors == [] and kofi.errors == []
