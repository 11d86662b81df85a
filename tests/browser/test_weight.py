"""The weight budget: a room's first load, as transferred (compressed), on an emulated slow mobile link."""

from __future__ import annotations

import json
import time
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import SCREENSHOTS, TIMEOUT_MS, Person, new_person
from tests.support.services import ServerProcess

BUDGET_BYTES = 60 * 1024
# About a poor 3G link: 400 kbit/s each way and 400 ms round trip.
SLOW_LINK = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
USABLE_WITHIN_S = 20


class Transfers:
    """Every HTTP response of one page with its bytes on the wire, from DevTools Network events."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.cdp = context.new_cdp_session(page)
        self.responses: dict[str, dict[str, Any]] = {}
        self.cdp.on("Network.responseReceived", self._response)
        self.cdp.on("Network.loadingFinished", self._finished)
        self.cdp.send("Network.enable")
        self.cdp.send("Network.emulateNetworkConditions", SLOW_LINK)

    def _response(self, event: dict) -> None:
        response = event["response"]
        headers = {k.lower(): v for k, v in response["headers"].items()}
        self.responses[event["requestId"]] = {
            "url": response["url"], "type": event["type"], "bytes": 0,
            "encoding": headers.get("content-encoding", ""), "cache_control": headers.get("cache-control", ""),
            "from_cache": response.get("fromDiskCache", False) or response.get("fromServiceWorker", False)
            or response.get("fromMemoryCache", False)}

    def _finished(self, event: dict) -> None:
        if event["requestId"] in self.responses:
            self.responses[event["requestId"]]["bytes"] = int(event["encodedDataLength"])

    def total(self) -> int:
        return sum(r["bytes"] for r in self.responses.values())

    def clear(self) -> None:
        self.responses.clear()


def test_first_load_of_a_room_fits_the_budget_and_works_on_a_slow_link(
        browser: Browser, site: ServerProcess, people: list[Person]) -> None:
    # Someone with history in the room: the budget counts a realistic page, not an empty one: formatted
    # text with links and mentions, replies, reactions and a pinned message.
    host = new_person(browser, site, "Amina W.")
    people.append(host)
    room_id = host.create_room("Psychological first aid: field questions")
    reader = new_person(browser, site, "Tomás R.")
    people.append(reader)
    reader.join(room_id)
    host.page.goto(f"/rooms/{room_id}")
    for n in range(30):
        host.page.fill("#body", f"Message {n}: how did the **community session** in the north district go today? "
                                f"@{reader.username} the notes are at https://example.org/notes/{n}")
        host.page.keyboard.press("Enter")
    expect(host.page.locator("#messages li[data-seq]")).to_have_count(30)
    # A conversation as it is: replies, reactions and a pinned message.
    for n in (3, 12, 25):
        message = host.page.locator("#messages li[data-seq]").nth(n)
        message.locator("[data-action=react]").click()
        host.page.locator(".picker button[data-emoji]").nth(n % 3).click()
        expect(message.locator(".reaction")).to_have_count(1)
        host.page.locator("#messages li[data-seq]").nth(n).locator("[data-action=reply]").click()
        host.page.fill("#body", f"Replying to message {n}: yes, and the follow-up visits start on Monday.")
        host.page.keyboard.press("Enter")
    expect(host.page.locator("#messages li[data-seq] .quote")).to_have_count(3)
    host.page.locator("#messages li[data-seq]").first.locator("[data-action=pin]").click()
    expect(host.page.locator("#pins")).to_be_visible()
    context = browser.new_context(base_url=site.url, locale="en-GB", viewport={"width": 360, "height": 740})
    context.set_default_timeout(TIMEOUT_MS * 2)
    context.add_cookies(reader.context.cookies())
    people.append(Person(context, context.new_page(), reader.username, reader.display_name, site.url, []))
    page = context.pages[0]
    transfers = Transfers(context, page)

    started = time.monotonic()
    page.goto(f"/rooms/{room_id}", wait_until="load")
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    expect(page.locator("#messages li[data-seq] .reaction")).to_have_count(3)
    page.fill("#body", "Thank you, this helps")
    page.keyboard.press("Enter")
    expect(page.locator("#messages li[data-seq] .body").last).to_have_text("Thank you, this helps")
    expect(host.page.locator("#messages li[data-seq] .body").last).to_have_text("Thank you, this helps")
    usable_after = time.monotonic() - started
    first_load = transfers.total()
    first = list(transfers.responses.values())

    origins = {r["url"].split("/")[2] for r in first if r["url"].startswith("http")}
    assert origins == {site.url.split("/")[2]}, f"third-party origins: {origins}"
    for r in first:
        if r["type"] in ("Document", "Stylesheet", "Script") and r["bytes"] > 1000:
            assert r["encoding"] == "gzip", r
        if "/static/" in r["url"]:
            assert "?v=" in r["url"] and "immutable" in r["cache_control"], r
    assert first_load <= BUDGET_BYTES, json.dumps(first, indent=1)
    assert usable_after <= USABLE_WITHIN_S

    # A revisit: the shell comes from the cache (HTTP cache or the service worker); only the page moves.
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    transfers.clear()
    page.goto(f"/rooms/{room_id}")
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    static_bytes = sum(r["bytes"] for r in transfers.responses.values()
                       if "/static/" in r["url"] and not r["from_cache"])
    assert static_bytes == 0, json.dumps(list(transfers.responses.values()), indent=1)
    revisit = transfers.total()

    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS.parent / "weight.json").write_text(json.dumps({
        "budget_bytes": BUDGET_BYTES, "first_load_bytes": first_load, "usable_after_s": round(usable_after, 2),
        "revisit_bytes": revisit, "link": SLOW_LINK,
        "first_load": [{k: r[k] for k in ("url", "type", "bytes", "encoding")} for r in first]}, indent=1))
